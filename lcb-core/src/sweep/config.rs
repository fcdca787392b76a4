//! What a sweep runs: temperatures, samples, sampling settings, which questions.

use serde::{Deserialize, Serialize};

use crate::generator::Prompt;
use crate::problem::LcbProblem;
use crate::prompt::{model_input, PromptStyle};

/// The reference workload's temperatures.
pub const DEFAULT_TEMPERATURES: [f64; 16] = [
    0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0, 1.1, 1.2, 1.4, 1.5, 1.7, 2.0,
];

/// The reference workload's stop strings.
pub fn default_stop() -> Vec<String> {
    vec!["```\n```".into(), "```\n\n".into(), "\n\n\n".into()]
}

/// Settings that define a sweep's results: two runs with equal settings produce the same
/// files, and a results tree made with other settings is not mixed with this one.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SweepSettings {
    /// Model name (path or hub id).
    pub model: String,
    /// Temperatures to sample at.
    pub temperatures: Vec<f64>,
    /// Samples per (question, temperature).
    pub n: usize,
    /// Maximum new tokens per sample.
    pub max_tokens: usize,
    /// Stop strings.
    pub stop: Vec<String>,
    /// Nucleus mass.
    pub top_p: f32,
    /// Top-k (`None` = off).
    pub top_k: Option<usize>,
    /// Prompt style.
    pub prompt_style: PromptStyle,
    /// Qwen3 thinking mode in the chat template.
    pub thinking: bool,
    /// RNG seed.
    pub seed: u64,
    /// Skip questions solved greedily.
    pub skip_greedy_solved: bool,
}

impl SweepSettings {
    /// The model input for a problem under these settings: LCB's generic chat messages
    /// (thinking as set) or LCB's CodeQwen raw prompt.
    pub fn prompt_for(&self, problem: &LcbProblem) -> Prompt {
        model_input(problem, self.prompt_style, self.thinking)
    }
}

/// Which questions (dataset indices in benchmark order) to run.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum QuestionSelection {
    /// Every question.
    #[default]
    All,
    /// `start..end` (end exclusive).
    Range(usize, usize),
    /// An explicit list.
    List(Vec<usize>),
}

impl QuestionSelection {
    /// Parses `10..50` or `1,4,7`.
    pub fn parse(text: &str) -> Result<Self, String> {
        let bad = || format!("`{text}` is not a question range (10..50) or list (1,4,7)");
        if let Some((a, b)) = text.split_once("..") {
            let a: usize = a.trim().parse().map_err(|_| bad())?;
            let b: usize = b.trim().parse().map_err(|_| bad())?;
            if a >= b {
                return Err(format!(
                    "question range `{text}` is empty (end is exclusive)"
                ));
            }
            return Ok(QuestionSelection::Range(a, b));
        }
        let list = text
            .split(',')
            .map(|s| s.trim().parse::<usize>().map_err(|_| bad()))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(QuestionSelection::List(list))
    }

    /// The selected indices among `count` questions; out-of-range or repeated indices are
    /// an error (a question run twice at once would race with itself over its files).
    pub fn indices(&self, count: usize) -> Result<Vec<usize>, String> {
        let check = |i: usize| {
            if i < count {
                Ok(i)
            } else {
                Err(format!(
                    "question index {i} is out of range (the set has {count} questions)"
                ))
            }
        };
        match self {
            QuestionSelection::All => Ok((0..count).collect()),
            QuestionSelection::Range(a, b) => (*a..*b).map(check).collect(),
            QuestionSelection::List(list) => {
                let mut seen = std::collections::HashSet::new();
                list.iter()
                    .map(|&i| {
                        if seen.insert(i) {
                            check(i)
                        } else {
                            Err(format!("question index {i} is listed twice"))
                        }
                    })
                    .collect()
            }
        }
    }
}

/// Shard `index` of `count`: question `q` belongs to shard `q % count`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Shard {
    /// This shard, `0..count`.
    pub index: usize,
    /// Number of shards.
    pub count: usize,
}

impl Shard {
    /// Parses `I/N`.
    pub fn parse(text: &str) -> Result<Self, String> {
        let (i, n) = text
            .split_once('/')
            .ok_or_else(|| format!("`{text}` is not a shard of the form I/N (e.g. 0/4)"))?;
        let index: usize = i
            .trim()
            .parse()
            .map_err(|_| format!("shard index `{i}` is not a number"))?;
        let count: usize = n
            .trim()
            .parse()
            .map_err(|_| format!("shard count `{n}` is not a number"))?;
        if count == 0 || index >= count {
            return Err(format!(
                "shard {index}/{count} is out of range: need 0 <= I < N"
            ));
        }
        Ok(Shard { index, count })
    }

    /// Whether question `q` belongs to this shard.
    pub fn contains(&self, q: usize) -> bool {
        q % self.count == self.index
    }
}

