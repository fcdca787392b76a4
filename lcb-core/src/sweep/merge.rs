//! Combining the result trees of `lcb sweep --shard I/N` runs into one tree.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use super::config::Shard;
use super::store::{is_result_file, timing_free_file, ResultStore, RunSummary};
use crate::error::{Error, Result};

/// What a merge did, and what its user should know.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct MergeReport {
    /// Question directories in the merged tree.
    pub questions: usize,
    /// Files copied in this merge (files the tree already held identically are not).
    pub files_copied: usize,
    /// Things that make the merged tree incomplete: shards of an `I/N` set that were not
    /// named, shards whose run did not finish.
    pub warnings: Vec<String>,
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> Error {
    let path = path.to_owned();
    move |error| Error::Io { path, error }
}

/// Merges `shards` into `out`.
///
/// Everything is checked before anything is written: every shard (and `out`, if it already
/// holds a tree) must have been made with the same settings, problem set and generator;
/// shards of an `I/N` split must share `N` and have distinct `I`; a question file found in
/// two trees must hold the same results (timing fields aside). Only the files a sweep writes
/// are copied (not temporary files a killed run left). Each shard and `out` are locked while
/// merging, so a shard that is still being written is refused.
pub fn merge(out: &Path, shards: &[PathBuf]) -> Result<MergeReport> {
    if shards.is_empty() {
        return Err(Error::Invalid(
            "nothing to merge: name at least one shard directory".into(),
        ));
    }
    let same_dir = |a: &Path, b: &Path| match (a.canonicalize(), b.canonicalize()) {
        (Ok(a), Ok(b)) => a == b,
        _ => false,
    };
    for (i, dir) in shards.iter().enumerate() {
        if same_dir(dir, out) {
            return Err(Error::Invalid(format!(
                "{} is both a shard and the output; merge into a new directory",
                dir.display()
            )));
        }
        if let Some(other) = shards[..i].iter().find(|d| same_dir(d, dir)) {
            return Err(Error::Invalid(format!(
                "{} is named twice (also as {})",
                dir.display(),
                other.display()
            )));
        }
    }
    let mut locks = Vec::new();
    let mut summaries = Vec::new();
    for dir in shards {
        let store = ResultStore::new(dir);
        if !store.run_summary_path().exists() {
            return Err(Error::Invalid(format!(
                "{}: no run_summary.json (not an lcb sweep directory)",
                dir.display()
            )));
        }
        locks.push(store.lock()?);
        let summary: RunSummary = store
            .read(&store.run_summary_path())?
            .expect("run_summary.json exists (checked above)");
        summaries.push(summary);
    }
    let first = &summaries[0];
    for (dir, s) in shards.iter().zip(&summaries).skip(1) {
        if let Some(difference) = first.difference(s) {
            return Err(Error::Invalid(format!(
                "{} was made with different settings than {} ({difference}); refusing to merge",
                dir.display(),
                shards[0].display()
            )));
        }
    }
    let mut warnings = shard_set_warnings(shards, &summaries)?;
    for (dir, s) in shards.iter().zip(&summaries) {
        if s.finished.is_none() {
            warnings.push(format!(
                "{}: its sweep did not finish every question (interrupted, failed or never ended); the merged tree lacks what it left undone",
                dir.display()
            ));
        }
    }

    let target = ResultStore::new(out);
    locks.push(target.lock()?);
    let existing: Option<RunSummary> = target.read(&target.run_summary_path())?;
    if let Some(existing) = &existing {
        if let Some(difference) = existing.difference(first) {
            return Err(Error::Invalid(format!(
                "{} already holds a tree made with different settings ({difference}); merge into a new directory",
                out.display()
            )));
        }
    }

    // Plan every copy first, so a conflict found late leaves `out` untouched.
    let mut copies: BTreeMap<PathBuf, PathBuf> = BTreeMap::new();
    let mut questions = BTreeSet::new();
    for dir in shards {
        for (idx, src_dir) in question_dirs(dir)? {
            questions.insert(idx);
            for entry in std::fs::read_dir(&src_dir).map_err(io(&src_dir))? {
                let src = entry.map_err(io(&src_dir))?.path();
                let name = src.file_name().and_then(|n| n.to_str()).unwrap_or("");
                if !is_result_file(name) {
                    continue;
                }
                let dst = target.question_dir(idx).join(name);
                let earlier = copies
                    .get(&dst)
                    .cloned()
                    .or_else(|| dst.exists().then(|| dst.clone()));
                match earlier {
                    Some(earlier) => {
                        if timing_free_file(&earlier)? != timing_free_file(&src)? {
                            return Err(Error::Invalid(format!(
                                "{} and {} hold different results for the same question and temperature; refusing to merge",
                                earlier.display(),
                                src.display()
                            )));
                        }
                    }
                    None => {
                        copies.insert(dst, src);
                    }
                }
            }
        }
    }
    for (dst, src) in &copies {
        let bytes = std::fs::read(src).map_err(io(src))?;
        if let Some(dir) = dst.parent() {
            std::fs::create_dir_all(dir).map_err(io(dir))?;
        }
        crate::atomic_file::write_atomic(dst, &bytes)?;
    }
    questions.extend(question_dirs(out)?.into_iter().map(|(idx, _)| idx));

    let mut planned: BTreeSet<usize> = summaries.iter().flat_map(|s| s.questions.clone()).collect();
    if let Some(e) = &existing {
        planned.extend(e.questions.iter().copied());
    }
    let mut merged = first.clone();
    merged.questions = planned.into_iter().collect();
    merged.shard = None;
    merged.started = summaries
        .iter()
        .map(|s| s.started.clone())
        .min()
        .unwrap_or_default();
    merged.finished = summaries
        .iter()
        .map(|s| s.finished.clone())
        .collect::<Option<Vec<_>>>()
        .and_then(|f| f.into_iter().max());
    let sum = |key: &str| {
        summaries
            .iter()
            .map(|s| s.totals[key].as_u64().unwrap_or(0))
            .sum::<u64>()
    };
    merged.totals = serde_json::json!({
        "merged_from": shards.iter().map(|s| s.display().to_string()).collect::<Vec<_>>(),
        "tokens_generated": sum("tokens_generated"),
        "samples_graded": sum("samples_graded"),
    });
    target.write(&target.run_summary_path(), &merged)?;
    Ok(MergeReport {
        questions: questions.len(),
        files_copied: copies.len(),
        warnings,
    })
}

