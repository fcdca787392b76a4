//! LiveCodeBench's self-repair prompt, byte for byte (`lcb_runner/prompts/self_repair.py`,
//! `format_prompt_self_repair` in the `OpenAIChat` style): the question, the failed program,
//! the grader's feedback on it (`get_check_prompt`), and the request to explain and fix it.
//!
//! The feedback comes from the grading metadata lcb_runner stores per sample (a JSON object
//! with `error_code`, `inputs`, `output`, `expected`, `error`); its values are printed as
//! Python's `str()` prints them. Where lcb_runner itself raises (an error code it does not
//! know, such as LiveCodeBench's own `-5`, or a field missing), [`feedback`] says why and lcb
//! repairs without feedback (see `docs/scenarios.md`).

use serde_json::Value;

use crate::sweep::config::python_float;

use super::ChatMessage;

/// `PromptConstants.SYSTEM_MESSAGE_GENERIC` of `self_repair.py`.
pub const SYSTEM_MESSAGE: &str = "You are a helpful programming assistant and an expert Python programmer. You are helping a user write a program to solve a problem. The user has written some code, but it has some errors and is not passing the tests. You will help the user by first giving a concise (at most 2-3 sentences) textual explanation of what is wrong with the code. After you have pointed out what is wrong with the code, you will then generate a fixed version of the program. You must put the entired fixed program within code delimiters only for once.";

/// `PromptConstants.FORMATTING_WITHOUT_STARTER_CODE` of `self_repair.py` (shorter than code
/// generation's).
pub const FORMATTING_WITHOUT_STARTER_CODE: &str = "Read the inputs from stdin solve the problem and write the answer to stdout (do not directly test on the sample inputs). Enclose your code within delimiters as follows.";

/// `PromptConstants.FORMATTING_REPEAT`.
pub const FORMATTING_REPEAT: &str = "First reason about the code providing a textual explanation of what is wrong with the code and then generate a fixed of the program enclosed code delimiters.";

/// The feedback sentence for grading `metadata` (lcb_runner's `get_check_prompt`): empty
/// without an `error_code`; `Err` with lcb_runner's exception where it raises instead.
pub fn feedback(metadata: &str) -> Result<String, String> {
    let metadata: Value =
        parse_python_json(metadata).map_err(|e| format!("JSONDecodeError: {e}"))?;
    let Some(map) = metadata.as_object() else {
        // `"error_code" not in metadata` on a list or a string is a membership test that
        // lcb_runner would answer differently; such metadata never comes from a grader.
        return Err("metadata is not a JSON object".into());
    };
    let Some(code) = map.get("error_code") else {
        return Ok(String::new());
    };
    let field = |name: &str| {
        map.get(name)
            .map(python_str)
            .ok_or_else(|| format!("KeyError: '{name}'"))
    };
    // Python's `==` between the decoded value and an int: -2.0 matches -2, True and "-2" do
    // not.
    let number = match code {
        Value::Number(n) => n
            .as_f64()
            .filter(|x| x.fract() == 0.0 && x.abs() < 1e9)
            .map(|x| x as i64),
        _ => None,
    };
    Ok(match number {
        Some(-1) => format!(
            "The above code is incorrect and got the following compilation error.\n{}",
            field("error")?
        ),
        Some(-2) => format!(
            "The above code is incorrect and got a wrong answer.\nInput: {}\nGenerated Output: {}\nExpected: {}",
            field("inputs")?,
            field("output")?,
            field("expected")?
        ),
        Some(-3) => format!(
            "The above code is incorrect and got time limit exceeded.\n{}\nInput: {}\nExpected: {}",
            field("error")?,
            field("inputs")?,
            field("expected")?
        ),
        Some(-4) => format!(
            "The above code is incorrect and got a runtime error.\nInput: {}\nExpected: {}\n{}",
            field("inputs")?,
            field("expected")?,
            field("error")?
        ),
        _ => {
            return Err(format!(
                "NotImplementedError: metadata['error_code'] = {} not implemented || metadata={}",
                python_str(code),
                python_repr(&metadata)
            ))
        }
    })
}

/// The user message of `get_generic_question_template_answer`, then `"\n\n"` and
/// `FORMATTING_REPEAT`, as `format_prompt_self_repair` builds it for `OpenAIChat`.
pub fn user_message(question: &str, code: &str, feedback: &str) -> String {
    format!(
        "### Question:\n{question}\n\n### Answer:\n```python\n{code}\n```\n\n{feedback}\n### Format: {FORMATTING_WITHOUT_STARTER_CODE}\n```python\n# YOUR CODE HERE\n```\n\n### Answer: (use the provided format with backticks)\n\n\n\n{FORMATTING_REPEAT}"
    )
}

/// lcb_runner's `OpenAIChat` messages for repairing `code`, with `feedback`.
pub fn messages(question: &str, code: &str, feedback: &str) -> Vec<ChatMessage> {
    vec![
        ChatMessage::new("system", SYSTEM_MESSAGE),
        ChatMessage::new("user", user_message(question, code, feedback)),
    ]
}

