//! A model's chat template (from `tokenizer_config.json` or `chat_template.jinja`), rendered
//! with minijinja exactly as transformers' `apply_chat_template(..., tokenize=False)` renders
//! it with Jinja2.
//!
//! What makes the output identical: the same environment settings as transformers
//! (`trim_blocks`, `lstrip_blocks`, loop controls, no trailing-newline keep), Python string
//! methods through `minijinja-contrib`'s `pycompat`, transformers' globals
//! (`raise_exception`, `strftime_now`) and a `tojson` filter that writes exactly what Python's
//! `json.dumps(x, ensure_ascii=False)` writes (`", "` / `": "` separators, Python float
//! spelling), which differs from minijinja's own `tojson`.

use std::path::Path;

use minijinja::{Environment, ErrorKind, Value};
use serde_json::Value as Json;

use crate::error::{Error, Result};

/// Options of one rendering (the keyword arguments of `apply_chat_template`).
#[derive(Debug, Clone, Default)]
pub struct RenderOptions {
    /// Append the assistant turn's opening (`<|im_start|>assistant\n` for Qwen3).
    pub add_generation_prompt: bool,
    /// `enable_thinking` (Qwen3): `None` leaves it undefined in the template, as when the
    /// keyword is not passed.
    pub enable_thinking: Option<bool>,
    /// Tool definitions (`tools=`), if any.
    pub tools: Option<Json>,
}

/// A compiled chat template and the special-token strings transformers passes along with
/// the messages (`bos_token`, `eos_token`, …).
pub struct ChatTemplate {
    env: Environment<'static>,
    special_tokens: serde_json::Map<String, Json>,
}

impl std::fmt::Debug for ChatTemplate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChatTemplate").finish_non_exhaustive()
    }
}

const TEMPLATE_NAME: &str = "chat_template";

impl ChatTemplate {
    /// Compiles `source`; `special_tokens` are exposed to it as globals.
    pub fn new(source: String, special_tokens: serde_json::Map<String, Json>) -> Result<Self> {
        let mut env = Environment::new();
        env.set_syntax(
            minijinja::syntax::SyntaxConfig::builder()
                .trim_blocks(true)
                .lstrip_blocks(true)
                .build()
                .map_err(|e| Error::Template(e.to_string()))?,
        );
        env.set_unknown_method_callback(minijinja_contrib::pycompat::unknown_method_callback);
        env.add_filter("tojson", tojson);
        env.add_function("raise_exception", raise_exception);
        env.add_function("strftime_now", strftime_now);
        env.add_template_owned(TEMPLATE_NAME, source)
            .map_err(|e| Error::Template(format!("cannot compile: {e}")))?;
        Ok(ChatTemplate {
            env,
            special_tokens,
        })
    }

    /// The template of a model: `chat_template.jinja` if given, else the `chat_template`
    /// field of `tokenizer_config.json` (a string, or a list of named templates of which
    /// `default` is used). `Ok(None)` when the model has none.
    pub fn from_files(
        tokenizer_config: Option<&Path>,
        jinja_file: Option<&Path>,
    ) -> Result<Option<Self>> {
        let config: serde_json::Map<String, Json> = match tokenizer_config {
            Some(path) => {
                let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
                serde_json::from_str(&text)
                    .map_err(|e| Error::format(path, format!("invalid JSON object: {e}")))?
            }
            None => serde_json::Map::new(),
        };
        let source = if let Some(path) = jinja_file {
            Some(std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?)
        } else {
            match config.get("chat_template") {
                Some(Json::String(s)) => Some(s.clone()),
                Some(Json::Array(named)) => named
                    .iter()
                    .find(|t| t.get("name").and_then(Json::as_str) == Some("default"))
                    .and_then(|t| t.get("template").and_then(Json::as_str))
                    .map(str::to_owned),
                _ => None,
            }
        };
        let Some(source) = source else {
            return Ok(None);
        };
        // transformers passes `special_tokens_map` (strings, or AddedToken objects whose
        // `content` is the string) as template variables.
        let mut special = serde_json::Map::new();
        for key in [
            "bos_token",
            "eos_token",
            "unk_token",
            "pad_token",
            "sep_token",
            "cls_token",
            "mask_token",
        ] {
            let value = match config.get(key) {
                Some(Json::String(s)) => Json::String(s.clone()),
                Some(Json::Object(o)) => o.get("content").cloned().unwrap_or(Json::Null),
                _ => continue,
            };
            if !value.is_null() {
                special.insert(key.to_owned(), value);
            }
        }
        Self::new(source, special).map(Some)
    }

