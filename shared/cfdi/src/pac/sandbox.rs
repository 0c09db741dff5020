//! An offline PAC for development and demos: stamps are clearly non-fiscal.
//!
//! It inserts a `tfd:TimbreFiscalDigital` 1.1 that conforms to TimbreFiscalDigitalv11.xsd (the
//! schema bundled in satcfdi): a UUID v4 derived from the document's `Sello` (a retried job gets
//! the same UUID, never two), `FechaTimbrado` from the injected clock in Mexico City time,
//! `RfcProvCertif` [`RFC_PROV_CERTIF`] (SAT's generic test RFC, no real PAC), the [`LEYENDA`], the
//! comprobante's `Sello` as `SelloCFD`, `NoCertificadoSAT` all zeros (no SAT certificate has it)
//! and `SelloSAT` = base64(RSA PKCS#1 v1.5 SHA-256) of the TFD's cadena original with a key the
//! sandbox holds ([`SandboxPac::public_key_der`] verifies it).
//!
//! Within a process the same sealed XML always gets the same stamp back (`already_stamped` from
//! the second time on). Cancellation follows SAT's motive rules; a CFDI above $1,000 to a named
//! receptor waits for acceptance (`InProcess`), the rest is cancelled at once; a cancellation asked
//! again within the process (by any sandbox instance, as SAT keeps its state) is settled: the
//! sandbox's receptor accepts.

use super::{CancelOutcome, CancelRequest, CancelStatus, Pac, PacError, Stamp};
use crate::stamped::{Timbre, CFDI_NS, SANDBOX_NO_CERTIFICADO_SAT, TFD_NS};
use async_trait::async_trait;
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{KeyPair, RsaKeyPair, RSA_PKCS1_SHA256};
use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine;
use chrono::{Duration as ChronoDuration, NaiveDateTime};
use chrono_tz::America::Mexico_City;
use mostrador_core::Clock;
use roxmltree::{Document, Node};
use sha2::{Digest, Sha256};
use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};

/// `RfcProvCertif` of sandbox stamps: SAT's generic test RFC, which no PAC holds.
pub const RFC_PROV_CERTIF: &str = "AAA010101AAA";
/// `Leyenda` of sandbox stamps (the XSD's pattern allows no parentheses or periods).
pub const LEYENDA: &str = "Timbre de prueba sin validez fiscal - sandbox mostrador";
/// `NoCertificadoSAT` of sandbox stamps.
pub const NO_CERTIFICADO_SAT: &str = SANDBOX_NO_CERTIFICADO_SAT;

/// How old a CFDI's `Fecha` may be when stamped (RMF: 72 hours), plus slack for time zones.
const MAX_AGE_HOURS: i64 = 72;
/// How far ahead of Mexico City a `Fecha` may be (Quintana Roo is one hour ahead).
const MAX_AHEAD_HOURS: i64 = 2;

