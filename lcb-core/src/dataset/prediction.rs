//! Parsing the rows of LiveCodeBench's two prediction scenarios: `livecodebench/execution-v2`
//! (code execution) and `livecodebench/test_generation` (test output prediction).
//!
//! Rows come as the hub stores them or as a JSON export of it: `question_id` and `test_id`
//! may be integers, `problem_id` a list, `contest_date` an ISO date-time string or epoch
//! milliseconds (how a timestamp column is written to JSON). Every error names the file, the
//! row's line and the field.

use std::path::Path;

use serde_json::Value;

use crate::error::{Error, Result};
use crate::jsonl::{kind_of, Record};
use crate::problem::{ExecutionProblem, TestOutputProblem};

/// Whether `record` looks like an `execution-v2` row (a function, a call and its output).
pub fn is_execution_row(record: &Record) -> bool {
    ["code", "input", "output", "function_name"]
        .iter()
        .all(|f| record.fields.contains_key(*f))
}

/// Whether `record` looks like a `test_generation` row (a test and its id beside a question).
pub fn is_test_output_row(record: &Record) -> bool {
    record.fields.contains_key("test") && record.fields.contains_key("test_id")
}

/// Parses one `execution-v2` row.
pub fn parse_execution_row(path: &Path, record: &Record) -> Result<ExecutionProblem> {
    let s = |name: &str| record.str_field(path, name).map(str::to_owned);
    let id = s("id")?;
    let number = id.split('_').nth(1).map(|n| n.trim().parse::<i64>());
    if !matches!(number, Some(Ok(_))) {
        return Err(Error::field(
            path,
            record.line,
            "id",
            format!(
                "`{id}` is not of the form sample_<number> (lcb_runner orders rows by that number)"
            ),
        ));
    }
    Ok(ExecutionProblem {
        question_id: text_or_integer(path, record, "question_id")?,
        contest_id: text_or_integer(path, record, "contest_id")?,
        contest_date: contest_date(path, record)?,
        difficulty: s("difficulty")?,
        function_name: s("function_name")?,
        code: s("code")?,
        input: s("input")?,
        output: s("output")?,
        id,
        problem_id: record
            .fields
            .get("problem_id")
            .cloned()
            .ok_or_else(|| Error::field(path, record.line, "problem_id", "missing"))?,
        numsteps: integer(path, record, "numsteps")?,
    })
}

/// Parses one `test_generation` row.
pub fn parse_test_output_row(path: &Path, record: &Record) -> Result<TestOutputProblem> {
    let s = |name: &str| record.str_field(path, name).map(str::to_owned);
    let field_err = |name: &str, message: String| Error::field(path, record.line, name, message);
    let tests = super::lcb::parse_tests(&s("test")?).map_err(|m| field_err("test", m))?;
    if tests.is_empty() {
        return Err(field_err(
            "test",
            "holds no test (the prompt uses the first)".into(),
        ));
    }
    let starter_code = s("starter_code")?;
    let starter_function =
        starter_function(&starter_code).map_err(|m| field_err("starter_code", m))?;
    let question_id = text_or_integer(path, record, "question_id")?;
    let test_id = integer(path, record, "test_id")?;
    Ok(TestOutputProblem {
        id: format!("{question_id}/{test_id}"),
        question_title: s("question_title")?,
        question_content: s("question_content")?,
        question_id,
        contest_id: text_or_integer(path, record, "contest_id")?,
        contest_date: contest_date(path, record)?,
        difficulty: s("difficulty")?,
        tests,
        starter_code,
        function_name: s("function_name")?,
        starter_function,
        test_id,
    })
}

/// The one function `def`ined in `starter_code`, as lcb_runner's
/// `parse_function_name_from_starter_code` finds it with `ast.walk` (which asserts there is
/// exactly one). The dataset's stubs are one `def` each; lcb reads the name from the `def`
/// lines rather than running a Python parser on the host.
pub fn starter_function(starter_code: &str) -> std::result::Result<String, String> {
    let names: Vec<&str> = starter_code
        .lines()
        .filter_map(|line| {
            let rest = line.trim_start();
            let rest = rest.strip_prefix("async ").unwrap_or(rest);
            let rest = rest.strip_prefix("def ")?;
            let end = rest.find('(')?;
            Some(rest[..end].trim())
        })
        .collect();
    match names.as_slice() {
        [one] if !one.is_empty() => Ok((*one).to_owned()),
        [] => Err("defines no function (lcb_runner names the function from its `def`)".into()),
        many => Err(format!(
            "defines {} functions ({}); lcb_runner requires exactly one",
            many.len(),
            many.join(", ")
        )),
    }
}

fn text_or_integer(path: &Path, record: &Record, name: &str) -> Result<String> {
    match record.fields.get(name) {
        Some(Value::String(s)) => Ok(s.clone()),
        Some(Value::Number(n)) if n.is_i64() || n.is_u64() => Ok(n.to_string()),
        Some(other) => Err(Error::field(
            path,
            record.line,
            name,
            format!("expected a string or an integer, found {}", kind_of(other)),
        )),
        None => Err(Error::field(path, record.line, name, "missing")),
    }
}

fn integer(path: &Path, record: &Record, name: &str) -> Result<i64> {
    match record.fields.get(name) {
        Some(Value::Number(n)) if n.is_i64() => Ok(n.as_i64().expect("checked")),
        Some(Value::String(s)) if s.trim().parse::<i64>().is_ok() => {
            Ok(s.trim().parse().expect("checked"))
        }
        Some(other) => Err(Error::field(
            path,
            record.line,
            name,
            format!("expected an integer, found {}", kind_of(other)),
        )),
        None => Err(Error::field(path, record.line, name, "missing")),
    }
}

/// `contest_date` as ISO text: kept as written, or converted from epoch milliseconds.
fn contest_date(path: &Path, record: &Record) -> Result<String> {
    let err = |message: String| Error::field(path, record.line, "contest_date", message);
    match record.fields.get("contest_date") {
        Some(Value::String(text)) => {
            super::selection::parse_contest_date(text).map_err(|e| err(e.to_string()))?;
            Ok(text.clone())
        }
        Some(Value::Number(n)) => n
            .as_i64()
            .and_then(chrono::DateTime::from_timestamp_millis)
            .map(|d| d.naive_utc().format("%Y-%m-%dT%H:%M:%S").to_string())
            .ok_or_else(|| err(format!("{n} is not a timestamp in milliseconds"))),
        Some(other) => Err(err(format!(
            "expected an ISO date-time, found {}",
            kind_of(other)
        ))),
        None => Err(err("missing".into())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn starter_function_needs_exactly_one_def() {
        assert_eq!(
            starter_function("def countWays(nums: List[int]) -> int:\n    pass").unwrap(),
            "countWays"
        );
        assert!(starter_function("x = 1")
            .unwrap_err()
            .contains("no function"));
        let two = starter_function("def a():\n    pass\ndef b():\n    pass").unwrap_err();
        assert!(two.contains("2 functions (a, b)"), "{two}");
    }
}
