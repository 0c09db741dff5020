//! Conekta (API v2.1): an order per payment link, either with Conekta's hosted checkout (cards, or
//! any mix of methods) or with a direct OXXO cash or SPEI charge; webhooks signed with RSA; refunds
//! per order.
//!
//! Amounts are integer centavos on both sides. Our order id travels as `metadata.order_id` and comes
//! back in every `order.*` event. Webhooks carry the header `digest`: base64 of an RSA PKCS#1 v1.5
//! SHA-256 signature over the raw body, made with the account's webhook key (`POST /webhook_keys`).
//! There is no timestamp, so deduplication on the event id is the only replay defence.
//! Webhook URLs are registered per account in Conekta, so `PaymentRequest::notification_url` is
//! not sent.

use crate::port::*;
use crate::wire::is_safe_id;
use async_trait::async_trait;
use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine;
use mostrador_core::clabe::Clabe;
use mostrador_core::money::Centavos;
use rsa::pkcs1::DecodeRsaPublicKey;
use rsa::pkcs1v15::{Signature, VerifyingKey};
use rsa::pkcs8::DecodePublicKey;
use rsa::signature::Verifier;
use rsa::RsaPublicKey;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use sha2::Sha256;
use std::time::Duration;

/// Conekta's production API.
pub const DEFAULT_BASE_URL: &str = "https://api.conekta.io";
/// The API version this adapter speaks.
pub const ACCEPT: &str = "application/vnd.conekta-v2.1.0+json";
/// The reason sent with refunds the merchant asks for.
pub const REFUND_REASON: &str = "requested_by_client";
/// How long one call may take: a callback's re-read must answer well within the provider's patience.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

/// The buyer as Conekta's `customer_info` requires it: name, email and phone are all mandatory.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConektaCustomer {
    pub name: String,
    pub email: String,
    pub phone: String,
}

/// Why a Conekta adapter cannot be configured.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConektaConfigError {
    #[error("the Conekta webhook key is not an RSA public key in PEM")]
    WebhookKey,
    #[error("the Conekta private key is empty")]
    PrivateKey,
}

/// The Conekta adapter, configured with one merchant's keys.
#[derive(Clone)]
pub struct Conekta {
    http: reqwest::Client,
    base_url: String,
    private_key: String,
    webhook_key: VerifyingKey<Sha256>,
    customer: Option<ConektaCustomer>,
    success_url: Option<String>,
    failure_url: Option<String>,
}

impl std::fmt::Debug for Conekta {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the private key.
        f.debug_struct("Conekta")
            .field("base_url", &self.base_url)
            .field("customer", &self.customer.is_some())
            .finish_non_exhaustive()
    }
}

impl Conekta {
    /// An adapter for the account whose API key is `private_key` and whose webhook public key (as
    /// `POST /webhook_keys` returns it, SPKI or PKCS#1 PEM; JSON-escaped `\n` accepted) is
    /// `webhook_public_key_pem`.
    pub fn new(
        http: reqwest::Client,
        private_key: impl Into<String>,
        webhook_public_key_pem: &str,
    ) -> Result<Self, ConektaConfigError> {
        let private_key = private_key.into();
        if private_key.trim().is_empty() {
            return Err(ConektaConfigError::PrivateKey);
        }
        Ok(Self {
            http,
            base_url: DEFAULT_BASE_URL.to_owned(),
            private_key,
            webhook_key: VerifyingKey::new(parse_public_key(webhook_public_key_pem)?),
            customer: None,
            success_url: None,
            failure_url: None,
        })
    }

    /// Talks to another base URL (tests, proxies).
    pub fn with_base_url(mut self, base_url: impl Into<String>) -> Self {
        self.base_url = base_url.into().trim_end_matches('/').to_owned();
        self
    }

    /// The buyer contact `create` sends when the caller has none better (typically the merchant's
    /// own contact: a WhatsApp buyer rarely gives an email, and Conekta mails vouchers to it).
    pub fn with_customer(mut self, customer: ConektaCustomer) -> Self {
        self.customer = Some(customer);
        self
    }

