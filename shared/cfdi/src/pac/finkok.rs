//! Finkok (SOAP 1.1): `stamp`/`stamped` on `{host}/servicios/soap/stamp.wsdl`, `cancel` on
//! `{host}/servicios/soap/cancel.wsdl`.
//!
//! Wire format, as Finkok's service speaks it (captured requests/responses in
//! Christopher-MCT/ejemplo_timbradoCFDI `envolturas/`, the mocked real responses of
//! SAT-CFDI/python-satcfdi `tests/test_pac_finkok.py`, satcfdi's `pacs/finkok.py` and phpcfdi/finkok):
//! - request: `<stamp:stamp>` in namespace `http://facturacion.finkok.com/stamp` with `xml` (the
//!   sealed CFDI, base64), `username`, `password`;
//! - response: `stampResponse/stampResult` whose children are in `apps.services.soap.core.views`:
//!   `xml` (the stamped CFDI, XML-escaped text), `UUID`, `Fecha`, `CodEstatus`, `SatSeal`,
//!   `NoCertificadoSAT`, `Incidencias/Incidencia{IdIncidencia, CodigoError, MensajeIncidencia, …}`;
//! - 307 "El CFDI contiene un timbre previo": the xml may come back in the same answer or not
//!   (phpcfdi/finkok docs/issues/StampServiceDobleEstampado.md); then `stamped` (same arguments)
//!   returns it;
//! - `cancel`: `UUIDS/UUID@{UUID, Motivo, FolioSustitucion}`, `username`, `password`,
//!   `taxpayer_id`, `cer` and `key` (base64 of the PEM certificate and of the PEM private key
//!   encrypted with the Finkok password), `store_pending`; answered by `cancelResult` with
//!   `Folios/Folio{UUID, EstatusUUID, EstatusCancelacion}`, `Acuse`, `Fecha`, `RfcEmisor`, or only
//!   `CodEstatus` (e.g. "Invalid Username or Password") when the request as a whole failed.
//!
//! Error codes (Finkok's `Incidencia/CodigoError`, wiki.finkok.com "tipificación"): 300 invalid
//! user/password, 301-308 and 401-403 CFDI/CSD validations, 307 previous stamp, 501 authentication,
//! 702 RFC not registered in the account, 703 account suspended, 705 invalid XML structure,
//! 707 TFD already present, 708 SAT unreachable; SAT matrix codes (`CFDI40108`, …) pass through.

use super::wire::{self, StampCheck};
use super::{cancel_outcome, CancelOutcome, CancelRequest, Pac, PacError, Stamp};
use async_trait::async_trait;
use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine;
use roxmltree::{Document, Node};
use std::time::Duration;

/// Finkok's production host.
pub const DEFAULT_BASE_URL: &str = "https://facturacion.finkok.com";
/// Finkok's test host (stamps with SAT's test certificates, no fiscal value).
pub const DEMO_BASE_URL: &str = "https://demo-facturacion.finkok.com";
/// Path of the stamping service.
pub const STAMP_PATH: &str = "/servicios/soap/stamp.wsdl";
/// Path of the cancellation service.
pub const CANCEL_PATH: &str = "/servicios/soap/cancel.wsdl";

const SOAP_ENV_NS: &str = "http://schemas.xmlsoap.org/soap/envelope/";
const STAMP_NS: &str = "http://facturacion.finkok.com/stamp";
const CANCEL_NS: &str = "http://facturacion.finkok.com/cancel";
const APPS_NS: &str = "apps.services.soap.core.views";

/// The issuer's CSD as Finkok's `cancel` wants it (Finkok signs the SAT request with it).
#[derive(Clone)]
pub struct FinkokCancelCsd {
    /// The CSD certificate in PEM.
    pub certificate_pem: String,
    /// The CSD private key in PEM, encrypted with the Finkok account's password (DES3), as
    /// Finkok documents for `cancel`.
    pub encrypted_key_pem: String,
}

