//! The process's allocator (used by the binary and by the benchmarks that measure it, not
//! by the library): mimalloc, set to return freed memory to the kernel at once.
//!
//! This crate is the one place in the repository with `unsafe` code: the `GlobalAlloc`
//! implementation and the FFI calls into mimalloc, kept apart so that the library can
//! `#![forbid(unsafe_code)]`. A program that links it (calls any of its functions) has
//! mimalloc as its global allocator.

/// mimalloc rather than glibc's malloc: the index holds ~10^6 small, long-lived
/// allocations, and a load or relist frees many short-lived ones in between. mimalloc
/// has no per-allocation header and returns freed pages to the kernel, so resident
/// memory follows the live heap instead of the load's high-water mark (bench/memory.sh).
/// Built with `no_thp`: mimalloc would otherwise ask for transparent huge pages, and
/// every huge page it touches would be resident whole (an idle server twice its size).
#[global_allocator]
static ALLOCATOR: MiMalloc = MiMalloc;

/// mimalloc as Rust's allocator, asking for an aligned block only when the alignment is
/// more than every mimalloc block already has.
///
/// *Why not `mimalloc::MiMalloc`:* it passes every request to `mi_malloc_aligned`, and
/// mimalloc 3 serves that from the request's size class only while a page of that class
/// has a free block at hand; otherwise it over-allocates by the alignment, into the next
/// class, where the class's own page then never gets created. Every request of a size
/// that is not a power of two landed one class up: the 96-byte pod in a 112-byte block,
/// 80 bytes in 96 (found with `mi_heap_visit_blocks`, which `memory_model` prints by
/// size class). Every mimalloc block of 16 bytes or more is 16-byte aligned (blocks of up
/// to 64 bytes are rounded to 16, larger size classes are multiples of 16, pages start
/// 16-aligned), so below that alignment a plain `mi_malloc` is both aligned and exact.
struct MiMalloc;

/// The alignment every block of at least this size has (`MI_MAX_ALIGN_SIZE`).
const MI_ALIGNED: usize = 16;

fn plain(layout: std::alloc::Layout) -> bool {
    layout.align() <= MI_ALIGNED && layout.align() <= layout.size()
}

// SAFETY: every pointer comes from mimalloc and is freed by it; a plain allocation is
// used only where mimalloc's size classes guarantee the requested alignment (above), and
// an aligned one otherwise.
unsafe impl std::alloc::GlobalAlloc for MiMalloc {
    #[inline]
    unsafe fn alloc(&self, layout: std::alloc::Layout) -> *mut u8 {
        // SAFETY: see the impl.
        unsafe {
            if plain(layout) {
                libmimalloc_sys::mi_malloc(layout.size()).cast()
            } else {
                libmimalloc_sys::mi_malloc_aligned(layout.size(), layout.align()).cast()
            }
        }
    }

    #[inline]
    unsafe fn alloc_zeroed(&self, layout: std::alloc::Layout) -> *mut u8 {
        // SAFETY: see the impl.
        unsafe {
            if plain(layout) {
                libmimalloc_sys::mi_zalloc(layout.size()).cast()
            } else {
                libmimalloc_sys::mi_zalloc_aligned(layout.size(), layout.align()).cast()
            }
        }
    }

    #[inline]
    unsafe fn dealloc(&self, ptr: *mut u8, _layout: std::alloc::Layout) {
        // SAFETY: see the impl.
        unsafe { libmimalloc_sys::mi_free(ptr.cast()) }
    }

    #[inline]
    unsafe fn realloc(&self, ptr: *mut u8, layout: std::alloc::Layout, new_size: usize) -> *mut u8 {
        // SAFETY: see the impl: the new block must have the old alignment at the new size
        // (mimalloc reallocates an aligned block's interior pointer too).
        unsafe {
            if new_size < layout.size()
                && libmimalloc_sys::mi_good_size(new_size) < libmimalloc_sys::mi_usable_size(ptr.cast())
            {
                // Shrinking into a smaller size class: move, so the block shrinks too.
                return shrink_by_moving(self, ptr, layout, new_size);
            }
            if layout.align() <= MI_ALIGNED && layout.align() <= new_size {
                libmimalloc_sys::mi_realloc(ptr.cast(), new_size).cast()
            } else {
                libmimalloc_sys::mi_realloc_aligned(ptr.cast(), new_size, layout.align()).cast()
            }
        }
    }
}

