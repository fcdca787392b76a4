//! The terminal view: a braille chart of pass rate vs temperature and plain-text tables.
//!
//! Everything is returned as a `String` (no colours, no terminal queries), so the output is
//! the same on a terminal, in a pipe or in a log file.

use std::fmt::Write;

use lcb_core::report::{
    BestTemperature, Comparison, Interval, QuestionView, Report, TemperatureStats, VerdictCounts,
};
use textplots::{Chart, LabelBuilder, LabelFormat, Plot, Shape, TickDisplay, TickDisplayBuilder};

use super::{percent, points, rate_ceiling, temperature, temperature_range};

/// Braille canvas size in dots (2 × 4 dots per character): 70 columns, 16 rows.
const CHART_WIDTH: u32 = 140;
const CHART_HEIGHT: u32 = 64;

/// One curve: `(temperature, value, 95% interval)`, values as fractions.
pub type Curve = Vec<(f64, f64, Interval)>;

/// A braille chart of `curves` against temperature: solid lines for the values, dotted lines
/// for the interval bounds; y from 0 to a round percentage above the highest bound.
pub fn rate_chart(curves: &[Curve]) -> String {
    let temps: Vec<f64> = curves.iter().flatten().map(|p| p.0).collect();
    if temps.is_empty() {
        return String::new();
    }
    let (x0, x1) = temperature_range(&temps, 0.0);
    let top = curves
        .iter()
        .flatten()
        .map(|p| p.2.high.max(p.1))
        .fold(0.0, f64::max);
    // Sparse y ticks split the axis in four: a top at a multiple of 20% keeps them round.
    let y_range = (0.0, (rate_ceiling(top) * 5.0).ceil() / 5.0);
    let pct = |v: f64| (100.0 * v) as f32;
    let lines: Vec<Vec<(f32, f32)>> = curves
        .iter()
        .map(|c| c.iter().map(|p| (p.0 as f32, pct(p.1))).collect())
        .collect();
    // The interval bounds as dots spaced a few braille dots apart, so they read as dotted lines
    // next to the solid value line.
    let step = (x1 - x0) / (CHART_WIDTH as f64 / 3.0);
    let dotted = |bound: fn(&Interval) -> f64| -> Vec<Vec<(f32, f32)>> {
        curves
            .iter()
            .map(|c| {
                let mut dots = Vec::new();
                for pair in c.windows(2) {
                    let ((ta, _, ia), (tb, _, ib)) = (&pair[0], &pair[1]);
                    let segments = ((tb - ta) / step).ceil().max(1.0) as usize;
                    for s in 0..segments {
                        let f = s as f64 / segments as f64;
                        let v = bound(ia) + f * (bound(ib) - bound(ia));
                        dots.push(((ta + f * (tb - ta)) as f32, pct(v)));
                    }
                }
                if let Some((t, _, i)) = c.last() {
                    dots.push((*t as f32, pct(bound(i))));
                }
                dots
            })
            .collect()
    };
    let lows = dotted(|i| i.low);
    let highs = dotted(|i| i.high);
    let mut shapes: Vec<Shape> = lines.iter().map(|l| Shape::Lines(l)).collect();
    shapes.extend(lows.iter().chain(&highs).map(|d| Shape::Points(d)));
    // A lone temperature has no line to draw: mark it with a dot.
    shapes.extend(
        lines
            .iter()
            .filter(|l| l.len() == 1)
            .map(|l| Shape::Points(l)),
    );

    let mut chart = Chart::new_with_y_range(
        CHART_WIDTH,
        CHART_HEIGHT,
        x0 as f32,
        x1 as f32,
        pct(y_range.0),
        pct(y_range.1),
    );
    let mut c = chart
        .y_tick_display(TickDisplay::Sparse)
        .y_label_format(LabelFormat::Custom(Box::new(|v| format!("{v:.0}%"))))
        .x_label_format(LabelFormat::Custom(Box::new(|v| format!("T={v:.2}"))));
    for shape in &shapes {
        c = c.lineplot(shape);
    }
    c.axis();
    c.figures();
    c.to_string()
}

