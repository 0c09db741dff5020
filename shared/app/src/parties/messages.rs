//! What travels on the queues: one typed envelope per queue.

use serde::{Deserialize, Serialize};

/// A customer's WhatsApp message on the inbound queue (group `{phone_number_id}:{wa_id}`).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct InboundEnvelope {
    pub merchant_id: String,
    pub branch_id: String,
    pub phone_number_id: String,
    /// Normalized customer WhatsApp id.
    pub wa_id: String,
    pub wamid: String,
    /// Unix seconds, from Meta.
    pub timestamp: i64,
    pub profile_name: Option<String>,
    /// The sender's phone number (normalized) when the customer is known by their business-scoped
    /// user id; `None` when the number is the customer id or Meta withheld it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone: Option<String>,
    /// The sender's WhatsApp username, when they adopted one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    /// The message exactly as Meta sent it (raw JSON text: prices keep their decimals); read it with
    /// `mostrador_whatsapp::webhook::parse_message`.
    pub message: Box<serde_json::value::RawValue>,
}

/// Why a message is sent, which decides the rules it is held to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Category {
    /// A reply inside the customer's conversation (free-form, inside the 24-hour window).
    Service,
    /// Order, payment and account updates the customer expects.
    Utility,
    /// Promotions: opt-in required, held during quiet hours.
    Marketing,
    /// One-time codes.
    Authentication,
    /// Fraud and security alerts: skip quiet hours, never an opt-out.
    Security,
}

impl Category {
    /// Whether the business starts it (counts against the daily cap), as opposed to a reply.
    pub(crate) fn business_initiated(self) -> bool {
        self != Category::Service
    }

    /// The name used in records and reports.
    pub fn as_str(self) -> &'static str {
        match self {
            Category::Service => "service",
            Category::Utility => "utility",
            Category::Marketing => "marketing",
            Category::Authentication => "authentication",
            Category::Security => "security",
        }
    }
}

/// A message to send on the outbound queue (group = recipient).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OutboundEnvelope {
    /// Our id of this outbound message: it is sent at most once per id.
    pub id: String,
    pub merchant_id: String,
    /// The merchant's WhatsApp number that sends it.
    pub phone_number_id: String,
    pub category: Category,
    /// The Cloud API message, recipient included, exactly as Meta will receive it.
    pub message: mostrador_whatsapp::client::OutgoingMessage,
    /// A notification's kind (`transaction_alert`…): which daily ceiling it counts against
    /// (`mostrador_core::caps`). Absent for replies and the shop's own notices.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
}

impl OutboundEnvelope {
    /// Queues the message for the sender: FIFO per recipient (grouped by the recipient's pseudonym,
    /// so the queue's metadata names no number), deduplicated by `id`.
    pub async fn queue(
        &self,
        deps: &crate::platform::Deps,
    ) -> Result<(), crate::platform::error::AppError> {
        let body = serde_json::to_string(self)
            .map_err(|e| crate::platform::error::AppError::Internal(e.into()))?;
        deps.queues
            .outbound
            .send(
                mostrador_queue::OutgoingMessage::new(body)
                    .group(deps.pseudonyms.of(&self.message.to))
                    .dedup(self.id.clone()),
            )
            .await?;
        Ok(())
    }
}

/// An invoice to build and stamp on the invoicing queue: an order's individual invoice, or (with
/// `global`) a branch's global invoice, whose id travels in `order_id`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct InvoiceRequest {
    pub merchant_id: String,
    pub order_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub global: Option<GlobalPeriod>,
    /// With `egreso`: a nota de crédito (CFDI de egreso) for the order named in it; its id travels
    /// in `order_id`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub egreso: Option<EgresoFor>,
    /// With `reissue`: a new invoice for an order whose invoice was cancelled or is being replaced;
    /// its id (`{order}-S{n}`) travels in `order_id`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reissue: Option<Reissue>,
    /// Ask the PAC again about the cancellation of invoice `order_id`, which SAT had "en proceso"
    /// (waiting for the receptor's acceptance).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub follow_cancellation: bool,
}

/// A new invoice for an already invoiced order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reissue {
    /// The order invoiced.
    pub order_id: String,
    /// The stamped invoice it substitutes (our id and UUID): the new one relates it with relation
    /// 04 and, once stamped, it is cancelled with motivo 01. `None` after a cancellation with
    /// another motivo: a new invoice without relation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replaces_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replaces_uuid: Option<String>,
}

/// What a nota de crédito corrects.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EgresoFor {
    /// The order whose amount is given back or taken out.
    pub order_id: String,
    /// The invoice it relates to (our id) and its UUID.
    pub related_id: String,
    pub related_uuid: String,
    /// `global_adjustment`: the sale was invoiced individually after its global invoice (receptor:
    /// público en general with the global's period, relation 01); `refund`: the order was refunded
    /// (receptor: the customer of the related invoice, relation 03); `global_refund`: a ticket of a
    /// global invoice was refunded (receptor: público en general with the global's period,
    /// relation 03).
    pub reason: String,
    /// A partial refund: its number on the order (the nota's id ends in `R{n}`) and the base and
    /// IVA per tax treatment it gives back. Absent for a refund of the whole order.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub partial: Option<PartialRefund>,
}

/// What a partial refund gives back, for its nota de crédito.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PartialRefund {
    pub number: u32,
    pub taxes: Vec<TaxPart>,
}

/// Base and IVA of one tax treatment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct TaxPart {
    pub treatment: mostrador_core::tax::TaxTreatment,
    pub base: mostrador_core::money::Centavos,
    pub iva: mostrador_core::money::Centavos,
}

/// The sales a global invoice covers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GlobalPeriod {
    pub branch_id: String,
    /// The local days (YYYY-MM-DD, Mexico City) of the period.
    pub days: Vec<String>,
    /// SAT c_Periodicidad: 01 daily, 02 weekly, 03 fortnightly, 04 monthly.
    pub periodicidad: String,
    /// SAT c_Meses of the period.
    pub meses: String,
    pub anio: i32,
}

/// What happened to an outbound message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum Outcome {
    /// Accepted by the Cloud API (delivery and reads arrive as status webhooks).
    Sent { wamid: String },
    /// Sandbox mode: stored in the outbox instead of sent.
    Sandbox { wamid: String },
    /// Not sent because a rule forbids it.
    Refused { reason: String },
    /// Meta refused it for good.
    Failed { code: Option<i64>, message: String },
    /// Held until quiet hours end.
    Deferred { until: String },
}

impl Outcome {
    /// The outcome's name in records and reports.
    pub fn name(&self) -> &'static str {
        match self {
            Outcome::Sent { .. } => "sent",
            Outcome::Sandbox { .. } => "sandbox",
            Outcome::Refused { .. } => "refused",
            Outcome::Failed { .. } => "failed",
            Outcome::Deferred { .. } => "deferred",
        }
    }
}
