//! LiveCodeBench's extraction rules (`lcb_runner/utils/extraction_utils.py`), one per
//! scenario: the program of a code-generation (or self-repair) answer, the predicted value of a
//! code-execution answer, the assertion of a test-output-prediction answer.

/// What lcb grades in a raw model output for `problem`, by its scenario's rule: the program
/// (code generation), the predicted value (code execution, `cot` as the prompt had it), the
/// assertion (test output prediction); a HumanEval completion is graded as it is.
pub fn extract_for(problem: &crate::problem::Problem, output: &str, cot: bool) -> String {
    use crate::problem::Problem;
    match problem {
        Problem::Lcb(_) => extract_code(output),
        Problem::Execution(_) => extract_execution(output, cot),
        Problem::TestOutput(_) => extract_test_output(output),
        Problem::HumanEval(_) => output.to_owned(),
    }
}

/// Extracts the program from raw model output; `""` when fewer than two fence lines exist.
///
/// Any line *containing* ```` ``` ```` counts as a fence (language tag, indentation or text
/// before it do not matter), and the lines strictly between the last two are joined with `\n`.
pub fn extract_code(output: &str) -> String {
    let lines: Vec<&str> = output.split('\n').collect();
    let fences: Vec<usize> = lines
        .iter()
        .enumerate()
        .filter(|(_, line)| line.contains("```"))
        .map(|(i, _)| i)
        .collect();
    match fences.as_slice() {
        [.., open, close] => lines[open + 1..*close].join("\n"),
        _ => String::new(),
    }
}

/// `extract_execution_code`: with `cot`, what follows the first `[ANSWER]`; then what follows
/// the first `==` (up to the next one); then what precedes `[/ANSWER]`, or else the first line.
pub fn extract_execution(output: &str, cot: bool) -> String {
    let mut text = output;
    if cot {
        if let Some(after) = nth_piece(text, "[ANSWER]", 1) {
            text = py_strip(after);
        }
    }
    if let Some(after) = nth_piece(text, "==", 1) {
        text = py_strip(after);
    }
    text = match text.split_once("[/ANSWER]") {
        Some((before, _)) => py_strip(before),
        None => py_strip(text.split('\n').next().unwrap_or("")),
    };
    py_strip(text).to_owned()
}

/// `extract_test_output_code`: the last line that starts with `assert`; failing that, the
/// lines between the first ```` ```python ```` (or ```` ```Python ````) fence and the next
/// fence line, or between the first two fence lines; `""` when there are fewer than two.
pub fn extract_test_output(output: &str) -> String {
    let lines: Vec<&str> = output.split('\n').collect();
    if let Some(last) = lines.iter().rev().find(|l| l.starts_with("assert")) {
        return (*last).to_owned();
    }
    let fences: Vec<usize> = (0..lines.len())
        .filter(|&i| lines[i].contains("```"))
        .collect();
    let opened = lines
        .iter()
        .position(|l| l.contains("```python") || l.contains("```Python"));
    let bounds: Vec<usize> = match opened {
        Some(start) => std::iter::once(start)
            .chain(fences.into_iter().filter(|&i| i > start))
            .collect(),
        None => fences,
    };
    match bounds.as_slice() {
        [open, close, ..] => lines[open + 1..*close].join("\n"),
        _ => String::new(),
    }
}

/// Python's `text.split(separator)[n]`, if there are that many pieces.
fn nth_piece<'a>(text: &'a str, separator: &str, n: usize) -> Option<&'a str> {
    text.split(separator).nth(n)
}

/// Python's `str.strip()`: Unicode whitespace plus the four ASCII separators U+001C–U+001F,
/// which Python counts as whitespace and Rust does not.
fn py_strip(text: &str) -> &str {
    text.trim_matches(|c: char| c.is_whitespace() || ('\u{1c}'..='\u{1f}').contains(&c))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn last_block_wins() {
        let out = "Here:\n```python\nprint(1)\n```\nBetter:\n```python\nx = 2\nprint(x)\n```\nDone";
        assert_eq!(extract_code(out), "x = 2\nprint(x)");
    }

    #[test]
    fn fewer_than_two_fences_gives_empty() {
        assert_eq!(extract_code("print(1)"), "");
        assert_eq!(extract_code("```python\nprint(1)"), "");
    }

    #[test]
    fn odd_fence_count_takes_text_between_last_two() {
        let out = "```python\na\n```\nprose\n```python\nb";
        assert_eq!(extract_code(out), "prose");
    }

    #[test]
    fn any_line_containing_a_fence_counts() {
        assert_eq!(extract_code("Code: ```py\n  x = 1\n  ```"), "  x = 1");
        assert_eq!(extract_code("```\n\n```"), "");
        // No strip, no trailing newline added; \r stays part of lines.
        assert_eq!(extract_code("```\r\na \r\n\n```"), "a \r\n");
    }

    #[test]
    fn execution_answers() {
        let cot = "[THOUGHT]\nf returns 3\n[/THOUGHT]\n[ANSWER]\nassert f(x = 1) == 3\n[/ANSWER]";
        assert_eq!(extract_execution(cot, true), "3");
        assert_eq!(
            extract_execution("assert f(1) == 'a'\n[/ANSWER]", false),
            "'a'"
        );
        assert_eq!(extract_execution("  17\nmore", false), "17");
        // The second piece only: `a == b == c` keeps `b`.
        assert_eq!(extract_execution("f() == 1 == 1", false), "1");
        assert_eq!(extract_execution("", true), "");
        assert_eq!(extract_execution("\u{1c} 5 \u{1f}", false), "5");
    }

    #[test]
    fn test_output_answers() {
        let two = "assert f(1) == 2\nassert f(1) == 3\n  assert f(1) == 4";
        assert_eq!(extract_test_output(two), "assert f(1) == 3");
        let fenced = "```\nx\n```\n```python\nf(1) == 2\n```";
        assert_eq!(extract_test_output(fenced), "f(1) == 2");
        assert_eq!(extract_test_output("```\na\nb\n```\n```\nc\n```"), "a\nb");
        assert_eq!(extract_test_output("no code"), "");
    }
}
