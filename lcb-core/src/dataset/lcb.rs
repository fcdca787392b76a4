//! Parsing LiveCodeBench `code_generation_lite` rows.
//!
//! Every field of a row is a string. `public_test_cases` is JSON text; `private_test_cases` is
//! either JSON text or, as the real dataset stores it, base64 → zlib → pickle (one `str`) → JSON.
//! `metadata` is JSON text holding `func_name` for functional problems.

use std::io::Read;
use std::path::Path;

use base64::Engine as _;
use serde_json::Value;

use crate::error::{Error, Result};
use crate::jsonl::Record;
use crate::problem::{LcbProblem, TestCase};

/// The fields that make a row a LiveCodeBench row.
pub const REQUIRED_FIELDS: [&str; 11] = [
    "question_title",
    "question_content",
    "platform",
    "question_id",
    "contest_id",
    "contest_date",
    "starter_code",
    "difficulty",
    "public_test_cases",
    "private_test_cases",
    "metadata",
];

/// Whether `record` looks like a LiveCodeBench row (it has `question_id` and `question_content`).
pub fn is_lcb_row(record: &Record) -> bool {
    record.fields.contains_key("question_id") && record.fields.contains_key("question_content")
}

/// Parses one row; errors name `path`, the row's line and the offending field.
pub fn parse_row(path: &Path, record: &Record) -> Result<LcbProblem> {
    let s = |name: &str| record.str_field(path, name).map(str::to_owned);
    let field_err = |name: &str, message: String| Error::field(path, record.line, name, message);

    let public_tests =
        parse_tests(&s("public_test_cases")?).map_err(|m| field_err("public_test_cases", m))?;
    let private_tests = decode_private_tests(&s("private_test_cases")?)
        .map_err(|m| field_err("private_test_cases", m))?;
    let metadata_text = s("metadata")?;
    let metadata: Value = serde_json::from_str(&metadata_text)
        .map_err(|e| field_err("metadata", format!("not JSON: {e}")))?;
    let func_name = match metadata.get("func_name") {
        None | Some(Value::Null) => None,
        Some(Value::String(name)) => Some(name.clone()),
        Some(other) => {
            return Err(field_err(
                "metadata",
                format!("func_name must be a string, found {other}"),
            ))
        }
    };
    let contest_date = s("contest_date")?;
    super::selection::parse_contest_date(&contest_date)
        .map_err(|e| field_err("contest_date", e.to_string()))?;

    Ok(LcbProblem {
        question_title: s("question_title")?,
        question_content: s("question_content")?,
        platform: s("platform")?,
        question_id: s("question_id")?,
        contest_id: s("contest_id")?,
        contest_date,
        starter_code: s("starter_code")?,
        difficulty: s("difficulty")?,
        public_tests,
        private_tests,
        func_name,
        metadata,
    })
}

/// Parses JSON text holding a list of `{"input", "output", "testtype"}` objects.
pub fn parse_tests(text: &str) -> std::result::Result<Vec<TestCase>, String> {
    serde_json::from_str(text).map_err(|e| format!("not a JSON list of tests: {e}"))
}

/// Decodes `private_test_cases`: plain JSON first (as LCB tries), else
/// base64 → zlib → pickle → JSON.
pub fn decode_private_tests(text: &str) -> std::result::Result<Vec<TestCase>, String> {
    if let Ok(tests) = serde_json::from_str::<Vec<TestCase>>(text) {
        return Ok(tests);
    }
    let compressed = base64::engine::general_purpose::STANDARD
        .decode(text.trim())
        .map_err(|e| format!("neither JSON nor base64: {e}"))?;
    let mut pickled = Vec::new();
    flate2::read::ZlibDecoder::new(compressed.as_slice())
        .read_to_end(&mut pickled)
        .map_err(|e| format!("base64 payload is not zlib data: {e}"))?;
    let json_text: String = serde_pickle::from_slice(&pickled, serde_pickle::DeOptions::new())
        .map_err(|e| format!("zlib payload is not a pickled string: {e}"))?;
    parse_tests(&json_text)
}

/// Encodes tests the way the real dataset stores `private_test_cases`
/// (used to write fixtures and test corpora).
pub fn encode_private_tests(tests: &[TestCase]) -> String {
    use std::io::Write;
    let json_text = python_json_dumps(&serde_json::to_value(tests).expect("tests serialize"));
    let pickled = pickle_str_protocol4(&json_text);
    let mut enc = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
    enc.write_all(&pickled).expect("writing to memory");
    base64::engine::general_purpose::STANDARD.encode(enc.finish().expect("writing to memory"))
}

/// `pickle.dumps(text, protocol=4)` as CPython writes it for one `str`.
///
/// serde-pickle (used for reading) writes protocol 3; the dataset's bytes need protocol 4's
/// framing: `PROTO 4`, a `FRAME` around the opcodes unless the string is 64 KiB or more (then
/// CPython writes it outside any frame), `SHORT_BINUNICODE` or `BINUNICODE`, `MEMOIZE`, `STOP`.
fn pickle_str_protocol4(text: &str) -> Vec<u8> {
    const FRAME_SIZE_TARGET: usize = 64 * 1024;
    let bytes = text.as_bytes();
    let mut body = Vec::with_capacity(bytes.len() + 8);
    if bytes.len() < 256 {
        body.push(0x8c); // SHORT_BINUNICODE
        body.push(bytes.len() as u8);
    } else {
        body.push(b'X'); // BINUNICODE
        body.extend_from_slice(&(bytes.len() as u32).to_le_bytes());
    }
    body.extend_from_slice(bytes);
    body.extend_from_slice(&[0x94, b'.']); // MEMOIZE, STOP
    let mut out = vec![0x80, 4]; // PROTO 4
    if bytes.len() < FRAME_SIZE_TARGET {
        out.push(0x95); // FRAME
        out.extend_from_slice(&(body.len() as u64).to_le_bytes());
    }
    out.extend_from_slice(&body);
    out
}

