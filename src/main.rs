//! The `headless-dns` binary: parses the command line and runs the library.

use anyhow::Context;
use clap::Parser;
use headless_dns::config::{Cli, Command};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    match cli.command {
        Command::Serve(args) => {
            headless_dns::telemetry::init(args.log_format);
            let mut running = headless_dns::app::start(&args).await?;
            tokio::select! {
                result = running.wait() => result.context("the DNS server stopped")?,
                _ = tokio::signal::ctrl_c() => {
                    tracing::info!("interrupted, stopping");
                    running.stop().await?;
                }
            }
        }
    }
    Ok(())
}
