//! Openpay (BBVA): one charge per payment link — store cash (`store`), SPEI to a CLABE issued for the
//! charge (`bank_account`), a CoDi QR (`codi`), or cards through Openpay's own payment form (a `card`
//! charge with `confirm: false` and a `redirect_url`, answered with `payment_method.url`).
//!
//! Amounts go both ways as decimal pesos, written and read as exact JSON text (`200.50`), never
//! through a float. Our order id travels as the charge's `order_id`.
//!
//! Webhooks carry no signature: they authenticate with the HTTP Basic user and password registered
//! with the webhook, and their body is not trusted. An event only names a transaction; its state,
//! amount, currency and order id come from re-reading `GET /v1/{merchant_id}/charges/{id}` with the
//! private key, and only `completed` counts as paid. The first delivery to a new webhook is
//! `{"type":"verification","verification_code":…}`: Openpay wants a 2xx, and the merchant types that
//! code into Openpay's dashboard to activate the webhook, so it comes back as
//! [`Verified::Handshake`] for the caller to answer with (and show to the merchant).
//!
//! Webhooks are registered per merchant in Openpay, so `PaymentRequest::notification_url` is not
//! sent.

use crate::port::*;
use crate::wire::{is_safe_id, pesos_json};
use async_trait::async_trait;
use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine;
use chrono::DateTime;
use chrono_tz::America::Mexico_City;
use mostrador_core::clabe::Clabe;
use mostrador_core::money::Centavos;
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use sha2::{Digest, Sha256};
use std::time::Duration;
use subtle::ConstantTimeEq;

/// Openpay México's production API.
pub const DEFAULT_BASE_URL: &str = "https://api.openpay.mx";
/// Openpay México's sandbox API.
pub const SANDBOX_BASE_URL: &str = "https://sandbox-api.openpay.mx";
/// The largest amount a store (cash) reference accepts: MXN 9,999.99.
pub const STORE_LIMIT: Centavos = Centavos(999_999);
/// The description sent with refunds.
pub const REFUND_DESCRIPTION: &str = "Reembolso solicitado por el comercio";
/// How long one call may take: a callback's re-read must answer well within the provider's patience.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

/// The buyer, as Openpay's charge `customer` takes it (only the name is required).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OpenpayCustomer {
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub phone_number: Option<String>,
}

/// Why an Openpay adapter cannot be configured.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OpenpayConfigError {
    #[error("the Openpay merchant id must be letters and digits")]
    MerchantId,
    #[error("the Openpay private key is empty")]
    PrivateKey,
    #[error("the Openpay webhook user and password must not be empty")]
    WebhookCredentials,
}

/// The Openpay adapter, configured with one merchant's keys.
#[derive(Clone)]
pub struct Openpay {
    http: reqwest::Client,
    base_url: String,
    merchant_id: String,
    private_key: String,
    /// SHA-256 of `user:password`, compared in constant time with what a callback presents.
    webhook_credentials: [u8; 32],
    customer: Option<OpenpayCustomer>,
    redirect_url: Option<String>,
}

impl std::fmt::Debug for Openpay {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the private key or the webhook password.
        f.debug_struct("Openpay")
            .field("base_url", &self.base_url)
            .field("merchant_id", &self.merchant_id)
            .finish_non_exhaustive()
    }
}

impl Openpay {
    /// An adapter for `merchant_id` with its private key and the Basic credentials registered with
    /// its webhook.
    pub fn new(
        http: reqwest::Client,
        merchant_id: impl Into<String>,
        private_key: impl Into<String>,
        webhook_user: &str,
        webhook_password: &str,
    ) -> Result<Self, OpenpayConfigError> {
        let merchant_id = merchant_id.into();
        if merchant_id.is_empty() || !merchant_id.bytes().all(|b| b.is_ascii_alphanumeric()) {
            return Err(OpenpayConfigError::MerchantId);
        }
        let private_key = private_key.into();
        if private_key.trim().is_empty() {
            return Err(OpenpayConfigError::PrivateKey);
        }
        if webhook_user.is_empty() || webhook_password.is_empty() {
            return Err(OpenpayConfigError::WebhookCredentials);
        }
        Ok(Self {
            http,
            base_url: DEFAULT_BASE_URL.to_owned(),
            merchant_id,
            private_key,
            webhook_credentials: Sha256::digest(format!("{webhook_user}:{webhook_password}"))
                .into(),
            customer: None,
            redirect_url: None,
        })
    }

