//! From our records to CFDI 4.0 documents: the only place the app speaks `mostrador_cfdi`'s model.

use super::fiscal::CustomerFiscal;
use super::global::Ticket as SaleTicket;
use super::settings::{CsdInfo, IssuerInput, Issuing};
use crate::commerce::orders::Order;
use crate::parties::merchants::Branch;
use crate::parties::messages::GlobalPeriod;
use crate::platform::error::{AppError, FieldError};
use chrono::{DateTime, Utc};
use mostrador_cfdi::catalogs::{CodigoPostal, FormaPago, Meses, Periodicidad};
use mostrador_cfdi::csd::Csd;
use mostrador_cfdi::model::{
    CfdiRelacionados, Comprobante, DatosFiscales, Emisor, FiscalError, FiscalErrors,
    InformacionGlobal, InvoiceHeader, OrderLine, Pago, Receptor, Ticket, TicketPart,
};
use mostrador_core::catalog::Product;
use mostrador_core::tax::TaxTreatment;
use std::collections::HashMap;

/// A sealed CFDI, ready for the PAC.
#[derive(Debug, Clone)]
pub struct Sealed {
    pub xml: String,
    /// Total in pesos as written in the document.
    pub total: String,
    /// ISR the receptor withholds (TotalImpuestosRetenidos), in pesos: a RESICO persona física
    /// invoicing a company.
    pub isr_retenido: Option<String>,
}

impl Sealed {
    /// A sealed document read back from storage.
    pub(crate) fn from_xml(xml: String) -> Sealed {
        let total = attribute(&xml, "Total").unwrap_or_default();
        // Only the comprobante-level Impuestos carries attributes.
        let needle = "<cfdi:Impuestos TotalImpuestosRetenidos=\"";
        let isr_retenido = xml.find(needle).and_then(|at| {
            let rest = &xml[at + needle.len()..];
            rest.find('"').map(|end| rest[..end].to_owned())
        });
        Sealed {
            xml,
            total,
            isr_retenido,
        }
    }
}

/// The value of the first `name="…"` attribute in the comprobante's opening tag.
fn attribute(xml: &str, name: &str) -> Option<String> {
    let start = xml.find("<cfdi:Comprobante")?;
    let tag_end = xml[start..].find('>')? + start;
    let tag = &xml[start..tag_end];
    let needle = format!(" {name}=\"");
    let at = tag.find(&needle)? + needle.len();
    let end = tag[at..].find('"')? + at;
    Some(tag[at..end].to_owned())
}

fn fields(errors: FiscalErrors) -> Vec<FieldError> {
    errors
        .into_vec()
        .into_iter()
        .map(|e| FieldError::new(e.field, e.message))
        .collect()
}

fn field(e: FiscalError) -> Vec<FieldError> {
    vec![FieldError::new(e.field, e.message)]
}

/// Every problem with the merchant's issuer data, in Spanish.
pub(crate) fn check_issuer(input: &IssuerInput) -> Vec<FieldError> {
    let mut out = match Emisor::parse(&input.rfc, &input.nombre, &input.regimen_fiscal) {
        Ok(_) => Vec::new(),
        Err(e) => fields(e),
    };
    let serie = input.serie.trim();
    if serie.is_empty() || serie.len() > 24 || !serie.chars().all(|c| c.is_ascii_alphanumeric()) {
        out.push(FieldError::new(
            "serie",
            "La serie lleva de 1 a 24 letras o números.",
        ));
    }
    if !matches!(input.periodicidad.trim(), "01" | "02" | "03" | "04") {
        out.push(FieldError::new(
            "periodicidad",
            "La periodicidad de la factura global es 01 (diaria), 02 (semanal), 03 (quincenal) o 04 (mensual).",
        ));
    }
    out
}

