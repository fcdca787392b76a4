//! Naming devices (`cpu`, `cuda:2`), the numeric types each can compute in, and how many
//! threads the CPU backend uses.

use std::fmt;
use std::str::FromStr;

use candle_core::{DType, Device};

use crate::error::{Error, Result};

/// A device the engine can run on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DeviceSpec {
    /// The host CPU (all cores, through candle's thread pool).
    Cpu,
    /// A CUDA GPU by ordinal (needs the `cuda` feature).
    Cuda(usize),
}

/// What is wrong with a device name or a device list.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DeviceError {
    /// Not `cpu`, `cuda` or `cuda:N`.
    #[error("unknown device `{text}` (expected cpu, cuda or cuda:N)")]
    Unknown {
        /// The name as given (trimmed).
        text: String,
    },
    /// A list with no device in it.
    #[error("no device given")]
    Empty,
    /// A device listed more than once.
    #[error("device {device} is listed twice")]
    Repeated {
        /// The device.
        device: DeviceSpec,
    },
    /// `cpu` with other devices.
    #[error("cpu cannot be combined with other devices (it already uses every core)")]
    CpuWithOthers,
}

impl FromStr for DeviceSpec {
    type Err = DeviceError;

    /// `cpu`, `cuda` (= `cuda:0`) or `cuda:N`.
    fn from_str(text: &str) -> std::result::Result<Self, DeviceError> {
        match text.trim() {
            "cpu" => Ok(DeviceSpec::Cpu),
            "cuda" | "gpu" => Ok(DeviceSpec::Cuda(0)),
            other => other
                .strip_prefix("cuda:")
                .and_then(|n| n.parse().ok())
                .map(DeviceSpec::Cuda)
                .ok_or_else(|| DeviceError::Unknown { text: other.into() }),
        }
    }
}

impl fmt::Display for DeviceSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DeviceSpec::Cpu => write!(f, "cpu"),
            DeviceSpec::Cuda(n) => write!(f, "cuda:{n}"),
        }
    }
}

impl DeviceSpec {
    /// Opens the device.
    pub fn open(&self) -> Result<Device> {
        match self {
            DeviceSpec::Cpu => Ok(Device::Cpu),
            DeviceSpec::Cuda(n) => {
                if !candle_core::utils::cuda_is_available() {
                    return Err(Error::Invalid(format!(
                        "device {self}: this lcb was built without CUDA (rebuild with `--features cuda`)"
                    )));
                }
                let device = Device::new_cuda(*n)
                    .map_err(|e| Error::Invalid(format!("device {self}: {e}")))?;
                without_event_tracking(&device);
                // Only speed depends on it: a driver that refuses runs as before.
                if let Err(e) = keep_freed_memory(&device) {
                    tracing::warn!("device {self}: freed memory goes back to the driver: {e}");
                }
                Ok(device)
            }
        }
    }

    /// Free and total memory of a GPU in bytes (`None` on the CPU).
    pub fn memory_info(&self) -> Result<Option<(u64, u64)>> {
        match self {
            DeviceSpec::Cpu => Ok(None),
            DeviceSpec::Cuda(_) => {
                let device = self.open()?;
                gpu_memory_info(&device).map(Some).map_err(|e| {
                    Error::Invalid(format!("device {self}: cannot read its memory: {e}"))
                })
            }
        }
    }

    /// The type the engine computes in when `requested` is asked for on this device.
    ///
    /// candle's CPU matmul has no bf16 kernel, so bf16 on the CPU computes in f32 (the
    /// weights are converted once at load); f16 and f32 run as asked.
    pub fn compute_dtype(&self, requested: DType) -> DType {
        match (self, requested) {
            (DeviceSpec::Cpu, DType::BF16) => DType::F32,
            _ => requested,
        }
    }

    /// The default type: f32 on the CPU, bf16 on GPUs.
    pub fn default_dtype(&self) -> DType {
        match self {
            DeviceSpec::Cpu => DType::F32,
            DeviceSpec::Cuda(_) => DType::BF16,
        }
    }
}

/// The devices the engine runs on, one worker each: `cpu`, or one or more GPUs
/// (`cuda:2,cuda:3`). Parsed from a comma-separated list; repeats, and `cpu` with other
/// devices, are refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceList(Vec<DeviceSpec>);

impl FromStr for DeviceList {
    type Err = DeviceError;