/// The Finkok adapter, configured with one account.
#[derive(Clone)]
pub struct Finkok {
    http: reqwest::Client,
    base_url: String,
    username: String,
    password: String,
    cancel_csd: Option<FinkokCancelCsd>,
    timeout: Duration,
}

impl std::fmt::Debug for Finkok {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the password or the key.
        f.debug_struct("Finkok")
            .field("base_url", &self.base_url)
            .field("username", &self.username)
            .field("cancel_csd", &self.cancel_csd.is_some())
            .finish_non_exhaustive()
    }
}

impl Finkok {
    /// An adapter for the Finkok account `username`/`password`, on the production host.
    pub fn new(
        http: reqwest::Client,
        username: impl Into<String>,
        password: impl Into<String>,
    ) -> Self {
        Self {
            http,
            base_url: DEFAULT_BASE_URL.to_owned(),
            username: username.into(),
            password: password.into(),
            cancel_csd: None,
            timeout: wire::DEFAULT_TIMEOUT,
        }
    }

    /// Talks to another host ([`DEMO_BASE_URL`], tests, proxies).
    pub fn with_base_url(mut self, base_url: impl Into<String>) -> Self {
        self.base_url = base_url.into().trim_end_matches('/').to_owned();
        self
    }

    /// The CSD used to cancel (Finkok's `cancel` needs it on every call).
    pub fn with_cancel_csd(mut self, csd: FinkokCancelCsd) -> Self {
        self.cancel_csd = Some(csd);
        self
    }

    /// How long one call may take.
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Calls `stamp` or `stamped` with the sealed CFDI.
    async fn call_stamp_op(&self, op: &str, sealed_xml: &str) -> Result<StampResult, PacError> {
        let envelope = format!(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\
             <soapenv:Envelope xmlns:soapenv=\"{SOAP_ENV_NS}\" xmlns:stamp=\"{STAMP_NS}\">\
             <soapenv:Header/><soapenv:Body><stamp:{op}>\
             <stamp:xml>{xml}</stamp:xml>\
             <stamp:username>{user}</stamp:username>\
             <stamp:password>{pass}</stamp:password>\
             </stamp:{op}></soapenv:Body></soapenv:Envelope>",
            xml = BASE64.encode(sealed_xml.as_bytes()),
            user = wire::escape_xml(&self.username),
            pass = wire::escape_xml(&self.password),
        );
        let body = self.post(STAMP_PATH, envelope, op).await?;
        parse_stamp_result(&body, op)
    }

    /// Posts a SOAP envelope and returns the body of a 2xx answer or of a SOAP fault.
    async fn post(&self, path: &str, envelope: String, op: &str) -> Result<Vec<u8>, PacError> {
        let request = self
            .http
            .post(format!("{}{path}", self.base_url))
            .header("content-type", "text/xml; charset=utf-8")
            .body(envelope);
        let (status, body) = wire::send(request, self.timeout, &format!("Finkok {op}")).await?;
        if status.is_success() {
            return Ok(body);
        }
        // A SOAP fault travels with a 500; read it for its words.
        let fault = fault_of(&body);
        let detail = fault.unwrap_or_else(|| wire::excerpt(&body, 200));
        let message = format!("Finkok {op} ({status}): {detail}");
        if status.is_server_error()
            || status == reqwest::StatusCode::TOO_MANY_REQUESTS
            || status == reqwest::StatusCode::REQUEST_TIMEOUT
        {
            Err(PacError::Unavailable(message))
        } else {
            // 404 and friends: a wrong host or path in our configuration.
            Err(PacError::InvalidRequest(message))
        }
    }

    /// Recovers the stamp of a document Finkok already stamped (after a 307).
    async fn recover(&self, sealed_xml: &str, our_sello: &str) -> Result<Stamp, PacError> {
        let result = self.call_stamp_op("stamped", sealed_xml).await?;
        if let Some(xml) = result.xml.clone() {
            return checked(our_sello, xml, result.uuid.as_deref(), true);
        }
        match result.incidencias.first() {
            // "603: El CFDI no contiene un timbre previo": Finkok has not made it retrievable yet.
            Some(i) if i.code == "603" => Err(PacError::Unavailable(format!(
                "Finkok reported a previous stamp but cannot return it yet (603: {})",
                i.message
            ))),
            Some(_) => Err(classify(&result.incidencias, &result.cod_estatus)),
            None => Err(PacError::Malformed(format!(
                "Finkok stamped returned no CFDI ({})",
                result.cod_estatus
            ))),
        }
    }
}

