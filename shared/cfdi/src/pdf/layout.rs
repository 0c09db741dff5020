//! Where everything goes on the printed CFDI: issuer and receiver, the conceptos table (repeated
//! header on every page, so a global invoice of thousands of tickets paginates), totals with the
//! amount in words, and the fiscal block with the QR code, sellos and the TFD's cadena original.

use super::canvas::{Canvas, Color};
use super::font::{wrap, wrap_chars, Font};
use super::labels::{self, with_label};
use super::letters::importe_con_letra;
use super::writer::{PAGE_HEIGHT, PAGE_WIDTH};
use super::PdfError;
use crate::stamped::{Concepto, StampedCfdi, Tax};
use qrcode::{Color as Module, EcLevel, QrCode};
use std::fmt::Write as _;

const MARGIN: f32 = 36.0;
const LEFT: f32 = MARGIN;
const RIGHT: f32 = PAGE_WIDTH - MARGIN;
const WIDTH: f32 = RIGHT - LEFT;
const TOP: f32 = PAGE_HEIGHT - MARGIN;
/// Content stops here; the footer lives below.
const BOTTOM: f32 = MARGIN + 14.0;

const HEADER_GRAY: Color = Color::Gray(0.88);
const RULE_GRAY: f32 = 0.75;
const SANDBOX_RED: Color = Color::Rgb(0.75, 0.07, 0.07);

/// Side of the QR code: SAT asks for at least 2.75 cm (78 pt).
const QR_SIZE: f32 = 104.0;
/// Light modules around the code, as the QR standard requires.
const QR_QUIET_MODULES: usize = 4;

/// A column of the conceptos table.
struct Column {
    title: &'static str,
    width: f32,
    right_aligned: bool,
}

const TABLE: [Column; 7] = [
    Column {
        title: "Clave",
        width: 48.0,
        right_aligned: false,
    },
    Column {
        title: "Cantidad",
        width: 44.0,
        right_aligned: true,
    },
    Column {
        title: "Unidad",
        width: 56.0,
        right_aligned: false,
    },
    Column {
        title: "Descripción",
        width: 204.0,
        right_aligned: false,
    },
    Column {
        title: "Valor unitario",
        width: 66.0,
        right_aligned: true,
    },
    Column {
        title: "Importe",
        width: 66.0,
        right_aligned: true,
    },
    Column {
        title: "IVA",
        width: 56.0,
        right_aligned: true,
    },
];
const CELL_PAD: f32 = 3.0;
const ROW_SIZE: f32 = 7.0;
const ROW_LEADING: f32 = 8.5;
const DETAIL_SIZE: f32 = 6.0;
const DETAIL_LEADING: f32 = 7.5;

/// Lays the CFDI out and returns each page's content stream.
pub(crate) fn lay_out(cfdi: &StampedCfdi) -> Result<Vec<Vec<u8>>, PdfError> {
    let mut layout = Layout {
        cfdi,
        pages: Vec::new(),
        y: TOP,
    };
    layout.new_page();
    layout.header();
    layout.receptor();
    layout.global_and_related();
    layout.conceptos();
    layout.totals();
    layout.fiscal_block()?;
    Ok(layout.finish())
}

struct Layout<'a> {
    cfdi: &'a StampedCfdi,
    pages: Vec<Canvas>,
    /// Top of the next thing to draw on the current page.
    y: f32,
}

