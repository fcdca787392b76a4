//! The energy counters of the GPUs an engine runs on, read through NVML
//! (`nvmlDeviceGetTotalEnergyConsumption`, millijoules since the driver loaded), summed over
//! the engine's devices. NVML is loaded at run time, so a build or a machine without the
//! NVIDIA driver works: the counter is then absent, with the reason.

use lcb_core::bench::energy::EnergyCounter;
use nvml_wrapper::Nvml;

use crate::device::DeviceSpec;

/// The summed energy counter of some NVIDIA GPUs.
pub struct NvmlCounter {
    nvml: Nvml,
    indices: Vec<u32>,
}

impl NvmlCounter {
    /// The counter of `devices`, or why there is none (CPU devices, no driver, a board
    /// without the counter). Reads it once, so a counter that cannot be read is refused now.
    pub fn for_devices(devices: &[DeviceSpec]) -> Result<Self, String> {
        let indices: Vec<u32> = devices
            .iter()
            .filter_map(|d| match d {
                DeviceSpec::Cuda(i) => Some(*i as u32),
                DeviceSpec::Cpu => None,
            })
            .collect();
        if indices.len() != devices.len() {
            return Err("no energy counter on the CPU (NVML measures NVIDIA GPUs only)".into());
        }
        let nvml = Nvml::init().map_err(|e| format!("NVML is not available: {e}"))?;
        let counter = NvmlCounter { nvml, indices };
        counter.total_millijoules()?;
        Ok(counter)
    }
}

impl EnergyCounter for NvmlCounter {
    fn total_millijoules(&self) -> Result<u64, String> {
        self.indices.iter().try_fold(0u64, |sum, &i| {
            let device = self
                .nvml
                .device_by_index(i)
                .map_err(|e| format!("NVML: cuda:{i}: {e}"))?;
            let mj = device
                .total_energy_consumption()
                .map_err(|e| format!("NVML: cuda:{i} has no energy counter: {e}"))?;
            Ok(sum + mj)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cpu_has_no_counter_and_says_so() {
        let err = NvmlCounter::for_devices(&[DeviceSpec::Cpu])
            .err()
            .expect("no counter on the CPU");
        assert!(err.contains("CPU"), "{err}");
    }
}
