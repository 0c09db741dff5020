//! The three standard Type 1 fonts the printed CFDI uses (never embedded: every PDF reader has
//! them), text in WinAnsiEncoding so Spanish accents and `Ñ` render, and the widths to lay text out.

/// A font of the document, with its resource name in every page.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Font {
    /// Helvetica.
    Regular,
    /// Helvetica-Bold.
    Bold,
    /// Courier: fixed width, for sellos and the cadena original.
    Mono,
}

impl Font {
    /// The name the content streams use (`/F1`…).
    pub(crate) fn resource(self) -> &'static str {
        match self {
            Font::Regular => "F1",
            Font::Bold => "F2",
            Font::Mono => "F3",
        }
    }

    /// The PostScript name of the standard font.
    pub(crate) fn base_font(self) -> &'static str {
        match self {
            Font::Regular => "Helvetica",
            Font::Bold => "Helvetica-Bold",
            Font::Mono => "Courier",
        }
    }

    /// Width of one WinAnsi code in thousandths of the font size.
    fn glyph_width(self, code: u8) -> u16 {
        match self {
            Font::Mono => 600,
            Font::Regular | Font::Bold if code < 32 => 0,
            Font::Regular => HELVETICA[usize::from(code - 32)],
            Font::Bold => HELVETICA_BOLD[usize::from(code - 32)],
        }
    }

    /// Width of `text` at `size` points.
    pub(crate) fn width(self, text: &str, size: f32) -> f32 {
        let thousandths: u32 = encode(text)
            .into_iter()
            .map(|b| u32::from(self.glyph_width(b)))
            .sum();
        thousandths as f32 * size / 1000.0
    }
}

/// Text in WinAnsiEncoding (Windows-1252): what the standard fonts draw. Characters outside it
/// become `?`; control characters become spaces.
pub(crate) fn encode(text: &str) -> Vec<u8> {
    text.chars().map(winansi).collect()
}

fn winansi(c: char) -> u8 {
    let code = u32::from(c);
    match c {
        '\u{20}'..='\u{7e}' => code as u8,
        '\u{a0}'..='\u{ff}' => code as u8,
        '\t' | '\n' | '\r' => b' ',
        '€' => 0x80,
        '‚' => 0x82,
        'ƒ' => 0x83,
        '„' => 0x84,
        '…' => 0x85,
        '†' => 0x86,
        '‡' => 0x87,
        'ˆ' => 0x88,
        '‰' => 0x89,
        'Š' => 0x8a,
        '‹' => 0x8b,
        'Œ' => 0x8c,
        'Ž' => 0x8e,
        '‘' => 0x91,
        '’' => 0x92,
        '“' => 0x93,
        '”' => 0x94,
        '•' => 0x95,
        '–' => 0x96,
        '—' => 0x97,
        '˜' => 0x98,
        '™' => 0x99,
        'š' => 0x9a,
        '›' => 0x9b,
        'œ' => 0x9c,
        'ž' => 0x9e,
        'Ÿ' => 0x9f,
        c if c.is_control() => b' ',
        _ => b'?',
    }
}

/// A PDF literal string `( … )` of WinAnsi bytes: delimiters escaped, non-ASCII as octal so the
/// file stays 7-bit.
pub(crate) fn literal(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len() + 2);
    out.push('(');
    for &b in bytes {
        match b {
            b'(' | b')' | b'\\' => {
                out.push('\\');
                out.push(char::from(b));
            }
            0x20..=0x7e => out.push(char::from(b)),
            _ => out.push_str(&format!("\\{b:03o}")),
        }
    }
    out.push(')');
    out
}

/// Splits `text` into lines no wider than `max_width`: at spaces when possible, inside a word
/// when the word alone is too wide (base64 sellos, long codes).
pub(crate) fn wrap(text: &str, font: Font, size: f32, max_width: f32) -> Vec<String> {
    let mut lines = Vec::new();
    for paragraph in text.split('\n') {
        let mut line = String::new();
        for word in paragraph.split_whitespace() {
            let candidate = if line.is_empty() {
                word.to_owned()
            } else {
                format!("{line} {word}")
            };
            if font.width(&candidate, size) <= max_width {
                line = candidate;
                continue;
            }
            if !line.is_empty() {
                lines.push(std::mem::take(&mut line));
            }
            if font.width(word, size) <= max_width {
                line = word.to_owned();
                continue;
            }
            // Break the word itself.
            for c in word.chars() {
                let mut next = line.clone();
                next.push(c);
                if font.width(&next, size) > max_width && !line.is_empty() {
                    lines.push(std::mem::take(&mut line));
                    line.push(c);
                } else {
                    line = next;
                }
            }
        }
        if !line.is_empty() || lines.is_empty() {
            lines.push(line);
        }
    }
    lines
}

/// Splits `text` into lines of as many characters as fit, ignoring word boundaries: for sellos and
/// cadenas, where every character (spaces included) matters and a reader copies them back.
pub(crate) fn wrap_chars(text: &str, font: Font, size: f32, max_width: f32) -> Vec<String> {
    let mut lines = Vec::new();
    let mut line = String::new();
    let mut width = 0.0;
    for c in text.chars() {
        let w = font.width(c.encode_utf8(&mut [0; 4]), size);
        if width + w > max_width && !line.is_empty() {
            lines.push(std::mem::take(&mut line));
            width = 0.0;
        }
        line.push(c);
        width += w;
    }
    if !line.is_empty() || lines.is_empty() {
        lines.push(line);
    }
    lines
}