#[async_trait]
impl Pac for Finkok {
    fn name(&self) -> &'static str {
        "finkok"
    }

    async fn stamp(&self, sealed_xml: &str) -> Result<Stamp, PacError> {
        let our_sello = wire::sello_of_sealed(sealed_xml)?;
        let result = self.call_stamp_op("stamp", sealed_xml).await?;
        let previous = result.incidencias.iter().any(|i| i.code == "307");
        if let Some(xml) = result.xml.clone() {
            if !result.incidencias.is_empty() && !previous {
                tracing::warn!(
                    codes = %result.codes(),
                    "finkok stamped with incidences"
                );
            }
            return checked(&our_sello, xml, result.uuid.as_deref(), previous);
        }
        if previous {
            tracing::info!("finkok 307: recovering the previous stamp");
            return self.recover(sealed_xml, &our_sello).await;
        }
        Err(classify(&result.incidencias, &result.cod_estatus))
    }

    async fn cancel(&self, request: &CancelRequest) -> Result<CancelOutcome, PacError> {
        let csd = self.cancel_csd.as_ref().ok_or_else(|| {
            PacError::InvalidRequest(
                "Finkok cancellations need the issuer's CSD (certificate and encrypted key)".into(),
            )
        })?;
        let envelope = format!(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\
             <soapenv:Envelope xmlns:soapenv=\"{SOAP_ENV_NS}\" xmlns:can=\"{CANCEL_NS}\" xmlns:apps=\"{APPS_NS}\">\
             <soapenv:Header/><soapenv:Body><can:cancel>\
             <can:UUIDS><apps:UUID UUID=\"{uuid}\" Motivo=\"{motivo}\" FolioSustitucion=\"{folio}\"/></can:UUIDS>\
             <can:username>{user}</can:username>\
             <can:password>{pass}</can:password>\
             <can:taxpayer_id>{rfc}</can:taxpayer_id>\
             <can:cer>{cer}</can:cer>\
             <can:key>{key}</can:key>\
             <can:store_pending>false</can:store_pending>\
             </can:cancel></soapenv:Body></soapenv:Envelope>",
            uuid = request.uuid(),
            motivo = request.motivo().code(),
            folio = request.motivo().folio_sustitucion().unwrap_or(""),
            user = wire::escape_xml(&self.username),
            pass = wire::escape_xml(&self.password),
            rfc = wire::escape_xml(request.rfc_emisor()),
            cer = BASE64.encode(csd.certificate_pem.as_bytes()),
            key = BASE64.encode(csd.encrypted_key_pem.as_bytes()),
        );
        let body = self.post(CANCEL_PATH, envelope, "cancel").await?;
        let result = parse_cancel_result(&body)?;
        let folio = result
            .folios
            .iter()
            .find(|f| f.uuid.eq_ignore_ascii_case(request.uuid()));
        match folio {
            Some(folio) => cancel_outcome(
                &folio.estatus_uuid,
                &folio.estatus_cancelacion,
                result.acuse,
            ),
            None if !result.cod_estatus.is_empty() => Err(classify_text(&result.cod_estatus)),
            None => Err(PacError::Malformed(format!(
                "Finkok cancel answered without a status for {}",
                request.uuid()
            ))),
        }
    }
}

/// Our stamp from Finkok's stamped XML, or the reason it is not ours.
fn checked(
    our_sello: &str,
    xml: String,
    reported_uuid: Option<&str>,
    previous: bool,
) -> Result<Stamp, PacError> {
    wire::stamp_from_xml(our_sello, xml, reported_uuid, previous).map_err(|e| match e {
        StampCheck::Unreadable(why) => PacError::Malformed(format!("Finkok: {why}")),
        StampCheck::OtherDocument { uuid } => PacError::Malformed(format!(
            "Finkok returned the stamp {uuid} of another document (its SelloCFD is not our Sello)"
        )),
    })
}