/// The receptor's data as the CFDI writes it. A generic RFC (XAXX010101000 without RFC,
/// XEXX010101000 a foreign customer) has only one possible régimen (616), uso (S01) and domicilio
/// fiscal (the lugar de expedición, `lugar`): those are filled in rather than asked of a customer
/// who cannot know them.
fn datos(c: &CustomerFiscal, lugar: Option<&str>) -> DatosFiscales {
    let generic = matches!(
        c.rfc.trim().to_uppercase().as_str(),
        "XAXX010101000" | "XEXX010101000"
    );
    if generic {
        return DatosFiscales {
            rfc: c.rfc.trim().to_uppercase(),
            nombre: c.nombre.clone(),
            // Without the branch (checking data before an order), any valid code stands in.
            codigo_postal: lugar.unwrap_or("01000").to_owned(),
            regimen_fiscal: "616".to_owned(),
            uso_cfdi: "S01".to_owned(),
            residencia_fiscal: c.residencia_fiscal.clone(),
            num_reg_id_trib: c.num_reg_id_trib.clone(),
        };
    }
    DatosFiscales {
        rfc: c.rfc.clone(),
        nombre: c.nombre.clone(),
        codigo_postal: c.codigo_postal.clone(),
        regimen_fiscal: c.regimen_fiscal.clone(),
        uso_cfdi: c.uso_cfdi.clone(),
        residencia_fiscal: c.residencia_fiscal.clone(),
        num_reg_id_trib: c.num_reg_id_trib.clone(),
    }
}

/// Every problem with a customer's fiscal data, in Spanish.
pub(crate) fn check_receptor(c: &CustomerFiscal) -> Vec<FieldError> {
    match Receptor::parse(&datos(c, None)) {
        Ok(_) => Vec::new(),
        Err(e) => fields(e),
    }
}

/// Loads and checks a CSD (password, matching key, validity now, RFC when given).
pub(crate) fn load_csd(
    cer: &[u8],
    key: &[u8],
    password: &str,
    rfc: Option<&str>,
    now: DateTime<Utc>,
) -> Result<Csd, AppError> {
    let csd = Csd::from_der(cer, key, password.as_bytes())
        .map_err(|e| AppError::Validation(vec![FieldError::new("csd", e.to_string())]))?;
    let local = now
        .with_timezone(&chrono_tz::America::Mexico_City)
        .naive_local();
    csd.check_vigencia(local)
        .map_err(|e| AppError::Validation(vec![FieldError::new("certificate", e.to_string())]))?;
    if let Some(rfc) = rfc {
        if csd.rfc().as_str() != rfc {
            return Err(AppError::Validation(vec![FieldError::new(
                "certificate",
                format!(
                    "El CSD es del RFC {}, no del emisor {rfc}.",
                    csd.rfc().as_str()
                ),
            )]));
        }
    }
    Ok(csd)
}

/// What the API shows of a CSD.
pub(crate) fn csd_info(csd: &Csd) -> CsdInfo {
    CsdInfo {
        no_certificado: csd.no_certificado().to_owned(),
        valid_from: csd.valid_from().to_rfc3339(),
        valid_to: csd.valid_until().to_rfc3339(),
    }
}

fn header(
    issuing: &Issuing,
    branch: &Branch,
    serie: &str,
    folio: u64,
    now: DateTime<Utc>,
) -> Result<InvoiceHeader, AppError> {
    let emisor = Emisor::parse(
        &issuing.issuer.rfc,
        &issuing.issuer.nombre,
        &issuing.issuer.regimen_fiscal,
    )
    .map_err(|e| AppError::Validation(fields(e)))?;
    let lugar = CodigoPostal::parse(&branch.postal_code)
        .map_err(|e| AppError::Validation(field(e.under("sucursal"))))?;
    // Fecha is the local time of the place of issue.
    let tz: chrono_tz::Tz = branch
        .timezone
        .parse()
        .unwrap_or(chrono_tz::America::Mexico_City);
    Ok(InvoiceHeader {
        emisor,
        lugar_expedicion: lugar,
        fecha: now.with_timezone(&tz).naive_local(),
        serie: Some(serie.to_owned()),
        folio: Some(folio.to_string()),
    })
}

