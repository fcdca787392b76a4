//! `--endpoint` and its companions (`generate`, `sweep`): generate with an OpenAI-compatible
//! server instead of loading a model, and how that becomes a [`Generator`].

use std::time::Duration;

use anyhow::{bail, Context, Result};
use lcb_core::Generator;
use lcb_engine::engine::EngineConfig;
use lcb_openai::{EndpointConfig, EndpointGenerator};

use super::at_least_one;
use super::engine::{load_engine, EngineFlags};

/// Where samples come from when they do not come from a model loaded here.
#[derive(clap::Args)]
pub struct EndpointFlags {
    /// Generate with an OpenAI-compatible server (vLLM, SGLang, TGI, llama.cpp, `lcb serve`)
    /// at this base URL, e.g. http://localhost:8000/v1, instead of loading a model.
    #[arg(long, value_name = "URL", conflicts_with = "model")]
    pub endpoint: Option<String>,
    /// With --endpoint: the model name the server serves (`GET /v1/models` lists them).
    #[arg(long, value_name = "NAME", requires = "endpoint")]
    pub served_model: Option<String>,
    /// With --endpoint: the API key, sent as a bearer token.
    #[arg(
        long,
        value_name = "KEY",
        env = "OPENAI_API_KEY",
        hide_env_values = true
    )]
    pub api_key: Option<String>,
    /// With --endpoint: most HTTP requests in flight at once.
    #[arg(long, value_name = "N", default_value_t = 64, value_parser = at_least_one)]
    pub concurrency: usize,
    /// With --endpoint: seconds to wait for an answer (or between two streamed chunks)
    /// before retrying.
    #[arg(long, value_name = "SECS", default_value_t = 600, value_parser = at_least_one)]
    pub request_timeout: usize,
    /// With --endpoint: retries of a request after a connection failure, a timeout or a
    /// server error (a busy server's 429 or 503 is waited for, up to an hour, without
    /// spending them).
    #[arg(long, value_name = "N", default_value_t = 8)]
    pub retries: u32,
    /// With --endpoint: speak only the standard API even to lcb serve or vLLM (one request
    /// per sample with a derived seed, no extension fields), as with any other server.
    #[arg(long)]
    pub standard_api: bool,
}

impl EndpointFlags {
    /// The served model's name, required with --endpoint.
    pub fn served_model(&self) -> Result<&str> {
        match &self.served_model {
            Some(name) => Ok(name),
            None => bail!("--endpoint needs --served-model NAME (the server's `GET /v1/models` lists its models)"),
        }
    }

    /// Connects to the endpoint, if one was given.
    pub fn connect(&self) -> Result<Option<EndpointGenerator>> {
        let Some(url) = &self.endpoint else {
            return Ok(None);
        };
        let mut config = EndpointConfig::new(url.clone(), self.served_model()?);
        config.api_key = self.api_key.clone();
        config.concurrency = self.concurrency;
        config.request_timeout = Duration::from_secs(self.request_timeout as u64);
        config.standard_only = self.standard_api;
        config.max_retries = self.retries;
        let generator = EndpointGenerator::connect(config)
            .with_context(|| format!("cannot use the endpoint {url}"))?;
        tracing::info!("generating with {url} ({:?} server)", generator.kind());
        Ok(Some(generator))
    }

    /// The generator: the endpoint if one was given, else `model` loaded with `engine`'s
    /// settings for samples of at most `max_tokens` tokens (`default_slots` unless --slots).
    pub fn generator(
        &self,
        model: &str,
        engine: &EngineFlags,
        max_tokens: usize,
        default_slots: Option<usize>,
    ) -> Result<Box<dyn Generator>> {
        self.generator_with(model, engine.engine_config(max_tokens, default_slots))
    }

    /// [`EndpointFlags::generator`] with the engine's whole configuration given.
    pub fn generator_with(&self, model: &str, config: EngineConfig) -> Result<Box<dyn Generator>> {
        Ok(match self.connect()? {
            Some(endpoint) => Box::new(endpoint),
            None => Box::new(load_engine(model, config)?),
        })
    }
}
