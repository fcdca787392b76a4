//! Files of model outputs to grade (`lcb eval --samples`).
//!
//! Two formats are accepted:
//! * JSON Lines, one `{"question_id" | "task_id": str, "completion": str, ...}` per line, where
//!   `completion` is raw model output;
//! * the lcb_runner custom-evaluator JSON array `[{"question_id": str, "code_list": [str]}]`,
//!   whose code is used as given.

use std::path::Path;

use serde_json::{Map, Value};

use crate::error::{Error, Result};
use crate::extract::extract_code;
use crate::jsonl::{self, kind_of};
use crate::problem::Problem;

/// What a sample holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SampleText {
    /// Raw model output: LCB code is extracted from it; for HumanEval it is the completion.
    Completion(String),
    /// Final code, used as given (`code_list` input).
    Code(String),
}

/// One sample to grade, with the fields to echo in the results file.
#[derive(Debug, Clone)]
pub struct Sample {
    /// 1-based line (JSON Lines) or 1-based array element (code_list) it came from.
    pub line: usize,
    /// The problem id (`question_id` or `task_id`).
    pub problem_id: String,
    /// The fields written back with the verdict: the input object for JSON Lines, or
    /// `question_id`, `index` and `code` for code_list input.
    pub fields: Map<String, Value>,
    /// The output or code.
    pub text: SampleText,
}

impl Sample {
    /// The code to hand to the evaluator for `problem`: LCB extraction for raw completions of
    /// LCB problems, the text as is otherwise.
    pub fn code_for(&self, problem: &Problem) -> String {
        match (&self.text, problem) {
            (SampleText::Completion(raw), Problem::Lcb(_)) => extract_code(raw),
            (SampleText::Completion(text) | SampleText::Code(text), _) => text.clone(),
        }
    }
}

/// Reads a samples file in either format (detected from its first non-blank character).
pub fn read_samples(path: &Path) -> Result<Vec<Sample>> {
    let text = jsonl::read_to_string(path)?;
    if text.trim_start().starts_with('[') {
        read_code_list(path, &text)
    } else {
        read_jsonl(path)
    }
}

fn read_jsonl(path: &Path) -> Result<Vec<Sample>> {
    jsonl::read_objects(path)?
        .into_iter()
        .map(|record| {
            let id_field = if record.fields.contains_key("question_id") {
                "question_id"
            } else if record.fields.contains_key("task_id") {
                "task_id"
            } else {
                return Err(Error::field(
                    path,
                    record.line,
                    "question_id",
                    "missing (each line needs \"question_id\" or \"task_id\")",
                ));
            };
            let problem_id = id_string(path, record.line, id_field, &record.fields[id_field])?;
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

/// Ids are strings in both datasets; integers are accepted and turned into strings, as
/// lcb_runner's `str(question_id)` does.
fn id_string(path: &Path, line: usize, field: &str, value: &Value) -> Result<String> {
    match value {
        Value::String(s) => Ok(s.clone()),
        Value::Number(n) => Ok(n.to_string()),
        other => Err(Error::field(
            path,
            line,
            field,
            format!("expected a string, found {}", kind_of(other)),
        )),
    }
}

fn read_code_list(path: &Path, text: &str) -> Result<Vec<Sample>> {
    let items: Vec<Value> = serde_json::from_str(text).map_err(|e| Error::Json {
        path: path.to_owned(),
        line: e.line(),
        message: e.to_string(),
    })?;
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
                "question_id",
                format!("expected an object, found {}", kind_of(item)),
            ));
        };
        let id = match obj.get("question_id") {
            Some(v) => id_string(path, element, "question_id", v)
                .map_err(|e| err("question_id", e.to_string()))?,
            None => return Err(err("question_id", "missing".into())),
        };
        let Some(Value::Array(codes)) = obj.get("code_list") else {
            return Err(err(
                "code_list",
                "missing or not an array of strings".into(),
            ));
        };
        for (index, code) in codes.iter().enumerate() {
            let Value::String(code) = code else {
                return Err(err(
                    "code_list",
                    format!("item {index} is {}, not a string", kind_of(code)),
                ));
            };
            let mut fields = Map::new();
            fields.insert("question_id".into(), Value::String(id.clone()));
            fields.insert("index".into(), Value::from(index));
            fields.insert("code".into(), Value::String(code.clone()));
            samples.push(Sample {
                line: element,
                problem_id: id.clone(),
                fields,
                text: SampleText::Code(code.clone()),
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
        let s = read_samples(&p).unwrap();
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
        let s = read_samples(&p).unwrap();
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
        let err = read_samples(&p).unwrap_err().to_string();
        assert!(
            err.contains("s.jsonl:2: field `completion`: missing"),
            "{err}"
        );
        std::fs::write(&p, "{\"completion\": \"x\"}\n").unwrap();
        let err = read_samples(&p).unwrap_err().to_string();
        assert!(err.contains(":1: field `question_id`"), "{err}");
        std::fs::write(&p, r#"[{"question_id": "b", "code_list": [1]}]"#).unwrap();
        let err = read_samples(&p).unwrap_err().to_string();
        assert!(
            err.contains("element 1") && err.contains("code_list"),
            "{err}"
        );
    }
}
