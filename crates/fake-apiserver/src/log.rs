//! The fake API server's request and connection logs (see "Request log" in `lib.rs`):
//! what tests assert request counts, intervals and response codes on.

use std::collections::VecDeque;
use std::sync::Mutex;

use axum::http::{Method, Uri};
use tokio::time::Instant;

use super::FakeApiServer;

/// How many requests (and connections) the logs keep, the latest.
const MAX_LOG: usize = 10_000;

/// What a request asked for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verb {
    /// A collection without `watch`: `GET /api/v1/pods?limit=500`, a page with `continue=`.
    List,
    /// A collection with `watch=true` (streaming lists included).
    Watch,
    /// One object: `GET /api/v1/namespaces/default/pods/web-0`.
    Get,
    /// Anything else: discovery, `/version`, health checks, unknown paths, other methods.
    Other,
}

/// One request the server received ([`FakeApiServer::request_log`]).
#[derive(Clone, Debug)]
pub struct RequestRecord {
    /// `GET`, `HEAD`, ...
    pub method: String,
    /// Path and query string as sent (percent-encoded), e.g. `/api/v1/pods?limit=500`.
    pub target: String,
    /// What it asked for (by path and `watch`, whether or not the path exists).
    pub verb: Verb,
    /// When its head was received (tokio's clock: virtual under a paused runtime).
    pub at: Instant,
    /// The status of the response, once the handler produced one (`200` for a watch whose
    /// events follow); `None` for a request that never got one, as on a connection
    /// [`go_silent`](FakeApiServer::go_silent) muted.
    pub status: Option<u16>,
}

impl RequestRecord {
    /// The path without the query string.
    pub fn path(&self) -> &str {
        self.target.split_once('?').map_or(&self.target, |(path, _)| path)
    }

    /// The first value of query parameter `name`, as sent (not percent-decoded).
    pub fn query(&self, name: &str) -> Option<&str> {
        let (_, query) = self.target.split_once('?')?;
        query.split('&').find_map(|pair| match pair.split_once('=') {
            Some((k, v)) if k == name => Some(v),
            None if pair == name => Some(""),
            _ => None,
        })
    }
}

/// One TCP connection the server accepted ([`FakeApiServer::connection_log`]).
#[derive(Clone, Debug)]
pub struct ConnectionRecord {
    /// When it was accepted.
    pub at: Instant,
    /// Whether [`set_accept_and_close`](FakeApiServer::set_accept_and_close) closed it at
    /// once, without reading a request.
    pub closed_on_accept: bool,
}

#[derive(Default)]
struct Requests {
    /// Sequence number of `records[0]`.
    first: u64,
    records: VecDeque<RequestRecord>,
}

#[derive(Default)]
pub(crate) struct Log {
    requests: Mutex<Requests>,
    connections: Mutex<VecDeque<ConnectionRecord>>,
}

impl Log {
    /// Logs a request as received; returns its number for [`Log::respond`].
    pub(crate) fn request(&self, method: &Method, uri: &Uri, verb: Verb) -> u64 {
        let mut log = self.requests.lock().unwrap_or_else(|e| e.into_inner());
        if log.records.len() >= MAX_LOG {
            log.records.pop_front();
            log.first += 1;
        }
        log.records.push_back(RequestRecord {
            method: method.to_string(),
            target: uri.to_string(),
            verb,
            at: Instant::now(),
            status: None,
        });
        log.first + log.records.len() as u64 - 1
    }

    /// Records the status of request `seq`'s response.
    pub(crate) fn respond(&self, seq: u64, status: u16) {
        let mut log = self.requests.lock().unwrap_or_else(|e| e.into_inner());
        let Some(i) = seq.checked_sub(log.first) else { return };
        if let Some(record) = log.records.get_mut(i as usize) {
            record.status = Some(status);
        }
    }

    pub(crate) fn connection(&self, record: ConnectionRecord) {
        let mut log = self.connections.lock().unwrap_or_else(|e| e.into_inner());
        if log.len() >= MAX_LOG {
            log.pop_front();
        }
        log.push_back(record);
    }
}

impl FakeApiServer {
    /// The request lines received so far (`"GET /api/v1/pods?limit=500"`, query string as sent,
    /// oldest first; the last 10 000 are kept), including requests answered with errors: the
    /// `method target` of each [`request_log`](Self::request_log) entry.
    pub fn requests(&self) -> Vec<String> {
        let log = self.shared.log.requests.lock().unwrap_or_else(|e| e.into_inner());
        log.records.iter().map(|r| format!("{} {}", r.method, r.target)).collect()
    }

    /// Every request received so far, oldest first (the last 10 000): method, path and
    /// query, [`Verb`], time received and response status. For assertions on request counts
    /// and intervals, e.g. that a retry came at least `Retry-After` seconds after the `429`,
    /// or that there were at most N lists in 10 s.
    pub fn request_log(&self) -> Vec<RequestRecord> {
        let log = self.shared.log.requests.lock().unwrap_or_else(|e| e.into_inner());
        log.records.iter().cloned().collect()
    }

    /// Every TCP connection accepted so far, oldest first (the last 10 000), including those
    /// [`set_accept_and_close`](Self::set_accept_and_close) closed at once: how often a
    /// client reconnected, and when.
    pub fn connection_log(&self) -> Vec<ConnectionRecord> {
        let log = self.shared.log.connections.lock().unwrap_or_else(|e| e.into_inner());
        log.iter().cloned().collect()
    }
}
