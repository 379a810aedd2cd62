//! The admin server as a stranger and as an operator see it (issue 17): `/records` and
//! `/explain` refuse clients outside loopback and `--admin-allow` while probes and metrics
//! stay open; bad parameters are 400s naming the valid ones; manifests mode exports the
//! documented metric families.

use crate::support;

use std::net::{IpAddr, SocketAddr, UdpSocket};
use std::process::Command;

use headless_dns::admin::client;
use support::demo;
use support::dns::*;

const BIN: &str = env!("CARGO_BIN_EXE_headless-dns");

async fn get(base: String, path: &str) -> Result<String, String> {
    let path = path.to_owned();
    tokio::task::spawn_blocking(move || client::get(&base, &path)).await.unwrap()
}

/// An address of this machine that is not loopback: what a connection from another host
/// would look like to the admin server. Found by "connecting" a UDP socket (nothing is
/// sent) towards a documentation address and reading the source address chosen.
fn non_loopback_address() -> IpAddr {
    for (bind, towards) in [("0.0.0.0:0", "192.0.2.1:9"), ("[::]:0", "[2001:db8::1]:9")] {
        if let Ok(socket) = UdpSocket::bind(bind)
            && socket.connect(towards).is_ok()
            && let Ok(local) = socket.local_addr()
            && !local.ip().is_loopback()
            && !local.ip().is_unspecified()
        {
            return local.ip();
        }
    }
    panic!("this machine has no non-loopback address to test a remote admin client with");
}

/// Starts a server on the demo manifests with DNS on 127.0.0.1:0 and these admin options.
async fn start_admin(admin: &[&str]) -> headless_dns::app::Running {
    let demo = demo().to_str().unwrap();
    let mut args = vec!["--manifests", demo, "--listen", "127.0.0.1:0"];
    args.extend_from_slice(admin);
    let running = headless_dns::app::start(&serve_args(&args)).await.expect("server starts");
    wait_synced(running.dns_addrs[0]).await;
    running
}

fn url(ip: IpAddr, port: u16) -> String {
    format!("http://{}", SocketAddr::new(ip, port))
}

#[tokio::test]
async fn records_and_explain_answer_loopback_and_admin_allow_only() {
    let remote = non_loopback_address();
    let wildcard = if remote.is_ipv4() { "0.0.0.0:0" } else { "[::]:0" };
    let running = start_admin(&["--admin", wildcard]).await;
    let port = running.admin_addr.unwrap().port();
    let explain = "/explain?name=web-0.nginx.default.svc.cluster.local&format=text";

    for path in ["/records", explain] {
        let refused = get(url(remote, port), path).await.unwrap_err();
        assert!(refused.contains("403") && refused.contains("--admin-allow"), "{path}: {refused}");
        assert!(refused.contains(&remote.to_string()), "{refused}");
        let local = get(url(IpAddr::from([127, 0, 0, 1]), port), path).await.unwrap();
        assert!(local.contains("web-0"), "{path}: {local}");
    }
    // Probes and metrics answer everyone.
    for path in ["/healthz", "/readyz", "/metrics"] {
        get(url(remote, port), path).await.unwrap_or_else(|e| panic!("{path}: {e}"));
    }
    // `explain --server` from loopback keeps working.
    let server = url(IpAddr::from([127, 0, 0, 1]), port);
    let output = tokio::task::spawn_blocking(move || {
        Command::new(BIN)
            .args(["explain", "web-0.nginx.default.svc.cluster.local", "--server", &server])
            .output()
    })
    .await
    .unwrap()
    .unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    running.stop().await.unwrap();

    let allowed = format!("{remote}/{}", if remote.is_ipv4() { 32 } else { 128 });
    let running = start_admin(&["--admin", wildcard, "--admin-allow", &allowed]).await;
    let port = running.admin_addr.unwrap().port();
    let records = get(url(remote, port), "/records").await.unwrap();
    assert!(records.contains("web-0"), "{records}");
    running.stop().await.unwrap();
}

#[tokio::test]
async fn unknown_or_invalid_parameters_are_refused_with_the_valid_ones() {
    let running = start_admin(&["--admin", "127.0.0.1:0"]).await;
    let base = format!("http://{}", running.admin_addr.unwrap());
    for (path, says) in [
        ("/explain?name=web-0.nginx.default.svc.cluster.local&format=xml", "format=json|text"),
        ("/explain?name=web-0.nginx.default.svc.cluster.local&type=BOGUS", "format=json|text"),
        ("/explain?name=web-0.nginx.default.svc.cluster.local&fromat=text", "unknown parameter \"fromat\""),
        ("/records?zone_file=in-addr-arpa", "unknown parameter \"zone_file\""),
        ("/records?zone=reverse", "zone=forward|in-addr-arpa|ip6-arpa"),
    ] {
        let error = get(base.clone(), path).await.unwrap_err();
        assert!(error.contains("400") && error.contains(says), "{path}: {error}");
    }
    let json = get(base.clone(), "/explain?name=web-0.nginx.default.svc.cluster.local").await.unwrap();
    assert!(json.trim_start().starts_with('{'), "{json}");
    let reverse = get(base.clone(), "/records?zone-file=in-addr-arpa").await.unwrap();
    assert!(reverse.contains("PTR") && reverse.contains("in-addr.arpa"), "{reverse}");
    running.stop().await.unwrap();
}

/// The value of the sample line starting with `prefix`, if there is one.
fn sample(metrics: &str, prefix: &str) -> Option<f64> {
    metrics.lines().find(|l| l.starts_with(prefix)).and_then(|l| l.rsplit(' ').next()?.parse().ok())
}

#[tokio::test]
async fn manifests_mode_exports_the_documented_metrics() {
    let running = start_admin(&["--admin", "127.0.0.1:0"]).await;
    let metrics = get(format!("http://{}", running.admin_addr.unwrap()), "/metrics").await.unwrap();
    for kind in ["pod", "service", "statefulset"] {
        for family in ["watch_restarts_total", "relists_total"] {
            let line = format!("headless_dns_{family}{{kind=\"{kind}\"}}");
            assert_eq!(sample(&metrics, &line), Some(0.0), "{line} in\n{metrics}");
        }
    }
    assert_eq!(sample(&metrics, "headless_dns_synced "), Some(1.0), "{metrics}");
    let since = sample(&metrics, "headless_dns_seconds_since_last_sync").unwrap();
    assert!((0.0..60.0).contains(&since), "seconds since the manifests were loaded: {since}");
    running.stop().await.unwrap();
}
