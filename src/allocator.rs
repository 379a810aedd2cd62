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
