//! Pieces every PAC adapter needs the same way: sending with a deadline, escaping XML text and
//! checking that a stamp returned by a PAC belongs to the document we sent.

use super::{PacError, Stamp};
use crate::stamped::{comprobante_sello, Timbre};
use std::time::Duration;

/// How long one PAC call may take by default: SAT validations make stamping slower than a
/// payment call, and a job that times out is retried (never stamped twice, see the module docs).
pub(crate) const DEFAULT_TIMEOUT: Duration = Duration::from_secs(40);

/// Sends a request and reads the whole body; network failures and timeouts are `Unavailable`.
pub(crate) async fn send(
    request: reqwest::RequestBuilder,
    timeout: Duration,
    what: &str,
) -> Result<(reqwest::StatusCode, Vec<u8>), PacError> {
    let response = request
        .timeout(timeout)
        .send()
        .await
        .map_err(|e| PacError::Unavailable(format!("{what}: {}", e.without_url())))?;
    let status = response.status();
    let body = response
        .bytes()
        .await
        .map_err(|e| PacError::Unavailable(format!("{what}: {}", e.without_url())))?;
    Ok((status, body.to_vec()))
}

/// Text as XML character data or attribute value.
pub(crate) fn escape_xml(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c => out.push(c),
        }
    }
    out
}

/// The `Sello` of the sealed CFDI we are about to send; a document without one is not sent.
pub(crate) fn sello_of_sealed(sealed_xml: &str) -> Result<String, PacError> {
    let sello = comprobante_sello(sealed_xml)
        .map_err(|e| PacError::InvalidRequest(format!("the sealed CFDI cannot be read: {e}")))?;
    if sello.trim().is_empty() {
        return Err(PacError::InvalidRequest(
            "the CFDI is not sealed (empty Sello)".into(),
        ));
    }
    Ok(sello)
}

/// Why a stamped XML returned by a PAC cannot be taken as our stamp.
#[derive(Debug)]
pub(crate) enum StampCheck {
    /// No readable TFD, or the UUID the PAC reported differs from the TFD's.
    Unreadable(String),
    /// A valid stamp, but of another document (its `SelloCFD` is not our `Sello`).
    OtherDocument { uuid: String },
}

/// Builds the port's stamp from the stamped XML a PAC returned, after checking its TFD belongs to
/// the document whose `Sello` is `our_sello`.
pub(crate) fn stamp_from_xml(
    our_sello: &str,
    stamped_xml: String,
    reported_uuid: Option<&str>,
    already_stamped: bool,
) -> Result<Stamp, StampCheck> {
    let timbre = Timbre::from_stamped_xml(&stamped_xml).map_err(|e| {
        StampCheck::Unreadable(format!("the stamped CFDI has no readable TFD: {e}"))
    })?;
    if let Some(reported) = reported_uuid.map(str::trim).filter(|u| !u.is_empty()) {
        if !reported.eq_ignore_ascii_case(&timbre.uuid) {
            return Err(StampCheck::Unreadable(format!(
                "the PAC reported UUID {reported} but the TFD says {}",
                timbre.uuid
            )));
        }
    }
    if timbre.sello_cfd.trim() != our_sello.trim() {
        return Err(StampCheck::OtherDocument { uuid: timbre.uuid });
    }
    Ok(Stamp {
        uuid: timbre.uuid.to_ascii_uppercase(),
        fecha_timbrado: timbre.fecha_timbrado,
        sello_sat: timbre.sello_sat,
        no_certificado_sat: timbre.no_certificado_sat,
        rfc_prov_certif: timbre.rfc_prov_certif,
        already_stamped,
        xml: stamped_xml,
    })
}

/// The first `max` characters of a body, for error messages (never whole documents in logs).
pub(crate) fn excerpt(body: &[u8], max: usize) -> String {
    let text = String::from_utf8_lossy(body);
    let mut out: String = text.chars().take(max).collect();
    if text.chars().count() > max {
        out.push('…');
    }
    out
}