/// Moves a block into a smaller one: `new_size` bytes of `ptr`'s contents, in a block of
/// `new_size`'s own size class, the old block freed.
///
/// *Why:* `mi_realloc` keeps the block in place whenever the new size is at least half of
/// it, so `shrink_to_fit` and `into_boxed_slice` freed nothing: a service's ten 32-byte
/// endpoints, collected by pushing into room for sixteen, kept their 512-byte block
/// (found by size class with `memory_model`). A shrink is
/// rare and asked for to save memory, so the copy is worth it.
///
/// # Safety
/// As [`std::alloc::GlobalAlloc::realloc`], with `new_size < layout.size()`.
#[cold]
unsafe fn shrink_by_moving(
    allocator: &MiMalloc,
    ptr: *mut u8,
    layout: std::alloc::Layout,
    new_size: usize,
) -> *mut u8 {
    use std::alloc::GlobalAlloc;
    // SAFETY: the caller's contract: `ptr` is a live block of `layout`, and `new_size` is a
    // valid size at that alignment (GlobalAlloc::realloc's own requirements); the copy
    // stays within both blocks because `new_size` is the smaller.
    unsafe {
        let new_layout = std::alloc::Layout::from_size_align_unchecked(new_size, layout.align());
        let moved = allocator.alloc(new_layout);
        if !moved.is_null() {
            std::ptr::copy_nonoverlapping(ptr, moved, new_size);
            allocator.dealloc(ptr, layout);
        }
        moved
    }
}

/// `mi_option_purge_delay` in mimalloc's `mi_option_e` (libmimalloc-sys exports no
/// constant for it; the value is fixed by the C header of the vendored version).
const MI_OPTION_PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;

/// Returns freed pages to the kernel at once. mimalloc otherwise delays the purge by a
/// second and performs it on the owning thread's next allocation, which never comes for
/// an index thread that goes idle after a load: the load's garbage would stay resident
/// (twice the live heap after a load; bench/memory.sh).
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
/// so those pages stayed resident. It costs microseconds: cheap enough for every idle.
pub fn collect_freed_memory() {
    // SAFETY: mi_collect only walks the calling thread's own heap; it is documented as
    // callable at any time from any thread.
    unsafe { libmimalloc_sys::mi_collect(false) };
}

/// The live heap by mimalloc size class: `(block size, blocks in use, bytes committed)`,
/// ascending. For `examples/memory_model`, which prints where the index's bytes are.
pub fn blocks_by_size() -> Vec<(usize, usize, usize)> {
    type Classes = std::collections::BTreeMap<usize, (usize, usize)>;
    unsafe extern "C" fn visit(
        _heap: *const libmimalloc_sys::mi_heap_t,
        area: *const libmimalloc_sys::mi_heap_area_t,
        _block: *mut std::ffi::c_void,
        _size: usize,
        classes: *mut std::ffi::c_void,
    ) -> bool {
        // SAFETY: mimalloc passes a valid area, and `classes` is the map passed below.
        let (area, classes) = unsafe { (&*area, &mut *classes.cast::<Classes>()) };
        let class = classes.entry(area.block_size).or_default();
        class.0 += area.used;
        class.1 += area.committed;
        true
    }
    unsafe extern "C" {
        /// mimalloc 3's main heap (libmimalloc-sys declares it only for mimalloc 2).
        fn mi_heap_main() -> *mut libmimalloc_sys::mi_heap_t;
    }
    let mut classes = Classes::new();
    // SAFETY: visits the main heap's areas only (not their blocks), calling `visit` with
    // the map, which outlives the call.
    unsafe {
        libmimalloc_sys::mi_heap_visit_blocks(
            mi_heap_main(),
            false,
            Some(visit),
            (&raw mut classes).cast::<std::ffi::c_void>(),
        );
    }
    classes.into_iter().map(|(size, (used, committed))| (size, used, committed)).collect()
}