    /// Where the hosted checkout sends the buyer after paying or failing (e.g. back to the chat).
    pub fn with_return_urls(
        mut self,
        success_url: Option<String>,
        failure_url: Option<String>,
    ) -> Self {
        self.success_url = success_url;
        self.failure_url = failure_url;
        self
    }

    /// Creates the order for `request` with `customer` as the buyer.
    pub async fn create_for(
        &self,
        request: &PaymentRequest,
        customer: &ConektaCustomer,
    ) -> Result<PaymentLink, PaymentError> {
        if request.amount.0 <= 0 {
            return Err(PaymentError::Refused("the amount must be positive".into()));
        }
        let plan = Plan::for_methods(&request.methods)?;
        let mut body = json!({
            "currency": request.currency,
            "customer_info": customer,
            "line_items": [{
                "name": request.description,
                "unit_price": request.amount.0,
                "quantity": 1,
            }],
            "metadata": { "order_id": request.order_id },
        });
        match &plan {
            Plan::Hosted(allowed) => {
                let mut checkout = json!({
                    "type": "HostedPayment",
                    "name": request.description,
                    "allowed_payment_methods": allowed,
                    "expires_at": request.expires_at,
                });
                if let Some(url) = &self.success_url {
                    checkout["success_url"] = json!(url);
                }
                if let Some(url) = &self.failure_url {
                    checkout["failure_url"] = json!(url);
                }
                body["checkout"] = checkout;
            }
            Plan::Direct(method) => {
                body["charges"] = json!([{
                    "payment_method": {
                        "type": if *method == Method::Spei { "spei" } else { "cash" },
                        "expires_at": request.expires_at,
                    },
                }]);
            }
        }
        let response = self
            .http
            .post(format!("{}/orders", self.base_url))
            .bearer_auth(&self.private_key)
            .header("accept", ACCEPT)
            .header("idempotency-key", &request.idempotency_key)
            .json(&body);
        let bytes = self.send(response, "order creation").await.inspect_err(|e| {
            tracing::warn!(order_id = %request.order_id, error = %e, "conekta order not created");
        })?;
        let order: OrderObject = serde_json::from_slice(&bytes).map_err(|e| {
            PaymentError::Unavailable(format!("unexpected Conekta order response: {e}"))
        })?;
        link_from(order, &plan, request.expires_at)
    }

    /// Sends a request, sorting Conekta's answers into the port's errors.
    async fn send(
        &self,
        request: reqwest::RequestBuilder,
        what: &str,
    ) -> Result<Vec<u8>, PaymentError> {
        let response = request.timeout(REQUEST_TIMEOUT).send().await.map_err(|e| {
            PaymentError::Unavailable(format!("Conekta {what}: {}", e.without_url()))
        })?;
        let status = response.status();
        let bytes = response.bytes().await.map_err(|e| {
            PaymentError::Unavailable(format!("Conekta {what}: {}", e.without_url()))
        })?;
        if status.is_success() {
            return Ok(bytes.to_vec());
        }
        let message = format!("Conekta {what} ({status}): {}", error_message(&bytes));
        if status.is_server_error()
            || status == reqwest::StatusCode::TOO_MANY_REQUESTS
            || status == reqwest::StatusCode::REQUEST_TIMEOUT
        {
            Err(PaymentError::Unavailable(message))
        } else {
            Err(PaymentError::Refused(message))
        }
    }

    fn order_url(&self, order_id: &str) -> Result<String, PaymentError> {
        if !is_safe_id(order_id) {
            return Err(PaymentError::Refused(format!(
                "{order_id:?} is not a Conekta order id"
            )));
        }
        Ok(format!("{}/orders/{order_id}", self.base_url))
    }
}

