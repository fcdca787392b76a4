//! One module per subcommand.

pub mod bench;
pub mod eval;
pub mod generate;
pub mod info;
pub mod merge;
pub mod report;
pub mod serve;
pub mod setup;
pub mod sweep;
