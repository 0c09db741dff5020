//! An independent checker of SAT's arithmetic rules for CFDI 4.0 (Anexo 20, matriz de errores),
//! reading the XML as written (roxmltree) and recomputing from the attribute texts. It shares no
//! code with the crate's amounts or builders.
//!
//! Stricter than SAT in one place: the concepto Importe bound treats Cantidad as exact (SAT widens
//! it by half a unit of Cantidad's last written decimal, i.e. ±0.5 for integer quantities).

use rust_decimal::{Decimal, RoundingStrategy};
use std::collections::BTreeMap;
use std::str::FromStr;

const NS: &str = "http://www.sat.gob.mx/cfd/4";

/// Amounts of a document that passed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checked {
    /// Total attribute.
    pub total: Decimal,
    /// SubTotal attribute.
    pub subtotal: Decimal,
    /// Number of conceptos.
    pub conceptos: usize,
}

fn places(text: &str) -> u32 {
    text.split_once('.').map_or(0, |(_, f)| f.len() as u32)
}

fn half_ulp(text: &str) -> Decimal {
    Decimal::new(5, places(text) + 1)
}

fn trunc_to(v: Decimal, p: u32) -> Decimal {
    v.round_dp_with_strategy(p, RoundingStrategy::ToZero)
}

fn ceil_to(v: Decimal, p: u32) -> Decimal {
    v.round_dp_with_strategy(p, RoundingStrategy::ToPositiveInfinity)
}

fn round2(v: Decimal) -> Decimal {
    v.round_dp_with_strategy(2, RoundingStrategy::MidpointAwayFromZero)
}

struct Doc {
    problems: Vec<String>,
}

impl Doc {
    fn num(
        &mut self,
        node: roxmltree::Node,
        attr: &str,
        where_: &str,
    ) -> Option<(Decimal, String)> {
        let Some(text) = node.attribute(attr) else {
            self.problems.push(format!("{where_}: missing {attr}"));
            return None;
        };
        let well_formed = !text.is_empty()
            && text.chars().all(|c| c.is_ascii_digit() || c == '.')
            && text.matches('.').count() <= 1
            && !text.starts_with('.')
            && !text.ends_with('.')
            && places(text) <= 6;
        match (well_formed, Decimal::from_str(text)) {
            (true, Ok(v)) => Some((v, text.to_owned())),
            _ => {
                self.problems
                    .push(format!("{where_}: {attr}={text:?} is not a t_Importe"));
                None
            }
        }
    }
}

fn children<'a, 'i>(
    node: roxmltree::Node<'a, 'i>,
    name: &'static str,
) -> impl Iterator<Item = roxmltree::Node<'a, 'i>> {
    node.children().filter(move |n| {
        n.is_element() && n.tag_name().name() == name && n.tag_name().namespace() == Some(NS)
    })
}

