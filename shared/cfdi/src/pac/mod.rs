//! Stamping (timbrado) and cancellation through a PAC (Proveedor Autorizado de Certificación).
//!
//! The port works on XML text: the caller seals the CFDI (cadena original + sello) and hands the
//! sealed XML to [`Pac::stamp`]; what comes back is the stamped CFDI with its
//! `tfd:TimbreFiscalDigital`. Adapters: [`finkok`] (SOAP), [`sw`] (SW Sapien, REST) and [`sandbox`]
//! (offline, non-fiscal).
//!
//! A CFDI is never stamped twice: when a PAC says the document already carries a stamp (Finkok 307,
//! SW 307/CFDI3307) the adapter recovers the existing stamp, checks that it belongs to the very same
//! sealed document (its `SelloCFD` equals our `Sello`) and returns it with `already_stamped = true`.

pub mod finkok;
pub mod sandbox;
pub mod sw;
mod wire;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use std::fmt;

/// A PAC, configured with one merchant's credentials.
#[async_trait]
pub trait Pac: Send + Sync {
    /// `finkok`, `sw` or `sandbox`.
    fn name(&self) -> &'static str;
    /// Stamps a sealed CFDI 4.0; on a retry of an already stamped document, recovers that stamp.
    async fn stamp(&self, sealed_xml: &str) -> Result<Stamp, PacError>;
    /// Asks SAT, through the PAC, to cancel a stamped CFDI.
    async fn cancel(&self, request: &CancelRequest) -> Result<CancelOutcome, PacError>;
}

/// A stamp as the PAC returned it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Stamp {
    /// The stamped CFDI: the sealed XML with `tfd:TimbreFiscalDigital` in `cfdi:Complemento`.
    pub xml: String,
    /// Folio fiscal, upper case.
    pub uuid: String,
    /// `FechaTimbrado` as written in the TFD (`AAAA-MM-DDThh:mm:ss`, hora del centro de México).
    pub fecha_timbrado: String,
    /// `SelloSAT` of the TFD.
    pub sello_sat: String,
    /// `NoCertificadoSAT` of the TFD.
    pub no_certificado_sat: String,
    /// RFC of the PAC that certified (`RfcProvCertif`).
    pub rfc_prov_certif: String,
    /// True when the PAC had stamped this document before and the stamp was recovered.
    pub already_stamped: bool,
}

/// Why a PAC call failed, sorted by what the caller should do about it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PacError {
    /// The CFDI or the request breaks SAT or PAC rules: permanent; show `code` and `message` to
    /// the merchant (e.g. Finkok `705`, SAT `CFDI40108`).
    #[error("rejected by the PAC ({code}): {message}")]
    Rejected { code: String, message: String },
    /// Network failure, timeout, 5xx, maintenance, SAT unreachable: retry with backoff.
    #[error("PAC unavailable: {0}")]
    Unavailable(String),
    /// The PAC credentials were refused: the merchant must fix them; not retried.
    #[error("PAC credentials refused: {0}")]
    Auth(String),
    /// The PAC account cannot stamp (suspended, RFC not registered, no credits): not retried.
    #[error("PAC account problem: {0}")]
    Account(String),
    /// Our request cannot be sent as is (bad UUID, missing cancellation certificate…): not retried.
    #[error("invalid PAC request: {0}")]
    InvalidRequest(String),
    /// The PAC answered something unreadable: retried (a stamp retry recovers through 307).
    #[error("unreadable PAC response: {0}")]
    Malformed(String),
}

impl PacError {
    /// Whether retrying the same call later may succeed.
    pub fn retryable(&self) -> bool {
        match self {
            PacError::Unavailable(_) | PacError::Malformed(_) => true,
            PacError::Rejected { .. }
            | PacError::Auth(_)
            | PacError::Account(_)
            | PacError::InvalidRequest(_) => false,
        }
    }
}

/// Why SAT is asked to cancel (c_MotivoCancelacion).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Motivo {
    /// 01: issued with errors, replaced by the CFDI `folio_sustitucion` (stamped first).
    ErroresConRelacion { folio_sustitucion: String },
    /// 02: issued with errors, no replacement.
    ErroresSinRelacion,
    /// 03: the operation did not happen.
    NoSeLlevoACabo,
    /// 04: a nominative operation that went into a global invoice.
    OperacionNominativaEnGlobal,
}

impl Motivo {
    /// The SAT key: `01`…`04`.
    pub fn code(&self) -> &'static str {
        match self {
            Motivo::ErroresConRelacion { .. } => "01",
            Motivo::ErroresSinRelacion => "02",
            Motivo::NoSeLlevoACabo => "03",
            Motivo::OperacionNominativaEnGlobal => "04",
        }
    }

    /// The replacing CFDI's UUID (motivo 01 only).
    pub fn folio_sustitucion(&self) -> Option<&str> {
        match self {
            Motivo::ErroresConRelacion { folio_sustitucion } => Some(folio_sustitucion),
            _ => None,
        }
    }
}

