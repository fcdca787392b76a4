//! Where a decode step's time goes: each phase of the forward pass (q/k/v, cache write,
//! attention over a sample's own tokens and over its prompt, output projection, MLP, output
//! layer) timed on its own, the device synchronised before and after it, summed over steps.
//!
//! Synchronising serialises what a GPU would overlap and adds a round trip per phase, so the
//! phases add up to more than an untimed step: the split says which phase to work on, the
//! untimed step says how fast the engine is. `lcb bench --time-phases` runs it on a
//! random-weight model ([`time_decode_steps`]).

use std::sync::Mutex;
use std::time::{Duration, Instant};

use candle_core::{DType, Device};

use super::step_fixture::{DecodeStepFixture, StepShape};
use crate::config::Qwen3Config;
use crate::error::Result;
use crate::sampling::sample_tensor_rows;

/// Time per phase, in the order phases first ran.
#[derive(Debug)]
pub struct PhaseClock {
    device: Device,
    totals: Mutex<Vec<(&'static str, Duration, usize)>>,
}

impl PhaseClock {
    /// A clock for the work of `device`.
    pub fn new(device: &Device) -> Self {
        PhaseClock {
            device: device.clone(),
            totals: Mutex::new(Vec::new()),
        }
    }

    /// Runs `f` as phase `name`: the device synchronised before (so earlier work is not
    /// counted) and after (so its own is).
    pub fn time<T>(&self, name: &'static str, f: impl FnOnce() -> Result<T>) -> Result<T> {
        self.device.synchronize()?;
        let start = Instant::now();
        let out = f()?;
        self.device.synchronize()?;
        self.add(name, start.elapsed());
        Ok(out)
    }

    fn add(&self, name: &'static str, took: Duration) {
        let mut totals = self.totals.lock().unwrap_or_else(|e| e.into_inner());
        match totals.iter_mut().find(|(n, _, _)| *n == name) {
            Some((_, total, count)) => {
                *total += took;
                *count += 1;
            }
            None => totals.push((name, took, 1)),
        }
    }

    /// Each phase's total time and how many times it ran.
    pub fn totals(&self) -> Vec<(&'static str, Duration, usize)> {
        self.totals
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Forgets the times so far.
    pub fn reset(&self) {
        self.totals
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clear();
    }
}

/// What [`time_decode_steps`] measured, per step.
#[derive(Debug, Clone)]
pub struct StepTimes {
    /// An untimed step (forward and sampling): the median of the steps.
    pub step: Duration,
    /// Each phase's time per step (the mean over the timed steps), in the order they run.
    pub phases: Vec<(&'static str, Duration)>,
}

/// Times decode steps of `shape` through a random-weight model of shape `cfg` on `device`:
/// one warm-up step, then `steps` untimed steps for the step's time and `steps` with every
/// phase timed. Sampling is a phase of its own.
pub fn time_decode_steps(
    cfg: &Qwen3Config,
    dtype: DType,
    device: &Device,
    shape: StepShape,
    steps: usize,
) -> Result<StepTimes> {
    let mut fixture = DecodeStepFixture::new(cfg, dtype, device, shape)?;
    let steps = steps.max(1);
    let run = |fixture: &DecodeStepFixture| -> Result<()> {
        let logits = fixture.forward()?;
        let sample = || sample_tensor_rows(&logits, &fixture.params, &fixture.keys);
        match fixture.model.phase_clock() {
            Some(clock) => clock.time("sampling", sample)?,
            None => sample()?,
        };
        Ok(())
    };
    run(&fixture)?;
    let mut untimed = Vec::with_capacity(steps);
    for _ in 0..steps {
        device.synchronize()?;
        let start = Instant::now();
        run(&fixture)?;
        device.synchronize()?;
        untimed.push(start.elapsed());
    }
    untimed.sort();
    fixture.model.time_phases(true);
    for _ in 0..steps {
        run(&fixture)?;
    }
    let clock = fixture.model.phase_clock().expect("timing was switched on");
    let phases = clock
        .totals()
        .into_iter()
        .map(|(name, total, _)| (name, total / steps as u32))
        .collect();
    Ok(StepTimes {
        step: untimed[untimed.len() / 2],
        phases,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_clock_sums_each_phase_in_order() {
        let clock = PhaseClock::new(&Device::Cpu);
        for _ in 0..3 {
            clock
                .time("b", || {
                    std::thread::sleep(Duration::from_millis(2));
                    Ok(())
                })
                .unwrap();
            clock.time("a", || Ok(())).unwrap();
        }
        let totals = clock.totals();
        let names: Vec<_> = totals.iter().map(|(n, _, c)| (*n, *c)).collect();
        assert_eq!(names, [("b", 3), ("a", 3)]);
        assert!(totals[0].1 >= Duration::from_millis(6));
        // An error inside a phase is passed on and the phase not counted.
        let failed: Result<()> = clock.time("c", || Err(crate::error::Error::Invalid("x".into())));
        assert!(failed.is_err());
        assert_eq!(clock.totals().len(), 2);
        clock.reset();
        assert!(clock.totals().is_empty());
    }
}
