//! Cloud API failures, classified into what the caller should do next.

use std::time::Duration;

use serde::{Deserialize, Deserializer};

use super::message::ValidationError;

/// What the caller should do with a failed request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Disposition {
    /// Transient: try again, after `after` when Meta said so (`Retry-After`).
    Retry {
        /// Meta's `Retry-After`, when sent.
        after: Option<Duration>,
    },
    /// Retrying the same request cannot succeed: record the error and give up.
    Permanent,
    /// The 24 h customer-service window is closed (131047): send an approved template instead.
    OutsideWindow,
    /// The merchant's access token is expired or revoked (190): the merchant must reconnect;
    /// retry once a new token is configured.
    TokenInvalid,
}

/// Meta's error object (`{error:{message, type, code, error_subcode, error_data:{details}, fbtrace_id}}`)
/// plus the HTTP status and `Retry-After` that came with it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppError {
    /// HTTP status of the response.
    pub status: u16,
    /// Meta's error code (`131047`, `190`, …); what handling is built on.
    pub code: i64,
    /// `error_subcode`, when present (e.g. 463 expired / 460 password changed for code 190).
    pub subcode: Option<i64>,
    /// `type`, e.g. `OAuthException`.
    pub kind: Option<String>,
    /// `message`; carries the code's title, e.g. `(#131047) Re-engagement message`.
    pub message: String,
    /// `error_data.details`: the most specific explanation Meta gives.
    pub details: Option<String>,
    /// `error_user_title`, when present.
    pub user_title: Option<String>,
    /// `error_user_msg`, when present.
    pub user_message: Option<String>,
    /// `fbtrace_id`, what Meta support asks for.
    pub fbtrace_id: Option<String>,
    /// `Retry-After` header, when present.
    pub retry_after: Option<Duration>,
}

impl std::fmt::Display for AppError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "HTTP {} code {}", self.status, self.code)?;
        if let Some(subcode) = self.subcode {
            write!(f, "/{subcode}")?;
        }
        write!(f, ": {}", self.message)?;
        if let Some(details) = &self.details {
            write!(f, " ({details})")?;
        }
        Ok(())
    }
}

/// Meta error codes this client classifies (see Meta's "Error codes" page).
pub mod codes {
    /// API unknown; possibly temporary.
    pub const API_UNKNOWN: i64 = 1;
    /// API service: temporary downtime or overload.
    pub const API_SERVICE: i64 = 2;
    /// Application request limit reached.
    pub const APP_RATE_LIMIT: i64 = 4;
    /// Invalid parameter.
    pub const INVALID_PARAMETER: i64 = 100;
    /// Access token invalid or expired.
    pub const TOKEN_INVALID: i64 = 190;
    /// WhatsApp Business Account rate limit.
    pub const WABA_RATE_LIMIT: i64 = 80007;
    /// Cloud API throughput reached.
    pub const THROUGHPUT: i64 = 130429;
    /// Something went wrong; Meta says try again.
    pub const SOMETHING_WENT_WRONG: i64 = 131000;
    /// Message undeliverable.
    pub const UNDELIVERABLE: i64 = 131026;
    /// Re-engagement needed: the 24 h window is closed.
    pub const OUTSIDE_WINDOW: i64 = 131047;
    /// Spam rate limit hit.
    pub const SPAM_RATE_LIMIT: i64 = 131048;
    /// Held back to keep ecosystem engagement healthy (marketing templates).
    pub const ECOSYSTEM_ENGAGEMENT: i64 = 131049;
    /// Unsupported message type.
    pub const UNSUPPORTED_TYPE: i64 = 131051;
    /// (Business, consumer) pair rate limit; back off 4^n s.
    pub const PAIR_RATE_LIMIT: i64 = 131056;
    /// Business account in maintenance mode (e.g. throughput upgrade).
    pub const MAINTENANCE: i64 = 131057;
    /// Template parameter count mismatch.
    pub const TEMPLATE_PARAMS: i64 = 132000;
    /// Template missing in that language.
    pub const TEMPLATE_MISSING: i64 = 132001;
    /// Template paused for low quality.
    pub const TEMPLATE_PAUSED: i64 = 132015;
    /// Template disabled.
    pub const TEMPLATE_DISABLED: i64 = 132016;
    /// Server temporarily unavailable.
    pub const SERVER_UNAVAILABLE: i64 = 133004;
}

