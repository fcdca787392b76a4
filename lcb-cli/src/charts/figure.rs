//! PNG and SVG figures with plotters: the pass-rate curve with its 95% band, pass@k curves,
//! and a question × temperature heat map.
//!
//! Files are written atomically (a temporary sibling renamed into place), so an interrupted
//! report never leaves a truncated image under the requested name.

use std::path::{Path, PathBuf};

use anyhow::{anyhow, Context, Result};
use lcb_core::report::{Comparison, Heatmap, Interval, QuestionView, Report};
use plotters::coord::Shift;
use plotters::prelude::*;

use super::fonts::{self, FAMILY};
use super::{percent, rate_ceiling, temperature, temperature_range};

/// Image width in pixels.
pub const WIDTH: u32 = 1200;
/// Height of the row of line charts.
pub const PANEL_HEIGHT: u32 = 450;
/// Heat map height per question, before clamping to [`HEATMAP_MIN`, `HEATMAP_MAX`].
pub const HEATMAP_ROW: u32 = 10;
/// Heat map room for its caption and axis labels.
pub const HEATMAP_FRAME: u32 = 120;
/// Smallest heat map height.
pub const HEATMAP_MIN: u32 = 300;
/// Largest heat map height: past it rows get thinner than [`HEATMAP_ROW`].
pub const HEATMAP_MAX: u32 = 2400;

const PALETTE: [RGBColor; 6] = [
    RGBColor(31, 119, 180),
    RGBColor(255, 127, 14),
    RGBColor(44, 160, 44),
    RGBColor(214, 39, 40),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
];
const NOT_SAMPLED: RGBColor = RGBColor(225, 225, 225);

type DrawResult<T, DB> =
    std::result::Result<T, DrawingAreaErrorKind<<DB as DrawingBackend>::ErrorType>>;

/// What to draw.
#[derive(Clone, Copy)]
pub enum Figure<'a> {
    /// A whole tree: pass@1 with CI, pass@k curves, heat map.
    Report(&'a Report),
    /// One question: its pass rate with Wilson interval, its pass@k curves.
    Question(&'a QuestionView),
    /// Two trees: both curves, and the paired difference B − A.
    Comparison {
        /// Tree A.
        a: &'a Report,
        /// Tree B.
        b: &'a Report,
        /// The comparison.
        cmp: &'a Comparison,
    },
}

impl Figure<'_> {
    /// The image size in pixels, `(width, height)`.
    pub fn size(&self) -> (u32, u32) {
        match self {
            Figure::Report(report) if !report.temperatures.is_empty() => {
                let rows = report.heatmap.rows.len() as u32;
                let heat = (HEATMAP_FRAME + rows * HEATMAP_ROW).clamp(HEATMAP_MIN, HEATMAP_MAX);
                (WIDTH, PANEL_HEIGHT + heat)
            }
            _ => (WIDTH, PANEL_HEIGHT),
        }
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> DrawResult<(), DB> {
        root.fill(&WHITE)?;
        match *self {
            Figure::Report(report) => draw_report(root, report),
            Figure::Question(view) => draw_question(root, view),
            Figure::Comparison { a, b, cmp } => draw_comparison(root, a, b, cmp),
        }
    }
}

/// The figure as an SVG document.
pub fn svg(figure: &Figure) -> Result<String> {
    fonts::register();
    let mut text = String::new();
    {
        let root = SVGBackend::with_string(&mut text, figure.size()).into_drawing_area();
        figure
            .draw(&root)
            .map_err(|e| anyhow!("drawing the SVG: {e}"))?;
        root.present()
            .map_err(|e| anyhow!("drawing the SVG: {e}"))?;
    }
    Ok(text)
}

/// Writes the figure as SVG to `path`.
pub fn write_svg(figure: &Figure, path: &Path) -> Result<()> {
    let text = svg(figure)?;
    lcb_core::atomic_file::write_atomic(path, text.as_bytes())?;
    Ok(())
}

/// Writes the figure as PNG to `path` (whatever its extension).
pub fn write_png(figure: &Figure, path: &Path) -> Result<()> {
    fonts::register();
    // plotters picks the encoder from the extension, so the temporary name ends in `.png`.
    let tmp = temporary_sibling(path)?;
    let drawn = (|| -> Result<()> {
        let root = BitMapBackend::new(&tmp, figure.size()).into_drawing_area();
        figure
            .draw(&root)
            .map_err(|e| anyhow!("drawing the PNG: {e}"))?;
        root.present().map_err(|e| anyhow!("{e}"))?;
        Ok(())
    })()
    .and_then(|()| std::fs::rename(&tmp, path).map_err(Into::into));
    if let Err(e) = drawn {
        let _ = std::fs::remove_file(&tmp);
        return Err(e.context(format!("writing {}", path.display())));
    }
    Ok(())
}

fn temporary_sibling(path: &Path) -> Result<PathBuf> {
    let name = path
        .file_name()
        .with_context(|| format!("{}: not a file name", path.display()))?;
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    if !dir.is_dir() {
        anyhow::bail!("{}: no such directory", dir.display());
    }
    Ok(dir.join(format!(
        ".lcb-tmp-{}-{}.png",
        std::process::id(),
        name.to_string_lossy()
    )))
}

/// A curve: `(temperature, fraction)` points with an optional 95% interval each.
struct Series {
    label: String,
    color: RGBColor,
    points: Vec<(f64, f64, Option<Interval>)>,
}

/// The highest value or interval bound of `series`, a fraction.
fn highest(series: &[Series]) -> f64 {
    series
        .iter()
        .flat_map(|s| &s.points)
        .map(|(_, v, ci)| ci.map_or(*v, |i| i.high.max(*v)))
        .fold(0.0, f64::max)
}

fn text_style(size: u32) -> TextStyle<'static> {
    (FAMILY, size).into_font().color(&BLACK)
}

