//! Building invoices from what the app knows: order lines, tickets, refunds. Every constructor
//! checks everything and returns every problem at once; what it returns is ready to seal and its
//! Total is exactly what the customer paid.

use super::comprobante::{
    CfdiRelacionados, Concepto, InformacionGlobal, Pago, Parts, Retencion, Traslado,
};
use super::parties::{Emisor, Receptor};
use super::text::Texto;
use super::{Comprobante, FiscalError, FiscalErrors, Problems};
use crate::amounts::{self, LineSplit};
use crate::catalogs::{
    ClaveProdServ, ClaveUnidad, CodigoPostal, FormaPago, RegimenFiscal, TipoDeComprobante,
    TipoRelacion, UsoCfdi,
};
use crate::model::Nombre;
use crate::rfc::TipoPersona;
use crate::Rfc;
use chrono::{Datelike, NaiveDateTime, Timelike};
use mostrador_core::money::Centavos;
use mostrador_core::tax::TaxTreatment;
use rust_decimal::Decimal;
use std::collections::HashSet;

/// What every invoice of a merchant shares: who issues it, where, when, and its series/folio.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvoiceHeader {
    /// The merchant.
    pub emisor: Emisor,
    /// Postal code of the branch that issues it (LugarExpedicion).
    pub lugar_expedicion: CodigoPostal,
    /// Local date and time at the lugar de expedición (seconds are kept, fractions dropped). A PAC
    /// rejects a Fecha in the future or more than 72 hours old.
    pub fecha: NaiveDateTime,
    /// Merchant's series (1–25 characters), optional.
    pub serie: Option<String>,
    /// Merchant's folio (1–40 characters), optional.
    pub folio: Option<String>,
}

/// One line of a paid order, as the app stores it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrderLine {
    /// SAT c_ClaveProdServ (8 digits, must exist in SAT's catalog).
    pub clave_prod_serv: String,
    /// The merchant's SKU (NoIdentificacion), optional.
    pub no_identificacion: Option<String>,
    /// Units sold (at least 1).
    pub cantidad: u32,
    /// SAT c_ClaveUnidad (`"H87"`).
    pub clave_unidad: String,
    /// Unit name as the merchant calls it; SAT's name of the clave when absent.
    pub unidad: Option<String>,
    /// What was sold (product name).
    pub descripcion: String,
    /// Price of one unit, in centavos.
    pub precio_unitario: Centavos,
    /// Whether `precio_unitario` and `descuento` include IVA (shelf prices in Mexico usually do).
    pub precio_incluye_iva: bool,
    /// IVA of the product.
    pub iva: TaxTreatment,
    /// Discount on the whole line, in centavos, on the same IVA footing as the price.
    pub descuento: Centavos,
    /// The IVA charged, when the line states it instead of computing it from the price: a
    /// bonificación giving back what a ticket was charged ([`OrderLine::bonificacion_cargada`]).
    pub iva_cargado: Option<Centavos>,
}

impl OrderLine {
    /// A refund, discount or bonus of `total` (IVA included) for a nota de crédito: clave 84111506
    /// "Servicios de facturación", unit ACT, quantity 1, as SAT's guide prescribes.
    pub fn bonificacion(descripcion: &str, total: Centavos, iva: TaxTreatment) -> OrderLine {
        OrderLine {
            clave_prod_serv: ClaveProdServ::SERVICIOS_DE_FACTURACION.as_str().to_owned(),
            no_identificacion: None,
            cantidad: 1,
            clave_unidad: ClaveUnidad::ACTIVIDAD.code().to_owned(),
            unidad: None,
            descripcion: descripcion.to_owned(),
            precio_unitario: total,
            precio_incluye_iva: true,
            iva,
            descuento: Centavos::ZERO,
            iva_cargado: None,
        }
    }

