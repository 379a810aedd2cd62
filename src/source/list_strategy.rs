//! How each watcher gets its initial state: paged lists or a streaming list
//! (`--streaming-list`), and when to give up on streaming.
//!
//! A paged list makes the API server build every page of the collection for every relist
//! of every replica; a streaming list (the WatchList protocol: a watch with
//! `sendInitialEvents=true`, ended by a bookmark annotated `k8s.io/initial-events-end`)
//! is served from the watch cache one object at a time. Servers without it (before
//! Kubernetes 1.27, or with the `WatchList` feature gate off) reject the parameters with a
//! 4xx status; kube-rs itself then retries the same request forever, so in `auto` mode a
//! watcher that has not yet completed a streaming list switches to paged lists on such an
//! error, or when its initial stream ends without the end-of-initial-events bookmark.

use kube::runtime::watcher;

/// `--streaming-list`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum StreamingList {
    /// Stream where the API server supports it, else paged lists.
    Auto,
    /// Always stream (no fallback: an API server without WatchList never syncs).
    Always,
    /// Always paged lists (`limit=500` + `continue`), what kube-rs does by default.
    #[default]
    Never,
}

impl StreamingList {
    /// Every mode.
    pub const ALL: [StreamingList; 3] = [StreamingList::Auto, StreamingList::Always, StreamingList::Never];

    /// Its name (`--streaming-list`, the config file).
    pub fn name(self) -> &'static str {
        match self {
            StreamingList::Auto => "auto",
            StreamingList::Always => "always",
            StreamingList::Never => "never",
        }
    }
}

/// One watcher's current strategy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ListStrategy {
    mode: StreamingList,
    streaming: bool,
    /// A streaming list has completed: the server supports it, never fall back.
    proven: bool,
    /// An initial stream has started and not yet completed.
    started: bool,
}

/// What to do after a watch event, in addition to handling it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Next {
    /// Carry on with the same watcher.
    Continue,
    /// Restart the watcher with paged lists.
    FallBack,
}

impl ListStrategy {
    /// The strategy `mode` starts with.
    pub fn new(mode: StreamingList) -> Self {
        Self { mode, streaming: mode != StreamingList::Never, proven: false, started: false }
    }

    /// Whether the current watcher streams its lists.
    pub fn streaming(&self) -> bool {
        self.streaming
    }

    /// `base` with the current list strategy.
    pub fn config(&self, base: watcher::Config) -> watcher::Config {
        if self.streaming { base.streaming_lists() } else { base }
    }

    fn may_fall_back(&self) -> bool {
        self.streaming && !self.proven && self.mode == StreamingList::Auto
    }

    /// A list is starting (`Event::Init`). A second start before the first completed
    /// means the initial stream ended without its end bookmark: the server ignored
    /// `sendInitialEvents`.
    pub fn init(&mut self) -> Next {
        if std::mem::replace(&mut self.started, true) && self.may_fall_back() {
            self.fall_back()
        } else {
            Next::Continue
        }
    }

    /// A list completed (`Event::InitDone`).
    pub fn init_done(&mut self) {
        self.started = false;
        self.proven |= self.streaming;
    }

    /// A watch error: falls back on the client errors that mean "no WatchList here".
    pub fn error(&mut self, error: &watcher::Error) -> Next {
        if self.may_fall_back() && rejects_streaming(error) { self.fall_back() } else { Next::Continue }
    }

    fn fall_back(&mut self) -> Next {
        self.streaming = false;
        self.started = false;
        Next::FallBack
    }
}

/// A 4xx status other than 410 Gone (a resource version too old, answered by relisting)
/// and 429 (retry later): the request itself is refused.
fn rejects_streaming(error: &watcher::Error) -> bool {
    let code = match error {
        watcher::Error::WatchStartFailed(kube::Error::Api(status)) => status.code,
        watcher::Error::WatchError(status) => status.code,
        _ => return false,
    };
    (400..500).contains(&code) && code != 410 && code != 429
}

#[cfg(test)]
mod tests {
    use super::*;

    fn status(code: u16) -> Box<kube::core::Status> {
        Box::new(kube::core::Status { code, ..kube::core::Status::failure("refused", "Invalid") })
    }

    #[test]
    fn auto_falls_back_on_a_refused_watch_before_any_streamed_list() {
        let mut s = ListStrategy::new(StreamingList::Auto);
        assert!(s.streaming());
        assert_eq!(s.error(&watcher::Error::WatchStartFailed(kube::Error::Api(status(410)))), Next::Continue);
        assert_eq!(s.error(&watcher::Error::WatchStartFailed(kube::Error::Api(status(500)))), Next::Continue);
        assert_eq!(s.error(&watcher::Error::WatchStartFailed(kube::Error::Api(status(429)))), Next::Continue);
        assert_eq!(s.error(&watcher::Error::NoResourceVersion), Next::Continue);
        assert!(s.streaming());
        assert_eq!(s.error(&watcher::Error::WatchStartFailed(kube::Error::Api(status(422)))), Next::FallBack);
        assert!(!s.streaming());
        // Paged now: nothing more to fall back to.
        assert_eq!(s.error(&watcher::Error::WatchError(status(400))), Next::Continue);
    }

    #[test]
    fn a_completed_stream_proves_support() {
        let mut s = ListStrategy::new(StreamingList::Auto);
        assert_eq!(s.init(), Next::Continue);
        s.init_done();
        assert_eq!(s.error(&watcher::Error::WatchError(status(422))), Next::Continue);
        assert_eq!(s.init(), Next::Continue);
        assert_eq!(s.init(), Next::Continue, "a relist cut short by a proven server is retried as a stream");
        assert!(s.streaming());
    }

    #[test]
    fn an_initial_stream_without_its_end_bookmark_falls_back() {
        let mut s = ListStrategy::new(StreamingList::Auto);
        assert_eq!(s.init(), Next::Continue);
        assert_eq!(s.init(), Next::FallBack);
        assert!(!s.streaming());
        assert_eq!(s.init(), Next::Continue);
        assert_eq!(s.init(), Next::Continue);
    }

    #[test]
    fn always_and_never_do_not_switch() {
        let mut always = ListStrategy::new(StreamingList::Always);
        assert_eq!(always.error(&watcher::Error::WatchError(status(422))), Next::Continue);
        assert_eq!((always.init(), always.init()), (Next::Continue, Next::Continue));
        assert!(always.streaming());
        let never = ListStrategy::new(StreamingList::Never);
        assert!(!never.streaming());
    }
}