impl Layout<'_> {
    fn page(&mut self) -> &mut Canvas {
        if self.pages.is_empty() {
            self.pages.push(Canvas::default());
        }
        let last = self.pages.len() - 1;
        &mut self.pages[last]
    }

    /// Starts a page: the sandbox warning first, then (after the first page) a reminder of whose
    /// CFDI this is.
    fn new_page(&mut self) {
        self.pages.push(Canvas::default());
        self.y = TOP;
        if self.cfdi.is_sandbox() {
            self.sandbox_banner();
        }
        if self.pages.len() > 1 {
            let reminder = format!(
                "{} · {} · Folio fiscal {}",
                self.cfdi.emisor.nombre,
                self.cfdi.serie_folio().unwrap_or_default(),
                self.cfdi.timbre.uuid
            );
            let y = self.y;
            let page = self.page();
            page.fill(Color::Gray(0.35));
            page.text(LEFT, y - 7.0, Font::Regular, 7.0, &reminder);
            page.fill(Color::Black);
            page.rule(LEFT, RIGHT, y - 10.0, RULE_GRAY);
            self.y -= 16.0;
        }
    }

    /// Leaves room for `height` points, starting a page when they do not fit. True when a page
    /// was started.
    fn ensure(&mut self, height: f32) -> bool {
        if self.y - height < BOTTOM {
            self.new_page();
            true
        } else {
            false
        }
    }

    fn sandbox_banner(&mut self) {
        let leyenda = self
            .cfdi
            .timbre
            .leyenda
            .clone()
            .unwrap_or_else(|| "Timbre de prueba sin validez fiscal".to_owned());
        let y = self.y;
        let page = self.page();
        // A light diagonal watermark under everything else, then a red band on top.
        page.fill(Color::Rgb(0.98, 0.85, 0.85));
        page.text_diagonal(130.0, 180.0, Font::Bold, 64.0, "SIN VALIDEZ FISCAL");
        page.fill(SANDBOX_RED);
        page.fill_rect(LEFT, y - 30.0, WIDTH, 30.0);
        page.fill(Color::White);
        page.text_center(
            LEFT + WIDTH / 2.0,
            y - 13.0,
            Font::Bold,
            11.0,
            "SIN VALIDEZ FISCAL — TIMBRE DE PRUEBA",
        );
        page.text_center(LEFT + WIDTH / 2.0, y - 25.0, Font::Regular, 7.5, &leyenda);
        page.fill(Color::Black);
        self.y -= 38.0;
    }

    /// Issuer on the left, the document's identity on the right.
    fn header(&mut self) {
        let cfdi = self.cfdi;
        let top = self.y;
        let box_width = 230.0;
        let box_left = RIGHT - box_width;

        // Issuer.
        let mut y = top;
        let name_lines = wrap(
            &cfdi.emisor.nombre,
            Font::Bold,
            12.0,
            box_left - LEFT - 12.0,
        );
        for line in &name_lines {
            self.page().text(LEFT, y - 12.0, Font::Bold, 12.0, line);
            y -= 14.0;
        }
        y -= 2.0;
        let issuer_lines = [
            format!("RFC: {}", cfdi.emisor.rfc),
            format!(
                "Régimen fiscal: {}",
                with_label(
                    &cfdi.emisor.regimen_fiscal,
                    labels::regimen_fiscal(&cfdi.emisor.regimen_fiscal)
                )
            ),
            format!("Lugar de expedición (C.P.): {}", cfdi.lugar_expedicion),
        ];
        for text in &issuer_lines {
            for line in wrap(text, Font::Regular, 8.0, box_left - LEFT - 12.0) {
                self.page().text(LEFT, y - 8.0, Font::Regular, 8.0, &line);
                y -= 10.0;
            }
        }
        let issuer_bottom = y;

        // Identity box.
        let title = match cfdi.tipo_de_comprobante.as_str() {
            "I" => "FACTURA".to_owned(),
            other => labels::tipo_de_comprobante(other)
                .unwrap_or("CFDI")
                .to_uppercase(),
        };
        let rows: Vec<(&str, String)> = vec![
            (
                "Serie y folio",
                cfdi.serie_folio().unwrap_or_else(|| "—".into()),
            ),
            ("Folio fiscal (UUID)", cfdi.timbre.uuid.clone()),
            ("Fecha de emisión", date_time(&cfdi.fecha)),
            (
                "Fecha de certificación",
                date_time(&cfdi.timbre.fecha_timbrado),
            ),
            (
                "Tipo de comprobante",
                with_label(
                    &cfdi.tipo_de_comprobante,
                    labels::tipo_de_comprobante(&cfdi.tipo_de_comprobante),
                ),
            ),
            (
                "Exportación",
                with_label(&cfdi.exportacion, labels::exportacion(&cfdi.exportacion)),
            ),
            ("Versión", "CFDI 4.0".to_owned()),
        ];
        let page = self.page();
        page.fill(HEADER_GRAY);
        page.fill_rect(box_left, top - 16.0, box_width, 16.0);
        page.fill(Color::Black);
        page.text_center(
            box_left + box_width / 2.0,
            top - 12.0,
            Font::Bold,
            10.0,
            &title,
        );
        let mut by = top - 20.0;
        for (label, value) in &rows {
            page.text(box_left + 4.0, by - 7.0, Font::Bold, 7.0, label);
            page.text_right(RIGHT - 4.0, by - 7.0, Font::Regular, 7.0, value);
            by -= 10.0;
        }
        page.rule(box_left, RIGHT, by - 1.0, RULE_GRAY);
        self.y = issuer_bottom.min(by - 2.0) - 8.0;
    }

    fn section_title(&mut self, title: &str) {
        self.ensure(30.0);
        let y = self.y;
        let page = self.page();
        page.fill(HEADER_GRAY);
        page.fill_rect(LEFT, y - 12.0, WIDTH, 12.0);
        page.fill(Color::Black);
        page.text(LEFT + 4.0, y - 9.0, Font::Bold, 7.5, title);
        self.y -= 14.0;
    }

    /// `label: value` lines, wrapped to the content width.
    fn fields(&mut self, fields: &[(&str, String)]) {
        for (label, value) in fields {
            let label = format!("{label}: ");
            let label_width = Font::Bold.width(&label, 8.0);
            let lines = wrap(value, Font::Regular, 8.0, WIDTH - 8.0 - label_width);
            self.ensure(10.0 * lines.len() as f32);
            let y = self.y;
            let page = self.page();
            page.text(LEFT + 4.0, y - 8.0, Font::Bold, 8.0, &label);
            for (i, line) in lines.iter().enumerate() {
                page.text(
                    LEFT + 4.0 + label_width,
                    y - 8.0 - 10.0 * i as f32,
                    Font::Regular,
                    8.0,
                    line,
                );
            }
            self.y -= 10.0 * lines.len() as f32;
        }
        self.y -= 4.0;
    }

    fn receptor(&mut self) {
        let r = &self.cfdi.receptor;
        self.section_title("RECEPTOR");
        let mut fields = vec![
            ("Nombre", r.nombre.clone()),
            ("RFC", r.rfc.clone()),
            ("Domicilio fiscal (C.P.)", r.domicilio_fiscal.clone()),
        ];
        if let Some(pais) = &r.residencia_fiscal {
            let nombre = crate::catalogs::Pais::parse(pais).map(|p| p.nombre()).ok();
            fields.push(("Residencia fiscal", with_label(pais, nombre)));
        }
        if let Some(num) = &r.num_reg_id_trib {
            fields.push(("Núm. de registro tributario", num.clone()));
        }
        fields.push((
            "Régimen fiscal",
            with_label(&r.regimen_fiscal, labels::regimen_fiscal(&r.regimen_fiscal)),
        ));
        fields.push((
            "Uso del CFDI",
            with_label(&r.uso_cfdi, labels::uso_cfdi(&r.uso_cfdi)),
        ));
        self.fields(&fields);
    }

    fn global_and_related(&mut self) {
        if let Some(global) = &self.cfdi.informacion_global {
            self.section_title("INFORMACIÓN GLOBAL");
            self.fields(&[
                (
                    "Periodicidad",
                    with_label(
                        &global.periodicidad,
                        labels::periodicidad(&global.periodicidad),
                    ),
                ),
                (
                    "Meses",
                    with_label(&global.meses, labels::meses(&global.meses)),
                ),
                ("Año", global.anio.clone()),
            ]);
        }
        if !self.cfdi.cfdi_relacionados.is_empty() {
            self.section_title("CFDI RELACIONADOS");
            let fields: Vec<(&str, String)> = self
                .cfdi
                .cfdi_relacionados
                .iter()
                .map(|group| {
                    (
                        "Tipo de relación",
                        format!(
                            "{} — {}",
                            with_label(
                                &group.tipo_relacion,
                                labels::tipo_relacion(&group.tipo_relacion)
                            ),
                            group.uuids.join(", ")
                        ),
                    )
                })
                .collect();
            self.fields(&fields);
        }
    }

    fn table_header(&mut self) {
        let y = self.y;
        let page = self.page();
        page.fill(HEADER_GRAY);
        page.fill_rect(LEFT, y - 13.0, WIDTH, 13.0);
        page.fill(Color::Black);
        let mut x = LEFT;
        for column in &TABLE {
            if column.right_aligned {
                page.text_right(
                    x + column.width - CELL_PAD,
                    y - 9.0,
                    Font::Bold,
                    7.0,
                    column.title,
                );
            } else {
                page.text(x + CELL_PAD, y - 9.0, Font::Bold, 7.0, column.title);
            }
            x += column.width;
        }
        self.y -= 15.0;
    }

    fn conceptos(&mut self) {
        self.section_title(&format!("CONCEPTOS ({})", self.cfdi.conceptos.len()));
        self.table_header();
        for concepto in &self.cfdi.conceptos {
            self.concepto_row(concepto);
        }
        self.y -= 6.0;
    }

    fn concepto_row(&mut self, concepto: &Concepto) {
        let inner = |i: usize| TABLE[i].width - 2.0 * CELL_PAD;
        let regular = Font::Regular;
        let clave = wrap(&concepto.clave_prod_serv, regular, ROW_SIZE, inner(0));
        let unidad_text = match &concepto.unidad {
            Some(unidad) => format!("{} {unidad}", concepto.clave_unidad),
            None => concepto.clave_unidad.clone(),
        };
        let unidad = wrap(&unidad_text, regular, ROW_SIZE, inner(2));
        let descripcion = wrap(&concepto.descripcion, regular, ROW_SIZE, inner(3));
        let detail = wrap(&concepto_detail(concepto), regular, DETAIL_SIZE, inner(3));
        let iva = match concepto.iva_trasladado() {
            Some(importe) => money(&importe),
            None if concepto
                .traslados
                .iter()
                .any(|t| t.impuesto == "002" && t.tipo_factor.as_deref() == Some("Exento")) =>
            {
                "Exento".to_owned()
            }
            None => String::new(),
        };
        let text_lines = clave.len().max(unidad.len()).max(descripcion.len());
        let height = text_lines as f32 * ROW_LEADING + detail.len() as f32 * DETAIL_LEADING + 3.0;
        if self.ensure(height) {
            self.table_header();
        }
        let y = self.y;
        let x = column_x();
        let page = self.page();
        let first = y - ROW_SIZE - 1.0;
        for (i, line) in clave.iter().enumerate() {
            page.text(
                x[0] + CELL_PAD,
                first - ROW_LEADING * i as f32,
                regular,
                ROW_SIZE,
                line,
            );
        }
        page.text_right(
            x[1] + TABLE[1].width - CELL_PAD,
            first,
            regular,
            ROW_SIZE,
            &concepto.cantidad,
        );
        for (i, line) in unidad.iter().enumerate() {
            page.text(
                x[2] + CELL_PAD,
                first - ROW_LEADING * i as f32,
                regular,
                ROW_SIZE,
                line,
            );
        }
        for (i, line) in descripcion.iter().enumerate() {
            page.text(
                x[3] + CELL_PAD,
                first - ROW_LEADING * i as f32,
                regular,
                ROW_SIZE,
                line,
            );
        }
        let detail_top = first - ROW_LEADING * (descripcion.len() as f32 - 1.0) - DETAIL_LEADING;
        page.fill(Color::Gray(0.35));
        for (i, line) in detail.iter().enumerate() {
            page.text(
                x[3] + CELL_PAD,
                detail_top - DETAIL_LEADING * i as f32,
                regular,
                DETAIL_SIZE,
                line,
            );
        }
        page.fill(Color::Black);
        page.text_right(
            x[4] + TABLE[4].width - CELL_PAD,
            first,
            regular,
            ROW_SIZE,
            &money(&concepto.valor_unitario),
        );
        page.text_right(
            x[5] + TABLE[5].width - CELL_PAD,
            first,
            regular,
            ROW_SIZE,
            &money(&concepto.importe),
        );
        page.text_right(
            x[6] + TABLE[6].width - CELL_PAD,
            first,
            regular,
            ROW_SIZE,
            &iva,
        );
        page.rule(LEFT, RIGHT, y - height, 0.88);
        self.y -= height;
    }

    fn totals(&mut self) {
        let cfdi = self.cfdi;
        let mut rows: Vec<(String, String, bool)> =
            vec![("Subtotal".into(), currency(&cfdi.subtotal), false)];
        if let Some(descuento) = &cfdi.descuento {
            rows.push(("Descuento".into(), currency(descuento), false));
        }
        if let Some(impuestos) = &cfdi.impuestos {
            for t in &impuestos.traslados {
                let (label, value) = tax_total_row("Traslado", t);
                rows.push((label, value, false));
            }
            for t in &impuestos.retenciones {
                let (label, value) = tax_total_row("Retención", t);
                rows.push((label, value, false));
            }
        }
        rows.push(("Total".into(), currency(&cfdi.total), true));

        let box_width = 220.0;
        let box_left = RIGHT - box_width;
        let words = importe_con_letra(&cfdi.total, &cfdi.moneda)
            .map(|w| format!("({w})"))
            .unwrap_or_default();
        let left_width = box_left - LEFT - 12.0;
        let word_lines = wrap(&words, Font::Regular, 8.0, left_width);
        let mut facts: Vec<String> = vec![format!("Moneda: {}", cfdi.moneda)];
        if let Some(tc) = &cfdi.tipo_cambio {
            facts.push(format!("Tipo de cambio: {tc}"));
        }
        if let Some(forma) = &cfdi.forma_pago {
            facts.push(format!(
                "Forma de pago: {}",
                with_label(forma, labels::forma_pago(forma))
            ));
        }
        if let Some(metodo) = &cfdi.metodo_pago {
            facts.push(format!(
                "Método de pago: {}",
                with_label(metodo, labels::metodo_pago(metodo))
            ));
        }
        if let Some(condiciones) = &cfdi.condiciones_de_pago {
            facts.push(format!("Condiciones de pago: {condiciones}"));
        }
        let fact_lines: Vec<String> = facts
            .iter()
            .flat_map(|f| wrap(f, Font::Regular, 8.0, left_width))
            .collect();
        let left_height = 12.0 + 10.0 * (word_lines.len() + fact_lines.len()) as f32 + 4.0;
        let right_height = 12.0 * rows.len() as f32 + 4.0;
        self.ensure(left_height.max(right_height));

        let top = self.y;
        let page = self.page();
        page.text(LEFT, top - 8.0, Font::Bold, 7.5, "Importe con letra:");
        let mut y = top - 18.0;
        for line in &word_lines {
            page.text(LEFT, y, Font::Regular, 8.0, line);
            y -= 10.0;
        }
        y -= 2.0;
        for line in &fact_lines {
            page.text(LEFT, y, Font::Regular, 8.0, line);
            y -= 10.0;
        }
        let mut ry = top;
        for (label, value, total) in &rows {
            let (font, size) = if *total {
                (Font::Bold, 9.5)
            } else {
                (Font::Regular, 8.0)
            };
            if *total {
                page.rule(box_left, RIGHT, ry - 1.0, 0.2);
            }
            page.text(box_left + 4.0, ry - 9.0, font, size, label);
            page.text_right(RIGHT - 4.0, ry - 9.0, font, size, value);
            ry -= 12.0;
        }
        self.y = (top - left_height).min(ry - 4.0) - 6.0;
    }

    fn fiscal_block(&mut self) -> Result<(), PdfError> {
        let cfdi = self.cfdi;
        let timbre = &cfdi.timbre;
        let url = cfdi.verification_url();
        let text_left = LEFT + QR_SIZE + 10.0;
        let text_width = RIGHT - text_left;

        let mut facts: Vec<(&str, String)> = vec![
            ("Folio fiscal", timbre.uuid.clone()),
            (
                "No. de serie del CSD del emisor",
                cfdi.no_certificado.clone(),
            ),
            (
                "No. de serie del certificado del SAT",
                timbre.no_certificado_sat.clone(),
            ),
            (
                "Fecha y hora de certificación",
                date_time(&timbre.fecha_timbrado),
            ),
            (
                "RFC del proveedor de certificación",
                timbre.rfc_prov_certif.clone(),
            ),
        ];
        if let Some(leyenda) = &timbre.leyenda {
            facts.push(("Leyenda", leyenda.clone()));
        }
        let fact_lines: Vec<(Option<&str>, String)> = facts
            .iter()
            .flat_map(|(label, value)| {
                let label_width = Font::Bold.width(&format!("{label}: "), 7.5);
                wrap(value, Font::Regular, 7.5, text_width - label_width)
                    .into_iter()
                    .enumerate()
                    .map(move |(i, line)| ((i == 0).then_some(*label), line))
            })
            .collect();
        let url_lines = wrap_chars(&url, Font::Mono, 5.5, text_width);
        let blocks = [
            (
                "Sello digital del CFDI:",
                wrap_chars(&cfdi.sello, Font::Mono, 6.0, WIDTH),
            ),
            (
                "Sello digital del SAT:",
                wrap_chars(&timbre.sello_sat, Font::Mono, 6.0, WIDTH),
            ),
            (
                "Cadena original del complemento de certificación digital del SAT:",
                wrap_chars(&timbre.cadena_original(), Font::Mono, 6.0, WIDTH),
            ),
        ];
        let facts_height = 10.0 * fact_lines.len() as f32 + 8.0 + 7.0 * url_lines.len() as f32;
        let blocks_height: f32 = blocks
            .iter()
            .map(|(_, lines)| 11.0 + 7.5 * lines.len() as f32)
            .sum();
        self.ensure(14.0 + QR_SIZE.max(facts_height) + 6.0 + blocks_height + 14.0);
        self.section_title("TIMBRE FISCAL DIGITAL");

        let top = self.y;
        let qr = qr_path(&url, LEFT, top - QR_SIZE, QR_SIZE)?;
        let page = self.page();
        page.raw(&qr);
        let mut y = top - 8.0;
        for (label, line) in &fact_lines {
            let mut x = text_left;
            if let Some(label) = label {
                let label = format!("{label}: ");
                page.text(x, y, Font::Bold, 7.5, &label);
                x += Font::Bold.width(&label, 7.5);
            } else {
                x += Font::Bold.width("Folio fiscal: ", 7.5);
            }
            page.text(x, y, Font::Regular, 7.5, line);
            y -= 10.0;
        }
        y -= 2.0;
        page.fill(Color::Gray(0.35));
        page.text(text_left, y, Font::Bold, 6.0, "Verificación en el SAT:");
        y -= 7.0;
        for line in &url_lines {
            page.text(text_left, y, Font::Mono, 5.5, line);
            y -= 7.0;
        }
        page.fill(Color::Black);

        let mut y = (top - QR_SIZE).min(y) - 6.0;
        for (title, lines) in &blocks {
            page.text(LEFT, y - 7.0, Font::Bold, 7.0, title);
            y -= 11.0;
            for line in lines {
                page.text(LEFT, y - 6.0, Font::Mono, 6.0, line);
                y -= 7.5;
            }
        }
        page.text(
            LEFT,
            y - 10.0,
            Font::Regular,
            7.0,
            "Este documento es una representación impresa de un CFDI versión 4.0.",
        );
        self.y = y - 14.0;
        Ok(())
    }

    /// Adds "Página i de n" and the folio fiscal to every page.
    fn finish(self) -> Vec<Vec<u8>> {
        let count = self.pages.len();
        let uuid = self.cfdi.timbre.uuid.clone();
        self.pages
            .into_iter()
            .enumerate()
            .map(|(i, mut page)| {
                page.rule(LEFT, RIGHT, MARGIN + 8.0, RULE_GRAY);
                page.fill(Color::Gray(0.35));
                page.text(
                    LEFT,
                    MARGIN,
                    Font::Regular,
                    6.5,
                    &format!("Folio fiscal: {uuid}"),
                );
                page.text_right(
                    RIGHT,
                    MARGIN,
                    Font::Regular,
                    6.5,
                    &format!("Página {} de {count}", i + 1),
                );
                page.fill(Color::Black);
                page.into_bytes()
            })
            .collect()
    }
}

