//! WhatsApp Cloud API client: send typed messages, mark as read, upload and download media.
//!
//! One `CloudApi` serves every merchant: the phone number id and the merchant's access token are
//! passed per call and never stored or logged. Failures carry Meta's code and details and a
//! [`Disposition`] telling the caller whether to retry, give up, fall back to a template, or ask
//! the merchant to reconnect.
//!
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! use mostrador_whatsapp::client::{CloudApi, OutgoingMessage};
//! let api = CloudApi::new(CloudApi::http_client()?, CloudApi::DEFAULT_BASE_URL.into(), "v25.0".into());
//! let message = OutgoingMessage::text("5215512345678", "¡Gracias por tu compra!").callback_data("out-123");
//! let accepted = api.send("106540352242922", "merchant-token", &message).await?;
//! println!("{}", accepted.wamid);
//! # Ok(()) }
//! ```

mod error;
mod media;
mod message;
mod wire;

use std::time::Duration;

use bytes::Bytes;
use reqwest::header::{HeaderMap, RETRY_AFTER, USER_AGENT};
use serde::Deserialize;
use tracing::Instrument;

pub use error::{
    codes, pair_rate_limit_backoff, transient_backoff, AppError, Disposition, MediaError, SendError,
};
pub use media::{verify_sha256, DownloadedMedia, MediaInfo};
pub use message::{
    limits, BodyParameter, Content, Document, Image, Interactive, ListMessage, ListRow,
    ListSection, MediaSource, OutgoingMessage, ProductListMessage, ProductMessage, ProductSection,
    ReplyButton, ReplyButtons, Template, TemplateButton, TemplateHeader, Text, ValidationError,
};

use error::{parse_api_error, Failure};

/// Sent on every request; Meta's media CDN refuses some downloads without a User-Agent.
const CLIENT_USER_AGENT: &str = concat!("mostrador/", env!("CARGO_PKG_VERSION"));

/// Checks a media URL before it is downloaded; `Err` carries the reason.
pub type DownloadGuard = std::sync::Arc<dyn Fn(&reqwest::Url) -> Result<(), String> + Send + Sync>;

/// Client of the Graph API's WhatsApp endpoints.
#[derive(Clone)]
pub struct CloudApi {
    http: reqwest::Client,
    /// For media downloads: the URL comes in Meta's answer and the request carries the access token,
    /// so it may be a client limited to public addresses (see [`CloudApi::with_download_client`]).
    download_http: Option<reqwest::Client>,
    /// Refuses a media URL before any request (a literal address never reaches a DNS resolver).
    download_guard: Option<DownloadGuard>,
    base_url: String,
    version: String,
}

/// Meta accepted the message (not yet delivered: delivery arrives as a status webhook).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SendAccepted {
    /// The message id (`wamid.…`) that status webhooks will carry.
    pub wamid: String,
    /// The recipient's WhatsApp id as Meta resolved it (for Mexico it may differ from `to` by the
    /// mobile `1` after `52`).
    pub wa_id: Option<String>,
}

impl std::fmt::Debug for CloudApi {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CloudApi")
            .field("base_url", &self.base_url)
            .field("version", &self.version)
            .field("guarded_downloads", &self.download_guard.is_some())
            .finish()
    }
}

