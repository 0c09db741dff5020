//! Spreadsheets merchants upload (catalogs, stock counts) read into rows of text: CSV in UTF-8 (with
//! or without BOM) or Windows-1252 (what Excel in Spanish saves as "CSV"), comma, semicolon or tab
//! separated, and workbooks (Excel .xlsx and .xls, OpenDocument .ods; the first sheet).
//!
//! Workbooks are read with `calamine` (the maintained pure-Rust reader of Excel and OpenDocument
//! files); legacy encodings are decoded with `encoding_rs` (Firefox's encoding library); CSV with
//! the `csv` crate.

use crate::platform::error::{AppError, FieldError};
use calamine::{Data, Reader};

/// Largest spreadsheet accepted (a 10,000-row catalog is far below it).
pub const MAX_SHEET_BYTES: usize = 3 * 1024 * 1024;

/// A spreadsheet's first sheet: a header row and data rows, every cell as trimmed text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sheet {
    pub headers: Vec<String>,
    pub rows: Vec<Vec<String>>,
}

impl Sheet {
    /// The position of the first header matching one of `names` (compared without case, accents,
    /// spaces or underscores: "Código", "codigo", "CODIGO_SAT").
    pub(crate) fn column(&self, names: &[&str]) -> Option<usize> {
        let wanted: Vec<String> = names.iter().map(|n| fold(n)).collect();
        self.headers.iter().position(|h| wanted.contains(&fold(h)))
    }

    /// The sheet as UTF-8 CSV text (comma separated), for readers that take CSV.
    pub(crate) fn to_csv(&self) -> Result<String, AppError> {
        let mut w = csv::Writer::from_writer(Vec::new());
        w.write_record(&self.headers)
            .map_err(|e| AppError::Internal(e.into()))?;
        for row in &self.rows {
            w.write_record(row)
                .map_err(|e| AppError::Internal(e.into()))?;
        }
        let bytes = w
            .into_inner()
            .map_err(|e| AppError::Internal(anyhow::anyhow!(e.to_string())))?;
        String::from_utf8(bytes).map_err(|e| AppError::Internal(e.into()))
    }
}

fn fold(text: &str) -> String {
    text.trim()
        .to_lowercase()
        .chars()
        .map(|c| match c {
            'á' => 'a',
            'é' => 'e',
            'í' => 'i',
            'ó' => 'o',
            'ú' | 'ü' => 'u',
            'ñ' => 'n',
            c => c,
        })
        .filter(|c| c.is_alphanumeric())
        .collect()
}

fn unreadable(why: impl Into<String>) -> AppError {
    AppError::Validation(vec![FieldError::new("file", why)])
}

/// Reads an uploaded spreadsheet: a workbook when it is one (a ZIP or an OLE file), CSV otherwise.
pub fn read(bytes: &[u8]) -> Result<Sheet, AppError> {
    if bytes.len() > MAX_SHEET_BYTES {
        return Err(AppError::PayloadTooLarge(MAX_SHEET_BYTES));
    }
    if bytes.starts_with(b"PK\x03\x04") || bytes.starts_with(&[0xD0, 0xCF, 0x11, 0xE0]) {
        return read_workbook(bytes);
    }
    read_csv(&decode(bytes))
}

/// Text of a CSV file: UTF-8 (a BOM is dropped), or Windows-1252 when it is not valid UTF-8.
pub(crate) fn decode(bytes: &[u8]) -> String {
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    match std::str::from_utf8(bytes) {
        Ok(text) => text.to_owned(),
        Err(_) => encoding_rs::WINDOWS_1252.decode(bytes).0.into_owned(),
    }
}

/// The separator of a CSV text: the one of comma, semicolon and tab seen most in its first line.
fn separator(text: &str) -> u8 {
    let first = text.lines().next().unwrap_or_default();
    [b',', b';', b'\t']
        .into_iter()
        .max_by_key(|s| first.bytes().filter(|b| b == s).count())
        .unwrap_or(b',')
}

fn read_csv(text: &str) -> Result<Sheet, AppError> {
    let mut reader = csv::ReaderBuilder::new()
        .delimiter(separator(text))
        .flexible(true)
        .trim(csv::Trim::All)
        .from_reader(text.as_bytes());
    let headers: Vec<String> = reader
        .headers()
        .map_err(|e| unreadable(format!("no se pudo leer el encabezado: {e}")))?
        .iter()
        .map(str::to_owned)
        .collect();
    if headers.iter().all(String::is_empty) {
        return Err(unreadable("el archivo está vacío o no tiene encabezado"));
    }
    let mut rows = Vec::new();
    for (i, record) in reader.records().enumerate() {
        let record = record.map_err(|e| unreadable(format!("fila {} ilegible: {e}", i + 1)))?;
        let row: Vec<String> = record.iter().map(str::to_owned).collect();
        if row.iter().all(String::is_empty) {
            continue;
        }
        rows.push(row);
    }
    Ok(Sheet { headers, rows })
}

fn cell(data: &Data) -> String {
    match data {
        Data::Empty => String::new(),
        Data::String(s) => s.trim().to_owned(),
        // Whole numbers (counts, SKUs typed as numbers) without ".0".
        Data::Float(f) if f.fract() == 0.0 && f.abs() < 1e15 => format!("{}", *f as i64),
        Data::Float(f) => f.to_string(),
        Data::Int(i) => i.to_string(),
        Data::Bool(b) => b.to_string(),
        other => other.to_string(),
    }
}