/// Left edges of the table's columns.
fn column_x() -> [f32; 7] {
    let mut x = [LEFT; 7];
    for i in 1..7 {
        x[i] = x[i - 1] + TABLE[i - 1].width;
    }
    x
}

/// The small line under a concepto's description: identification, tax object and taxes.
fn concepto_detail(concepto: &Concepto) -> String {
    let mut parts = Vec::new();
    if let Some(id) = &concepto.no_identificacion {
        parts.push(format!("No. identificación: {id}"));
    }
    parts.push(format!(
        "Objeto de impuesto: {}",
        with_label(
            &concepto.objeto_imp,
            labels::objeto_imp(&concepto.objeto_imp)
        )
    ));
    if let Some(descuento) = &concepto.descuento {
        parts.push(format!("Descuento: {}", money(descuento)));
    }
    for t in &concepto.traslados {
        parts.push(format!("Traslado {}", tax_words(t)));
    }
    for t in &concepto.retenciones {
        parts.push(format!("Retención {}", tax_words(t)));
    }
    parts.join(" · ")
}

/// `IVA Tasa 16% base 100.00 importe 16.00`.
fn tax_words(t: &Tax) -> String {
    let mut out = labels::impuesto(&t.impuesto).to_owned();
    match (t.tipo_factor.as_deref(), t.tasa_o_cuota.as_deref()) {
        (Some("Tasa"), Some(tasa)) => {
            let _ = write!(out, " Tasa {}", percent(tasa));
        }
        (Some("Cuota"), Some(cuota)) => {
            let _ = write!(out, " Cuota {cuota}");
        }
        (Some(factor), _) => {
            let _ = write!(out, " {factor}");
        }
        (None, _) => {}
    }
    if let Some(base) = &t.base {
        let _ = write!(out, " base {}", money(base));
    }
    if let Some(importe) = &t.importe {
        let _ = write!(out, " importe {}", money(importe));
    }
    out
}

