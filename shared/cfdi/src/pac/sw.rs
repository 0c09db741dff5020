//! SW Sapien (REST, JSON): token from `/security/authenticate`, stamping on `/cfdi33/stamp/v4`,
//! cancellation by UUID on `/cfdi33/cancel/{rfc}/{uuid}/{motivo}[/{folioSustitucion}]`.
//!
//! Wire format, from SW's developer docs (developers.sw.com.mx: "Generate access token", "Stamp",
//! "Cancellation of CFDI", "Error codes", "Timbrado CustomID") and its SDKs (lunasoft/sw-sdk-go,
//! sw-sdk-dotnet, satcfdi's `pacs/swsapien.py`):
//! - `POST /security/authenticate` with headers `user` and `password` →
//!   `{"data": {"token", "expires_in" (Unix seconds), "tokeny_type"}, "status": "success"}`;
//! - `POST /cfdi33/stamp/v4`, `Authorization: Bearer {token}`, multipart form with the sealed XML
//!   as file part `xml` → `{"status": "success", "data": {"cfdi", "uuid", "fechaTimbrado",
//!   "selloSAT", "noCertificadoSAT", "cadenaOriginalSAT", "selloCFDI", "noCertificadoCFDI",
//!   "qrCode"}}`;
//! - errors: `{"status": "error", "message": "CODE - words" | "307. words", "messageDetail",
//!   "data"}`; `AU…` codes are authentication, `CO1000` is SW's uncontrolled error; `307. El
//!   comprobante contiene un timbre previo.` carries the previous CFDI in `data.cfdi`, and
//!   `CFDI3307` (duplicate stamp) may too;
//! - cancel by UUID (the issuer's CSD must be loaded in the SW account) →
//!   `{"status": "success", "data": {"acuse", "uuid": {"<UUID>": "<EstatusUUID>"}}}`.
//!
//! The token is cached until shortly before `expires_in` and renewed once when SW answers 401.

use super::wire::{self, StampCheck};
use super::{cancel_outcome, CancelOutcome, CancelRequest, Pac, PacError, Stamp};
use async_trait::async_trait;
use chrono::{DateTime, Duration as ChronoDuration, Utc};
use mostrador_core::{Clock, SystemClock};
use serde::Deserialize;
use serde_json::Value;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// SW's production services host.
pub const DEFAULT_BASE_URL: &str = "https://services.sw.com.mx";
/// SW's test services host.
pub const TEST_BASE_URL: &str = "https://services.test.sw.com.mx";
/// Path of the token service.
pub const AUTH_PATH: &str = "/security/authenticate";
/// Path of the stamping service (response version 4: the CFDI and every TFD field).
pub const STAMP_PATH: &str = "/cfdi33/stamp/v4";

/// A token is renewed this long before SW says it expires.
const TOKEN_MARGIN_SECS: i64 = 120;
/// SW's temporary tokens last two hours when `expires_in` is missing.
const DEFAULT_TOKEN_LIFETIME_SECS: i64 = 2 * 60 * 60;

/// How the adapter authenticates with SW.
#[derive(Clone)]
pub enum SwCredentials {
    /// An account's user (e-mail) and password: tokens are requested and cached.
    User { user: String, password: String },
    /// A long-lived ("infinito") token from SW's portal: used as is.
    Token(String),
}

/// The SW Sapien adapter, configured with one account.
#[derive(Clone)]
pub struct Sw {
    http: reqwest::Client,
    base_url: String,
    credentials: SwCredentials,
    clock: Arc<dyn Clock>,
    timeout: Duration,
    token: Arc<Mutex<Option<CachedToken>>>,
}

#[derive(Clone)]
struct CachedToken {
    token: String,
    renew_at: DateTime<Utc>,
}

impl std::fmt::Debug for Sw {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the password or the token.
        let auth = match &self.credentials {
            SwCredentials::User { user, .. } => format!("user {user}"),
            SwCredentials::Token(_) => "token".to_owned(),
        };
        f.debug_struct("Sw")
            .field("base_url", &self.base_url)
            .field("auth", &auth)
            .finish_non_exhaustive()
    }
}