/// Codes Meta documents as transient.
const RETRY_CODES: &[i64] = &[
    codes::API_UNKNOWN,
    codes::API_SERVICE,
    codes::APP_RATE_LIMIT,
    codes::WABA_RATE_LIMIT,
    codes::THROUGHPUT,
    codes::SOMETHING_WENT_WRONG,
    codes::PAIR_RATE_LIMIT,
    codes::MAINTENANCE,
    codes::SERVER_UNAVAILABLE,
];

impl AppError {
    /// What to do about this error: by Meta's code first, then by HTTP status.
    pub fn disposition(&self) -> Disposition {
        match self.code {
            codes::OUTSIDE_WINDOW => Disposition::OutsideWindow,
            codes::TOKEN_INVALID => Disposition::TokenInvalid,
            code if RETRY_CODES.contains(&code) => Disposition::Retry {
                after: self.retry_after,
            },
            _ => status_disposition(self.status, self.retry_after),
        }
    }

    /// Removes `secret` from the texts Meta echoed back, in case it quoted the token.
    pub(super) fn scrub(mut self, secret: &str) -> Self {
        // Short strings would blank ordinary words; real tokens are long.
        if secret.len() >= 8 {
            let texts = [
                Some(&mut self.message),
                self.details.as_mut(),
                self.user_title.as_mut(),
                self.user_message.as_mut(),
            ];
            for text in texts.into_iter().flatten() {
                if text.contains(secret) {
                    *text = text.replace(secret, "[redacted]");
                }
            }
        }
        self
    }
}

/// Retry on 5xx, 429 and 408; anything else the server refused will be refused again.
fn status_disposition(status: u16, retry_after: Option<Duration>) -> Disposition {
    if status >= 500 || status == 429 || status == 408 {
        Disposition::Retry { after: retry_after }
    } else {
        Disposition::Permanent
    }
}

/// Why `CloudApi::send` or `CloudApi::mark_read` failed.
#[derive(Debug, thiserror::Error)]
pub enum SendError {
    /// The message breaks Meta's limits; nothing was sent.
    #[error("message refused before sending: {0}")]
    Invalid(#[from] ValidationError),
    /// Meta answered with an error object.
    #[error("Cloud API error: {0}")]
    Api(Box<AppError>),
    /// Meta (or a proxy in front of it) answered an error status without a readable error object.
    #[error("Cloud API answered HTTP {status} without an error object")]
    Status {
        /// HTTP status.
        status: u16,
        /// `Retry-After` header, when present.
        retry_after: Option<Duration>,
    },
    /// No answer: connection failure or timeout. The message may or may not have been accepted.
    #[error("could not reach the Cloud API{}: {source}", if *.timeout { " (timeout)" } else { "" })]
    Transport {
        /// The request timed out (rather than failing to connect, say).
        timeout: bool,
        /// The underlying error, without the URL.
        #[source]
        source: reqwest::Error,
    },
    /// A success status with a body we could not read. Meta probably accepted the message: do not
    /// resend blindly.
    #[error("unexpected Cloud API response: {0}")]
    UnexpectedResponse(String),
}

impl SendError {
    /// What the caller should do next.
    pub fn disposition(&self) -> Disposition {
        match self {
            Self::Invalid(_) | Self::UnexpectedResponse(_) => Disposition::Permanent,
            Self::Api(e) => e.disposition(),
            Self::Status {
                status,
                retry_after,
            } => status_disposition(*status, *retry_after),
            Self::Transport { source, .. } => transport_disposition(source),
        }
    }

    /// Meta's error object, when there was one.
    pub fn api_error(&self) -> Option<&AppError> {
        match self {
            Self::Api(e) => Some(e.as_ref()),
            _ => None,
        }
    }

    /// Meta's error code, when there was one.
    pub fn code(&self) -> Option<i64> {
        self.api_error().map(|e| e.code)
    }