/// The sandbox's signing key (RSA-2048, PKCS#8 DER in base64). Public on purpose: it certifies
/// nothing, and anyone may verify sandbox stamps with it.
#[rustfmt::skip]
const SANDBOX_KEY_PKCS8: &str = concat!(
    "MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQDGZ5wg0++GTQ2a935twEcw79C3uViLLvTQv7L+y1udYYzX",
    "EVaNlaQYAdnLRp+M93f7OBhsae7Kt4pLMjtYT9vHfmtGTrvAzkw9hxf5ZkniTzxepTVJA7Nt38UvhhVzJcx1Fc9HTs2wInjB",
    "h1JL4HA1jilsPZi/HgYObJuNUdZk51NLMc7tnOHKtGG96XFsAM+C9YeQmqefauBiL3cUbEXAaFFm/haZ5SBSrxPEsx7c2jeZ",
    "q+AzZxnpfqxYPS6rS8uUzIUuEj8bhi1Ik9mYRP5+kknvb8yLmDGdbctAMLv0FvaOzrLFM9CibEFgA3j57w8VILvd77nz0FHv",
    "5u5EMd5ZAgMBAAECggEAA6j7p1this+3FYnFSk8GwS9bYVhI+uBV4df3fF3SBdg72efW+eutyEeYdfiKjvYtv3Osd6uInTK/",
    "mV2G3L00Z7y8S+K98fOcUnJAjfhGGqetjG1tyzgHQlqjb5oAoUwsNmi9lyor/zjTk3ZknUO5rjM+LmIAhF4QbImyYOwGkXvu",
    "o8tKGUN0+bwvF0HEgBUV1S3DIGdDe9z3lpuEdv8GuvTsCqb8SQ4yCsvaWt7spGKFhQMVgVFpUzsRtNpM/GIlyynKQpDdssNp",
    "dKEaU6avpKJDiRxb8SRpfrrlOZIb7dnKTfT55nQyC+2UoYyYMgOpTjM111ULh0b7/FuP3A75UQKBgQD1tcL4WlZ53zT+ZmCw",
    "Nps253Uf4s7FBoDc6d6WcCv7pj1S+OR6IGMFaLbxJhMddr3nFGPzV0xj9u3aeZIULlAe7RvQaBa0+lpvKiUsXni6gGFOB4Aq",
    "+B/jDgS1/G/yqw6BNEggkcr99W9qLyuUg+nJHphjz7SmjD21WQuu5PodnQKBgQDOtrEjHCgTZJUF3nImPiqJhIHSkz7i/nTS",
    "pZtlgkSVEEoe6s/v5MLg5cGvRudBR8vfH7oofJ/5W7g3vF03JAWWx4pKZuHcyeiSs85lEp9QNNdhQK36nVjVaWznbdHU8JU8",
    "cprty6JPyn/K4dCJEeU7Z7UDdFDqQfw3g67yYIYE7QKBgGHISOQPB3UOuAc59OaLhK+P4xOibkkIcoX36GYUE9zc5nC7rilP",
    "9Dg12QAU9+x00dRBUBmKN1Nc9IFKejDf0XDNSZFhqw+wxgaRTiPfIMqPxqmH4KC5B++TJ5rI8EAxhN80UDPt8UupvgIS7ZP3",
    "/zTToS+vfCP/kZs26ahbZZIdAoGAIWY5Vr/s5b1BqtIXRYCT5OZJB5oM9iZA/+wMIKmcpS0dnMM517vxlN7qnYRqRwzvrtx0",
    "eqgwPN0J9c90jD1Avez9tinLYp4o+tMcjQ4mOZJgHnGR6sVTnh/LndULq0k4A61MxRE654ODhGdaB1uh2yhVgfpgPIlu1BVt",
    "xfG8lb0CgYEAzROvfLEAF9ekSwEPsscY40d19qIyaX1LGEpPcQIfkD26juev9hxm9y35DfYMZCt48oVrYQZxuXiIPleW7pFC",
    "vM7avTrFIJFucJkYYxo8AHByTHWXGa0qDLba54uB+DmVNz/5mdbgsa0Tht7GjM3bCGKcblry+oN0Dg3sBPvzKZE="
);

/// The offline PAC.
pub struct SandboxPac {
    clock: Arc<dyn Clock>,
    key: Result<RsaKeyPair, String>,
    /// Stamps by UUID: a retry returns the stored stamp.
    stamps: Mutex<HashMap<String, Stamp>>,
}

/// UUIDs whose cancellation was asked, process-wide: SAT's state does not belong to one client.
fn cancelled() -> &'static Mutex<HashSet<String>> {
    static CANCELLED: std::sync::OnceLock<Mutex<HashSet<String>>> = std::sync::OnceLock::new();
    CANCELLED.get_or_init(|| Mutex::new(HashSet::new()))
}

impl std::fmt::Debug for SandboxPac {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SandboxPac").finish_non_exhaustive()
    }
}

impl SandboxPac {
    /// A sandbox reading the time from `clock`.
    pub fn new(clock: Arc<dyn Clock>) -> Self {
        let key = BASE64
            .decode(SANDBOX_KEY_PKCS8)
            .map_err(|e| format!("sandbox key is not base64: {e}"))
            .and_then(|der| {
                RsaKeyPair::from_pkcs8(&der).map_err(|e| format!("sandbox key unusable: {e}"))
            });
        Self {
            clock,
            key,
            stamps: Mutex::new(HashMap::new()),
        }
    }