impl CloudApi {
    /// Meta's Graph API.
    pub const DEFAULT_BASE_URL: &'static str = "https://graph.facebook.com";
    /// The Graph API version this client was written against.
    pub const DEFAULT_VERSION: &'static str = "v25.0";
    /// Overall timeout of [`CloudApi::http_client`]; sends answer in well under a second normally.
    pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);
    /// Timeout for media uploads and downloads (up to 100 MB), overriding the client's.
    pub const MEDIA_TIMEOUT: Duration = Duration::from_secs(60);

    /// A client for `base_url` (e.g. `https://graph.facebook.com`, or a test server) and `version`
    /// (e.g. `v25.0`). `http` should have timeouts; see [`CloudApi::http_client`].
    pub fn new(http: reqwest::Client, base_url: String, version: String) -> Self {
        let base_url = base_url.trim_end_matches('/').to_owned();
        let version = version.trim_matches('/').to_owned();
        Self {
            http,
            download_http: None,
            download_guard: None,
            base_url,
            version,
        }
    }

    /// Downloads media with `client` (e.g. one that connects to public addresses only) after
    /// `guard` accepts the URL, instead of the API client: a media URL is not ours, and the download
    /// carries the access token.
    pub fn with_download_client(mut self, client: reqwest::Client, guard: DownloadGuard) -> Self {
        self.download_http = Some(client);
        self.download_guard = Some(guard);
        self
    }

    /// An HTTP client with the recommended timeouts (10 s per request, 5 s to connect); build it
    /// once at start-up and share it.
    pub fn http_client() -> Result<reqwest::Client, reqwest::Error> {
        reqwest::Client::builder()
            .timeout(Self::REQUEST_TIMEOUT)
            .connect_timeout(Duration::from_secs(5))
            .user_agent(CLIENT_USER_AGENT)
            .build()
    }

    /// Sends `message` from the merchant's number `phone_number_id`. The message is validated first;
    /// an invalid one fails with [`SendError::Invalid`] without any request.
    pub async fn send(
        &self,
        phone_number_id: &str,
        token: &str,
        message: &OutgoingMessage,
    ) -> Result<SendAccepted, SendError> {
        check_id("phone_number_id", phone_number_id)?;
        message.validate()?;
        let span = tracing::info_span!(
            "whatsapp_send",
            phone_number_id,
            kind = message.kind(),
            callback = message.biz_opaque_callback_data.as_deref(),
        );
        async {
            let request = self
                .http
                .post(self.url(&[phone_number_id, "messages"]))
                .json(message);
            let body = self
                .execute(request, token)
                .await
                .map_err(|f| report::<SendError>(f, "send"))?;
            let accepted = parse_accepted(&body).map_err(SendError::UnexpectedResponse)?;
            tracing::debug!(wamid = %accepted.wamid, "message accepted");
            Ok(accepted)
        }
        .instrument(span)
        .await
    }

    /// Marks the customer's message `message_id` (a wamid) as read: blue ticks on their phone.
    pub async fn mark_read(
        &self,
        phone_number_id: &str,
        token: &str,
        message_id: &str,
    ) -> Result<(), SendError> {
        check_id("phone_number_id", phone_number_id)?;
        if message_id.trim().is_empty() {
            return Err(ValidationError::Missing {
                field: "message_id",
            }
            .into());
        }
        let span = tracing::info_span!("whatsapp_mark_read", phone_number_id, wamid = message_id);
        async {
            let request = self
                .http
                .post(self.url(&[phone_number_id, "messages"]))
                .json(&wire::MarkRead::new(message_id));
            let body = self
                .execute(request, token)
                .await
                .map_err(|f| report::<SendError>(f, "mark_read"))?;
            #[derive(Deserialize)]
            struct Answer {
                success: bool,
            }
            match serde_json::from_slice::<Answer>(&body) {
                Ok(Answer { success: true }) => Ok(()),
                Ok(Answer { success: false }) => {
                    Err(SendError::UnexpectedResponse("success: false".to_owned()))
                }
                Err(e) => Err(SendError::UnexpectedResponse(e.to_string())),
            }
        }
        .instrument(span)
        .await
    }

    /// `{base}/{version}/{segments…}`; ids in segments must have passed [`check_id`].
    fn url(&self, segments: &[&str]) -> String {
        let mut url = format!("{}/{}", self.base_url, self.version);
        for segment in segments {
            url.push('/');
            url.push_str(segment);
        }
        url
    }

    /// Sends with the bearer token; a success body, or the failure classified.
    async fn execute(
        &self,
        request: reqwest::RequestBuilder,
        token: &str,
    ) -> Result<Bytes, Failure> {
        // bearer_auth marks the header sensitive, so it never shows in Debug output.
        let response = request
            .bearer_auth(token)
            .header(USER_AGENT, CLIENT_USER_AGENT)
            .send()
            .await?;
        let status = response.status();
        let retry_after = retry_after(response.headers());
        let body = response.bytes().await?;
        if status.is_success() {
            return Ok(body);
        }
        Err(match parse_api_error(status.as_u16(), retry_after, &body) {
            Some(api) => Failure::Api(Box::new(api.scrub(token))),
            None => Failure::Status {
                status: status.as_u16(),
                retry_after,
            },
        })
    }
}

