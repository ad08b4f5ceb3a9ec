//! How the process allocates: glibc malloc settings the daemon runs with.
//! `main` applies them before any thread starts; the benchmarks call the
//! same function, so they measure the allocator the daemon has.

/// Applies the settings below (glibc on Linux only; elsewhere nothing).
///
/// - **One arena.** glibc gives each thread that allocates under
///   contention an arena of its own (up to 8 per core), and memory freed
///   into one is not reused by the others: with the runtime's, the
///   blocking pool's and sled's threads all parsing and storing, the daemon
///   polling 1,000 feeds held 280–310 MB after 15 s, of which about 160 MB
///   was such free memory (with two arenas: 128 MB). Since fetched bodies
///   take turns to be parsed and stored (`poll::processing_turns`), few
///   threads allocate at once, and a second arena only held free memory
///   of its own: polling 10,000 feeds peaked at 202–205 MB with one and
///   208–212 MB with two (first-cycle CPU 228–245 s against 220–255 s).
///   Small blocks come from each thread's cache without the arena's lock.
/// - **A fixed mmap threshold of 128 KiB.** By default glibc raises the
///   threshold each time a large block is freed (up to 32 MiB), so feed
///   bodies and parse buffers of a few hundred KB end up in the arenas,
///   where the holes they leave are kept. Fixed, such blocks are mapped and
///   unmapped whole: polling 1,000 feeds peaked at 132 MB instead of 174 MB
///   (heap in use at the peak: 75 MB), with the same CPU time.
///
/// Must be called before any other thread starts.
pub fn tune_allocator() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only sets allocator parameters; the caller runs it
    // before any other thread exists.
    unsafe {
        libc::mallopt(libc::M_ARENA_MAX, 1);
        libc::mallopt(libc::M_MMAP_THRESHOLD, MMAP_THRESHOLD);
    }
}

/// Hands the heap's free pages back to the system (`malloc_trim`). glibc
/// returns memory on its own only from the top of a heap, so after a scan
/// of the store (a housekeeping count, `/metrics` topic counts, a cold
/// page) the freed middle of the heap stays resident: at 1,000,000 entries
/// a count left the daemon at 400 MB, and a trim brought it to 281 MB.
/// Takes the arenas' locks for a few milliseconds; call it from a blocking
/// thread, now and then.
pub fn release_free_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only walks and trims glibc's own free lists.
    unsafe {
        libc::malloc_trim(0);
    }
}

/// Blocks at least this big get their own mapping.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
const MMAP_THRESHOLD: libc::c_int = 128 * 1024;