    /// A bonificación giving back `base` and the IVA charged on it, `iva_cargado` — a ticket of a
    /// factura global or part of it — so the nota declares exactly the IVA the global did: in as
    /// many conceptos as SAT's bounds need ([`amounts::charged_parts`]), as the global wrote it.
    pub fn bonificacion_cargada(
        descripcion: &str,
        base: Centavos,
        iva_cargado: Centavos,
        iva: TaxTreatment,
    ) -> OrderLine {
        OrderLine {
            precio_unitario: Centavos(base.0.saturating_add(iva_cargado.0)),
            iva_cargado: Some(iva_cargado),
            ..OrderLine::bonificacion(descripcion, Centavos::ZERO, iva)
        }
    }
}

/// What one ticket of a factura global was paid with, per IVA treatment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TicketPart {
    /// IVA treatment of this part of the ticket.
    pub iva: TaxTreatment,
    /// What the customer paid for it, IVA included, in centavos.
    pub total: Centavos,
    /// The IVA charged on it (the sum of its lines' IVA), when known: the global then declares
    /// exactly that IVA (see [`amounts::charged_parts`]). `None` splits `total` as one line.
    pub iva_cargado: Option<Centavos>,
}

/// A sale not invoiced individually, to be included in the factura global.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ticket {
    /// Folio of the ticket (NoIdentificacion of its concepto).
    pub folio: String,
    /// How it was paid.
    pub forma_pago: FormaPago,
    /// Paid amounts per IVA treatment (one part for most tickets).
    pub partes: Vec<TicketPart>,
}

impl Ticket {
    /// A ticket whose products all have the same IVA treatment.
    pub fn new(folio: &str, forma_pago: FormaPago, iva: TaxTreatment, total: Centavos) -> Ticket {
        Ticket {
            folio: folio.to_owned(),
            forma_pago,
            partes: vec![TicketPart {
                iva,
                total,
                iva_cargado: None,
            }],
        }
    }

    /// What was paid for the whole ticket; `None` if it does not fit in centavos (never for a
    /// real ticket).
    pub fn total(&self) -> Option<Centavos> {
        self.partes
            .iter()
            .try_fold(Centavos::ZERO, |acc, p| acc.checked_add(p.total))
    }
}

/// Checks the header; gives serie, folio and the fecha without fractions of a second.
fn header_parts(
    header: &InvoiceHeader,
    problems: &mut Problems,
) -> (Option<Texto>, Option<Texto>, NaiveDateTime) {
    let serie = header
        .serie
        .as_deref()
        .filter(|s| !s.trim().is_empty())
        .and_then(|s| problems.take(Texto::parse("serie", "la serie", s, 25)));
    let folio = header
        .folio
        .as_deref()
        .filter(|s| !s.trim().is_empty())
        .and_then(|s| problems.take(Texto::parse("folio", "el folio", s, 40)));
    let fecha = header.fecha.with_nanosecond(0).unwrap_or(header.fecha);
    if !(2010..=2099).contains(&fecha.year()) {
        problems.push(FiscalError::new(
            "fecha",
            format!(
                "La fecha {} no es válida para un CFDI.",
                fecha.format("%Y-%m-%d")
            ),
        ));
    }
    (serie, folio, fecha)
}

/// A concepto with its IVA traslado from a split line.
fn concepto(
    clave_prod_serv: ClaveProdServ,
    no_identificacion: Option<Texto>,
    cantidad: u32,
    clave_unidad: ClaveUnidad,
    unidad: Option<Texto>,
    descripcion: Texto,
    parts: &[(TaxTreatment, LineSplit)],
) -> Option<Concepto> {
    let importe_c: i64 = parts.iter().map(|(_, s)| s.importe).sum();
    let descuento_c: i64 = parts.iter().map(|(_, s)| s.descuento).sum();
    let importe = Decimal::new(importe_c, 2);
    let cantidad = Decimal::from(cantidad);
    let valor_unitario = amounts::valor_unitario(importe, cantidad)?;
    let traslados = parts
        .iter()
        .map(|(tax, s)| Traslado::new(Decimal::new(s.base, 2), *tax, Decimal::new(s.iva, 2)))
        .collect();
    Some(Concepto {
        clave_prod_serv,
        no_identificacion,
        cantidad,
        clave_unidad,
        unidad,
        descripcion,
        valor_unitario,
        importe,
        descuento: (descuento_c > 0).then(|| Decimal::new(descuento_c, 2)),
        traslados,
        retenciones: Vec::new(),
    })
}