/// The head every repair prompt of a question shares (the system message and the question):
/// the anchor the engine prefills once for all of them.
pub fn shared_head(question: &str) -> Vec<ChatMessage> {
    messages(question, "", "")
}

/// JSON as Python's `json.loads` reads it: also `NaN`, `Infinity` and `-Infinity` outside
/// strings (kept as marked strings that [`python_str`] prints as Python does).
fn parse_python_json(text: &str) -> Result<Value, serde_json::Error> {
    let mut out = String::with_capacity(text.len());
    let (mut in_string, mut escaped) = (false, false);
    let mut rest = text;
    while let Some(c) = rest.chars().next() {
        if in_string {
            out.push(c);
            match (escaped, c) {
                (true, _) => escaped = false,
                (false, '\\') => escaped = true,
                (false, '"') => in_string = false,
                _ => {}
            }
            rest = &rest[c.len_utf8()..];
            continue;
        }
        let special = ["-Infinity", "Infinity", "NaN"]
            .into_iter()
            .find(|w| rest.starts_with(w));
        if let Some(word) = special {
            // The marker's NUL travels as a JSON escape.
            out.push_str(&format!("\"\\u0000{}{word}\"", &NON_FINITE[1..]));
            rest = &rest[word.len()..];
            continue;
        }
        if c == '"' {
            in_string = true;
        }
        out.push(c);
        rest = &rest[c.len_utf8()..];
    }
    serde_json::from_str(&out)
}

/// Marks a non-finite number read by [`parse_python_json`].
const NON_FINITE: &str = "\u{0}lcb-non-finite:";

/// Python's `str()` of a decoded JSON value: strings as they are, anything else as its repr.
fn python_str(value: &Value) -> String {
    match value {
        Value::String(s) if !s.starts_with(NON_FINITE) => s.clone(),
        other => python_repr(other),
    }
}

/// Python's `repr()` of a decoded JSON value.
fn python_repr(value: &Value) -> String {
    match value {
        Value::Null => "None".into(),
        Value::Bool(true) => "True".into(),
        Value::Bool(false) => "False".into(),
        Value::Number(n) if n.is_i64() || n.is_u64() => n.to_string(),
        Value::Number(n) => python_float(n.as_f64().unwrap_or(f64::NAN)),
        Value::String(s) => match s.strip_prefix(NON_FINITE) {
            Some("NaN") => "nan".into(),
            Some("Infinity") => "inf".into(),
            Some(_) => "-inf".into(),
            None => python_str_repr(s),
        },
        Value::Array(items) => {
            let items: Vec<String> = items.iter().map(python_repr).collect();
            format!("[{}]", items.join(", "))
        }
        Value::Object(map) => {
            let items: Vec<String> = map
                .iter()
                .map(|(k, v)| format!("{}: {}", python_str_repr(k), python_repr(v)))
                .collect();
            format!("{{{}}}", items.join(", "))
        }
    }
}

/// Python's `repr(str)`: single quotes unless the text has one and no double quote;
/// backslashes, the quote, and characters Python does not print escaped.
fn python_str_repr(s: &str) -> String {
    let quote = if s.contains('\'') && !s.contains('"') {
        '"'
    } else {
        '\''
    };
    let mut out = String::with_capacity(s.len() + 2);
    out.push(quote);
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c == quote => {
                out.push('\\');
                out.push(c);
            }
            c if !printable(c) => {
                let n = c as u32;
                if n < 0x100 {
                    out.push_str(&format!("\\x{n:02x}"));
                } else if n < 0x10000 {
                    out.push_str(&format!("\\u{n:04x}"));
                } else {
                    out.push_str(&format!("\\U{n:08x}"));
                }
            }
            c => out.push(c),
        }
    }
    out.push(quote);
    out
}

/// Python's `str.isprintable` for one character, for the characters model feedback holds:
/// not a control character, a separator other than the ASCII space, or a format character.
fn printable(c: char) -> bool {
    let n = c as u32;
    !(c.is_control()
        || matches!(n, 0xa0 | 0xad | 0x1680 | 0x2000..=0x200f | 0x2028..=0x202f | 0x205f..=0x2064 | 0x3000 | 0xfeff)
        || (0xd800..=0xdfff).contains(&n)
        || (0xe000..=0xf8ff).contains(&n))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn floats_print_as_python_repr_does() {
        for (x, text) in [
            (1e20, "1e+20"),
            (1e5, "100000.0"),
            (-0.0, "-0.0"),
            (1e-7, "1e-07"),
            (1.5, "1.5"),
            (0.0001, "0.0001"),
            (1e16, "1e+16"),
            (1e15, "1000000000000000.0"),
            (123.456, "123.456"),
        ] {
            assert_eq!(python_float(x), text, "{x}");
        }
    }

    #[test]
    fn strings_print_as_python_repr_does() {
        assert_eq!(python_str_repr("it's"), "\"it's\"");
        assert_eq!(python_str_repr("a\"b"), "'a\"b'");
        assert_eq!(python_str_repr("both ' \""), "'both \\' \"'");
        assert_eq!(python_str_repr("é\n\u{a0}"), "'é\\n\\xa0'");
    }
}