    /// Talks to another base URL ([`SANDBOX_BASE_URL`], tests).
    pub fn with_base_url(mut self, base_url: impl Into<String>) -> Self {
        self.base_url = base_url.into().trim_end_matches('/').to_owned();
        self
    }

    /// The buyer sent with charges (Openpay's card form requires one; other methods go without).
    pub fn with_customer(mut self, customer: OpenpayCustomer) -> Self {
        self.customer = Some(customer);
        self
    }

    /// Where Openpay's card form sends the buyer after paying (required for card links).
    pub fn with_redirect_url(mut self, redirect_url: impl Into<String>) -> Self {
        self.redirect_url = Some(redirect_url.into());
        self
    }

    fn charges_url(&self) -> String {
        format!("{}/v1/{}/charges", self.base_url, self.merchant_id)
    }

    fn charge_url(&self, charge_id: &str) -> Result<String, PaymentError> {
        if !is_safe_id(charge_id) {
            return Err(PaymentError::Malformed(format!(
                "{charge_id:?} is not an Openpay transaction id"
            )));
        }
        Ok(format!("{}/{charge_id}", self.charges_url()))
    }

    /// Sends a request with the private key, sorting Openpay's answers into the port's errors.
    async fn send(
        &self,
        request: reqwest::RequestBuilder,
        what: &str,
    ) -> Result<Vec<u8>, PaymentError> {
        let (status, bytes) = self.exchange(request, what).await?;
        classify(status, bytes, what)
    }

    /// Sends a request with the private key; only failing to get an answer is an error here.
    async fn exchange(
        &self,
        request: reqwest::RequestBuilder,
        what: &str,
    ) -> Result<(reqwest::StatusCode, Vec<u8>), PaymentError> {
        let unavailable = |e: reqwest::Error| {
            PaymentError::Unavailable(format!("Openpay {what}: {}", e.without_url()))
        };
        let response = request
            .basic_auth(&self.private_key, Some(""))
            .timeout(REQUEST_TIMEOUT)
            .send()
            .await
            .map_err(unavailable)?;
        let status = response.status();
        let bytes = response.bytes().await.map_err(unavailable)?;
        Ok((status, bytes.to_vec()))
    }

    /// The charge as Openpay has it now.
    async fn read_charge(&self, charge_id: &str) -> Result<Charge, PaymentError> {
        let url = self.charge_url(charge_id)?;
        let (status, bytes) = self.exchange(self.http.get(url), "charge re-read").await?;
        if status == reqwest::StatusCode::NOT_FOUND {
            // An event naming a transaction this merchant does not have cannot be confirmed: forged.
            return Err(PaymentError::Unauthenticated(format!(
                "Openpay has no transaction {charge_id}"
            )));
        }
        let bytes = classify(status, bytes, "charge re-read")?;
        serde_json::from_slice(&bytes)
            .map_err(|e| PaymentError::Unavailable(format!("unexpected Openpay charge: {e}")))
    }

    /// Whether the callback presents the webhook's Basic credentials.
    fn authenticate(&self, callback: &Callback<'_>) -> Result<(), PaymentError> {
        let header = callback
            .header("authorization")
            .ok_or_else(|| PaymentError::Unauthenticated("missing authorization header".into()))?;
        let encoded = match header.trim().split_once(' ') {
            Some((scheme, rest)) if scheme.eq_ignore_ascii_case("basic") => rest.trim(),
            _ => {
                return Err(PaymentError::Unauthenticated(
                    "authorization is not Basic".into(),
                ))
            }
        };
        let presented = BASE64.decode(encoded).map_err(|_| {
            PaymentError::Unauthenticated("Basic credentials are not base64".into())
        })?;
        // Hashing first makes the comparison constant time whatever the lengths.
        let presented: [u8; 32] = Sha256::digest(&presented).into();
        if bool::from(presented.ct_eq(&self.webhook_credentials)) {
            Ok(())
        } else {
            Err(PaymentError::Unauthenticated(
                "wrong webhook credentials".into(),
            ))
        }
    }
}

