//! Signed events to the merchant's own systems (their "webhook"): an order was paid, a customer
//! answered a fraud alert with "no fui yo", a KYC document arrived...
//!
//! The merchant registers one HTTPS endpoint and receives a secret once. [`emit`] puts the event on
//! the outbound queue (FIFO per merchant, so events arrive in the order they happened); the
//! message-sender POSTs it with
//! `X-Mostrador-Signature: t={unix seconds},v1={hex HMAC-SHA256(secret, "{t}.{body}")}` and retries
//! any answer but a 2xx with growing delays (30 s, 2 min, 10 min, 1 h); after the fifth failure the
//! delivery waits in the outbound dead-letter queue, where an operator can replay it. Every attempt is
//! signed anew, so a receiver can refuse signatures older than five minutes. An event id is delivered
//! once it has been acknowledged; receivers should still treat the id as the idempotency key, since a
//! network failure after their 2xx makes us send it again.

use crate::platform::error::{AppError, FieldError};
use crate::platform::records::{QueueRecord, RecordError};
use crate::platform::tenant::{MerchantId, TenantTable};
use crate::platform::Deps;
use hmac::{Hmac, Mac};
use mostrador_queue::OutgoingMessage;
use mostrador_store::{Item, Key, Table, Update, Value};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::time::Duration;

/// Header carrying the signature.
pub const SIGNATURE_HEADER: &str = "x-mostrador-signature";
/// How old a signature a receiver should accept (what our docs tell merchants).
pub const TOLERANCE_SECS: i64 = 300;
/// Delay before the next attempt, by the number of attempts made so far.
const BACKOFF: [Duration; 4] = [
    Duration::from_secs(30),
    Duration::from_secs(120),
    Duration::from_secs(600),
    Duration::from_secs(3600),
];
/// How long one delivery attempt may take.
const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(10);

/// One event for the merchant's systems.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HookEvent {
    /// Unique and stable per occurrence (e.g. `order.paid:{order}`): the receiver's idempotency key.
    pub id: String,
    /// What happened, e.g. `order.paid`, `notification.reply`.
    pub kind: String,
    /// The event's details.
    pub data: serde_json::Value,
}

/// What travels on the outbound queue for one delivery.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct HookDelivery {
    pub merchant_id: String,
    /// Unix seconds when the event happened.
    pub created: i64,
    pub event: HookEvent,
}

/// The JSON body the merchant receives.
#[derive(Serialize)]
struct Payload<'a> {
    id: &'a str,
    #[serde(rename = "type")]
    kind: &'a str,
    created: i64,
    merchant_id: &'a str,
    data: &'a serde_json::Value,
}

/// The merchant's endpoint and its signing secret.
#[derive(Clone)]
pub struct Endpoint {
    pub url: String,
    pub secret: String,
}

impl std::fmt::Debug for Endpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Endpoint({} <secret redacted>)", self.url)
    }
}

fn settings_key() -> Key {
    crate::platform::schema::settings(crate::platform::schema::Settings::Webhook)
}

fn delivery_key(event_id: &str) -> Key {
    crate::platform::schema::hook_delivery(&digest(event_id))
}

fn context(merchant: &MerchantId) -> String {
    crate::platform::sealed::Sealing::Webhook.context(merchant)
}

fn digest(s: &str) -> String {
    hex::encode(Sha256::digest(s.as_bytes()))
}

/// `t={t},v1={hex HMAC-SHA256(secret, "{t}.{body}")}`.
pub fn signature(secret: &str, t: i64, body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes())
        .unwrap_or_else(|_| unreachable!("HMAC accepts keys of any length"));
    mac.update(t.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    format!("t={t},v1={}", hex::encode(mac.finalize().into_bytes()))
}

/// Checks a signature header the way a receiver should: a `v1` matching the body, made within
/// [`TOLERANCE_SECS`] of `now` (unix seconds).
pub fn verify(secret: &str, header: &str, body: &[u8], now: i64) -> bool {
    let mut t = None;
    let mut candidates = Vec::new();
    for part in header.split(',') {
        match part.trim().split_once('=') {
            Some(("t", v)) => t = v.parse::<i64>().ok(),
            Some(("v1", v)) => candidates.push(v),
            _ => {}
        }
    }
    let Some(t) = t else { return false };
    if (now - t).abs() > TOLERANCE_SECS {
        return false;
    }
    let expected = signature(secret, t, body);
    let Some((_, want)) = expected.split_once(",v1=") else {
        return false;
    };
    candidates
        .iter()
        .any(|c| subtle::ConstantTimeEq::ct_eq(c.as_bytes(), want.as_bytes()).into())
}

