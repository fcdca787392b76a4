//! Files of model outputs to grade (`lcb eval --samples`).
//!
//! Two formats are accepted, with the keys of the scenario's problems:
//! * JSON Lines, one object per line with the problem's keys and `"completion"`, raw model
//!   output extracted by the scenario's rule: `question_id` or `task_id` (code generation,
//!   self-repair), `id` (code execution), `question_id` + `test_id` (test output prediction);
//! * lcb_runner's custom-evaluator JSON array, entries used as given:
//!   `[{"question_id", "code_list": [str]}]` (code generation, self-repair),
//!   `[{"id", "pred_list": [str]}]` (code execution),
//!   `[{"question_id", "test_id", "pred_list": [str]}]` (test output prediction).

use std::path::Path;

use serde_json::{Map, Value};

use crate::error::{Error, Result};
use crate::jsonl::{self, kind_of};
use crate::problem::Problem;
use crate::scenario::Scenario;

/// What a sample holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SampleText {
    /// Raw model output: the scenario's rule extracts what is graded; for HumanEval it is the
    /// completion.
    Completion(String),
    /// Final code or prediction, used as given (`code_list` / `pred_list` input).
    Code(String),
}

/// One sample to grade, with the fields to echo in the results file.
#[derive(Debug, Clone)]
pub struct Sample {
    /// 1-based line (JSON Lines) or 1-based array element (code_list) it came from.
    pub line: usize,
    /// The problem id ([`Problem::id`]: `question_id`, `task_id`, `id`, or
    /// `question_id/test_id`).
    pub problem_id: String,
    /// The fields written back with the verdict: the input object for JSON Lines, or the
    /// entry's keys, `index` and `code` / `pred` for list input.
    pub fields: Map<String, Value>,
    /// The output or code.
    pub text: SampleText,
}

impl Sample {
    /// What to hand to the evaluator for `problem`: the scenario's extraction of a raw
    /// completion (`cot`: code execution's chain-of-thought rule), the text as given otherwise.
    pub fn code_for(&self, problem: &Problem, cot: bool) -> String {
        match &self.text {
            SampleText::Completion(raw) => crate::extract::extract_for(problem, raw, cot),
            SampleText::Code(text) => text.clone(),
        }
    }
}

/// Reads a samples file of `scenario` in either format (detected from its first non-blank
/// character).
pub fn read_samples(path: &Path, scenario: Scenario) -> Result<Vec<Sample>> {
    let text = jsonl::read_to_string(path)?;
    if text.trim_start().starts_with('[') {
        read_lists(path, &text, scenario)
    } else {
        read_jsonl(path, scenario)
    }
}

/// The problem id a sample names with `fields`, or a message for the field that is wrong.
/// `line` is what errors cite (a line, or an array element).
fn problem_id(
    fields: &Map<String, Value>,
    scenario: Scenario,
    at: &dyn Fn(&str, String) -> Error,
) -> Result<String> {
    let get = |field: &str| match fields.get(field) {
        Some(v) => id_text(v).map_err(|m| at(field, m)),
        None => Err(at(field, "missing".into())),
    };
    match scenario {
        Scenario::CodeGeneration | Scenario::SelfRepair => {
            if fields.contains_key("question_id") {
                get("question_id")
            } else if fields.contains_key("task_id") {
                get("task_id")
            } else {
                Err(at(
                    "question_id",
                    "missing (each sample needs \"question_id\" or \"task_id\")".into(),
                ))
            }
        }
        Scenario::CodeExecution => get("id"),
        Scenario::TestOutputPrediction => {
            Ok(format!("{}/{}", get("question_id")?, get("test_id")?))
        }
    }
}

fn read_jsonl(path: &Path, scenario: Scenario) -> Result<Vec<Sample>> {
    jsonl::read_objects(path)?
        .into_iter()
        .map(|record| {
            let at = |field: &str, message: String| Error::field(path, record.line, field, message);
            let problem_id = problem_id(&record.fields, scenario, &at)?;
            let completion = record.str_field(path, "completion")?.to_owned();
            Ok(Sample {
                line: record.line,
                problem_id,
                fields: record.fields,
                text: SampleText::Completion(completion),
            })
        })
        .collect()
}

/// Ids are strings or integers in the datasets; integers are turned into strings, as
/// lcb_runner's `str(question_id)` does.
fn id_text(value: &Value) -> std::result::Result<String, String> {
    match value {
        Value::String(s) => Ok(s.clone()),
        Value::Number(n) => Ok(n.to_string()),
        other => Err(format!("expected a string, found {}", kind_of(other))),
    }
}