fn path<'a, 'i>(
    node: roxmltree::Node<'a, 'i>,
    names: &[&'static str],
) -> Vec<roxmltree::Node<'a, 'i>> {
    let mut current = vec![node];
    for name in names {
        current = current
            .into_iter()
            .flat_map(|n| children(n, name))
            .collect();
    }
    current
}

/// Checks SAT's arithmetic on a CFDI 4.0 XML; every violation is listed.
pub fn check(xml: &str) -> Result<Checked, Vec<String>> {
    let document = roxmltree::Document::parse(xml).map_err(|e| vec![format!("not XML: {e}")])?;
    let root = document.root_element();
    let mut doc = Doc {
        problems: Vec::new(),
    };
    if root.tag_name().name() != "Comprobante" || root.tag_name().namespace() != Some(NS) {
        return Err(vec!["root is not cfdi:Comprobante".into()]);
    }

    let mut sum_importe = Decimal::ZERO;
    let mut sum_descuento = Decimal::ZERO;
    let mut any_descuento = false;
    // (impuesto, factor, tasa) -> (sum of bases, sum of importes)
    let mut groups: BTreeMap<(String, String, String), (Decimal, Decimal)> = BTreeMap::new();
    let conceptos = path(root, &["Conceptos", "Concepto"]);
    for (i, c) in conceptos.iter().enumerate() {
        let w = format!("Concepto[{i}]");
        let (Some((cant, _)), Some((vu, vu_t)), Some((imp, imp_t))) = (
            doc.num(*c, "Cantidad", &w),
            doc.num(*c, "ValorUnitario", &w),
            doc.num(*c, "Importe", &w),
        ) else {
            continue;
        };
        if vu <= Decimal::ZERO {
            doc.problems
                .push(format!("{w}: ValorUnitario must be > 0 (CFDI40166)"));
        }
        // CFDI40167, with Cantidad exact (stricter than SAT).
        let low = trunc_to(cant * (vu - half_ulp(&vu_t)), places(&imp_t));
        let high = ceil_to(cant * (vu + half_ulp(&vu_t)), places(&imp_t));
        if imp < low || imp > high {
            doc.problems.push(format!(
                "{w}: Importe {imp_t} outside [{low}, {high}] (CFDI40167)"
            ));
        }
        sum_importe += imp;
        let mut net = imp;
        if c.attribute("Descuento").is_some() {
            if let Some((d, d_t)) = doc.num(*c, "Descuento", &w) {
                any_descuento = true;
                sum_descuento += d;
                net -= d;
                if d > imp {
                    doc.problems
                        .push(format!("{w}: Descuento > Importe (CFDI40169)"));
                }
                if places(&d_t) > places(&imp_t) {
                    doc.problems.push(format!(
                        "{w}: Descuento has more decimals than Importe (CFDI40168)"
                    ));
                }
            }
        }
        if c.attribute("ObjetoImp") != Some("02") {
            doc.problems.push(format!("{w}: ObjetoImp is not 02"));
        }
        let traslados = path(*c, &["Impuestos", "Traslados", "Traslado"]);
        if traslados.is_empty() {
            doc.problems
                .push(format!("{w}: ObjetoImp 02 without traslados (CFDI40171)"));
        }
        let mut bases = Decimal::ZERO;
        for t in traslados {
            let Some((base, base_t)) = doc.num(t, "Base", &w) else {
                continue;
            };
            bases += base;
            if base <= Decimal::ZERO {
                doc.problems
                    .push(format!("{w}: Base must be > 0 (CFDI40174)"));
            }
            let factor = t.attribute("TipoFactor").unwrap_or_default().to_owned();
            let tasa_t = t.attribute("TasaOCuota").map(str::to_owned);
            let mut importe = Decimal::ZERO;
            if factor == "Exento" {
                if tasa_t.is_some() || t.attribute("Importe").is_some() {
                    doc.problems
                        .push(format!("{w}: Exento with TasaOCuota/Importe (CFDI40177)"));
                }
            } else {
                let tasa = match tasa_t.as_deref() {
                    Some(t @ ("0.160000" | "0.080000" | "0.000000")) => {
                        Decimal::from_str(t).unwrap_or_default()
                    }
                    other => {
                        doc.problems.push(format!(
                            "{w}: TasaOCuota {other:?} not an IVA rate (CFDI40179)"
                        ));
                        continue;
                    }
                };
                let Some((ti, ti_t)) = doc.num(t, "Importe", &w) else {
                    continue;
                };
                importe = ti;
                // CFDI40180.
                let low = trunc_to((base - half_ulp(&base_t)) * tasa, places(&ti_t));
                let high = ceil_to((base + half_ulp(&base_t)) * tasa, places(&ti_t));
                if ti < low || ti > high {
                    doc.problems.push(format!("{w}: traslado Importe {ti_t} outside [{low}, {high}] for {base_t} x {tasa} (CFDI40180)"));
                }
            }
            let key = (
                t.attribute("Impuesto").unwrap_or_default().to_owned(),
                factor,
                tasa_t.unwrap_or_default(),
            );
            let g = groups.entry(key).or_default();
            g.0 += base;
            g.1 += importe;
        }
        if bases != net {
            doc.problems.push(format!(
                "{w}: traslado bases add up to {bases}, not Importe - Descuento = {net}"
            ));
        }
    }

    let Some((subtotal, sub_t)) = doc.num(root, "SubTotal", "Comprobante") else {
        return Err(doc.problems);
    };
    let Some((total, total_t)) = doc.num(root, "Total", "Comprobante") else {
        return Err(doc.problems);
    };
    if places(&sub_t) > 2 || places(&total_t) > 2 {
        doc.problems
            .push("SubTotal/Total with more than 2 decimals (CFDI40107)".into());
    }
    if subtotal != round2(sum_importe) {
        doc.problems.push(format!(
            "SubTotal {subtotal} != round(sum Importe) {} (CFDI40108)",
            round2(sum_importe)
        ));
    }
    let descuento = if root.attribute("Descuento").is_some() {
        doc.num(root, "Descuento", "Comprobante")
            .map(|d| d.0)
            .unwrap_or_default()
    } else {
        Decimal::ZERO
    };
    if any_descuento != root.attribute("Descuento").is_some() || descuento != round2(sum_descuento)
    {
        doc.problems.push(format!(
            "Descuento {descuento} != round(sum Descuento) {} (CFDI40111)",
            round2(sum_descuento)
        ));
    }

    let mut summary: BTreeMap<(String, String, String), (Decimal, Decimal)> = BTreeMap::new();
    let mut total_tras = Decimal::ZERO;
    let impuestos: Vec<_> = children(root, "Impuestos").collect();
    for t in impuestos
        .iter()
        .flat_map(|i| path(*i, &["Traslados", "Traslado"]))
    {
        let key = (
            t.attribute("Impuesto").unwrap_or_default().to_owned(),
            t.attribute("TipoFactor").unwrap_or_default().to_owned(),
            t.attribute("TasaOCuota").unwrap_or_default().to_owned(),
        );
        let base = doc
            .num(t, "Base", "summary")
            .map(|b| b.0)
            .unwrap_or_default();
        let importe = if t.attribute("Importe").is_some() {
            doc.num(t, "Importe", "summary")
                .map(|b| b.0)
                .unwrap_or_default()
        } else {
            Decimal::ZERO
        };
        total_tras += importe;
        if summary.insert(key.clone(), (base, importe)).is_some() {
            doc.problems
                .push(format!("summary {key:?} twice (CFDI40218)"));
        }
    }
    if summary.keys().collect::<Vec<_>>() != groups.keys().collect::<Vec<_>>() {
        doc.problems.push(format!(
            "summary groups {:?} != conceptos' {:?}",
            summary.keys(),
            groups.keys()
        ));
    }
    for (key, (b, i)) in &groups {
        if let Some((sb, si)) = summary.get(key) {
            if *sb != round2(*b) {
                doc.problems.push(format!(
                    "summary {key:?} Base {sb} != round(sum) {} (CFDI40215)",
                    round2(*b)
                ));
            }
            if *si != round2(*i) {
                doc.problems.push(format!(
                    "summary {key:?} Importe {si} != round(sum) {} (CFDI40221)",
                    round2(*i)
                ));
            }
        }
    }
    let tit = impuestos
        .first()
        .and_then(|i| i.attribute("TotalImpuestosTrasladados"));
    let has_tasa = summary.keys().any(|k| k.1 != "Exento");
    match (tit, has_tasa) {
        (Some(t), true) => {
            if Decimal::from_str(t).ok() != Some(total_tras) {
                doc.problems.push(format!(
                    "TotalImpuestosTrasladados {t} != {total_tras} (CFDI40205)"
                ));
            }
        }
        (None, false) => {}
        (t, _) => doc.problems.push(format!(
            "TotalImpuestosTrasladados {t:?} with taxed traslados: {has_tasa} (CFDI40212)"
        )),
    }
    // Retenciones (ISR withheld): each within Base × TasaOCuota bounds, one summary per impuesto
    // with the rounded sum, TotalImpuestosRetenidos their sum, and Total less them.
    let mut retained: BTreeMap<String, Decimal> = BTreeMap::new();
    for (i, c) in conceptos.iter().enumerate() {
        let w = format!("Concepto[{i}] retencion");
        for r in path(*c, &["Impuestos", "Retenciones", "Retencion"]) {
            let (Some((base, base_t)), Some((tasa, _)), Some((importe, importe_t))) = (
                doc.num(r, "Base", &w),
                doc.num(r, "TasaOCuota", &w),
                doc.num(r, "Importe", &w),
            ) else {
                continue;
            };
            let low = trunc_to((base - half_ulp(&base_t)) * tasa, places(&importe_t));
            let high = ceil_to((base + half_ulp(&base_t)) * tasa, places(&importe_t));
            if importe < low || importe > high || base <= Decimal::ZERO {
                doc.problems.push(format!(
                    "{w}: Importe {importe} outside [{low}, {high}] for {base} x {tasa}"
                ));
            }
            *retained
                .entry(r.attribute("Impuesto").unwrap_or_default().to_owned())
                .or_default() += importe;
        }
    }
    let mut summary_ret: BTreeMap<String, Decimal> = BTreeMap::new();
    for r in impuestos
        .iter()
        .flat_map(|i| path(*i, &["Retenciones", "Retencion"]))
    {
        let importe = doc
            .num(r, "Importe", "summary retencion")
            .map(|b| b.0)
            .unwrap_or_default();
        summary_ret.insert(
            r.attribute("Impuesto").unwrap_or_default().to_owned(),
            importe,
        );
    }
    let rounded: BTreeMap<String, Decimal> = retained
        .iter()
        .map(|(k, v)| (k.clone(), round2(*v)))
        .collect();
    if summary_ret != rounded {
        doc.problems.push(format!(
            "summary retenciones {summary_ret:?} != rounded sums of the conceptos' {rounded:?}"
        ));
    }
    let total_ret: Decimal = summary_ret.values().sum();
    let tir = impuestos
        .first()
        .and_then(|i| i.attribute("TotalImpuestosRetenidos"))
        .and_then(|t| Decimal::from_str(t).ok());
    if tir != (!summary_ret.is_empty()).then_some(total_ret) {
        doc.problems.push(format!(
            "TotalImpuestosRetenidos {tir:?} != sum of retenciones {total_ret}"
        ));
    }
    if total != subtotal - descuento + total_tras - total_ret {
        doc.problems.push(format!(
            "Total {total} != {subtotal} - {descuento} + {total_tras} - {total_ret} (CFDI40119)"
        ));
    }
    match (root.attribute("MetodoPago"), root.attribute("FormaPago")) {
        (Some("PUE"), Some(f)) if f != "99" => {}
        (Some("PPD"), Some("99")) => {}
        other => doc
            .problems
            .push(format!("MetodoPago/FormaPago {other:?} (CFDI40105)")),
    }
    if doc.problems.is_empty() {
        Ok(Checked {
            total,
            subtotal,
            conceptos: conceptos.len(),
        })
    } else {
        Err(doc.problems)
    }
}
