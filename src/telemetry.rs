//! Logging setup: `RUST_LOG` filter (default [`DEFAULT_FILTER`]), text or JSON;
//! and the words the logs use for DNS values.

use std::borrow::Cow;

use hickory_proto::op::ResponseCode;
use tracing_subscriber::EnvFilter;

use crate::config::LogFormat;

/// The filter used when `RUST_LOG` is not set. hickory-server logs every response at
/// info level, which would put per-query logging on the hot path; keep it at warn.
/// kube's client logs a cut stream at warn in its own debug syntax, and its HTTP layer
/// (`kube_client::client::builder`) every failed request at error: an API server that is
/// away would get a line per retry of every watch. Our watchers say what happened (and
/// what is done about it) once per kind, so that layer is off and only kube's other
/// errors are kept.
pub const DEFAULT_FILTER: &str = "info,hickory_server=warn,hickory_net=warn,hickory_proto=warn,\
    kube_client=error,kube_client::client::builder=off,kube_runtime=error";

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

/// A response code as its mnemonic (`NXDOMAIN`, as dig prints it), not hickory's Display
/// (`Non-Existent Domain`), whose spaces break `key=value` log lines. Codes without a
/// common mnemonic are `RCODE<n>`.
pub fn rcode_mnemonic(rcode: ResponseCode) -> Cow<'static, str> {
    Cow::Borrowed(match rcode {
        ResponseCode::NoError => "NOERROR",
        ResponseCode::FormErr => "FORMERR",
        ResponseCode::ServFail => "SERVFAIL",
        ResponseCode::NXDomain => "NXDOMAIN",
        ResponseCode::NotImp => "NOTIMP",
        ResponseCode::Refused => "REFUSED",
        ResponseCode::YXDomain => "YXDOMAIN",
        ResponseCode::YXRRSet => "YXRRSET",
        ResponseCode::NXRRSet => "NXRRSET",
        ResponseCode::NotAuth => "NOTAUTH",
        ResponseCode::NotZone => "NOTZONE",
        ResponseCode::BADVERS => "BADVERS",
        other => return Cow::Owned(format!("RCODE{}", u16::from(other))),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rcodes_are_single_words() {
        assert_eq!(rcode_mnemonic(ResponseCode::NXDomain), "NXDOMAIN");
        assert_eq!(rcode_mnemonic(ResponseCode::NoError), "NOERROR");
        assert_eq!(rcode_mnemonic(ResponseCode::Refused), "REFUSED");
        assert_eq!(rcode_mnemonic(ResponseCode::BADVERS), "BADVERS");
        assert_eq!(rcode_mnemonic(ResponseCode::from(0, 12)), "RCODE12");
        for code in 0..24u16 {
            let word = rcode_mnemonic(ResponseCode::from((code >> 4) as u8, (code & 0xf) as u8));
            assert!(!word.contains(' ') && !word.is_empty(), "{code}: {word}");
        }
    }
}