#[async_trait]
impl PaymentProvider for Openpay {
    fn name(&self) -> &'static str {
        "openpay"
    }

    /// One charge carries one method: the first of `request.methods` (the merchant's order of
    /// preference). Openpay has no idempotency header; its `order_id` must be unique per merchant,
    /// so a retried creation is refused rather than charged twice.
    async fn create(&self, request: &PaymentRequest) -> Result<PaymentLink, PaymentError> {
        if request.amount.0 <= 0 {
            return Err(PaymentError::Refused("the amount must be positive".into()));
        }
        let method = *request
            .methods
            .first()
            .ok_or_else(|| PaymentError::Refused("no payment method was requested".into()))?;
        if method == Method::Cash && request.amount > STORE_LIMIT {
            return Err(PaymentError::Refused(format!(
                "store payments through Openpay are limited to {}; this order is {}",
                STORE_LIMIT.display_mxn(),
                request.amount.display_mxn()
            )));
        }
        let mut body = ChargeRequest {
            method: match method {
                Method::Card => "card",
                Method::Cash => "store",
                Method::Spei => "bank_account",
                Method::CoDi => "codi",
            },
            amount: pesos_json(request.amount)?,
            currency: &request.currency,
            description: &request.description,
            order_id: &request.order_id,
            due_date: None,
            customer: self.customer.as_ref(),
            confirm: None,
            send_email: None,
            redirect_url: None,
            codi_options: None,
        };
        match method {
            Method::Card => {
                body.redirect_url = Some(self.redirect_url.as_deref().ok_or_else(|| {
                    PaymentError::Refused(
                        "Openpay card links need a redirect URL; none is configured".into(),
                    )
                })?);
                if body.customer.is_none() {
                    return Err(PaymentError::Refused(
                        "Openpay card links need the buyer's name; none is configured".into(),
                    ));
                }
                body.confirm = Some(false);
                body.send_email = Some(false);
            }
            Method::CoDi => {
                body.codi_options = Some(CodiOptions { mode: "QR_CODE" });
                body.due_date = Some(due_date(request.expires_at)?);
            }
            Method::Cash | Method::Spei => body.due_date = Some(due_date(request.expires_at)?),
        }
        let post = self.http.post(self.charges_url()).json(&body);
        let bytes = self.send(post, "charge creation").await.inspect_err(|e| {
            tracing::warn!(order_id = %request.order_id, error = %e, "openpay charge not created");
        })?;
        let charge: Charge = serde_json::from_slice(&bytes)
            .map_err(|e| PaymentError::Unavailable(format!("unexpected Openpay charge: {e}")))?;
        link_from(charge, method, request.expires_at)
    }

    async fn verify(&self, callback: &Callback<'_>) -> Result<Verified, PaymentError> {
        self.authenticate(callback)?;
        let notification: Notification = serde_json::from_slice(callback.body)
            .map_err(|e| PaymentError::Malformed(format!("Openpay notification: {e}")))?;
        let kind = notification.kind;
        if kind == "verification" {
            let answer = notification
                .verification_code
                .filter(|c| !c.is_empty())
                .ok_or_else(|| PaymentError::Malformed("verification without a code".into()))?;
            return Ok(Verified::Handshake { answer });
        }
        let transaction_id = notification.transaction.map(|t| t.id).unwrap_or_default();
        // Openpay events have no id of their own; the transaction and the event type name one.
        let event_id = format!("{transaction_id}:{kind}");
        if !matches!(
            kind.as_str(),
            "charge.succeeded"
                | "charge.failed"
                | "charge.cancelled"
                | "charge.refunded"
                | "transaction.expired"
        ) {
            return Ok(Verified::Ignored { event_id, kind });
        }
        if transaction_id.is_empty() {
            return Err(PaymentError::Malformed(format!(
                "{kind} without a transaction id"
            )));
        }
        let charge = self.read_charge(&transaction_id).await?;
        let state = match charge.status.as_str() {
            "completed" => PaymentState::Paid,
            "in_progress" | "charge_pending" => PaymentState::Pending,
            "cancelled" if kind == "transaction.expired" => PaymentState::Expired,
            "failed" | "cancelled" => PaymentState::Failed,
            "refunded" => PaymentState::Refunded,
            "expired" => PaymentState::Expired,
            other => {
                return Ok(Verified::Ignored {
                    event_id,
                    kind: format!("{kind} ({other})"),
                });
            }
        };
        let amount = match &charge.amount {
            Some(raw) => Some(pesos_from_json(raw).ok_or_else(|| {
                PaymentError::Malformed(format!(
                    "Openpay amount {} is not pesos and centavos",
                    raw.get()
                ))
            })?),
            None => None,
        };
        Ok(Verified::Event(PaymentEvent {
            event_id,
            order_id: charge.order_id.filter(|o| !o.is_empty()),
            state,
            amount,
            currency: charge.currency,
            method: charge.method.as_deref().and_then(method_from),
            payment_ref: Some(charge.id),
        }))
    }

    async fn refund(
        &self,
        payment_ref: &str,
        amount: Option<Centavos>,
    ) -> Result<(), PaymentError> {
        let url = self.charge_url(payment_ref).map_err(|_| {
            PaymentError::Refused(format!("{payment_ref:?} is not an Openpay transaction id"))
        })?;
        let amount = match amount {
            Some(a) if a.0 <= 0 => {
                return Err(PaymentError::Refused(
                    "the refund amount must be positive".into(),
                ))
            }
            Some(a) => Some(pesos_json(a)?),
            None => None,
        };
        let body = RefundRequest {
            description: REFUND_DESCRIPTION,
            amount,
        };
        self.send(
            self.http.post(format!("{url}/refund")).json(&body),
            "refund",
        )
        .await
        .inspect_err(|e| tracing::warn!(payment_ref, error = %e, "openpay refund failed"))?;
        Ok(())
    }
}

