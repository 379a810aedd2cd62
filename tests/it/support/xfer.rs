//! Zone transfer helpers: a raw AXFR/IXFR client over TCP, and generated manifests
//! large enough to need several messages.
#![allow(dead_code)]

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use hickory_proto::op::{Message, MessageType, OpCode, Query, ResponseCode};
use hickory_proto::rr::rdata::SOA;
use hickory_proto::rr::{Name, RData, Record, RecordType};
use tokio::io::AsyncWriteExt;

use super::dns::read_frame;

/// A transfer request for `zone`; an IXFR carries `serial` in an authority SOA.
pub fn request(zone: &str, qtype: RecordType, serial: Option<u32>) -> Vec<u8> {
    let mut message = Message::new(0x4242, MessageType::Query, OpCode::Query);
    let zone = Name::from_ascii(zone).unwrap();
    message.queries.push(Query::query(zone.clone(), qtype));
    if let Some(serial) = serial {
        let soa = SOA::new(zone.clone(), zone.clone(), serial, 0, 0, 0, 0);
        message.authorities.push(Record::from_rdata(zone, 0, RData::SOA(soa)));
    }
    message.to_vec().unwrap()
}

/// Sends a transfer request over TCP and reads messages until the answer is complete:
/// an error, a lone SOA, or the SOA that closes it. Returns every message.
pub async fn transfer(addr: SocketAddr, packet: &[u8]) -> Vec<Message> {
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let mut framed = (packet.len() as u16).to_be_bytes().to_vec();
    framed.extend_from_slice(packet);
    stream.write_all(&framed).await.unwrap();
    let mut messages: Vec<Message> = Vec::new();
    loop {
        let bytes = tokio::time::timeout(Duration::from_secs(20), read_frame(&mut stream))
            .await
            .expect("transfer in time");
        let message = Message::from_vec(&bytes).expect("a valid message");
        let failed = message.metadata.response_code != ResponseCode::NoError;
        messages.push(message);
        if failed || complete(&records(&messages)) {
            return messages;
        }
        assert!(messages.len() < 10_000, "the transfer never ended");
    }
}

fn serial(record: &Record) -> Option<u32> {
    match &record.data {
        RData::SOA(soa) => Some(soa.serial),
        _ => None,
    }
}

/// Whether `records` is a whole transfer answer (RFC 1995 §4, RFC 5936 §2.2): one SOA
/// (an IXFR that is current); SOA, records, SOA (a whole zone); or SOA, then sections of
/// deletions and additions each opened by an SOA, then the first SOA again.
pub fn complete(records: &[Record]) -> bool {
    let Some(last) = records.first().and_then(serial) else { return !records.is_empty() };
    if records.len() == 1 {
        return true;
    }
    if serial(&records[1]).is_none() {
        return records[1..].iter().any(|r| serial(r).is_some());
    }
    let mut i = 1;
    loop {
        // A deletion section's SOA, or the closing SOA.
        match records.get(i).and_then(serial) {
            Some(s) if s == last => return true,
            Some(_) => {}
            None => return false,
        }
        i += 1;
        while records.get(i).is_some_and(|r| serial(r).is_none()) {
            i += 1;
        }
        // The addition section's SOA.
        if records.get(i).and_then(serial).is_none() {
            return false;
        }
        i += 1;
        while records.get(i).is_some_and(|r| serial(r).is_none()) {
            i += 1;
        }
    }
}

/// Every answer record of a transfer, in order.
pub fn records(messages: &[Message]) -> Vec<Record> {
    messages.iter().flat_map(|m| m.answers.iter().cloned()).collect()
}

/// Writes manifests for one headless service `big` in namespace `ns` with `pods` ready
/// pods `big-<i>` (hostname and subdomain set) at 10.1.x.y, and `fd00::<i>` for every
/// tenth pod.
pub fn big_service(dir: &Path, pods: usize) {
    let mut yaml = String::from(
        "apiVersion: v1\nkind: Service\nmetadata: {name: big, namespace: ns}\nspec:\n  clusterIP: None\n  selector: {app: big}\n  ports: [{name: peer, port: 7000}]\n",
    );
    for i in 0..pods {
        let v4 = format!("10.1.{}.{}", i / 250, i % 250 + 1);
        let ips = if i % 10 == 0 {
            format!("[{{ip: {v4}}}, {{ip: \"fd00::{:x}\"}}]", i + 1)
        } else {
            format!("[{{ip: {v4}}}]")
        };
        yaml.push_str(&format!(
            "---\napiVersion: v1\nkind: Pod\nmetadata: {{name: big-{i}, namespace: ns, labels: {{app: big}}}}\nspec: {{hostname: big-{i}, subdomain: big}}\nstatus:\n  podIP: {v4}\n  podIPs: {ips}\n  conditions: [{{type: Ready, status: \"True\"}}]\n"
        ));
    }
    std::fs::write(dir.join("big.yaml"), yaml).unwrap();
}

