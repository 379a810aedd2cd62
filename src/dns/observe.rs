//! What the query path reports about each answer, for the metrics and the query log.

use std::net::SocketAddr;

use hickory_server::net::xfer::Protocol;
use hickory_server::proto::op::ResponseCode;
use hickory_server::proto::rr::{Name, RecordType};

use super::response_cache::Dropped;

/// What the handler learned about one query, for metrics and the query log.
#[derive(Debug, Clone, Copy)]
pub struct QueryEvent<'a> {
    /// Client address.
    pub src: SocketAddr,
    /// UDP or TCP.
    pub protocol: Protocol,
    /// The question's name, as asked (None when there was no single question, or the
    /// answer came from a response cache, which does not decode it).
    pub name: Option<&'a Name>,
    /// The question's type.
    pub qtype: Option<RecordType>,
    /// The response code sent.
    pub rcode: ResponseCode,
    /// Whether the response was truncated (TC=1).
    pub truncated: bool,
    /// Time spent answering, encoding and sending.
    pub elapsed: std::time::Duration,
    /// Where the answer came from.
    pub source: AnswerSource,
}

/// Where an answer came from, for the query log (`answered=`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AnswerSource {
    /// Our zones (or a response cache of their answers), or an error we decided.
    Local,
    /// An upstream server, asked for this query.
    Forwarded,
    /// The forwarder's cache of upstream answers.
    Cache,
    /// Autopath: a later search-path name, as a CNAME chain.
    Autopath,
}

impl AnswerSource {
    /// The word the query log writes.
    pub fn as_str(self) -> &'static str {
        match self {
            AnswerSource::Local => "local",
            AnswerSource::Forwarded => "forwarded",
            AnswerSource::Cache => "cache",
            AnswerSource::Autopath => "autopath",
        }
    }
}

/// Observes every answered query (metrics, query log). Must be cheap and never block.
pub trait QueryObserver: Send + Sync + 'static {
    /// Called once per response sent.
    fn answered(&self, event: &QueryEvent<'_>);

    /// Called once per zone transfer answered (besides `answered`), with its result:
    /// `full`, `incremental`, `current`, `notauth`, `servfail`, `badsig`.
    fn transferred(&self, _qtype: RecordType, _result: &'static str) {}

    /// Called for every lookup in a response cache: whether the question's answer was
    /// there.
    fn response_cache_lookup(&self, _lookup: super::response_cache::Lookup) {}

    /// Called when a response cache drops entries: for a new snapshot (`changed`, of the
    /// groups it changed, or `cleared`, all at once), or to make room (`full`); see
    /// [`Dropped`].
    fn response_cache_dropped(&self, _dropped: Dropped) {}
}

impl QueryObserver for () {
    fn answered(&self, _: &QueryEvent<'_>) {}
}
