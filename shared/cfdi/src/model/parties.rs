//! Emisor (the merchant) and Receptor (the customer), parsed from what people type.

use super::text::Nombre;
use super::{FiscalError, FiscalErrors, Problems};
use crate::catalogs::{CodigoPostal, RegimenFiscal, UsoCfdi};
use crate::rfc::{Rfc, TipoPersona};
use serde::{Deserialize, Serialize};

/// The merchant issuing the invoice.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Emisor {
    rfc: Rfc,
    nombre: Nombre,
    regimen_fiscal: RegimenFiscal,
}

impl Emisor {
    /// Parses the merchant's fiscal data; every problem is reported at once.
    pub fn parse(rfc: &str, nombre: &str, regimen_fiscal: &str) -> Result<Emisor, FiscalErrors> {
        let mut problems = Problems::default();
        let rfc = problems.take(Rfc::parse(rfc));
        let tipo = rfc.as_ref().map_or(TipoPersona::Fisica, Rfc::tipo);
        let nombre = problems.take(Nombre::parse(nombre, tipo));
        let regimen = problems.take(RegimenFiscal::parse(regimen_fiscal));
        if let (Some(rfc), Some(regimen)) = (&rfc, regimen) {
            if rfc.es_generico() {
                problems.push(FiscalError::new(
                    "rfc",
                    format!(
                        "El RFC genérico {rfc} no puede emitir facturas: usa el RFC del negocio."
                    ),
                ));
            } else if !regimen.admite(rfc.tipo()) {
                problems.push(regimen_no_admite(rfc, regimen));
            }
        }
        match (rfc, nombre, regimen) {
            (Some(rfc), Some(nombre), Some(regimen_fiscal)) if problems.is_empty() => Ok(Emisor {
                rfc,
                nombre,
                regimen_fiscal,
            }),
            _ => Err(problems.into_errors()),
        }
    }

    /// RFC of the merchant.
    pub fn rfc(&self) -> &Rfc {
        &self.rfc
    }

    /// Name as registered at SAT, without régimen societario.
    pub fn nombre(&self) -> &Nombre {
        &self.nombre
    }

    /// Régimen fiscal the merchant invoices under.
    pub fn regimen_fiscal(&self) -> RegimenFiscal {
        self.regimen_fiscal
    }
}

fn regimen_no_admite(rfc: &Rfc, regimen: RegimenFiscal) -> FiscalError {
    let (es, admite) = match rfc.tipo() {
        TipoPersona::Fisica => ("de persona física", "personas morales"),
        TipoPersona::Moral => ("de persona moral", "personas físicas"),
    };
    FiscalError::new(
        "regimen_fiscal",
        format!(
            "El régimen {} es solo para {admite} y el RFC {rfc} es {es}. Revisa el régimen en tu Constancia de Situación Fiscal.",
            regimen.named()
        ),
    )
}

/// A customer's fiscal data as typed in a form or a WhatsApp flow (all text, unvalidated).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DatosFiscales {
    /// RFC (12 or 13 characters).
    pub rfc: String,
    /// Name or razón social as in the Constancia de Situación Fiscal.
    pub nombre: String,
    /// Postal code of the domicilio fiscal.
    pub codigo_postal: String,
    /// c_RegimenFiscal code (`"612"`).
    pub regimen_fiscal: String,
    /// c_UsoCFDI code (`"G03"`).
    pub uso_cfdi: String,
}

/// The customer an individual invoice is for, with data that fits together (régimen for the kind
/// of persona, uso de CFDI for the régimen).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Receptor {
    rfc: Rfc,
    nombre: Nombre,
    domicilio_fiscal: CodigoPostal,
    regimen_fiscal: RegimenFiscal,
    uso_cfdi: UsoCfdi,
}