/// Sends `request` signed with `signer` (TSIG) and reads the whole answer, checking the
/// TSIG of every message with hickory's verifier: the first against the request's MAC
/// with every TSIG variable, each later one chained to the previous MAC with the timers
/// only (RFC 8945 §5.3.1). Returns the messages, or the first message that fails.
pub async fn signed_transfer(
    addr: SocketAddr,
    mut request: Message,
    signer: &hickory_proto::rr::TSigner,
) -> Result<Vec<Message>, String> {
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs();
    let (tsig, _) = signer.sign_message(&request, now).unwrap();
    let mut previous = tsig.data.mac.clone();
    request.signature = Some(tsig);
    let packet = request.to_vec().unwrap();
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let mut framed = (packet.len() as u16).to_be_bytes().to_vec();
    framed.extend_from_slice(&packet);
    stream.write_all(&framed).await.unwrap();
    let mut messages: Vec<Message> = Vec::new();
    loop {
        let bytes =
            tokio::time::timeout(Duration::from_secs(20), read_frame(&mut stream)).await.expect("in time");
        let (mac, _, valid) = signer
            .verify_message_byte(&bytes, Some(&previous), messages.is_empty())
            .map_err(|e| format!("message {}: {e}", messages.len()))?;
        if !valid.contains(&now) {
            return Err(format!("message {}: time outside {valid:?}", messages.len()));
        }
        previous = mac;
        let message = Message::from_vec(&bytes).expect("a valid message");
        let failed = message.metadata.response_code != ResponseCode::NoError;
        messages.push(message);
        if failed || complete(&records(&messages)) {
            return Ok(messages);
        }
    }
}

/// Writes a knotd configuration into `dir` for a secondary of `zone` listening on 127.0.0.1
/// `port`, transferring from and taking NOTIFYs from our server at `primary`, signed with
/// the key `transfer` of `tsig_secret` when given. Returns knotd's arguments (foreground)
/// and its log file.
pub fn knot_secondary(
    dir: &Path,
    port: u16,
    primary: SocketAddr,
    zone: &str,
    tsig_secret: Option<&str>,
) -> (Vec<String>, PathBuf) {
    knot_secondary_with(dir, port, primary, zone, tsig_secret, "")
}

/// [`knot_secondary`] with more options for the zone, each line indented by four spaces
/// (e.g. `"    dnssec-signing: on\n"`: Knot signs what it receives, with its default
/// policy and keys kept under `dir`).
pub fn knot_secondary_with(
    dir: &Path,
    port: u16,
    primary: SocketAddr,
    zone: &str,
    tsig_secret: Option<&str>,
    zone_options: &str,
) -> (Vec<String>, PathBuf) {
    let d = dir.display();
    let (ip, pport) = (primary.ip(), primary.port());
    let (keys, key) = match tsig_secret {
        Some(secret) => (
            format!("key:\n  - id: transfer\n    algorithm: hmac-sha256\n    secret: {secret}\n"),
            "\n    key: transfer",
        ),
        None => (String::new(), ""),
    };
    let conf = format!(
        r#"{keys}server:
    rundir: "{d}"
    listen: 127.0.0.1@{port}
database:
    storage: "{d}"
log:
  - target: "{d}/knot.log"
    any: info
remote:
  - id: headless-dns
    address: {ip}@{pport}{key}
acl:
  - id: notify-from-headless-dns
    address: {ip}{key}
    action: notify
template:
  - id: default
    storage: "{d}"
    zonefile-sync: -1
    zonefile-load: none
    journal-content: changes
zone:
  - domain: {zone}
    master: headless-dns
    acl: notify-from-headless-dns
{zone_options}"#
    );
    std::fs::write(dir.join("knot.conf"), conf).unwrap();
    (vec!["-c".into(), format!("{d}/knot.conf")], dir.join("knot.log"))
}
