//! The sandbox provider: a local checkout page (served by the local stack) that posts a signed callback,
//! so the whole payment flow works with no provider account. Its signature works like Stripe's:
//! `x-sandbox-signature: t=<unix>,v1=<hex HMAC-SHA256 of "{t}.{body}">`, 300 s tolerance.

use crate::port::*;
use async_trait::async_trait;
use hmac::{Hmac, Mac};
use mostrador_core::money::Centavos;
use serde::{Deserialize, Serialize};
use sha2::Sha256;

/// Largest clock skew accepted on a callback.
pub const TOLERANCE_SECS: i64 = 300;

/// The sandbox provider.
#[derive(Clone)]
pub struct Sandbox {
    secret: Vec<u8>,
    /// Base URL of the local stack (`MOSTRADOR_PUBLIC_URL`).
    public_url: String,
}

impl std::fmt::Debug for Sandbox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sandbox")
            .field("public_url", &self.public_url)
            .finish()
    }
}

/// What the checkout page reports.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SandboxEvent {
    pub id: String,
    /// `payment.paid`, `payment.pending`, `payment.failed`, `payment.expired`, `payment.refunded`.
    #[serde(rename = "type")]
    pub kind: String,
    pub order_id: String,
    /// Centavos.
    pub amount: i64,
    pub currency: String,
    pub method: Method,
}

impl Sandbox {
    /// A sandbox provider signing with `secret`.
    pub fn new(secret: impl Into<Vec<u8>>, public_url: impl Into<String>) -> Self {
        Self {
            secret: secret.into(),
            public_url: public_url.into(),
        }
    }

    /// The header the checkout page sends for `body` at `t`.
    pub fn sign(&self, body: &[u8], t: i64) -> String {
        format!("t={t},v1={}", hex::encode(self.mac(body, t)))
    }

    fn mac(&self, body: &[u8], t: i64) -> Vec<u8> {
        let mut mac = match Hmac::<Sha256>::new_from_slice(&self.secret) {
            Ok(m) => m,
            Err(_) => return Vec::new(),
        };
        mac.update(format!("{t}.").as_bytes());
        mac.update(body);
        mac.finalize().into_bytes().to_vec()
    }
}

#[async_trait]
impl PaymentProvider for Sandbox {
    fn name(&self) -> &'static str {
        "sandbox"
    }

    async fn create(&self, request: &PaymentRequest) -> Result<PaymentLink, PaymentError> {
        if request.amount.0 <= 0 {
            return Err(PaymentError::Refused("amount must be positive".into()));
        }
        Ok(PaymentLink {
            provider_ref: format!("sbx_{}", request.order_id),
            // The checkout page learns the merchant from the notification URL's `m` parameter.
            url: Some(match request.notification_url.split_once('?') {
                Some((_, query)) => format!(
                    "{}/sandbox/pay/{}?{query}",
                    self.public_url, request.order_id
                ),
                None => format!("{}/sandbox/pay/{}", self.public_url, request.order_id),
            }),
            cash_reference: None,
            barcode_url: None,
            clabe: None,
            expires_at: request.expires_at,
        })
    }

    async fn verify(&self, callback: &Callback<'_>) -> Result<Verified, PaymentError> {
        let header = callback
            .header("x-sandbox-signature")
            .ok_or_else(|| PaymentError::Unauthenticated("missing x-sandbox-signature".into()))?;
        let mut t = None;
        let mut sigs = Vec::new();
        for part in header.split(',') {
            match part.trim().split_once('=') {
                Some(("t", v)) => t = v.parse::<i64>().ok(),
                Some(("v1", v)) => sigs.push(v.to_owned()),
                _ => {}
            }
        }
        let t =
            t.ok_or_else(|| PaymentError::Unauthenticated("signature without timestamp".into()))?;
        if (callback.now - t).abs() > TOLERANCE_SECS {
            return Err(PaymentError::Unauthenticated("stale signature".into()));
        }
        let expected = self.mac(callback.body, t);
        let mut mac_ok = false;
        for sig in &sigs {
            if let Ok(bytes) = hex::decode(sig) {
                let mut mac = Hmac::<Sha256>::new_from_slice(&self.secret)
                    .map_err(|_| PaymentError::Unauthenticated("bad key".into()))?;
                mac.update(format!("{t}.").as_bytes());
                mac.update(callback.body);
                mac_ok |= mac.verify_slice(&bytes).is_ok();
            }
        }
        if !mac_ok || expected.is_empty() {
            return Err(PaymentError::Unauthenticated(
                "signature does not match".into(),
            ));
        }
        let event: SandboxEvent = serde_json::from_slice(callback.body)
            .map_err(|e| PaymentError::Malformed(e.to_string()))?;
        let state = match event.kind.as_str() {
            "payment.paid" => PaymentState::Paid,
            "payment.pending" => PaymentState::Pending,
            "payment.failed" => PaymentState::Failed,
            "payment.expired" => PaymentState::Expired,
            "payment.refunded" => PaymentState::Refunded,
            other => {
                return Ok(Verified::Ignored {
                    event_id: event.id.clone(),
                    kind: other.to_owned(),
                })
            }
        };
        Ok(Verified::Event(PaymentEvent {
            event_id: event.id,
            order_id: Some(event.order_id.clone()),
            state,
            amount: Some(Centavos(event.amount)),
            currency: Some(event.currency),
            method: Some(event.method),
            payment_ref: Some(format!("sbx_{}", event.order_id)),
        }))
    }

    async fn refund(
        &self,
        _payment_ref: &str,
        _amount: Option<Centavos>,
    ) -> Result<(), PaymentError> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event() -> Vec<u8> {
        serde_json::to_vec(&SandboxEvent {
            id: "evt_1".into(),
            kind: "payment.paid".into(),
            order_id: "O1".into(),
            amount: 20_050,
            currency: "MXN".into(),
            method: Method::Card,
        })
        .unwrap_or_default()
    }

    fn cb<'a>(body: &'a [u8], header: Option<String>, now: i64) -> Callback<'a> {
        Callback {
            body,
            headers: header
                .into_iter()
                .map(|h| ("x-sandbox-signature".to_owned(), h))
                .collect(),
            query: "",
            now,
        }
    }

    #[tokio::test]
    async fn signed_event_verifies_and_forged_stale_or_unsigned_do_not() {
        let sandbox = Sandbox::new(b"secret".to_vec(), "http://127.0.0.1:3000");
        let body = event();
        let now = 1_795_262_400;
        let ok = sandbox
            .verify(&cb(&body, Some(sandbox.sign(&body, now)), now + 10))
            .await
            .expect("valid");
        assert!(matches!(
            ok,
            Verified::Event(PaymentEvent {
                state: PaymentState::Paid,
                amount: Some(Centavos(20_050)),
                ..
            })
        ));
        let other = Sandbox::new(b"other".to_vec(), "");
        for (name, c) in [
            ("forged", cb(&body, Some(other.sign(&body, now)), now)),
            (
                "stale",
                cb(&body, Some(sandbox.sign(&body, now - 301)), now),
            ),
            ("unsigned", cb(&body, None, now)),
        ] {
            assert!(
                matches!(
                    sandbox.verify(&c).await,
                    Err(PaymentError::Unauthenticated(_))
                ),
                "{name}"
            );
        }
        let mut tampered = body.clone();
        tampered[10] ^= 1;
        assert!(sandbox
            .verify(&cb(&tampered, Some(sandbox.sign(&body, now)), now))
            .await
            .is_err());
    }
}