/// c_FormaPago of how the customer paid.
pub(crate) fn forma_pago(method: &str) -> FormaPago {
    match method {
        "cash" => FormaPago::Efectivo,
        "spei" | "codi" => FormaPago::Transferencia,
        // Checkout pages do not say credit or debit: SAT's guide accepts 04 for card payments.
        "card" => FormaPago::TarjetaDeCredito,
        _ => FormaPago::Transferencia,
    }
}

fn seal(comprobante: &Comprobante, csd: &Csd) -> Result<Sealed, AppError> {
    let sealed = comprobante
        .seal(csd)
        .map_err(|e| AppError::Validation(vec![FieldError::new("csd", e.to_string())]))?;
    Ok(Sealed::from_xml(sealed.xml().to_owned()))
}

/// Where and when an invoice is issued, and its number.
pub struct Numbering<'a> {
    pub serie: &'a str,
    pub folio: u64,
    /// Its postal code is the LugarExpedicion; its timezone gives the Fecha.
    pub branch: &'a Branch,
    pub now: DateTime<Utc>,
}

/// The CFDI lines of order lines, as the individual invoice writes them (a nota that mirrors the
/// invoice writes the same, so its amounts are the invoice's to the centavo).
fn cfdi_lines(
    lines: &[crate::commerce::orders::OrderLine],
    products: &HashMap<String, Product>,
) -> Vec<OrderLine> {
    lines
        .iter()
        .map(|l| {
            let product = products.get(&l.sku);
            if l.sku == mostrador_core::conversation::DELIVERY_SKU {
                // Delivery is a service: SAT's "servicios de envío" (78102203), unit E48, IVA 16 %.
                return OrderLine {
                    clave_prod_serv: "78102203".to_owned(),
                    no_identificacion: Some(l.sku.clone()),
                    cantidad: l.qty,
                    clave_unidad: "E48".to_owned(),
                    unidad: None,
                    descripcion: l.name.clone(),
                    precio_unitario: l.unit,
                    precio_incluye_iva: includes_iva(l),
                    iva: TaxTreatment::Iva16,
                    descuento: l.discount,
                    iva_cargado: None,
                };
            }
            OrderLine {
                clave_prod_serv: product
                    .map_or("01010101".to_owned(), |p| p.clave_prod_serv.clone()),
                no_identificacion: Some(l.sku.clone()),
                cantidad: l.qty,
                clave_unidad: product.map_or("H87".to_owned(), |p| p.clave_unidad.clone()),
                unidad: None,
                descripcion: l.name.clone(),
                // The customer paid the line total; the unit price including IVA is what they saw.
                precio_unitario: l.unit,
                precio_incluye_iva: includes_iva(l),
                iva: product.map_or(
                    if l.amounts.iva.0 == 0 {
                        TaxTreatment::Iva0
                    } else {
                        TaxTreatment::Iva16
                    },
                    |p| p.tax,
                ),
                // What promotions took off the line: the CFDI's Descuento, with IVA on the rest.
                descuento: l.discount,
                iva_cargado: None,
            }
        })
        .collect()
}

/// Whether a line was priced with IVA included: then what it costs is exactly the shelf amount
/// less its discount (otherwise IVA was added on top).
pub(crate) fn includes_iva(l: &crate::commerce::orders::OrderLine) -> bool {
    l.unit
        .checked_mul(l.qty)
        .is_some_and(|gross| l.amounts.total.0 == gross.0 - l.discount.0)
}

