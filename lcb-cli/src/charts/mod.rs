//! Drawing what [`lcb_core::report`] computes: text for the terminal ([`terminal`]), PNG and
//! SVG figures ([`figure`]) and a self-contained HTML page ([`html`]).
//!
//! Images use only the font embedded by [`fonts`], so they render the same on a machine
//! without any system font.

pub mod figure;
pub mod fonts;
pub mod html;
pub mod terminal;

#[cfg(test)]
mod tests;

use lcb_core::sweep::config::python_float;

/// A fraction as a percentage with two decimals: `0.3` → `30.00%`.
pub fn percent(x: f64) -> String {
    format!("{:.2}%", 100.0 * x)
}

/// A difference of fractions in percentage points, signed: `0.05` → `+5.00 pp`.
pub fn points(x: f64) -> String {
    format!("{:+.2} pp", 100.0 * x)
}

/// A temperature as the tree's files name it (`0.5`, `1.0`).
pub fn temperature(t: f64) -> String {
    python_float(t)
}

/// The x range of a chart over `temps`, widened by `pad` (a fraction of the span) on each
/// side; a single temperature gets ±0.1 so the axis is not empty.
pub fn temperature_range(temps: &[f64], pad: f64) -> (f64, f64) {
    let lo = temps.iter().copied().fold(f64::INFINITY, f64::min);
    let hi = temps.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    if !lo.is_finite() || !hi.is_finite() {
        return (0.0, 1.0);
    }
    if hi > lo {
        (lo - pad * (hi - lo), hi + pad * (hi - lo))
    } else {
        (lo - 0.1, hi + 0.1)
    }
}

/// The top of a pass-rate axis: `highest` (a fraction) with a little headroom, rounded up to a
/// multiple of 10%, so that rates of a few percent are not flattened against the floor of a
/// 0–100% axis.
pub fn rate_ceiling(highest: f64) -> f64 {
    ((highest + 0.02) * 10.0).ceil().clamp(1.0, 10.0) / 10.0
}
