//! Test helpers: start headless-dns in-process and query it with hickory's client
//! (UDP and TCP) or with raw packets.
#![allow(dead_code)]

use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use clap::Parser;
use headless_dns::app::{self, Running};
use headless_dns::config::{Cli, Command, ServeArgs};
use hickory_net::client::{Client, ClientHandle};
use hickory_net::runtime::TokioRuntimeProvider;
use hickory_net::tcp::TcpClientStream;
use hickory_net::udp::UdpClientStream;
use hickory_proto::op::{DnsResponse, Message};
use hickory_proto::rr::{DNSClass, Name, RData, RecordType};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Parses `headless-dns serve ARGS...` as the binary would.
pub fn serve_args(args: &[&str]) -> ServeArgs {
    let mut argv = vec!["headless-dns", "serve"];
    argv.extend_from_slice(args);
    match Cli::try_parse_from(argv).expect("valid arguments").command {
        Command::Serve(args) => *args,
        #[allow(unreachable_patterns)]
        _ => panic!("not serve"),
    }
}

/// Starts a server on 127.0.0.1:0 serving the manifests at `path`.
pub async fn start(path: &Path, extra: &[&str]) -> Running {
    let path = path.to_str().unwrap().to_owned();
    let mut args = vec!["--manifests", &path, "--listen", "127.0.0.1:0", "--admin", "none"];
    args.extend_from_slice(extra);
    let running = app::start(&serve_args(&args)).await.expect("server starts");
    wait_synced(running.dns_addrs[0]).await;
    running
}

/// Waits until the server answers the apex SOA (it is synced).
pub async fn wait_synced(addr: SocketAddr) {
    let mut client = udp(addr).await;
    for _ in 0..200 {
        if let Ok(r) = client.query(name("cluster.local."), DNSClass::IN, RecordType::SOA).await
            && r.metadata.response_code == hickory_proto::op::ResponseCode::NoError
        {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("server at {addr} never synced");
}

pub fn name(s: &str) -> Name {
    Name::from_ascii(s).unwrap()
}

/// A hickory client over UDP.
pub async fn udp(addr: SocketAddr) -> Client<TokioRuntimeProvider> {
    let stream = UdpClientStream::builder(addr, TokioRuntimeProvider::default())
        .with_timeout(Some(Duration::from_secs(2)))
        .build();
    let (client, bg) = Client::<TokioRuntimeProvider>::from_sender(stream);
    tokio::spawn(bg);
    client
}

/// A hickory client over one TCP connection.
pub async fn tcp(addr: SocketAddr) -> Client<TokioRuntimeProvider> {
    let (stream, sender) = TcpClientStream::new(addr, None, None, TokioRuntimeProvider::new());
    let (client, bg) = Client::<TokioRuntimeProvider>::new(stream.await.expect("tcp connect"), sender);
    tokio::spawn(bg);
    client
}

/// Queries and returns the response (panics on transport errors).
pub async fn query(client: &mut Client<TokioRuntimeProvider>, qname: &str, qtype: RecordType) -> Message {
    let response: DnsResponse = client
        .query(name(qname), DNSClass::IN, qtype)
        .await
        .unwrap_or_else(|e| panic!("{qname} {qtype}: {e}"));
    response.into()
}

/// The answer section's data as strings, sorted.
pub fn answers(response: &Message) -> Vec<String> {
    let mut out: Vec<String> = response.answers.iter().map(|r| r.data.to_string()).collect();
    out.sort();
    out
}

/// The IPv4/IPv6 addresses in the answer section, sorted.
pub fn addresses(response: &Message) -> Vec<String> {
    let mut out: Vec<String> = response
        .answers
        .iter()
        .filter_map(|r| match &r.data {
            RData::A(a) => Some(a.to_string()),
            RData::AAAA(a) => Some(a.to_string()),
            _ => None,
        })
        .collect();
    out.sort();
    out
}

/// Sends raw bytes over UDP and returns the raw reply, or None after `wait`.
pub async fn raw_udp(addr: SocketAddr, packet: &[u8], wait: Duration) -> Option<Vec<u8>> {
    let socket = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
    socket.send_to(packet, addr).await.unwrap();
    let mut buf = vec![0u8; 65535];
    match tokio::time::timeout(wait, socket.recv_from(&mut buf)).await {
        Ok(Ok((n, _))) => Some(buf[..n].to_vec()),
        _ => None,
    }
}

/// Sends one message over a new TCP connection and returns the reply.
pub async fn raw_tcp(addr: SocketAddr, packet: &[u8]) -> Vec<u8> {
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let mut framed = (packet.len() as u16).to_be_bytes().to_vec();
    framed.extend_from_slice(packet);
    stream.write_all(&framed).await.unwrap();
    read_frame(&mut stream).await
}

/// Reads one length-prefixed DNS message from a TCP stream.
pub async fn read_frame(stream: &mut tokio::net::TcpStream) -> Vec<u8> {
    let mut len = [0u8; 2];
    tokio::time::timeout(Duration::from_secs(5), stream.read_exact(&mut len))
        .await
        .expect("reply in time")
        .unwrap();
    let mut body = vec![0u8; usize::from(u16::from_be_bytes(len))];
    stream.read_exact(&mut body).await.unwrap();
    body
}

/// Starts a server on 127.0.0.1:0 watching the fake API server (kubeconfig written to `dir`).
pub async fn start_against(
    api: &super::fake_apiserver::FakeApiServer,
    dir: &Path,
    extra: &[&str],
) -> Running {
    let kubeconfig = api.write_kubeconfig(dir);
    let kubeconfig = kubeconfig.to_str().unwrap();
    let mut args = vec!["--kubeconfig", kubeconfig, "--listen", "127.0.0.1:0", "--admin", "none"];
    args.extend_from_slice(extra);
    app::start(&serve_args(&args)).await.expect("server starts")
}

/// Polls until `check` holds for the answer to `name` (at most `limit`).
pub async fn eventually(
    addr: SocketAddr,
    name: &str,
    qtype: RecordType,
    limit: Duration,
    check: impl Fn(&Message) -> bool,
) -> Message {
    let mut client = udp(addr).await;
    let deadline = std::time::Instant::now() + limit;
    loop {
        let r = query(&mut client, name, qtype).await;
        if check(&r) {
            return r;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "{name} {qtype}: condition not met in {limit:?}; last answer {r:?}"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}