/// The individual invoice of a paid order (`method`: how it was paid), sealed.
pub fn individual(
    issuing: &Issuing,
    numbering: &Numbering<'_>,
    order: &Order,
    products: &HashMap<String, Product>,
    customer: &CustomerFiscal,
    method: &str,
    substitutes: Option<&str>,
) -> Result<Sealed, AppError> {
    let header = header(
        issuing,
        numbering.branch,
        numbering.serie,
        numbering.folio,
        numbering.now,
    )?;
    let receptor = Receptor::parse(&datos(customer, Some(&numbering.branch.postal_code)))
        .map_err(|e| AppError::Validation(fields(e)))?;
    let pago = Pago::pue(forma_pago(method)).map_err(|e| AppError::Validation(field(e)))?;
    let lines = cfdi_lines(&order.lines, products);
    border_check(numbering.branch, lines.iter().map(|l| l.iva))?;
    let mut comprobante = Comprobante::ingreso(&header, receptor, pago, &lines)
        .map_err(|e| AppError::Validation(fields(e)))?;
    if let Some(uuid) = substitutes {
        // A substitute names the invoice it replaces (relation 04); that one is then cancelled
        // with motivo 01.
        let relacionados = CfdiRelacionados::new(mostrador_cfdi::TipoRelacion::Sustitucion, [uuid])
            .map_err(|e| AppError::Validation(fields(e)))?;
        comprobante = comprobante
            .with_relacionados(relacionados)
            .map_err(|e| AppError::Validation(field(e)))?;
    }
    seal(&comprobante, &issuing.csd)
}

/// IVA 8 % only at a branch that applies the border incentive: an invoice that would carry it
/// elsewhere is refused with the reason (the merchant sees it on the blocked invoice).
fn border_check(
    branch: &Branch,
    treatments: impl IntoIterator<Item = TaxTreatment>,
) -> Result<(), AppError> {
    for treatment in treatments {
        if let Some(why) = branch.tax_problem(treatment) {
            return Err(AppError::Validation(vec![FieldError::new("iva", why)]));
        }
    }
    Ok(())
}

/// The global invoice of a branch's period, sealed.
pub fn global(
    issuing: &Issuing,
    numbering: &Numbering<'_>,
    tickets: &[SaleTicket],
    period: &GlobalPeriod,
) -> Result<Sealed, AppError> {
    let header = header(
        issuing,
        numbering.branch,
        numbering.serie,
        numbering.folio,
        numbering.now,
    )?;
    let info = informacion_global(&period.periodicidad, &period.meses, period.anio)?;
    let cfdi_tickets: Vec<Ticket> = tickets
        .iter()
        .map(|t| Ticket {
            folio: t.order_id.clone(),
            forma_pago: forma_pago(&t.method),
            partes: if t.taxes.is_empty() {
                vec![TicketPart {
                    iva: TaxTreatment::Iva16,
                    total: t.total,
                    iva_cargado: None,
                }]
            } else {
                t.taxes
                    .iter()
                    .map(|x| TicketPart {
                        iva: x.treatment,
                        total: mostrador_core::money::Centavos(x.base.0 + x.iva.0),
                        // The IVA charged on the ticket's lines is the IVA the global declares.
                        iva_cargado: Some(x.iva),
                    })
                    .collect()
            },
        })
        .collect();
    let comprobante = Comprobante::global(&header, info, &cfdi_tickets)
        .map_err(|e| AppError::Validation(fields(e)))?;
    seal(&comprobante, &issuing.csd)
}

/// What a nota de crédito corrects: the CFDI it relates to and, for a factura global, its period
/// (a nota to the general public carries it).
pub struct Corrects<'a> {
    pub related_uuid: &'a str,
    /// A refund (relation 03) rather than a ticket invoiced after its global (relation 01).
    pub refund: bool,
    pub global_period: Option<&'a mostrador_cfdi::stamped::InformacionGlobal>,
}

/// One bonificación per tax rate of what is given back, declaring the base and IVA as charged (a
/// whole ticket of a global is given back exactly as the global declared it).
fn per_rate(taxes: &[super::global::TicketTax], order_id: &str) -> Vec<OrderLine> {
    taxes
        .iter()
        .filter(|t| t.base.0 + t.iva.0 > 0)
        .map(|t| {
            OrderLine::bonificacion_cargada(
                &format!("Devolución o ajuste del ticket {order_id}"),
                t.base,
                t.iva,
                t.treatment,
            )
        })
        .collect()
}

