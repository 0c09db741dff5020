//! Emisor (the merchant) and Receptor (the customer), parsed from what people type.

use super::text::{Nombre, Texto};
use super::{FiscalError, FiscalErrors, Problems};
use crate::catalogs::{CodigoPostal, Pais, RegimenFiscal, UsoCfdi};
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

/// A foreign customer's country and tax number. SAT's rules: only with the foreign generic RFC
/// XEXX010101000 (never with a Mexican RFC or XAXX010101000); a tax number needs the country, and
/// the country is never MEX. Without the comercio exterior complement both are optional (the chat
/// asks for them; data saved before they existed still invoices).
fn foreign(
    datos: &DatosFiscales,
    rfc: Option<&Rfc>,
    problems: &mut Problems,
) -> (Option<Pais>, Option<Texto>) {
    let given = |v: &Option<String>| {
        v.as_deref()
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .map(str::to_owned)
    };
    let (pais, num) = (
        given(&datos.residencia_fiscal),
        given(&datos.num_reg_id_trib),
    );
    let Some(rfc) = rfc else {
        return (None, None);
    };
    if rfc.as_str() != Rfc::EXTRANJERO {
        if pais.is_some() || num.is_some() {
            problems.push(FiscalError::new(
                "residencia_fiscal",
                "El país de residencia y el número de registro tributario solo van en facturas a extranjeros, con el RFC XEXX010101000.",
            ));
        }
        return (None, None);
    }
    let residencia = match pais {
        None if num.is_some() => {
            problems.push(FiscalError::new(
                "residencia_fiscal",
                "Con el número de registro tributario va el país que lo emitió: escribe el país de residencia fiscal, por ejemplo Estados Unidos o USA.",
            ));
            None
        }
        None => None,
        Some(p) => match Pais::parse(&p) {
            Ok(p) if p == Pais::MEXICO => {
                problems.push(FiscalError::new(
                    "residencia_fiscal",
                    "Quien reside en México para efectos fiscales factura con su RFC, no con el de extranjeros (XEXX010101000).",
                ));
                None
            }
            other => problems.take(other),
        },
    };
    let num_reg = num.and_then(|n| {
        problems.take(Texto::parse(
            "num_reg_id_trib",
            "el número de registro tributario",
            &n,
            40,
        ))
    });
    (residencia, num_reg)
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
    /// A foreign customer's (XEXX010101000) country of residence for tax purposes: a c_Pais code
    /// or the country's name ("USA", "Estados Unidos").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub residencia_fiscal: Option<String>,
    /// A foreign customer's tax identification number in their country (NumRegIdTrib), optional.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub num_reg_id_trib: Option<String>,
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
    residencia_fiscal: Option<Pais>,
    num_reg_id_trib: Option<Texto>,
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
        let (residencia, num_reg) = foreign(datos, rfc.as_ref(), &mut problems);
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
                residencia_fiscal: residencia,
                num_reg_id_trib: num_reg,
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
            residencia_fiscal: None,
            num_reg_id_trib: None,
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

    /// A foreign customer's country of residence for tax purposes (ResidenciaFiscal).
    pub fn residencia_fiscal(&self) -> Option<Pais> {
        self.residencia_fiscal
    }

    /// A foreign customer's tax identification number in their country (NumRegIdTrib).
    pub fn num_reg_id_trib(&self) -> Option<&Texto> {
        self.num_reg_id_trib.as_ref()
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
            residencia_fiscal: None,
            num_reg_id_trib: None,
            rfc: rfc.into(),
            nombre: nombre.into(),
            codigo_postal: cp.into(),
            regimen_fiscal: regimen.into(),
            uso_cfdi: uso.into(),
        }
    }

    #[test]
    fn a_foreign_customer_gives_a_country_and_perhaps_a_tax_number() {
        let foreign = |pais: Option<&str>, num: Option<&str>| DatosFiscales {
            residencia_fiscal: pais.map(str::to_owned),
            num_reg_id_trib: num.map(str::to_owned),
            ..datos("XEXX010101000", "John Smith", "06600", "616", "S01")
        };
        let r = Receptor::parse(&foreign(Some("Estados Unidos"), Some("123456789"))).unwrap();
        assert_eq!(
            r.residencia_fiscal().map(|p| p.code().to_owned()),
            Some("USA".into())
        );
        assert_eq!(r.num_reg_id_trib().map(Texto::as_str), Some("123456789"));
        // Both optional, but a tax number needs its country.
        assert!(Receptor::parse(&foreign(Some("CAN"), None)).is_ok());
        assert!(Receptor::parse(&foreign(None, None)).is_ok());
        let fields = |d: &DatosFiscales| -> Vec<String> {
            Receptor::parse(d)
                .err()
                .map(|e| e.iter().map(|f| f.field.clone()).collect())
                .unwrap_or_default()
        };
        assert_eq!(fields(&foreign(None, Some("123"))), ["residencia_fiscal"]);
        assert_eq!(
            fields(&foreign(Some("México"), None)),
            ["residencia_fiscal"]
        );
        assert_eq!(
            fields(&foreign(Some("Narnia"), None)),
            ["residencia_fiscal"]
        );
        assert_eq!(
            fields(&foreign(Some("USA"), Some(&"9".repeat(41)))),
            ["num_reg_id_trib"]
        );
        // Never with a Mexican RFC or the general public's.
        for rfc in ["XAXX010101000", "CACX7605101P8"] {
            let d = DatosFiscales {
                residencia_fiscal: Some("USA".into()),
                ..datos(rfc, "Xochilt Casas Chavez", "36257", "616", "S01")
            };
            assert!(
                fields(&d).contains(&"residencia_fiscal".to_owned()),
                "{rfc}"
            );
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
