//! Compare two `lcb sweep` result trees, timing fields aside, with lcb's own comparison
//! (`ResultStore::timing_free_snapshot`: every `q{idx}/*.json`, without `gen_tps`, `eval_tps`,
//! `pipeline_tps` and `total_time`). Exits 0 if the trees are equal, 1 with the first
//! difference if not, 2 if a tree cannot be read.
//!
//! ```text
//! cargo run --release -p lcb-examples --example compare_trees -- results merged
//! ```
//!
//! `examples/slurm/test_slurm.sh` uses it to check that shards merged after kills, time limits
//! and resubmissions equal a single-process sweep.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::ExitCode;

use lcb_core::sweep::ResultStore;
use serde_json::Value;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [a, b] = args.as_slice() else {
        eprintln!("usage: compare_trees TREE_A TREE_B");
        return ExitCode::from(2);
    };
    let (left, right) = match (snapshot(a), snapshot(b)) {
        (Ok(left), Ok(right)) => (left, right),
        (Err(e), _) | (_, Err(e)) => {
            eprintln!("compare_trees: {e}");
            return ExitCode::from(2);
        }
    };
    match first_difference(&left, &right) {
        None => {
            println!("equal: {} result files (timing fields aside)", left.len());
            ExitCode::SUCCESS
        }
        Some(difference) => {
            println!(
                "different: {difference} ({a} has {} files, {b} has {})",
                left.len(),
                right.len()
            );
            ExitCode::from(1)
        }
    }
}

fn snapshot(root: &str) -> Result<BTreeMap<String, Value>, String> {
    if !Path::new(root).is_dir() {
        return Err(format!("{root}: not a directory"));
    }
    ResultStore::new(root)
        .timing_free_snapshot()
        .map_err(|e| format!("{root}: {e}"))
}

/// The first file (in path order) that one tree lacks or whose JSON differs, with the first
/// differing field.
fn first_difference(
    left: &BTreeMap<String, Value>,
    right: &BTreeMap<String, Value>,
) -> Option<String> {
    let paths: std::collections::BTreeSet<&String> = left.keys().chain(right.keys()).collect();
    paths
        .into_iter()
        .find_map(|path| match (left.get(path), right.get(path)) {
            (Some(_), None) => Some(format!("{path} only in the first tree")),
            (None, Some(_)) => Some(format!("{path} only in the second tree")),
            (Some(a), Some(b)) => {
                value_difference(a, b, String::new()).map(|d| format!("{path}: {d}"))
            }
            (None, None) => None,
        })
}

fn value_difference(a: &Value, b: &Value, at: String) -> Option<String> {
    let here = || {
        if at.is_empty() {
            "(top level)".to_owned()
        } else {
            at.clone()
        }
    };
    match (a, b) {
        (Value::Object(x), Value::Object(y)) => {
            let keys: std::collections::BTreeSet<&String> = x.keys().chain(y.keys()).collect();
            keys.into_iter().find_map(|key| {
                let field = if at.is_empty() {
                    key.clone()
                } else {
                    format!("{at}.{key}")
                };
                match (x.get(key), y.get(key)) {
                    (Some(u), Some(v)) => value_difference(u, v, field),
                    (Some(_), None) => Some(format!("{field} only in the first tree")),
                    (None, Some(_)) => Some(format!("{field} only in the second tree")),
                    (None, None) => None,
                }
            })
        }
        (Value::Array(x), Value::Array(y)) => x
            .iter()
            .zip(y)
            .enumerate()
            .find_map(|(i, (u, v))| value_difference(u, v, format!("{at}[{i}]")))
            .or_else(|| {
                (x.len() != y.len())
                    .then(|| format!("{}: {} vs {} elements", here(), x.len(), y.len()))
            }),
        _ if a == b => None,
        _ => Some(format!("{}: {} vs {}", here(), short(a), short(b))),
    }
}

fn short(value: &Value) -> String {
    let text = value.to_string();
    match text.char_indices().nth(120) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text,
    }
}