fn draw_report<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    report: &Report,
) -> DrawResult<(), DB> {
    if report.temperatures.is_empty() {
        return no_data(root, "No question has samples yet.");
    }
    let (top, bottom) = root.split_vertically(PANEL_HEIGHT);
    let (left, right) = top.split_horizontally(WIDTH / 2);
    let best1 = report.best.iter().find(|b| b.k == 1);
    let label = match best1 {
        Some(b) => format!(
            "pass@1 (best T={}: {})",
            temperature(b.temperature),
            percent(b.value)
        ),
        None => "pass@1".into(),
    };
    let curve = Series {
        label,
        color: PALETTE[0],
        points: report
            .temperatures
            .iter()
            .map(|s| (s.temperature, s.pass_rate, Some(s.ci)))
            .collect(),
    };
    let top = 100.0 * rate_ceiling(highest(std::slice::from_ref(&curve)));
    rate_panel(
        &left,
        "Pass@1 vs temperature (95% CI)",
        "pass@1",
        &[curve],
        (0.0, top),
    )?;
    let passk: Vec<Series> = report
        .ks()
        .into_iter()
        .enumerate()
        .map(|(i, k)| Series {
            label: format!("pass@{k}"),
            color: PALETTE[i % PALETTE.len()],
            points: report
                .temperatures
                .iter()
                .filter_map(|s| Some((s.temperature, s.pass_at(k)?, None)))
                .collect(),
        })
        .collect();
    rate_panel(
        &right,
        "pass@k vs temperature",
        "pass@k",
        &passk,
        (0.0, 100.0),
    )?;
    heatmap_panel(&bottom, &report.heatmap)
}

fn draw_question<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    view: &QuestionView,
) -> DrawResult<(), DB> {
    if view.temperatures.is_empty() {
        let why = match &view.skipped {
            Some(reason) => format!("q{}: not sampled ({reason})", view.idx),
            None => format!("q{}: no samples yet", view.idx),
        };
        return no_data(root, &why);
    }
    let (left, right) = root.split_horizontally(WIDTH / 2);
    let curve = Series {
        label: format!("q{} pass rate", view.idx),
        color: PALETTE[0],
        points: view
            .temperatures
            .iter()
            .map(|t| (t.temperature, t.pass_rate, Some(t.ci)))
            .collect(),
    };
    let caption = format!("q{} {}: pass rate (95% Wilson)", view.idx, view.id);
    rate_panel(&left, &caption, "pass rate", &[curve], (0.0, 100.0))?;
    let mut ks: Vec<u64> = view
        .temperatures
        .iter()
        .flat_map(|t| t.pass_at_k.iter().map(|p| p.k))
        .collect();
    ks.sort_unstable();
    ks.dedup();
    let passk: Vec<Series> = ks
        .iter()
        .enumerate()
        .map(|(i, &k)| Series {
            label: format!("pass@{k}"),
            color: PALETTE[i % PALETTE.len()],
            points: view
                .temperatures
                .iter()
                .filter_map(|t| {
                    let p = t.pass_at_k.iter().find(|p| p.k == k)?;
                    Some((t.temperature, p.value, None))
                })
                .collect(),
        })
        .collect();
    rate_panel(
        &right,
        &format!("q{}: pass@k vs temperature", view.idx),
        "pass@k",
        &passk,
        (0.0, 100.0),
    )
}

