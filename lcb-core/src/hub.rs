//! Fetching files from the Hugging Face hub (models and datasets) with `hf-hub`, cached in the
//! standard hub cache so files are downloaded once and shared with Python tools.
//!
//! The endpoint and cache follow the usual environment variables (`HF_ENDPOINT`, `HF_HOME`);
//! `HF_HUB_OFFLINE=1` uses only what is cached.

use std::path::PathBuf;

use hf_hub::api::sync::ApiBuilder;
use hf_hub::{Cache, Repo, RepoType};

use crate::error::{Error, Result};

/// Which kind of hub repository to read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RepoKind {
    /// A model repository (`/{id}/resolve/...`).
    Model,
    /// A dataset repository (`/datasets/{id}/resolve/...`).
    Dataset,
}

/// Where and how to reach the hub.
#[derive(Debug, Clone, Default)]
pub struct HubOptions {
    /// Endpoint URL; `None` means `HF_ENDPOINT` or `https://huggingface.co`.
    pub endpoint: Option<String>,
    /// Cache directory; `None` means `HF_HOME/hub` or `~/.cache/huggingface/hub`.
    pub cache_dir: Option<PathBuf>,
    /// Use only cached files (also set by `HF_HUB_OFFLINE=1`).
    pub offline: bool,
    /// Show download progress bars.
    pub progress: bool,
}

/// A repository on the hub at a revision.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HubRepo {
    /// `owner/name`.
    pub id: String,
    /// Model or dataset.
    pub kind: RepoKind,
    /// Branch, tag or commit (`main` by default).
    pub revision: String,
}

impl HubRepo {
    /// A repository at `main`.
    pub fn new(id: impl Into<String>, kind: RepoKind) -> Self {
        HubRepo {
            id: id.into(),
            kind,
            revision: "main".to_owned(),
        }
    }

    fn as_hf(&self) -> Repo {
        let kind = match self.kind {
            RepoKind::Model => RepoType::Model,
            RepoKind::Dataset => RepoType::Dataset,
        };
        Repo::with_revision(self.id.clone(), kind, self.revision.clone())
    }
}

/// Whether `text` looks like a hub repository id (`owner/name`, no path that exists locally).
pub fn looks_like_repo_id(text: &str) -> bool {
    let mut parts = text.split('/');
    let (Some(owner), Some(name), None) = (parts.next(), parts.next(), parts.next()) else {
        return false;
    };
    let ok = |s: &str| {
        !s.is_empty()
            && !s.starts_with('.')
            && s.chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
    };
    ok(owner) && ok(name)
}

/// Returns local paths of `files` in `repo`, downloading those not cached yet.
///
/// Files already in the cache are used without contacting the hub.
pub fn fetch(repo: &HubRepo, files: &[&str], options: &HubOptions) -> Result<Vec<PathBuf>> {
    let cache = match &options.cache_dir {
        Some(dir) => Cache::new(dir.clone()),
        None => Cache::from_env(),
    };
    let offline =
        options.offline || std::env::var("HF_HUB_OFFLINE").is_ok_and(|v| !v.is_empty() && v != "0");
    let cached = cache.repo(repo.as_hf());
    let mut builder = ApiBuilder::from_cache(cache.clone()).with_progress(options.progress);
    if let Some(endpoint) = options
        .endpoint
        .clone()
        .or_else(|| std::env::var("HF_ENDPOINT").ok())
    {
        builder = builder.with_endpoint(endpoint.trim_end_matches('/').to_owned());
    }
    let api = builder
        .build()
        .map_err(|e| Error::Hub(format!("cannot set up the hub client: {e}")))?;
    let remote = api.repo(repo.as_hf());
    files
        .iter()
        .map(|file| {
            if let Some(path) = cached.get(file) {
                return Ok(path);
            }
            if offline {
                return Err(Error::Hub(format!(
                    "{}: `{file}` is not in the cache {} and HF_HUB_OFFLINE is set",
                    repo.id,
                    cache.path().display()
                )));
            }
            remote.download(file).map_err(|e| {
                Error::Hub(format!(
                    "{}@{}: cannot download `{file}` from {}: {e}",
                    repo.id,
                    repo.revision,
                    remote.url(file)
                ))
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hub_mock::MockHub;

    #[test]
    fn repo_ids_are_recognised() {
        assert!(looks_like_repo_id("Qwen/Qwen3-0.6B"));
        assert!(looks_like_repo_id("livecodebench/code_generation_lite"));
        assert!(!looks_like_repo_id("./model"));
        assert!(!looks_like_repo_id("a/b/c"));
        assert!(!looks_like_repo_id("model"));
        assert!(!looks_like_repo_id("../x"));
    }

    #[test]
    fn downloads_once_then_serves_from_cache() {
        let hub = MockHub::start();
        hub.add_file(
            "org/data",
            RepoKind::Dataset,
            "test.jsonl",
            b"{\"x\": 1}\n".to_vec(),
        );
        let cache = tempfile::tempdir().unwrap();
        let options = HubOptions {
            endpoint: Some(hub.endpoint()),
            cache_dir: Some(cache.path().to_owned()),
            ..Default::default()
        };
        let repo = HubRepo::new("org/data", RepoKind::Dataset);
        let paths = fetch(&repo, &["test.jsonl"], &options).unwrap();
        assert_eq!(std::fs::read(&paths[0]).unwrap(), b"{\"x\": 1}\n");
        let served = hub.requests();
        assert!(served > 0);
        // Second fetch: the cache answers, the hub sees no request.
        let again = fetch(&repo, &["test.jsonl"], &options).unwrap();
        assert_eq!(again, paths);
        assert_eq!(hub.requests(), served);
        // Offline works from the cache, and fails clearly for what is not cached.
        let offline = HubOptions {
            offline: true,
            ..options.clone()
        };
        assert!(fetch(&repo, &["test.jsonl"], &offline).is_ok());
        let err = fetch(&repo, &["test2.jsonl"], &offline)
            .unwrap_err()
            .to_string();
        assert!(err.contains("not in the cache"), "{err}");
        // A missing file online names the file and the URL.
        let err = fetch(&repo, &["test9.jsonl"], &options)
            .unwrap_err()
            .to_string();
        assert!(err.contains("test9.jsonl"), "{err}");
    }
}