#[async_trait]
impl PaymentProvider for Conekta {
    fn name(&self) -> &'static str {
        "conekta"
    }

    async fn create(&self, request: &PaymentRequest) -> Result<PaymentLink, PaymentError> {
        let customer = self.customer.as_ref().ok_or_else(|| {
            PaymentError::Refused(
                "Conekta requires the buyer's name, email and phone; none is configured".into(),
            )
        })?;
        self.create_for(request, customer).await
    }

    async fn verify(&self, callback: &Callback<'_>) -> Result<Verified, PaymentError> {
        let digest = callback
            .header("digest")
            .ok_or_else(|| PaymentError::Unauthenticated("missing digest header".into()))?;
        let bytes = BASE64
            .decode(digest.trim())
            .map_err(|_| PaymentError::Unauthenticated("the digest header is not base64".into()))?;
        let signature = Signature::try_from(bytes.as_slice()).map_err(|_| {
            PaymentError::Unauthenticated("the digest header is not a signature".into())
        })?;
        self.webhook_key
            .verify(callback.body, &signature)
            .map_err(|_| {
                PaymentError::Unauthenticated("the digest does not match the body".into())
            })?;

        let event: Event = serde_json::from_slice(callback.body)
            .map_err(|e| PaymentError::Malformed(format!("Conekta event: {e}")))?;
        if event.id.is_empty() {
            return Err(PaymentError::Malformed("Conekta event without id".into()));
        }
        let state = match event.kind.as_str() {
            "order.paid" => PaymentState::Paid,
            "order.pending_payment" => PaymentState::Pending,
            "order.expired" => PaymentState::Expired,
            "order.canceled" => PaymentState::Failed,
            "order.refunded" => PaymentState::Refunded,
            // charge.* events repeat the order.* ones without our metadata; partial refunds,
            // declines the buyer may retry, pings and the rest change nothing we track.
            _ => {
                return Ok(Verified::Ignored {
                    event_id: event.id,
                    kind: event.kind,
                })
            }
        };
        let order: OrderObject = serde_json::from_value(event.data.object).map_err(|e| {
            PaymentError::Malformed(format!("Conekta {} without an order: {e}", event.kind))
        })?;
        let method = order.method();
        Ok(Verified::Event(PaymentEvent {
            event_id: event.id,
            order_id: order
                .metadata
                .as_ref()
                .and_then(|m| text(m.get("order_id"))),
            state,
            amount: order.amount.map(Centavos),
            currency: order.currency,
            method,
            payment_ref: Some(order.id),
        }))
    }

    async fn refund(
        &self,
        payment_ref: &str,
        amount: Option<Centavos>,
    ) -> Result<(), PaymentError> {
        let url = self.order_url(payment_ref)?;
        // Conekta requires the amount; a full refund is whatever is not refunded yet.
        let amount = match amount {
            Some(a) if a.0 > 0 => a,
            Some(_) => {
                return Err(PaymentError::Refused(
                    "the refund amount must be positive".into(),
                ))
            }
            None => {
                let request = self
                    .http
                    .get(&url)
                    .bearer_auth(&self.private_key)
                    .header("accept", ACCEPT);
                let bytes = self.send(request, "order re-read").await?;
                let order: OrderObject = serde_json::from_slice(&bytes).map_err(|e| {
                    PaymentError::Unavailable(format!("unexpected Conekta order: {e}"))
                })?;
                let left = order.amount.unwrap_or(0) - order.amount_refunded.unwrap_or(0);
                if left <= 0 {
                    return Err(PaymentError::Refused(format!(
                        "order {payment_ref} has nothing left to refund"
                    )));
                }
                Centavos(left)
            }
        };
        let request = self
            .http
            .post(format!("{url}/refunds"))
            .bearer_auth(&self.private_key)
            .header("accept", ACCEPT)
            .json(&json!({ "reason": REFUND_REASON, "amount": amount.0 }));
        self.send(request, "refund").await.inspect_err(|e| {
            tracing::warn!(payment_ref, error = %e, "conekta refund failed");
        })?;
        Ok(())
    }
}

