//! Mercado Pago: Checkout Pro preferences (card, OXXO and other cash, SPEI), callbacks verified with
//! `x-signature` and confirmed by re-reading the payment, and refunds.
//!
//! Mercado Pago counts in decimal pesos. They are written from centavos as text (`200.50`) and read
//! back from the JSON text of the number, so no float ever holds money.

use crate::port::*;
use async_trait::async_trait;
use hmac::{Hmac, Mac};
use mostrador_core::money::Centavos;
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use serde_json::Value;
use sha2::Sha256;
use std::time::Duration;

/// Mercado Pago's API.
pub const DEFAULT_BASE_URL: &str = "https://api.mercadopago.com";
/// Default largest distance accepted between a callback's `ts` and now, either way.
pub const DEFAULT_TOLERANCE_SECS: u64 = 300;
/// A `ts` above this is in milliseconds (as seconds it would be past the year 2286).
const MILLIS_THRESHOLD: i64 = 10_000_000_000;
/// Mexico City has kept UTC−6 all year since October 2022; dates are written in the merchants' time.
const MEXICO_CITY_OFFSET_SECS: i64 = -6 * 3600;
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

/// One merchant's Mercado Pago application.
#[derive(Clone)]
pub struct MercadoPago {
    http: reqwest::Client,
    base_url: String,
    access_token: String,
    webhook_secret: String,
    tolerance_secs: u64,
}

impl std::fmt::Debug for MercadoPago {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Token and secret stay out of logs.
        f.debug_struct("MercadoPago")
            .field("base_url", &self.base_url)
            .field("tolerance_secs", &self.tolerance_secs)
            .finish_non_exhaustive()
    }
}

impl MercadoPago {
    /// Mercado Pago with an access token (`APP_USR-…`) and the application's webhook secret signature.
    pub fn new(
        http: reqwest::Client,
        access_token: impl Into<String>,
        webhook_secret: impl Into<String>,
    ) -> Self {
        Self {
            http,
            base_url: DEFAULT_BASE_URL.to_owned(),
            access_token: access_token.into(),
            webhook_secret: webhook_secret.into(),
            tolerance_secs: DEFAULT_TOLERANCE_SECS,
        }
    }

    /// Talks to another base URL (a fake Mercado Pago in tests).
    pub fn with_base_url(mut self, base_url: impl Into<String>) -> Self {
        self.base_url = base_url.into().trim_end_matches('/').to_owned();
        self
    }

    /// Accepts callbacks whose `ts` is at most `secs` away from now.
    pub fn with_tolerance_secs(mut self, secs: u64) -> Self {
        self.tolerance_secs = secs;
        self
    }

    /// Whether `v1` is the HMAC of `manifest`, compared in constant time.
    fn signature_matches(&self, manifest: &str, v1: &str) -> bool {
        let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(self.webhook_secret.as_bytes()) else {
            return false;
        };
        mac.update(manifest.as_bytes());
        hex::decode(v1).is_ok_and(|tag| mac.verify_slice(&tag).is_ok())
    }

    fn request(&self, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        self.http
            .request(method, format!("{}{path}", self.base_url))
            .bearer_auth(&self.access_token)
            .timeout(REQUEST_TIMEOUT)
    }

    /// `GET /v1/payments/{id}`: what the payment really is, whatever the notification said.
    async fn payment(&self, id: &str) -> Result<Vec<u8>, PaymentError> {
        let response = self
            .request(reqwest::Method::GET, &format!("/v1/payments/{id}"))
            .send()
            .await
            .map_err(network_error)?;
        read_body(response).await
    }
}

