//! Stripe: Checkout Sessions for card, OXXO cash and SPEI (bank transfer through `customer_balance`),
//! callbacks verified with `Stripe-Signature`, and refunds.
//!
//! Amounts travel in integer centavos both ways, so no conversion happens here.

use crate::port::*;
use async_trait::async_trait;
use hmac::{Hmac, Mac};
use mostrador_core::clock::{Clock, SystemClock};
use mostrador_core::money::Centavos;
use serde_json::Value;
use sha2::Sha256;
use std::sync::Arc;
use std::time::Duration;

/// Stripe's API.
pub const DEFAULT_BASE_URL: &str = "https://api.stripe.com";
/// Largest distance accepted between a callback's `t` and now, either way (stripe libraries' default).
pub const TOLERANCE_SECS: u64 = 300;
/// Shortest Checkout Session Stripe accepts, from creation.
pub const MIN_SESSION_SECS: i64 = 30 * 60;
/// Longest Checkout Session Stripe accepts, from creation.
pub const MAX_SESSION_SECS: i64 = 24 * 60 * 60;
/// Keeps a clamped expiry inside Stripe's window despite clock skew and request latency.
const CLAMP_MARGIN_SECS: i64 = 60;
/// An OXXO voucher lives one day: the session that issues it never outlives 24 h either.
const OXXO_EXPIRES_AFTER_DAYS: &str = "1";
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

/// One merchant's Stripe account.
#[derive(Clone)]
pub struct Stripe {
    http: reqwest::Client,
    base_url: String,
    secret_key: String,
    webhook_secret: String,
    clock: Arc<dyn Clock>,
}

impl std::fmt::Debug for Stripe {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Keys stay out of logs.
        f.debug_struct("Stripe")
            .field("base_url", &self.base_url)
            .finish_non_exhaustive()
    }
}

impl Stripe {
    /// Stripe with a secret key (`sk_…`) and the endpoint's signing secret (`whsec_…`).
    pub fn new(
        http: reqwest::Client,
        secret_key: impl Into<String>,
        webhook_secret: impl Into<String>,
    ) -> Self {
        Self {
            http,
            base_url: DEFAULT_BASE_URL.to_owned(),
            secret_key: secret_key.into(),
            webhook_secret: webhook_secret.into(),
            clock: Arc::new(SystemClock),
        }
    }

    /// Talks to another base URL (a fake Stripe in tests).
    pub fn with_base_url(mut self, base_url: impl Into<String>) -> Self {
        self.base_url = base_url.into().trim_end_matches('/').to_owned();
        self
    }

    /// Reads "now" from `clock` when clamping a session's expiry.
    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// Whether any `v1` in `header` is the HMAC of `"{t}.{body}"`, compared in constant time.
    fn signature_matches(&self, header: &SignatureHeader, body: &[u8]) -> bool {
        let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(self.webhook_secret.as_bytes()) else {
            return false;
        };
        mac.update(header.t.to_string().as_bytes());
        mac.update(b".");
        mac.update(body);
        header.v1.iter().any(|candidate| {
            hex::decode(candidate).is_ok_and(|tag| mac.clone().verify_slice(&tag).is_ok())
        })
    }

    async fn post_form(
        &self,
        path: &str,
        form: &[(&str, String)],
        idempotency_key: &str,
    ) -> Result<Value, PaymentError> {
        let response = self
            .http
            .post(format!("{}{path}", self.base_url))
            .bearer_auth(&self.secret_key)
            .header("Idempotency-Key", idempotency_key)
            .timeout(REQUEST_TIMEOUT)
            .form(form)
            .send()
            .await
            .map_err(|e| PaymentError::Unavailable(format!("Stripe unreachable: {e}")))?;
        read_json(response).await
    }
}

