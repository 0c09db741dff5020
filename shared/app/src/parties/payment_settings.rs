//! A merchant's payment provider and its credentials, sealed through Keys and never returned.

use crate::platform::config::Mode;
use crate::platform::error::{AppError, FieldError};
use crate::platform::tenant::{MerchantId, TenantTable};
use crate::platform::Deps;
use mostrador_payments::conekta::{Conekta, ConektaCustomer};
use mostrador_payments::mercadopago::MercadoPago;
use mostrador_payments::openpay::{self, Openpay, OpenpayConfigError, OpenpayCustomer};
use mostrador_payments::stripe::Stripe;
use mostrador_payments::{Method, PaymentProvider};
use mostrador_store::{Item, Key, Table, Value};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The credentials of one provider, and the payment methods the merchant offers through it.
#[derive(Clone, Serialize, Deserialize)]
#[serde(tag = "provider", rename_all = "snake_case", deny_unknown_fields)]
pub enum Credentials {
    /// Secret key (`sk_…` or restricted `rk_…`) and the webhook endpoint's signing secret (`whsec_…`).
    Stripe {
        secret_key: String,
        webhook_secret: String,
        #[serde(default)]
        methods: Vec<Method>,
    },
    /// Access token (`APP_USR-…` or `TEST-…`) and the application's webhook secret.
    Mercadopago {
        access_token: String,
        webhook_secret: String,
        #[serde(default)]
        methods: Vec<Method>,
    },
    /// Private API key (`key_…`), the webhook public key in PEM (from `POST /webhook_keys`), and the
    /// contact Conekta mails vouchers to (WhatsApp buyers rarely give an email: the merchant's own).
    Conekta {
        private_key: String,
        webhook_public_key: String,
        customer: ConektaCustomer,
        #[serde(default)]
        methods: Vec<Method>,
    },
    /// Merchant id, private key (`sk_…`), the Basic credentials registered with the webhook, the
    /// account kind (`sandbox: true` for Openpay's sandbox), and for cards the page Openpay's card
    /// form returns to and a buyer contact (Openpay's card form requires one).
    Openpay {
        merchant_id: String,
        private_key: String,
        webhook_user: String,
        webhook_password: String,
        #[serde(default)]
        sandbox: bool,
        #[serde(default)]
        redirect_url: Option<String>,
        #[serde(default)]
        customer: Option<OpenpayCustomer>,
        #[serde(default)]
        methods: Vec<Method>,
    },
    /// No real provider: simulated payments, for trying mostrador out and for integration tests.
    /// Callbacks to `/webhooks/payments/sandbox` are signed with this merchant's own sandbox secret
    /// (returned when sandbox mode is chosen) and pay only orders whose link the sandbox issued.
    Sandbox {
        #[serde(default)]
        methods: Vec<Method>,
    },
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Credentials({} <redacted>)", self.name())
    }
}

/// What a merchant offers when they chose nothing: card, OXXO cash and SPEI.
pub const DEFAULT_METHODS: [Method; 3] = [Method::Card, Method::Cash, Method::Spei];

fn method_name(m: Method) -> &'static str {
    match m {
        Method::Card => "card",
        Method::Cash => "cash",
        Method::Spei => "spei",
        Method::CoDi => "codi",
    }
}