impl Receptor {
    /// Validates a customer's fiscal data, reporting every field at fault at once.
    pub fn parse(datos: &DatosFiscales) -> Result<Receptor, FiscalErrors> {
        let mut problems = Problems::default();
        let rfc = problems.take(Rfc::parse(&datos.rfc));
        let tipo = rfc.as_ref().map_or(TipoPersona::Fisica, Rfc::tipo);
        let nombre = problems.take(Nombre::parse(&datos.nombre, tipo));
        let cp = problems.take(CodigoPostal::parse(&datos.codigo_postal));
        let regimen = problems.take(RegimenFiscal::parse(&datos.regimen_fiscal));
        let uso = problems.take(UsoCfdi::parse(&datos.uso_cfdi));

        // A nominative invoice to someone without RFC (XAXX010101000) carries their own name;
        // "PUBLICO EN GENERAL" belongs to the factura global only.
        if nombre.as_ref().map(Nombre::as_str) == Some(Nombre::publico_en_general().as_str()) {
            problems.push(FiscalError::new(
                "nombre",
                "\"PUBLICO EN GENERAL\" solo se usa en la factura global: escribe el nombre de la persona o empresa.",
            ));
        }
        if let (Some(rfc), Some(regimen)) = (&rfc, regimen) {
            if rfc.es_generico() {
                if regimen != RegimenFiscal::SinObligacionesFiscales {
                    problems.push(FiscalError::new(
                        "regimen_fiscal",
                        format!("Con el RFC genérico {rfc} el régimen fiscal es 616 (Sin obligaciones fiscales)."),
                    ));
                }
            } else if !regimen.admite(rfc.tipo()) {
                problems.push(regimen_no_admite(rfc, regimen));
            }
        }
        if let Some(uso) = uso {
            problems.0.extend(uso_problem(rfc.as_ref(), regimen, uso));
        }
        match (rfc, nombre, cp, regimen, uso) {
            (
                Some(rfc),
                Some(nombre),
                Some(domicilio_fiscal),
                Some(regimen_fiscal),
                Some(uso_cfdi),
            ) if problems.is_empty() => Ok(Receptor {
                rfc,
                nombre,
                domicilio_fiscal,
                regimen_fiscal,
                uso_cfdi,
            }),
            _ => Err(problems.into_errors()),
        }
    }

    /// The receptor of a factura global: XAXX010101000 "PUBLICO EN GENERAL", régimen 616, uso S01,
    /// domicilio fiscal = the lugar de expedición.
    pub fn publico_en_general(lugar_expedicion: CodigoPostal) -> Receptor {
        Receptor {
            rfc: Rfc::publico_en_general(),
            nombre: Nombre::publico_en_general(),
            domicilio_fiscal: lugar_expedicion,
            regimen_fiscal: RegimenFiscal::SinObligacionesFiscales,
            uso_cfdi: UsoCfdi::S01,
        }
    }

    /// The same customer with another uso de CFDI, if their régimen admits it.
    pub fn with_uso(&self, uso: UsoCfdi) -> Result<Receptor, FiscalError> {
        match uso_problem(Some(&self.rfc), Some(self.regimen_fiscal), uso) {
            Some(e) => Err(e),
            None => Ok(Receptor {
                uso_cfdi: uso,
                ..self.clone()
            }),
        }
    }

    /// RFC of the customer.
    pub fn rfc(&self) -> &Rfc {
        &self.rfc
    }

    /// Name as registered at SAT.
    pub fn nombre(&self) -> &Nombre {
        &self.nombre
    }

    /// Postal code of the domicilio fiscal.
    pub fn domicilio_fiscal(&self) -> CodigoPostal {
        self.domicilio_fiscal
    }

    /// Régimen fiscal of the customer.
    pub fn regimen_fiscal(&self) -> RegimenFiscal {
        self.regimen_fiscal
    }

    /// What the customer will use the invoice for.
    pub fn uso_cfdi(&self) -> UsoCfdi {
        self.uso_cfdi
    }
}