/// Openpay's answer as the port sees it: refusals are final, overload and outages are retried.
fn classify(
    status: reqwest::StatusCode,
    bytes: Vec<u8>,
    what: &str,
) -> Result<Vec<u8>, PaymentError> {
    if status.is_success() {
        return Ok(bytes);
    }
    let message = format!("Openpay {what} ({status}): {}", error_message(&bytes));
    if status.is_server_error()
        || status == reqwest::StatusCode::TOO_MANY_REQUESTS
        || status == reqwest::StatusCode::REQUEST_TIMEOUT
    {
        Err(PaymentError::Unavailable(message))
    } else {
        Err(PaymentError::Refused(message))
    }
}

/// The customer-facing part of a created charge.
fn link_from(charge: Charge, method: Method, expires_at: i64) -> Result<PaymentLink, PaymentError> {
    let id = charge.id;
    let pm = charge.payment_method.ok_or_else(|| {
        PaymentError::Unavailable(format!("Openpay charge {id} came without payment_method"))
    })?;
    let missing =
        |what: &str| PaymentError::Unavailable(format!("Openpay charge {id} came without {what}"));
    let mut link = PaymentLink {
        provider_ref: id.clone(),
        url: None,
        cash_reference: None,
        barcode_url: None,
        clabe: None,
        expires_at,
    };
    match method {
        Method::Card => link.url = Some(pm.url.ok_or_else(|| missing("the card form URL"))?),
        Method::Cash => {
            link.cash_reference = Some(pm.reference.ok_or_else(|| missing("a store reference"))?);
            link.barcode_url = pm.barcode_url;
        }
        Method::Spei => {
            let clabe = pm.clabe.ok_or_else(|| missing("a CLABE"))?;
            // The same order_id cannot be charged again, so this is not retried.
            link.clabe = Some(Clabe::parse(&clabe).map_err(|e| {
                PaymentError::Refused(format!(
                    "Openpay issued an invalid CLABE for charge {id}: {e}"
                ))
            })?);
        }
        Method::CoDi => {
            link.barcode_url = match (pm.barcode_url, pm.barcode_base64) {
                (Some(url), _) => Some(url),
                (None, Some(png)) => Some(format!("data:image/png;base64,{png}")),
                (None, None) => return Err(missing("a CoDi QR code")),
            };
        }
    }
    Ok(link)
}

/// Decimal pesos from a JSON number's (or string's) own text, never through a float.
fn pesos_from_json(raw: &RawValue) -> Option<Centavos> {
    Centavos::parse_pesos(raw.get().trim().trim_matches('"'))
}

