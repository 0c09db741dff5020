//! The printed representation, read back with an independent PDF parser (lopdf) and QR decoder
//! (rqrr): structure, the text a person reads, pagination of a large global invoice, and a QR code
//! that decodes to SAT's verification URL.

mod pac_support;
use pac_support as support;

use chrono::{TimeZone, Utc};
use lopdf::content::Content;
use lopdf::{Document, Object};
use mostrador_cfdi::pac::sandbox::SandboxPac;
use mostrador_cfdi::pac::Pac;
use mostrador_cfdi::pdf::render;
use mostrador_cfdi::stamped::StampedCfdi;
use mostrador_core::FixedClock;
use std::sync::Arc;
use support::{Tfd, SEALED};

const UUID: &str = "AF124DC7-BD75-5EFF-8EDF-28C1E7D43B1D";

/// What a page says: every string it shows, one per line, decoded from WinAnsiEncoding.
struct Page {
    text: String,
    /// Rectangles drawn inside the `/QRCode` marked section: (x, y, width, height).
    qr: Vec<(f32, f32, f32, f32)>,
}

fn winansi(bytes: &[u8]) -> String {
    const HIGH: [char; 32] = [
        '€', '\u{81}', '‚', 'ƒ', '„', '…', '†', '‡', 'ˆ', '‰', 'Š', '‹', 'Œ', '\u{8d}', 'Ž',
        '\u{8f}', '\u{90}', '‘', '’', '“', '”', '•', '–', '—', '˜', '™', 'š', '›', 'œ', '\u{9d}',
        'ž', 'Ÿ',
    ];
    bytes
        .iter()
        .map(|&b| match b {
            0x80..=0x9f => HIGH[usize::from(b - 0x80)],
            _ => char::from(b),
        })
        .collect()
}

fn read_pdf(pdf: &[u8]) -> Vec<Page> {
    let doc = Document::load_mem(pdf).expect("lopdf reads the PDF");
    doc.get_pages()
        .values()
        .map(|&page_id| {
            let content = doc.get_page_content(page_id);
            let ops = Content::decode(&content)
                .expect("content stream")
                .operations;
            let mut page = Page {
                text: String::new(),
                qr: Vec::new(),
            };
            let mut in_qr = false;
            for op in ops {
                match op.operator.as_str() {
                    "Tj" => {
                        if let Some(Object::String(bytes, _)) = op.operands.first() {
                            page.text.push_str(&winansi(bytes));
                            page.text.push('\n');
                        }
                    }
                    "BMC" => {
                        in_qr =
                            matches!(op.operands.first(), Some(Object::Name(n)) if n == b"QRCode");
                    }
                    "EMC" => in_qr = false,
                    "re" if in_qr => {
                        let n: Vec<f32> = op
                            .operands
                            .iter()
                            .map(|o| o.as_float().expect("number"))
                            .collect();
                        page.qr.push((n[0], n[1], n[2], n[3]));
                    }
                    _ => {}
                }
            }
            page
        })
        .collect()
}

/// Checks the file's skeleton by hand: header, `startxref` pointing at the table, every table
/// entry pointing at its `N 0 obj`, and `%%EOF` at the end.
fn assert_well_formed(pdf: &[u8]) {
    assert!(pdf.starts_with(b"%PDF-1."));
    assert!(pdf.ends_with(b"%%EOF\n"));
    let tail = String::from_utf8_lossy(&pdf[pdf.len().saturating_sub(64)..]).to_string();
    let xref_at: usize = tail
        .split("startxref\n")
        .nth(1)
        .and_then(|t| t.lines().next())
        .and_then(|n| n.trim().parse().ok())
        .expect("startxref");
    let xref = String::from_utf8(pdf[xref_at..].to_vec()).expect("ascii xref");
    let mut lines = xref.lines();
    assert_eq!(lines.next(), Some("xref"));
    let count: usize = lines
        .next()
        .and_then(|l| l.split(' ').nth(1))
        .and_then(|n| n.parse().ok())
        .expect("subsection size");
    lines.next(); // object 0, free
    for id in 1..count {
        let entry = lines.next().expect("xref entry");
        let offset: usize = entry[..10].parse().expect("offset");
        assert!(
            pdf[offset..].starts_with(format!("{id} 0 obj").as_bytes()),
            "xref entry of object {id} points elsewhere"
        );
    }
}