#[async_trait]
impl PaymentProvider for Stripe {
    fn name(&self) -> &'static str {
        "stripe"
    }

    async fn create(&self, request: &PaymentRequest) -> Result<PaymentLink, PaymentError> {
        let now = self.clock.now_secs();
        let form = session_form(request, now)?;
        let session = self
            .post_form("/v1/checkout/sessions", &form, &request.idempotency_key)
            .await?;
        let (Some(id), Some(url)) = (str_at(&session, &["id"]), str_at(&session, &["url"])) else {
            return Err(PaymentError::Unavailable(
                "Stripe answered a Checkout Session without id or url".into(),
            ));
        };
        tracing::info!(order = %request.order_id, session = %id, "stripe checkout session created");
        Ok(PaymentLink {
            provider_ref: id.to_owned(),
            url: Some(url.to_owned()),
            cash_reference: None,
            barcode_url: None,
            clabe: None,
            expires_at: session["expires_at"]
                .as_i64()
                .unwrap_or_else(|| clamp_expiry(request.expires_at, now)),
        })
    }

    async fn verify(&self, callback: &Callback<'_>) -> Result<Verified, PaymentError> {
        let header = callback.header("stripe-signature").ok_or_else(|| {
            PaymentError::Unauthenticated("missing Stripe-Signature header".into())
        })?;
        let header = SignatureHeader::parse(header)?;
        if !self.signature_matches(&header, callback.body) {
            return Err(PaymentError::Unauthenticated(
                "no v1 signature matches the body".into(),
            ));
        }
        if callback.now.abs_diff(header.t) > TOLERANCE_SECS {
            return Err(PaymentError::Unauthenticated(format!(
                "signature timestamp {} is more than {TOLERANCE_SECS} s from now",
                header.t
            )));
        }
        let event: Value = serde_json::from_slice(callback.body)
            .map_err(|e| PaymentError::Malformed(format!("Stripe event is not JSON: {e}")))?;
        translate(&event)
    }

    async fn refund(
        &self,
        payment_ref: &str,
        amount: Option<Centavos>,
    ) -> Result<(), PaymentError> {
        let mut form = vec![("payment_intent", payment_ref.to_owned())];
        if let Some(amount) = amount {
            if amount.0 <= 0 {
                return Err(PaymentError::Refused(
                    "a refund amount must be positive".into(),
                ));
            }
            form.push(("amount", amount.0.to_string()));
        }
        // A retried call must not refund twice; the port carries no key, so the request names itself.
        let key = match amount {
            Some(a) => format!("refund:{payment_ref}:{}", a.0),
            None => format!("refund:{payment_ref}:full"),
        };
        self.post_form("/v1/refunds", &form, &key).await?;
        tracing::info!(payment = %payment_ref, "stripe refund requested");
        Ok(())
    }
}

/// The form of `POST /v1/checkout/sessions` for `request`, created at `now`.
fn session_form(
    request: &PaymentRequest,
    now: i64,
) -> Result<Vec<(&'static str, String)>, PaymentError> {
    if request.amount.0 <= 0 {
        return Err(PaymentError::Refused("the amount must be positive".into()));
    }
    let order = &request.order_id;
    let mut form = vec![
        ("mode", "payment".to_owned()),
        (
            "line_items[0][price_data][currency]",
            request.currency.to_ascii_lowercase(),
        ),
        (
            "line_items[0][price_data][unit_amount]",
            request.amount.0.to_string(),
        ),
        (
            "line_items[0][price_data][product_data][name]",
            request.description.clone(),
        ),
        ("line_items[0][quantity]", "1".to_owned()),
        ("client_reference_id", order.clone()),
        ("metadata[order_id]", order.clone()),
        // Copied onto the PaymentIntent so its own events (voucher issued, refunds) name the order.
        ("payment_intent_data[metadata][order_id]", order.clone()),
        (
            "expires_at",
            clamp_expiry(request.expires_at, now).to_string(),
        ),
    ];
    let mut offered = 0;
    for method in dedup(&request.methods) {
        match method {
            Method::Card => form.push(("payment_method_types[]", "card".to_owned())),
            Method::Cash => {
                form.push(("payment_method_types[]", "oxxo".to_owned()));
                form.push((
                    "payment_method_options[oxxo][expires_after_days]",
                    OXXO_EXPIRES_AFTER_DAYS.to_owned(),
                ));
            }
            Method::Spei => {
                form.push(("payment_method_types[]", "customer_balance".to_owned()));
                form.push((
                    "payment_method_options[customer_balance][funding_type]",
                    "bank_transfer".to_owned(),
                ));
                form.push((
                    "payment_method_options[customer_balance][bank_transfer][type]",
                    "mx_bank_transfer".to_owned(),
                ));
                // The CLABE Stripe issues belongs to a Customer; we keep none per buyer, so Checkout
                // creates one for the session (`customer_creation` only creates one when asked to).
                form.push(("customer_creation", "always".to_owned()));
            }
            Method::CoDi => continue,
        }
        offered += 1;
    }
    if offered == 0 {
        return Err(PaymentError::Refused(
            "none of the requested methods is offered through Stripe (card, cash, spei)".into(),
        ));
    }
    Ok(form)
}