/// Helvetica's widths for WinAnsi codes 32–255 (Adobe's Helvetica AFM, as shipped with groff's
/// devps fonts; codes WinAnsi leaves undefined are 0).
#[rustfmt::skip]
const HELVETICA: [u16; 224] = [
    278, 278, 355, 556, 556, 889, 667, 191, 333, 333, 389, 584, 278, 333, 278, 278,
    556, 556, 556, 556, 556, 556, 556, 556, 556, 556, 278, 278, 584, 584, 584, 556,
    1015, 667, 667, 722, 722, 667, 611, 778, 722, 278, 500, 667, 556, 833, 722, 778,
    667, 778, 722, 667, 611, 722, 667, 944, 667, 667, 611, 278, 278, 278, 469, 556,
    333, 556, 556, 500, 556, 556, 278, 556, 556, 222, 222, 500, 222, 833, 556, 556,
    556, 556, 333, 500, 278, 556, 500, 722, 500, 500, 500, 334, 260, 334, 584, 0,
    556, 0, 222, 556, 333, 1000, 556, 556, 333, 1000, 667, 333, 1000, 0, 611, 0,
    0, 222, 222, 333, 333, 350, 556, 1000, 333, 1000, 500, 333, 944, 0, 500, 667,
    278, 333, 556, 556, 556, 556, 260, 556, 333, 737, 370, 556, 584, 333, 737, 333,
    400, 584, 333, 333, 333, 578, 537, 278, 333, 333, 365, 556, 834, 834, 834, 611,
    667, 667, 667, 667, 667, 667, 1000, 722, 667, 667, 667, 667, 278, 278, 278, 278,
    722, 722, 778, 778, 778, 778, 778, 584, 778, 722, 722, 722, 722, 667, 667, 611,
    556, 556, 556, 556, 556, 556, 889, 500, 556, 556, 556, 556, 278, 278, 278, 278,
    556, 556, 556, 556, 556, 556, 556, 584, 611, 556, 556, 556, 556, 500, 556, 500,
];

/// Helvetica-Bold's widths for WinAnsi codes 32–255 (same source).
#[rustfmt::skip]
const HELVETICA_BOLD: [u16; 224] = [
    278, 333, 474, 556, 556, 889, 722, 238, 333, 333, 389, 584, 278, 333, 278, 278,
    556, 556, 556, 556, 556, 556, 556, 556, 556, 556, 333, 333, 584, 584, 584, 611,
    975, 722, 722, 722, 722, 667, 611, 778, 722, 278, 556, 722, 611, 833, 722, 778,
    667, 778, 722, 667, 611, 722, 667, 944, 667, 667, 611, 333, 278, 333, 584, 556,
    333, 556, 611, 556, 611, 556, 333, 611, 611, 278, 278, 556, 278, 889, 611, 611,
    611, 611, 389, 556, 333, 611, 556, 778, 556, 556, 500, 389, 280, 389, 584, 0,
    556, 0, 278, 556, 500, 1000, 556, 556, 333, 1000, 667, 333, 1000, 0, 611, 0,
    0, 278, 278, 500, 500, 350, 556, 1000, 333, 1000, 556, 333, 944, 0, 500, 667,
    278, 333, 556, 556, 556, 556, 280, 556, 333, 737, 370, 556, 584, 333, 737, 333,
    400, 584, 333, 333, 333, 611, 556, 278, 333, 333, 365, 556, 834, 834, 834, 611,
    722, 722, 722, 722, 722, 722, 1000, 722, 667, 667, 667, 667, 278, 278, 278, 278,
    722, 722, 778, 778, 778, 778, 778, 584, 778, 722, 722, 722, 722, 667, 667, 611,
    556, 556, 556, 556, 556, 556, 889, 556, 556, 556, 556, 556, 278, 278, 278, 278,
    611, 611, 611, 611, 611, 611, 611, 584, 611, 611, 611, 611, 611, 556, 611, 556,
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spanish_letters_are_winansi_bytes() {
        assert_eq!(
            encode("Año ÁÉÍÓÚ ü ñ €"),
            b"A\xf1o \xc1\xc9\xcd\xd3\xda \xfc \xf1 \x80".to_vec()
        );
        assert_eq!(encode("中"), b"?".to_vec());
    }

    #[test]
    fn literals_escape_delimiters_and_high_bytes() {
        assert_eq!(
            literal(&encode("(DIECISÉIS) \\")),
            "(\\(DIECIS\\311IS\\) \\\\)"
        );
    }

    #[test]
    fn widths_follow_the_afm() {
        // "Total" in Helvetica: T 611, o 556, t 278, a 556, l 222.
        assert!((Font::Regular.width("Total", 10.0) - 22.23).abs() < 0.001);
        assert!((Font::Mono.width("abc", 10.0) - 18.0).abs() < 0.001);
    }

    #[test]
    fn long_words_are_broken_and_short_ones_wrapped() {
        let lines = wrap("uno dos tres", Font::Regular, 10.0, 40.0);
        assert_eq!(lines, vec!["uno dos", "tres"]);
        let sello = "A".repeat(100);
        let lines = wrap(&sello, Font::Mono, 10.0, 60.0);
        assert!(lines.iter().all(|l| l.len() == 10));
        assert_eq!(lines.concat(), sello);
        let cadena = "||1.1|UUID|Timbre de prueba|SELLO||";
        let lines = wrap_chars(cadena, Font::Mono, 10.0, 60.0);
        assert_eq!(lines.concat(), cadena);
        assert!(lines.iter().all(|l| l.chars().count() <= 10));
    }
}
