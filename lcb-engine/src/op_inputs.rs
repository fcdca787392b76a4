//! The buffers of lcb's candle custom ops (attention, fused and sampling kernels and their
//! CPU twins): each op reads its tensors' data in place, which needs contiguous layouts (a
//! strided input is refused with the op's name), and a CUDA kernel that writes every element
//! of its output gets it unset.

use std::ops::Range;

use candle_core::{CpuStorage, Layout, WithDType};

/// Where a contiguous layout's data lies in its storage.
pub(crate) fn contiguous_range(op: &str, layout: &Layout) -> candle_core::Result<Range<usize>> {
    layout
        .contiguous_offsets()
        .map(|(start, end)| start..end)
        .ok_or_else(|| candle_core::Error::Msg(format!("{op} needs contiguous inputs")))
}

/// A contiguous CPU tensor's data, borrowed.
pub(crate) fn cpu_slice<'a, T: WithDType>(
    op: &str,
    storage: &'a CpuStorage,
    layout: &Layout,
) -> candle_core::Result<&'a [T]> {
    Ok(&storage.as_slice::<T>()?[contiguous_range(op, layout)?])
}

/// An output buffer of `len` elements for a CUDA kernel that writes every element that is
/// ever read. `alloc_zeros` would clear it first: one more launch (a memset) per op, per
/// layer.
///
/// # Safety
/// The kernel launched next must write each element before anything reads it (elements
/// nothing reads, such as the suffix kernel's unused pieces, may stay unset).
#[cfg(feature = "cuda")]
pub(crate) unsafe fn kernel_output<T: candle_core::cuda_backend::cudarc::driver::DeviceRepr>(
    dev: &candle_core::cuda_backend::CudaDevice,
    len: usize,
) -> candle_core::Result<candle_core::cuda_backend::cudarc::driver::CudaSlice<T>> {
    // SAFETY: the caller's promise: nothing reads an element before the kernel writes it.
    unsafe { dev.alloc::<T>(len) }
}