/// Why a cancellation request cannot be built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CancelRequestError {
    #[error("{0:?} is not a UUID (8-4-4-4-12 hexadecimal digits)")]
    Uuid(String),
    #[error("{0:?} is not an RFC")]
    Rfc(String),
    #[error("{0:?} is not a non-negative decimal amount")]
    Total(String),
    #[error("{0:?} is not a cancellation motive (01, 02, 03 or 04)")]
    Motivo(String),
    #[error("motive 01 needs the UUID of the replacing CFDI")]
    MissingSustitucion,
    #[error("only motive 01 carries a replacing CFDI")]
    UnexpectedSustitucion,
    #[error("a CFDI cannot replace itself")]
    SelfSustitucion,
}

/// A validated request to cancel one stamped CFDI.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CancelRequest {
    uuid: String,
    rfc_emisor: String,
    rfc_receptor: String,
    total: String,
    motivo: Motivo,
}

impl CancelRequest {
    /// Validates and normalizes (UUIDs upper case, RFCs trimmed upper case) a request.
    /// `motivo` is the SAT key (`01`…`04`); `folio_sustitucion` is required with `01` and refused
    /// otherwise.
    pub fn new(
        uuid: &str,
        rfc_emisor: &str,
        rfc_receptor: &str,
        total: &str,
        motivo: &str,
        folio_sustitucion: Option<&str>,
    ) -> Result<Self, CancelRequestError> {
        let uuid = normalize_uuid(uuid).ok_or_else(|| CancelRequestError::Uuid(uuid.into()))?;
        let rfc_emisor =
            normalize_rfc(rfc_emisor).ok_or_else(|| CancelRequestError::Rfc(rfc_emisor.into()))?;
        let rfc_receptor = normalize_rfc(rfc_receptor)
            .ok_or_else(|| CancelRequestError::Rfc(rfc_receptor.into()))?;
        let total = total.trim();
        if !is_decimal_text(total) {
            return Err(CancelRequestError::Total(total.into()));
        }
        let folio = folio_sustitucion.map(str::trim).filter(|f| !f.is_empty());
        let motivo = match (motivo.trim(), folio) {
            ("01", Some(folio)) => {
                let folio = normalize_uuid(folio)
                    .ok_or_else(|| CancelRequestError::Uuid(folio.to_owned()))?;
                if folio == uuid {
                    return Err(CancelRequestError::SelfSustitucion);
                }
                Motivo::ErroresConRelacion {
                    folio_sustitucion: folio,
                }
            }
            ("01", None) => return Err(CancelRequestError::MissingSustitucion),
            ("02" | "03" | "04", Some(_)) => return Err(CancelRequestError::UnexpectedSustitucion),
            ("02", None) => Motivo::ErroresSinRelacion,
            ("03", None) => Motivo::NoSeLlevoACabo,
            ("04", None) => Motivo::OperacionNominativaEnGlobal,
            (other, _) => return Err(CancelRequestError::Motivo(other.to_owned())),
        };
        Ok(Self {
            uuid,
            rfc_emisor,
            rfc_receptor,
            total: total.to_owned(),
            motivo,
        })
    }

    /// Folio fiscal of the CFDI to cancel, upper case.
    pub fn uuid(&self) -> &str {
        &self.uuid
    }

    /// RFC of the issuer (who asks).
    pub fn rfc_emisor(&self) -> &str {
        &self.rfc_emisor
    }

    /// RFC of the receiver.
    pub fn rfc_receptor(&self) -> &str {
        &self.rfc_receptor
    }

    /// `Total` of the CFDI, exact decimal text.
    pub fn total(&self) -> &str {
        &self.total
    }

    /// Why it is cancelled.
    pub fn motivo(&self) -> &Motivo {
        &self.motivo
    }
}

/// Where a cancellation stands after the PAC answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CancelStatus {
    /// Cancelled (without or with the receptor's acceptance, by expired term, or earlier).
    Accepted,
    /// SAT received the request (EstatusUUID 201) but did not report it cancelled yet: it may need
    /// the receptor's acceptance (3 business days). Confirm later with SAT's status service.
    InProcess,
    /// Refused: the receptor rejected it, or the CFDI is not cancelable (related CFDIs).
    Rejected,
}

/// The PAC's answer to a cancellation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CancelOutcome {
    /// What it means for the invoice.
    pub status: CancelStatus,
    /// The PAC's/SAT's code for the UUID (`201`, `202`, `no_cancelable`, …).
    pub code: String,
    /// The PAC's words (`EstatusCancelacion`, or the meaning of the code).
    pub message: String,
    /// SAT's acknowledgment XML (acuse), when the PAC returned it.
    pub acuse: Option<String>,
}

