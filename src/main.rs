//! The `headless-dns` binary: parses the configuration and runs the library.

use std::time::Duration;

use anyhow::Context;
use headless_dns::config::{self, Command};

/// mimalloc rather than glibc's malloc: the index holds ~10^6 small, long-lived
/// allocations, and a load or relist frees many short-lived ones in between. mimalloc
/// has no per-allocation header and returns freed pages to the kernel, so resident
/// memory follows the live heap instead of the load's high-water mark (bench/memory.sh).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// `mi_option_purge_delay` in mimalloc's `mi_option_e` (libmimalloc-sys exports no
/// constant for it; the value is fixed by the C header of the vendored version).
const MI_OPTION_PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;

/// Returns freed pages to the kernel at once. mimalloc otherwise delays the purge by a
/// second and performs it on the owning thread's next allocation, which never comes for
/// an index thread that goes idle after a load: the load's garbage would stay resident
/// (237 MiB instead of 113 MiB after loading 100k pods; bench/memory.sh).
fn purge_freed_memory_immediately() {
    // SAFETY: mi_option_set only stores an integer in mimalloc's option table; it is
    // documented as callable at any time, from any thread, and 15 is purge_delay in the
    // header of the mimalloc version libmimalloc-sys vendors.
    unsafe { libmimalloc_sys::mi_option_set(MI_OPTION_PURGE_DELAY, 0) };
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    purge_freed_memory_immediately();
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