    /// The public key that verifies `SelloSAT` (PKCS#1 RSAPublicKey, DER).
    pub fn public_key_der(&self) -> Option<Vec<u8>> {
        self.key
            .as_ref()
            .ok()
            .map(|key| key.public_key().as_ref().to_vec())
    }

    fn sign(&self, cadena: &str) -> Result<String, PacError> {
        let key = self
            .key
            .as_ref()
            .map_err(|e| PacError::InvalidRequest(e.clone()))?;
        let mut signature = vec![0; key.public_modulus_len()];
        key.sign(
            &RSA_PKCS1_SHA256,
            &SystemRandom::new(),
            cadena.as_bytes(),
            &mut signature,
        )
        .map_err(|_| PacError::InvalidRequest("the sandbox could not sign".into()))?;
        Ok(BASE64.encode(signature))
    }

    fn check_fecha(&self, fecha: &str) -> Result<(), PacError> {
        let fecha = NaiveDateTime::parse_from_str(fecha, "%Y-%m-%dT%H:%M:%S").map_err(|_| {
            PacError::Rejected {
                code: "301".into(),
                message: format!("Fecha {fecha:?} no tiene la forma AAAA-MM-DDThh:mm:ss"),
            }
        })?;
        let now = self.clock.now().with_timezone(&Mexico_City).naive_local();
        if fecha < now - ChronoDuration::hours(MAX_AGE_HOURS + MAX_AHEAD_HOURS)
            || fecha > now + ChronoDuration::hours(MAX_AHEAD_HOURS)
        {
            return Err(PacError::Rejected {
                code: "401".into(),
                message: "Fecha y hora de generación fuera de rango".into(),
            });
        }
        Ok(())
    }
}

#[async_trait]
impl Pac for SandboxPac {
    fn name(&self) -> &'static str {
        "sandbox"
    }

    async fn stamp(&self, sealed_xml: &str) -> Result<Stamp, PacError> {
        let doc = Document::parse(sealed_xml).map_err(|e| PacError::Rejected {
            code: "301".into(),
            message: format!("XML mal formado: {e}"),
        })?;
        let root = doc.root_element();
        if root.tag_name().namespace() != Some(CFDI_NS)
            || root.tag_name().name() != "Comprobante"
            || root.attribute("Version") != Some("4.0")
        {
            return Err(PacError::Rejected {
                code: "301".into(),
                message: "el documento no es un CFDI 4.0".into(),
            });
        }
        let sello = root
            .attribute("Sello")
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .ok_or_else(|| PacError::Rejected {
                code: "302".into(),
                message: "Sello mal formado o inválido".into(),
            })?;
        if has_tfd(root) {
            return Err(PacError::Rejected {
                code: "707".into(),
                message: "XML ya contiene un nodo TimbreFiscalDigital".into(),
            });
        }

        let uuid = uuid_for(sello);
        if let Some(previous) = lock(&self.stamps).get(&uuid) {
            return Ok(Stamp {
                already_stamped: true,
                ..previous.clone()
            });
        }
        self.check_fecha(root.attribute("Fecha").unwrap_or_default())?;

        let fecha_timbrado = self
            .clock
            .now()
            .with_timezone(&Mexico_City)
            .format("%Y-%m-%dT%H:%M:%S")
            .to_string();
        let mut timbre = Timbre {
            version: "1.1".into(),
            uuid: uuid.clone(),
            fecha_timbrado,
            rfc_prov_certif: RFC_PROV_CERTIF.into(),
            leyenda: Some(LEYENDA.into()),
            sello_cfd: sello.to_owned(),
            no_certificado_sat: NO_CERTIFICADO_SAT.into(),
            sello_sat: String::new(),
        };
        timbre.sello_sat = self.sign(&timbre.cadena_original())?;
        let xml = insert_tfd(sealed_xml, root, &tfd_element(&timbre))?;
        let stamp = Stamp {
            xml,
            uuid: uuid.clone(),
            fecha_timbrado: timbre.fecha_timbrado,
            sello_sat: timbre.sello_sat,
            no_certificado_sat: timbre.no_certificado_sat,
            rfc_prov_certif: timbre.rfc_prov_certif,
            already_stamped: false,
        };
        // Two racing first attempts: the first stored wins and both callers see it.
        let mut stamps = lock(&self.stamps);
        let stored = stamps.entry(uuid).or_insert(stamp.clone());
        if stored.fecha_timbrado != stamp.fecha_timbrado || stored.sello_sat != stamp.sello_sat {
            return Ok(Stamp {
                already_stamped: true,
                ..stored.clone()
            });
        }
        Ok(stamp)
    }

    async fn cancel(&self, request: &CancelRequest) -> Result<CancelOutcome, PacError> {
        if !lock(cancelled()).insert(request.uuid().to_owned()) {
            return Ok(CancelOutcome {
                status: CancelStatus::Accepted,
                code: "202".into(),
                message: "Petición de cancelación realizada previamente".into(),
                acuse: None,
            });
        }
        let generic_receptor = matches!(request.rfc_receptor(), "XAXX010101000" | "XEXX010101000");
        let (status, message) = if generic_receptor || !above_one_thousand(request.total()) {
            (CancelStatus::Accepted, "Cancelado sin aceptación")
        } else {
            (CancelStatus::InProcess, "En proceso")
        };
        Ok(CancelOutcome {
            status,
            code: "201".into(),
            message: format!("{message} (sandbox, motivo {})", request.motivo().code()),
            acuse: None,
        })
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// A UUID v4 from the SHA-256 of the `Sello`: the same sealed document always gets the same UUID.
fn uuid_for(sello: &str) -> String {
    let digest = Sha256::digest(sello.as_bytes());
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&digest[..16]);
    uuid::Builder::from_random_bytes(bytes)
        .into_uuid()
        .hyphenated()
        .to_string()
        .to_ascii_uppercase()
}