impl fmt::Display for CancelOutcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?} ({}): {}", self.status, self.code, self.message)
    }
}

/// Sorts SAT's per-UUID cancellation answer (`EstatusUUID`, optionally `EstatusCancelacion`) into
/// an outcome or an error. Codes from SAT's cancellation service as PACs relay them: 201 request
/// received, 202 previously cancelled, 203 UUID not issued by this RFC, 205 UUID unknown to SAT,
/// `no_cancelable` related CFDIs exist (phpcfdi/finkok docs, wiki.finkok.com "cancel").
pub(crate) fn cancel_outcome(
    code: &str,
    estatus_cancelacion: &str,
    acuse: Option<String>,
) -> Result<CancelOutcome, PacError> {
    let code = code.trim();
    let words = estatus_cancelacion.trim();
    let lower = words.to_lowercase();
    let status = match code {
        "201" | "202" => {
            if lower.contains("rechaz") {
                CancelStatus::Rejected
            } else if lower.contains("en proceso") {
                CancelStatus::InProcess
            } else if code == "202"
                || lower.contains("cancelado")
                || lower.contains("plazo vencido")
            {
                CancelStatus::Accepted
            } else {
                CancelStatus::InProcess
            }
        }
        "no_cancelable" => CancelStatus::Rejected,
        // SAT's repository can lag behind a fresh stamp: the UUID appears later.
        "205" => {
            return Err(PacError::Unavailable(format!(
                "SAT does not know the UUID yet (205){}",
                suffix(words)
            )))
        }
        "203" => {
            return Err(PacError::Rejected {
                code: code.into(),
                message: non_empty(words, "the UUID was not issued by this RFC"),
            })
        }
        "708" => {
            return Err(PacError::Unavailable(format!(
                "the PAC could not reach SAT (708){}",
                suffix(words)
            )))
        }
        "" => {
            return Err(PacError::Malformed(
                "the cancellation answer has no status for the UUID".into(),
            ))
        }
        other => {
            return Err(PacError::Rejected {
                code: other.into(),
                message: non_empty(words, "cancellation refused"),
            })
        }
    };
    let message = if words.is_empty() {
        match code {
            "201" => "Petición de cancelación realizada exitosamente".to_owned(),
            "202" => "Petición de cancelación realizada previamente".to_owned(),
            "no_cancelable" => "El UUID contiene CFDI relacionados".to_owned(),
            _ => String::new(),
        }
    } else {
        words.to_owned()
    };
    Ok(CancelOutcome {
        status,
        code: code.to_owned(),
        message,
        acuse,
    })
}

fn suffix(words: &str) -> String {
    if words.is_empty() {
        String::new()
    } else {
        format!(": {words}")
    }
}

fn non_empty(words: &str, fallback: &str) -> String {
    if words.is_empty() {
        fallback.to_owned()
    } else {
        words.to_owned()
    }
}

/// A UUID as SAT writes it (8-4-4-4-12 hex digits), upper case; `None` when malformed.
pub(crate) fn normalize_uuid(text: &str) -> Option<String> {
    let text = text.trim();
    let groups: Vec<&str> = text.split('-').collect();
    let lengths = [8, 4, 4, 4, 12];
    if groups.len() != lengths.len()
        || groups
            .iter()
            .zip(lengths)
            .any(|(g, n)| g.len() != n || !g.bytes().all(|b| b.is_ascii_hexdigit()))
    {
        return None;
    }
    Some(text.to_ascii_uppercase())
}

/// An RFC's shape (12 or 13 of `A-Z`, `Ñ`, `&`, digits), upper case; `None` otherwise. The full
/// check (date, homoclave) belongs to the RFC type; this only keeps junk out of URLs and SOAP.
pub(crate) fn normalize_rfc(text: &str) -> Option<String> {
    let rfc = text.trim().to_uppercase();
    let count = rfc.chars().count();
    let shape_ok = (12..=13).contains(&count)
        && rfc
            .chars()
            .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == 'Ñ' || c == '&');
    shape_ok.then_some(rfc)
}

/// Whether `text` is a non-negative decimal as SAT writes amounts (`[0-9]{1,18}(.[0-9]{1,6})?`).
pub(crate) fn is_decimal_text(text: &str) -> bool {
    let (int, frac) = match text.split_once('.') {
        Some((i, f)) => (i, Some(f)),
        None => (text, None),
    };
    let int_ok = !int.is_empty() && int.len() <= 18 && int.bytes().all(|b| b.is_ascii_digit());
    let frac_ok =
        frac.is_none_or(|f| !f.is_empty() && f.len() <= 6 && f.bytes().all(|b| b.is_ascii_digit()));
    int_ok && frac_ok
}

