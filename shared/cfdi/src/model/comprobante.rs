//! The CFDI 4.0 Comprobante as data: every field already valid, amounts already consistent.
//!
//! Values are only built by the constructors in `build.rs`; here are the types, their read
//! accessors (for the XML, the cadena original and the printed representation) and the one place
//! that derives the comprobante-level amounts from the conceptos.

use super::parties::{Emisor, Receptor};
use super::text::Texto;
use super::{FiscalError, FiscalErrors, Problems};
use crate::amounts::{self, round_to};
use crate::catalogs::{
    ClaveProdServ, ClaveUnidad, CodigoPostal, Exportacion, FormaPago, Meses, MetodoPago, Moneda,
    ObjetoImp, Periodicidad, RegimenFiscal, TipoDeComprobante, TipoRelacion,
};
use chrono::NaiveDateTime;
use mostrador_core::money::Centavos;
use mostrador_core::tax::TaxTreatment;
use rust_decimal::Decimal;

/// Método and forma de pago together, so PPD always goes with forma 99 and PUE never does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pago {
    metodo: MetodoPago,
    forma: FormaPago,
}

impl Pago {
    /// Paid in full when the invoice is issued (PUE) with `forma`; 99 "Por definir" is not allowed.
    pub fn pue(forma: FormaPago) -> Result<Pago, FiscalError> {
        if forma == FormaPago::PorDefinir {
            return Err(FiscalError::new(
                "forma_pago",
                "Una venta pagada en una sola exhibición (PUE) necesita la forma de pago real, no 99 (Por definir).",
            ));
        }
        Ok(Pago {
            metodo: MetodoPago::Pue,
            forma,
        })
    }

    /// To be paid later or in installments (PPD): forma de pago 99 "Por definir".
    pub fn ppd() -> Pago {
        Pago {
            metodo: MetodoPago::Ppd,
            forma: FormaPago::PorDefinir,
        }
    }

    /// PUE or PPD.
    pub fn metodo(&self) -> MetodoPago {
        self.metodo
    }

    /// The forma de pago (99 with PPD).
    pub fn forma(&self) -> FormaPago {
        self.forma
    }
}

/// InformacionGlobal of a factura global: the period its tickets belong to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InformacionGlobal {
    periodicidad: Periodicidad,
    meses: Meses,
    anio: i32,
}

impl InformacionGlobal {
    /// A period: `meses` 01–12 for a month, 13–18 only with bimonthly periodicity; `anio` ≥ 2022.
    /// Whether it fits the emisor and the invoice date is checked when the invoice is built.
    pub fn new(
        periodicidad: Periodicidad,
        meses: Meses,
        anio: i32,
    ) -> Result<InformacionGlobal, FiscalErrors> {
        let mut problems = Problems::default();
        match (periodicidad, meses.es_bimestre()) {
            (Periodicidad::Bimestral, false) => problems.push(FiscalError::new(
                "meses",
                format!("Con periodicidad bimestral el periodo va de 13 (enero-febrero) a 18 (noviembre-diciembre), no {}.", meses.code()),
            )),
            (p, true) if p != Periodicidad::Bimestral => problems.push(FiscalError::new(
                "meses",
                format!("El periodo {} es un bimestre: con periodicidad {} usa el mes, de 01 a 12.", meses.code(), p.code()),
            )),
            _ => {}
        }
        if !(2022..=2099).contains(&anio) {
            problems.push(FiscalError::new(
                "anio",
                format!("El año {anio} no es válido para una factura global CFDI 4.0."),
            ));
        }
        FiscalErrors::check(problems.0, || InformacionGlobal {
            periodicidad,
            meses,
            anio,
        })
    }

    /// Daily, weekly, fortnightly, monthly or bimonthly.
    pub fn periodicidad(&self) -> Periodicidad {
        self.periodicidad
    }

    /// Month (01–12) or bimester (13–18).
    pub fn meses(&self) -> Meses {
        self.meses
    }

    /// Year of the period.
    pub fn anio(&self) -> i32 {
        self.anio
    }