fn draw_comparison<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    a: &Report,
    b: &Report,
    cmp: &Comparison,
) -> DrawResult<(), DB> {
    let (left, right) = root.split_horizontally(WIDTH / 2);
    let series = |report: &Report, name: &str, color| Series {
        label: format!("{name}: {}", report.root.display()),
        color,
        points: report
            .temperatures
            .iter()
            .map(|s| (s.temperature, s.pass_rate, Some(s.ci)))
            .collect(),
    };
    let both = [series(a, "A", PALETTE[0]), series(b, "B", PALETTE[1])];
    let top = 100.0 * rate_ceiling(highest(&both));
    rate_panel(
        &left,
        "Pass@1 vs temperature (95% CI)",
        "pass@1",
        &both,
        (0.0, top),
    )?;
    let delta = Series {
        label: "B - A, paired over common questions".into(),
        color: PALETTE[2],
        points: cmp
            .rows
            .iter()
            .filter_map(|r| Some((r.temperature, r.paired_delta?, r.paired_ci)))
            .collect(),
    };
    // Symmetric around zero, at least ±5 points, so "no difference" sits in the middle.
    let reach = delta
        .points
        .iter()
        .flat_map(|(_, v, ci)| [Some(*v), ci.map(|i| i.low), ci.map(|i| i.high)])
        .flatten()
        .fold(0.05f64, |m, v| m.max(v.abs()));
    let y = 100.0 * (reach * 1.1).min(1.0);
    rate_panel(
        &right,
        "Paired difference B - A (95% CI)",
        "difference (pp)",
        &[delta],
        (-y, y),
    )
}

fn no_data<DB: DrawingBackend>(root: &DrawingArea<DB, Shift>, message: &str) -> DrawResult<(), DB> {
    let (w, h) = root.dim_in_pixel();
    let style = text_style(24).pos(plotters::style::text_anchor::Pos::new(
        plotters::style::text_anchor::HPos::Center,
        plotters::style::text_anchor::VPos::Center,
    ));
    root.draw(&Text::new(
        message.to_owned(),
        (w as i32 / 2, h as i32 / 2),
        style,
    ))
}

/// Curves against temperature, y in percent (`y_range` in percent too).
fn rate_panel<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    caption: &str,
    y_desc: &str,
    series: &[Series],
    y_range: (f64, f64),
) -> DrawResult<(), DB> {
    let temps: Vec<f64> = series
        .iter()
        .flat_map(|s| s.points.iter().map(|p| p.0))
        .collect();
    let (x0, x1) = temperature_range(&temps, 0.05);
    let mut chart = ChartBuilder::on(area)
        .caption(caption, text_style(20))
        .margin(14)
        .x_label_area_size(48)
        .y_label_area_size(64)
        .build_cartesian_2d(x0..x1, y_range.0..y_range.1)?;
    chart
        .configure_mesh()
        .x_desc("temperature")
        .y_desc(y_desc)
        .label_style(text_style(15))
        .axis_desc_style(text_style(16))
        .x_label_formatter(&|v| format!("{v:.1}"))
        .y_label_formatter(&|v| format!("{v:.0}%"))
        .max_light_lines(1)
        .light_line_style(RGBColor(245, 245, 245))
        .draw()?;
    if y_range.0 < 0.0 {
        chart.draw_series(std::iter::once(PathElement::new(
            vec![(x0, 0.0), (x1, 0.0)],
            BLACK.stroke_width(1),
        )))?;
    }
    for s in series {
        let pct: Vec<(f64, f64)> = s.points.iter().map(|p| (p.0, 100.0 * p.1)).collect();
        let band: Vec<(f64, f64, Interval)> = s
            .points
            .iter()
            .filter_map(|p| Some((p.0, p.1, p.2?)))
            .collect();
        if band.len() >= 2 {
            let polygon: Vec<(f64, f64)> = band
                .iter()
                .map(|(t, _, i)| (*t, 100.0 * i.high))
                .chain(band.iter().rev().map(|(t, _, i)| (*t, 100.0 * i.low)))
                .collect();
            chart.draw_series(std::iter::once(Polygon::new(
                polygon,
                s.color.mix(0.18).filled(),
            )))?;
        }
        // A lone point's interval as an error bar (there is no band to draw).
        if band.len() == 1 {
            let (t, _, i) = band[0];
            chart.draw_series(std::iter::once(PathElement::new(
                vec![(t, 100.0 * i.low), (t, 100.0 * i.high)],
                s.color.stroke_width(2),
            )))?;
        }
        let color = s.color;
        chart
            .draw_series(LineSeries::new(pct.clone(), color.stroke_width(2)))?
            .label(s.label.clone())
            .legend(move |(x, y)| {
                PathElement::new(vec![(x, y), (x + 20, y)], color.stroke_width(2))
            });
        chart.draw_series(pct.iter().map(|&p| Circle::new(p, 3, color.filled())))?;
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperRight)
        .label_font(text_style(13))
        .background_style(WHITE.mix(0.85))
        .border_style(RGBColor(180, 180, 180))
        .draw()?;
    Ok(())
}