/// Whether an exact decimal text is above 1000.
fn above_one_thousand(total: &str) -> bool {
    let (int, frac) = total.split_once('.').unwrap_or((total, ""));
    let int = int.trim_start_matches('0');
    match int.len().cmp(&4) {
        std::cmp::Ordering::Greater => true,
        std::cmp::Ordering::Less => false,
        std::cmp::Ordering::Equal => {
            int > "1000" || (int == "1000" && frac.bytes().any(|b| b != b'0'))
        }
    }
}

fn has_tfd(root: Node<'_, '_>) -> bool {
    root.children()
        .filter(|n| n.is_element() && n.tag_name().name() == "Complemento")
        .flat_map(|c| c.children())
        .any(|n| {
            n.is_element()
                && n.tag_name().namespace() == Some(TFD_NS)
                && n.tag_name().name() == "TimbreFiscalDigital"
        })
}

/// The TFD element, attributes in the order of the XSD.
fn tfd_element(timbre: &Timbre) -> String {
    let attr = |name: &str, value: &str| format!(" {name}=\"{}\"", super::wire::escape_xml(value));
    let mut out = format!(
        "<tfd:TimbreFiscalDigital xmlns:tfd=\"{TFD_NS}\" \
         xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\" \
         xsi:schemaLocation=\"{TFD_NS} http://www.sat.gob.mx/sitio_internet/cfd/TimbreFiscalDigital/TimbreFiscalDigitalv11.xsd\""
    );
    out.push_str(&attr("Version", &timbre.version));
    out.push_str(&attr("UUID", &timbre.uuid));
    out.push_str(&attr("FechaTimbrado", &timbre.fecha_timbrado));
    out.push_str(&attr("RfcProvCertif", &timbre.rfc_prov_certif));
    if let Some(leyenda) = &timbre.leyenda {
        out.push_str(&attr("Leyenda", leyenda));
    }
    out.push_str(&attr("SelloCFD", &timbre.sello_cfd));
    out.push_str(&attr("NoCertificadoSAT", &timbre.no_certificado_sat));
    out.push_str(&attr("SelloSAT", &timbre.sello_sat));
    out.push_str("/>");
    out
}

