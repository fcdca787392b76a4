//! The sampling flags shared by `lcb generate` and `lcb sweep`: samples, token budget, stop
//! strings, top-p, top-k and seed. The temperature is each command's own (`--temperature`
//! for one prompt, `--temperatures` for a sweep).

/// Sampling settings. `-n` and `--max-tokens` have no default here: each command states its
/// own.
#[derive(clap::Args)]
pub struct SamplingFlags {
    /// Samples per prompt.
    #[arg(short = 'n', value_name = "N", value_parser = super::at_least_one)]
    pub n: Option<usize>,
    /// Most new tokens per sample.
    #[arg(long, value_name = "N", value_parser = super::at_least_one)]
    pub max_tokens: Option<usize>,
    /// Stop string (repeat for several): a sample ends when its text contains one; it is not
    /// included.
    #[arg(long, value_name = "STR")]
    pub stop: Vec<String>,
    /// Nucleus sampling: keep the most likely tokens up to this probability mass, in (0, 1]
    /// (1 = off).
    #[arg(long, value_name = "P", default_value_t = 1.0, value_parser = nucleus_mass)]
    pub top_p: f32,
    /// Keep only the K most likely tokens (off by default).
    #[arg(long, value_name = "K")]
    pub top_k: Option<usize>,
    /// Random seed.
    #[arg(long, value_name = "S", default_value_t = 0)]
    pub seed: u64,
}

/// `--top-p`: a probability mass in (0, 1].
pub fn nucleus_mass(text: &str) -> Result<f32, String> {
    let p: f32 = text
        .trim()
        .parse()
        .map_err(|e| format!("not a number ({e})"))?;
    if p > 0.0 && p <= 1.0 {
        Ok(p)
    } else {
        Err(format!("{p} is outside (0, 1]"))
    }
}

/// A sampling temperature: finite and at least 0 (0 is greedy).
pub fn temperature(text: &str) -> Result<f32, String> {
    let t: f32 = text
        .trim()
        .parse()
        .map_err(|e| format!("not a number ({e})"))?;
    if t >= 0.0 && t.is_finite() {
        Ok(t)
    } else {
        Err(format!("must be ≥ 0, not {t}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn top_p_and_temperature_ranges() {
        assert_eq!(nucleus_mass("0.95"), Ok(0.95));
        assert_eq!(nucleus_mass("1.5").unwrap_err(), "1.5 is outside (0, 1]");
        assert!(nucleus_mass("0").is_err() && nucleus_mass("x").is_err());
        assert_eq!(temperature("0"), Ok(0.0));
        assert_eq!(temperature("-1").unwrap_err(), "must be ≥ 0, not -1");
        assert!(temperature("inf").is_err() && temperature("NaN").is_err());
    }
}