    /// Checks the period against the emisor and the invoice date (CFDI40132–CFDI40136).
    pub(crate) fn problems(
        &self,
        regimen: RegimenFiscal,
        fecha: NaiveDateTime,
    ) -> Vec<FiscalError> {
        let mut out = Vec::new();
        if self.periodicidad == Periodicidad::Bimestral
            && regimen != RegimenFiscal::IncorporacionFiscal
        {
            out.push(FiscalError::new(
                "periodicidad",
                format!("La factura global bimestral es solo para el régimen 621 (Incorporación Fiscal); el emisor está en el {}.", regimen.named()),
            ));
        }
        let year = chrono::Datelike::year(&fecha);
        if self.anio != year && self.anio != year - 1 {
            out.push(FiscalError::new(
                "anio",
                format!(
                    "El año del periodo ({}) debe ser el de la factura ({year}) o el anterior.",
                    self.anio
                ),
            ));
        }
        out
    }
}

/// CfdiRelacionados: earlier CFDI (by UUID) this one refers to, and how.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CfdiRelacionados {
    tipo: TipoRelacion,
    uuids: Vec<String>,
}

impl CfdiRelacionados {
    /// Relates one or more folios fiscales (UUID, 36 characters) with `tipo`.
    pub fn new<S: AsRef<str>>(
        tipo: TipoRelacion,
        uuids: impl IntoIterator<Item = S>,
    ) -> Result<CfdiRelacionados, FiscalErrors> {
        let mut problems = Problems::default();
        let mut parsed = Vec::new();
        for (i, uuid) in uuids.into_iter().enumerate() {
            let raw = uuid.as_ref().trim();
            if is_uuid(raw) {
                parsed.push(raw.to_ascii_uppercase());
            } else {
                problems.push(FiscalError::new(
                    format!("uuids[{i}]"),
                    format!("El folio fiscal {raw:?} no es un UUID: son 36 caracteres como 5FB2822E-396D-4725-8521-CDC4BDD20CCF."),
                ));
            }
        }
        if parsed.is_empty() && problems.is_empty() {
            problems.push(FiscalError::new(
                "uuids",
                "Falta el folio fiscal (UUID) del CFDI relacionado.",
            ));
        }
        FiscalErrors::check(problems.0, || CfdiRelacionados {
            tipo,
            uuids: parsed,
        })
    }

    /// How they relate.
    pub fn tipo(&self) -> TipoRelacion {
        self.tipo
    }

    /// Folios fiscales (uppercase UUIDs).
    pub fn uuids(&self) -> &[String] {
        &self.uuids
    }

    /// Adds an already validated folio fiscal.
    pub(crate) fn push_uuid(&mut self, uuid: String) {
        self.uuids.push(uuid);
    }
}

fn is_uuid(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 36
        && b.iter().enumerate().all(|(i, c)| match i {
            8 | 13 | 18 | 23 => *c == b'-',
            _ => c.is_ascii_hexdigit(),
        })
}

/// An IVA traslado (Impuesto 002) of a concepto or of the comprobante summary.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Traslado {
    base: Decimal,
    tax: TaxTreatment,
    importe: Option<Decimal>,
}

impl Traslado {
    /// A traslado on `base` (2 decimals) with its tax amount (`None` exactly when exempt).
    pub(crate) fn new(base: Decimal, tax: TaxTreatment, importe: Decimal) -> Traslado {
        Traslado {
            base,
            tax,
            importe: (tax != TaxTreatment::Exempt).then_some(importe),
        }
    }

    /// Base of the tax.
    pub fn base(&self) -> Decimal {
        self.base
    }

    /// The IVA treatment (16 %, 8 %, 0 % or exento).
    pub fn tax(&self) -> TaxTreatment {
        self.tax
    }

    /// c_Impuesto: always "002" (IVA).
    pub fn impuesto(&self) -> &'static str {
        "002"
    }

    /// c_TipoFactor: "Tasa", or "Exento" for exempt.
    pub fn tipo_factor(&self) -> &'static str {
        if self.tax == TaxTreatment::Exempt {
            "Exento"
        } else {
            "Tasa"
        }
    }

    /// TasaOCuota as written (`"0.160000"`); `None` when exempt.
    pub fn tasa_o_cuota(&self) -> Option<&'static str> {
        amounts::tasa_o_cuota_text(self.tax)
    }

    /// The IVA amount; `None` when exempt.
    pub fn importe(&self) -> Option<Decimal> {
        self.importe
    }
}