/// Rasterizes the QR rectangles (4 px per point, with a white margin) and decodes them.
fn decode_qr(rects: &[(f32, f32, f32, f32)]) -> String {
    assert!(!rects.is_empty(), "no QR code drawn");
    let scale = 4.0;
    let margin = 40.0;
    let min_x = rects.iter().map(|r| r.0).fold(f32::MAX, f32::min);
    let min_y = rects.iter().map(|r| r.1).fold(f32::MAX, f32::min);
    let max_x = rects.iter().map(|r| r.0 + r.2).fold(f32::MIN, f32::max);
    let max_y = rects.iter().map(|r| r.1 + r.3).fold(f32::MIN, f32::max);
    let width = ((max_x - min_x) * scale + 2.0 * margin) as usize;
    let height = ((max_y - min_y) * scale + 2.0 * margin) as usize;
    let mut pixels = vec![255u8; width * height];
    for &(x, y, w, h) in rects {
        let x0 = ((x - min_x) * scale + margin).round() as usize;
        let x1 = ((x + w - min_x) * scale + margin).round() as usize;
        // PDF y grows upwards; image rows grow downwards.
        let y0 = ((max_y - (y + h)) * scale + margin).round() as usize;
        let y1 = ((max_y - y) * scale + margin).round() as usize;
        for row in y0..y1.min(height) {
            for col in x0..x1.min(width) {
                pixels[row * width + col] = 0;
            }
        }
    }
    let mut image =
        rqrr::PreparedImage::prepare_from_greyscale(width, height, |x, y| pixels[y * width + x]);
    let grids = image.detect_grids();
    assert_eq!(grids.len(), 1, "one QR code");
    let (_meta, content) = grids[0].decode().expect("QR decodes");
    content
}

async fn sandbox_stamped() -> String {
    let clock = FixedClock::at(
        Utc.with_ymd_and_hms(2026, 11, 20, 16, 45, 0)
            .single()
            .expect("valid instant"),
    );
    SandboxPac::new(Arc::new(clock))
        .stamp(SEALED)
        .await
        .expect("sandbox stamp")
        .xml
}

#[tokio::test]
async fn the_pdf_shows_the_fiscal_data_and_warns_that_a_sandbox_stamp_is_not_fiscal() {
    let xml = sandbox_stamped().await;
    let cfdi = StampedCfdi::parse(&xml).expect("stamped CFDI");

    let pdf = render(&cfdi).expect("rendered");

    assert_well_formed(&pdf);
    let pages = read_pdf(&pdf);
    assert_eq!(pages.len(), 1);
    let text = &pages[0].text;
    for expected in [
        cfdi.timbre.uuid.as_str(),
        "EKU9003173C9",
        "ESCUELA KEMPER URGATE",
        "XIA190128J61",
        "XENON INDUSTRIAL ARTICLES",
        "A-1001",
        "2026-11-20 10:30:00",
        "2026-11-20 10:45:00",
        "$116.00",
        "$100.00",
        "(CIENTO DIECISÉIS PESOS 00/100 M.N.)",
        "Régimen fiscal: 601 - General de Ley Personas Morales",
        "G03 - Gastos en general",
        "Refresco de cola 600 ml (envase no retornable) — edición “Año",
        "Nuevo” & más",
        "30001000000500003416",
        "00000000000000000000",
        "SIN VALIDEZ FISCAL — TIMBRE DE PRUEBA",
        "Timbre de prueba sin validez fiscal - sandbox mostrador",
        "Página 1 de 1",
    ] {
        assert!(text.contains(expected), "the PDF should show {expected:?}");
    }
    // Sellos and the cadena are wrapped character by character: joined back, they are exact.
    let joined: String = text.lines().collect();
    assert!(joined.contains(&cfdi.sello));
    assert!(joined.contains(&cfdi.timbre.sello_sat));
    assert!(joined.contains(&cfdi.timbre.cadena_original()));
}

#[tokio::test]
async fn the_qr_code_decodes_to_sats_verification_url() {
    let xml = sandbox_stamped().await;
    let cfdi = StampedCfdi::parse(&xml).expect("stamped CFDI");

    let pages = read_pdf(&render(&cfdi).expect("rendered"));

    let url = decode_qr(&pages[0].qr);
    assert_eq!(url, cfdi.verification_url());
    assert!(url.starts_with("https://verificacfdi.facturaelectronica.sat.gob.mx/default.aspx?id="));
    assert!(url.contains("&re=EKU9003173C9&rr=XIA190128J61&tt=116.0&fe="));
    // Side of at least 2.75 cm (78 pt).
    let side = pages[0]
        .qr
        .iter()
        .map(|r| r.0 + r.2)
        .fold(f32::MIN, f32::max)
        - pages[0].qr.iter().map(|r| r.0).fold(f32::MAX, f32::min);
    assert!(side >= 78.0, "QR side {side} pt");
}