/// Converts order lines into conceptos; gives them with the sum the customer paid.
fn order_conceptos(lines: &[OrderLine], problems: &mut Problems) -> (Vec<Concepto>, i64) {
    if lines.is_empty() {
        problems.push(FiscalError::new(
            "lineas",
            "La factura necesita al menos un producto.",
        ));
    }
    let mut conceptos = Vec::with_capacity(lines.len());
    let mut paid = 0i64;
    for (i, line) in lines.iter().enumerate() {
        let mut line_problems = Problems::default();
        let clave = line_problems.take(ClaveProdServ::parse(&line.clave_prod_serv));
        let unidad_clave = line_problems.take(ClaveUnidad::parse(&line.clave_unidad));
        let no_identificacion = line
            .no_identificacion
            .as_deref()
            .filter(|s| !s.trim().is_empty())
            .and_then(|s| {
                line_problems.take(Texto::parse(
                    "no_identificacion",
                    "el código del producto",
                    s,
                    100,
                ))
            });
        let descripcion = Texto::lenient(&line.descripcion, 1000);
        if descripcion.is_none() {
            line_problems.push(FiscalError::new(
                "descripcion",
                "Falta la descripción del producto.",
            ));
        }
        if line.cantidad == 0 {
            line_problems.push(FiscalError::new(
                "cantidad",
                "La cantidad debe ser al menos 1.",
            ));
        }
        if line.precio_unitario.0 <= 0 {
            line_problems.push(FiscalError::new(
                "precio_unitario",
                "El precio debe ser mayor que cero.",
            ));
        }
        let gross = line.precio_unitario.checked_mul(line.cantidad);
        if line.descuento.0 < 0 || gross.is_some_and(|g| line.descuento.0 >= g.0 && g.0 > 0) {
            line_problems.push(FiscalError::new(
                "descuento",
                "El descuento debe ser menor que el importe de la línea y no negativo.",
            ));
        }
        let splits = match line.iva_cargado {
            _ if !line_problems.is_empty() => None,
            None => {
                let s = amounts::split_line(
                    line.precio_unitario,
                    line.cantidad,
                    line.iva,
                    line.precio_incluye_iva,
                    line.descuento,
                );
                if s.is_none() {
                    line_problems.push(FiscalError::new(
                        "precio_unitario",
                        "El importe de la línea es demasiado grande.",
                    ));
                }
                s.map(|s| vec![s])
            }
            Some(cargado) => {
                let s = (line.cantidad == 1 && line.precio_incluye_iva && line.descuento.0 == 0)
                    .then(|| stated(line.iva, line.precio_unitario.0, Some(cargado.0)))
                    .flatten();
                if s.is_none() {
                    line_problems.push(FiscalError::new(
                        "precio_unitario",
                        "Una devolución con el IVA cobrado es de cantidad 1, sin descuento y con el IVA incluido.",
                    ));
                }
                s
            }
        };
        let unidad = line
            .unidad
            .as_deref()
            .and_then(|u| Texto::lenient(u, 20))
            .or_else(|| unidad_clave.and_then(|u| Texto::lenient(u.nombre(), 20)));
        if let (Some(clave), Some(unidad_clave), Some(descripcion), Some(splits)) =
            (clave, unidad_clave, descripcion, splits)
        {
            for group in concept_groups(&[(line.iva, splits)]) {
                let pagado: i64 = group.iter().map(|(_, s)| s.pagado).sum();
                match concepto(
                    clave,
                    no_identificacion.clone(),
                    line.cantidad,
                    unidad_clave,
                    unidad.clone(),
                    descripcion.clone(),
                    &group,
                ) {
                    Some(c) => {
                        conceptos.push(c);
                        match paid.checked_add(pagado) {
                            Some(p) => paid = p,
                            None => problems.push(FiscalError::new(
                                "lineas",
                                "El total de la factura es demasiado grande.",
                            )),
                        }
                    }
                    None => line_problems.push(FiscalError::new(
                        "precio_unitario",
                        "El precio por unidad es demasiado bajo para la cantidad: factura la línea por paquete.",
                    )),
                }
            }
        }
        if !line_problems.is_empty() {
            let at = format!("lineas[{i}]");
            problems
                .0
                .extend(line_problems.0.into_iter().map(|e| e.under(&at)));
        }
    }
    (conceptos, paid)
}