fn read_lists(path: &Path, text: &str, scenario: Scenario) -> Result<Vec<Sample>> {
    let items: Vec<Value> = serde_json::from_str(text).map_err(|e| Error::Json {
        path: path.to_owned(),
        line: e.line(),
        message: e.to_string(),
    })?;
    let (list_field, item_field, keys): (&str, &str, &[&str]) = match scenario {
        Scenario::CodeGeneration | Scenario::SelfRepair => ("code_list", "code", &["question_id"]),
        Scenario::CodeExecution => ("pred_list", "pred", &["id"]),
        Scenario::TestOutputPrediction => ("pred_list", "pred", &["question_id", "test_id"]),
    };
    let mut samples = Vec::new();
    for (i, item) in items.iter().enumerate() {
        let element = i + 1;
        let err = |field: &str, message: String| {
            Error::Invalid(format!(
                "{}: element {element} of the array: field `{field}`: {message}",
                path.display()
            ))
        };
        let Value::Object(obj) = item else {
            return Err(err(
                keys[0],
                format!("expected an object, found {}", kind_of(item)),
            ));
        };
        let id = problem_id(obj, scenario, &err)?;
        let Some(Value::Array(entries)) = obj.get(list_field) else {
            return Err(err(list_field, "missing or not an array of strings".into()));
        };
        for (index, entry) in entries.iter().enumerate() {
            let Value::String(entry) = entry else {
                return Err(err(
                    list_field,
                    format!("item {index} is {}, not a string", kind_of(entry)),
                ));
            };
            let mut fields = Map::new();
            // The keys the entry named its problem with (`task_id` stands in for
            // `question_id`).
            for key in keys.iter().chain(&["task_id"]) {
                if let Some(value) = obj.get(*key) {
                    fields.insert((*key).into(), value.clone());
                }
            }
            fields.insert("index".into(), Value::from(index));
            fields.insert(item_field.into(), Value::String(entry.clone()));
            samples.push(Sample {
                line: element,
                problem_id: id.clone(),
                fields,
                text: SampleText::Code(entry.clone()),
            });
        }
    }
    if samples.is_empty() {
        return Err(Error::Empty {
            path: path.to_owned(),
        });
    }
    Ok(samples)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_jsonl_with_either_id_field() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("s.jsonl");
        std::fs::write(
            &p,
            "{\"question_id\": \"a\", \"completion\": \"x\", \"extra\": 1}\n{\"task_id\": \"T/0\", \"completion\": \"y\"}\n",
        )
        .unwrap();
        let s = read_samples(&p, Scenario::CodeGeneration).unwrap();
        assert_eq!(s[0].problem_id, "a");
        assert_eq!(s[0].fields["extra"], 1);
        assert_eq!(s[1].problem_id, "T/0");
        assert_eq!(s[1].text, SampleText::Completion("y".into()));
    }

    #[test]
    fn reads_code_list_arrays() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("s.json");
        std::fs::write(&p, r#"[{"question_id": "b", "code_list": ["print(1)", "print(2)"]}, {"question_id": 7, "code_list": []}]"#).unwrap();
        let s = read_samples(&p, Scenario::CodeGeneration).unwrap();
        assert_eq!(s.len(), 2);
        assert_eq!(s[1].fields["index"], 1);
        assert_eq!(s[1].text, SampleText::Code("print(2)".into()));
    }

    #[test]
    fn errors_name_the_line_and_field() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("s.jsonl");
        std::fs::write(
            &p,
            "{\"question_id\": \"a\", \"completion\": \"x\"}\n{\"question_id\": \"a\"}\n",
        )
        .unwrap();
        let err = read_samples(&p, Scenario::CodeGeneration)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("s.jsonl:2: field `completion`: missing"),
            "{err}"
        );
        std::fs::write(&p, "{\"completion\": \"x\"}\n").unwrap();
        let err = read_samples(&p, Scenario::CodeGeneration)
            .unwrap_err()
            .to_string();
        assert!(err.contains(":1: field `question_id`"), "{err}");
        std::fs::write(&p, r#"[{"task_id": "T/1", "code_list": ["x"]}]"#).unwrap();
        let s = read_samples(&p, Scenario::CodeGeneration).unwrap();
        assert_eq!(s[0].problem_id, "T/1");
        assert_eq!(s[0].fields["task_id"], "T/1");
        std::fs::write(&p, r#"[{"question_id": "b", "code_list": [1]}]"#).unwrap();
        let err = read_samples(&p, Scenario::CodeGeneration)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("element 1") && err.contains("code_list"),
            "{err}"
        );
    }
}