    /// Renders `messages` (a JSON array of `{"role", "content", …}` objects; extra fields
    /// such as `tool_calls` or `reasoning_content` are visible to the template).
    pub fn render(&self, messages: &Json, options: &RenderOptions) -> Result<String> {
        let mut ctx = self.special_tokens.clone();
        ctx.insert("messages".into(), messages.clone());
        ctx.insert(
            "add_generation_prompt".into(),
            Json::Bool(options.add_generation_prompt),
        );
        if let Some(tools) = &options.tools {
            ctx.insert("tools".into(), tools.clone());
        }
        if let Some(thinking) = options.enable_thinking {
            ctx.insert("enable_thinking".into(), Json::Bool(thinking));
        }
        let template = self
            .env
            .get_template(TEMPLATE_NAME)
            .map_err(|e| Error::Template(e.to_string()))?;
        template
            .render(Value::from(minijinja::value::Serde(&ctx)))
            .map_err(|e| Error::Template(render_error(&e)))
    }

    /// Renders plain chat messages.
    pub fn render_messages(
        &self,
        messages: &[lcb_core::prompt::ChatMessage],
        options: &RenderOptions,
    ) -> Result<String> {
        let json = serde_json::to_value(messages)
            .map_err(|e| Error::Template(format!("messages: {e}")))?;
        self.render(&json, options)
    }
}

/// The message of a render error with its cause (minijinja nests the useful part).
fn render_error(e: &minijinja::Error) -> String {
    let mut text = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// transformers' `raise_exception(message)`: aborts rendering with the template's message.
fn raise_exception(message: String) -> std::result::Result<Value, minijinja::Error> {
    Err(minijinja::Error::new(ErrorKind::InvalidOperation, message))
}

/// transformers' `strftime_now(format)`, in UTC.
fn strftime_now(format: String) -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64);
    chrono::DateTime::from_timestamp(secs, 0)
        .map(|t| t.format(&format).to_string())
        .unwrap_or_default()
}

/// transformers' `tojson`: `json.dumps(x, ensure_ascii=False, indent=indent)`.
fn tojson(
    value: Value,
    kwargs: minijinja::value::Kwargs,
) -> std::result::Result<Value, minijinja::Error> {
    let indent: Option<usize> = kwargs.get("indent")?;
    kwargs.assert_all_used()?;
    let json = serde_json::to_value(&value)
        .map_err(|e| minijinja::Error::new(ErrorKind::InvalidOperation, format!("tojson: {e}")))?;
    let mut out = String::new();
    write_py_json(&json, indent, 0, &mut out);
    // Safe: the template output is not HTML-escaped (templates are not `.html`).
    Ok(Value::from(out))
}

/// Writes `value` as Python's `json.dumps(value, ensure_ascii=False, indent=indent)` does.
pub fn write_py_json(value: &Json, indent: Option<usize>, level: usize, out: &mut String) {
    let item_sep = if indent.is_some() { "," } else { ", " };
    let newline = |out: &mut String, level: usize| {
        if let Some(width) = indent {
            out.push('\n');
            out.extend(std::iter::repeat_n(' ', width * level));
        }
    };
    match value {
        Json::Null => out.push_str("null"),
        Json::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Json::Number(n) => match n.as_f64() {
            Some(f) if !n.is_i64() && !n.is_u64() => out.push_str(&py_float_repr(f)),
            _ => out.push_str(&n.to_string()),
        },
        // serde_json escapes exactly the characters Python's encoder escapes when
        // `ensure_ascii=False`: `"`, `\`, and control characters (as \n, \t, … or \u00XX).
        Json::String(s) => out.push_str(&serde_json::to_string(s).expect("strings serialize")),
        Json::Array(items) => {
            if items.is_empty() {
                out.push_str("[]");
                return;
            }
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push_str(item_sep);
                }
                newline(out, level + 1);
                write_py_json(item, indent, level + 1, out);
            }
            newline(out, level);
            out.push(']');
        }
        Json::Object(map) => {
            if map.is_empty() {
                out.push_str("{}");
                return;
            }
            out.push('{');
            for (i, (key, item)) in map.iter().enumerate() {
                if i > 0 {
                    out.push_str(item_sep);
                }
                newline(out, level + 1);
                out.push_str(&serde_json::to_string(key).expect("strings serialize"));
                out.push_str(": ");
                write_py_json(item, indent, level + 1, out);
            }
            newline(out, level);
            out.push('}');
        }
    }
}