/// Generic RFCs carry the lugar de expedición as domicilio fiscal (CFDI40149).
fn generic_receptor_problem(receptor: &Receptor, lugar: CodigoPostal) -> Option<FiscalError> {
    (receptor.rfc().es_generico() && receptor.domicilio_fiscal() != lugar).then(|| {
        FiscalError::new(
            "codigo_postal",
            format!(
                "Con el RFC genérico {} el código postal del cliente es el del lugar de expedición ({lugar}).",
                receptor.rfc()
            ),
        )
    })
}

/// What a paid amount of one treatment declares: its base and the IVA charged (`iva`, the sum of
/// its lines' IVA), in as few traslados as SAT's bounds allow ([`amounts::charged_parts`]); without
/// the IVA charged — or with one that no rounding of lines explains (never for a sale recorded by
/// mostrador) — the amount split as one line, so the total still holds. `None` on overflow.
fn stated(tax: TaxTreatment, total: i64, iva: Option<i64>) -> Option<Vec<LineSplit>> {
    let charged = iva.and_then(|iva| amounts::charged_parts(total.checked_sub(iva)?, iva, tax));
    match charged {
        Some(parts) => Some(
            parts
                .into_iter()
                .map(|(base, iva)| LineSplit {
                    importe: base,
                    descuento: 0,
                    base,
                    iva,
                    pagado: base + iva,
                })
                .collect(),
        ),
        None => Some(vec![amounts::split_paid(Centavos(total), tax)?]),
    }
}

/// The conceptos of one ticket (or of what a nota gives back of it): the first holds the first part
/// of every treatment; each further part of a treatment (stray centavos of IVA, see
/// [`amounts::charged_parts`]) is a concepto of its own with the same identification.
fn concept_groups(parts: &[(TaxTreatment, Vec<LineSplit>)]) -> Vec<Vec<(TaxTreatment, LineSplit)>> {
    let mut groups: Vec<Vec<(TaxTreatment, LineSplit)>> = vec![parts
        .iter()
        .filter_map(|(t, p)| p.first().map(|s| (*t, *s)))
        .collect()];
    for (t, p) in parts {
        groups.extend(p.iter().skip(1).map(|s| vec![(*t, *s)]));
    }
    groups.retain(|g| !g.is_empty());
    groups
}

/// Whether the receptor withholds ISR from the emisor: a persona moral (not a generic RFC) invoiced
/// by a persona física in the Régimen Simplificado de Confianza (626) retains 1.25 % of the amount
/// before IVA (LISR art. 113-J). A RESICO persona moral, or a sale to a persona física, carries none.
pub(crate) fn retiene_isr_resico(emisor: &Emisor, receptor: &Receptor) -> bool {
    emisor.regimen_fiscal() == RegimenFiscal::SimplificadoDeConfianza
        && emisor.rfc().tipo() == TipoPersona::Fisica
        && receptor.rfc().tipo() == TipoPersona::Moral
        && !receptor.rfc().es_generico()
}

/// The finished invoice, refused if its Total plus the ISR withheld is not exactly what was paid.
/// Lines to a receptor that withholds ISR ([`retiene_isr_resico`]) carry their retención.
fn finish(mut parts: Parts, paid: i64) -> Result<Comprobante, FiscalErrors> {
    if retiene_isr_resico(&parts.emisor, &parts.receptor) {
        for c in &mut parts.conceptos {
            let base = c.importe - c.descuento.unwrap_or_default();
            c.retenciones = vec![Retencion::isr_resico(base)];
        }
    }
    let comprobante = Comprobante::assemble(parts);
    let retenido = comprobante
        .impuestos()
        .and_then(|i| i.retenido_isr())
        .and_then(amounts::centavos)
        .unwrap_or(Centavos::ZERO);
    if comprobante.total_centavos().checked_add(retenido) != Some(Centavos(paid)) {
        return Err(FiscalError::new(
            "total",
            format!(
                "El total de la factura ({}) no coincide con lo pagado ({}).",
                comprobante.total_centavos().display_mxn(),
                Centavos(paid).display_mxn()
            ),
        )
        .into());
    }
    Ok(comprobante)
}

