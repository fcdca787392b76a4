//! Rendering a small in-memory tree: the numbers in the text, the image sizes, the labels in
//! the SVG.

use std::path::PathBuf;

use lcb_core::report::{
    Cell, Comparison, QuestionData, QuestionView, Report, ResultsTree, SkippedQuestion,
    VerdictCounts,
};

use super::figure::{self, Figure, HEATMAP_MIN, PANEL_HEIGHT, WIDTH};
use super::{html, terminal};

fn cell(t: f64, n: u64, passed: u64) -> Cell {
    Cell {
        temperature: t,
        n,
        passed,
        verdicts: Some(VerdictCounts {
            passed,
            wrong_answer: n - passed,
            ..Default::default()
        }),
    }
}

fn question(idx: usize, cells: Vec<Cell>) -> QuestionData {
    QuestionData {
        idx,
        id: format!("id{idx}"),
        title: format!("Question <{idx}>"),
        cells,
    }
}

/// q0: 3/10 at 0.5, 5/10 at 1.0; q1: 1/10, 2/10; q2 skipped.
fn tree(root: &str, q1_at_half: u64) -> ResultsTree {
    ResultsTree {
        root: PathBuf::from(root),
        run: None,
        questions: vec![
            question(0, vec![cell(0.5, 10, 3), cell(1.0, 10, 5)]),
            question(1, vec![cell(0.5, 10, q1_at_half), cell(1.0, 10, 2)]),
        ],
        skipped: vec![SkippedQuestion {
            idx: 2,
            id: "id2".into(),
            title: "Easy".into(),
            reason: "greedy_passed".into(),
        }],
        warnings: vec![],
    }
}

fn png_size(bytes: &[u8]) -> (u32, u32) {
    assert_eq!(&bytes[..8], b"\x89PNG\r\n\x1a\n", "not a PNG");
    assert_eq!(&bytes[12..16], b"IHDR");
    let be = |b: &[u8]| u32::from_be_bytes([b[0], b[1], b[2], b[3]]);
    (be(&bytes[16..20]), be(&bytes[20..24]))
}

/// The text of every `<text>` element.
fn svg_texts(svg: &str) -> Vec<String> {
    svg.split("<text")
        .skip(1)
        .filter_map(|t| {
            let body = &t[t.find('>')? + 1..];
            Some(body[..body.find("</text>")?].trim().to_owned())
        })
        .collect()
}

#[test]
fn terminal_report_shows_the_numbers() {
    let report = Report::new(&tree("results", 1));
    let text = terminal::report_text(&report);
    // pass@1: (0.3 + 0.1) / 2 = 20%, (0.5 + 0.2) / 2 = 35%.
    assert!(text.contains("20.00%") && text.contains("35.00%"), "{text}");
    // pass@5 at 1.0: (1 - 1/252 + 1 - 56/252) / 2 = 88.69%.
    assert!(text.contains("88.69%"), "{text}");
    assert!(
        text.contains("Best temperature: pass@1 T=1.0 (35.00%)"),
        "{text}"
    );
    assert!(
        text.contains("Skipped (1 solved by greedy decoding"),
        "{text}"
    );
    assert!(text.contains("q2  id2  Easy"), "{text}");
    // The braille chart is there, with its axis labels.
    assert!(
        text.contains("T=0.50") && text.contains("T=1.00") && text.contains(" 0%"),
        "{text}"
    );
    // Per-question strips: q0 is 30% then 50% → ▃ and ▄.
    assert!(text.contains("q0  ▃▄"), "{text}");
}

#[test]
fn figures_have_the_documented_sizes() {
    let report = Report::new(&tree("results", 1));
    let fig = Figure::Report(&report);
    // Two questions: the heat map takes its minimum height.
    assert_eq!(fig.size(), (WIDTH, PANEL_HEIGHT + HEATMAP_MIN));
    let dir = tempfile::tempdir().unwrap();
    let png = dir.path().join("report.png");
    figure::write_png(&fig, &png).unwrap();
    assert_eq!(png_size(&std::fs::read(&png).unwrap()), (1200, 750));
    // Nothing but the image is left in the directory.
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);

    let svg = figure::svg(&fig).unwrap();
    assert!(
        svg.starts_with("<svg") && svg.contains("width=\"1200\""),
        "{}",
        &svg[..200]
    );
    let texts = svg_texts(&svg);
    for label in [
        "temperature",
        "pass@1",
        "question",
        "0.5",
        "1.0",
        "q0",
        "q1",
    ] {
        assert!(
            texts.iter().any(|t| t == label),
            "missing {label} in {texts:?}"
        );
    }
}

#[test]
fn question_and_comparison_figures_render() {
    let a = tree("a", 1);
    let b = tree("b", 3);
    let view = QuestionView::new(&a, 0).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let png = dir.path().join("q0.png");
    figure::write_png(&Figure::Question(&view), &png).unwrap();
    assert_eq!(
        png_size(&std::fs::read(&png).unwrap()),
        (WIDTH, PANEL_HEIGHT)
    );
    let text = terminal::question_text(&view);
    assert!(
        text.contains("30.00%") && text.contains("[10.78, 60.32]"),
        "{text}"
    );

    let (ra, rb) = (Report::new(&a), Report::new(&b));
    let cmp = Comparison::new(&a, &b);
    let fig = Figure::Comparison {
        a: &ra,
        b: &rb,
        cmp: &cmp,
    };
    let svg = figure::svg(&fig).unwrap();
    assert!(svg.contains("Paired difference"));
    let text = terminal::comparison_text(&cmp, &ra, &rb);
    // At 0.5: A 20%, B 30%, +10 pp.
    assert!(text.contains("+10.00 pp"), "{text}");
}

#[test]
fn html_page_is_self_contained_and_escaped() {
    let report = Report::new(&tree("results", 1));
    let page = html::report_page(&report).unwrap();
    assert!(page.starts_with("<!DOCTYPE html>"));
    assert!(page.contains("<svg") && page.contains("20.00%"));
    assert!(page.contains("Question &lt;0&gt;") && !page.contains("Question <0>"));
    assert!(!page.contains("<script") && !page.contains("<link"));
}

#[test]
fn empty_report_still_draws() {
    let mut t = tree("results", 1);
    t.questions.clear();
    let report = Report::new(&t);
    assert!(terminal::report_text(&report).contains("No question has samples yet"));
    let fig = Figure::Report(&report);
    assert_eq!(fig.size(), (WIDTH, PANEL_HEIGHT));
    assert!(figure::svg(&fig)
        .unwrap()
        .contains("No question has samples yet"));
}
