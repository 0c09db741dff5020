//! Secrets a merchant gives us (provider credentials, CSD, customers' fiscal data) as JSON sealed
//! through Keys, bound to a context so that one merchant's envelope never opens as another's.

use crate::platform::error::AppError;
use crate::platform::Deps;
use serde::de::DeserializeOwned;
use serde::Serialize;

/// Seals `value` as JSON for `context`.
pub(crate) async fn seal_json<T: Serialize>(
    deps: &Deps,
    value: &T,
    context: &str,
) -> Result<Vec<u8>, AppError> {
    let plain = serde_json::to_vec(value).map_err(|e| AppError::Internal(e.into()))?;
    deps.keys
        .seal(&plain, context)
        .await
        .map_err(|e| AppError::Internal(e.into()))
}

/// Opens what [`seal_json`] sealed for `context`.
pub(crate) async fn open_json<T: DeserializeOwned>(
    deps: &Deps,
    sealed: &[u8],
    context: &str,
) -> Result<T, AppError> {
    let plain = deps
        .keys
        .open(sealed, context)
        .await
        .map_err(|e| AppError::Internal(e.into()))?;
    serde_json::from_slice(&plain).map_err(|e| AppError::Internal(e.into()))
}

/// What a sealed value is, and so the context it is bound to. Every context is spelled here, so a
/// move between engines (`flows::upkeep::migrate`) can name the context of every sealed value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sealing<'a> {
    /// Conversation message bodies and staff notes.
    Conversation,
    /// The merchant's payment provider credentials.
    Payments,
    /// The signing secret of the merchant's webhook.
    Webhook,
    /// The merchant's WhatsApp Cloud API token.
    WhatsappToken,
    /// The CSD and PAC credentials.
    Invoicing,
    /// The receptor an order's invoice was requested for.
    InvoiceReceptor { order_id: &'a str },
    /// A customer's saved fiscal data, bound to the customer as keys name them (the pseudonym;
    /// the WhatsApp id in what an earlier version sealed).
    Fiscal { customer: &'a str },
    /// The invoice data a customer is giving in the chat (bound like `Fiscal`).
    InvoiceForm { customer: &'a str },
    /// An inbound message too long for the queue, kept in the document store.
    Inbound,
    /// A staff member's second-factor secret.
    Totp { user_id: &'a str },
}

impl Sealing<'_> {
    /// The context string the value is sealed under.
    pub fn context(&self, merchant: &impl std::fmt::Display) -> String {
        match self {
            Sealing::Conversation => format!("merchant:{merchant}:conversation"),
            Sealing::Payments => format!("merchant:{merchant}:payments"),
            Sealing::Webhook => format!("merchant:{merchant}:webhook"),
            Sealing::WhatsappToken => format!("merchant:{merchant}:whatsapp-token"),
            Sealing::Invoicing => format!("merchant:{merchant}:invoicing"),
            Sealing::InvoiceReceptor { order_id } => {
                format!("merchant:{merchant}:invoice-receptor:{order_id}")
            }
            Sealing::Fiscal { customer } => format!("merchant:{merchant}:fiscal:{customer}"),
            Sealing::InvoiceForm { customer } => {
                format!("merchant:{merchant}:invoice-form:{customer}")
            }
            Sealing::Inbound => format!("inbound:{merchant}"),
            Sealing::Totp { user_id } => format!("merchant:{merchant}:totp:{user_id}"),
        }
    }

    /// Every context a value of `merchant` could be sealed under, given the ids (segments of the
    /// item's key) it may be bound to.
    pub fn candidates(merchant: &impl std::fmt::Display, ids: &[&str]) -> Vec<String> {
        let mut out: Vec<String> = [
            Sealing::Conversation,
            Sealing::Payments,
            Sealing::Webhook,
            Sealing::WhatsappToken,
            Sealing::Invoicing,
            Sealing::Inbound,
        ]
        .iter()
        .map(|s| s.context(merchant))
        .collect();
        for id in ids {
            for s in [
                Sealing::InvoiceReceptor { order_id: id },
                Sealing::Fiscal { customer: id },
                Sealing::InvoiceForm { customer: id },
                Sealing::Totp { user_id: id },
            ] {
                out.push(s.context(merchant));
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn contexts_bind_the_merchant_and_the_id() {
        assert_eq!(
            Sealing::Fiscal { customer: "521" }.context(&"m1"),
            "merchant:m1:fiscal:521"
        );
        assert_eq!(Sealing::Inbound.context(&"m1"), "inbound:m1");
        let all = Sealing::candidates(&"m1", &["O1", "521"]);
        assert_eq!(all.len(), 6 + 2 * 4);
        assert!(all.contains(&"merchant:m1:totp:521".to_owned()));
        assert!(all.contains(&"merchant:m1:invoice-receptor:O1".to_owned()));
        assert!(all.contains(&"merchant:m1:invoice-form:521".to_owned()));
        let unique: std::collections::BTreeSet<_> = all.iter().collect();
        assert_eq!(unique.len(), all.len());
    }
}