impl Comprobante {
    /// An individual invoice (Ingreso) for a paid order: one concepto per line, IVA per line,
    /// Total = what the customer paid, to the centavo.
    pub fn ingreso(
        header: &InvoiceHeader,
        receptor: Receptor,
        pago: Pago,
        lines: &[OrderLine],
    ) -> Result<Comprobante, FiscalErrors> {
        let mut problems = Problems::default();
        let (serie, folio, fecha) = header_parts(header, &mut problems);
        problems
            .0
            .extend(generic_receptor_problem(&receptor, header.lugar_expedicion));
        let (conceptos, paid) = order_conceptos(lines, &mut problems);
        if !problems.is_empty() {
            return Err(problems.into_errors());
        }
        finish(
            Parts {
                tipo: TipoDeComprobante::Ingreso,
                serie,
                folio,
                fecha,
                pago,
                lugar_expedicion: header.lugar_expedicion,
                informacion_global: None,
                relacionados: Vec::new(),
                emisor: header.emisor.clone(),
                receptor,
                conceptos,
            },
            paid,
        )
    }

    /// A factura global for sales to the general public: one concepto per ticket (clave 01010101,
    /// NoIdentificacion = ticket folio, Cantidad 1, ACT, "Venta", ValorUnitario = the ticket before
    /// IVA), receptor XAXX010101000, PUE with the forma de pago of the largest ticket.
    pub fn global(
        header: &InvoiceHeader,
        periodo: InformacionGlobal,
        tickets: &[Ticket],
    ) -> Result<Comprobante, FiscalErrors> {
        let mut problems = Problems::default();
        let (serie, folio, fecha) = header_parts(header, &mut problems);
        problems
            .0
            .extend(periodo.problems(header.emisor.regimen_fiscal(), fecha));
        if tickets.is_empty() {
            problems.push(FiscalError::new(
                "tickets",
                "La factura global necesita al menos un ticket.",
            ));
        }
        let mut seen = HashSet::with_capacity(tickets.len());
        let mut conceptos = Vec::with_capacity(tickets.len());
        let mut paid = 0i64;
        let mut largest: Option<(i64, FormaPago)> = None;
        for (i, ticket) in tickets.iter().enumerate() {
            let mut ticket_problems = Problems::default();
            let folio = ticket_problems.take(Texto::parse(
                "folio",
                "el folio del ticket",
                &ticket.folio,
                100,
            ));
            if let Some(f) = &folio {
                if !seen.insert(f.as_str().to_owned()) {
                    ticket_problems.push(FiscalError::new(
                        "folio",
                        format!("El ticket {f} aparece dos veces."),
                    ));
                }
            }
            if ticket.forma_pago == FormaPago::PorDefinir {
                ticket_problems.push(FiscalError::new(
                    "forma_pago",
                    "Un ticket pagado necesita su forma de pago real, no 99 (Por definir).",
                ));
            }
            // One traslado per treatment; parts with the same treatment are added up.
            let mut by_tax: Vec<(TaxTreatment, i64, Option<i64>)> = Vec::new();
            for part in &ticket.partes {
                if part.total.0 <= 0 {
                    ticket_problems.push(FiscalError::new(
                        "total",
                        "Cada importe del ticket debe ser mayor que cero.",
                    ));
                    continue;
                }
                let cargado = part.iva_cargado.map(|c| c.0);
                match by_tax.iter_mut().find(|(t, _, _)| *t == part.iva) {
                    Some((_, sum, iva)) => match sum.checked_add(part.total.0) {
                        Some(s) => {
                            *sum = s;
                            *iva = iva.zip(cargado).and_then(|(a, b)| a.checked_add(b));
                        }
                        None => ticket_problems.push(FiscalError::new(
                            "total",
                            "El importe del ticket es demasiado grande.",
                        )),
                    },
                    None => by_tax.push((part.iva, part.total.0, cargado)),
                }
            }
            if ticket.partes.is_empty() {
                ticket_problems.push(FiscalError::new("total", "El ticket no tiene importes."));
            }
            let parts: Option<Vec<(TaxTreatment, Vec<LineSplit>)>> = by_tax
                .iter()
                .map(|(t, total, iva)| stated(*t, *total, *iva).map(|p| (*t, p)))
                .collect();
            let ticket_total: Option<i64> = by_tax
                .iter()
                .try_fold(0i64, |acc, (_, t, _)| acc.checked_add(*t));
            match (parts, ticket_total) {
                (Some(parts), Some(total)) if ticket_problems.is_empty() => {
                    if largest.is_none_or(|(max, _)| total > max) {
                        largest = Some((total, ticket.forma_pago));
                    }
                    let mut built = Vec::new();
                    for group in concept_groups(&parts) {
                        match concepto(
                            ClaveProdServ::VENTA_AL_PUBLICO,
                            folio.clone(),
                            1,
                            ClaveUnidad::ACTIVIDAD,
                            None,
                            Texto::fixed("Venta"),
                            &group,
                        ) {
                            Some(c) => built.push(c),
                            None => ticket_problems.push(FiscalError::new(
                                "total",
                                "El importe del ticket es demasiado grande.",
                            )),
                        }
                    }
                    match paid.checked_add(total) {
                        Some(p) if ticket_problems.is_empty() => {
                            conceptos.extend(built);
                            paid = p;
                        }
                        Some(_) => {}
                        None => ticket_problems.push(FiscalError::new(
                            "total",
                            "El importe del ticket es demasiado grande.",
                        )),
                    }
                }
                (_, _) if ticket_problems.is_empty() => ticket_problems.push(FiscalError::new(
                    "total",
                    "El importe del ticket es demasiado grande.",
                )),
                _ => {}
            }
            if !ticket_problems.is_empty() {
                let at = format!("tickets[{i}]");
                problems
                    .0
                    .extend(ticket_problems.0.into_iter().map(|e| e.under(&at)));
            }
        }
        let forma = largest.map_or(FormaPago::Efectivo, |(_, f)| f);
        let pago = problems.take(Pago::pue(forma));
        let Some(pago) = pago.filter(|_| problems.is_empty()) else {
            return Err(problems.into_errors());
        };
        finish(
            Parts {
                tipo: TipoDeComprobante::Ingreso,
                serie,
                folio,
                fecha,
                pago,
                lugar_expedicion: header.lugar_expedicion,
                informacion_global: Some(periodo),
                relacionados: Vec::new(),
                emisor: header.emisor.clone(),
                receptor: Receptor::publico_en_general(header.lugar_expedicion),
                conceptos,
            },
            paid,
        )
    }