/// A stamped global invoice of `n` tickets (Anexo 20's factura global: público en general,
/// InformacionGlobal, one concepto per ticket), amounts computed in integer centavos.
fn global_invoice(n: u64) -> String {
    let conceptos: String = (1..=n)
        .map(|i| {
            format!(
                "<cfdi:Concepto ClaveProdServ=\"01010101\" NoIdentificacion=\"T-{i:05}\" Cantidad=\"1\" ClaveUnidad=\"ACT\" \
                 Descripcion=\"Venta\" ValorUnitario=\"86.21\" Importe=\"86.21\" ObjetoImp=\"02\"><cfdi:Impuestos><cfdi:Traslados>\
                 <cfdi:Traslado Base=\"86.21\" Impuesto=\"002\" TipoFactor=\"Tasa\" TasaOCuota=\"0.160000\" Importe=\"13.79\"/>\
                 </cfdi:Traslados></cfdi:Impuestos></cfdi:Concepto>"
            )
        })
        .collect();
    let pesos = |centavos: u64| format!("{}.{:02}", centavos / 100, centavos % 100);
    let subtotal = 8621 * n;
    let iva = 1379 * n;
    let sealed = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\
         <cfdi:Comprobante xmlns:cfdi=\"http://www.sat.gob.mx/cfd/4\" xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\" \
         Version=\"4.0\" Serie=\"G\" Folio=\"20261120\" Fecha=\"2026-11-20T23:50:00\" Sello=\"c2VsbG8gZGUgbGEgZmFjdHVyYSBnbG9iYWw=\" \
         FormaPago=\"01\" NoCertificado=\"30001000000500003416\" Certificado=\"MIIF\" SubTotal=\"{}\" Moneda=\"MXN\" Total=\"{}\" \
         TipoDeComprobante=\"I\" Exportacion=\"01\" MetodoPago=\"PUE\" LugarExpedicion=\"26015\">\
         <cfdi:InformacionGlobal Periodicidad=\"01\" Meses=\"11\" Año=\"2026\"/>\
         <cfdi:Emisor Rfc=\"EKU9003173C9\" Nombre=\"ESCUELA KEMPER URGATE\" RegimenFiscal=\"601\"/>\
         <cfdi:Receptor Rfc=\"XAXX010101000\" Nombre=\"PUBLICO EN GENERAL\" DomicilioFiscalReceptor=\"26015\" RegimenFiscalReceptor=\"616\" UsoCFDI=\"S01\"/>\
         <cfdi:Conceptos>{conceptos}</cfdi:Conceptos>\
         <cfdi:Impuestos TotalImpuestosTrasladados=\"{}\"><cfdi:Traslados><cfdi:Traslado Base=\"{}\" Impuesto=\"002\" TipoFactor=\"Tasa\" TasaOCuota=\"0.160000\" Importe=\"{}\"/></cfdi:Traslados></cfdi:Impuestos>\
         </cfdi:Comprobante>",
        pesos(subtotal),
        pesos(subtotal + iva),
        pesos(iva),
        pesos(subtotal),
        pesos(iva),
    );
    Tfd::for_sealed(&sealed, UUID).stamp(&sealed)
}

#[test]
fn a_global_invoice_of_two_thousand_tickets_paginates_without_losing_a_concepto() {
    let cfdi = StampedCfdi::parse(&global_invoice(2000)).expect("global invoice");
    assert_eq!(cfdi.conceptos.len(), 2000);

    let pdf = render(&cfdi).expect("rendered");

    assert_well_formed(&pdf);
    let pages = read_pdf(&pdf);
    let count = pages.len();
    assert!(count > 10, "{count} pages");
    for (i, page) in pages.iter().enumerate() {
        assert!(page.text.contains(&format!("Página {} de {count}", i + 1)));
        assert!(
            page.text.contains(UUID),
            "every page names the folio fiscal"
        );
        assert!(
            !page.text.contains("SIN VALIDEZ FISCAL"),
            "a PAC stamp is not the sandbox's"
        );
    }
    let all: String = pages.iter().map(|p| p.text.as_str()).collect();
    for i in 1..=2000 {
        let ticket = format!("No. identificación: T-{i:05} ");
        assert_eq!(all.matches(&ticket).count(), 1, "ticket {i} printed once");
    }
    // Every page holding conceptos repeats the table header.
    for page in pages
        .iter()
        .filter(|p| p.text.contains("No. identificación: T-"))
    {
        assert!(page.text.contains("Valor unitario"));
    }
    let first = &pages[0].text;
    for expected in [
        "PUBLICO EN GENERAL",
        "XAXX010101000",
        "01 - Diario",
        "11 - Noviembre",
        "2026",
    ] {
        assert!(
            first.contains(expected),
            "the first page should show {expected:?}"
        );
    }
    let last = &pages[count - 1].text;
    assert!(last.contains("$200,000.00"));
    assert!(last.contains("$172,420.00"));
    assert!(last.contains("$27,580.00"));
    assert!(last.contains("(DOSCIENTOS MIL PESOS 00/100 M.N.)"));
    assert_eq!(decode_qr(&pages[count - 1].qr), cfdi.verification_url());
}