/// A retención of ISR (Impuesto 001) at 1.25 %: what a persona moral withholds when a persona física
/// in the Régimen Simplificado de Confianza (626) invoices it (LISR art. 113-J), on the line's
/// amount before IVA.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Retencion {
    base: Decimal,
    importe: Decimal,
}

impl Retencion {
    /// 1.25 % of ISR on `base` (2 decimals), rounded half away from zero to the centavo: always
    /// inside SAT's bounds for the Importe (the same bounds as a traslado's).
    pub(crate) fn isr_resico(base: Decimal) -> Retencion {
        Retencion {
            base,
            importe: round_to(base * Decimal::new(125, 4), 2),
        }
    }

    /// Base of the retención (the line before IVA).
    pub fn base(&self) -> Decimal {
        self.base
    }

    /// c_Impuesto: "001" (ISR).
    pub fn impuesto(&self) -> &'static str {
        "001"
    }

    /// c_TipoFactor: "Tasa".
    pub fn tipo_factor(&self) -> &'static str {
        "Tasa"
    }

    /// TasaOCuota as written: "0.012500".
    pub fn tasa_o_cuota(&self) -> &'static str {
        "0.012500"
    }

    /// The ISR withheld.
    pub fn importe(&self) -> Decimal {
        self.importe
    }
}

/// One line of the invoice.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Concepto {
    pub(crate) clave_prod_serv: ClaveProdServ,
    pub(crate) no_identificacion: Option<Texto>,
    pub(crate) cantidad: Decimal,
    pub(crate) clave_unidad: ClaveUnidad,
    pub(crate) unidad: Option<Texto>,
    pub(crate) descripcion: Texto,
    pub(crate) valor_unitario: Decimal,
    pub(crate) importe: Decimal,
    pub(crate) descuento: Option<Decimal>,
    pub(crate) traslados: Vec<Traslado>,
    pub(crate) retenciones: Vec<Retencion>,
}

impl Concepto {
    /// c_ClaveProdServ.
    pub fn clave_prod_serv(&self) -> ClaveProdServ {
        self.clave_prod_serv
    }

    /// The merchant's SKU, or the ticket folio on a factura global.
    pub fn no_identificacion(&self) -> Option<&Texto> {
        self.no_identificacion.as_ref()
    }

    /// Quantity.
    pub fn cantidad(&self) -> Decimal {
        self.cantidad
    }

    /// c_ClaveUnidad.
    pub fn clave_unidad(&self) -> ClaveUnidad {
        self.clave_unidad
    }

    /// Unit name as the merchant calls it.
    pub fn unidad(&self) -> Option<&Texto> {
        self.unidad.as_ref()
    }

    /// What was sold.
    pub fn descripcion(&self) -> &Texto {
        &self.descripcion
    }

    /// Unit value before IVA (up to 6 decimals).
    pub fn valor_unitario(&self) -> Decimal {
        self.valor_unitario
    }

    /// Cantidad × ValorUnitario (2 decimals).
    pub fn importe(&self) -> Decimal {
        self.importe
    }

    /// Discount before IVA, when there is one.
    pub fn descuento(&self) -> Option<Decimal> {
        self.descuento
    }

    /// c_ObjetoImp: always 02, the IVA is broken down.
    pub fn objeto_imp(&self) -> ObjetoImp {
        ObjetoImp::Si
    }

    /// IVA traslados of the line (one per treatment).
    pub fn traslados(&self) -> &[Traslado] {
        &self.traslados
    }

    /// Retenciones of the line (the ISR a persona moral withholds from a RESICO persona física).
    pub fn retenciones(&self) -> &[Retencion] {
        &self.retenciones
    }
}

/// Comprobante-level Impuestos: one traslado per treatment and the total of the taxed ones.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Impuestos {
    traslados: Vec<Traslado>,
    total_trasladados: Option<Decimal>,
    retenido_isr: Option<Decimal>,
}

