//! `lcb generate`: sample completions of one prompt with lcb's engine, as JSON Lines.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{bail, Context, Result};
use lcb_core::generator::{Completion, GenerationRequest, Prompt, SampleGroup, SamplingParams};
use lcb_core::prompt::ChatMessage;

use crate::args::endpoint::EndpointFlags;
use crate::args::engine::{singular_device, EngineFlags};
use crate::args::sampling::{temperature, SamplingFlags};

/// Generate samples from a Qwen3 model with lcb's engine.
///
/// The prompt is tokenized as is (no special tokens added); `--chat` wraps it as one user
/// message in the model's chat template, exactly as transformers renders it. All samples share
/// one prefill of the prompt and decode together in one batch.
///
/// Output: one JSON object per sample, in index order:
/// `{"index", "text", "token_ids", "logprobs", "finish_reason"}`, where `token_ids` are the
/// generated tokens only, `logprobs[j]` is the log-softmax of the raw logits (before
/// temperature) at token j, and `finish_reason` is `stop` (end-of-sequence token or stop
/// string; the stop string is not in `text`) or `length`.
///
/// With `--seed S`, sample i depends only on (seed, i, prompt, parameters): `-n 4` gives
/// exactly the first 4 samples of `-n 8`.
///
/// Examples:
///   lcb generate --model Qwen/Qwen3-0.6B --chat --prompt "Write a haiku." -n 4 --seed 1
///   lcb generate --model ./my-model --prompt-file p.txt --temperature 0 --max-tokens 64
#[derive(clap::Args)]
#[command(group = clap::ArgGroup::new("input").required(true).args(["prompt", "prompt_file"]))]
#[command(
    mut_arg("devices", |a| singular_device(a, "Device(s): `cpu`, `cuda:N`, or a list such as `cuda:0,cuda:1` (one engine per device)")),
    mut_arg("slots", |a| a.help("Most samples decoding at once per device (also bounded by --kv-memory) [default: -n, at most 4,096]")),
    mut_arg("n", |a| a.default_value("1")),
    mut_arg("max_tokens", |a| a.default_value("256")),
    mut_arg("top_k", |a| a.default_value("0").help("Keep only the K most likely tokens (0 = off)")),
)]
pub struct GenerateArgs {
    /// Model: a local Hugging Face directory or a hub id (OWNER/NAME[@REVISION]).
    #[arg(long, value_name = "DIR|HUB_ID", required_unless_present = "endpoint")]
    model: Option<String>,
    #[command(flatten)]
    endpoint: EndpointFlags,
    #[command(flatten)]
    engine: EngineFlags,
    /// The prompt text.
    #[arg(long, value_name = "TEXT")]
    prompt: Option<String>,
    /// Read the prompt from a file (used byte for byte, trailing newline included).
    #[arg(long, value_name = "FILE")]
    prompt_file: Option<PathBuf>,
    /// Wrap the prompt as one user message with the model's chat template.
    #[arg(long)]
    chat: bool,
    /// With --chat: pass `enable_thinking=false` to the template (Qwen3's empty think block).
    #[arg(long, requires = "chat")]
    no_thinking: bool,
    /// Sampling temperature; 0 is greedy.
    #[arg(long, value_name = "T", default_value_t = 1.0, value_parser = temperature)]
    temperature: f32,
    #[command(flatten)]
    sampling: SamplingFlags,
    /// Do not stop at end-of-sequence tokens (generate exactly --max-tokens).
    #[arg(long)]
    ignore_eos: bool,
    /// Write JSON Lines here (written whole when generation succeeds) instead of stdout.
    #[arg(long, value_name = "FILE")]
    output: Option<PathBuf>,
}

impl GenerateArgs {
    /// The prompt as the engine takes it.
    fn prompt(&self) -> Result<Prompt> {
        let text = match (&self.prompt, &self.prompt_file) {
            (Some(text), _) => text.clone(),
            (None, Some(path)) => std::fs::read_to_string(path)
                .with_context(|| format!("cannot read the prompt file {}", path.display()))?,
            (None, None) => bail!("give --prompt or --prompt-file"),
        };
        Ok(if self.chat {
            Prompt::Chat {
                messages: vec![ChatMessage::new("user", text)],
                enable_thinking: !self.no_thinking,
            }
        } else {
            Prompt::Text(text)
        })
    }

