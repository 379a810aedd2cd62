//! A minimal HTTP/1.0 GET, enough for `explain --server` and `records --server` to read a
//! running server's admin endpoints (plain HTTP on a cluster-internal address).

use std::io::{Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::time::Duration;

/// Fetches `path` (with its query) from `base` (`http://host:port`). Returns the body of a
/// 200 response, or an error message naming the URL.
pub fn get(base: &str, path: &str) -> Result<String, String> {
    let authority = base
        .strip_prefix("http://")
        .ok_or_else(|| {
            format!("{base}: only http:// URLs are supported (the admin server speaks plain HTTP)")
        })?
        .trim_end_matches('/');
    let url = format!("{base}{path}");
    let addr = authority
        .to_socket_addrs()
        .map_err(|e| format!("{url}: {e}"))?
        .next()
        .ok_or_else(|| format!("{url}: no address"))?;
    let mut stream =
        TcpStream::connect_timeout(&addr, Duration::from_secs(5)).map_err(|e| format!("{url}: {e}"))?;
    stream.set_read_timeout(Some(Duration::from_secs(10))).map_err(|e| e.to_string())?;
    write!(stream, "GET {path} HTTP/1.0\r\nHost: {authority}\r\nConnection: close\r\n\r\n")
        .map_err(|e| format!("{url}: {e}"))?;
    let mut response = Vec::new();
    stream.read_to_end(&mut response).map_err(|e| format!("{url}: {e}"))?;
    let response = String::from_utf8_lossy(&response);
    let (head, body) =
        response.split_once("\r\n\r\n").ok_or_else(|| format!("{url}: not an HTTP response"))?;
    let status = head.lines().next().unwrap_or_default();
    if status.split_whitespace().nth(1) != Some("200") {
        return Err(format!("{url}: {status}: {}", body.trim()));
    }
    Ok(body.to_owned())
}

/// Percent-encodes a query parameter value.
pub fn encode(value: &str) -> String {
    value
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}
