//! The printed representation (representación impresa) of a stamped CFDI as a PDF: issuer,
//! receiver, conceptos (paginated), taxes, totals with the amount in words, folio fiscal, dates,
//! certificate numbers, both sellos, the TFD's cadena original and the QR code SAT's verification
//! page reads; sandbox stamps say, on every page, that they have no fiscal value.
//!
//! The PDF is written by hand with the standard Type 1 fonts (Helvetica, Helvetica-Bold,
//! Courier) in WinAnsiEncoding: no font files, no image libraries, a few hundred kilobytes for
//! thousands of conceptos.

mod canvas;
mod font;
mod labels;
mod layout;
mod letters;
mod writer;

pub use letters::importe_con_letra;

use crate::stamped::StampedCfdi;

/// Why a CFDI could not be printed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PdfError {
    /// The verification URL does not fit in a QR code (it always does for a valid CFDI).
    #[error("the verification URL cannot be encoded as a QR code: {0}")]
    Qr(String),
}

/// Renders the printed representation of `cfdi` as PDF bytes.
pub fn render(cfdi: &StampedCfdi) -> Result<Vec<u8>, PdfError> {
    let pages = layout::lay_out(cfdi)?;
    let title = format!("CFDI {} {}", cfdi.emisor.rfc, cfdi.timbre.uuid);
    Ok(writer::write(&pages, &title))
}