#[async_trait]
impl PaymentProvider for MercadoPago {
    fn name(&self) -> &'static str {
        "mercadopago"
    }

    async fn create(&self, request: &PaymentRequest) -> Result<PaymentLink, PaymentError> {
        let preference = preference(request)?;
        let response = self
            .request(reqwest::Method::POST, "/checkout/preferences")
            .header("X-Idempotency-Key", &request.idempotency_key)
            .json(&preference)
            .send()
            .await
            .map_err(network_error)?;
        let body = read_body(response).await?;
        let created: Value = serde_json::from_slice(&body).map_err(|e| {
            PaymentError::Unavailable(format!("Mercado Pago answered non-JSON: {e}"))
        })?;
        let id = match &created["id"] {
            Value::String(s) if !s.is_empty() => s.clone(),
            Value::Number(n) => n.to_string(),
            _ => {
                return Err(PaymentError::Unavailable(
                    "Mercado Pago answered a preference without id".into(),
                ))
            }
        };
        let Some(url) = created["init_point"].as_str().filter(|s| !s.is_empty()) else {
            return Err(PaymentError::Unavailable(
                "Mercado Pago answered a preference without init_point".into(),
            ));
        };
        tracing::info!(order = %request.order_id, preference = %id, "mercadopago preference created");
        Ok(PaymentLink {
            provider_ref: id,
            url: Some(url.to_owned()),
            cash_reference: None,
            barcode_url: None,
            clabe: None,
            expires_at: request.expires_at,
        })
    }

    async fn verify(&self, callback: &Callback<'_>) -> Result<Verified, PaymentError> {
        let header = callback
            .header("x-signature")
            .ok_or_else(|| PaymentError::Unauthenticated("missing x-signature header".into()))?;
        let signature = SignatureHeader::parse(header)?;
        let data_id = query_param(callback.query, "data.id").filter(|id| !id.trim().is_empty());
        let request_id = callback
            .header("x-request-id")
            .map(str::trim)
            .filter(|id| !id.is_empty());
        let manifest = manifest(data_id.as_deref(), request_id, &signature.ts);
        if !self.signature_matches(&manifest, &signature.v1) {
            return Err(PaymentError::Unauthenticated(
                "x-signature does not match".into(),
            ));
        }
        let sent_at = signature.epoch_secs();
        if callback.now.abs_diff(sent_at) > self.tolerance_secs {
            return Err(PaymentError::Unauthenticated(format!(
                "x-signature ts {} is more than {} s from now",
                signature.ts, self.tolerance_secs
            )));
        }

        // The body is not signed: it may name the topic, but never another resource than the signed id.
        let body: Value = if callback.body.iter().all(u8::is_ascii_whitespace) {
            Value::Null
        } else {
            serde_json::from_slice(callback.body).map_err(|e| {
                PaymentError::Malformed(format!("Mercado Pago notification is not JSON: {e}"))
            })?
        };
        if let Some(body_id) = text_of(&body["data"]["id"]) {
            if data_id.as_deref() != Some(body_id.as_str()) {
                return Err(PaymentError::Unauthenticated(
                    "the body's data.id is not the signed one".into(),
                ));
            }
        }
        let topic = body["type"]
            .as_str()
            .map(str::to_owned)
            .or_else(|| query_param(callback.query, "type"))
            .or_else(|| query_param(callback.query, "topic"))
            .unwrap_or_default();
        if topic != "payment" {
            let event_id = text_of(&body["id"])
                .unwrap_or_else(|| format!("{topic}:{}", data_id.as_deref().unwrap_or("")));
            return Ok(Verified::Ignored {
                event_id,
                kind: topic,
            });
        }
        let Some(payment_id) = data_id.filter(|id| id.bytes().all(|b| b.is_ascii_digit())) else {
            return Err(PaymentError::Malformed(
                "payment notification without a numeric data.id in the query".into(),
            ));
        };
        let payment = self.payment(&payment_id).await?;
        translate_payment(&payment_id, &payment)
    }

    async fn refund(
        &self,
        payment_ref: &str,
        amount: Option<Centavos>,
    ) -> Result<(), PaymentError> {
        if payment_ref.is_empty() || !payment_ref.bytes().all(|b| b.is_ascii_digit()) {
            return Err(PaymentError::Refused(format!(
                "{payment_ref:?} is not a Mercado Pago payment id"
            )));
        }
        let body = match amount {
            Some(a) => Refund {
                amount: Some(crate::wire::pesos_json(a)?),
            },
            None => Refund { amount: None },
        };
        // A retried call must not refund twice; the port carries no key, so the request names itself.
        let key = match amount {
            Some(a) => format!("refund-{payment_ref}-{}", a.0),
            None => format!("refund-{payment_ref}-full"),
        };
        let response = self
            .request(
                reqwest::Method::POST,
                &format!("/v1/payments/{payment_ref}/refunds"),
            )
            .header("X-Idempotency-Key", key)
            .json(&body)
            .send()
            .await
            .map_err(network_error)?;
        read_body(response).await?;
        tracing::info!(payment = %payment_ref, "mercadopago refund requested");
        Ok(())
    }
}