async fn validate_url(deps: &Deps, url: &str) -> Result<(), AppError> {
    let bad = |why: &str| AppError::Validation(vec![FieldError::new("url", why)]);
    if url.len() > 2048 {
        return Err(bad("at most 2048 characters"));
    }
    let parsed = reqwest::Url::parse(url).map_err(|_| bad("not a valid absolute URL"))?;
    let reach = deps.config.reach;
    crate::platform::urls::check_callable(&parsed, reach).map_err(|why| bad(&why))?;
    crate::platform::urls::check_resolution(&parsed, reach)
        .await
        .map_err(|why| bad(&why))
}

/// Registers (or replaces) the merchant's endpoint; the new secret is returned once.
pub async fn configure(
    deps: &Deps,
    merchant: &MerchantId,
    url: &str,
) -> Result<Endpoint, AppError> {
    validate_url(deps, url).await?;
    let secret = format!(
        "whsec_{}",
        hex::encode(rand::Rng::gen::<[u8; 24]>(&mut rand::thread_rng()))
    );
    let sealed = deps
        .keys
        .seal(secret.as_bytes(), &context(merchant))
        .await
        .map_err(|e| AppError::Internal(e.into()))?;
    let table = TenantTable::of(deps, merchant);
    table
        .put(
            Item::new(&settings_key())
                .with("url", url)
                .with("sealed", Value::B(sealed))
                .with("updated_at", deps.clock.now_secs()),
            None,
        )
        .await?;
    tracing::info!(merchant = %merchant, "webhook endpoint configured");
    Ok(Endpoint {
        url: url.to_owned(),
        secret,
    })
}

/// The merchant's endpoint URL (never the secret), if configured.
pub(crate) async fn configured_url(
    deps: &Deps,
    merchant: &MerchantId,
) -> Result<Option<String>, AppError> {
    let table = TenantTable::of(deps, merchant);
    Ok(table
        .get(&settings_key())
        .await?
        .and_then(|i| i.get_s("url").map(str::to_owned)))
}

/// Removes the endpoint: events from now on are not delivered.
pub async fn remove(deps: &Deps, merchant: &MerchantId) -> Result<(), AppError> {
    let table = TenantTable::of(deps, merchant);
    table.delete(&settings_key(), None).await?;
    Ok(())
}

async fn load(deps: &Deps, merchant: &MerchantId) -> Result<Option<Endpoint>, AppError> {
    let table = TenantTable::of(deps, merchant);
    let Some(item) = table.get(&settings_key()).await? else {
        return Ok(None);
    };
    let (Some(url), Some(Value::B(sealed))) = (item.get_s("url"), item.get("sealed")) else {
        return Ok(None);
    };
    let plain = deps
        .keys
        .open(sealed, &context(merchant))
        .await
        .map_err(|e| AppError::Internal(e.into()))?;
    let secret = String::from_utf8(plain).map_err(|e| AppError::Internal(e.into()))?;
    Ok(Some(Endpoint {
        url: url.to_owned(),
        secret,
    }))
}

/// Queues `event` for the merchant's endpoint; nothing happens when they configured none.
pub async fn emit(deps: &Deps, merchant: &MerchantId, event: HookEvent) -> Result<(), AppError> {
    if event.id.is_empty() || event.id.len() > 200 || event.kind.is_empty() {
        return Err(AppError::Internal(anyhow::anyhow!(
            "hook event needs an id of 1-200 characters and a kind"
        )));
    }
    if configured_url(deps, merchant).await?.is_none() {
        return Ok(());
    }
    let delivery = HookDelivery {
        merchant_id: merchant.to_string(),
        created: deps.clock.now_secs(),
        event,
    };
    let body = serde_json::to_string(&Envelope { hook: &delivery })
        .map_err(|e| AppError::Internal(e.into()))?;
    let dedup = format!("hook-{}", digest(&delivery.event.id));
    deps.queues
        .outbound
        .send(
            OutgoingMessage::new(body)
                .group(format!("hook:{merchant}"))
                .dedup(dedup),
        )
        .await
        .map_err(|e| AppError::Unavailable(e.to_string()))?;
    tracing::info!(merchant = %merchant, event = %delivery.event.kind, "hook event queued");
    Ok(())
}

#[derive(Serialize)]
struct Envelope<'a> {
    hook: &'a HookDelivery,
}

#[derive(Deserialize)]
struct OwnedEnvelope {
    hook: HookDelivery,
}

/// Whether an outbound-queue body is a hook delivery (rather than a WhatsApp message).
pub(crate) fn is_delivery(body: &str) -> bool {
    #[derive(Deserialize)]
    struct Probe {
        hook: Option<serde::de::IgnoredAny>,
    }
    serde_json::from_str::<Probe>(body).is_ok_and(|p| p.hook.is_some())
}