/// How an order is paid: Conekta's hosted page, or one direct charge.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Plan {
    /// `checkout.allowed_payment_methods`.
    Hosted(Vec<&'static str>),
    /// A single cash or SPEI charge (its reference or CLABE is the link).
    Direct(Method),
}

impl Plan {
    /// Cards need Conekta's page (we never see card data); so does offering several methods. One
    /// cash or SPEI method gets a direct charge, whose reference or CLABE we send in the chat.
    fn for_methods(methods: &[Method]) -> Result<Plan, PaymentError> {
        let mut allowed: Vec<&'static str> = Vec::new();
        for method in methods {
            let name = match method {
                Method::Card => "card",
                Method::Cash => "cash",
                Method::Spei => "bank_transfer",
                // Conekta has no CoDi.
                Method::CoDi => continue,
            };
            if !allowed.contains(&name) {
                allowed.push(name);
            }
        }
        match allowed.as_slice() {
            [] => Err(PaymentError::Refused(
                "Conekta offers card, OXXO cash and SPEI; none of them was requested".into(),
            )),
            ["cash"] => Ok(Plan::Direct(Method::Cash)),
            ["bank_transfer"] => Ok(Plan::Direct(Method::Spei)),
            _ => Ok(Plan::Hosted(allowed)),
        }
    }
}

/// The link in the created order: the checkout URL, the OXXO reference or the CLABE.
fn link_from(
    order: OrderObject,
    plan: &Plan,
    requested_expiry: i64,
) -> Result<PaymentLink, PaymentError> {
    let mut link = PaymentLink {
        provider_ref: order.id.clone(),
        url: None,
        cash_reference: None,
        barcode_url: None,
        clabe: None,
        expires_at: requested_expiry,
    };
    match plan {
        Plan::Hosted(_) => {
            let checkout = order.checkout.unwrap_or_default();
            link.url = Some(checkout.url.ok_or_else(|| {
                PaymentError::Unavailable(format!(
                    "Conekta order {} came without a checkout URL",
                    order.id
                ))
            })?);
            link.expires_at = checkout.expires_at.unwrap_or(requested_expiry);
        }
        Plan::Direct(method) => {
            let pm = order
                .charges
                .and_then(|c| c.data.into_iter().next())
                .and_then(|c| c.payment_method)
                .ok_or_else(|| {
                    PaymentError::Unavailable(format!(
                        "Conekta order {} came without a charge",
                        order.id
                    ))
                })?;
            link.expires_at = pm.expires_at.unwrap_or(requested_expiry);
            if *method == Method::Spei {
                let clabe = pm.clabe.ok_or_else(|| {
                    PaymentError::Unavailable(format!(
                        "Conekta order {} came without a CLABE",
                        order.id
                    ))
                })?;
                // Retrying returns the same order (idempotency key), so this is not retried.
                link.clabe = Some(Clabe::parse(&clabe).map_err(|e| {
                    PaymentError::Refused(format!(
                        "Conekta issued an invalid CLABE for order {}: {e}",
                        order.id
                    ))
                })?);
            } else {
                link.cash_reference = Some(text(pm.reference.as_ref()).ok_or_else(|| {
                    PaymentError::Unavailable(format!(
                        "Conekta order {} came without a cash reference",
                        order.id
                    ))
                })?);
                link.barcode_url = pm.barcode_url;
            }
        }
    }
    Ok(link)
}

fn parse_public_key(pem: &str) -> Result<RsaPublicKey, ConektaConfigError> {
    // Keys copied out of Conekta's JSON keep their escaped newlines.
    let pem = pem.replace("\\n", "\n");
    let pem = pem.trim();
    RsaPublicKey::from_public_key_pem(pem)
        .or_else(|_| RsaPublicKey::from_pkcs1_pem(pem))
        .map_err(|_| ConektaConfigError::WebhookKey)
}

