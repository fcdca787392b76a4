//! The inputs of lcb's candle custom ops (attention, fused and sampling kernels and their
//! CPU twins): each op reads its tensors' data in place, which needs contiguous layouts; a
//! strided input is refused with the op's name.

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