/// `expires_at` moved inside the 30 min – 24 h window Stripe accepts for a session created at `now`.
fn clamp_expiry(expires_at: i64, now: i64) -> i64 {
    expires_at.clamp(
        now + MIN_SESSION_SECS + CLAMP_MARGIN_SECS,
        now + MAX_SESSION_SECS - CLAMP_MARGIN_SECS,
    )
}

fn dedup(methods: &[Method]) -> Vec<Method> {
    let mut seen = Vec::with_capacity(methods.len());
    for m in methods {
        if !seen.contains(m) {
            seen.push(*m);
        }
    }
    seen
}

/// `Stripe-Signature: t=<unix>,v1=<hex>[,v1=<hex>…]` (other schemes, such as `v0`, are ignored).
#[derive(Debug)]
struct SignatureHeader {
    t: i64,
    v1: Vec<String>,
}

impl SignatureHeader {
    fn parse(header: &str) -> Result<Self, PaymentError> {
        let garbled = || PaymentError::Unauthenticated("garbled Stripe-Signature header".into());
        let mut t = None;
        let mut v1 = Vec::new();
        for item in header.split(',') {
            let Some((key, value)) = item.split_once('=') else {
                continue;
            };
            match key.trim() {
                // Like stripe-python, the first `t` counts.
                "t" if t.is_none() => t = Some(value.trim().parse::<i64>().map_err(|_| garbled())?),
                "v1" => v1.push(value.trim().to_owned()),
                _ => {}
            }
        }
        match t {
            Some(t) if !v1.is_empty() => Ok(Self { t, v1 }),
            _ => Err(garbled()),
        }
    }
}

/// A verified Stripe event in our terms.
fn translate(event: &Value) -> Result<Verified, PaymentError> {
    let (Some(event_id), Some(kind)) = (str_at(event, &["id"]), str_at(event, &["type"])) else {
        return Err(PaymentError::Malformed(
            "Stripe event without id or type".into(),
        ));
    };
    let object = &event["data"]["object"];
    if !object.is_object() {
        return Err(PaymentError::Malformed(format!(
            "{kind} without data.object"
        )));
    }
    let ignored = |kind: &str| {
        Ok(Verified::Ignored {
            event_id: event_id.to_owned(),
            kind: kind.to_owned(),
        })
    };
    let event = match kind {
        "checkout.session.completed" => {
            let paid = str_at(object, &["payment_status"]) == Some("paid");
            from_session(
                object,
                if paid {
                    PaymentState::Paid
                } else {
                    PaymentState::Pending
                },
            )
        }
        "checkout.session.async_payment_succeeded" => from_session(object, PaymentState::Paid),
        "checkout.session.async_payment_failed" => from_session(object, PaymentState::Failed),
        "checkout.session.expired" => from_session(object, PaymentState::Expired),
        // Also sent for partial refunds; the order is refunded only once nothing is left.
        "charge.refunded" if object["refunded"].as_bool() == Some(true) => from_charge(object),
        "charge.refunded" => return ignored("charge.refunded (partial)"),
        "payment_intent.requires_action" | "payment_intent.partially_funded" => {
            from_intent(object, PaymentState::Pending)
        }
        other => return ignored(other),
    };
    Ok(Verified::Event(PaymentEvent {
        event_id: event_id.to_owned(),
        ..event
    }))
}

