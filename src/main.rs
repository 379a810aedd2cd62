//! The `headless-dns` binary: parses the configuration and runs the library.

use std::time::Duration;

use anyhow::Context;
use headless_dns::config::{self, Command};

mod allocator;

fn main() -> anyhow::Result<()> {
    allocator::purge_freed_memory_immediately();
    allocator::runtime().context("cannot start the async runtime")?.block_on(run())
}

async fn run() -> anyhow::Result<()> {
    let cli = config::parse().unwrap_or_else(|e| e.exit());
    match cli.command {
        Command::Serve(args) => {
            headless_dns::telemetry::init(args.log_format);
            let mut running = headless_dns::app::start(&args).await?;
            tokio::select! {
                result = running.wait() => result.context("the DNS server stopped")?,
                signal = shutdown_signal() => {
                    tracing::info!(%signal, "received");
                    running.shutdown(Duration::from_secs(args.lameduck)).await?;
                }
            }
        }
        Command::Explain(args) => print!("{}", headless_dns::app::explain(&args)?),
        Command::Records(args) => print!("{}", headless_dns::app::records(&args)?),
        Command::CheckConfig(args) => {
            args.zone_settings()?;
            for path in &args.manifests {
                anyhow::ensure!(path.exists(), "--manifests {}: no such file or directory", path.display());
            }
            print!("# effective configuration (flags > environment > file > defaults)\n{}", args.to_toml());
        }
    }
    Ok(())
}

/// SIGTERM (Kubernetes stopping the pod) or SIGINT (Ctrl-C).
async fn shutdown_signal() -> &'static str {
    let mut term =
        tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).expect("SIGTERM handler");
    tokio::select! {
        _ = term.recv() => "SIGTERM",
        _ = tokio::signal::ctrl_c() => "SIGINT",
    }
}