/// Checks the shards' `I/N` labels: one `N` for all, each `I` once. Returns warnings for
/// the shards of the set that were not named.
fn shard_set_warnings(shards: &[PathBuf], summaries: &[RunSummary]) -> Result<Vec<String>> {
    let parsed: Vec<Option<Shard>> = summaries
        .iter()
        .zip(shards)
        .map(|(s, dir)| {
            s.shard
                .as_deref()
                .map(|text| {
                    text.parse::<Shard>().map_err(|e| {
                        Error::Invalid(format!("{}: run_summary.json: shard: {e}", dir.display()))
                    })
                })
                .transpose()
        })
        .collect::<Result<_>>()?;
    let Some(count) = parsed.iter().flatten().map(|s| s.count).next() else {
        return Ok(Vec::new());
    };
    let mut seen: BTreeMap<usize, &Path> = BTreeMap::new();
    for (shard, dir) in parsed.iter().zip(shards) {
        let Some(shard) = shard else {
            return Err(Error::Invalid(format!(
                "{} is not a shard, but other trees are shards of {count}; refusing to merge",
                dir.display()
            )));
        };
        if shard.count != count {
            return Err(Error::Invalid(format!(
                "{} is shard {}/{}, but other trees are shards of {count}; refusing to merge",
                dir.display(),
                shard.index,
                shard.count
            )));
        }
        if let Some(other) = seen.insert(shard.index, dir) {
            return Err(Error::Invalid(format!(
                "{} and {} are both shard {}/{count}; refusing to merge",
                other.display(),
                dir.display(),
                shard.index
            )));
        }
    }
    let missing: Vec<String> = (0..count)
        .filter(|i| !seen.contains_key(i))
        .map(|i| format!("{i}/{count}"))
        .collect();
    Ok(if missing.is_empty() {
        Vec::new()
    } else {
        vec![format!(
            "shard(s) {} not named: the merged tree lacks their questions",
            missing.join(", ")
        )]
    })
}

/// The `q{idx}` directories of a tree, by index.
fn question_dirs(root: &Path) -> Result<Vec<(usize, PathBuf)>> {
    let mut dirs = Vec::new();
    let entries = match std::fs::read_dir(root) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(dirs),
        other => other.map_err(io(root))?,
    };
    for entry in entries {
        let path = entry.map_err(io(root))?.path();
        let idx = path
            .file_name()
            .and_then(|n| n.to_str())
            .and_then(|n| n.strip_prefix('q'))
            .and_then(|n| n.parse::<usize>().ok());
        if let (Some(idx), true) = (idx, path.is_dir()) {
            dirs.push((idx, path));
        }
    }
    dirs.sort();
    Ok(dirs)
}