/// Viridis, sampled at five stops and interpolated: dark = 0%, yellow = 100%.
fn heat_color(rate: f64) -> RGBColor {
    const STOPS: [(u8, u8, u8); 5] = [
        (68, 1, 84),
        (59, 82, 139),
        (33, 145, 140),
        (94, 201, 98),
        (253, 231, 37),
    ];
    let x = rate.clamp(0.0, 1.0) * (STOPS.len() - 1) as f64;
    let i = (x.floor() as usize).min(STOPS.len() - 2);
    let f = x - i as f64;
    let mix = |a: u8, b: u8| (a as f64 + f * (b as f64 - a as f64)).round() as u8;
    let (a, b) = (STOPS[i], STOPS[i + 1]);
    RGBColor(mix(a.0, b.0), mix(a.1, b.1), mix(a.2, b.2))
}

/// Questions down, temperatures across, colour = pass rate; a colour bar on the right.
fn heatmap_panel<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    heat: &Heatmap,
) -> DrawResult<(), DB> {
    let (map, bar) = area.split_horizontally(WIDTH - 130);
    let cols = heat.temperatures.len();
    let rows = heat.rows.len();
    // Cells are 2 × 2 units, so that their centres, where the labels go, are integers (plotters
    // formats labels of integer axes with key points, not of float ones). Row i is drawn from
    // the top: y from 2 (rows - i - 1).
    let (cols, rows) = (cols as i32, rows as i32);
    let row_of = |y: i32| usize::try_from(rows - 1 - y.div_euclid(2)).ok();
    let x_keys: Vec<i32> = (0..cols).map(|c| 2 * c + 1).collect();
    let step = (rows as usize).div_ceil(40).max(1);
    let y_keys: Vec<i32> = (0..rows)
        .step_by(step)
        .map(|i| 2 * (rows - i - 1) + 1)
        .collect();
    let mut chart = ChartBuilder::on(&map)
        .caption("Pass rate per question and temperature", text_style(20))
        .margin(14)
        .x_label_area_size(48)
        .y_label_area_size(64)
        .build_cartesian_2d(
            (0..2 * cols).with_key_points(x_keys),
            (0..2 * rows.max(1)).with_key_points(y_keys),
        )?;
    let temps = heat.temperatures.clone();
    let labels: Vec<String> = heat
        .rows
        .iter()
        .map(|r| format!("q{}", r.question_idx))
        .collect();
    chart
        .configure_mesh()
        .disable_mesh()
        .x_desc("temperature")
        .y_desc("question")
        .label_style(text_style(14))
        .axis_desc_style(text_style(16))
        .x_label_formatter(&|v| {
            usize::try_from(v.div_euclid(2))
                .ok()
                .and_then(|c| temps.get(c))
                .map(|&t| temperature(t))
                .unwrap_or_default()
        })
        .y_label_formatter(&|v| {
            row_of(*v)
                .and_then(|i| labels.get(i).cloned())
                .unwrap_or_default()
        })
        .draw()?;
    chart.draw_series(heat.rows.iter().enumerate().flat_map(|(i, row)| {
        let y = 2 * (rows - i as i32 - 1);
        row.rates.iter().enumerate().map(move |(c, rate)| {
            let color = rate.map(heat_color).unwrap_or(NOT_SAMPLED);
            let x = 2 * c as i32;
            Rectangle::new([(x, y), (x + 2, y + 2)], color.filled())
        })
    }))?;

    let mut scale = ChartBuilder::on(&bar)
        .margin_top(14 + 30)
        .margin_bottom(14 + 48)
        .margin_right(50)
        .y_label_area_size(0)
        .right_y_label_area_size(40)
        .build_cartesian_2d(0f64..1.0, 0f64..100.0)?;
    scale
        .configure_mesh()
        .disable_mesh()
        .disable_x_axis()
        .label_style(text_style(12))
        .y_label_formatter(&|v| format!("{v:.0}%"))
        .draw()?;
    scale.draw_series((0..100).map(|p| {
        Rectangle::new(
            [(0.0, p as f64), (1.0, p as f64 + 1.0)],
            heat_color((p as f64 + 0.5) / 100.0).filled(),
        )
    }))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::heat_color;
    use plotters::style::RGBColor;

    #[test]
    fn heat_color_ends_at_the_viridis_stops() {
        assert_eq!(heat_color(0.0), RGBColor(68, 1, 84));
        assert_eq!(heat_color(1.0), RGBColor(253, 231, 37));
        assert_eq!(heat_color(0.5), RGBColor(33, 145, 140));
    }
}