impl Credentials {
    /// The provider's name, as in its callback path.
    pub fn name(&self) -> &'static str {
        match self {
            Credentials::Stripe { .. } => "stripe",
            Credentials::Mercadopago { .. } => "mercadopago",
            Credentials::Conekta { .. } => "conekta",
            Credentials::Openpay { .. } => "openpay",
            Credentials::Sandbox { .. } => "sandbox",
        }
    }

    /// The methods offered, in the merchant's order of preference.
    pub fn methods(&self) -> Vec<Method> {
        let chosen = match self {
            Credentials::Stripe { methods, .. }
            | Credentials::Mercadopago { methods, .. }
            | Credentials::Conekta { methods, .. }
            | Credentials::Openpay { methods, .. }
            | Credentials::Sandbox { methods } => methods,
        };
        if chosen.is_empty() {
            match self {
                // One Openpay charge carries one method: a reference that works in any OXXO first.
                Credentials::Openpay { redirect_url, .. } if redirect_url.is_none() => {
                    vec![Method::Cash, Method::Spei]
                }
                _ => DEFAULT_METHODS.to_vec(),
            }
        } else {
            chosen.clone()
        }
    }

    fn validate(&self) -> Result<(), AppError> {
        let mut errors = Vec::new();
        let methods = self.methods();
        let supported: &[Method] = match self {
            Credentials::Openpay { .. } => {
                &[Method::Card, Method::Cash, Method::Spei, Method::CoDi]
            }
            _ => &DEFAULT_METHODS,
        };
        for m in &methods {
            if !supported.contains(m) {
                errors.push(FieldError::new(
                    "methods",
                    format!("{} does not offer {} here", self.name(), method_name(*m)),
                ));
            }
        }
        let mut seen = std::collections::HashSet::new();
        if !methods.iter().all(|m| seen.insert(*m)) {
            errors.push(FieldError::new("methods", "a method is listed twice"));
        }
        match self {
            Credentials::Stripe {
                secret_key,
                webhook_secret,
                ..
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
                ..
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
            Credentials::Conekta {
                private_key,
                webhook_public_key,
                customer,
                ..
            } => {
                if !private_key.starts_with("key_") {
                    errors.push(FieldError::new(
                        "private_key",
                        "a Conekta private API key (key_…)",
                    ));
                }
                if Conekta::new(reqwest::Client::new(), "key_check", webhook_public_key).is_err() {
                    errors.push(FieldError::new(
                        "webhook_public_key",
                        "the webhook key's RSA public key in PEM, as Conekta returns it",
                    ));
                }
                if customer.name.trim().is_empty() {
                    errors.push(FieldError::new("customer.name", "required"));
                }
                if !customer.email.contains('@') {
                    errors.push(FieldError::new("customer.email", "an email address"));
                }
                if customer.phone.chars().filter(char::is_ascii_digit).count() < 10 {
                    errors.push(FieldError::new(
                        "customer.phone",
                        "a phone number of 10+ digits",
                    ));
                }
            }
            Credentials::Openpay {
                merchant_id,
                private_key,
                webhook_user,
                webhook_password,
                redirect_url,
                customer,
                ..
            } => {
                if let Err(e) = Openpay::new(
                    reqwest::Client::new(),
                    merchant_id.as_str(),
                    private_key.as_str(),
                    webhook_user,
                    webhook_password,
                ) {
                    let field = match e {
                        OpenpayConfigError::MerchantId => "merchant_id",
                        OpenpayConfigError::PrivateKey => "private_key",
                        OpenpayConfigError::WebhookCredentials => "webhook_password",
                    };
                    errors.push(FieldError::new(field, e.to_string()));
                }
                if !private_key.starts_with("sk_") {
                    errors.push(FieldError::new(
                        "private_key",
                        "an Openpay private key (sk_…)",
                    ));
                }
                if webhook_password.len() < 12 {
                    errors.push(FieldError::new(
                        "webhook_password",
                        "at least 12 characters (it guards the callback)",
                    ));
                }
                if methods.first() == Some(&Method::Card) {
                    if redirect_url
                        .as_deref()
                        .is_none_or(|u| !(u.starts_with("https://") || u.starts_with("http://")))
                    {
                        errors.push(FieldError::new(
                            "redirect_url",
                            "card payments need the URL Openpay's card form returns to",
                        ));
                    }
                    if customer.is_none() {
                        errors.push(FieldError::new(
                            "customer",
                            "card payments need a buyer contact (name, email)",
                        ));
                    }
                }
            }
            Credentials::Sandbox { .. } => {}
        }
        if errors.is_empty() {
            Ok(())
        } else {
            Err(AppError::Validation(errors))
        }
    }

    /// The adapter for these credentials of `merchant`.
    pub(crate) fn adapter(
        &self,
        deps: &Deps,
        merchant: &MerchantId,
    ) -> Result<Box<dyn PaymentProvider>, AppError> {
        match self {
            Credentials::Sandbox { .. } => Ok(Box::new(sandbox(deps, merchant))),
            _ => self.provider(deps.http.clone(), &deps.config.payment_api_bases),
        }
    }

    /// The adapter of a real provider; `bases` override the providers' API URLs (a proxy, a test
    /// fake).
    fn provider(
        &self,
        http: reqwest::Client,
        bases: &BTreeMap<&'static str, String>,
    ) -> Result<Box<dyn PaymentProvider>, AppError> {
        let base = bases.get(self.name());
        let broken = |e: &dyn std::fmt::Display| {
            AppError::Internal(anyhow::anyhow!("stored {} credentials: {e}", self.name()))
        };
        Ok(match self.clone() {
            Credentials::Stripe {
                secret_key,
                webhook_secret,
                ..
            } => {
                let p = Stripe::new(http, secret_key, webhook_secret);
                Box::new(match base {
                    Some(b) => p.with_base_url(b),
                    None => p,
                })
            }
            Credentials::Mercadopago {
                access_token,
                webhook_secret,
                ..
            } => {
                let p = MercadoPago::new(http, access_token, webhook_secret);
                Box::new(match base {
                    Some(b) => p.with_base_url(b),
                    None => p,
                })
            }
            Credentials::Conekta {
                private_key,
                webhook_public_key,
                customer,
                ..
            } => {
                let p = Conekta::new(http, private_key, &webhook_public_key)
                    .map_err(|e| broken(&e))?
                    .with_customer(customer);
                Box::new(match base {
                    Some(b) => p.with_base_url(b),
                    None => p,
                })
            }
            Credentials::Openpay {
                merchant_id,
                private_key,
                webhook_user,
                webhook_password,
                sandbox,
                redirect_url,
                customer,
                ..
            } => {
                let mut p = Openpay::new(
                    http,
                    merchant_id,
                    private_key,
                    &webhook_user,
                    &webhook_password,
                )
                .map_err(|e| broken(&e))?;
                if let Some(url) = redirect_url {
                    p = p.with_redirect_url(url);
                }
                if let Some(c) = customer {
                    p = p.with_customer(c);
                }
                Box::new(match (base, sandbox) {
                    (Some(b), _) => p.with_base_url(b),
                    (None, true) => p.with_base_url(openpay::SANDBOX_BASE_URL),
                    (None, false) => p,
                })
            }
            Credentials::Sandbox { .. } => {
                return Err(AppError::Internal(anyhow::anyhow!(
                    "the sandbox adapter needs the merchant's key (Credentials::adapter)"
                )))
            }
        })
    }
}