/// A multi-threaded tokio runtime whose workers return freed pages when they go idle,
/// and an index that does the same and then wakes them (they hold what the index
/// frees), so a load's garbage does not stay resident on idle threads.
///
/// `on_idle` registers the index's hook: `headless_dns::index::on_idle` (passed in
/// because the library cannot be a dependency of this crate, which the binary depends on).
pub fn runtime(
    on_idle: impl FnOnce(Box<dyn Fn() + Send + Sync>),
) -> std::io::Result<tokio::runtime::Runtime> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .on_thread_park(collect_freed_memory)
        .build()?;
    let (handle, workers) = (runtime.handle().clone(), runtime.metrics().num_workers());
    on_idle(Box::new(move || {
        collect_freed_memory();
        for _ in 0..workers {
            handle.spawn(async {});
        }
    }));
    Ok(runtime)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocks_are_of_the_size_asked_for_and_aligned() {
        // Under `mimalloc::MiMalloc` most of these landed one size class up (96 in 112).
        for size in [16usize, 32, 48, 80, 96, 112, 136, 160, 320] {
            let blocks: Vec<Box<[u64]>> =
                (0..5_000).map(|_| vec![0u64; size / 8].into_boxed_slice()).collect();
            for block in &blocks {
                let ptr = block.as_ptr();
                assert_eq!(ptr as usize % 8, 0);
                // SAFETY: the pointer is a live mimalloc block.
                let (usable, class) = unsafe {
                    (libmimalloc_sys::mi_usable_size(ptr.cast()), libmimalloc_sys::mi_good_size(size))
                };
                assert_eq!(usable, class, "{size} bytes in a {usable}-byte block, not in their size class");
            }
        }
        let aligned = std::alloc::Layout::from_size_align(100, 64).expect("layout");
        // SAFETY: a valid layout, freed with the same layout.
        unsafe {
            let ptr = std::alloc::alloc(aligned);
            assert_eq!(ptr as usize % 64, 0);
            let grown = std::alloc::realloc(ptr, aligned, 5000);
            assert_eq!(grown as usize % 64, 0);
            std::alloc::dealloc(grown, std::alloc::Layout::from_size_align(5000, 64).expect("layout"));
        }
    }

    #[test]
    fn a_shrunk_vector_moves_into_its_own_size_class() {
        // mi_realloc kept these in place: ten 32-byte endpoints pushed into room for
        // sixteen stayed in a 512-byte block after shrink_to_fit.
        for (len, pushed) in [(10usize, 16usize), (5, 8), (3, 4), (40, 64)] {
            let mut v: Vec<[u64; 4]> = Vec::with_capacity(pushed);
            v.extend((0..len as u64).map(|i| [i, i + 1, i + 2, i + 3]));
            let boxed = v.into_boxed_slice();
            assert!(boxed.iter().enumerate().all(|(i, e)| e[0] == i as u64 && e[3] == i as u64 + 3));
            // SAFETY: the pointer is a live mimalloc block.
            let (usable, class) = unsafe {
                (
                    libmimalloc_sys::mi_usable_size(boxed.as_ptr().cast()),
                    libmimalloc_sys::mi_good_size(len * 32),
                )
            };
            assert_eq!(usable, class, "{len} × 32 bytes kept a {usable}-byte block");
        }
        // Over-aligned blocks keep their alignment when moved.
        let aligned = std::alloc::Layout::from_size_align(4096, 64).expect("layout");
        // SAFETY: a valid layout; the block is freed with the layout it was shrunk to.
        unsafe {
            let ptr = std::alloc::alloc(aligned);
            ptr.write(7);
            let shrunk = std::alloc::realloc(ptr, aligned, 100);
            assert_eq!(shrunk as usize % 64, 0);
            assert_eq!(shrunk.read(), 7);
            std::alloc::dealloc(shrunk, std::alloc::Layout::from_size_align(100, 64).expect("layout"));
        }
    }

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