impl Impuestos {
    /// The ISR withheld over all lines (comprobante-level Retencion 001 and
    /// TotalImpuestosRetenidos), when the invoice carries retenciones.
    pub fn retenido_isr(&self) -> Option<Decimal> {
        self.retenido_isr
    }

    /// Summary traslados, in the order 16 %, 8 %, 0 %, exento.
    pub fn traslados(&self) -> &[Traslado] {
        &self.traslados
    }

    /// TotalImpuestosTrasladados; absent when every traslado is exempt.
    pub fn total_trasladados(&self) -> Option<Decimal> {
        self.total_trasladados
    }
}

/// A CFDI 4.0 ready to seal: Ingreso or Egreso in MXN, Exportacion 01.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Comprobante {
    pub(crate) tipo: TipoDeComprobante,
    pub(crate) serie: Option<Texto>,
    pub(crate) folio: Option<Texto>,
    pub(crate) fecha: NaiveDateTime,
    pub(crate) pago: Pago,
    pub(crate) lugar_expedicion: CodigoPostal,
    pub(crate) informacion_global: Option<InformacionGlobal>,
    pub(crate) relacionados: Vec<CfdiRelacionados>,
    pub(crate) emisor: Emisor,
    pub(crate) receptor: Receptor,
    pub(crate) conceptos: Vec<Concepto>,
    pub(crate) impuestos: Option<Impuestos>,
    pub(crate) subtotal: Decimal,
    pub(crate) descuento: Option<Decimal>,
    pub(crate) total: Decimal,
    pub(crate) total_centavos: Centavos,
}

/// Summary order of treatments (deterministic XML and cadena).
const ORDER: [TaxTreatment; 4] = [
    TaxTreatment::Iva16,
    TaxTreatment::Iva8,
    TaxTreatment::Iva0,
    TaxTreatment::Exempt,
];

/// Everything but the amounts, which [`Comprobante::assemble`] derives from the conceptos.
pub(crate) struct Parts {
    pub(crate) tipo: TipoDeComprobante,
    pub(crate) serie: Option<Texto>,
    pub(crate) folio: Option<Texto>,
    pub(crate) fecha: NaiveDateTime,
    pub(crate) pago: Pago,
    pub(crate) lugar_expedicion: CodigoPostal,
    pub(crate) informacion_global: Option<InformacionGlobal>,
    pub(crate) relacionados: Vec<CfdiRelacionados>,
    pub(crate) emisor: Emisor,
    pub(crate) receptor: Receptor,
    pub(crate) conceptos: Vec<Concepto>,
}

impl Comprobante {
    /// Derives SubTotal, Descuento, the Impuestos summary and Total from the conceptos, rounding
    /// sums to 2 decimals at the end (CFDI40108, 40111, 40119, 40205, 40215, 40221).
    pub(crate) fn assemble(parts: Parts) -> Comprobante {
        let mut importes = Decimal::ZERO;
        let mut descuentos = Decimal::ZERO;
        let mut any_descuento = false;
        let mut bases = [Decimal::ZERO; 4];
        let mut ivas = [Decimal::ZERO; 4];
        let mut present = [false; 4];
        let mut retenido = Decimal::ZERO;
        let mut any_retencion = false;
        for c in &parts.conceptos {
            for r in &c.retenciones {
                retenido += r.importe;
                any_retencion = true;
            }
            importes += c.importe;
            if let Some(d) = c.descuento {
                descuentos += d;
                any_descuento = true;
            }
            for t in &c.traslados {
                let k = ORDER.iter().position(|o| *o == t.tax).unwrap_or(3);
                present[k] = true;
                bases[k] += t.base;
                ivas[k] += t.importe.unwrap_or_default();
            }
        }
        let traslados: Vec<Traslado> = (0..4)
            .filter(|k| present[*k])
            .map(|k| Traslado::new(round_to(bases[k], 2), ORDER[k], round_to(ivas[k], 2)))
            .collect();
        let taxed: Vec<Decimal> = traslados.iter().filter_map(|t| t.importe).collect();
        let total_trasladados = (!taxed.is_empty()).then(|| taxed.iter().sum::<Decimal>());
        let subtotal = round_to(importes, 2);
        let descuento = any_descuento.then(|| round_to(descuentos, 2));
        let retenido_isr = any_retencion.then(|| round_to(retenido, 2));
        let total = subtotal - descuento.unwrap_or_default()
            + total_trasladados.unwrap_or_default()
            - retenido_isr.unwrap_or_default();
        let impuestos = (!traslados.is_empty() || retenido_isr.is_some()).then_some(Impuestos {
            traslados,
            total_trasladados,
            retenido_isr,
        });
        Comprobante {
            tipo: parts.tipo,
            serie: parts.serie,
            folio: parts.folio,
            fecha: parts.fecha,
            pago: parts.pago,
            lugar_expedicion: parts.lugar_expedicion,
            informacion_global: parts.informacion_global,
            relacionados: parts.relacionados,
            emisor: parts.emisor,
            receptor: parts.receptor,
            conceptos: parts.conceptos,
            impuestos,
            subtotal,
            descuento,
            total,
            // Every amount has 2 decimals, so this is exact; the builders compare it with what the
            // customer paid and refuse the invoice if it ever differed.
            total_centavos: amounts::centavos(total).unwrap_or(Centavos::ZERO),
        }
    }