/// message-sender: one delivery attempt of a hook event.
pub async fn deliver(deps: &Deps, record: &QueueRecord) -> Result<(), RecordError> {
    let OwnedEnvelope { hook } =
        serde_json::from_str(&record.body).map_err(|e| RecordError::Malformed(e.to_string()))?;
    let merchant =
        MerchantId::try_from(hook.merchant_id.clone()).map_err(RecordError::Malformed)?;
    let span = tracing::info_span!("hook", merchant = %merchant, event = %hook.event.kind, attempt = record.receive_count);
    tracing::Instrument::instrument(deliver_in_span(deps, record, hook, merchant), span).await
}

async fn deliver_in_span(
    deps: &Deps,
    record: &QueueRecord,
    hook: HookDelivery,
    merchant: MerchantId,
) -> Result<(), RecordError> {
    let table = TenantTable::of(deps, &merchant);
    let key = delivery_key(&hook.event.id);
    if let Some(done) = table.get(&key).await.map_err(RecordError::retry)? {
        if done.get_s("status") == Some("delivered") {
            return Ok(());
        }
    }
    let Some(endpoint) = load(deps, &merchant)
        .await
        .map_err(|e| RecordError::retry(e.to_string()))?
    else {
        tracing::warn!("the merchant removed their endpoint; event not delivered");
        return Ok(());
    };
    let body = serde_json::to_vec(&Payload {
        id: &hook.event.id,
        kind: &hook.event.kind,
        created: hook.created,
        merchant_id: &hook.merchant_id,
        data: &hook.event.data,
    })
    .map_err(|e| RecordError::Malformed(e.to_string()))?;
    let now = deps.clock.now_secs();
    let result = deps
        .callable_http
        .post(&endpoint.url)
        .timeout(ATTEMPT_TIMEOUT)
        .header(reqwest::header::CONTENT_TYPE, "application/json")
        .header("x-mostrador-event", hook.event.kind.as_str())
        .header("x-mostrador-event-id", hook.event.id.as_str())
        .header(SIGNATURE_HEADER, signature(&endpoint.secret, now, &body))
        .body(body)
        .send()
        .await;
    let (status, failure) = match result {
        Ok(r) if r.status().is_success() => (Some(r.status().as_u16()), None),
        Ok(r) => (
            Some(r.status().as_u16()),
            Some(format!("answered {}", r.status())),
        ),
        Err(e) if e.is_timeout() => (None, Some("timed out".to_owned())),
        Err(_) => (None, Some("could not connect".to_owned())),
    };
    let mut update = Update::new()
        .set("event_id", hook.event.id.as_str())
        .set("kind", hook.event.kind.as_str())
        .set("attempts", i64::from(record.receive_count.max(1)))
        .set("last_attempt_at", now);
    if let Some(code) = status {
        update = update.set("last_status", i64::from(code));
    }
    match failure {
        None => {
            update = update.set("status", "delivered").set("delivered_at", now);
            table
                .update(&key, update, None)
                .await
                .map_err(RecordError::retry)?;
            tracing::info!("hook event delivered");
            Ok(())
        }
        Some(why) => {
            update = update
                .set("status", "retrying")
                .set("last_error", why.as_str());
            table
                .update(&key, update, None)
                .await
                .map_err(RecordError::retry)?;
            let attempt = record.receive_count.max(1) as usize;
            let delay = BACKOFF[(attempt - 1).min(BACKOFF.len() - 1)];
            tracing::warn!(error = %why, retry_in = ?delay, "hook delivery failed");
            Err(RecordError::RetryAfter(delay, format!("endpoint {why}")))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_signature_verifies_within_tolerance_only() {
        let body = br#"{"id":"e1"}"#;
        let header = signature("whsec_x", 1_700_000_000, body);
        assert!(verify("whsec_x", &header, body, 1_700_000_000 + 299));
        assert!(!verify("whsec_x", &header, body, 1_700_000_000 + 301));
        assert!(!verify("whsec_y", &header, body, 1_700_000_000));
        assert!(!verify(
            "whsec_x",
            &header,
            br#"{"id":"e2"}"#,
            1_700_000_000
        ));
        assert!(!verify("whsec_x", "v1=00", body, 1_700_000_000));
    }

    #[test]
    fn a_delivery_body_is_told_apart_from_a_message() {
        assert!(is_delivery(
            r#"{"hook":{"merchant_id":"m","created":1,"event":{"id":"a","kind":"k","data":{}}}}"#
        ));
        assert!(!is_delivery(r#"{"id":"x","merchant_id":"m"}"#));
        assert!(!is_delivery("not json"));
    }
}
