//! LiveCodeBench's code-extraction rule (`lcb_runner/utils/extraction_utils.py`): the code is
//! the text between the last two lines that contain a ```` ``` ```` fence.

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
}