/// `POST /checkout/preferences`.
#[derive(Debug, Serialize)]
struct Preference<'a> {
    items: [Item<'a>; 1],
    external_reference: &'a str,
    notification_url: &'a str,
    expires: bool,
    expiration_date_to: String,
    /// Cash (OXXO and other stores) references stop being payable then.
    #[serde(skip_serializing_if = "Option::is_none")]
    date_of_expiration: Option<String>,
    payment_methods: PaymentMethods,
    metadata: Metadata<'a>,
}

#[derive(Debug, Serialize)]
struct Item<'a> {
    id: &'a str,
    title: &'a str,
    quantity: u32,
    currency_id: String,
    /// Decimal pesos, written as text (`200.50`).
    unit_price: Box<RawValue>,
}

#[derive(Debug, Serialize)]
struct PaymentMethods {
    excluded_payment_types: Vec<PaymentTypeRef>,
}

#[derive(Debug, Serialize)]
struct PaymentTypeRef {
    id: &'static str,
}

#[derive(Debug, Serialize)]
struct Metadata<'a> {
    order_id: &'a str,
}

/// `POST /v1/payments/{id}/refunds`: no amount refunds it all.
#[derive(Debug, Serialize)]
struct Refund {
    #[serde(skip_serializing_if = "Option::is_none")]
    amount: Option<Box<RawValue>>,
}

/// Mercado Pago's payment types in Mexico and the method each one is.
const PAYMENT_TYPES: [(&str, Method); 6] = [
    ("credit_card", Method::Card),
    ("debit_card", Method::Card),
    ("prepaid_card", Method::Card),
    ("ticket", Method::Cash),
    ("atm", Method::Cash),
    ("bank_transfer", Method::Spei),
];

fn preference(request: &PaymentRequest) -> Result<Preference<'_>, PaymentError> {
    let unit_price = crate::wire::pesos_json(request.amount)?;
    let offered = |m: Method| request.methods.contains(&m);
    if ![Method::Card, Method::Cash, Method::Spei]
        .into_iter()
        .any(offered)
    {
        return Err(PaymentError::Refused(
            "none of the requested methods is offered through Mercado Pago (card, cash, spei)"
                .into(),
        ));
    }
    let expires = iso8601(request.expires_at);
    Ok(Preference {
        items: [Item {
            id: &request.order_id,
            title: &request.description,
            quantity: 1,
            currency_id: request.currency.to_ascii_uppercase(),
            unit_price,
        }],
        external_reference: &request.order_id,
        notification_url: &request.notification_url,
        expires: true,
        expiration_date_to: expires.clone(),
        date_of_expiration: offered(Method::Cash).then_some(expires),
        payment_methods: PaymentMethods {
            excluded_payment_types: PAYMENT_TYPES
                .iter()
                .filter(|(_, method)| !offered(*method))
                .map(|(id, _)| PaymentTypeRef { id })
                .collect(),
        },
        metadata: Metadata {
            order_id: &request.order_id,
        },
    })
}

