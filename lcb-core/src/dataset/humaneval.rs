//! Parsing OpenAI HumanEval rows (`task_id`, `prompt`, `canonical_solution`, `test`,
//! `entry_point`).

use std::path::Path;

use crate::error::Result;
use crate::jsonl::Record;
use crate::problem::HumanEvalProblem;

/// Whether `record` looks like a HumanEval row.
pub fn is_humaneval_row(record: &Record) -> bool {
    record.fields.contains_key("task_id") && record.fields.contains_key("entry_point")
}

/// Parses one row; errors name `path`, the row's line and the missing field.
pub fn parse_row(path: &Path, record: &Record) -> Result<HumanEvalProblem> {
    let s = |name: &str| record.str_field(path, name).map(str::to_owned);
    Ok(HumanEvalProblem {
        task_id: s("task_id")?,
        prompt: s("prompt")?,
        canonical_solution: s("canonical_solution")?,
        test: s("test")?,
        entry_point: s("entry_point")?,
    })
}