    fn from_str(text: &str) -> std::result::Result<Self, DeviceError> {
        let devices: Vec<DeviceSpec> = text
            .split(',')
            .filter(|s| !s.trim().is_empty())
            .map(str::parse)
            .collect::<std::result::Result<_, _>>()?;
        if devices.is_empty() {
            return Err(DeviceError::Empty);
        }
        for (i, &device) in devices.iter().enumerate() {
            if devices[..i].contains(&device) {
                return Err(DeviceError::Repeated { device });
            }
        }
        if devices.len() > 1 && devices.contains(&DeviceSpec::Cpu) {
            return Err(DeviceError::CpuWithOthers);
        }
        Ok(DeviceList(devices))
    }
}

impl DeviceList {
    /// The devices, in the order given.
    pub fn into_vec(self) -> Vec<DeviceSpec> {
        self.0
    }
}

impl std::ops::Deref for DeviceList {
    type Target = [DeviceSpec];

    fn deref(&self) -> &[DeviceSpec] {
        &self.0
    }
}

impl fmt::Display for DeviceList {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, device) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            write!(f, "{device}")?;
        }
        Ok(())
    }
}

/// A numeric type name that is not `f32`, `bf16` or `f16`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown dtype `{text}` (expected f32, bf16 or f16)")]
pub struct DTypeError {
    /// The name as given.
    pub text: String,
}

/// Parses `f32`, `bf16` or `f16` (also `float32`, `bfloat16`, `float16`, `half`; any case).
pub fn parse_dtype(text: &str) -> std::result::Result<DType, DTypeError> {
    match text.trim().to_ascii_lowercase().as_str() {
        "f32" | "float32" => Ok(DType::F32),
        "bf16" | "bfloat16" => Ok(DType::BF16),
        "f16" | "float16" | "half" => Ok(DType::F16),
        _ => Err(DTypeError { text: text.into() }),
    }
}

/// The short name of a dtype (`f32`, `bf16`, `f16`).
pub fn dtype_name(dtype: DType) -> &'static str {
    dtype.as_str()
}

/// Turns off cudarc's event tracking for the tensors made on `device` from now on.
///
/// cudarc records a CUDA event at every allocation and every use of a buffer, so that
/// buffers can move between streams safely: two more driver calls per op, on every one of
/// the ~1,700 ops of a decode step. lcb never moves a buffer between streams: a worker opens
/// its device, loads its weights, allocates its cache and runs every step on its own thread,
/// whose per-thread stream (candle's) orders all of it, and drops it all on that thread.
#[cfg(feature = "cuda")]
fn without_event_tracking(device: &Device) {
    if let Ok(cuda) = device.as_cuda_device() {
        // SAFETY: see above: every tensor made on this device is allocated, used and freed
        // on the one stream of the thread that opened it.
        unsafe { cuda.disable_event_tracking() }
    }
}

#[cfg(not(feature = "cuda"))]
fn without_event_tracking(_device: &Device) {}

/// Makes the device's memory pool keep what a step frees for the next step.
///
/// cudarc allocates every tensor with `cuMemAllocAsync` from the device's default pool. That
/// pool's release threshold is 0 by default: at every synchronisation (one per decode step,
/// when the sampled tokens come back) it hands all freed memory back to the driver, and the
/// next step's few hundred allocations map it in again. With no threshold the activations of
/// one step are the buffers of the next: the reuse across steps a caching allocator gives,
/// done by the driver. The pool grows to the largest step's working set and no further (the
/// memory plan already reserves that).
#[cfg(feature = "cuda")]
fn keep_freed_memory(device: &Device) -> std::result::Result<(), String> {
    use candle_core::cuda_backend::cudarc::driver::sys;
    let Ok(cuda) = device.as_cuda_device() else {
        return Ok(());
    };
    let stream = cuda.cuda_stream();
    let context = stream.context();
    if !context.has_async_alloc() {
        return Ok(()); // cuMemAlloc, no pool: nothing to keep
    }
    context.bind_to_thread().map_err(|e| e.to_string())?;
    let mut pool: sys::CUmemoryPool = std::ptr::null_mut();
    let mut threshold: u64 = u64::MAX;
    // SAFETY: `pool` is written by the driver for this context's device; the attribute takes a
    // pointer to a u64, which `threshold` is, alive across the call.
    unsafe {
        sys::cuDeviceGetDefaultMemPool(&mut pool, context.cu_device())
            .result()
            .map_err(|e| format!("its default memory pool: {e}"))?;
        sys::cuMemPoolSetAttribute(
            pool,
            sys::CUmemPool_attribute::CU_MEMPOOL_ATTR_RELEASE_THRESHOLD,
            (&mut threshold as *mut u64).cast(),
        )
        .result()
        .map_err(|e| format!("its memory pool's release threshold: {e}"))?;
    }
    Ok(())
}

#[cfg(not(feature = "cuda"))]
fn keep_freed_memory(_device: &Device) -> std::result::Result<(), String> {
    Ok(())
}

