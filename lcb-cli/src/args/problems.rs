//! Which problems a command works on: `--problems` with its date window (`lcb eval`,
//! `lcb sweep`, `lcb info`) and `--questions` (`lcb sweep`, `lcb info`).

use anyhow::Result;
use chrono::NaiveDate;
use lcb_core::dataset::selection::parse_day;
use lcb_core::dataset::{self, DateWindow, ProblemSet, ProblemSource};
use lcb_core::hub::HubOptions;
use lcb_core::sweep::QuestionSelection;

/// The problem set and its date window. `--problems` is optional here: `lcb eval` and
/// `lcb info` make it required, `lcb sweep` falls back to the fixture problems.
#[derive(clap::Args)]
pub struct ProblemFlags {
    /// Problems: a .jsonl / .jsonl.gz file, a directory of LCB shards, or OWNER/NAME@VERSION.
    #[arg(long, value_name = "FILE|HUB_REF")]
    pub problems: Option<String>,
    /// Keep LCB problems dated on or after this day (YYYY-MM-DD).
    #[arg(long, value_name = "DATE", value_parser = parse_day)]
    pub start_date: Option<NaiveDate>,
    /// Keep LCB problems dated on or before this day's midnight (YYYY-MM-DD).
    #[arg(long, value_name = "DATE", value_parser = parse_day)]
    pub end_date: Option<NaiveDate>,
}

impl ProblemFlags {
    /// `--problems` of a command that requires it.
    pub fn required(&self) -> &str {
        self.problems
            .as_deref()
            .expect("commands that call `required` mark --problems required")
    }

    /// The problems of `source` (a path or hub reference) inside the date window, in
    /// benchmark order.
    pub fn load(&self, source: &str) -> Result<ProblemSet> {
        let window = DateWindow {
            start: self.start_date,
            end: self.end_date,
        };
        Ok(
            dataset::load(&ProblemSource::parse(source)?, &HubOptions::default())?
                .filter_dates(&window)?,
        )
    }
}

/// The questions to run, by index in the loaded set.
#[derive(clap::Args)]
pub struct QuestionFlags {
    /// Questions to run: `10..50` (end exclusive) or `1,4,7` (dataset indices).
    #[arg(long, value_name = "RANGE")]
    pub questions: Option<QuestionSelection>,
}

impl QuestionFlags {
    /// The selected indices among `count` questions (all of them without `--questions`).
    pub fn indices(&self, count: usize) -> Result<Vec<usize>> {
        let all = QuestionSelection::All;
        Ok(self.questions.as_ref().unwrap_or(&all).indices(count)?)
    }
}