/// Logs a failure once, at the level it deserves, and turns it into the caller's error type.
fn report<E: From<Failure>>(failure: Failure, operation: &'static str) -> E {
    match &failure {
        Failure::Api(api) if api.disposition() == Disposition::TokenInvalid => tracing::error!(
            operation,
            code = api.code,
            subcode = api.subcode,
            fbtrace_id = api.fbtrace_id.as_deref(),
            message = %api.message,
            "WhatsApp access token rejected: the merchant must reconnect WhatsApp"
        ),
        Failure::Api(api) => tracing::warn!(
            operation,
            status = api.status,
            code = api.code,
            fbtrace_id = api.fbtrace_id.as_deref(),
            message = %api.message,
            details = api.details.as_deref(),
            "Cloud API refused the request"
        ),
        Failure::Status { status, .. } => {
            tracing::warn!(
                operation,
                status,
                "Cloud API error status without an error object"
            )
        }
        Failure::Transport(e) => {
            tracing::warn!(operation, timeout = e.is_timeout(), error = %e, "Cloud API unreachable")
        }
    }
    E::from(failure)
}

fn parse_accepted(body: &[u8]) -> Result<SendAccepted, String> {
    #[derive(Deserialize)]
    struct Answer {
        #[serde(default)]
        contacts: Vec<Contact>,
        #[serde(default)]
        messages: Vec<Accepted>,
    }
    #[derive(Deserialize)]
    struct Contact {
        #[serde(default)]
        wa_id: Option<String>,
    }
    #[derive(Deserialize)]
    struct Accepted {
        id: String,
    }
    let answer: Answer = serde_json::from_slice(body).map_err(|e| e.to_string())?;
    let wamid = answer
        .messages
        .into_iter()
        .next()
        .map(|m| m.id)
        .ok_or("no message id in the answer")?;
    Ok(SendAccepted {
        wamid,
        wa_id: answer.contacts.into_iter().next().and_then(|c| c.wa_id),
    })
}

/// `Retry-After` in seconds (the form Meta uses); an HTTP date is ignored.
fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let value = headers.get(RETRY_AFTER)?.to_str().ok()?;
    value.trim().parse::<u64>().ok().map(Duration::from_secs)
}

/// Graph ids (phone number ids, media ids) are digits; refusing anything but `[A-Za-z0-9_-]` keeps
/// an id from changing the request path (`..`, `/`, `?`).
fn check_id(field: &'static str, id: &str) -> Result<(), ValidationError> {
    if id.is_empty() {
        Err(ValidationError::Missing { field })
    } else if id
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
    {
        Ok(())
    } else {
        Err(ValidationError::Malformed { field })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn url_joins_base_version_and_segments() {
        let api = CloudApi::new(
            reqwest::Client::new(),
            "http://graph.test/".into(),
            "/v25.0/".into(),
        );
        assert_eq!(
            api.url(&["123", "messages"]),
            "http://graph.test/v25.0/123/messages"
        );
    }

    #[test]
    fn ids_that_could_change_the_path_are_refused() {
        assert_eq!(check_id("phone_number_id", "106540352242922"), Ok(()));
        for bad in ["..", "1/../me", "1?fields=x", "1 2"] {
            assert_eq!(
                check_id("phone_number_id", bad),
                Err(ValidationError::Malformed {
                    field: "phone_number_id"
                })
            );
        }
        assert_eq!(
            check_id("phone_number_id", ""),
            Err(ValidationError::Missing {
                field: "phone_number_id"
            })
        );
    }
}
