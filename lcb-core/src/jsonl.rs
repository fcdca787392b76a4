//! Reading JSON Lines files, plain or gzip-compressed, with line numbers kept for errors.

use std::fs::File;
use std::io::{BufRead, BufReader, Read};
use std::path::Path;

use serde_json::{Map, Value};

use crate::error::{Error, Result};

/// One parsed line of a JSON Lines file: its 1-based line number and its object.
#[derive(Debug, Clone)]
pub struct Record {
    /// 1-based line number in the (decompressed) file.
    pub line: usize,
    /// The JSON object on that line.
    pub fields: Map<String, Value>,
}

/// Opens `path` for reading, transparently decompressing it when its name ends in `.gz`.
pub fn open(path: &Path) -> Result<Box<dyn BufRead>> {
    let file = File::open(path).map_err(|error| Error::Io {
        path: path.to_owned(),
        error,
    })?;
    let reader: Box<dyn Read> = if path.extension().is_some_and(|e| e == "gz") {
        Box::new(flate2::read::MultiGzDecoder::new(file))
    } else {
        Box::new(file)
    };
    Ok(Box::new(BufReader::with_capacity(1 << 20, reader)))
}

/// Reads the whole (decompressed) content of `path` as UTF-8 text.
pub fn read_to_string(path: &Path) -> Result<String> {
    let mut text = String::new();
    open(path)?
        .read_to_string(&mut text)
        .map_err(|error| Error::Io {
            path: path.to_owned(),
            error,
        })?;
    Ok(text)
}

/// Reads every non-blank line of a JSON Lines file as a JSON object.
///
/// Errors name the file and the line: invalid JSON, a value that is not an object, or an
/// I/O failure part-way. A file with no records is an [`Error::Empty`].
pub fn read_objects(path: &Path) -> Result<Vec<Record>> {
    let mut records = Vec::new();
    for (index, line) in open(path)?.lines().enumerate() {
        let line_no = index + 1;
        let line = line.map_err(|error| Error::Io {
            path: path.to_owned(),
            error,
        })?;
        if line.trim().is_empty() {
            continue;
        }
        let value: Value = serde_json::from_str(&line).map_err(|e| Error::Json {
            path: path.to_owned(),
            line: line_no,
            message: e.to_string(),
        })?;
        match value {
            Value::Object(fields) => records.push(Record {
                line: line_no,
                fields,
            }),
            other => {
                return Err(Error::Json {
                    path: path.to_owned(),
                    line: line_no,
                    message: format!("expected a JSON object, found {}", kind_of(&other)),
                })
            }
        }
    }
    if records.is_empty() {
        return Err(Error::Empty {
            path: path.to_owned(),
        });
    }
    Ok(records)
}

/// A short name for the JSON type of `value`, for error messages.
pub fn kind_of(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

impl Record {
    /// The string field `name`, or a field error naming `path` and this record's line.
    pub fn str_field(&self, path: &Path, name: &str) -> Result<&str> {
        match self.fields.get(name) {
            Some(Value::String(s)) => Ok(s),
            Some(other) => Err(Error::field(
                path,
                self.line,
                name,
                format!("expected a string, found {}", kind_of(other)),
            )),
            None => Err(Error::field(path, self.line, name, "missing")),
        }
    }

    /// The string field `name` if present, `None` if absent or null.
    pub fn opt_str_field(&self, path: &Path, name: &str) -> Result<Option<&str>> {
        match self.fields.get(name) {
            None | Some(Value::Null) => Ok(None),
            Some(_) => self.str_field(path, name).map(Some),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn reads_plain_and_gzip_with_line_numbers() {
        let dir = tempfile::tempdir().unwrap();
        let plain = dir.path().join("a.jsonl");
        std::fs::write(&plain, "{\"a\": 1}\n\n{\"a\": 2}\n").unwrap();
        let recs = read_objects(&plain).unwrap();
        assert_eq!(recs.iter().map(|r| r.line).collect::<Vec<_>>(), vec![1, 3]);

        let gz = dir.path().join("a.jsonl.gz");
        let mut enc = flate2::write::GzEncoder::new(
            std::fs::File::create(&gz).unwrap(),
            flate2::Compression::default(),
        );
        enc.write_all(b"{\"a\": 1}\n{\"a\": 2}\n").unwrap();
        enc.finish().unwrap();
        assert_eq!(read_objects(&gz).unwrap().len(), 2);
    }

    #[test]
    fn invalid_line_is_reported_with_its_number() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("bad.jsonl");
        std::fs::write(&p, "{\"a\": 1}\n{\"a\": \n").unwrap();
        let err = read_objects(&p).unwrap_err().to_string();
        assert!(err.contains("bad.jsonl:2: invalid JSON"), "{err}");
        std::fs::write(&p, "[1]\n").unwrap();
        let err = read_objects(&p).unwrap_err().to_string();
        assert!(
            err.contains(":1: invalid JSON: expected a JSON object"),
            "{err}"
        );
    }

    #[test]
    fn empty_and_missing_files_are_errors() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("empty.jsonl");
        std::fs::write(&p, "\n  \n").unwrap();
        assert!(matches!(read_objects(&p), Err(Error::Empty { .. })));
        let missing = dir.path().join("nope.jsonl");
        let err = read_objects(&missing).unwrap_err().to_string();
        assert!(err.contains("nope.jsonl"), "{err}");
    }
}