/// SAT's InformacionGlobal from its codes (c_Periodicidad, c_Meses, año).
fn informacion_global(
    periodicidad: &str,
    meses: &str,
    anio: i32,
) -> Result<InformacionGlobal, AppError> {
    let periodicidad =
        Periodicidad::parse(periodicidad).map_err(|e| AppError::Validation(field(e)))?;
    let meses = meses
        .parse::<u8>()
        .ok()
        .and_then(|m| Meses::new(m).ok())
        .ok_or_else(|| AppError::Validation(vec![FieldError::new("meses", "01-18")]))?;
    InformacionGlobal::new(periodicidad, meses, anio).map_err(|e| AppError::Validation(fields(e)))
}

/// What a nota de crédito gives back: of which order, the base and IVA per tax rate, and the
/// invoice lines it repeats when it gives back lines of an invoiced order.
#[derive(Clone, Copy)]
pub struct GivenBack<'a> {
    pub order_id: &'a str,
    pub taxes: &'a [super::global::TicketTax],
    pub mirror: Option<(
        &'a [crate::commerce::orders::OrderLine],
        &'a HashMap<String, Product>,
    )>,
}

/// A nota de crédito (egreso) giving back `taxes` (base and IVA per treatment) of one order: to the
/// customer of its individual invoice, or to the general public (with the global's period) for a
/// ticket of a factura global.
pub fn egreso(
    issuing: &Issuing,
    numbering: &Numbering<'_>,
    receptor: Option<&CustomerFiscal>,
    corrects: &Corrects<'_>,
    given_back: &GivenBack<'_>,
    method: &str,
) -> Result<Sealed, AppError> {
    let GivenBack {
        order_id,
        taxes,
        mirror,
    } = *given_back;
    let header = header(
        issuing,
        numbering.branch,
        numbering.serie,
        numbering.folio,
        numbering.now,
    )?;
    // A refund is a devolución (03); a ticket taken out of a global because it was invoiced on
    // its own is a nota de crédito (01).
    let tipo = if corrects.refund {
        mostrador_cfdi::TipoRelacion::Devolucion
    } else {
        mostrador_cfdi::TipoRelacion::NotaDeCredito
    };
    let relacionados = CfdiRelacionados::new(tipo, [corrects.related_uuid])
        .map_err(|e| AppError::Validation(fields(e)))?;
    // Given back line by line, the nota repeats those lines of the invoice as it wrote them, so
    // it gives back exactly the base and IVA the invoice declared; otherwise one concepto per tax
    // rate.
    let lines: Vec<OrderLine> = match mirror {
        Some((order_lines, products)) if receptor.is_some() => cfdi_lines(order_lines, products),
        _ => per_rate(taxes, order_id),
    };
    let comprobante = match (receptor, corrects.global_period) {
        (Some(c), _) => Comprobante::egreso(
            &header,
            Receptor::parse(&datos(c, Some(&numbering.branch.postal_code)))
                .map_err(|e| AppError::Validation(fields(e)))?,
            relacionados,
            forma_pago(method),
            &lines,
        ),
        (None, Some(period)) => {
            let periodo = informacion_global(
                &period.periodicidad,
                &period.meses,
                period.anio.parse().unwrap_or_default(),
            )?;
            Comprobante::egreso_publico_en_general(
                &header,
                periodo,
                relacionados,
                forma_pago(method),
                &lines,
            )
        }
        (None, None) => {
            return Err(AppError::Validation(vec![FieldError::new(
                "informacion_global",
                "una nota de crédito al público en general necesita el periodo de la factura global que corrige",
            )]))
        }
    }
    .map_err(|e| AppError::Validation(fields(e)))?;
    seal(&comprobante, &issuing.csd)
}