/// The pass@1 curve of a report.
pub fn overall_curve(report: &Report) -> Curve {
    report
        .temperatures
        .iter()
        .map(|s| (s.temperature, s.pass_rate, s.ci))
        .collect()
}

/// The full terminal report of one tree.
pub fn report_text(report: &Report) -> String {
    let mut out = String::new();
    header(&mut out, report);
    if report.temperatures.is_empty() {
        out.push_str("\nNo question has samples yet.\n");
    } else {
        let _ = writeln!(
            out,
            "\nPass rate (pass@1, mean over questions) vs temperature; dotted: 95% CI"
        );
        out.push_str(&rate_chart(&[overall_curve(report)]));
        out.push('\n');
        stats_table(&mut out, report);
        best_line(&mut out, "Best temperature", &report.best);
        verdict_table(&mut out, &report.temperatures);
        heat_strips(&mut out, report);
    }
    skipped_list(&mut out, report);
    trim_line_ends(out)
}

/// Drops the padding that fixed-width columns leave at line ends.
fn trim_line_ends(text: String) -> String {
    let mut out = String::with_capacity(text.len());
    for line in text.lines() {
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

fn header(out: &mut String, report: &Report) {
    let _ = write!(out, "Results: {}", report.root.display());
    if let Some(model) = &report.model {
        let _ = write!(out, "  (model {model})");
    }
    if let Some(scenario) = report.scenario.as_ref().filter(|s| *s != "codegeneration") {
        let _ = write!(out, "  scenario {scenario}");
    }
    out.push('\n');
    let mut parts = vec![format!("{} questions sampled", report.questions_sampled)];
    if !report.skipped.is_empty() {
        parts.push(format!(
            "{} skipped (solved greedily)",
            report.skipped.len()
        ));
    }
    if let Some(planned) = report.questions_planned {
        parts.push(format!("{planned} planned"));
    }
    match report.finished {
        Some(true) => parts.push("sweep finished".into()),
        Some(false) => parts.push("sweep not finished".into()),
        None => parts.push("no run_summary.json".into()),
    }
    let _ = writeln!(out, "{}", parts.join(", "));
    if report.uneven() {
        out.push_str(
            "Note: temperatures cover different questions (a sweep in progress); \
             compare them with care.\n",
        );
    }
}

fn stats_table(out: &mut String, report: &Report) {
    let ks: Vec<u64> = report.ks().into_iter().filter(|&k| k > 1).collect();
    let _ = write!(
        out,
        "\n{:>6}  {:>9}  {:>9}  {:>8}  {:<18}",
        "T", "questions", "samples", "pass@1", "95% CI"
    );
    for k in &ks {
        let _ = write!(out, "  {:>8}", format!("pass@{k}"));
    }
    out.push('\n');
    for s in &report.temperatures {
        let _ = write!(
            out,
            "{:>6}  {:>9}  {:>9}  {:>8}  {:<18}",
            temperature(s.temperature),
            s.questions,
            s.samples,
            percent(s.pass_rate),
            interval(s.ci)
        );
        for &k in &ks {
            let cell = s.pass_at(k).map(percent).unwrap_or_else(|| "-".into());
            let _ = write!(out, "  {cell:>8}");
        }
        out.push('\n');
    }
    if !ks.is_empty() {
        out.push_str("(pass@k shown where every question at that temperature has n >= k)\n");
    }
}

fn interval(i: Interval) -> String {
    format!("[{:.2}, {:.2}]", 100.0 * i.low, 100.0 * i.high)
}

fn best_line(out: &mut String, label: &str, best: &[BestTemperature]) {
    if best.is_empty() {
        return;
    }
    let parts: Vec<String> = best
        .iter()
        .map(|b| {
            format!(
                "pass@{} T={} ({})",
                b.k,
                temperature(b.temperature),
                percent(b.value)
            )
        })
        .collect();
    let _ = writeln!(out, "\n{label}: {}", parts.join(", "));
}

fn verdict_table(out: &mut String, temps: &[TemperatureStats]) {
    let unknown = temps.iter().any(|s| s.verdicts_unknown > 0);
    let columns = VerdictCounts::columns(temps.iter().map(|s| &s.verdicts));
    let _ = write!(out, "\nVerdicts per temperature\n{:>6}", "T");
    for &v in &columns {
        let _ = write!(
            out,
            "  {:>width$}",
            v.as_str(),
            width = v.as_str().len().max(7)
        );
    }
    if unknown {
        let _ = write!(out, "  {:>7}", "unknown");
    }
    out.push('\n');
    for s in temps {
        let _ = write!(out, "{:>6}", temperature(s.temperature));
        for &v in &columns {
            let width = v.as_str().len().max(7);
            let _ = write!(out, "  {:>width$}", s.verdicts.get(v));
        }
        if unknown {
            let _ = write!(out, "  {:>7}", s.verdicts_unknown);
        }
        out.push('\n');
    }
    if unknown {
        out.push_str("(unknown: samples known only from summary.json, without verdicts)\n");
    }
}

/// One character per temperature and question: the pass rate as a bar height.
fn heat_strips(out: &mut String, report: &Report) {
    const BARS: [char; 8] = ['▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'];
    let heat = &report.heatmap;
    let _ = writeln!(
        out,
        "\nPer question, one column per temperature ({} .. {}): \
         '.' 0%, ▁ up to 12.5% .. █ up to 100%, blank: not sampled",
        temperature(heat.temperatures[0]),
        temperature(heat.temperatures[heat.temperatures.len() - 1])
    );
    let width = heat
        .rows
        .iter()
        .map(|r| format!("q{}", r.question_idx).len())
        .max()
        .unwrap_or(2);
    for row in &heat.rows {
        let strip: String = row
            .rates
            .iter()
            .map(|r| match r {
                None => ' ',
                Some(r) if *r <= 0.0 => '.',
                Some(r) => BARS[((r * 8.0).ceil() as usize).clamp(1, 8) - 1],
            })
            .collect();
        let sampled: Vec<f64> = row.rates.iter().flatten().copied().collect();
        let mean = sampled.iter().sum::<f64>() / sampled.len().max(1) as f64;
        let _ = writeln!(
            out,
            "{:<width$}  {strip}  mean {:>7}  {} {}",
            format!("q{}", row.question_idx),
            percent(mean),
            row.question_id,
            row.question_title
        );
    }
}

fn skipped_list(out: &mut String, report: &Report) {
    if report.skipped.is_empty() {
        return;
    }
    let _ = writeln!(
        out,
        "\nSkipped ({} solved by greedy decoding, not sampled):",
        report.skipped.len()
    );
    for s in &report.skipped {
        let _ = writeln!(out, "  q{}  {}  {}", s.idx, s.id, s.title);
    }
}

/// Files left out while loading, for stderr; empty when there are none.
pub fn warnings_text(warnings: &[lcb_core::report::LoadWarning]) -> String {
    let mut out = String::new();
    if warnings.is_empty() {
        return out;
    }
    let _ = writeln!(out, "lcb: warning: {} file(s) left out:", warnings.len());
    for w in warnings {
        let _ = writeln!(out, "  {w}");
    }
    out
}

/// One question in detail.
pub fn question_text(view: &QuestionView) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "Question q{}: {}  {}", view.idx, view.id, view.title);
    if let Some(reason) = &view.skipped {
        let _ = writeln!(out, "Not sampled: {reason} (greedy decoding solved it).");
        return out;
    }
    let curve: Curve = view
        .temperatures
        .iter()
        .map(|t| (t.temperature, t.pass_rate, t.ci))
        .collect();
    out.push_str("\nPass rate vs temperature; dotted: 95% Wilson interval\n");
    out.push_str(&rate_chart(&[curve]));
    let mut ks: Vec<u64> = view
        .temperatures
        .iter()
        .flat_map(|t| t.pass_at_k.iter().map(|p| p.k))
        .filter(|&k| k > 1)
        .collect();
    ks.sort_unstable();
    ks.dedup();
    let _ = write!(
        out,
        "\n{:>6}  {:>7}  {:>7}  {:>8}  {:<18}",
        "T", "n", "passed", "rate", "95% CI"
    );
    for k in &ks {
        let _ = write!(out, "  {:>8}", format!("pass@{k}"));
    }
    out.push('\n');
    for t in &view.temperatures {
        let _ = write!(
            out,
            "{:>6}  {:>7}  {:>7}  {:>8}  {:<18}",
            temperature(t.temperature),
            t.n,
            t.passed,
            percent(t.pass_rate),
            interval(t.ci)
        );
        for &k in &ks {
            let cell = t
                .pass_at_k
                .iter()
                .find(|p| p.k == k)
                .map(|p| percent(p.value))
                .unwrap_or_else(|| "-".into());
            let _ = write!(out, "  {cell:>8}");
        }
        out.push('\n');
    }
    best_line(&mut out, "Best temperature", &view.best);
    let columns =
        VerdictCounts::columns(view.temperatures.iter().filter_map(|t| t.verdicts.as_ref()));
    let _ = write!(out, "\nVerdicts\n{:>6}", "T");
    for &v in &columns {
        let _ = write!(
            out,
            "  {:>width$}",
            v.as_str(),
            width = v.as_str().len().max(7)
        );
    }
    out.push('\n');
    for t in &view.temperatures {
        let _ = write!(out, "{:>6}", temperature(t.temperature));
        match &t.verdicts {
            Some(counts) => {
                for &v in &columns {
                    let width = v.as_str().len().max(7);
                    let _ = write!(out, "  {:>width$}", counts.get(v));
                }
            }
            None => out.push_str("  (from summary.json: no verdicts)"),
        }
        out.push('\n');
    }
    trim_line_ends(out)
}

