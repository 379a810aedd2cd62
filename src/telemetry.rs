//! Logging setup: `RUST_LOG` filter (default `info,hickory_server=warn`), text or JSON.

use tracing_subscriber::EnvFilter;

use crate::config::LogFormat;

/// The filter used when `RUST_LOG` is not set. hickory-server logs every response at
/// info level, which would put per-query logging on the hot path; keep it at warn.
pub const DEFAULT_FILTER: &str = "info,hickory_server=warn,hickory_net=warn,hickory_proto=warn";

/// Installs the global subscriber. Safe to call more than once (later calls do nothing).
pub fn init(format: LogFormat) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(DEFAULT_FILTER));
    // Colour only on a terminal: logs collected from a pipe (kubectl logs, journald) stay plain.
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let builder =
        tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).with_ansi(ansi);
    let _ = match format {
        LogFormat::Text => builder.try_init(),
        LogFormat::Json => builder.json().try_init(),
    };
}
