//! A small scriptable authoritative DNS server, used as the upstream in forwarding tests.
//! It answers from a fixed set of records (NXDOMAIN with an SOA otherwise) over UDP and
//! TCP, and can be told to stop answering or to truncate every UDP answer.
#![allow(dead_code)]

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use hickory_proto::op::{Edns, Message, MessageType, ResponseCode};
use hickory_proto::rr::rdata::SOA;
use hickory_proto::rr::{Name, RData, Record, RecordType};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, UdpSocket};

/// Shared state of the fake upstream.
#[derive(Default)]
pub struct State {
    records: Mutex<HashMap<(String, RecordType), Vec<Record>>>,
    /// Drop every query silently.
    pub down: AtomicBool,
    /// Answer every UDP query with TC=1 and no records.
    pub truncate_udp: AtomicBool,
    /// Queries seen over UDP and TCP.
    pub udp_queries: AtomicUsize,
    /// Queries seen over TCP.
    pub tcp_queries: AtomicUsize,
    /// (message ID, source port) of every query.
    pub seen: Mutex<Vec<(u16, u16)>>,
}

/// A running fake upstream.
pub struct FakeUpstream {
    /// Its address (UDP and TCP).
    pub addr: SocketAddr,
    /// Its state.
    pub state: Arc<State>,
}

impl FakeUpstream {
    /// Binds 127.0.0.1 (UDP and TCP on one port) and serves.
    pub async fn start() -> Self {
        let (udp, tcp) = loop {
            let udp = UdpSocket::bind("127.0.0.1:0").await.unwrap();
            if let Ok(tcp) = TcpListener::bind(udp.local_addr().unwrap()).await {
                break (udp, tcp);
            }
        };
        let addr = udp.local_addr().unwrap();
        let state = Arc::new(State::default());
        let s = state.clone();
        tokio::spawn(async move {
            let mut buf = vec![0u8; 65535];
            loop {
                let Ok((n, src)) = udp.recv_from(&mut buf).await else { return };
                if s.down.load(Ordering::Relaxed) {
                    continue;
                }
                s.udp_queries.fetch_add(1, Ordering::Relaxed);
                if let Some(reply) = answer(&s, &buf[..n], src.port(), true) {
                    let _ = udp.send_to(&reply, src).await;
                }
            }
        });
        let s = state.clone();
        tokio::spawn(async move {
            loop {
                let Ok((mut stream, src)) = tcp.accept().await else { return };
                let s = s.clone();
                tokio::spawn(async move {
                    loop {
                        let mut len = [0u8; 2];
                        if stream.read_exact(&mut len).await.is_err() {
                            return;
                        }
                        let mut q = vec![0u8; usize::from(u16::from_be_bytes(len))];
                        if stream.read_exact(&mut q).await.is_err() || s.down.load(Ordering::Relaxed) {
                            return;
                        }
                        s.tcp_queries.fetch_add(1, Ordering::Relaxed);
                        if let Some(reply) = answer(&s, &q, src.port(), false) {
                            let mut framed = (reply.len() as u16).to_be_bytes().to_vec();
                            framed.extend(reply);
                            let _ = stream.write_all(&framed).await;
                        }
                    }
                });
            }
        });
        Self { addr, state }
    }

    /// Adds a record (answered for its name and type).
    pub fn add(&self, record: Record) {
        let key = (record.name.to_lowercase().to_string(), record.record_type());
        self.state.records.lock().unwrap().entry(key).or_default().push(record);
    }

    /// The SOA this server puts in negative answers.
    pub fn soa() -> Record {
        let n = Name::from_ascii("upstream.test.").unwrap();
        Record::from_rdata(
            Name::from_ascii("test.").unwrap(),
            300,
            RData::SOA(SOA::new(n.clone(), n, 42, 3600, 600, 86400, 60)),
        )
    }
}

fn answer(state: &State, query: &[u8], port: u16, udp: bool) -> Option<Vec<u8>> {
    let query = Message::from_vec(query).ok()?;
    state.seen.lock().unwrap().push((query.metadata.id, port));
    let q = query.queries.first()?;
    let mut reply = Message::new(query.metadata.id, MessageType::Response, query.metadata.op_code);
    reply.metadata.recursion_desired = query.metadata.recursion_desired;
    reply.metadata.recursion_available = true;
    reply.metadata.authoritative = true;
    reply.queries = query.queries.clone();
    if let Some(e) = &query.edns {
        let mut ours = Edns::new();
        ours.set_max_payload(1232).set_dnssec_ok(e.flags().dnssec_ok);
        reply.edns = Some(ours);
    }
    let records = state.records.lock().unwrap();
    let name = q.name().to_lowercase().to_string();
    match records.get(&(name.clone(), q.query_type())) {
        Some(found) => reply.answers = found.clone(),
        None => {
            let exists = records.keys().any(|(n, _)| *n == name);
            reply.metadata.response_code =
                if exists { ResponseCode::NoError } else { ResponseCode::NXDomain };
            reply.authorities.push(FakeUpstream::soa());
        }
    }
    if udp && state.truncate_udp.load(Ordering::Relaxed) {
        reply.metadata.truncation = true;
        reply.answers.clear();
        reply.authorities.clear();
    }
    reply.to_vec().ok()
}