/// A comprobante-level tax row of the totals box.
fn tax_total_row(kind: &str, t: &Tax) -> (String, String) {
    let name = labels::impuesto(&t.impuesto);
    let label = match (t.tipo_factor.as_deref(), t.tasa_o_cuota.as_deref()) {
        (Some("Tasa"), Some(tasa)) => format!("{kind} {name} {}", percent(tasa)),
        (Some("Exento"), _) => format!("{kind} {name} exento"),
        (Some("Cuota"), Some(cuota)) => format!("{kind} {name} cuota {cuota}"),
        _ => format!("{kind} {name}"),
    };
    let value = match &t.importe {
        Some(importe) => currency(importe),
        None => "—".to_owned(),
    };
    (label, value)
}

/// A rate as a percentage, exactly: `0.160000` → `16%`, `0.106667` → `10.6667%`.
fn percent(rate: &str) -> String {
    let (int, frac) = rate.split_once('.').unwrap_or((rate, ""));
    let frac = format!("{frac:0<2}");
    let (moved, rest) = frac.split_at(2);
    let whole = format!("{int}{moved}");
    let whole = whole.trim_start_matches('0');
    let whole = if whole.is_empty() { "0" } else { whole };
    let rest = rest.trim_end_matches('0');
    if rest.is_empty() {
        format!("{whole}%")
    } else {
        format!("{whole}.{rest}%")
    }
}

