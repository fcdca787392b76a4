//! What a sweep runs: temperatures, samples, sampling settings, which questions.

use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::generator::Prompt;
use crate::problem::Problem;
use crate::prompt::{prompt_for, PromptError, PromptOptions, PromptStyle};

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
    /// Code execution with chain of thought (`--cot`); absent from trees made without it.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub cot: bool,
    /// Self-repair: the finished code-generation tree whose failed samples are repaired (each
    /// sample of this tree is the repair of the same sample there, or that sample itself
    /// when it passed). Absent for every other scenario.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub repair_from: Option<String>,
}

impl SweepSettings {
    /// The model input for a problem under these settings, by its scenario: LCB's generic
    /// chat messages (thinking as set) or LCB's CodeQwen raw prompt.
    pub fn prompt_for(&self, problem: &Problem) -> Result<Prompt, PromptError> {
        prompt_for(
            problem,
            PromptOptions {
                style: self.prompt_style,
                thinking: self.thinking,
                cot: self.cot,
            },
        )
    }

    /// What is graded of `output` for `problem`: its scenario's extraction rule.
    pub fn extract(&self, problem: &Problem, output: &str) -> String {
        crate::extract::extract_for(problem, output, self.cot)
    }
}

/// Which questions (dataset indices in benchmark order) to run; parsed from `10..50` (end
/// exclusive) or `1,4,7`.
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

/// What is wrong with a question selection, or with applying it to a problem set.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum QuestionSelectionError {
    /// Neither `A..B` nor a comma list of indices.
    #[error("`{text}` is not a question range (10..50) or list (1,4,7)")]
    Malformed {
        /// The text as given.
        text: String,
    },
    /// `A..B` with `A >= B`.
    #[error("question range `{text}` is empty (end is exclusive)")]
    EmptyRange {
        /// The text as given.
        text: String,
    },
    /// An index past the end of the problem set.
    #[error("question index {index} is out of range (the set has {count} questions)")]
    OutOfRange {
        /// The index.
        index: usize,
        /// The number of questions in the set.
        count: usize,
    },
    /// An index listed more than once.
    #[error("question index {index} is listed twice")]
    Repeated {
        /// The index.
        index: usize,
    },
}

impl FromStr for QuestionSelection {
    type Err = QuestionSelectionError;

    /// Parses `10..50` or `1,4,7`.
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let malformed = || QuestionSelectionError::Malformed { text: text.into() };
        if let Some((a, b)) = text.split_once("..") {
            let a: usize = a.trim().parse().map_err(|_| malformed())?;
            let b: usize = b.trim().parse().map_err(|_| malformed())?;
            if a >= b {
                return Err(QuestionSelectionError::EmptyRange { text: text.into() });
            }
            return Ok(QuestionSelection::Range(a, b));
        }
        let list = text
            .split(',')
            .map(|s| s.trim().parse::<usize>().map_err(|_| malformed()))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(QuestionSelection::List(list))
    }
}

impl QuestionSelection {
    /// The selected indices among `count` questions; out-of-range or repeated indices are
    /// an error (a question run twice at once would race with itself over its files).
    pub fn indices(&self, count: usize) -> Result<Vec<usize>, QuestionSelectionError> {
        let check = |index: usize| {
            if index < count {
                Ok(index)
            } else {
                Err(QuestionSelectionError::OutOfRange { index, count })
            }
        };
        match self {
            QuestionSelection::All => Ok((0..count).collect()),
            QuestionSelection::Range(a, b) => (*a..*b).map(check).collect(),
            QuestionSelection::List(list) => {
                let mut seen = std::collections::HashSet::new();
                list.iter()
                    .map(|&index| {
                        if seen.insert(index) {
                            check(index)
                        } else {
                            Err(QuestionSelectionError::Repeated { index })
                        }
                    })
                    .collect()
            }
        }
    }
}

/// Shard `index` of `count`: question `q` belongs to shard `q % count`. Parsed from `I/N`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Shard {
    /// This shard, `0..count`.
    pub index: usize,
    /// Number of shards.
    pub count: usize,
}

/// What is wrong with a shard's `I/N`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ShardError {
    /// No `/`.
    #[error("`{text}` is not a shard of the form I/N (e.g. 0/4)")]
    Malformed {
        /// The text as given.
        text: String,
    },
    /// `I` is not a number.
    #[error("shard index `{index}` is not a number")]
    Index {
        /// The text of `I`.
        index: String,
    },
    /// `N` is not a number.
    #[error("shard count `{count}` is not a number")]
    Count {
        /// The text of `N`.
        count: String,
    },
    /// `N` is 0 or `I >= N`.
    #[error("shard {index}/{count} is out of range: need 0 <= I < N")]
    OutOfRange {
        /// `I`.
        index: usize,
        /// `N`.
        count: usize,
    },
}

