//! What a results tree already holds, before a sweep writes into it: whether the tree was
//! made with the same settings (else it is refused, or with `force` emptied), and which of a
//! question's files are complete and made for this run (those are kept; unreadable or
//! foreign ones are redone with a warning).

use super::plan::{SweepError, SweepObserver, SweepPlan};
use super::question::QuestionContext;
use crate::problem::Problem;
use crate::sweep::store::{
    QuestionSummary, ResultStore, RunSummary, Skipped, TemperatureResult, FORMAT_VERSION,
};

/// Refuses to mix results made with other settings into an existing tree; with
/// `plan.force`, deletes that tree's result files instead, so the new run does not mix
/// either.
pub(super) fn prepare_tree(
    store: &ResultStore,
    plan: &SweepPlan<'_>,
    summary: &RunSummary,
    observer: &dyn SweepObserver,
) -> Result<(), SweepError> {
    let path = store.run_summary_path();
    let difference = match store.read::<serde_json::Value>(&path) {
        Ok(None) => None,
        Ok(Some(previous)) => {
            let version = previous.get("format_version").and_then(|v| v.as_u64());
            if version != Some(u64::from(FORMAT_VERSION)) {
                Some(format!(
                    "result format: was {}, now {FORMAT_VERSION}",
                    version.map_or("unknown".to_owned(), |v| v.to_string())
                ))
            } else {
                match serde_json::from_value::<RunSummary>(previous) {
                    Ok(previous) => previous.difference(summary),
                    Err(e) => Some(format!("it cannot be read: {e}")),
                }
            }
        }
        Err(e) => Some(format!("it cannot be read: {e}")),
    };
    let Some(difference) = difference else {
        return Ok(());
    };
    if !plan.force {
        return Err(SweepError::Incompatible {
            path: path.display().to_string(),
            difference,
        });
    }
    let removed = store.remove_results()?;
    observer.warn(&format!(
        "{} was made with different settings ({difference}); forced: deleted its {removed} result files",
        path.display()
    ));
    Ok(())
}

impl QuestionContext<'_, '_> {
    /// Reads one of a question's files for resuming: `None` when it is absent, or unreadable
    /// (with a warning: it is redone).
    fn read_existing<T: for<'de> serde::Deserialize<'de>>(
        &self,
        path: &std::path::Path,
    ) -> Option<T> {
        match self.store.read::<T>(path) {
            Ok(value) => value,
            Err(e) => {
                self.observer.warn(&format!("{e}; redoing it"));
                None
            }
        }
    }

    /// Warns that `path` exists but does not belong to this run; it is redone.
    fn warn_foreign(&self, path: &std::path::Path) {
        self.observer.warn(&format!(
            "{}: made with other settings or for another question; redoing it",
            path.display()
        ));
    }

    /// Whether an existing temperature file is complete and made with these settings.
    pub(super) fn valid_result(
        &self,
        idx: usize,
        t: f64,
        problem: &Problem,
        prompt_text: &str,
    ) -> bool {
        let path = self.store.temperature_path(idx, t, self.plan.settings.n);
        let Some(r) = self.read_existing::<TemperatureResult>(&path) else {
            return false;
        };
        let ok = r.format_version == FORMAT_VERSION
            && r.question_id == problem.id()
            && r.n == self.plan.settings.n
            && r.completions.len() == r.n
            && r.model == self.plan.settings.model
            && r.prompt == prompt_text
            && r.sampling_params == self.recorded(t);
        if !ok {
            self.warn_foreign(&path);
        }
        ok
    }

    /// Whether an existing `skipped.json` says greedy decoding solves this question.
    pub(super) fn valid_skipped(&self, idx: usize, problem: &Problem) -> bool {
        let path = self.store.skipped_path(idx);
        let Some(s) = self.read_existing::<Skipped>(&path) else {
            return false;
        };
        let ok = s.format_version == FORMAT_VERSION && s.question_id == problem.id();
        if !ok {
            self.warn_foreign(&path);
        }
        ok
    }

    /// Whether an existing `summary.json` covers this run's temperatures and n.
    pub(super) fn valid_summary(&self, idx: usize, problem: &Problem) -> bool {
        let path = self.store.summary_path(idx);
        let Some(s) = self.read_existing::<QuestionSummary>(&path) else {
            return false;
        };
        let settings = &self.plan.settings;
        let ok = s.format_version == FORMAT_VERSION
            && s.question_id == problem.id()
            && s.temperatures == settings.temperatures
            && s.n == settings.n;
        if !ok {
            self.warn_foreign(&path);
        }
        ok
    }
}