/// An exact decimal with thousands separators, decimals untouched: `1234.500000` → `1,234.500000`.
fn money(amount: &str) -> String {
    let (int, frac) = match amount.split_once('.') {
        Some((i, f)) => (i, Some(f)),
        None => (amount, None),
    };
    let mut grouped = String::with_capacity(int.len() + int.len() / 3);
    for (i, c) in int.chars().enumerate() {
        if i > 0 && (int.len() - i) % 3 == 0 {
            grouped.push(',');
        }
        grouped.push(c);
    }
    match frac {
        Some(frac) => format!("{grouped}.{frac}"),
        None => grouped,
    }
}

/// `$1,234.56`.
fn currency(amount: &str) -> String {
    format!("${}", money(amount))
}

/// `2024-06-12T00:50:43` → `2024-06-12 00:50:43`.
fn date_time(text: &str) -> String {
    text.replacen('T', " ", 1)
}

/// The QR code of `url` as one filled path of dark modules, in a marked-content section
/// `/QRCode` (what the tests read back). Error correction M, as SAT's specification asks.
fn qr_path(url: &str, x: f32, y: f32, size: f32) -> Result<String, PdfError> {
    let code = QrCode::with_error_correction_level(url.as_bytes(), EcLevel::M)
        .map_err(|e| PdfError::Qr(e.to_string()))?;
    let n = code.width();
    let colors = code.to_colors();
    let module = size / (n + 2 * QR_QUIET_MODULES) as f32;
    let top = y + size;
    let mut out = String::from("/QRCode BMC\n0 g\n");
    for row in 0..n {
        let mut col = 0;
        while col < n {
            if colors[row * n + col] != Module::Dark {
                col += 1;
                continue;
            }
            let start = col;
            while col < n && colors[row * n + col] == Module::Dark {
                col += 1;
            }
            let _ = writeln!(
                out,
                "{} {} {} {} re",
                super::canvas::num(x + (QR_QUIET_MODULES + start) as f32 * module),
                super::canvas::num(top - (QR_QUIET_MODULES + row + 1) as f32 * module),
                super::canvas::num((col - start) as f32 * module),
                super::canvas::num(module)
            );
        }
    }
    out.push_str("f\nEMC\n");
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_print_as_exact_percentages() {
        assert_eq!(percent("0.160000"), "16%");
        assert_eq!(percent("0.080000"), "8%");
        assert_eq!(percent("0.106667"), "10.6667%");
        assert_eq!(percent("0.000000"), "0%");
        assert_eq!(percent("1"), "100%");
    }

    #[test]
    fn money_groups_thousands_without_touching_decimals() {
        assert_eq!(money("1234567.891234"), "1,234,567.891234");
        assert_eq!(money("116.00"), "116.00");
        assert_eq!(money("1000"), "1,000");
        assert_eq!(currency("0.50"), "$0.50");
    }

    #[test]
    fn table_columns_fill_the_content_width() {
        let total: f32 = TABLE.iter().map(|c| c.width).sum();
        assert!((total - WIDTH).abs() < 0.01);
    }
}
