//! The PaymentProvider port.

use async_trait::async_trait;
use mostrador_core::clabe::Clabe;
use mostrador_core::money::Centavos;
use serde::{Deserialize, Serialize};

/// Ways a Mexican customer pays.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Method {
    Card,
    /// Cash at OXXO or other stores, with a reference.
    Cash,
    /// SPEI transfer to a CLABE issued for the order.
    Spei,
    CoDi,
}

/// What to charge.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PaymentRequest {
    /// Our order id: the provider's reference (client_reference_id, external_reference, order_id…).
    pub order_id: String,
    pub amount: Centavos,
    /// Always "MXN" today.
    pub currency: String,
    /// What the customer sees ("Pedido 1A2B3C — Farmacia San Juan").
    pub description: String,
    pub methods: Vec<Method>,
    /// When the link or reference stops working (aligned with the stock reservation), epoch seconds.
    pub expires_at: i64,
    /// Where the provider posts callbacks.
    pub notification_url: String,
    /// Idempotency key for the creation call (retries never create two links).
    pub idempotency_key: String,
}

/// What the customer gets to pay with.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PaymentLink {
    /// The provider's id of the session, preference, order or charge.
    pub provider_ref: String,
    /// A checkout URL, when the provider hosts one.
    pub url: Option<String>,
    /// A cash reference (OXXO), when issued.
    pub cash_reference: Option<String>,
    pub barcode_url: Option<String>,
    /// A CLABE for SPEI, when issued (check digit verified).
    pub clabe: Option<Clabe>,
    pub expires_at: i64,
}

/// The raw callback as it arrived.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Callback<'a> {
    /// Exact received bytes (after base64-decoding an API Gateway body), never re-serialized.
    pub body: &'a [u8],
    /// Headers, names lower-case.
    pub headers: Vec<(String, String)>,
    /// The query string, as received (Mercado Pago puts `data.id` there).
    pub query: &'a str,
    /// Now, epoch seconds (for timestamp tolerance).
    pub now: i64,
}

impl Callback<'_> {
    /// A header's value by lower-case name.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// The state a verified event reports for one payment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PaymentState {
    /// Reference or voucher issued, waiting for the money.
    Pending,
    Paid,
    Failed,
    Expired,
    Refunded,
    /// The customer's bank took the payment back (a dispute, "contracargo"): not a refund the
    /// merchant made; the merchant answers it with the provider.
    ChargedBack,
}

/// A verified provider event, in our terms.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PaymentEvent {
    /// The provider's event id (deduplication key).
    pub event_id: String,
    /// Our order id as the provider echoes it.
    pub order_id: Option<String>,
    pub state: PaymentState,
    /// What was actually paid, when known (from a signed body or a re-read).
    pub amount: Option<Centavos>,
    pub currency: Option<String>,
    pub method: Option<Method>,
    /// The provider's payment id (for refunds and re-reads).
    pub payment_ref: Option<String>,
}

/// What a verified callback asks of us.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verified {
    /// A payment event to apply.
    Event(PaymentEvent),
    /// A handshake to answer with this body (Openpay's verification), nothing to apply.
    Handshake { answer: String },
    /// Signed and valid, but about something we do not act on.
    Ignored { event_id: String, kind: String },
}

/// Errors of the port.
#[derive(Debug, thiserror::Error)]
pub enum PaymentError {
    /// Missing, forged or stale signature/credentials: answer 401, change nothing.
    #[error("callback authentication failed: {0}")]
    Unauthenticated(String),
    /// Authentic but unreadable: answer 400.
    #[error("malformed callback: {0}")]
    Malformed(String),
    /// The provider refused our request (bad credentials, invalid amount…): not retried as is.
    #[error("provider refused: {0}")]
    Refused(String),
    /// The provider is unreachable or failing: retry later.
    #[error("provider unavailable: {0}")]
    Unavailable(String),
}

/// A payment provider, configured with one merchant's credentials.
#[async_trait]
pub trait PaymentProvider: Send + Sync {
    /// `stripe`, `mercadopago`, `conekta`, `openpay` or `sandbox` (the path segment of its callbacks).
    fn name(&self) -> &'static str;
    /// Creates the link or reference for an order.
    async fn create(&self, request: &PaymentRequest) -> Result<PaymentLink, PaymentError>;
    /// Verifies a callback exactly as the provider specifies (re-reading the payment where the body is
    /// unsigned or carries no amount) and translates it.
    async fn verify(&self, callback: &Callback<'_>) -> Result<Verified, PaymentError>;
    /// Refunds a payment in full (`amount: None`) or in part.
    async fn refund(&self, payment_ref: &str, amount: Option<Centavos>)
        -> Result<(), PaymentError>;
}