/// Python's `repr(float)`: the shortest digits that round-trip, positional for exponents in
/// `-4..16`, otherwise `d.ddde±XX`.
pub fn py_float_repr(f: f64) -> String {
    if f.is_nan() {
        return "NaN".into();
    }
    if f.is_infinite() {
        return if f > 0.0 { "Infinity" } else { "-Infinity" }.into();
    }
    // Rust's `{:e}` gives the shortest round-trip digits: `-1.2345e-7`.
    let sci = format!("{f:e}");
    let (mantissa, exp) = sci.split_once('e').expect("`{:e}` always has an exponent");
    let exp: i32 = exp.parse().expect("`{:e}` exponent is an integer");
    let (sign, mantissa) = match mantissa.strip_prefix('-') {
        Some(m) => ("-", m),
        None => ("", mantissa),
    };
    let digits: String = mantissa.chars().filter(|c| *c != '.').collect();
    if (-4..16).contains(&exp) {
        let point = exp + 1; // digits before the decimal point
        let body = if point <= 0 {
            format!("0.{}{}", "0".repeat((-point) as usize), digits)
        } else if (point as usize) >= digits.len() {
            format!("{}{}.0", digits, "0".repeat(point as usize - digits.len()))
        } else {
            format!(
                "{}.{}",
                &digits[..point as usize],
                &digits[point as usize..]
            )
        };
        format!("{sign}{body}")
    } else {
        let mantissa = if digits.len() > 1 {
            format!("{}.{}", &digits[..1], &digits[1..])
        } else {
            digits
        };
        let exp_sign = if exp < 0 { '-' } else { '+' };
        format!("{sign}{mantissa}e{exp_sign}{:02}", exp.abs())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn floats_print_as_python_does() {
        for (f, want) in [
            (1.0, "1.0"),
            (0.5, "0.5"),
            (-2.25, "-2.25"),
            (1e-5, "1e-05"),
            (0.0001, "0.0001"),
            (1e16, "1e+16"),
            (123456789012345.6, "123456789012345.6"),
            (0.1 + 0.2, "0.30000000000000004"),
            (1.5e300, "1.5e+300"),
            (0.0, "0.0"),
        ] {
            assert_eq!(py_float_repr(f), want, "{f}");
        }
    }

    #[test]
    fn tojson_matches_json_dumps() {
        let value =
            serde_json::json!({"a": [1, 2.5, "é\n\"x\""], "b": {}, "c": [], "d": null, "e": true});
        let mut out = String::new();
        write_py_json(&value, None, 0, &mut out);
        assert_eq!(
            out,
            r#"{"a": [1, 2.5, "é\n\"x\""], "b": {}, "c": [], "d": null, "e": true}"#
        );
        let mut out = String::new();
        write_py_json(&serde_json::json!({"a": [1, 2]}), Some(2), 0, &mut out);
        assert_eq!(out, "{\n  \"a\": [\n    1,\n    2\n  ]\n}");
    }

    #[test]
    fn raise_exception_and_missing_templates() {
        let t = ChatTemplate::new(
            "{% if messages|length == 0 %}{{ raise_exception('no messages') }}{% endif %}ok".into(),
            serde_json::Map::new(),
        )
        .unwrap();
        let err = t
            .render(&serde_json::json!([]), &RenderOptions::default())
            .unwrap_err()
            .to_string();
        assert!(err.contains("no messages"), "{err}");
        let dir = tempfile::tempdir().unwrap();
        let cfg = dir.path().join("tokenizer_config.json");
        std::fs::write(&cfg, r#"{"eos_token": "</s>"}"#).unwrap();
        assert!(ChatTemplate::from_files(Some(&cfg), None)
            .unwrap()
            .is_none());
        std::fs::write(
            &cfg,
            r#"{"eos_token": {"content": "</s>"}, "chat_template": [{"name": "default", "template": "{{ eos_token }}"}]}"#,
        )
        .unwrap();
        let t = ChatTemplate::from_files(Some(&cfg), None).unwrap().unwrap();
        assert_eq!(
            t.render(&serde_json::json!([]), &RenderOptions::default())
                .unwrap(),
            "</s>"
        );
    }
}
