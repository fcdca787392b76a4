//! The flags several commands share, each group declared once as a `#[derive(clap::Args)]`
//! struct that the commands `#[command(flatten)]`, with the function that turns it into the
//! library's settings:
//!
//! * [`engine`]: devices, precision, KV-cache memory, GPU memory share, decode slots and CPU
//!   threads (`generate`, `sweep`, `bench`);
//! * [`sampling`]: samples, token budget, stop strings, top-p, top-k and seed (`generate`,
//!   `sweep`);
//! * [`problems`]: the problem set, its date window and the questions to run (`eval`,
//!   `sweep`, `info`);
//! * [`endpoint`]: an OpenAI-compatible server to generate with instead of a model
//!   (`generate`, `sweep`);
//! * [`scenario`]: the LiveCodeBench scenario and code execution's chain of thought (`eval`,
//!   `sweep`).
//!
//! Where a command's default differs from another's (`--slots` is 256 for `sweep`, `-n` is 1
//! for `generate`), the group's field is an `Option` or has no default, and the command sets
//! its default and help with `#[command(mut_arg(...))]`, next to its other flags. Values are
//! checked while parsing, so clap names the flag and the value in every error.

pub mod endpoint;
pub mod engine;
pub mod problems;
pub mod sampling;
pub mod scenario;

/// Parses a count that must be at least 1 (samples, tokens, threads…).
pub fn at_least_one(text: &str) -> Result<usize, String> {
    match text.trim().parse::<usize>() {
        Ok(0) => Err("must be at least 1".into()),
        Ok(n) => Ok(n),
        Err(e) => Err(format!("not a whole number ({e})")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_start_at_one() {
        assert_eq!(at_least_one("3"), Ok(3));
        assert_eq!(at_least_one("0").unwrap_err(), "must be at least 1");
        assert!(at_least_one("-1")
            .unwrap_err()
            .starts_with("not a whole number"));
    }
}
