//! Finding a model's files — a local Hugging Face directory or a hub id fetched (and cached)
//! through `lcb_core::hub` — and loading its safetensors weights, single-file or sharded.

use std::path::{Path, PathBuf};

use candle_core::{DType, Device};
use candle_nn::VarBuilder;
use lcb_core::hub::{self, HubOptions, HubRepo, RepoKind};

use crate::config::{eos_token_ids, Qwen3Config};
use crate::error::{Error, Result};

/// Where a model comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ModelSource {
    /// A local directory with `config.json`, `*.safetensors`, `tokenizer.json`, ….
    Dir(PathBuf),
    /// A repository on the Hugging Face hub (`owner/name`), at a revision.
    Hub {
        /// `owner/name`.
        id: String,
        /// Branch, tag or commit.
        revision: String,
    },
}

impl ModelSource {
    /// An existing directory is a local model; otherwise `owner/name[@revision]` is a hub id.
    pub fn parse(text: &str) -> Result<Self> {
        let path = Path::new(text);
        if path.is_dir() {
            return Ok(ModelSource::Dir(path.to_owned()));
        }
        let (id, revision) = match text.split_once('@') {
            Some((id, rev)) if !rev.is_empty() => (id, rev),
            _ => (text, "main"),
        };
        if hub::looks_like_repo_id(id) && !path.exists() {
            return Ok(ModelSource::Hub {
                id: id.to_owned(),
                revision: revision.to_owned(),
            });
        }
        Err(Error::Model(format!(
            "model `{text}` is neither a directory nor a hub id (owner/name)"
        )))
    }

    /// A short name for results files: the directory as given, or the hub id.
    pub fn name(&self) -> String {
        match self {
            ModelSource::Dir(dir) => dir.display().to_string(),
            ModelSource::Hub { id, revision } if revision == "main" => id.clone(),
            ModelSource::Hub { id, revision } => format!("{id}@{revision}"),
        }
    }
}

/// The local paths of a model's files.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModelFiles {
    /// `config.json`.
    pub config: PathBuf,
    /// `generation_config.json`, if the model has one.
    pub generation_config: Option<PathBuf>,
    /// `tokenizer.json` (or `tokenizer.json.gz`), if present.
    pub tokenizer: Option<PathBuf>,
    /// `tokenizer_config.json`, if present (holds the chat template).
    pub tokenizer_config: Option<PathBuf>,
    /// `chat_template.jinja`, if present (newer models keep the template there).
    pub chat_template: Option<PathBuf>,
    /// The safetensors files, in shard order.
    pub weights: Vec<PathBuf>,
}

const INDEX_FILE: &str = "model.safetensors.index.json";
const SINGLE_FILE: &str = "model.safetensors";

impl ModelFiles {
    /// Finds (and for hub ids downloads) every file of `source`.
    pub fn resolve(source: &ModelSource, hub_options: &HubOptions) -> Result<Self> {
        match source {
            ModelSource::Dir(dir) => Self::in_dir(dir),
            ModelSource::Hub { id, revision } => {
                let mut repo = HubRepo::new(id.clone(), RepoKind::Model);
                repo.revision = revision.clone();
                Self::from_hub(&repo, hub_options)
            }
        }
    }

    /// The files of a local directory.
    pub fn in_dir(dir: &Path) -> Result<Self> {
        let existing = |name: &str| Some(dir.join(name)).filter(|p| p.is_file());
        let config = existing("config.json")
            .ok_or_else(|| Error::Model(format!("{}: no config.json", dir.display())))?;
        let weights = if let Some(index) = existing(INDEX_FILE) {
            shard_names(&index)?
                .into_iter()
                .map(|name| dir.join(name))
                .collect()
        } else if let Some(single) = existing(SINGLE_FILE) {
            vec![single]
        } else {
            // Some exports use other names for a single file; take every *.safetensors.
            let mut found: Vec<PathBuf> = std::fs::read_dir(dir)
                .map_err(|e| Error::io(dir, e))?
                .filter_map(|entry| entry.ok().map(|e| e.path()))
                .filter(|p| p.extension().is_some_and(|e| e == "safetensors"))
                .collect();
            found.sort();
            found
        };
        if weights.is_empty() {
            return Err(Error::Model(format!(
                "{}: no *.safetensors weights",
                dir.display()
            )));
        }
        if let Some(missing) = weights.iter().find(|p| !p.is_file()) {
            return Err(Error::Model(format!(
                "{}: shard listed in {INDEX_FILE} is missing",
                missing.display()
            )));
        }
        Ok(ModelFiles {
            config,
            generation_config: existing("generation_config.json"),
            tokenizer: existing("tokenizer.json").or_else(|| existing("tokenizer.json.gz")),
            tokenizer_config: existing("tokenizer_config.json"),
            chat_template: existing("chat_template.jinja"),
            weights,
        })
    }