/// One `Incidencia`.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Incidencia {
    code: String,
    message: String,
}

/// The parts of `stampResult`/`stampedResult` we read.
#[derive(Debug, Default)]
struct StampResult {
    xml: Option<String>,
    uuid: Option<String>,
    cod_estatus: String,
    incidencias: Vec<Incidencia>,
}

impl StampResult {
    fn codes(&self) -> String {
        self.incidencias
            .iter()
            .map(|i| i.code.as_str())
            .collect::<Vec<_>>()
            .join(",")
    }
}

/// One `Folio` of `cancelResult`.
#[derive(Debug, Default)]
struct Folio {
    uuid: String,
    estatus_uuid: String,
    estatus_cancelacion: String,
}

/// The parts of `cancelResult` we read.
#[derive(Debug, Default)]
struct CancelResult {
    folios: Vec<Folio>,
    acuse: Option<String>,
    cod_estatus: String,
}

/// Parses a SOAP answer and returns the `{op}Result` element, or the fault as an error.
fn result_element<'a, 'input>(
    doc: &'a Document<'input>,
    op: &str,
) -> Result<Node<'a, 'input>, PacError> {
    let wanted = format!("{op}Result");
    if let Some(result) = doc
        .descendants()
        .find(|n| n.is_element() && n.tag_name().name() == wanted)
    {
        return Ok(result);
    }
    match fault_in(doc) {
        Some(fault) => Err(PacError::Unavailable(format!("Finkok {op} fault: {fault}"))),
        None => Err(PacError::Malformed(format!(
            "Finkok {op} answered without {wanted}"
        ))),
    }
}

fn parse_soap(body: &[u8], op: &str) -> Result<String, PacError> {
    String::from_utf8(body.to_vec())
        .map_err(|_| PacError::Malformed(format!("Finkok {op} answered non-UTF-8 text")))
}

fn parse_stamp_result(body: &[u8], op: &str) -> Result<StampResult, PacError> {
    let text = parse_soap(body, op)?;
    let doc = Document::parse(&text)
        .map_err(|e| PacError::Malformed(format!("Finkok {op} answered invalid XML: {e}")))?;
    let result = result_element(&doc, op)?;
    let incidencias = child(result, "Incidencias")
        .map(|list| {
            list.children()
                .filter(|n| n.is_element() && n.tag_name().name() == "Incidencia")
                .map(|i| Incidencia {
                    code: child_text(i, "CodigoError").unwrap_or_default(),
                    message: child_text(i, "MensajeIncidencia").unwrap_or_default(),
                })
                .collect()
        })
        .unwrap_or_default();
    Ok(StampResult {
        xml: child_text(result, "xml"),
        uuid: child_text(result, "UUID"),
        cod_estatus: child_text(result, "CodEstatus").unwrap_or_default(),
        incidencias,
    })
}

fn parse_cancel_result(body: &[u8]) -> Result<CancelResult, PacError> {
    let text = parse_soap(body, "cancel")?;
    let doc = Document::parse(&text)
        .map_err(|e| PacError::Malformed(format!("Finkok cancel answered invalid XML: {e}")))?;
    let result = result_element(&doc, "cancel")?;
    let folios = child(result, "Folios")
        .map(|list| {
            list.children()
                .filter(|n| n.is_element() && n.tag_name().name() == "Folio")
                .map(|f| Folio {
                    uuid: child_text(f, "UUID").unwrap_or_default(),
                    estatus_uuid: child_text(f, "EstatusUUID").unwrap_or_default(),
                    estatus_cancelacion: child_text(f, "EstatusCancelacion").unwrap_or_default(),
                })
                .collect()
        })
        .unwrap_or_default();
    Ok(CancelResult {
        folios,
        acuse: child_text(result, "Acuse"),
        cod_estatus: child_text(result, "CodEstatus").unwrap_or_default(),
    })
}