    /// How long to wait before retry number `attempt` (0-based), or `None` when retrying is pointless.
    /// Meta's `Retry-After` wins; the pair rate limit backs off 4^attempt s; anything else 2^attempt s.
    pub fn retry_delay(&self, attempt: u32) -> Option<Duration> {
        match self.disposition() {
            Disposition::Retry { after: Some(after) } => Some(after),
            Disposition::Retry { after: None } if self.code() == Some(codes::PAIR_RATE_LIMIT) => {
                Some(pair_rate_limit_backoff(attempt))
            }
            Disposition::Retry { after: None } => Some(transient_backoff(attempt)),
            _ => None,
        }
    }
}

/// Why a media upload, lookup or download failed.
#[derive(Debug, thiserror::Error)]
pub enum MediaError {
    /// The request could not be built from the given values (e.g. a malformed MIME type).
    #[error("invalid media request: {0}")]
    Invalid(String),
    /// Meta answered with an error object.
    #[error("Cloud API error: {0}")]
    Api(Box<AppError>),
    /// An error status without a readable error object (an expired download URL, say).
    #[error("media request answered HTTP {status} without an error object")]
    Status {
        /// HTTP status.
        status: u16,
        /// `Retry-After` header, when present.
        retry_after: Option<Duration>,
    },
    /// No answer: connection failure or timeout.
    #[error("could not reach the media server{}: {source}", if *.timeout { " (timeout)" } else { "" })]
    Transport {
        /// The request timed out.
        timeout: bool,
        /// The underlying error, without the URL.
        #[source]
        source: reqwest::Error,
    },
    /// A success status with a body we could not read.
    #[error("unexpected media response: {0}")]
    UnexpectedResponse(String),
    /// The downloaded bytes do not hash to the sha256 Meta announced.
    #[error("media sha256 mismatch: expected {expected}, got {actual}")]
    ChecksumMismatch {
        /// What Meta announced.
        expected: String,
        /// Hex sha256 of what we received.
        actual: String,
    },
}

impl MediaError {
    /// What the caller should do next. A checksum mismatch is worth one more download.
    pub fn disposition(&self) -> Disposition {
        match self {
            Self::Invalid(_) | Self::UnexpectedResponse(_) => Disposition::Permanent,
            Self::Api(e) => e.disposition(),
            Self::Status {
                status,
                retry_after,
            } => status_disposition(*status, *retry_after),
            Self::Transport { source, .. } => transport_disposition(source),
            Self::ChecksumMismatch { .. } => Disposition::Retry { after: None },
        }
    }
}

fn transport_disposition(source: &reqwest::Error) -> Disposition {
    // A request that could not even be built (bad base URL) fails the same way every time.
    if source.is_builder() {
        Disposition::Permanent
    } else {
        Disposition::Retry { after: None }
    }
}

/// Backoff Meta asks for after the pair rate limit (131056): 4^attempt seconds (1, 4, 16, 64 …),
/// capped at 15 minutes, the longest a queue delay can be.
pub fn pair_rate_limit_backoff(attempt: u32) -> Duration {
    const CAP: Duration = Duration::from_secs(15 * 60);
    4u64.checked_pow(attempt)
        .map_or(CAP, |secs| Duration::from_secs(secs).min(CAP))
}

/// Default backoff for other transient failures: 2^attempt seconds, capped at 15 minutes.
pub fn transient_backoff(attempt: u32) -> Duration {
    const CAP: Duration = Duration::from_secs(15 * 60);
    2u64.checked_pow(attempt)
        .map_or(CAP, |secs| Duration::from_secs(secs).min(CAP))
}

/// A failure shared by every request, turned into `SendError` or `MediaError`.
#[derive(Debug)]
pub(super) enum Failure {
    Api(Box<AppError>),
    Status {
        status: u16,
        retry_after: Option<Duration>,
    },
    Transport(reqwest::Error),
}

impl From<Failure> for SendError {
    fn from(f: Failure) -> Self {
        match f {
            Failure::Api(e) => Self::Api(e),
            Failure::Status {
                status,
                retry_after,
            } => Self::Status {
                status,
                retry_after,
            },
            Failure::Transport(source) => Self::Transport {
                timeout: source.is_timeout(),
                source,
            },
        }
    }
}

impl From<Failure> for MediaError {
    fn from(f: Failure) -> Self {
        match f {
            Failure::Api(e) => Self::Api(e),
            Failure::Status {
                status,
                retry_after,
            } => Self::Status {
                status,
                retry_after,
            },
            Failure::Transport(source) => Self::Transport {
                timeout: source.is_timeout(),
                source,
            },
        }
    }
}

impl From<reqwest::Error> for Failure {
    fn from(e: reqwest::Error) -> Self {
        // Download URLs are signed; keep them out of errors and logs.
        Self::Transport(e.without_url())
    }
}

/// Reads Meta's error object from an error response body; `None` when it is not one.
pub(super) fn parse_api_error(
    status: u16,
    retry_after: Option<Duration>,
    body: &[u8],
) -> Option<AppError> {
    #[derive(Deserialize)]
    struct Envelope {
        error: Body,
    }
    #[derive(Deserialize)]
    struct Body {
        #[serde(default)]
        message: String,
        #[serde(default, rename = "type")]
        kind: Option<String>,
        #[serde(deserialize_with = "number_or_string")]
        code: i64,
        #[serde(default, deserialize_with = "opt_number_or_string")]
        error_subcode: Option<i64>,
        #[serde(default)]
        error_data: Option<ErrorData>,
        #[serde(default)]
        error_user_title: Option<String>,
        #[serde(default)]
        error_user_msg: Option<String>,
        #[serde(default)]
        fbtrace_id: Option<String>,
    }
    #[derive(Deserialize)]
    struct ErrorData {
        #[serde(default)]
        details: Option<String>,
    }
    let envelope: Envelope = serde_json::from_slice(body).ok()?;
    let e = envelope.error;
    Some(AppError {
        status,
        code: e.code,
        subcode: e.error_subcode,
        kind: e.kind,
        message: e.message,
        details: e.error_data.and_then(|d| d.details),
        user_title: e.error_user_title,
        user_message: e.error_user_msg,
        fbtrace_id: e.fbtrace_id,
        retry_after,
    })
}

/// Meta sends codes as numbers; some proxies (BSPs) re-encode them as strings.
#[derive(Deserialize)]
#[serde(untagged)]
enum NumberOrString {
    Number(i64),
    Text(String),
}

fn number_or_string<'de, D: Deserializer<'de>>(deserializer: D) -> Result<i64, D::Error> {
    match NumberOrString::deserialize(deserializer)? {
        NumberOrString::Number(n) => Ok(n),
        NumberOrString::Text(s) => s.trim().parse().map_err(serde::de::Error::custom),
    }
}

fn opt_number_or_string<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<i64>, D::Error> {
    match Option::<NumberOrString>::deserialize(deserializer)? {
        None => Ok(None),
        Some(NumberOrString::Number(n)) => Ok(Some(n)),
        Some(NumberOrString::Text(s)) => Ok(s.trim().parse().ok()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pair_backoff_is_four_to_the_attempt_and_capped() {
        assert_eq!(pair_rate_limit_backoff(0), Duration::from_secs(1));
        assert_eq!(pair_rate_limit_backoff(1), Duration::from_secs(4));
        assert_eq!(pair_rate_limit_backoff(3), Duration::from_secs(64));
        assert_eq!(pair_rate_limit_backoff(5), Duration::from_secs(900));
        assert_eq!(pair_rate_limit_backoff(u32::MAX), Duration::from_secs(900));
    }

    #[test]
    fn string_codes_from_proxies_are_read() {
        let body = br#"{"error":{"message":"(#131056) pair rate limit hit","type":"OAuthException","code":"131056"}}"#;
        let e = parse_api_error(400, None, body);
        assert_eq!(e.map(|e| e.code), Some(131056));
    }

    #[test]
    fn a_quoted_token_is_scrubbed() {
        let token = "EAAGtokenvalue123";
        let body =
            format!(r#"{{"error":{{"message":"Malformed access token {token}","code":190}}}}"#);
        let e = parse_api_error(401, None, body.as_bytes()).map(|e| e.scrub(token));
        let text = e.map(|e| e.to_string()).unwrap_or_default();
        assert!(
            text.contains("[redacted]") && !text.contains(token),
            "{text}"
        );
    }
}
