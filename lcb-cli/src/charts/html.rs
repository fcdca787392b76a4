//! One self-contained HTML page: the figure as inline SVG and the tables of the terminal view.
//! No scripts, stylesheets or fonts are fetched, so the file can be mailed or archived as is.

use std::fmt::Write;

use anyhow::Result;
use lcb_core::report::{
    BestTemperature, Comparison, Interval, QuestionView, Report, VerdictCounts,
};

use super::figure::{svg, Figure};
use super::{percent, points, temperature};

const STYLE: &str = "body{font-family:sans-serif;margin:2em;color:#222}\
table{border-collapse:collapse;margin:1em 0}\
td,th{border:1px solid #ccc;padding:3px 8px;text-align:right}\
th{background:#f3f3f3}td.l,th.l{text-align:left}\
svg{max-width:100%;height:auto}.note{color:#666}";

/// Escapes text for HTML content and attribute values.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

fn page(title: &str, body: &str) -> String {
    format!(
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <title>{}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n{body}</body>\n</html>\n",
        escape(title)
    )
}

fn interval(i: Interval) -> String {
    format!("[{:.2}, {:.2}]", 100.0 * i.low, 100.0 * i.high)
}

/// A table from a header row and body rows; the first column is left-aligned.
fn table(out: &mut String, header: &[String], rows: &[Vec<String>]) {
    out.push_str("<table>\n<tr>");
    for (i, h) in header.iter().enumerate() {
        let class = if i == 0 { " class=\"l\"" } else { "" };
        let _ = write!(out, "<th{class}>{}</th>", escape(h));
    }
    out.push_str("</tr>\n");
    for row in rows {
        out.push_str("<tr>");
        for (i, cell) in row.iter().enumerate() {
            let class = if i == 0 { " class=\"l\"" } else { "" };
            let _ = write!(out, "<td{class}>{}</td>", escape(cell));
        }
        out.push_str("</tr>\n");
    }
    out.push_str("</table>\n");
}

fn best_list(out: &mut String, title: &str, best: &[BestTemperature]) {
    if best.is_empty() {
        return;
    }
    let _ = writeln!(out, "<h2>{}</h2>", escape(title));
    let rows: Vec<Vec<String>> = best
        .iter()
        .map(|b| {
            vec![
                format!("pass@{}", b.k),
                temperature(b.temperature),
                percent(b.value),
            ]
        })
        .collect();
    table(
        out,
        &["k".into(), "temperature".into(), "value".into()],
        &rows,
    );
}

/// The page for one tree.
pub fn report_page(report: &Report) -> Result<String> {
    let mut body = String::new();
    let _ = writeln!(
        body,
        "<h1>lcb report: {}</h1>",
        escape(&report.root.display().to_string())
    );
    let mut facts = vec![format!("{} questions sampled", report.questions_sampled)];
    if let Some(model) = &report.model {
        facts.insert(0, format!("model {model}"));
    }
    if let Some(scenario) = report.scenario.as_ref().filter(|s| *s != "codegeneration") {
        facts.insert(1.min(facts.len()), format!("scenario {scenario}"));
    }
    if !report.skipped.is_empty() {
        facts.push(format!(
            "{} skipped (solved greedily)",
            report.skipped.len()
        ));
    }
    if let Some(planned) = report.questions_planned {
        facts.push(format!("{planned} planned"));
    }
    if report.finished == Some(false) {
        facts.push("sweep not finished".into());
    }
    let _ = writeln!(body, "<p>{}</p>", escape(&facts.join(", ")));
    if report.uneven() {
        body.push_str(
            "<p class=\"note\">Temperatures cover different questions (a sweep in progress); \
             compare them with care.</p>\n",
        );
    }
    body.push_str(&svg(&Figure::Report(report))?);
    body.push('\n');
    if !report.temperatures.is_empty() {
        body.push_str("<h2>Pass rate per temperature</h2>\n");
        let ks: Vec<u64> = report.ks().into_iter().filter(|&k| k > 1).collect();
        let mut header: Vec<String> = ["T", "questions", "samples", "pass@1", "95% CI"]
            .map(String::from)
            .to_vec();
        header.extend(ks.iter().map(|k| format!("pass@{k}")));
        let rows: Vec<Vec<String>> = report
            .temperatures
            .iter()
            .map(|s| {
                let mut row = vec![
                    temperature(s.temperature),
                    s.questions.to_string(),
                    s.samples.to_string(),
                    percent(s.pass_rate),
                    interval(s.ci),
                ];
                row.extend(
                    ks.iter()
                        .map(|&k| s.pass_at(k).map(percent).unwrap_or("-".into())),
                );
                row
            })
            .collect();
        table(&mut body, &header, &rows);
        body.push_str(
            "<p class=\"note\">pass@1 is the mean over questions of each question's pass rate; \
             the 95% CI is a normal interval over questions (Wilson for a single question). \
             pass@k is shown where every question at that temperature has n &ge; k.</p>\n",
        );
        best_list(&mut body, "Best temperature", &report.best);

        body.push_str("<h2>Verdicts per temperature</h2>\n");
        let columns = VerdictCounts::columns(report.temperatures.iter().map(|s| &s.verdicts));
        let mut header = vec!["T".to_owned()];
        header.extend(columns.iter().map(|v| v.as_str().to_owned()));
        header.push("unknown".into());
        let rows: Vec<Vec<String>> = report
            .temperatures
            .iter()
            .map(|s| {
                let mut row = vec![temperature(s.temperature)];
                row.extend(columns.iter().map(|&v| s.verdicts.get(v).to_string()));
                row.push(s.verdicts_unknown.to_string());
                row
            })
            .collect();
        table(&mut body, &header, &rows);

        body.push_str("<h2>Pass rate per question</h2>\n");
        let mut header = vec!["question".to_owned(), "id".into(), "title".into()];
        header.extend(
            report
                .heatmap
                .temperatures
                .iter()
                .map(|&t| format!("T={}", temperature(t))),
        );
        let rows: Vec<Vec<String>> = report
            .heatmap
            .rows
            .iter()
            .map(|r| {
                let mut row = vec![
                    format!("q{}", r.question_idx),
                    r.question_id.clone(),
                    r.question_title.clone(),
                ];
                row.extend(r.rates.iter().map(|v| v.map(percent).unwrap_or_default()));
                row
            })
            .collect();
        table(&mut body, &header, &rows);
    }
    if !report.skipped.is_empty() {
        body.push_str("<h2>Skipped (solved by greedy decoding)</h2>\n");
        let rows: Vec<Vec<String>> = report
            .skipped
            .iter()
            .map(|s| vec![format!("q{}", s.idx), s.id.clone(), s.title.clone()])
            .collect();
        table(
            &mut body,
            &["question".into(), "id".into(), "title".into()],
            &rows,
        );
    }
    warnings(&mut body, &report.warnings);
    Ok(page(
        &format!("lcb report: {}", report.root.display()),
        &body,
    ))
}

