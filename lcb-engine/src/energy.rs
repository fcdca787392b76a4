//! The energy counters of the GPUs an engine runs on, read through NVML
//! (`nvmlDeviceGetTotalEnergyConsumption`, millijoules since the driver loaded), summed over
//! the engine's boards (each once; `cuda:N` mapped through `CUDA_VISIBLE_DEVICES`). NVML is loaded at run time, so a build or a machine without the
//! NVIDIA driver works: the counter is then absent, with the reason.

use lcb_core::bench::energy::EnergyCounter;
use nvml_wrapper::Nvml;

use crate::device::DeviceSpec;

/// The summed energy counter of some NVIDIA GPUs.
pub struct NvmlCounter {
    nvml: Nvml,
    boards: Vec<Board>,
}

/// How NVML finds the board behind a `cuda:N` (NVML numbers every board of the machine; CUDA
/// numbers the ones `CUDA_VISIBLE_DEVICES` lets it see).
#[derive(Debug, Clone, PartialEq, Eq)]
enum Board {
    Index(u32),
    Uuid(String),
}

/// The boards behind `cuda` indices: the `CUDA_VISIBLE_DEVICES` entry at each index (a
/// physical index or a `GPU-…` UUID) when it is set, else the index itself; each board once.
fn boards(cuda: &[usize], visible: Option<&str>) -> Result<Vec<Board>, String> {
    let visible: Option<Vec<&str>> = visible.map(|v| {
        v.split(',')
            .map(str::trim)
            .filter(|e| !e.is_empty())
            .collect()
    });
    let mut boards = Vec::new();
    for &i in cuda {
        let board = match &visible {
            None => Board::Index(i as u32),
            Some(list) => {
                let entry = list.get(i).ok_or_else(|| {
                    format!(
                        "cuda:{i} is not among CUDA_VISIBLE_DEVICES ({})",
                        list.join(",")
                    )
                })?;
                match entry.parse::<u32>() {
                    Ok(n) => Board::Index(n),
                    Err(_) if entry.starts_with("GPU-") => Board::Uuid((*entry).to_owned()),
                    Err(_) => {
                        return Err(format!(
                            "CUDA_VISIBLE_DEVICES entry `{entry}` names no board NVML can find \
                             (MIG instances have no energy counter of their own)"
                        ))
                    }
                }
            }
        };
        if !boards.contains(&board) {
            boards.push(board);
        }
    }
    Ok(boards)
}

impl NvmlCounter {
    /// The counter of `devices`, or why there is none (CPU devices, no driver, a board
    /// without the counter). Reads it once, so a counter that cannot be read is refused now.
    pub fn for_devices(devices: &[DeviceSpec]) -> Result<Self, String> {
        let cuda: Vec<usize> = devices
            .iter()
            .filter_map(|d| match d {
                DeviceSpec::Cuda(i) => Some(*i),
                DeviceSpec::Cpu => None,
            })
            .collect();
        if cuda.len() != devices.len() {
            return Err("no energy counter on the CPU (NVML measures NVIDIA GPUs only)".into());
        }
        let visible = std::env::var("CUDA_VISIBLE_DEVICES").ok();
        let boards = boards(&cuda, visible.as_deref())?;
        let nvml = Nvml::init().map_err(|e| format!("NVML is not available: {e}"))?;
        let counter = NvmlCounter { nvml, boards };
        counter.total_millijoules()?;
        Ok(counter)
    }
}

impl EnergyCounter for NvmlCounter {
    fn total_millijoules(&self) -> Result<u64, String> {
        self.boards.iter().try_fold(0u64, |sum, board| {
            let device = match board {
                Board::Index(i) => self.nvml.device_by_index(*i),
                Board::Uuid(uuid) => self.nvml.device_by_uuid(uuid.as_str()),
            }
            .map_err(|e| format!("NVML: board {board:?}: {e}"))?;
            let mj = device
                .total_energy_consumption()
                .map_err(|e| format!("NVML: board {board:?} has no energy counter: {e}"))?;
            Ok(sum + mj)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cuda_indices_map_through_cuda_visible_devices_to_boards_once_each() {
        assert_eq!(
            boards(&[0, 1], None).unwrap(),
            [Board::Index(0), Board::Index(1)]
        );
        // Slurm gave this task the fourth and second boards.
        assert_eq!(
            boards(&[0, 1], Some("3,1")).unwrap(),
            [Board::Index(3), Board::Index(1)]
        );
        assert_eq!(
            boards(&[0, 0], Some("GPU-abc")).unwrap(),
            [Board::Uuid("GPU-abc".into())]
        );
        assert!(boards(&[2], Some("0,1")).unwrap_err().contains("cuda:2"));
        assert!(boards(&[0], Some("MIG-xyz")).unwrap_err().contains("MIG"));
    }

    #[test]
    fn the_cpu_has_no_counter_and_says_so() {
        let err = NvmlCounter::for_devices(&[DeviceSpec::Cpu])
            .err()
            .expect("no counter on the CPU");
        assert!(err.contains("CPU"), "{err}");
    }
}