    /// The files of a hub repository, downloaded into (or served from) the hub cache.
    pub fn from_hub(repo: &HubRepo, options: &HubOptions) -> Result<Self> {
        let one =
            |name: &str| -> Result<PathBuf> { Ok(hub::fetch(repo, &[name], options)?.remove(0)) };
        // Optional files: a failure (usually "not found") just means the model lacks them.
        let optional = |name: &str| one(name).ok();
        let config = one("config.json")?;
        let weights = match one(INDEX_FILE) {
            Ok(index) => {
                let names = shard_names(&index)?;
                let names: Vec<&str> = names.iter().map(String::as_str).collect();
                hub::fetch(repo, &names, options)?
            }
            Err(_) => vec![one(SINGLE_FILE)?],
        };
        Ok(ModelFiles {
            config,
            generation_config: optional("generation_config.json"),
            tokenizer: optional("tokenizer.json"),
            tokenizer_config: optional("tokenizer_config.json"),
            chat_template: optional("chat_template.jinja"),
            weights,
        })
    }

    /// Parses `config.json`.
    pub fn config(&self) -> Result<Qwen3Config> {
        Qwen3Config::from_file(&self.config)
    }

    /// The end-of-sequence ids (generation config and config together).
    pub fn eos_token_ids(&self, config: &Qwen3Config) -> Result<Vec<u32>> {
        eos_token_ids(config, self.generation_config.as_deref())
    }

    /// Memory-maps the weights as a `VarBuilder` that converts every tensor to `dtype` on
    /// `device` as it is read.
    pub fn var_builder(&self, dtype: DType, device: &Device) -> Result<VarBuilder<'static>> {
        // SAFETY: the files are memory-mapped read-only; lcb never writes them, and a model
        // directory being rewritten under a running engine is outside what lcb supports.
        let vb = unsafe { VarBuilder::from_mmaped_safetensors(&self.weights, dtype, device) }
            .map_err(|e| {
                Error::Model(format!(
                    "cannot read weights {}: {e}",
                    self.weights
                        .iter()
                        .map(|p| p.display().to_string())
                        .collect::<Vec<_>>()
                        .join(", ")
                ))
            })?;
        Ok(vb)
    }
}

/// The distinct shard file names of a `model.safetensors.index.json`, sorted.
fn shard_names(index: &Path) -> Result<Vec<String>> {
    let text = std::fs::read_to_string(index).map_err(|e| Error::io(index, e))?;
    let value: serde_json::Value = serde_json::from_str(&text)
        .map_err(|e| Error::format(index, format!("invalid JSON: {e}")))?;
    let map = value
        .get("weight_map")
        .and_then(|m| m.as_object())
        .ok_or_else(|| Error::format(index, "no `weight_map` object"))?;
    let mut names: Vec<String> = map
        .values()
        .map(|v| {
            v.as_str()
                .map(str::to_owned)
                .ok_or_else(|| Error::format(index, "weight_map values must be file names"))
        })
        .collect::<Result<_>>()?;
    names.sort();
    names.dedup();
    if let Some(bad) = names
        .iter()
        .find(|n| n.contains('/') || n.contains('\\') || n.starts_with('.'))
    {
        return Err(Error::format(
            index,
            format!("suspicious shard name `{bad}`"),
        ));
    }
    Ok(names)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sources_are_directories_or_hub_ids() {
        let dir = tempfile::tempdir().unwrap();
        let text = dir.path().to_str().unwrap();
        assert_eq!(
            ModelSource::parse(text).unwrap(),
            ModelSource::Dir(dir.path().to_owned())
        );
        assert_eq!(
            ModelSource::parse("Qwen/Qwen3-0.6B").unwrap(),
            ModelSource::Hub {
                id: "Qwen/Qwen3-0.6B".into(),
                revision: "main".into()
            }
        );
        let pinned = ModelSource::parse("Qwen/Qwen3-0.6B@abc123").unwrap();
        assert_eq!(pinned.name(), "Qwen/Qwen3-0.6B@abc123");
        let err = ModelSource::parse("/no/such/dir").unwrap_err().to_string();
        assert!(err.contains("neither a directory nor a hub id"), "{err}");
    }

    #[test]
    fn a_directory_without_weights_is_refused_clearly() {
        let dir = tempfile::tempdir().unwrap();
        let err = ModelFiles::in_dir(dir.path()).unwrap_err().to_string();
        assert!(err.contains("no config.json"), "{err}");
        std::fs::write(dir.path().join("config.json"), "{}").unwrap();
        let err = ModelFiles::in_dir(dir.path()).unwrap_err().to_string();
        assert!(err.contains("no *.safetensors"), "{err}");
        std::fs::write(
            dir.path().join(INDEX_FILE),
            r#"{"weight_map": {"a": "model-00001-of-00002.safetensors"}}"#,
        )
        .unwrap();
        let err = ModelFiles::in_dir(dir.path()).unwrap_err().to_string();
        assert!(err.contains("missing"), "{err}");
    }

    #[test]
    fn shard_names_are_unique_and_safe() {
        let dir = tempfile::tempdir().unwrap();
        let index = dir.path().join(INDEX_FILE);
        std::fs::write(
            &index,
            r#"{"metadata": {}, "weight_map": {"a": "m-2.safetensors", "b": "m-1.safetensors", "c": "m-2.safetensors"}}"#,
        )
        .unwrap();
        assert_eq!(
            shard_names(&index).unwrap(),
            vec!["m-1.safetensors", "m-2.safetensors"]
        );
        std::fs::write(&index, r#"{"weight_map": {"a": "../evil.safetensors"}}"#).unwrap();
        assert!(shard_names(&index).is_err());
    }
}