#[cfg(feature = "cuda")]
fn gpu_memory_info(device: &Device) -> std::result::Result<(u64, u64), String> {
    let cuda = device.as_cuda_device().map_err(|e| e.to_string())?;
    let (free, total) = cuda
        .cuda_stream()
        .context()
        .mem_get_info()
        .map_err(|e| format!("{e:?}"))?;
    Ok((free as u64, total as u64))
}

#[cfg(not(feature = "cuda"))]
fn gpu_memory_info(_device: &Device) -> std::result::Result<(u64, u64), String> {
    Err("this lcb was built without CUDA".into())
}

/// The environment variables candle and rayon read, once, to size their CPU thread pools.
const CPU_THREAD_VARIABLES: [&str; 2] = ["CANDLE_NUM_THREADS", "RAYON_NUM_THREADS"];

/// Sets how many threads the CPU backend uses for matrix work, for the whole process.
///
/// candle and rayon size their thread pools once, at the first CPU tensor operation, from
/// `CANDLE_NUM_THREADS` and `RAYON_NUM_THREADS`; this sets both, so call it before loading a
/// model on the CPU and before the program starts other threads. Only speed depends on it:
/// the CPU kernels split work by rows, never inside a sum, so outputs are the same bit for bit
/// with any thread count.
pub fn set_cpu_threads(threads: usize) {
    let threads = threads.max(1).to_string();
    for name in CPU_THREAD_VARIABLES {
        std::env::set_var(name, &threads);
    }
}

/// The CPU threads to give generation when grading runs on the same cores: one per core but
/// one (at least one). candle's threads wait for each other, spinning, at every operation, so
/// a grading process on one of their cores stalls them all (`docs/benchmarks.md`).
pub fn cpu_threads_beside_grading() -> usize {
    std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .saturating_sub(1)
        .max(1)
}

/// The CPU thread count the environment already asks for (`CANDLE_NUM_THREADS`, else
/// `RAYON_NUM_THREADS`), if any.
pub fn cpu_threads_from_env() -> Option<usize> {
    CPU_THREAD_VARIABLES
        .iter()
        .find_map(|name| std::env::var(name).ok()?.trim().parse().ok())
        .filter(|&n: &usize| n > 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn devices_parse_and_print() {
        assert_eq!("cpu".parse::<DeviceSpec>().unwrap(), DeviceSpec::Cpu);
        assert_eq!("cuda:3".parse::<DeviceSpec>().unwrap(), DeviceSpec::Cuda(3));
        assert_eq!("cuda".parse::<DeviceSpec>().unwrap(), DeviceSpec::Cuda(0));
        assert_eq!(DeviceSpec::Cuda(2).to_string(), "cuda:2");
        assert_eq!(
            "tpu".parse::<DeviceSpec>().unwrap_err().to_string(),
            "unknown device `tpu` (expected cpu, cuda or cuda:N)"
        );
        assert!("cuda:x".parse::<DeviceSpec>().is_err());
        let list = |text: &str| text.parse::<DeviceList>();
        let two = list("cuda:2,cuda:3").unwrap();
        assert_eq!(*two, [DeviceSpec::Cuda(2), DeviceSpec::Cuda(3)]);
        assert_eq!(two.to_string(), "cuda:2,cuda:3");
        assert_eq!(
            list("cuda:2,cuda:2"),
            Err(DeviceError::Repeated {
                device: DeviceSpec::Cuda(2)
            })
        );
        assert_eq!(list("cpu,cuda:0"), Err(DeviceError::CpuWithOthers));
        assert_eq!(list(""), Err(DeviceError::Empty));
    }

    #[test]
    fn dtypes_parse_and_cpu_bf16_computes_in_f32() {
        assert_eq!(parse_dtype("bf16").unwrap(), DType::BF16);
        assert_eq!(parse_dtype("F32").unwrap(), DType::F32);
        assert_eq!(
            parse_dtype("Int8").unwrap_err().to_string(),
            "unknown dtype `Int8` (expected f32, bf16 or f16)"
        );
        assert_eq!(DeviceSpec::Cpu.compute_dtype(DType::BF16), DType::F32);
        assert_eq!(DeviceSpec::Cuda(0).compute_dtype(DType::BF16), DType::BF16);
        assert_eq!(dtype_name(DType::BF16), "bf16");
    }

    #[cfg(not(feature = "cuda"))]
    #[test]
    fn cuda_without_the_feature_is_a_clear_error() {
        let err = DeviceSpec::Cuda(0).open().unwrap_err().to_string();
        assert!(err.contains("--features cuda"), "{err}");
    }
}