/// Conekta's `details[].message` (falling back to the status alone).
fn error_message(body: &[u8]) -> String {
    #[derive(Deserialize)]
    struct ErrorBody {
        #[serde(default)]
        details: Vec<Detail>,
    }
    #[derive(Deserialize)]
    struct Detail {
        message: Option<String>,
    }
    let messages: Vec<String> = serde_json::from_slice::<ErrorBody>(body)
        .map(|b| b.details.into_iter().filter_map(|d| d.message).collect())
        .unwrap_or_default();
    if messages.is_empty() {
        "no details".to_owned()
    } else {
        messages.join("; ")
    }
}

/// A JSON string, or a number's text (references arrive both ways).
fn text(value: Option<&Value>) -> Option<String> {
    match value? {
        Value::String(s) if !s.is_empty() => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

#[derive(Debug, Deserialize)]
struct Event {
    #[serde(default)]
    id: String,
    #[serde(rename = "type", default)]
    kind: String,
    #[serde(default)]
    data: EventData,
}

#[derive(Debug, Default, Deserialize)]
struct EventData {
    #[serde(default)]
    object: Value,
}

/// The parts of a Conekta order we read.
#[derive(Debug, Deserialize)]
struct OrderObject {
    id: String,
    amount: Option<i64>,
    amount_refunded: Option<i64>,
    currency: Option<String>,
    metadata: Option<Value>,
    checkout: Option<CheckoutObject>,
    charges: Option<ChargeList>,
}

impl OrderObject {
    /// How the order was paid, from its first charge.
    fn method(&self) -> Option<Method> {
        let pm = self
            .charges
            .as_ref()?
            .data
            .first()?
            .payment_method
            .as_ref()?;
        match (pm.object.as_deref(), pm.kind.as_deref()) {
            (Some("card_payment"), _) | (_, Some("card" | "credit" | "debit")) => {
                Some(Method::Card)
            }
            (Some("cash_payment"), _) | (_, Some("cash" | "oxxo")) => Some(Method::Cash),
            (Some("bank_transfer_payment"), _) | (_, Some("spei")) => Some(Method::Spei),
            _ => None,
        }
    }
}

#[derive(Debug, Default, Deserialize)]
struct CheckoutObject {
    url: Option<String>,
    expires_at: Option<i64>,
}

#[derive(Debug, Deserialize)]
struct ChargeList {
    #[serde(default)]
    data: Vec<ChargeObject>,
}

#[derive(Debug, Deserialize)]
struct ChargeObject {
    payment_method: Option<PaymentMethodObject>,
}

#[derive(Debug, Deserialize)]
struct PaymentMethodObject {
    #[serde(rename = "type")]
    kind: Option<String>,
    object: Option<String>,
    reference: Option<Value>,
    barcode_url: Option<String>,
    clabe: Option<String>,
    expires_at: Option<i64>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn card_or_several_methods_go_to_the_hosted_page_and_one_offline_method_is_direct() {
        use Method::*;
        assert_eq!(
            Plan::for_methods(&[Card]).ok(),
            Some(Plan::Hosted(vec!["card"]))
        );
        assert_eq!(
            Plan::for_methods(&[Cash, Spei, Cash]).ok(),
            Some(Plan::Hosted(vec!["cash", "bank_transfer"]))
        );
        assert_eq!(
            Plan::for_methods(&[Cash, CoDi]).ok(),
            Some(Plan::Direct(Cash))
        );
        assert_eq!(Plan::for_methods(&[Spei]).ok(), Some(Plan::Direct(Spei)));
        assert!(matches!(
            Plan::for_methods(&[CoDi]),
            Err(PaymentError::Refused(_))
        ));
        assert!(matches!(
            Plan::for_methods(&[]),
            Err(PaymentError::Refused(_))
        ));
    }

    #[test]
    fn ids_with_path_characters_are_not_safe() {
        assert!(is_safe_id("ord_2tNDzhA4Ak4ZAt1ZF"));
        assert!(!is_safe_id("../v1/customers"));
        assert!(!is_safe_id("ord?x=1"));
        assert!(!is_safe_id(""));
    }
}