/// Parses a comma-separated temperature list; each must be finite and in `[0, 10]`.
pub fn parse_temperatures(text: &str) -> Result<Vec<f64>, String> {
    let temps = text
        .split(',')
        .map(|s| {
            let t: f64 = s
                .trim()
                .parse()
                .map_err(|_| format!("`{}` is not a temperature", s.trim()))?;
            if !(0.0..=10.0).contains(&t) {
                return Err(format!("temperature {t} is outside [0, 10]"));
            }
            Ok(t)
        })
        .collect::<Result<Vec<_>, _>>()?;
    let mut seen = temps.clone();
    seen.sort_by(|a, b| a.total_cmp(b));
    if seen.windows(2).any(|w| w[0] == w[1]) {
        return Err(format!("temperature list `{text}` repeats a value"));
    }
    Ok(temps)
}

/// A temperature as the reference workflow writes it in file names: Python's `str(float)`
/// with `.` replaced by `_` (`0.5` → `0_5`, `1.0` → `1_0`).
pub fn temperature_label(t: f64) -> String {
    python_float(t).replace('.', "_")
}

/// Python's `str(float)`: the shortest digits that round-trip, in fixed notation with `.0`
/// kept for whole numbers when `1e-4 <= |t| < 1e16`, else in scientific notation with a
/// signed two-digit exponent (`1e-05`, `1.5e+16`), as CPython's `float_repr_style = 'short'`.
pub fn python_float(t: f64) -> String {
    if !t.is_finite() {
        return if t.is_nan() {
            "nan".into()
        } else if t > 0.0 {
            "inf".into()
        } else {
            "-inf".into()
        };
    }
    let magnitude = t.abs();
    if t == 0.0 || (1e-4..1e16).contains(&magnitude) {
        let s = format!("{t}");
        return if s.contains('.') { s } else { format!("{s}.0") };
    }
    // Rust's `{:e}` gives the same shortest digits: `1e-5`, `1.5e16`.
    let s = format!("{t:e}");
    let (mantissa, exponent) = s.split_once('e').expect("`{:e}` has an exponent");
    let exponent: i32 = exponent.parse().expect("`{:e}` exponents are integers");
    let sign = if exponent < 0 { '-' } else { '+' };
    format!("{mantissa}e{sign}{:02}", exponent.abs())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_match_the_reference_layout() {
        assert_eq!(temperature_label(0.5), "0_5");
        assert_eq!(temperature_label(1.0), "1_0");
        assert_eq!(temperature_label(2.0), "2_0");
        assert_eq!(temperature_label(0.1), "0_1");
        assert_eq!(temperature_label(1.7), "1_7");
    }

    #[test]
    fn floats_are_written_as_python_writes_them() {
        // Expected values are CPython 3.11's str(float).
        for (t, python) in [
            (0.0, "0.0"),
            (1.0, "1.0"),
            (0.1, "0.1"),
            (0.30000000000000004, "0.30000000000000004"),
            (2.5, "2.5"),
            (10.0, "10.0"),
            (0.0001, "0.0001"),
            (0.00001, "1e-05"),
            (0.000015, "1.5e-05"),
            (1e16, "1e+16"),
            (1.5e17, "1.5e+17"),
            (123456789012345.0, "123456789012345.0"),
            (-0.5, "-0.5"),
        ] {
            assert_eq!(python_float(t), python, "{t:?}");
        }
        assert_eq!(temperature_label(0.00001), "1e-05");
    }

    #[test]
    fn selections_and_shards() {
        assert_eq!(
            QuestionSelection::parse("2..5")
                .unwrap()
                .indices(10)
                .unwrap(),
            vec![2, 3, 4]
        );
        assert_eq!(
            QuestionSelection::parse("1, 7")
                .unwrap()
                .indices(10)
                .unwrap(),
            vec![1, 7]
        );
        assert!(QuestionSelection::parse("5..5").is_err());
        assert!(QuestionSelection::parse("a..b").is_err());
        assert!(QuestionSelection::parse("3,12")
            .unwrap()
            .indices(10)
            .is_err());
        let twice = QuestionSelection::parse("1,4,1")
            .unwrap()
            .indices(10)
            .unwrap_err();
        assert!(twice.contains("1 is listed twice"), "{twice}");
        let s = Shard::parse("1/3").unwrap();
        assert!(s.contains(1) && s.contains(4) && !s.contains(3));
        assert!(Shard::parse("3/3").is_err());
        assert!(Shard::parse("0/0").is_err());
        assert!(Shard::parse("x").is_err());
    }

    #[test]
    fn temperature_lists() {
        assert_eq!(
            parse_temperatures("0.1, 1.0,2").unwrap(),
            vec![0.1, 1.0, 2.0]
        );
        assert!(parse_temperatures("0.1,abc").is_err());
        assert!(parse_temperatures("-1").is_err());
        assert!(parse_temperatures("0.5,0.5").is_err());
        assert!(parse_temperatures("").is_err());
    }
}