fn child<'a, 'input>(node: Node<'a, 'input>, name: &str) -> Option<Node<'a, 'input>> {
    node.children()
        .find(|n| n.is_element() && n.tag_name().name() == name)
}

/// The text of a child element (entities and CDATA resolved), `None` when absent or blank.
fn child_text(node: Node<'_, '_>, name: &str) -> Option<String> {
    let element = child(node, name)?;
    let text: String = element
        .children()
        .filter(|n| n.is_text())
        .filter_map(|n| n.text())
        .collect();
    let text = text.trim();
    (!text.is_empty()).then(|| text.to_owned())
}

fn fault_in(doc: &Document<'_>) -> Option<String> {
    let fault = doc
        .descendants()
        .find(|n| n.is_element() && n.tag_name().name() == "Fault")?;
    let code = child_text(fault, "faultcode").unwrap_or_default();
    let words = child_text(fault, "faultstring").unwrap_or_default();
    let first_line = words.lines().next().unwrap_or_default();
    Some(format!("{code} {first_line}").trim().to_owned())
}

/// The fault of a non-2xx body, when it is a SOAP fault.
fn fault_of(body: &[u8]) -> Option<String> {
    let text = std::str::from_utf8(body).ok()?;
    let doc = Document::parse(text).ok()?;
    fault_in(&doc)
}

/// Sorts Finkok's incidences (the first one decides) into the port's errors.
fn classify(incidencias: &[Incidencia], cod_estatus: &str) -> PacError {
    let Some(first) = incidencias.first() else {
        if cod_estatus.is_empty() {
            return PacError::Malformed("Finkok answered neither a CFDI nor an incidence".into());
        }
        return classify_text(cod_estatus);
    };
    let message = incidencias
        .iter()
        .map(|i| format!("{}: {}", i.code, i.message))
        .collect::<Vec<_>>()
        .join("; ");
    match first.code.as_str() {
        "300" | "501" => PacError::Auth(format!("Finkok {message}")),
        "702" | "703" | "706" => PacError::Account(format!("Finkok {message}")),
        "708" => PacError::Unavailable(format!("Finkok {message}")),
        code => PacError::Rejected {
            code: code.to_owned(),
            message: first.message.clone(),
        },
    }
}

/// Sorts a bare `CodEstatus` (no incidences) into the port's errors.
fn classify_text(cod_estatus: &str) -> PacError {
    let lower = cod_estatus.to_lowercase();
    if lower.contains("invalid username or password") || lower.contains("usuario y contraseña") {
        PacError::Auth(format!("Finkok: {cod_estatus}"))
    } else if lower.contains("708") || lower.contains("conectar al sat") {
        PacError::Unavailable(format!("Finkok: {cod_estatus}"))
    } else {
        let code = cod_estatus
            .split(|c: char| !c.is_ascii_alphanumeric())
            .next()
            .filter(|c| !c.is_empty() && c.bytes().any(|b| b.is_ascii_digit()))
            .unwrap_or("CodEstatus");
        PacError::Rejected {
            code: code.to_owned(),
            message: cod_estatus.to_owned(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn auth_account_sat_and_validation_incidences_are_told_apart() {
        let incidence = |code: &str| {
            vec![Incidencia {
                code: code.into(),
                message: "m".into(),
            }]
        };
        assert!(matches!(classify(&incidence("300"), ""), PacError::Auth(_)));
        assert!(matches!(
            classify(&incidence("703"), ""),
            PacError::Account(_)
        ));
        assert!(matches!(
            classify(&incidence("708"), ""),
            PacError::Unavailable(_)
        ));
        assert_eq!(
            classify(&incidence("CFDI40108"), ""),
            PacError::Rejected {
                code: "CFDI40108".into(),
                message: "m".into()
            }
        );
        assert!(matches!(
            classify(&[], "Invalid Username or Password"),
            PacError::Auth(_)
        ));
        assert!(matches!(classify(&[], ""), PacError::Malformed(_)));
    }
}