fn warnings(body: &mut String, warnings: &[lcb_core::report::LoadWarning]) {
    if warnings.is_empty() {
        return;
    }
    body.push_str("<h2>Files left out</h2>\n<ul>\n");
    for w in warnings {
        let _ = writeln!(body, "<li>{}</li>", escape(&w.to_string()));
    }
    body.push_str("</ul>\n");
}

/// The page for one question.
pub fn question_page(view: &QuestionView) -> Result<String> {
    let mut body = String::new();
    let title = format!("q{} {} {}", view.idx, view.id, view.title);
    let _ = writeln!(body, "<h1>{}</h1>", escape(&title));
    if let Some(reason) = &view.skipped {
        let _ = writeln!(
            body,
            "<p>Not sampled: {} (greedy decoding solved it).</p>",
            escape(reason)
        );
        return Ok(page(&title, &body));
    }
    body.push_str(&svg(&Figure::Question(view))?);
    let mut ks: Vec<u64> = view
        .temperatures
        .iter()
        .flat_map(|t| t.pass_at_k.iter().map(|p| p.k))
        .filter(|&k| k > 1)
        .collect();
    ks.sort_unstable();
    ks.dedup();
    let mut header: Vec<String> = ["T", "n", "passed", "rate", "95% Wilson"]
        .map(String::from)
        .to_vec();
    header.extend(ks.iter().map(|k| format!("pass@{k}")));
    let columns =
        VerdictCounts::columns(view.temperatures.iter().filter_map(|t| t.verdicts.as_ref()));
    header.extend(columns.iter().map(|v| v.as_str().to_owned()));
    let rows: Vec<Vec<String>> = view
        .temperatures
        .iter()
        .map(|t| {
            let mut row = vec![
                temperature(t.temperature),
                t.n.to_string(),
                t.passed.to_string(),
                percent(t.pass_rate),
                interval(t.ci),
            ];
            row.extend(ks.iter().map(|&k| {
                t.pass_at_k
                    .iter()
                    .find(|p| p.k == k)
                    .map(|p| percent(p.value))
                    .unwrap_or("-".into())
            }));
            row.extend(columns.iter().map(|&v| match &t.verdicts {
                Some(c) => c.get(v).to_string(),
                None => "?".into(),
            }));
            row
        })
        .collect();
    table(&mut body, &header, &rows);
    best_list(&mut body, "Best temperature", &view.best);
    Ok(page(&title, &body))
}

/// The page for a comparison.
pub fn comparison_page(cmp: &Comparison, a: &Report, b: &Report) -> Result<String> {
    let mut body = String::new();
    let _ = writeln!(
        body,
        "<h1>lcb report: comparison</h1>\n<p>A: {}<br>B: {}<br>Differences are B &minus; A in \
         percentage points (pp); the paired difference is over questions both trees sampled.</p>",
        escape(&cmp.a.display().to_string()),
        escape(&cmp.b.display().to_string())
    );
    body.push_str(&svg(&Figure::Comparison { a, b, cmp })?);
    let opt = |v: Option<f64>, f: fn(f64) -> String| v.map(f).unwrap_or_else(|| "-".into());
    let rows: Vec<Vec<String>> = cmp
        .rows
        .iter()
        .map(|r| {
            vec![
                temperature(r.temperature),
                opt(r.a, percent),
                opt(r.b, percent),
                opt(r.delta, points),
                r.common_questions.to_string(),
                opt(r.paired_delta, points),
                r.paired_ci
                    .map(|i| format!("[{:+.2}, {:+.2}]", 100.0 * i.low, 100.0 * i.high))
                    .unwrap_or("-".into()),
            ]
        })
        .collect();
    let header = [
        "T",
        "A pass@1",
        "B pass@1",
        "delta",
        "common",
        "paired delta",
        "paired 95% CI",
    ]
    .map(String::from);
    table(&mut body, &header, &rows);
    best_list(&mut body, "Best temperature, A", &cmp.best_a);
    best_list(&mut body, "Best temperature, B", &cmp.best_b);
    warnings(&mut body, &a.warnings);
    warnings(&mut body, &b.warnings);
    Ok(page("lcb report: comparison", &body))
}