impl Sw {
    /// An adapter for an SW account on the production host.
    pub fn new(http: reqwest::Client, credentials: SwCredentials) -> Self {
        Self {
            http,
            base_url: DEFAULT_BASE_URL.to_owned(),
            credentials,
            clock: Arc::new(SystemClock),
            timeout: wire::DEFAULT_TIMEOUT,
            token: Arc::new(Mutex::new(None)),
        }
    }

    /// Talks to another host ([`TEST_BASE_URL`], tests, proxies).
    pub fn with_base_url(mut self, base_url: impl Into<String>) -> Self {
        self.base_url = base_url.into().trim_end_matches('/').to_owned();
        self
    }

    /// The clock that decides when a cached token is due for renewal.
    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// How long one call may take.
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// A valid token: the cached one, or a new one from `/security/authenticate`.
    async fn token(&self) -> Result<String, PacError> {
        let (user, password) = match &self.credentials {
            SwCredentials::Token(token) => return Ok(token.clone()),
            SwCredentials::User { user, password } => (user, password),
        };
        let now = self.clock.now();
        if let Some(cached) = self.cached() {
            if now < cached.renew_at {
                return Ok(cached.token);
            }
        }
        let request = self
            .http
            .post(format!("{}{AUTH_PATH}", self.base_url))
            .header("user", user)
            .header("password", password);
        let (status, body) = wire::send(request, self.timeout, "SW authenticate").await?;
        let envelope = parse_envelope(&body);
        let token = envelope
            .as_ref()
            .filter(|e| status.is_success() && e.status == "success")
            .and_then(|e| e.data.as_ref())
            .and_then(|d| d.get("token"))
            .and_then(Value::as_str)
            .filter(|t| !t.is_empty())
            .map(str::to_owned);
        let Some(token) = token else {
            return Err(match envelope {
                _ if status.is_server_error() => PacError::Unavailable(format!(
                    "SW authenticate ({status}): {}",
                    wire::excerpt(&body, 200)
                )),
                Some(e) if e.status == "error" || !status.is_success() => {
                    PacError::Auth(format!("SW authenticate ({status}): {}", e.words()))
                }
                _ => PacError::Malformed(format!(
                    "SW authenticate ({status}) returned no token: {}",
                    wire::excerpt(&body, 200)
                )),
            });
        };
        let expires_at = envelope
            .as_ref()
            .and_then(|e| e.data.as_ref())
            .and_then(|d| d.get("expires_in"))
            .and_then(Value::as_i64)
            .map(|n| {
                // SW documents `expires_in` as a Unix time; a small number is read as seconds.
                if n > 1_000_000_000 {
                    DateTime::from_timestamp(n, 0).unwrap_or(now)
                } else {
                    now + ChronoDuration::seconds(n)
                }
            })
            .unwrap_or(now + ChronoDuration::seconds(DEFAULT_TOKEN_LIFETIME_SECS));
        let renew_at = expires_at - ChronoDuration::seconds(TOKEN_MARGIN_SECS);
        self.store(Some(CachedToken {
            token: token.clone(),
            renew_at,
        }));
        Ok(token)
    }

    fn cached(&self) -> Option<CachedToken> {
        self.token
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clone()
    }

    fn store(&self, token: Option<CachedToken>) {
        *self
            .token
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner()) = token;
    }

    /// Sends an authenticated request built by `build`, renewing the token once on a 401.
    async fn authorized<F>(
        &self,
        what: &str,
        build: F,
    ) -> Result<(reqwest::StatusCode, Vec<u8>), PacError>
    where
        F: Fn(&str) -> Result<reqwest::RequestBuilder, PacError>,
    {
        let token = self.token().await?;
        let (status, body) = wire::send(build(&token)?, self.timeout, what).await?;
        if status != reqwest::StatusCode::UNAUTHORIZED {
            return Ok((status, body));
        }
        if let SwCredentials::Token(_) = self.credentials {
            return Err(PacError::Auth(format!(
                "{what}: SW refused the configured token ({})",
                error_words(&body)
            )));
        }
        tracing::info!("sw token refused; authenticating again");
        self.store(None);
        let token = self.token().await?;
        let (status, body) = wire::send(build(&token)?, self.timeout, what).await?;
        if status == reqwest::StatusCode::UNAUTHORIZED {
            return Err(PacError::Auth(format!(
                "{what}: SW refused a fresh token ({})",
                error_words(&body)
            )));
        }
        Ok((status, body))
    }
}