fn from_session(session: &Value, state: PaymentState) -> PaymentEvent {
    let order_id = str_at(session, &["client_reference_id"])
        .or_else(|| str_at(session, &["metadata", "order_id"]));
    PaymentEvent {
        event_id: String::new(),
        order_id: order_id.map(str::to_owned),
        state,
        amount: session["amount_total"].as_i64().map(Centavos),
        currency: currency(session),
        method: only_method(&session["payment_method_types"]),
        payment_ref: id_of(&session["payment_intent"]),
    }
}

fn from_charge(charge: &Value) -> PaymentEvent {
    PaymentEvent {
        event_id: String::new(),
        order_id: str_at(charge, &["metadata", "order_id"]).map(str::to_owned),
        state: PaymentState::Refunded,
        amount: charge["amount"].as_i64().map(Centavos),
        currency: currency(charge),
        method: str_at(charge, &["payment_method_details", "type"]).and_then(method_of),
        payment_ref: id_of(&charge["payment_intent"]),
    }
}

fn from_intent(intent: &Value, state: PaymentState) -> PaymentEvent {
    let method = match str_at(intent, &["next_action", "type"]) {
        Some("oxxo_display_details") => Some(Method::Cash),
        Some("display_bank_transfer_instructions") => Some(Method::Spei),
        _ => only_method(&intent["payment_method_types"]),
    };
    PaymentEvent {
        event_id: String::new(),
        order_id: str_at(intent, &["metadata", "order_id"]).map(str::to_owned),
        state,
        // Nothing is confirmed paid while the intent waits for the customer.
        amount: None,
        currency: currency(intent),
        method,
        payment_ref: str_at(intent, &["id"]).map(str::to_owned),
    }
}

fn currency(object: &Value) -> Option<String> {
    str_at(object, &["currency"]).map(str::to_ascii_uppercase)
}

/// The method when the object allowed exactly one.
fn only_method(types: &Value) -> Option<Method> {
    match types.as_array().map(Vec::as_slice) {
        Some([only]) => only.as_str().and_then(method_of),
        _ => None,
    }
}

fn method_of(stripe_type: &str) -> Option<Method> {
    match stripe_type {
        "card" => Some(Method::Card),
        "oxxo" => Some(Method::Cash),
        "customer_balance" => Some(Method::Spei),
        _ => None,
    }
}

/// An expandable field: the id string, or the expanded object's id.
fn id_of(field: &Value) -> Option<String> {
    field
        .as_str()
        .or_else(|| str_at(field, &["id"]))
        .map(str::to_owned)
}

fn str_at<'a>(value: &'a Value, path: &[&str]) -> Option<&'a str> {
    path.iter()
        .try_fold(value, |v, key| v.get(key))
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
}

/// A successful answer's JSON, or the error it stands for: Stripe's `error.message` on a 4xx (not
/// retried as is), Unavailable on 429, 5xx or an unreadable answer (retry later).
async fn read_json(response: reqwest::Response) -> Result<Value, PaymentError> {
    let status = response.status();
    let body = response
        .bytes()
        .await
        .map_err(|e| PaymentError::Unavailable(format!("Stripe answer cut short: {e}")))?;
    if status.is_success() {
        return serde_json::from_slice(&body)
            .map_err(|e| PaymentError::Unavailable(format!("Stripe answered non-JSON: {e}")));
    }
    let message = serde_json::from_slice::<Value>(&body)
        .ok()
        .and_then(|v| str_at(&v, &["error", "message"]).map(str::to_owned))
        .unwrap_or_else(|| format!("HTTP {status}"));
    tracing::warn!(status = status.as_u16(), %message, "stripe request failed");
    if status.is_server_error() || status == reqwest::StatusCode::TOO_MANY_REQUESTS {
        Err(PaymentError::Unavailable(format!("Stripe: {message}")))
    } else {
        Err(PaymentError::Refused(format!("Stripe: {message}")))
    }
}
