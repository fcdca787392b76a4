//! The allocator's settings for the engine: large buffers are kept for reuse while the engine
//! runs, and what loading freed is handed back to the kernel once.

/// Makes glibc's allocator keep and reuse large freed buffers instead of returning them to
/// the kernel: every decode step allocates logits, matmul packing and sampling buffers of
/// tens of megabytes, and with the default thresholds each of them is a fresh `mmap` whose
/// pages fault in again (a third of a CPU step's time). Process-wide; done once, on the
/// first engine start. The cost is that memory freed by the engine stays with the process.
pub(super) fn keep_large_buffers() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        static ONCE: std::sync::Once = std::sync::Once::new();
        ONCE.call_once(|| {
            // SAFETY: mallopt only changes allocator tunables; called before the engine's
            // threads allocate.
            unsafe {
                libc::mallopt(libc::M_MMAP_THRESHOLD, 1 << 30);
                libc::mallopt(libc::M_TRIM_THRESHOLD, i32::MAX);
            }
        });
    }
}

/// Returns memory freed while loading (weights as read, before fusing and transposing) to
/// the kernel: [`keep_large_buffers`] stops glibc from doing so on its own. Public for
/// measurements of the engine's memory (a benchmark's peak), which must not count buffers
/// the allocator only keeps for reuse.
pub fn release_free_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only releases free memory of the allocator's heaps.
    unsafe {
        libc::malloc_trim(0);
    }
}