#[async_trait]
impl Pac for Sw {
    fn name(&self) -> &'static str {
        "sw"
    }

    async fn stamp(&self, sealed_xml: &str) -> Result<Stamp, PacError> {
        let our_sello = wire::sello_of_sealed(sealed_xml)?;
        let url = format!("{}{STAMP_PATH}", self.base_url);
        let (status, body) = self
            .authorized("SW stamp", |token| {
                let part = reqwest::multipart::Part::bytes(sealed_xml.as_bytes().to_vec())
                    .file_name("cfdi.xml")
                    .mime_str("application/xml")
                    .map_err(|e| PacError::InvalidRequest(format!("SW stamp form: {e}")))?;
                let form = reqwest::multipart::Form::new().part("xml", part);
                Ok(self.http.post(&url).bearer_auth(token).multipart(form))
            })
            .await?;
        let Some(envelope) = parse_envelope(&body) else {
            return Err(unreadable("SW stamp", status, &body));
        };
        let cfdi = envelope.data_str("cfdi");
        let uuid = envelope.data_str("uuid");
        if status.is_success() && envelope.status == "success" {
            let cfdi = cfdi.ok_or_else(|| {
                PacError::Malformed("SW stamp succeeded without data.cfdi".into())
            })?;
            return checked(&our_sello, cfdi, uuid.as_deref(), false, "200");
        }
        let code = envelope.code();
        match code.as_str() {
            "307" | "CFDI3307" => match cfdi {
                Some(cfdi) => {
                    tracing::info!(code = %code, "sw previous stamp: recovered from the answer");
                    checked(&our_sello, cfdi, uuid.as_deref(), true, &code)
                }
                None if code == "307" => Err(PacError::Unavailable(format!(
                    "SW reports a previous stamp but did not return it: {}",
                    envelope.words()
                ))),
                None => Err(PacError::Rejected {
                    code,
                    message: envelope.words(),
                }),
            },
            _ => Err(classify(status, &envelope)),
        }
    }

    async fn cancel(&self, request: &CancelRequest) -> Result<CancelOutcome, PacError> {
        let mut url = format!(
            "{}/cfdi33/cancel/{}/{}/{}",
            self.base_url,
            path_segment(request.rfc_emisor()),
            request.uuid(),
            request.motivo().code()
        );
        if let Some(folio) = request.motivo().folio_sustitucion() {
            url.push('/');
            url.push_str(folio);
        }
        let (status, body) = self
            .authorized("SW cancel", |token| {
                Ok(self.http.post(&url).bearer_auth(token))
            })
            .await?;
        let Some(envelope) = parse_envelope(&body) else {
            return Err(unreadable("SW cancel", status, &body));
        };
        if !(status.is_success() && envelope.status == "success") {
            return Err(classify(status, &envelope));
        }
        let data = envelope
            .data
            .as_ref()
            .ok_or_else(|| PacError::Malformed("SW cancel succeeded without data".into()))?;
        let code = data
            .get("uuid")
            .and_then(Value::as_object)
            .and_then(|map| {
                map.iter()
                    .find(|(uuid, _)| uuid.eq_ignore_ascii_case(request.uuid()))
                    .map(|(_, code)| match code {
                        Value::String(s) => s.clone(),
                        other => other.to_string(),
                    })
            })
            .unwrap_or_default();
        let acuse = data
            .get("acuse")
            .and_then(Value::as_str)
            .filter(|a| !a.is_empty())
            .map(str::to_owned);
        cancel_outcome(&code, "", acuse)
    }
}

/// SW's JSON envelope.
#[derive(Debug, Deserialize)]
struct Envelope {
    #[serde(default)]
    status: String,
    #[serde(default)]
    message: Option<String>,
    #[serde(default, rename = "messageDetail")]
    message_detail: Option<String>,
    #[serde(default)]
    data: Option<Value>,
}

impl Envelope {
    /// A string field of `data`.
    fn data_str(&self, key: &str) -> Option<String> {
        self.data
            .as_ref()?
            .get(key)?
            .as_str()
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
    }

