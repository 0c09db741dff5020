//! Serializes pages into a PDF 1.4 file: catalog, page tree, the three standard fonts, one content
//! stream per page and a cross-reference table with exact byte offsets (ISO 32000-1, 7.5).

use super::font::{literal, Font};

/// Page size: US Letter, what Mexican offices print on.
pub(crate) const PAGE_WIDTH: f32 = 612.0;
/// Page height in points.
pub(crate) const PAGE_HEIGHT: f32 = 792.0;

const FONTS: [Font; 3] = [Font::Regular, Font::Bold, Font::Mono];

/// A PDF whose pages draw the given content streams. `title` goes into the document information.
pub(crate) fn write(pages: &[Vec<u8>], title: &str) -> Vec<u8> {
    // Objects: 1 catalog, 2 page tree, 3..=5 fonts, 6 info, then page/content pairs.
    let first_page = 7;
    let page_id = |i: usize| first_page + 2 * i;
    let object_count = first_page + 2 * pages.len();

    let mut out: Vec<u8> = Vec::new();
    out.extend_from_slice(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n");
    let mut offsets = vec![0usize; object_count];
    let mut object = |out: &mut Vec<u8>, id: usize, body: &[u8]| {
        offsets[id] = out.len();
        out.extend_from_slice(format!("{id} 0 obj\n").as_bytes());
        out.extend_from_slice(body);
        out.extend_from_slice(b"\nendobj\n");
    };

    object(&mut out, 1, b"<< /Type /Catalog /Pages 2 0 R >>");
    let kids: Vec<String> = (0..pages.len())
        .map(|i| format!("{} 0 R", page_id(i)))
        .collect();
    object(
        &mut out,
        2,
        format!(
            "<< /Type /Pages /Kids [{}] /Count {} >>",
            kids.join(" "),
            pages.len()
        )
        .as_bytes(),
    );
    for (i, font) in FONTS.iter().enumerate() {
        object(
            &mut out,
            3 + i,
            format!(
                "<< /Type /Font /Subtype /Type1 /BaseFont /{} /Encoding /WinAnsiEncoding >>",
                font.base_font()
            )
            .as_bytes(),
        );
    }
    object(
        &mut out,
        6,
        format!(
            "<< /Title {} /Producer (mostrador-cfdi) /Creator (mostrador) >>",
            literal(&super::font::encode(title))
        )
        .as_bytes(),
    );
    let font_resources: Vec<String> = FONTS
        .iter()
        .enumerate()
        .map(|(i, f)| format!("/{} {} 0 R", f.resource(), 3 + i))
        .collect();
    for (i, content) in pages.iter().enumerate() {
        let id = page_id(i);
        object(
            &mut out,
            id,
            format!(
                "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 {PAGE_WIDTH} {PAGE_HEIGHT}] \
                 /Resources << /Font << {} >> >> /Contents {} 0 R >>",
                font_resources.join(" "),
                id + 1
            )
            .as_bytes(),
        );
        let mut stream = format!("<< /Length {} >>\nstream\n", content.len()).into_bytes();
        stream.extend_from_slice(content);
        stream.extend_from_slice(b"\nendstream");
        object(&mut out, id + 1, &stream);
    }

    let xref_at = out.len();
    out.extend_from_slice(format!("xref\n0 {object_count}\n").as_bytes());
    out.extend_from_slice(b"0000000000 65535 f \n");
    for offset in &offsets[1..] {
        out.extend_from_slice(format!("{offset:010} 00000 n \n").as_bytes());
    }
    out.extend_from_slice(
        format!(
            "trailer\n<< /Size {object_count} /Root 1 0 R /Info 6 0 R >>\nstartxref\n{xref_at}\n%%EOF\n"
        )
        .as_bytes(),
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn xref_offsets_point_at_their_objects() {
        let pdf = write(&[b"BT ET".to_vec(), b"BT ET".to_vec()], "Prueba");
        let text = String::from_utf8_lossy(&pdf);
        let xref_at: usize = text
            .rsplit("startxref\n")
            .next()
            .and_then(|t| t.lines().next())
            .and_then(|n| n.parse().ok())
            .expect("startxref");
        assert!(pdf[xref_at..].starts_with(b"xref\n0 11\n"));
        let xref = String::from_utf8(pdf[xref_at..].to_vec()).expect("ascii xref");
        let entries: Vec<usize> = xref
            .lines()
            .skip(3)
            .take(10)
            .map(|l| l[..10].parse().expect("offset"))
            .collect();
        for (i, offset) in entries.iter().enumerate() {
            let header = format!("{} 0 obj", i + 1);
            assert!(
                pdf[*offset..].starts_with(header.as_bytes()),
                "object {}",
                i + 1
            );
        }
        assert!(text.ends_with("%%EOF\n"));
    }
}