    /// A nota de crédito (Egreso) for refunds, discounts or returns on earlier invoices: related
    /// with TipoRelacion 01 (nota de crédito), 03 (devolución) or 04 (sustitución), paid back with
    /// `forma_pago` (PUE). The receptor's uso becomes G02 (devoluciones, descuentos o
    /// bonificaciones) when their régimen admits it. Each line says what is given back; use
    /// [`OrderLine::bonificacion`] for an amount rather than products.
    pub fn egreso(
        header: &InvoiceHeader,
        receptor: Receptor,
        relacionados: CfdiRelacionados,
        forma_pago: FormaPago,
        lines: &[OrderLine],
    ) -> Result<Comprobante, FiscalErrors> {
        Comprobante::egreso_with(header, receptor, None, relacionados, forma_pago, lines)
    }

    /// A nota de crédito to PUBLICO EN GENERAL (XAXX010101000), correcting a factura global: SAT
    /// requires `InformacionGlobal` whenever the receptor is the general public, and it carries
    /// the period of the global it corrects. Relation 01 (a ticket later invoiced on its own) or
    /// 03 (a ticket refunded).
    pub fn egreso_publico_en_general(
        header: &InvoiceHeader,
        periodo: InformacionGlobal,
        relacionados: CfdiRelacionados,
        forma_pago: FormaPago,
        lines: &[OrderLine],
    ) -> Result<Comprobante, FiscalErrors> {
        Comprobante::egreso_with(
            header,
            Receptor::publico_en_general(header.lugar_expedicion),
            Some(periodo),
            relacionados,
            forma_pago,
            lines,
        )
    }