    /// The one group of samples to generate.
    fn group(&self) -> SampleGroup {
        let s = &self.sampling;
        SampleGroup {
            params: SamplingParams {
                temperature: self.temperature,
                top_p: s.top_p,
                top_k: s.top_k.filter(|&k| k > 0),
                max_tokens: self.max_tokens(),
                stop: s.stop.clone(),
                ignore_eos: self.ignore_eos,
                seed: s.seed,
            },
            n: self.n(),
            stream: 0,
            skip: Vec::new(),
        }
    }

    /// The engine's configuration: a row for every sample, at most 4,096.
    #[cfg(test)]
    fn engine_config(&self) -> lcb_engine::EngineConfig {
        self.engine.engine_config(self.max_tokens(), self.slots())
    }

    fn slots(&self) -> Option<usize> {
        Some(self.n().min(lcb_engine::engine::MAX_DECODE_ROWS))
    }

    fn n(&self) -> usize {
        self.sampling.n.unwrap_or(1)
    }

    fn max_tokens(&self) -> usize {
        self.sampling.max_tokens.unwrap_or(256)
    }
}

/// Runs `lcb generate`.
pub fn run(args: GenerateArgs) -> Result<ExitCode> {
    let request = GenerationRequest {
        shares_prefix_with: None,
        prompt: args.prompt()?,
        groups: vec![args.group()],
    };
    let n = args.n();
    args.engine.apply_threads(false);
    let generator = args.endpoint.generator(
        args.model.as_deref().unwrap_or_default(),
        &args.engine,
        args.max_tokens(),
        args.slots(),
    )?;
    let completions = generator.submit(request)?;

    // Samples finish in any order; lines go out in index order, each as soon as every
    // earlier one is out.
    let mut pending: BTreeMap<usize, Completion> = BTreeMap::new();
    let mut next = 0;
    let mut buffer = Vec::new();
    let stdout = std::io::stdout();
    for completion in completions.iter() {
        let completion = completion?;
        pending.insert(completion.index, completion);
        while let Some(c) = pending.remove(&next) {
            let line = serde_json::json!({
                "index": c.index,
                "text": c.text,
                "token_ids": c.token_ids,
                "logprobs": c.logprobs,
                "finish_reason": c.finish_reason,
            });
            match &args.output {
                Some(_) => {
                    serde_json::to_writer(&mut buffer, &line)?;
                    buffer.push(b'\n');
                }
                None => {
                    let mut out = stdout.lock();
                    serde_json::to_writer(&mut out, &line)?;
                    out.write_all(b"\n")?;
                    out.flush()?;
                }
            }
            next += 1;
        }
    }
    if next != n {
        bail!("the engine stopped after {next} of {n} samples");
    }
    if let Some(path) = &args.output {
        lcb_core::atomic_file::write_atomic(path, &buffer)?;
    }
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::GenerateArgs;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        args: GenerateArgs,
    }

    fn parse(extra: &[&str]) -> GenerateArgs {
        let base = ["lcb", "--model", "m", "--prompt", "p"];
        Cli::try_parse_from(base.iter().chain(extra)).unwrap().args
    }

    #[test]
    fn generate_defaults_to_one_sample_of_256_tokens_on_as_many_slots() {
        let args = parse(&[]);
        let group = args.group();
        assert_eq!((group.n, group.params.max_tokens), (1, 256));
        assert_eq!((group.params.top_k, group.params.top_p), (None, 1.0));
        assert_eq!(args.engine_config().max_slots, Some(1));
        let args = parse(&["-n", "5000", "--top-k", "0", "--device", "cuda:0,cuda:1"]);
        assert_eq!(args.group().params.top_k, None);
        let config = args.engine_config();
        assert_eq!((config.max_slots, config.devices.len()), (Some(4096), 2));
        assert!(Cli::try_parse_from(["lcb", "--model", "m", "--prompt", "p", "-n", "0"]).is_err());
    }
}