/// Serialises `value` like Python's `json.dumps` with default arguments
/// (`", "` and `": "` separators, non-ASCII escaped as `\uXXXX`).
pub fn python_json_dumps(value: &Value) -> String {
    let mut out = String::new();
    write_python_json(value, &mut out);
    out
}

fn write_python_json(value: &Value, out: &mut String) {
    match value {
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                write_python_json(item, out);
            }
            out.push(']');
        }
        Value::Object(map) => {
            out.push('{');
            for (i, (k, v)) in map.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                write_python_string(k, out);
                out.push_str(": ");
                write_python_json(v, out);
            }
            out.push('}');
        }
        Value::String(s) => write_python_string(s, out),
        other => out.push_str(&other.to_string()),
    }
}

fn write_python_string(s: &str, out: &mut String) {
    use std::fmt::Write;
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{08}' => out.push_str("\\b"),
            '\u{0c}' => out.push_str("\\f"),
            c if (c as u32) < 0x20 || (c as u32) > 0x7e => {
                let mut buf = [0u16; 2];
                for unit in c.encode_utf16(&mut buf) {
                    let _ = write!(out, "\\u{:04x}", unit);
                }
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::problem::TestType;

    /// The real `private_test_cases` of codeforces `1873_A` (lcb-format.md a.4).
    const REAL_1873_A: &str = "eJxrYJmaz8gABhEZQEZ0tVJmXkFpiZKVgpJhTF5iUnJMnpKOglJ+aQlUNNI1GCJUklpcUlJZkAoSLC5JycxTqtVRQNJuDNWOILAYhCCIMdI0Ji85MQloWjKQSE5KjMlLSgSam5SciG64nz+y2WACJESMJWYY7ibFG8T5KnaKHgAcinnp";

    #[test]
    fn decodes_the_real_dataset_encoding() {
        let tests = decode_private_tests(REAL_1873_A).unwrap();
        assert_eq!(tests.len(), 4);
        assert_eq!(tests[0].input, "1\nabc\n");
        assert_eq!(tests[0].output, "YES\n");
        assert_eq!(tests[0].testtype, TestType::Stdin);
        assert_eq!(tests[3].input, "6\nabc\nabc\nabc\nabc\nabc\nabc\n");
        assert_eq!(tests[3].output, "YES\nYES\nYES\nYES\nYES\nYES\n");
    }

    #[test]
    fn encoding_round_trips_with_python_identical_pickle_and_json() {
        let tests = decode_private_tests(REAL_1873_A).unwrap();
        assert_eq!(
            decode_private_tests(&encode_private_tests(&tests)).unwrap(),
            tests
        );
        // The pickled JSON text is byte-identical to the dataset's; only the deflate stream
        // may differ (zlib vs miniz), which every inflater reads alike.
        let inflate = |b64: &str| {
            let bytes = base64::engine::general_purpose::STANDARD
                .decode(b64)
                .unwrap();
            let mut out = Vec::new();
            flate2::read::ZlibDecoder::new(bytes.as_slice())
                .read_to_end(&mut out)
                .unwrap();
            out
        };
        assert_eq!(inflate(&encode_private_tests(&tests)), inflate(REAL_1873_A));
    }

    #[test]
    fn pickle_framing_matches_cpython() {
        // pickle.dumps("abc", protocol=4)
        assert_eq!(
            pickle_str_protocol4("abc"),
            b"\x80\x04\x95\x07\0\0\0\0\0\0\0\x8c\x03abc\x94."
        );
        // 300 bytes: BINUNICODE inside a frame.
        let mid = pickle_str_protocol4(&"a".repeat(300));
        assert_eq!(&mid[..12], b"\x80\x04\x95\x33\x01\0\0\0\0\0\0X");
        // 70,000 bytes: no frame at all.
        let big = pickle_str_protocol4(&"a".repeat(70_000));
        assert_eq!(&big[..7], b"\x80\x04X\x70\x11\x01\0");
        assert_eq!(&big[big.len() - 2..], b"\x94.");
        for text in ["abc".to_owned(), "a".repeat(300), "a".repeat(70_000)] {
            let back: String =
                serde_pickle::from_slice(&pickle_str_protocol4(&text), Default::default()).unwrap();
            assert_eq!(back, text);
        }
    }

    #[test]
    fn plain_json_private_tests_are_accepted() {
        let text = r#"[{"input": "1\n", "output": "2\n", "testtype": "stdin"}]"#;
        assert_eq!(decode_private_tests(text).unwrap().len(), 1);
    }

    #[test]
    fn garbage_private_tests_are_explained() {
        let err = decode_private_tests("not base64 !!").unwrap_err();
        assert!(err.contains("neither JSON nor base64"), "{err}");
        let err = decode_private_tests("aGVsbG8=").unwrap_err();
        assert!(err.contains("not zlib"), "{err}");
    }

    #[test]
    fn unknown_test_type_is_an_error() {
        let text = r#"[{"input": "1", "output": "2", "testtype": "interactive"}]"#;
        assert!(parse_tests(text).is_err());
    }

    #[test]
    fn python_json_dumps_escapes_like_python() {
        let v: Value = serde_json::json!({"a": ["é", "\u{1F600}", 1, null, true], "b\n": 2.5});
        assert_eq!(
            python_json_dumps(&v),
            r#"{"a": ["\u00e9", "\ud83d\ude00", 1, null, true], "b\n": 2.5}"#
        );
    }
}
