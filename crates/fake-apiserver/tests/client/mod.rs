//! A minimal HTTP/1.1 client over a raw `TcpStream`, to see exactly what the fake API server
//! writes: response heads, `Content-Length` bodies, chunks of a watch stream, silence, EOF.

#![allow(dead_code)] // each test file uses part of it

use std::io;
use std::time::Duration;

use fake_apiserver::FakeApiServer;
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// How long a test waits for bytes that should come.
pub const WAIT: Duration = Duration::from_secs(5);
/// How long a test listens to a connection that should stay silent.
pub const QUIET: Duration = Duration::from_millis(400);

pub struct Head {
    pub status: u16,
    pub headers: Vec<(String, String)>,
}

impl Head {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }
}

pub struct Client {
    stream: TcpStream,
    buf: Vec<u8>,
}

impl Client {
    pub async fn connect(api: &FakeApiServer) -> Client {
        let addr = api.url().trim_start_matches("http://").to_string();
        Client { stream: TcpStream::connect(addr).await.expect("connect"), buf: Vec::new() }
    }

    /// Sends `GET target` (keep-alive).
    pub async fn send(&mut self, target: &str) {
        let request = format!("GET {target} HTTP/1.1\r\nhost: fake\r\naccept: application/json\r\n\r\n");
        self.stream.write_all(request.as_bytes()).await.expect("send request");
    }

    /// Reads more bytes; `Ok(0)` is EOF, `TimedOut` if none came within `wait`.
    async fn fill(&mut self, wait: Duration) -> io::Result<usize> {
        let mut chunk = [0u8; 16 * 1024];
        let n = tokio::time::timeout(wait, self.stream.read(&mut chunk))
            .await
            .map_err(|_| io::Error::new(io::ErrorKind::TimedOut, "nothing received"))??;
        self.buf.extend_from_slice(&chunk[..n]);
        Ok(n)
    }

    async fn fill_some(&mut self, wait: Duration) -> io::Result<()> {
        match self.fill(wait).await? {
            0 => Err(io::Error::new(io::ErrorKind::UnexpectedEof, "connection closed")),
            _ => Ok(()),
        }
    }

    /// The next response head.
    pub async fn head(&mut self, wait: Duration) -> io::Result<Head> {
        let end = loop {
            if let Some(i) = self.buf.windows(4).position(|w| w == b"\r\n\r\n") {
                break i;
            }
            self.fill_some(wait).await?;
        };
        let text = String::from_utf8_lossy(&self.buf[..end]).into_owned();
        self.buf.drain(..end + 4);
        let mut lines = text.split("\r\n");
        let status = lines.next().and_then(|l| l.split(' ').nth(1)).and_then(|s| s.parse().ok()).unwrap_or(0);
        let headers = lines
            .filter_map(|l| l.split_once(':'))
            .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
            .collect();
        Ok(Head { status, headers })
    }

    /// The `Content-Length` body after `head`, as JSON.
    pub async fn body(&mut self, head: &Head) -> io::Result<Value> {
        let len: usize = head.header("content-length").and_then(|l| l.parse().ok()).expect("content-length");
        while self.buf.len() < len {
            self.fill_some(WAIT).await?;
        }
        let body: Vec<u8> = self.buf.drain(..len).collect();
        Ok(serde_json::from_slice(&body).unwrap_or_else(|_| json!(String::from_utf8_lossy(&body))))
    }

    /// The next chunk of a chunked body; `None` for the terminating chunk.
    pub async fn chunk(&mut self, wait: Duration) -> io::Result<Option<Vec<u8>>> {
        let (size, start) = loop {
            if let Some(i) = self.buf.windows(2).position(|w| w == b"\r\n") {
                let size = std::str::from_utf8(&self.buf[..i])
                    .ok()
                    .and_then(|s| usize::from_str_radix(s.trim(), 16).ok())
                    .expect("chunk size");
                break (size, i + 2);
            }
            self.fill_some(wait).await?;
        };
        while self.buf.len() < start + size + 2 {
            self.fill_some(wait).await?;
        }
        let data = self.buf[start..start + size].to_vec();
        self.buf.drain(..start + size + 2);
        Ok((size > 0).then_some(data))
    }

    /// The next watch event (one JSON line, possibly over several chunks).
    pub async fn event(&mut self, wait: Duration) -> io::Result<Value> {
        let mut line = Vec::new();
        while !line.ends_with(b"\n") {
            match self.chunk(wait).await? {
                Some(data) => line.extend(data),
                None => return Err(io::Error::new(io::ErrorKind::UnexpectedEof, "end of stream")),
            }
        }
        Ok(serde_json::from_slice(&line).expect("a watch event is JSON"))
    }

    /// Whether nothing at all arrives for [`QUIET`] and the connection stays open.
    pub async fn stays_silent(&mut self) -> bool {
        self.buf.is_empty() && matches!(self.fill(QUIET).await, Err(e) if e.kind() == io::ErrorKind::TimedOut)
    }

    /// Whether the connection ends (EOF or reset) within [`WAIT`], and the bytes that came
    /// before.
    pub async fn ends(&mut self) -> (bool, Vec<u8>) {
        let ended = loop {
            match self.fill(WAIT).await {
                Ok(0) => break true,
                Ok(_) => continue,
                Err(e) => break e.kind() != io::ErrorKind::TimedOut,
            }
        };
        (ended, std::mem::take(&mut self.buf))
    }
}

/// `GET target` on a new connection: the status and the JSON body.
pub async fn get(api: &FakeApiServer, target: &str) -> (Head, Value) {
    let mut client = Client::connect(api).await;
    client.send(target).await;
    let head = client.head(WAIT).await.expect("a response");
    let body = client.body(&head).await.expect("a body");
    (head, body)
}

/// Opens a watch on a new connection and reads its `200` head.
pub async fn watch(api: &FakeApiServer, target: &str) -> Client {
    let mut client = Client::connect(api).await;
    client.send(target).await;
    let head = client.head(WAIT).await.expect("a watch response");
    assert_eq!(head.status, 200, "watch {target}");
    client
}

pub fn pod(name: &str, ip: &str) -> Value {
    json!({"kind": "Pod", "metadata": {"name": name, "namespace": "default", "labels": {"app": "web"}},
           "status": {"podIP": ip}})
}

/// `metadata.name` of each item of a list.
pub fn names(list: &Value) -> Vec<&str> {
    list["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|i| i["metadata"]["name"].as_str().unwrap_or(""))
        .collect()
}
