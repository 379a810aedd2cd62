//! The process's allocator (used by the binary and by the benchmarks that measure it, not
//! by the library): mimalloc, set to return freed memory to the kernel at once.

/// mimalloc rather than glibc's malloc: the index holds ~10^6 small, long-lived
/// allocations, and a load or relist frees many short-lived ones in between. mimalloc
/// has no per-allocation header and returns freed pages to the kernel, so resident
/// memory follows the live heap instead of the load's high-water mark (bench/memory.sh).
/// Built with `no_thp`: mimalloc would otherwise ask for transparent huge pages, and
/// every 2 MiB page it touches would be resident whole (an idle server: 18 MiB, not 9).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// `mi_option_purge_delay` in mimalloc's `mi_option_e` (libmimalloc-sys exports no
/// constant for it; the value is fixed by the C header of the vendored version).
const MI_OPTION_PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;

/// Returns freed pages to the kernel at once. mimalloc otherwise delays the purge by a
/// second and performs it on the owning thread's next allocation, which never comes for
/// an index thread that goes idle after a load: the load's garbage would stay resident
/// (237 MiB instead of 113 MiB after loading 100k pods; bench/memory.sh).
pub fn purge_freed_memory_immediately() {
    // SAFETY: mi_option_set only stores an integer in mimalloc's option table; it is
    // documented as callable at any time, from any thread, and 15 is purge_delay in the
    // header of the mimalloc version libmimalloc-sys vendors.
    unsafe { libmimalloc_sys::mi_option_set(MI_OPTION_PURGE_DELAY, 0) };
}

/// Returns to the kernel the pages this thread's heap no longer uses. Called by tokio's
/// worker threads when they go idle (`on_thread_park`) and by the index thread when it
/// has published everything queued (`index::on_idle`).
///
/// *Why:* mimalloc reclaims a page lazily: blocks freed by another thread are only
/// queued until the owning thread allocates again, and an emptied page is kept a while
/// for reuse. A thread that goes idle after a load (the index; the workers that
/// deserialized the Kubernetes objects, which the index frees) never allocates again,
/// so those pages stayed resident. About 1.7 µs with 20k live blocks.
pub fn collect_freed_memory() {
    // SAFETY: mi_collect only walks the calling thread's own heap; it is documented as
    // callable at any time from any thread.
    unsafe { libmimalloc_sys::mi_collect(false) };
}

/// A multi-threaded tokio runtime whose workers return freed pages when they go idle,
/// and an index that does the same and then wakes them (they hold what the index
/// frees), so a load's garbage does not stay resident on idle threads.
pub fn runtime() -> std::io::Result<tokio::runtime::Runtime> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .on_thread_park(collect_freed_memory)
        .build()?;
    let (handle, workers) = (runtime.handle().clone(), runtime.metrics().num_workers());
    headless_dns::index::on_idle(move || {
        collect_freed_memory();
        for _ in 0..workers {
            handle.spawn(async {});
        }
    });
    Ok(runtime)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_purge_delay_option_is_the_one_we_set() {
        // SAFETY: mi_option_get reads an integer from mimalloc's option table.
        let get = || unsafe { libmimalloc_sys::mi_option_get(MI_OPTION_PURGE_DELAY) };
        if std::env::var_os("MIMALLOC_PURGE_DELAY").is_none() {
            // mimalloc 3's documented default for purge_delay: the constant names it.
            assert_eq!(get(), 1000, "option {MI_OPTION_PURGE_DELAY} is not purge_delay in this mimalloc");
        }
        purge_freed_memory_immediately();
        assert_eq!(get(), 0);
    }
}