fn key() -> Key {
    crate::platform::schema::settings(crate::platform::schema::Settings::Payments)
}

fn context(merchant: &MerchantId) -> String {
    crate::platform::sealed::Sealing::Payments.context(merchant)
}

/// Stores the merchant's provider credentials (replacing any before).
pub async fn save(
    deps: &Deps,
    merchant: &MerchantId,
    credentials: &Credentials,
) -> Result<(), AppError> {
    credentials.validate()?;
    let sealed = crate::platform::sealed::seal_json(deps, credentials, &context(merchant)).await?;
    let table = TenantTable::of(deps, merchant);
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
pub async fn load(deps: &Deps, merchant: &MerchantId) -> Result<Option<Credentials>, AppError> {
    let table = TenantTable::of(deps, merchant);
    let Some(item) = table.get(&key()).await? else {
        return Ok(None);
    };
    let Some(Value::B(sealed)) = item.get("sealed") else {
        return Ok(None);
    };
    crate::platform::sealed::open_json(deps, sealed, &context(merchant))
        .await
        .map(Some)
}

/// The name of the configured provider (for the API; never the credentials).
pub async fn configured(deps: &Deps, merchant: &MerchantId) -> Result<Option<String>, AppError> {
    let table = TenantTable::of(deps, merchant);
    Ok(table
        .get(&key())
        .await?
        .and_then(|i| i.get_s("provider").map(str::to_owned)))
}

/// How a merchant takes payments.
pub enum PaymentMode {
    /// A provider the merchant configured (the sandbox included, when chosen explicitly).
    Configured(Box<Credentials>),
    /// Nothing configured, in demo mode: the sandbox, so `cargo run` sells with no setup.
    DemoSandbox,
    /// Nothing configured in production: no links can be issued until the merchant chooses.
    Unconfigured,
}

/// The merchant's payment mode.
pub async fn mode(deps: &Deps, merchant: &MerchantId) -> Result<PaymentMode, AppError> {
    Ok(match load(deps, merchant).await? {
        Some(credentials) => PaymentMode::Configured(Box::new(credentials)),
        None if deps.config.mode == Mode::Demo => PaymentMode::DemoSandbox,
        None => PaymentMode::Unconfigured,
    })
}

/// Whether the sandbox may issue links and take payments for this merchant: chosen explicitly, or by
/// default in demo mode. Never for a merchant with a real provider.
pub async fn sandbox_allowed(deps: &Deps, merchant: &MerchantId) -> Result<bool, AppError> {
    Ok(match mode(deps, merchant).await? {
        PaymentMode::DemoSandbox => true,
        PaymentMode::Configured(c) => matches!(*c, Credentials::Sandbox { .. }),
        PaymentMode::Unconfigured => false,
    })
}

/// The merchant's sandbox secret (64 hex characters): its callbacks are signed with it, as the HMAC
/// key. Derived from the platform's admin key and the merchant id, so one merchant's sandbox
/// signature means nothing for another.
pub fn sandbox_secret(deps: &Deps, merchant: &MerchantId) -> String {
    use hmac::Mac;
    let mut mac =
        match hmac::Hmac::<sha2::Sha256>::new_from_slice(deps.config.admin_key.expose().as_bytes())
        {
            Ok(m) => m,
            Err(_) => return String::new(),
        };
    mac.update(b"mostrador-sandbox-payments:");
    mac.update(merchant.as_str().as_bytes());
    hex::encode(mac.finalize().into_bytes())
}

/// The sandbox provider for one merchant (see [`sandbox_allowed`] for when it may be used).
pub fn sandbox(deps: &Deps, merchant: &MerchantId) -> mostrador_payments::sandbox::Sandbox {
    mostrador_payments::sandbox::Sandbox::new(
        sandbox_secret(deps, merchant).into_bytes(),
        deps.config.public_url().to_owned(),
    )
}