    /// "4.0".
    pub fn version(&self) -> &'static str {
        "4.0"
    }

    /// Ingreso or Egreso.
    pub fn tipo(&self) -> TipoDeComprobante {
        self.tipo
    }

    /// The merchant's series, if any.
    pub fn serie(&self) -> Option<&Texto> {
        self.serie.as_ref()
    }

    /// The merchant's folio, if any.
    pub fn folio(&self) -> Option<&Texto> {
        self.folio.as_ref()
    }

    /// Local date and time at the lugar de expedición.
    pub fn fecha(&self) -> NaiveDateTime {
        self.fecha
    }

    /// Fecha as the CFDI writes it: `YYYY-MM-DDThh:mm:ss`.
    pub fn fecha_text(&self) -> String {
        self.fecha.format("%Y-%m-%dT%H:%M:%S").to_string()
    }

    /// Método and forma de pago.
    pub fn pago(&self) -> Pago {
        self.pago
    }

    /// Postal code where it is issued.
    pub fn lugar_expedicion(&self) -> CodigoPostal {
        self.lugar_expedicion
    }

    /// Always MXN.
    pub fn moneda(&self) -> Moneda {
        Moneda::Mxn
    }

    /// Always 01 (no aplica).
    pub fn exportacion(&self) -> Exportacion {
        Exportacion::NoAplica
    }

    /// The period of a factura global.
    pub fn informacion_global(&self) -> Option<&InformacionGlobal> {
        self.informacion_global.as_ref()
    }

    /// Related CFDI (notas de crédito, sustituciones).
    pub fn relacionados(&self) -> &[CfdiRelacionados] {
        &self.relacionados
    }

    /// The merchant.
    pub fn emisor(&self) -> &Emisor {
        &self.emisor
    }

    /// The customer (or the general public).
    pub fn receptor(&self) -> &Receptor {
        &self.receptor
    }

    /// The lines.
    pub fn conceptos(&self) -> &[Concepto] {
        &self.conceptos
    }

    /// The tax summary (absent only without traslados, which our builders never produce).
    pub fn impuestos(&self) -> Option<&Impuestos> {
        self.impuestos.as_ref()
    }

    /// SubTotal: sum of the conceptos' Importe.
    pub fn subtotal(&self) -> Decimal {
        self.subtotal
    }

    /// Sum of the conceptos' discounts, when some has one.
    pub fn descuento(&self) -> Option<Decimal> {
        self.descuento
    }

    /// Total: SubTotal − Descuento + IVA − ISR withheld.
    pub fn total(&self) -> Decimal {
        self.total
    }

    /// Total in centavos (always exact: every amount has 2 decimals).
    pub fn total_centavos(&self) -> Centavos {
        self.total_centavos
    }
}
