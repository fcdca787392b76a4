//! The temperature sweep: every question × temperature × n samples, generated, graded and
//! recorded, resumable and reproducible. Written against the [`Generator`] and
//! [`Evaluator`] traits only.
//!
//! [`Generator`]: crate::generator::Generator
//! [`Evaluator`]: crate::evaluator::Evaluator

pub mod config;
pub mod journal;
pub mod merge;
pub mod orchestrator;
pub mod store;

pub use config::{
    QuestionSelection, QuestionSelectionError, Shard, ShardError, SweepSettings, TemperatureError,
    TemperatureList,
};
pub use merge::{merge, MergeReport};
pub use orchestrator::{
    run, sample_stream, QuestionOutcome, Silent, SweepError, SweepObserver, SweepPlan, SweepReport,
};
pub use store::ResultStore;