/// Why `uso` does not fit the customer, if it does not.
fn uso_problem(
    rfc: Option<&Rfc>,
    regimen: Option<RegimenFiscal>,
    uso: UsoCfdi,
) -> Option<FiscalError> {
    let error = |message: String| Some(FiscalError::new("uso_cfdi", message));
    if matches!(uso, UsoCfdi::CP01 | UsoCfdi::CN01) {
        return error(format!(
            "El uso {} es solo para recibos de {}; para una compra elige por ejemplo G03 (Gastos en general).",
            uso.code(),
            if uso == UsoCfdi::CP01 { "pago" } else { "nómina" }
        ));
    }
    if let Some(rfc) = rfc {
        if rfc.es_generico() {
            return (uso != UsoCfdi::S01).then(|| {
                FiscalError::new(
                    "uso_cfdi",
                    format!(
                        "Con el RFC genérico {rfc} el uso de CFDI es S01 (Sin efectos fiscales)."
                    ),
                )
            });
        }
        if !uso.admite_persona(rfc.tipo()) {
            return error(format!(
                "El uso {} es solo para personas físicas y el RFC {rfc} es de persona moral.",
                uso.named()
            ));
        }
    }
    let regimen = regimen?;
    if uso.admite_regimen(regimen) {
        return None;
    }
    let persona = rfc.map_or(TipoPersona::Fisica, Rfc::tipo);
    let opciones: Vec<String> = UsoCfdi::para_factura(persona, regimen)
        .into_iter()
        .map(UsoCfdi::named)
        .collect();
    error(format!(
        "El uso {} no corresponde al régimen {}. Con ese régimen puedes usar: {}.",
        uso.named(),
        regimen.named(),
        opciones.join(", ")
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn datos(rfc: &str, nombre: &str, cp: &str, regimen: &str, uso: &str) -> DatosFiscales {
        DatosFiscales {
            rfc: rfc.into(),
            nombre: nombre.into(),
            codigo_postal: cp.into(),
            regimen_fiscal: regimen.into(),
            uso_cfdi: uso.into(),
        }
    }

    #[test]
    fn a_company_with_matching_data_is_a_receptor() {
        let r = Receptor::parse(&datos(
            "eku9003173c9",
            "Escuela Kemper Urgate SA de CV",
            "26015",
            "601",
            "g03",
        ))
        .unwrap();
        assert_eq!(r.rfc().as_str(), "EKU9003173C9");
        assert_eq!(r.nombre().as_str(), "ESCUELA KEMPER URGATE");
        assert_eq!(r.domicilio_fiscal().as_str(), "26015");
        assert_eq!(
            r.regimen_fiscal(),
            RegimenFiscal::GeneralDeLeyPersonasMorales
        );
        assert_eq!(r.uso_cfdi(), UsoCfdi::G03);
    }

    #[test]
    fn every_bad_field_is_reported_at_once() {
        let e = Receptor::parse(&datos("ABC", " ", "123", "999", "Z99")).unwrap_err();
        let fields: Vec<&str> = e.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(
            fields,
            [
                "rfc",
                "nombre",
                "codigo_postal",
                "regimen_fiscal",
                "uso_cfdi"
            ]
        );
        assert!(e[0]
            .message
            .starts_with("El RFC ABC no tiene el formato correcto"));
    }

    #[test]
    fn uso_must_fit_the_regimen() {
        let e = Receptor::parse(&datos(
            "CACX7605101P8",
            "Xochilt Casas",
            "36257",
            "616",
            "G03",
        ))
        .unwrap_err();
        assert_eq!(e.len(), 1);
        assert_eq!(e[0].field, "uso_cfdi");
        assert!(
            e[0].message
                .starts_with("El uso G03 (Gastos en general) no corresponde al régimen 616"),
            "{}",
            e[0].message
        );
        assert!(
            e[0].message.contains("S01 (Sin efectos fiscales)"),
            "{}",
            e[0].message
        );
    }

    #[test]
    fn regimen_and_uso_must_fit_the_persona() {
        let e = Receptor::parse(&datos(
            "CACX7605101P8",
            "Xochilt Casas",
            "36257",
            "601",
            "G03",
        ))
        .unwrap_err();
        assert_eq!(e[0].field, "regimen_fiscal");
        assert!(
            e[0].message.contains("solo para personas morales"),
            "{}",
            e[0].message
        );
        let e = Receptor::parse(&datos(
            "EKU9003173C9",
            "Escuela Kemper Urgate",
            "26015",
            "601",
            "D01",
        ))
        .unwrap_err();
        assert_eq!(e[0].field, "uso_cfdi");
        assert!(
            e[0].message.contains("solo para personas físicas"),
            "{}",
            e[0].message
        );
    }

    #[test]
    fn payment_and_payroll_usos_are_not_for_sales() {
        let e = Receptor::parse(&datos(
            "CACX7605101P8",
            "Xochilt Casas",
            "36257",
            "612",
            "CP01",
        ))
        .unwrap_err();
        assert!(e[0].message.contains("recibos de pago"));
    }

    #[test]
    fn generic_rfc_needs_616_and_s01_and_a_real_name() {
        assert!(
            Receptor::parse(&datos("XAXX010101000", "Juan Pérez", "06600", "616", "S01")).is_ok()
        );
        let e = Receptor::parse(&datos(
            "XAXX010101000",
            "Publico en general",
            "06600",
            "612",
            "G03",
        ))
        .unwrap_err();
        let fields: Vec<&str> = e.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, ["nombre", "regimen_fiscal", "uso_cfdi"]);
    }

    #[test]
    fn uso_can_change_when_the_regimen_admits_it() {
        let r = Receptor::parse(&datos(
            "CACX7605101P8",
            "Xochilt Casas",
            "36257",
            "616",
            "S01",
        ))
        .unwrap();
        assert_eq!(
            r.with_uso(UsoCfdi::G02).map(|r| r.uso_cfdi()),
            Ok(UsoCfdi::G02)
        );
        assert!(r.with_uso(UsoCfdi::G01).is_err());
    }

    #[test]
    fn emisor_is_checked_too() {
        let e = Emisor::parse("EKU9003173C9", "ESCUELA KEMPER URGATE", "601").unwrap();
        assert_eq!(e.nombre().as_str(), "ESCUELA KEMPER URGATE");
        let errors = Emisor::parse("EKU9003173C9", "", "612").unwrap_err();
        let fields: Vec<&str> = errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, ["nombre", "regimen_fiscal"]);
        assert!(Emisor::parse("XAXX010101000", "X", "616").is_err());
    }
}