/// The re-read payment in our terms; `event_id` is `{payment id}:{status}`, so a repeated notification
/// of the same state deduplicates while a later state of the same payment is a new event.
fn translate_payment(payment_id: &str, body: &[u8]) -> Result<Verified, PaymentError> {
    let payment: Payment<'_> = serde_json::from_slice(body).map_err(|e| {
        PaymentError::Unavailable(format!("Mercado Pago answered an unreadable payment: {e}"))
    })?;
    let status = payment.status.unwrap_or_default();
    let state = match status.as_str() {
        "approved" => PaymentState::Paid,
        "pending" | "in_process" | "authorized" => PaymentState::Pending,
        "rejected" | "cancelled" => PaymentState::Failed,
        "refunded" => PaymentState::Refunded,
        "charged_back" => PaymentState::ChargedBack,
        _ => {
            return Ok(Verified::Ignored {
                event_id: format!("{payment_id}:{status}"),
                kind: format!("payment.{status}"),
            })
        }
    };
    let amount = match payment.transaction_amount {
        Some(raw) => Some(Centavos::parse_pesos(raw.get()).ok_or_else(|| {
            PaymentError::Unavailable(format!(
                "transaction_amount {} is not an amount in pesos and centavos",
                raw.get()
            ))
        })?),
        None => None,
    };
    Ok(Verified::Event(PaymentEvent {
        event_id: format!("{payment_id}:{status}"),
        order_id: payment.external_reference.filter(|r| !r.is_empty()),
        state,
        amount,
        currency: payment.currency_id.map(|c| c.to_ascii_uppercase()),
        method: payment.payment_type_id.as_deref().and_then(|t| {
            PAYMENT_TYPES
                .iter()
                .find(|(id, _)| *id == t)
                .map(|(_, m)| *m)
        }),
        payment_ref: Some(payment_id.to_owned()),
    }))
}

/// The part of `GET /v1/payments/{id}` we read.
#[derive(Debug, Deserialize)]
struct Payment<'a> {
    status: Option<String>,
    /// Decimal pesos, kept as the JSON text Mercado Pago wrote.
    #[serde(borrow)]
    transaction_amount: Option<&'a RawValue>,
    currency_id: Option<String>,
    external_reference: Option<String>,
    payment_type_id: Option<String>,
}

/// `x-signature: ts=<seconds or milliseconds>,v1=<hex>`.
#[derive(Debug)]
struct SignatureHeader {
    ts: String,
    v1: String,
}

impl SignatureHeader {
    fn parse(header: &str) -> Result<Self, PaymentError> {
        let mut ts = None;
        let mut v1 = None;
        for part in header.split(',') {
            let Some((key, value)) = part.split_once('=') else {
                continue;
            };
            let value = value.trim();
            match key.trim().to_ascii_lowercase().as_str() {
                "ts" if !value.is_empty() => ts = Some(value.to_owned()),
                "v1" if !value.is_empty() => v1 = Some(value.to_owned()),
                _ => {}
            }
        }
        match (ts, v1) {
            (Some(ts), Some(v1))
                if !ts.is_empty() && ts.len() <= 18 && ts.bytes().all(|b| b.is_ascii_digit()) =>
            {
                Ok(Self { ts, v1 })
            }
            _ => Err(PaymentError::Unauthenticated(
                "garbled x-signature header".into(),
            )),
        }
    }

    /// `ts` in seconds, whichever unit it came in.
    fn epoch_secs(&self) -> i64 {
        // At most 18 digits, checked by `parse`: it fits an i64.
        let ts: i64 = self.ts.parse().unwrap_or(0);
        if ts > MILLIS_THRESHOLD {
            ts / 1000
        } else {
            ts
        }
    }
}

/// The signed manifest, pairs omitted when missing, `data.id` exactly as received (official SDKs).
fn manifest(data_id: Option<&str>, request_id: Option<&str>, ts: &str) -> String {
    let mut manifest = String::new();
    if let Some(id) = data_id {
        manifest.push_str(&format!("id:{id};"));
    }
    if let Some(id) = request_id {
        manifest.push_str(&format!("request-id:{id};"));
    }
    manifest.push_str(&format!("ts:{ts};"));
    manifest
}

/// The first value of `name` in a query string, percent-decoded.
fn query_param(query: &str, name: &str) -> Option<String> {
    query
        .trim_start_matches('?')
        .split('&')
        .filter_map(|pair| {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            (percent_decode(key)? == name).then(|| percent_decode(value))
        })
        .next()
        .flatten()
}