/// Inserts the TFD as the last child of `cfdi:Complemento` (creating it before `cfdi:Addenda` or
/// the end of the comprobante, where cfdv40.xsd puts it), leaving every sealed byte untouched.
fn insert_tfd(xml: &str, root: Node<'_, '_>, tfd: &str) -> Result<String, PacError> {
    let cfdi_child = |name: &str| {
        root.children().find(|n| {
            n.is_element()
                && n.tag_name().namespace() == Some(CFDI_NS)
                && n.tag_name().name() == name
        })
    };
    let malformed = || PacError::Rejected {
        code: "301".into(),
        message: "XML mal formado".into(),
    };
    let mut out = String::with_capacity(xml.len() + tfd.len() + 64);
    if let Some(complemento) = cfdi_child("Complemento") {
        let range = complemento.range();
        let element = xml.get(range.clone()).ok_or_else(malformed)?;
        if element.ends_with("/>") {
            // `<cfdi:Complemento/>`: open it up.
            let qname = qualified_name(element);
            out.push_str(&xml[..range.start]);
            out.push_str(&format!("<{qname}>{tfd}</{qname}>"));
            out.push_str(&xml[range.end..]);
        } else {
            let end_tag = element.rfind("</").ok_or_else(malformed)? + range.start;
            out.push_str(&xml[..end_tag]);
            out.push_str(tfd);
            out.push_str(&xml[end_tag..]);
        }
        return Ok(out);
    }
    let root_range = root.range();
    let root_text = xml.get(root_range.clone()).ok_or_else(malformed)?;
    let qname = qualified_name(root_text);
    let prefix = qname
        .split_once(':')
        .map(|(p, _)| format!("{p}:"))
        .unwrap_or_default();
    let at = match cfdi_child("Addenda") {
        Some(addenda) => addenda.range().start,
        None => root_text.rfind("</").ok_or_else(malformed)? + root_range.start,
    };
    out.push_str(&xml[..at]);
    out.push_str(&format!("<{prefix}Complemento>{tfd}</{prefix}Complemento>"));
    out.push_str(&xml[at..]);
    Ok(out)
}

/// The qualified name of the element whose text starts at `<`.
fn qualified_name(element: &str) -> &str {
    let name = element.trim_start_matches('<');
    let end = name
        .find(|c: char| c.is_whitespace() || c == '/' || c == '>')
        .unwrap_or(name.len());
    &name[..end]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_embedded_key_is_usable() {
        let pac = SandboxPac::new(Arc::new(mostrador_core::SystemClock));
        assert!(pac.public_key_der().is_some());
        assert!(pac.sign("||1.1|x||").is_ok());
    }

    #[test]
    fn uuids_are_version_4_and_stable_per_sello() {
        let a = uuid_for("SELLO-A");
        assert_eq!(a, uuid_for("SELLO-A"));
        assert_ne!(a, uuid_for("SELLO-B"));
        let parsed = uuid::Uuid::parse_str(&a).expect("uuid");
        assert_eq!(parsed.get_version_num(), 4);
        assert_eq!(a, a.to_ascii_uppercase());
    }

    #[test]
    fn amounts_above_a_thousand_are_told_exactly() {
        assert!(!above_one_thousand("1000.00"));
        assert!(above_one_thousand("1000.01"));
        assert!(above_one_thousand("25000"));
        assert!(!above_one_thousand("999.99"));
        assert!(!above_one_thousand("0001000"));
    }

    #[test]
    fn the_leyenda_fits_the_tfd_schema_pattern() {
        // TimbreFiscalDigitalv11.xsd: 12 to 150 of letters, digits, space and a few signs.
        let allowed = |c: char| {
            c.is_ascii_alphanumeric() || " Ññ!\"%&'´-:;>=<@_,{}`~áéíóúÁÉÍÓÚüÜ".contains(c)
        };
        assert!((12..=150).contains(&LEYENDA.chars().count()));
        assert!(LEYENDA.chars().all(allowed));
    }
}