#[cfg(test)]
mod tests {
    use super::*;

    const UUID: &str = "7ed34e9c-9b8e-5bfc-96a3-576c5a04cdb8";
    const OTHER: &str = "4738AA21-ED8E-57D4-91D9-5D14F232FD1B";

    #[test]
    fn motive_01_needs_a_replacing_uuid_and_the_others_refuse_one() {
        assert_eq!(
            CancelRequest::new(UUID, "EKU9003173C9", "XAXX010101000", "116.00", "01", None),
            Err(CancelRequestError::MissingSustitucion)
        );
        assert_eq!(
            CancelRequest::new(
                UUID,
                "EKU9003173C9",
                "XAXX010101000",
                "116.00",
                "02",
                Some(OTHER)
            ),
            Err(CancelRequestError::UnexpectedSustitucion)
        );
        let request = CancelRequest::new(
            UUID,
            "eku9003173c9",
            "XAXX010101000",
            "116.00",
            "01",
            Some(OTHER),
        )
        .expect("valid request");
        assert_eq!(request.uuid(), UUID.to_uppercase());
        assert_eq!(request.rfc_emisor(), "EKU9003173C9");
        assert_eq!(request.motivo().code(), "01");
        assert_eq!(request.motivo().folio_sustitucion(), Some(OTHER));
    }

    #[test]
    fn malformed_uuids_rfcs_totals_and_motives_are_refused() {
        let bad_uuid = CancelRequest::new(
            "7ED34E9C9B8E",
            "EKU9003173C9",
            "XAXX010101000",
            "1",
            "02",
            None,
        );
        assert!(matches!(bad_uuid, Err(CancelRequestError::Uuid(_))));
        let bad_rfc = CancelRequest::new(UUID, "EKU/90031", "XAXX010101000", "1", "02", None);
        assert!(matches!(bad_rfc, Err(CancelRequestError::Rfc(_))));
        let bad_total =
            CancelRequest::new(UUID, "EKU9003173C9", "XAXX010101000", "1e3", "02", None);
        assert!(matches!(bad_total, Err(CancelRequestError::Total(_))));
        let bad_motive = CancelRequest::new(UUID, "EKU9003173C9", "XAXX010101000", "1", "05", None);
        assert!(matches!(bad_motive, Err(CancelRequestError::Motivo(_))));
        let itself =
            CancelRequest::new(UUID, "EKU9003173C9", "XAXX010101000", "1", "01", Some(UUID));
        assert_eq!(itself, Err(CancelRequestError::SelfSustitucion));
    }

    #[test]
    fn rfcs_with_enie_and_ampersand_are_accepted() {
        assert_eq!(
            normalize_rfc("ñ&a010101aaa").as_deref(),
            Some("Ñ&A010101AAA")
        );
        assert_eq!(normalize_rfc("AAA010101AA"), None);
    }

    #[test]
    fn only_transient_failures_are_retryable() {
        assert!(PacError::Unavailable("x".into()).retryable());
        assert!(PacError::Malformed("x".into()).retryable());
        assert!(!PacError::Auth("x".into()).retryable());
        assert!(!PacError::Account("x".into()).retryable());
        assert!(!PacError::InvalidRequest("x".into()).retryable());
        assert!(!PacError::Rejected {
            code: "705".into(),
            message: "x".into()
        }
        .retryable());
    }

    #[test]
    fn sat_cancellation_codes_map_to_outcomes() {
        let ok = cancel_outcome("201", "Cancelado sin aceptación", None).expect("outcome");
        assert_eq!(ok.status, CancelStatus::Accepted);
        let pending = cancel_outcome("201", "En proceso", None).expect("outcome");
        assert_eq!(pending.status, CancelStatus::InProcess);
        let received = cancel_outcome(
            "201",
            "Petición de cancelación realizada exitosamente",
            None,
        )
        .expect("outcome");
        assert_eq!(received.status, CancelStatus::InProcess);
        assert_eq!(
            cancel_outcome("202", "", None).map(|o| o.status),
            Ok(CancelStatus::Accepted)
        );
        let refused = cancel_outcome("201", "Solicitud rechazada", None).expect("outcome");
        assert_eq!(refused.status, CancelStatus::Rejected);
        assert_eq!(
            cancel_outcome("no_cancelable", "", None).map(|o| o.status),
            Ok(CancelStatus::Rejected)
        );
        assert!(matches!(
            cancel_outcome("205", "", None),
            Err(PacError::Unavailable(_))
        ));
        assert!(matches!(
            cancel_outcome("203", "", None),
            Err(PacError::Rejected { .. })
        ));
        assert!(matches!(
            cancel_outcome("", "", None),
            Err(PacError::Malformed(_))
        ));
    }
}