fn percent_decode(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' => {
                let hex = text.get(i + 1..i + 3)?;
                out.push(u8::from_str_radix(hex, 16).ok()?);
                i += 3;
            }
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8(out).ok()
}

/// A JSON string or number as text (Mercado Pago writes ids either way).
fn text_of(value: &Value) -> Option<String> {
    match value {
        Value::String(s) if !s.is_empty() => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// `epoch` as ISO-8601 with milliseconds and Mexico City's offset: `2026-01-01T12:30:00.000-06:00`.
fn iso8601(epoch: i64) -> String {
    let local = epoch + MEXICO_CITY_OFFSET_SECS;
    let (year, month, day) = civil_from_days(local.div_euclid(86_400));
    let secs = local.rem_euclid(86_400);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.000-06:00",
        secs / 3600,
        secs % 3600 / 60,
        secs % 60
    )
}

/// Proleptic Gregorian (year, month, day) of a day count from 1970-01-01 (H. Hinnant's algorithm).
fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

fn network_error(e: reqwest::Error) -> PaymentError {
    PaymentError::Unavailable(format!("Mercado Pago unreachable: {e}"))
}

/// A successful answer's bytes, or the error it stands for: Mercado Pago's `message` on a 4xx (not
/// retried as is), Unavailable on 429 or 5xx (retry later).
async fn read_body(response: reqwest::Response) -> Result<Vec<u8>, PaymentError> {
    let status = response.status();
    let body = response
        .bytes()
        .await
        .map_err(|e| PaymentError::Unavailable(format!("Mercado Pago answer cut short: {e}")))?;
    if status.is_success() {
        return Ok(body.to_vec());
    }
    let message = serde_json::from_slice::<Value>(&body)
        .ok()
        .and_then(|v| v["message"].as_str().map(str::to_owned))
        .unwrap_or_else(|| format!("HTTP {status}"));
    tracing::warn!(status = status.as_u16(), %message, "mercadopago request failed");
    if status.is_server_error() || status == reqwest::StatusCode::TOO_MANY_REQUESTS {
        Err(PaymentError::Unavailable(format!(
            "Mercado Pago: {message}"
        )))
    } else {
        Err(PaymentError::Refused(format!("Mercado Pago: {message}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_are_written_in_mexico_city_time() {
        assert_eq!(iso8601(0), "1969-12-31T18:00:00.000-06:00");
        assert_eq!(iso8601(1_700_000_000), "2023-11-14T16:13:20.000-06:00");
        assert_eq!(iso8601(1_767_292_200), "2026-01-01T12:30:00.000-06:00");
        assert_eq!(iso8601(951_825_600), "2000-02-29T06:00:00.000-06:00");
    }

    #[test]
    fn centavos_become_pesos_text_exactly() {
        let text = |c: i64| {
            crate::wire::pesos_json(Centavos(c))
                .map(|r| r.get().to_owned())
                .ok()
        };
        assert_eq!(text(20_050).as_deref(), Some("200.50"));
        assert_eq!(text(10).as_deref(), Some("0.10"));
        assert_eq!(text(125_000).as_deref(), Some("1250.00"));
        assert_eq!(text(0), None);
    }

    #[test]
    fn ts_in_milliseconds_is_normalised() {
        let secs = SignatureHeader::parse("ts=1767292200,v1=ab").map(|h| h.epoch_secs());
        let millis = SignatureHeader::parse("ts=1767292200123,v1=ab").map(|h| h.epoch_secs());
        assert_eq!(secs.ok(), Some(1_767_292_200));
        assert_eq!(millis.ok(), Some(1_767_292_200));
    }

    #[test]
    fn query_values_are_percent_decoded() {
        assert_eq!(
            query_param("data.id=123&type=payment", "data.id").as_deref(),
            Some("123")
        );
        assert_eq!(
            query_param("?type=payment&data%2Eid=A%2Fb", "data.id").as_deref(),
            Some("A/b")
        );
        assert_eq!(query_param("type=payment", "data.id"), None);
    }
}
