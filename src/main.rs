//! The `headless-dns` binary: parses the configuration and runs the library.

use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use headless_dns::config::{self, Command};
use tokio::signal::unix::{SignalKind, signal};

fn main() -> ExitCode {
    allocator::purge_freed_memory_immediately();
    let result = allocator::runtime(headless_dns::index::on_idle)
        .context("cannot start the async runtime")
        .and_then(|rt| rt.block_on(run()));
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            // Not anyhow's `{:?}`: it repeats a cause our messages already include.
            eprintln!("Error: {}", headless_dns::report(error.as_ref()));
            ExitCode::FAILURE
        }
    }
}

async fn run() -> anyhow::Result<()> {
    let cli = config::parse().unwrap_or_else(|e| e.exit());
    match cli.command {
        Command::Serve(args) => {
            headless_dns::telemetry::init(args.log_format);
            let mut running = headless_dns::app::start(&args).await?;
            tokio::select! {
                result = running.wait() => result.context("the DNS server stopped")?,
                received = shutdown_signal() => {
                    // Registered before anything is logged, so no second Ctrl-C is missed.
                    let mut interrupt = signal(SignalKind::interrupt()).context("SIGINT handler")?;
                    tracing::info!(signal = %received, "received");
                    tokio::select! {
                        result = running.shutdown(Duration::from_secs(args.lameduck)) => result?,
                        // The lameduck wait is for a kubelet's SIGTERM; a person pressing
                        // Ctrl-C again means now.
                        _ = interrupt.recv() => {
                            tracing::warn!("second SIGINT: exiting now, without the rest of the lameduck period");
                            std::process::exit(130);
                        }
                    }
                }
            }
        }
        Command::Explain(args) => print!("{}", headless_dns::app::explain(&args)?),
        Command::Records(args) => print!("{}", headless_dns::app::records(&args)?),
        Command::CheckConfig(args) => {
            headless_dns::telemetry::init(args.log_format);
            // Validated at parse already; built again now that logging is up, so the
            // warnings they give (an upstream that is ourselves, dropped) are seen.
            args.zone_settings()?;
            args.forward_settings()?;
            // The key file is read as `serve` reads it, so a key `serve` refuses fails here.
            args.tsig_keys()?;
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
    let mut term = signal(SignalKind::terminate()).expect("SIGTERM handler");
    tokio::select! {
        _ = term.recv() => "SIGTERM",
        _ = tokio::signal::ctrl_c() => "SIGINT",
    }
}