fn read_workbook(bytes: &[u8]) -> Result<Sheet, AppError> {
    let mut book = calamine::open_workbook_auto_from_rs(std::io::Cursor::new(bytes))
        .map_err(|e| unreadable(format!("no se pudo abrir el libro de Excel: {e}")))?;
    let first = book
        .sheet_names()
        .first()
        .cloned()
        .ok_or_else(|| unreadable("el libro no tiene hojas"))?;
    let range = book
        .worksheet_range(&first)
        .map_err(|e| unreadable(format!("no se pudo leer la hoja {first}: {e}")))?;
    let mut rows = range.rows().map(|r| r.iter().map(cell).collect::<Vec<_>>());
    let headers = rows
        .next()
        .ok_or_else(|| unreadable("la hoja está vacía"))?;
    let rows = rows.filter(|r| !r.iter().all(String::is_empty)).collect();
    Ok(Sheet { headers, rows })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    /// A minimal .xlsx workbook with one sheet of inline strings and numbers.
    fn xlsx(rows: &[&[&str]]) -> Vec<u8> {
        let mut sheet = String::from(
            r#"<?xml version="1.0" encoding="UTF-8"?><worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData>"#,
        );
        for (r, row) in rows.iter().enumerate() {
            sheet.push_str(&format!(r#"<row r="{}">"#, r + 1));
            for (c, value) in row.iter().enumerate() {
                let at = format!("{}{}", char::from(b'A' + c as u8), r + 1);
                if !value.is_empty() && value.parse::<f64>().is_ok() {
                    sheet.push_str(&format!(r#"<c r="{at}"><v>{value}</v></c>"#));
                } else {
                    sheet.push_str(&format!(
                        r#"<c r="{at}" t="inlineStr"><is><t>{value}</t></is></c>"#
                    ));
                }
            }
            sheet.push_str("</row>");
        }
        sheet.push_str("</sheetData></worksheet>");
        let files = [
            ("[Content_Types].xml", r#"<?xml version="1.0" encoding="UTF-8"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"><Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/><Default Extension="xml" ContentType="application/xml"/><Override PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/><Override PartName="/xl/worksheets/sheet1.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/></Types>"#.to_owned()),
            ("_rels/.rels", r#"<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" Target="xl/workbook.xml"/></Relationships>"#.to_owned()),
            ("xl/workbook.xml", r#"<?xml version="1.0" encoding="UTF-8"?><workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships"><sheets><sheet name="Conteo" sheetId="1" r:id="rId1"/></sheets></workbook>"#.to_owned()),
            ("xl/_rels/workbook.xml.rels", r#"<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet" Target="worksheets/sheet1.xml"/></Relationships>"#.to_owned()),
            ("xl/worksheets/sheet1.xml", sheet),
        ];
        let mut out = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
        for (name, body) in files {
            out.start_file(name, zip::write::SimpleFileOptions::default())
                .expect("zip entry");
            out.write_all(body.as_bytes()).expect("zip write");
        }
        out.finish().expect("zip").into_inner()
    }

    #[test]
    fn reads_utf8_csv_with_a_bom_and_finds_columns_by_name() {
        let sheet = read("\u{feff}SKU,Cantidad\n7501008491072, 12\n\n7501035911208,3\n".as_bytes())
            .expect("csv");
        assert_eq!(sheet.headers, ["SKU", "Cantidad"]);
        assert_eq!(
            sheet.rows,
            [["7501008491072", "12"], ["7501035911208", "3"]]
        );
        assert_eq!(sheet.column(&["codigo", "sku"]), Some(0));
        assert_eq!(sheet.column(&["cantidad"]), Some(1));
        assert_eq!(sheet.column(&["precio"]), None);
    }

    #[test]
    fn reads_windows_1252_csv_as_excel_saves_it_with_semicolons() {
        // "Código;Descripción;Existencia\n1;Jabón neutro;7\n" in Windows-1252.
        let mut bytes = b"C\xf3digo;Descripci\xf3n;Existencia\n1;Jab\xf3n neutro;7\n".to_vec();
        bytes.extend_from_slice(b"2;Pa\xf1ales;0\n");
        let sheet = read(&bytes).expect("1252");
        assert_eq!(sheet.headers, ["Código", "Descripción", "Existencia"]);
        assert_eq!(sheet.rows[0], ["1", "Jabón neutro", "7"]);
        assert_eq!(sheet.rows[1][1], "Pañales");
        assert_eq!(sheet.column(&["codigo"]), Some(0));
    }

    #[test]
    fn reads_the_first_sheet_of_an_xlsx_workbook() {
        let book = xlsx(&[
            &["sku", "cantidad"],
            &["7501008491072", "40"],
            &["ABC-1", "2.5"],
        ]);
        let sheet = read(&book).expect("xlsx");
        assert_eq!(sheet.headers, ["sku", "cantidad"]);
        assert_eq!(sheet.rows, [["7501008491072", "40"], ["ABC-1", "2.5"]]);
        let csv = sheet.to_csv().expect("csv");
        assert_eq!(csv, "sku,cantidad\n7501008491072,40\nABC-1,2.5\n");
    }

    #[test]
    fn a_broken_workbook_or_an_empty_file_is_refused_with_a_reason() {
        let mut broken = xlsx(&[&["sku"]]);
        broken.truncate(40);
        assert!(matches!(read(&broken), Err(AppError::Validation(_))));
        assert!(matches!(read(b""), Err(AppError::Validation(_))));
        assert!(matches!(
            read(&vec![b'a'; MAX_SHEET_BYTES + 1]),
            Err(AppError::PayloadTooLarge(_))
        ));
    }
}
