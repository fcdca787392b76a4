//! Energy over a measured window: the [`EnergyCounter`] seam (a board's cumulative energy
//! counter, as NVML's `nvmlDeviceGetTotalEnergyConsumption` gives it), and the arithmetic that
//! turns two readings into joules, watts and joules per unit of work.
//!
//! GPU counters update every 20–100 ms, so a window shorter than [`MIN_WINDOW_SECONDS`] is
//! reported as too short instead of as a wrong (often zero) figure; without a counter (CPU
//! runs, no driver) the fields say why they are absent. Never a silent zero.

use serde::Serialize;

/// Shortest window whose energy is reported: ten updates of the slowest counters.
pub const MIN_WINDOW_SECONDS: f64 = 1.0;

/// A cumulative energy counter (one device or the sum of several).
pub trait EnergyCounter: Send + Sync {
    /// Millijoules since some fixed point (the driver's load); only differences matter.
    fn total_millijoules(&self) -> Result<u64, String>;
}

/// Energy of a window, or why there is none.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum Energy {
    /// Measured.
    Measured {
        /// Joules over the window.
        joules: f64,
        /// Mean power, watts.
        average_watts: f64,
        /// The window, seconds.
        seconds: f64,
    },
    /// Not measured, and why.
    Unavailable {
        /// The reason, for the report.
        energy_unavailable: String,
    },
}

impl Energy {
    /// Absent with a reason.
    pub fn unavailable(reason: impl Into<String>) -> Self {
        Energy::Unavailable {
            energy_unavailable: reason.into(),
        }
    }

    /// Joules, when measured.
    pub fn joules(&self) -> Option<f64> {
        match self {
            Energy::Measured { joules, .. } => Some(*joules),
            Energy::Unavailable { .. } => None,
        }
    }

    /// Joules per `units` of work (output tokens, samples, solved problems), when measured and
    /// there was work.
    pub fn per(&self, units: u64) -> Option<f64> {
        self.joules()
            .filter(|_| units > 0)
            .map(|j| j / units as f64)
    }
}

/// A window opened by reading the counter once; [`EnergyWindow::finish`] reads it again.
pub struct EnergyWindow<'a> {
    counter: Option<&'a dyn EnergyCounter>,
    start: Result<u64, String>,
    started: std::time::Instant,
}

impl<'a> EnergyWindow<'a> {
    /// Opens a window (`None`: no counter on this machine, with `why_none` as the reason).
    pub fn start(counter: Option<&'a dyn EnergyCounter>, why_none: &str) -> Self {
        let start = match counter {
            Some(c) => c.total_millijoules(),
            None => Err(why_none.to_owned()),
        };
        EnergyWindow {
            counter,
            start,
            started: std::time::Instant::now(),
        }
    }

    /// Closes the window.
    pub fn finish(self) -> Energy {
        let seconds = self.started.elapsed().as_secs_f64();
        let end = match self.counter {
            Some(c) => c.total_millijoules(),
            None => Err(String::new()),
        };
        measure(self.start, end, seconds)
    }
}

/// Joules between two readings `seconds` apart.
pub fn measure(start: Result<u64, String>, end: Result<u64, String>, seconds: f64) -> Energy {
    let (start, end) = match (start, end) {
        (Ok(s), Ok(e)) => (s, e),
        (Err(e), _) | (_, Err(e)) => return Energy::unavailable(e),
    };
    if seconds < MIN_WINDOW_SECONDS {
        return Energy::unavailable(format!(
            "the window ({seconds:.3} s) is shorter than {MIN_WINDOW_SECONDS} s; energy counters \
             update every 20-100 ms, so a shorter window would be mostly rounding"
        ));
    }
    if end < start {
        return Energy::unavailable("the energy counter went backwards (driver reloaded?)");
    }
    if end == start {
        return Energy::unavailable(
            "the energy counter did not move during the window (it is not updating)",
        );
    }
    let joules = (end - start) as f64 / 1000.0;
    Energy::Measured {
        joules,
        average_watts: joules / seconds,
        seconds,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicU64, Ordering};

    /// A counter that advances by a fixed amount per reading.
    struct Fake {
        now: AtomicU64,
        step: u64,
    }

    impl EnergyCounter for Fake {
        fn total_millijoules(&self) -> Result<u64, String> {
            Ok(self.now.fetch_add(self.step, Ordering::SeqCst))
        }
    }

    #[test]
    fn joules_watts_and_per_unit() {
        let e = measure(Ok(10_000), Ok(310_000), 2.0);
        assert_eq!(
            e,
            Energy::Measured {
                joules: 300.0,
                average_watts: 150.0,
                seconds: 2.0
            }
        );
        assert_eq!(e.per(600), Some(0.5));
        assert_eq!(e.per(0), None);
        let json = serde_json::to_value(&e).unwrap();
        assert_eq!(json["joules"], 300.0);
        assert_eq!(json["average_watts"], 150.0);
    }

    #[test]
    fn short_stalled_backwards_and_missing_windows_say_why() {
        let reason = |e: Energy| match e {
            Energy::Unavailable { energy_unavailable } => energy_unavailable,
            other => panic!("{other:?}"),
        };
        assert!(reason(measure(Ok(0), Ok(5_000), 0.2)).contains("shorter than"));
        assert!(reason(measure(Ok(5), Ok(5), 3.0)).contains("did not move"));
        assert!(reason(measure(Ok(9), Ok(5), 3.0)).contains("backwards"));
        assert_eq!(
            reason(measure(Err("no NVML".into()), Ok(5), 3.0)),
            "no NVML"
        );
        assert_eq!(Energy::unavailable("x").per(10), None);
        let json = serde_json::to_value(Energy::unavailable("cpu run")).unwrap();
        assert_eq!(json["energy_unavailable"], "cpu run");
        assert!(json.get("joules").is_none());
    }

    #[test]
    fn a_window_reads_the_counter_at_both_ends() {
        let fake = Fake {
            now: AtomicU64::new(1_000),
            step: 250_000,
        };
        let window = EnergyWindow::start(Some(&fake), "");
        std::thread::sleep(std::time::Duration::from_millis(1010));
        match window.finish() {
            Energy::Measured {
                joules, seconds, ..
            } => {
                assert_eq!(joules, 250.0);
                assert!(seconds >= 1.0);
            }
            other => panic!("{other:?}"),
        }
        let none = EnergyWindow::start(None, "CPU: no energy counter").finish();
        assert_eq!(none, Energy::unavailable("CPU: no energy counter"));
    }
}