/// Two trees side by side.
pub fn comparison_text(cmp: &Comparison, a: &Report, b: &Report) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "A: {}\nB: {}\nDifferences are B - A, in percentage points (pp).",
        cmp.a.display(),
        cmp.b.display()
    );
    if !a.temperatures.is_empty() || !b.temperatures.is_empty() {
        out.push_str("\nPass@1 vs temperature: A and B; dotted: 95% CI\n");
        out.push_str(&rate_chart(&[overall_curve(a), overall_curve(b)]));
    }
    let _ = writeln!(
        out,
        "\n{:>6}  {:>8}  {:>8}  {:>10}  {:>6}  {:>10}  {:<22}",
        "T", "A pass@1", "B pass@1", "delta", "common", "paired", "paired 95% CI"
    );
    let opt = |v: Option<f64>, f: fn(f64) -> String| v.map(f).unwrap_or_else(|| "-".into());
    for r in &cmp.rows {
        let ci = r
            .paired_ci
            .map(|i| format!("[{:+.2}, {:+.2}]", 100.0 * i.low, 100.0 * i.high))
            .unwrap_or_else(|| "-".into());
        let _ = writeln!(
            out,
            "{:>6}  {:>8}  {:>8}  {:>10}  {:>6}  {:>10}  {:<22}",
            temperature(r.temperature),
            opt(r.a, percent),
            opt(r.b, percent),
            opt(r.delta, points),
            r.common_questions,
            opt(r.paired_delta, points),
            ci
        );
    }
    let mut ks: Vec<u64> = cmp
        .rows
        .iter()
        .flat_map(|r| r.pass_at_k.iter().map(|p| p.k))
        .filter(|&k| k > 1)
        .collect();
    ks.sort_unstable();
    ks.dedup();
    if !ks.is_empty() {
        let _ = write!(out, "\npass@k, B - A\n{:>6}", "T");
        for k in &ks {
            let _ = write!(out, "  {:>10}", format!("pass@{k}"));
        }
        out.push('\n');
        for r in &cmp.rows {
            let _ = write!(out, "{:>6}", temperature(r.temperature));
            for &k in &ks {
                let cell = r
                    .pass_at_k
                    .iter()
                    .find(|p| p.k == k)
                    .map(|p| points(p.delta))
                    .unwrap_or_else(|| "-".into());
                let _ = write!(out, "  {cell:>10}");
            }
            out.push('\n');
        }
    }
    best_line(&mut out, "Best temperature, A", &cmp.best_a);
    best_line(&mut out, "Best temperature, B", &cmp.best_b);
    trim_line_ends(out)
}
