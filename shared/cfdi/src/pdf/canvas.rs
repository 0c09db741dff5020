//! One page's content stream, written with the few PDF operators the printed CFDI needs.

use super::font::{encode, literal, Font};
use std::fmt::Write as _;

/// A color as the content stream sets it for fills and text.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Color {
    Black,
    White,
    /// A gray level, 0 black to 1 white.
    Gray(f32),
    Rgb(f32, f32, f32),
}

/// The drawing operations of one page.
#[derive(Debug, Default)]
pub(crate) struct Canvas {
    ops: String,
}

impl Canvas {
    /// The content stream.
    pub(crate) fn into_bytes(self) -> Vec<u8> {
        self.ops.into_bytes()
    }

    /// Sets the fill color (used by text and filled shapes).
    pub(crate) fn fill(&mut self, color: Color) {
        match color {
            Color::Black => self.ops.push_str("0 g\n"),
            Color::White => self.ops.push_str("1 g\n"),
            Color::Gray(level) => {
                let _ = writeln!(self.ops, "{} g", num(level));
            }
            Color::Rgb(r, g, b) => {
                let _ = writeln!(self.ops, "{} {} {} rg", num(r), num(g), num(b));
            }
        }
    }

    /// Draws `text` with its baseline starting at (`x`, `y`).
    pub(crate) fn text(&mut self, x: f32, y: f32, font: Font, size: f32, text: &str) {
        if text.is_empty() {
            return;
        }
        let _ = writeln!(
            self.ops,
            "BT /{} {} Tf {} {} Td {} Tj ET",
            font.resource(),
            num(size),
            num(x),
            num(y),
            literal(&encode(text))
        );
    }

    /// Draws `text` ending at `right`.
    pub(crate) fn text_right(&mut self, right: f32, y: f32, font: Font, size: f32, text: &str) {
        let x = right - font.width(text, size);
        self.text(x, y, font, size, text);
    }

    /// Draws `text` centred on `center`.
    pub(crate) fn text_center(&mut self, center: f32, y: f32, font: Font, size: f32, text: &str) {
        let x = center - font.width(text, size) / 2.0;
        self.text(x, y, font, size, text);
    }

    /// Draws `text` rotated by 45 degrees around its start (the sandbox watermark).
    pub(crate) fn text_diagonal(&mut self, x: f32, y: f32, font: Font, size: f32, text: &str) {
        let c = std::f32::consts::FRAC_1_SQRT_2;
        let _ = writeln!(
            self.ops,
            "BT /{} {} Tf {} {} {} {} {} {} Tm {} Tj ET",
            font.resource(),
            num(size),
            num(c),
            num(c),
            num(-c),
            num(c),
            num(x),
            num(y),
            literal(&encode(text))
        );
    }

    /// Fills the rectangle with lower-left corner (`x`, `y`).
    pub(crate) fn fill_rect(&mut self, x: f32, y: f32, width: f32, height: f32) {
        let _ = writeln!(
            self.ops,
            "{} {} {} {} re f",
            num(x),
            num(y),
            num(width),
            num(height)
        );
    }

    /// Strokes a horizontal rule of the given gray level.
    pub(crate) fn rule(&mut self, x1: f32, x2: f32, y: f32, gray: f32) {
        let _ = writeln!(
            self.ops,
            "{} G 0.5 w {} {} m {} {} l S",
            num(gray),
            num(x1),
            num(y),
            num(x2),
            num(y)
        );
    }

    /// Appends raw operators (the QR code's path).
    pub(crate) fn raw(&mut self, ops: &str) {
        self.ops.push_str(ops);
    }
}

/// A number as PDF content writes it: at most three decimals, no trailing zeros.
pub(crate) fn num(value: f32) -> String {
    let text = format!("{value:.3}");
    let text = text.trim_end_matches('0').trim_end_matches('.');
    if text == "-0" {
        "0".to_owned()
    } else {
        text.to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_are_short() {
        assert_eq!(num(612.0), "612");
        assert_eq!(num(1.2344), "1.234");
        assert_eq!(num(0.5), "0.5");
        assert_eq!(num(-0.0001), "0");
    }
}