impl FromStr for Shard {
    type Err = ShardError;

    /// Parses `I/N`.
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let (i, n) = text
            .split_once('/')
            .ok_or_else(|| ShardError::Malformed { text: text.into() })?;
        let index: usize = i
            .trim()
            .parse()
            .map_err(|_| ShardError::Index { index: i.into() })?;
        let count: usize = n
            .trim()
            .parse()
            .map_err(|_| ShardError::Count { count: n.into() })?;
        if count == 0 || index >= count {
            return Err(ShardError::OutOfRange { index, count });
        }
        Ok(Shard { index, count })
    }
}

impl Shard {
    /// Whether question `q` belongs to this shard.
    pub fn contains(&self, q: usize) -> bool {
        q % self.count == self.index
    }
}

/// A comma-separated list of temperatures (`0.1,0.5,1.0`), each finite and in `[0, 10]`,
/// none repeated.
#[derive(Debug, Clone, PartialEq)]
pub struct TemperatureList(pub Vec<f64>);

/// What is wrong with a temperature list.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum TemperatureError {
    /// An item is not a number.
    #[error("`{item}` is not a temperature")]
    NotANumber {
        /// The item, trimmed.
        item: String,
    },
    /// A temperature outside `[0, 10]` (or not finite).
    #[error("temperature {value} is outside [0, 10]")]
    OutOfRange {
        /// The temperature.
        value: f64,
    },
    /// The same temperature twice.
    #[error("temperature list `{text}` repeats a value")]
    Repeated {
        /// The list as given.
        text: String,
    },
}

impl FromStr for TemperatureList {
    type Err = TemperatureError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let temps = text
            .split(',')
            .map(|s| {
                let item = s.trim();
                let t: f64 = item
                    .parse()
                    .map_err(|_| TemperatureError::NotANumber { item: item.into() })?;
                if !(0.0..=10.0).contains(&t) {
                    return Err(TemperatureError::OutOfRange { value: t });
                }
                Ok(t)
            })
            .collect::<Result<Vec<_>, _>>()?;
        let mut seen = temps.clone();
        seen.sort_by(|a, b| a.total_cmp(b));
        if seen.windows(2).any(|w| w[0] == w[1]) {
            return Err(TemperatureError::Repeated { text: text.into() });
        }
        Ok(TemperatureList(temps))
    }
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

    fn selection(text: &str) -> Result<QuestionSelection, QuestionSelectionError> {
        text.parse()
    }

    #[test]
    fn selections_and_shards() {
        assert_eq!(
            selection("2..5").unwrap().indices(10).unwrap(),
            vec![2, 3, 4]
        );
        assert_eq!(selection("1, 7").unwrap().indices(10).unwrap(), vec![1, 7]);
        assert_eq!(
            selection("5..5").unwrap_err(),
            QuestionSelectionError::EmptyRange {
                text: "5..5".into()
            }
        );
        let malformed = selection("a..b").unwrap_err();
        assert_eq!(
            malformed.to_string(),
            "`a..b` is not a question range (10..50) or list (1,4,7)"
        );
        assert_eq!(
            selection("3,12")
                .unwrap()
                .indices(10)
                .unwrap_err()
                .to_string(),
            "question index 12 is out of range (the set has 10 questions)"
        );
        let twice = selection("1,4,1").unwrap().indices(10).unwrap_err();
        assert!(twice.to_string().contains("1 is listed twice"), "{twice}");
        let s: Shard = "1/3".parse().unwrap();
        assert!(s.contains(1) && s.contains(4) && !s.contains(3));
        assert_eq!(
            "3/3".parse::<Shard>().unwrap_err(),
            ShardError::OutOfRange { index: 3, count: 3 }
        );
        assert!("0/0".parse::<Shard>().is_err());
        assert_eq!(
            "x".parse::<Shard>().unwrap_err().to_string(),
            "`x` is not a shard of the form I/N (e.g. 0/4)"
        );
        assert_eq!(
            "a/2".parse::<Shard>().unwrap_err().to_string(),
            "shard index `a` is not a number"
        );
    }

    #[test]
    fn temperature_lists() {
        let parse = |text: &str| text.parse::<TemperatureList>().map(|l| l.0);
        assert_eq!(parse("0.1, 1.0,2").unwrap(), vec![0.1, 1.0, 2.0]);
        assert_eq!(
            parse("0.1,abc").unwrap_err().to_string(),
            "`abc` is not a temperature"
        );
        assert_eq!(
            parse("-1").unwrap_err(),
            TemperatureError::OutOfRange { value: -1.0 }
        );
        assert_eq!(
            parse("0.5,0.5").unwrap_err().to_string(),
            "temperature list `0.5,0.5` repeats a value"
        );
        assert!(parse("").is_err());
    }
}