    fn egreso_with(
        header: &InvoiceHeader,
        receptor: Receptor,
        periodo: Option<InformacionGlobal>,
        relacionados: CfdiRelacionados,
        forma_pago: FormaPago,
        lines: &[OrderLine],
    ) -> Result<Comprobante, FiscalErrors> {
        let mut problems = Problems::default();
        let (serie, folio, fecha) = header_parts(header, &mut problems);
        let publico = receptor.rfc().as_str() == Rfc::PUBLICO_EN_GENERAL
            && receptor.nombre().as_str() == Nombre::publico_en_general().as_str();
        match &periodo {
            None if publico => problems.push(FiscalError::new(
                "informacion_global",
                "Una nota de crédito al PUBLICO EN GENERAL lleva el periodo de la factura global que corrige (InformacionGlobal).",
            )),
            Some(_) if !publico => problems.push(FiscalError::new(
                "informacion_global",
                "El periodo (InformacionGlobal) solo va en comprobantes al PUBLICO EN GENERAL.",
            )),
            Some(p) => problems.0.extend(p.problems(header.emisor.regimen_fiscal(), fecha)),
            None => {}
        }
        if !matches!(
            relacionados.tipo(),
            TipoRelacion::NotaDeCredito | TipoRelacion::Devolucion | TipoRelacion::Sustitucion
        ) {
            problems.push(FiscalError::new(
                "tipo_relacion",
                "Una nota de crédito se relaciona como 01 (nota de crédito), 03 (devolución) o 04 (sustitución).",
            ));
        }
        let pago = problems.take(Pago::pue(forma_pago));
        problems
            .0
            .extend(generic_receptor_problem(&receptor, header.lugar_expedicion));
        let receptor = receptor.with_uso(UsoCfdi::G02).unwrap_or(receptor);
        let (conceptos, paid) = order_conceptos(lines, &mut problems);
        let Some(pago) = pago.filter(|_| problems.is_empty()) else {
            return Err(problems.into_errors());
        };
        finish(
            Parts {
                tipo: TipoDeComprobante::Egreso,
                serie,
                folio,
                fecha,
                pago,
                lugar_expedicion: header.lugar_expedicion,
                informacion_global: periodo,
                relacionados: vec![relacionados],
                emisor: header.emisor.clone(),
                receptor,
                conceptos,
            },
            paid,
        )
    }

    /// The same invoice relating more CFDI: an Ingreso may only substitute (04) earlier ones, e.g.
    /// a factura global reissued without a ticket that got its own invoice; an Egreso may add 01,
    /// 03 or 04.
    pub fn with_relacionados(
        mut self,
        relacionados: CfdiRelacionados,
    ) -> Result<Comprobante, FiscalError> {
        let allowed = match self.tipo {
            TipoDeComprobante::Ingreso => matches!(relacionados.tipo(), TipoRelacion::Sustitucion),
            TipoDeComprobante::Egreso => matches!(
                relacionados.tipo(),
                TipoRelacion::NotaDeCredito | TipoRelacion::Devolucion | TipoRelacion::Sustitucion
            ),
        };
        if !allowed {
            return Err(FiscalError::new(
                "tipo_relacion",
                format!(
                    "Una factura de {} no se puede relacionar como {}.",
                    if self.tipo == TipoDeComprobante::Ingreso {
                        "ingreso"
                    } else {
                        "egreso"
                    },
                    relacionados.tipo().code()
                ),
            ));
        }
        match self
            .relacionados
            .iter_mut()
            .find(|r| r.tipo() == relacionados.tipo())
        {
            Some(existing) => {
                for uuid in relacionados.uuids() {
                    if !existing.uuids().contains(uuid) {
                        existing.push_uuid(uuid.clone());
                    }
                }
            }
            None => self.relacionados.push(relacionados),
        }
        Ok(self)
    }
}
