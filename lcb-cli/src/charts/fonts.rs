//! The one font images use, compiled into the binary.
//!
//! plotters would otherwise look fonts up through fontconfig, which finds nothing on a bare
//! server and fails at the first label. The font is the Go font family's regular weight
//! (BSD-3-Clause, `assets/fonts/LICENSE-Go-fonts.txt`), chosen for being small (140 KB) and
//! covering the symbols the charts use.

use std::sync::Once;

use plotters::style::FontStyle;

/// The family name charts ask for; the embedded font is registered under it. SVG files name
/// it too, so a viewer falls back to its own sans-serif font.
pub const FAMILY: &str = "sans-serif";

static FONT: &[u8] = include_bytes!("../../assets/fonts/Go-Regular.ttf");

/// Registers the embedded font with plotters; call before drawing (repeated calls are free).
pub fn register() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        if plotters::style::register_font(FAMILY, FontStyle::Normal, FONT).is_err() {
            // The bytes are fixed at build time, so this is a packaging bug, never user input.
            panic!("lcb bug: the embedded font assets/fonts/Go-Regular.ttf does not parse");
        }
    });
}
