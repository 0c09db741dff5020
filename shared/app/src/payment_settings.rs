//! A merchant's payment provider and its credentials, sealed through Keys and never returned.

use crate::error::{ApiError, FieldError};
use crate::tenant::{MerchantId, TenantTable};
use crate::Deps;
use mostrador_payments::mercadopago::MercadoPago;
use mostrador_payments::stripe::Stripe;
use mostrador_payments::PaymentProvider;
use mostrador_store::{Item, Key, Table, Value};
use serde::{Deserialize, Serialize};

/// The credentials of one provider.
#[derive(Clone, Serialize, Deserialize)]
#[serde(tag = "provider", rename_all = "snake_case", deny_unknown_fields)]
pub enum Credentials {
    /// Secret key (`sk_…` or restricted `rk_…`) and the webhook endpoint's signing secret (`whsec_…`).
    Stripe {
        secret_key: String,
        webhook_secret: String,
    },
    /// Access token (`APP_USR-…` or `TEST-…`) and the application's webhook secret.
    Mercadopago {
        access_token: String,
        webhook_secret: String,
    },
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Credentials({} <redacted>)", self.name())
    }
}

impl Credentials {
    /// The provider's name, as in its callback path.
    pub fn name(&self) -> &'static str {
        match self {
            Credentials::Stripe { .. } => "stripe",
            Credentials::Mercadopago { .. } => "mercadopago",
        }
    }

    fn validate(&self) -> Result<(), ApiError> {
        let mut errors = Vec::new();
        match self {
            Credentials::Stripe {
                secret_key,
                webhook_secret,
            } => {
                if !(secret_key.starts_with("sk_") || secret_key.starts_with("rk_")) {
                    errors.push(FieldError::new(
                        "secret_key",
                        "a Stripe secret key (sk_… or rk_…)",
                    ));
                }
                if !webhook_secret.starts_with("whsec_") {
                    errors.push(FieldError::new(
                        "webhook_secret",
                        "the endpoint's signing secret (whsec_…)",
                    ));
                }
            }
            Credentials::Mercadopago {
                access_token,
                webhook_secret,
            } => {
                if !(access_token.starts_with("APP_USR-") || access_token.starts_with("TEST-")) {
                    errors.push(FieldError::new(
                        "access_token",
                        "a Mercado Pago access token (APP_USR-… or TEST-…)",
                    ));
                }
                if webhook_secret.len() < 16 {
                    errors.push(FieldError::new(
                        "webhook_secret",
                        "the application's webhook secret",
                    ));
                }
            }
        }
        if errors.is_empty() {
            Ok(())
        } else {
            Err(ApiError::Validation(errors))
        }
    }

    /// The adapter for these credentials.
    pub fn provider(&self, http: reqwest::Client) -> Box<dyn PaymentProvider> {
        match self.clone() {
            Credentials::Stripe {
                secret_key,
                webhook_secret,
            } => Box::new(Stripe::new(http, secret_key, webhook_secret)),
            Credentials::Mercadopago {
                access_token,
                webhook_secret,
            } => Box::new(MercadoPago::new(http, access_token, webhook_secret)),
        }
    }
}

fn key() -> Key {
    Key::new("SETTINGS", "PAYMENTS")
}

fn context(merchant: &MerchantId) -> String {
    format!("merchant:{merchant}:payments")
}

/// Stores the merchant's provider credentials (replacing any before).
pub async fn save(
    deps: &Deps,
    merchant: &MerchantId,
    credentials: &Credentials,
) -> Result<(), ApiError> {
    credentials.validate()?;
    let plain = serde_json::to_vec(credentials).map_err(|e| ApiError::Internal(e.into()))?;
    let sealed = deps
        .keys
        .seal(&plain, &context(merchant))
        .await
        .map_err(|e| ApiError::Internal(e.into()))?;
    let table = TenantTable::new(deps.table.clone(), merchant);
    table
        .put(
            Item::new(&key())
                .with("provider", credentials.name())
                .with("sealed", Value::B(sealed)),
            None,
        )
        .await?;
    tracing::info!(merchant = %merchant, provider = credentials.name(), "payment provider configured");
    Ok(())
}

/// The merchant's provider credentials, if configured.
pub async fn load(deps: &Deps, merchant: &MerchantId) -> Result<Option<Credentials>, ApiError> {
    let table = TenantTable::new(deps.table.clone(), merchant);
    let Some(item) = table.get(&key()).await? else {
        return Ok(None);
    };
    let Some(Value::B(sealed)) = item.get("sealed") else {
        return Ok(None);
    };
    let plain = deps
        .keys
        .open(sealed, &context(merchant))
        .await
        .map_err(|e| ApiError::Internal(e.into()))?;
    serde_json::from_slice(&plain)
        .map(Some)
        .map_err(|e| ApiError::Internal(e.into()))
}

/// The name of the configured provider (for the API; never the credentials).
pub async fn configured(deps: &Deps, merchant: &MerchantId) -> Result<Option<String>, ApiError> {
    let table = TenantTable::new(deps.table.clone(), merchant);
    Ok(table
        .get(&key())
        .await?
        .and_then(|i| i.get_s("provider").map(str::to_owned)))
}
