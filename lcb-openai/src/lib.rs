//! The OpenAI HTTP API as lcb speaks it, in both directions.
//!
//! * [`wire`]: the JSON of requests, responses, streamed chunks and errors, shared by
//!   `lcb serve` (which answers them) and [`EndpointGenerator`] (which sends them).
//! * [`endpoint`]: a [`lcb_core::Generator`] that sends a sweep's samples to any
//!   OpenAI-compatible server (vLLM, SGLang, TGI, llama.cpp, `lcb serve`) with bounded
//!   concurrency and retries; against `lcb serve` every sample draws exactly what it would
//!   in-process, through lcb's `lcb` extension field.

pub mod endpoint;
pub mod wire;

pub use endpoint::{EndpointConfig, EndpointError, EndpointGenerator};