    /// The code at the start of `message` (`CFDI40108 - …`, `307. …`, `AU2000 - …`).
    fn code(&self) -> String {
        message_code(self.message.as_deref().unwrap_or_default())
    }

    /// `message` and `messageDetail`, for people.
    fn words(&self) -> String {
        let message = self.message.as_deref().unwrap_or_default().trim();
        match self.message_detail.as_deref().map(str::trim) {
            Some(detail) if !detail.is_empty() && detail != message => {
                format!("{message} ({detail})")
            }
            _ => message.to_owned(),
        }
    }
}

fn parse_envelope(body: &[u8]) -> Option<Envelope> {
    serde_json::from_slice::<Envelope>(body).ok()
}

/// The leading code of an SW message: letters and digits up to ` - `, `.` or `:`.
fn message_code(message: &str) -> String {
    let message = message.trim();
    let code: String = message
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric())
        .collect();
    let rest = message[code.len()..].trim_start();
    let delimited =
        rest.is_empty() || rest.starts_with('-') || rest.starts_with('.') || rest.starts_with(':');
    if !code.is_empty() && code.bytes().any(|b| b.is_ascii_digit()) && delimited {
        code
    } else {
        "SW".to_owned()
    }
}

/// Sorts an SW error answer into the port's errors.
fn classify(status: reqwest::StatusCode, envelope: &Envelope) -> PacError {
    let code = envelope.code();
    let words = envelope.words();
    if status.is_server_error()
        || status == reqwest::StatusCode::TOO_MANY_REQUESTS
        || status == reqwest::StatusCode::REQUEST_TIMEOUT
        || code == "CO1000"
    {
        return PacError::Unavailable(format!("SW ({status}): {words}"));
    }
    if code.starts_with("AU") || status == reqwest::StatusCode::UNAUTHORIZED {
        return PacError::Auth(format!("SW: {words}"));
    }
    PacError::Rejected {
        code,
        message: words,
    }
}

/// An answer that is not SW's JSON envelope.
fn unreadable(what: &str, status: reqwest::StatusCode, body: &[u8]) -> PacError {
    let message = format!("{what} ({status}): {}", wire::excerpt(body, 200));
    if status.is_server_error() {
        PacError::Unavailable(message)
    } else {
        PacError::Malformed(message)
    }
}

/// The words of an error body, JSON or not.
fn error_words(body: &[u8]) -> String {
    parse_envelope(body)
        .map(|e| e.words())
        .filter(|w| !w.is_empty())
        .unwrap_or_else(|| wire::excerpt(body, 120))
}

/// Our stamp from SW's CFDI, or the reason it is not ours.
fn checked(
    our_sello: &str,
    cfdi: String,
    reported_uuid: Option<&str>,
    previous: bool,
    code: &str,
) -> Result<Stamp, PacError> {
    wire::stamp_from_xml(our_sello, cfdi, reported_uuid, previous).map_err(|e| match e {
        StampCheck::Unreadable(why) => PacError::Malformed(format!("SW: {why}")),
        // A previous stamp of another document: never adopt it as ours.
        StampCheck::OtherDocument { uuid } => PacError::Rejected {
            code: code.to_owned(),
            message: format!(
                "SW returned the stamp {uuid} of another document (its SelloCFD is not our Sello)"
            ),
        },
    })
}

/// Percent-encodes a URL path segment (RFCs may carry `Ñ` and `&`).
fn path_segment(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'_' | b'.' | b'~') {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_read_from_the_start_of_sw_messages() {
        assert_eq!(
            message_code("307. El comprobante contiene un timbre previo."),
            "307"
        );
        assert_eq!(
            message_code("CFDI40108 - El TipoDeComprobante es E, I o N…"),
            "CFDI40108"
        );
        assert_eq!(
            message_code("AU2000 - El usuario y/o contraseña son inválidos"),
            "AU2000"
        );
        assert_eq!(message_code("Error desconocido"), "SW");
        assert_eq!(message_code(""), "SW");
    }

    #[test]
    fn rfc_path_segments_are_percent_encoded() {
        assert_eq!(path_segment("Ñ&A010101AAA"), "%C3%91%26A010101AAA");
        assert_eq!(path_segment("EKU9003173C9"), "EKU9003173C9");
    }
}
