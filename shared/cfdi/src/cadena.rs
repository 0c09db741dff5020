//! The cadena original of a CFDI 4.0, computed natively in the order SAT's
//! `cadenaoriginal_4_0.xslt` fixes: `||` + every present attribute value separated by `|`, each
//! through XPath `normalize-space`, + `||`. Sello and Certificado are not part of it; NoCertificado
//! is. Optional attributes that are absent leave no trace; the XSLT emits an optional attribute
//! whenever it exists, and our XML never carries an empty one.
//!
//! The test oracle (satcfdi) runs SAT's XSLT over our XML and compares it byte for byte.

use crate::amounts::{cantidad_text, push_importe, push_valor_unitario};
use crate::model::{Comprobante, Traslado};
use rust_decimal::Decimal;

/// Appends `|` and the value as XPath `normalize-space` leaves it (runs of space, tab, CR and LF
/// become one space; leading and trailing ones go).
fn field(out: &mut String, value: &str) {
    out.push('|');
    let is_ws = |c: char| matches!(c, ' ' | '\t' | '\r' | '\n');
    let clean = !value.starts_with(is_ws)
        && !value.ends_with(is_ws)
        && !value.contains(['\t', '\r', '\n'])
        && !value.contains("  ");
    if clean {
        out.push_str(value);
        return;
    }
    for (i, word) in value.split(is_ws).filter(|w| !w.is_empty()).enumerate() {
        if i > 0 {
            out.push(' ');
        }
        out.push_str(word);
    }
}

/// Appends `|` and an amount with 2 decimals (digits need no normalization).
fn importe(out: &mut String, value: Decimal) {
    out.push('|');
    push_importe(out, value);
}

fn opt_importe(out: &mut String, value: Option<Decimal>) {
    if let Some(v) = value {
        importe(out, v);
    }
}

fn opt(out: &mut String, value: Option<&str>) {
    if let Some(v) = value {
        field(out, v);
    }
}

fn traslado(out: &mut String, t: &Traslado) {
    importe(out, t.base());
    field(out, t.impuesto());
    field(out, t.tipo_factor());
    opt(out, t.tasa_o_cuota());
    opt_importe(out, t.importe());
}

/// The cadena original of `c` sealed with the certificate `no_certificado`.
pub fn cadena_original(c: &Comprobante, no_certificado: &str) -> String {
    let mut out = String::with_capacity(600 + 220 * c.conceptos().len());
    out.push('|');
    field(&mut out, c.version());
    opt(&mut out, c.serie().map(|s| s.as_str()));
    opt(&mut out, c.folio().map(|s| s.as_str()));
    field(&mut out, &c.fecha_text());
    field(&mut out, c.pago().forma().code());
    field(&mut out, no_certificado);
    // CondicionesDePago: never written.
    importe(&mut out, c.subtotal());
    opt_importe(&mut out, c.descuento());
    field(&mut out, c.moneda().code());
    // TipoCambio: never written (MXN).
    importe(&mut out, c.total());
    field(&mut out, c.tipo().code());
    field(&mut out, c.exportacion().code());
    field(&mut out, c.pago().metodo().code());
    field(&mut out, c.lugar_expedicion().as_str());
    // Confirmacion: never written.

    if let Some(g) = c.informacion_global() {
        field(&mut out, g.periodicidad().code());
        field(&mut out, &g.meses().code());
        field(&mut out, &g.anio().to_string());
    }
    for r in c.relacionados() {
        field(&mut out, r.tipo().code());
        for uuid in r.uuids() {
            field(&mut out, uuid);
        }
    }

    let e = c.emisor();
    field(&mut out, e.rfc().as_str());
    field(&mut out, e.nombre().as_str());
    field(&mut out, e.regimen_fiscal().code());

    let r = c.receptor();
    field(&mut out, r.rfc().as_str());
    field(&mut out, r.nombre().as_str());
    field(&mut out, r.domicilio_fiscal().as_str());
    opt(&mut out, r.residencia_fiscal().as_ref().map(|p| p.code()));
    opt(&mut out, r.num_reg_id_trib().map(|t| t.as_str()));
    field(&mut out, r.regimen_fiscal().code());
    field(&mut out, r.uso_cfdi().code());

    for k in c.conceptos() {
        field(&mut out, k.clave_prod_serv().as_str());
        opt(&mut out, k.no_identificacion().map(|t| t.as_str()));
        field(&mut out, &cantidad_text(k.cantidad()));
        field(&mut out, k.clave_unidad().code());
        opt(&mut out, k.unidad().map(|t| t.as_str()));
        field(&mut out, k.descripcion().as_str());
        out.push('|');
        push_valor_unitario(&mut out, k.valor_unitario());
        importe(&mut out, k.importe());
        opt_importe(&mut out, k.descuento());
        field(&mut out, k.objeto_imp().code());
        for t in k.traslados() {
            traslado(&mut out, t);
        }
        for r in k.retenciones() {
            importe(&mut out, r.base());
            field(&mut out, r.impuesto());
            field(&mut out, r.tipo_factor());
            field(&mut out, r.tasa_o_cuota());
            importe(&mut out, r.importe());
        }
    }

    if let Some(imp) = c.impuestos() {
        if let Some(isr) = imp.retenido_isr() {
            field(&mut out, "001");
            importe(&mut out, isr);
            importe(&mut out, isr);
        }
        for t in imp.traslados() {
            traslado(&mut out, t);
        }
        opt_importe(&mut out, imp.total_trasladados());
    }
    out.push_str("||");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_are_normalized_like_xpath_normalize_space() {
        let mut out = String::new();
        field(&mut out, "  Jabón \t de\n tocador ");
        field(&mut out, "ya limpio");
        field(&mut out, "");
        assert_eq!(out, "|Jabón de tocador|ya limpio|");
    }
}