/// `due_date` as Openpay's own plugins send it: Mexico City wall time, `YYYY-MM-DDTHH:MM:SS`.
fn due_date(expires_at: i64) -> Result<String, PaymentError> {
    let at = DateTime::from_timestamp(expires_at, 0)
        .ok_or_else(|| PaymentError::Refused(format!("expiry {expires_at} is not a date")))?;
    Ok(at
        .with_timezone(&Mexico_City)
        .format("%Y-%m-%dT%H:%M:%S")
        .to_string())
}

fn method_from(openpay_method: &str) -> Option<Method> {
    match openpay_method {
        "card" => Some(Method::Card),
        "store" => Some(Method::Cash),
        "bank_account" => Some(Method::Spei),
        "codi" => Some(Method::CoDi),
        _ => None,
    }
}

/// Openpay's `description` and `error_code` (falling back to the status alone).
fn error_message(body: &[u8]) -> String {
    #[derive(Deserialize)]
    struct ErrorBody {
        description: Option<String>,
        error_code: Option<i64>,
    }
    match serde_json::from_slice::<ErrorBody>(body) {
        Ok(ErrorBody {
            description: Some(d),
            error_code: Some(c),
        }) => format!("{d} (error {c})"),
        Ok(ErrorBody {
            description: Some(d),
            ..
        }) => d,
        _ => "no details".to_owned(),
    }
}

#[derive(Debug, Serialize)]
struct ChargeRequest<'a> {
    method: &'static str,
    amount: Box<RawValue>,
    currency: &'a str,
    description: &'a str,
    order_id: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    due_date: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    customer: Option<&'a OpenpayCustomer>,
    #[serde(skip_serializing_if = "Option::is_none")]
    confirm: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    send_email: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    redirect_url: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    codi_options: Option<CodiOptions>,
}

#[derive(Debug, Serialize)]
struct CodiOptions {
    mode: &'static str,
}

#[derive(Debug, Serialize)]
struct RefundRequest {
    description: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    amount: Option<Box<RawValue>>,
}

/// The parts of an Openpay transaction we read.
#[derive(Debug, Deserialize)]
struct Charge {
    id: String,
    #[serde(default)]
    status: String,
    amount: Option<Box<RawValue>>,
    currency: Option<String>,
    order_id: Option<String>,
    method: Option<String>,
    payment_method: Option<PaymentMethod>,
}

#[derive(Debug, Deserialize)]
struct PaymentMethod {
    reference: Option<String>,
    barcode_url: Option<String>,
    barcode_base64: Option<String>,
    clabe: Option<String>,
    url: Option<String>,
}

#[derive(Debug, Deserialize)]
struct Notification {
    #[serde(rename = "type", default)]
    kind: String,
    verification_code: Option<String>,
    transaction: Option<TransactionRef>,
}

#[derive(Debug, Deserialize)]
struct TransactionRef {
    #[serde(default)]
    id: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn centavos_become_exact_peso_text_and_back() {
        let cases = [
            (20_050, "200.50"),
            (10, "0.10"),
            (1, "0.01"),
            (999_999, "9999.99"),
            (200_000, "2000.00"),
        ];
        for (centavos, text) in cases {
            let raw = pesos_json(Centavos(centavos)).ok();
            assert_eq!(raw.as_ref().map(|r| r.get()), Some(text));
            assert_eq!(
                raw.as_deref().and_then(pesos_from_json),
                Some(Centavos(centavos))
            );
        }
        let parsed = |t: &str| {
            RawValue::from_string(t.to_owned())
                .ok()
                .as_deref()
                .and_then(pesos_from_json)
        };
        assert_eq!(parsed("2000.0"), Some(Centavos(200_000)));
        assert_eq!(parsed("12"), Some(Centavos(1_200)));
        assert_eq!(parsed("\"200.50\""), Some(Centavos(20_050)));
        assert_eq!(parsed("0.456"), None);
        assert_eq!(parsed("1e3"), None);
    }

    #[test]
    fn due_dates_are_mexico_city_wall_time() {
        // 2026-01-01T00:00:00Z is 18:00 the day before in Mexico City (UTC-6, no DST since 2022).
        assert_eq!(
            due_date(1_767_225_600).ok().as_deref(),
            Some("2025-12-31T18:00:00")
        );
    }
}
