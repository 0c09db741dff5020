//! A merchant's notification policy: the privacy-notice link consent records point to, per-category
//! daily caps, reminder timing and the attribution window.

use crate::platform::error::{AppError, FieldError};
use crate::platform::schema;
use crate::platform::tenant::{MerchantId, TenantTable};
use crate::platform::urls::{check_link_host, host_of};
use mostrador_core::pricing::Fine;
use mostrador_store::{Item, Key, Table, TxOp};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The cap of security alerts per customer per day when none is configured: they are outside the
/// general daily cap (a fraud alert is never crowded out by a statement) but not unlimited.
pub const DEFAULT_SECURITY_CAP: u32 = 10;

/// The merchant's notification settings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct NotificationSettings {
    /// The merchant's aviso de privacidad (LFPDPPP); every consent record keeps the link in force.
    pub privacy_notice_url: Option<String>,
    /// Per-category daily caps per customer (`utility`, `marketing`, `authentication`, `security`),
    /// on top of the general `daily_cap` of the WhatsApp settings.
    pub category_caps: BTreeMap<String, u32>,
    /// Minutes before an unpaid order expires when the customer is reminded (0: no reminder).
    pub payment_reminder_minutes: u32,
    /// Minutes of silence after which a cart left in the chat is reminded, once (0: never).
    pub abandoned_cart_minutes: u32,
    /// A promotion with codes issued per customer (`issued_codes`): the cart reminder then carries
    /// a code of the customer's own, good for one order (marketing opt-in required, as for the
    /// reminder itself).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub abandoned_cart_promotion: Option<String>,
    /// Hours after a notification during which replies, documents and payments are attributed to it.
    pub attribution_hours: u32,
    /// Whether security alerts (kinds counted as security: fraud, account access) still reach a
    /// customer who asked to stop every message ("baja"). Off by default: the customer's word
    /// wins; a bank whose regulator requires such alerts turns it on, and the "baja" confirmation
    /// then tells the customer so.
    pub security_alerts_after_opt_out: bool,
    /// The origin of the merchant's own link subdomain (`https://go.banco.mx`, a CNAME to this
    /// deployment): tracked links in notifications are written on it, so the customer sees the
    /// sender's domain and never ours. The host is claimed for this merchant alone: links of
    /// others are not served on it. None: links on the deployment's public URL.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub link_host: Option<String>,
    /// The merchant's own bot answers its customers: messages that no notification takes (quick
    /// replies, keywords, KYC documents) go to the merchant's webhook as signed `message.received`
    /// events instead of the shop assistant, and the merchant answers with `POST /v1/messages`.
    /// Consent changes ("baja", "alta") are still recorded and confirmed here, and a conversation a
    /// person has taken stays with that person. Needs a webhook (`PUT /v1/settings/webhook`).
    pub bot_bridge: bool,
    /// What one delivered template message costs, per category, for the report's estimated cost.
    pub message_rates: MessageRates,
}

/// Meta's price per delivered message by category, as the rate card prints it (up to four
/// decimals), in `currency`. The defaults are list rates published for Mexico in 2026 (USD): check
/// Meta's current rate card and your provider's invoice, and set yours.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MessageRates {
    pub currency: String,
    pub marketing: String,
    pub utility: String,
    pub authentication: String,
    /// Free-form replies inside the customer-service window (free when this was written).
    pub service: String,
}

impl Default for MessageRates {
    fn default() -> Self {
        Self {
            currency: "USD".into(),
            marketing: "0.0362".into(),
            utility: "0.0086".into(),
            authentication: "0.0172".into(),
            service: "0".into(),
        }
    }
}

impl MessageRates {
    fn fields(&self) -> [(&'static str, &str); 4] {
        [
            ("marketing", &self.marketing),
            ("utility", &self.utility),
            ("authentication", &self.authentication),
            ("service", &self.service),
        ]
    }

    /// The rates by category (a rate that does not read costs nothing; saving refuses it).
    pub(crate) fn by_category(&self) -> std::collections::BTreeMap<String, Fine> {
        self.fields()
            .into_iter()
            .filter_map(|(c, r)| Fine::parse(r).ok().map(|f| (c.to_owned(), f)))
            .collect()
    }

    fn problems(&self) -> Vec<FieldError> {
        let mut errors = Vec::new();
        if self.currency.len() != 3 || !self.currency.chars().all(|c| c.is_ascii_uppercase()) {
            errors.push(FieldError::new(
                "message_rates.currency",
                "an ISO 4217 code such as USD or MXN",
            ));
        }
        for (category, rate) in self.fields() {
            if let Err(why) = Fine::parse(rate) {
                errors.push(FieldError::new(format!("message_rates.{category}"), why));
            }
        }
        errors
    }
}

impl Default for NotificationSettings {
    fn default() -> Self {
        Self {
            privacy_notice_url: None,
            category_caps: BTreeMap::new(),
            payment_reminder_minutes: 10,
            abandoned_cart_minutes: 60,
            abandoned_cart_promotion: None,
            attribution_hours: 72,
            security_alerts_after_opt_out: false,
            link_host: None,
            bot_bridge: false,
            message_rates: MessageRates::default(),
        }
    }
}

impl NotificationSettings {
    /// The daily cap of one category, if it has its own.
    pub fn category_cap(&self, bucket: &str) -> Option<u32> {
        match self.category_caps.get(bucket) {
            Some(cap) => Some(*cap),
            None if bucket == "security" => Some(DEFAULT_SECURITY_CAP),
            None if bucket == "transactional" => {
                Some(mostrador_core::caps::DEFAULT_TRANSACTIONAL_CAP)
            }
            None => None,
        }
    }

    /// The attribution window in seconds.
    pub(crate) fn attribution_secs(&self) -> i64 {
        i64::from(self.attribution_hours) * 3600
    }

    fn problems(&self) -> Vec<FieldError> {
        let mut errors = Vec::new();
        if let Some(url) = &self.privacy_notice_url {
            if let Err(why) = crate::platform::urls::check_target(url) {
                errors.push(FieldError::new("privacy_notice_url", why));
            }
        }
        for (category, cap) in &self.category_caps {
            if !matches!(
                category.as_str(),
                "utility" | "marketing" | "authentication" | "security" | "transactional"
            ) {
                errors.push(FieldError::new(
                    format!("category_caps.{category}"),
                    "utility, marketing, authentication, security or transactional",
                ));
            }
            if *cap > 100 {
                errors.push(FieldError::new(
                    format!("category_caps.{category}"),
                    "at most 100 per customer per day",
                ));
            }
        }
        if self.payment_reminder_minutes > 7 * 24 * 60 {
            errors.push(FieldError::new(
                "payment_reminder_minutes",
                "at most 7 days",
            ));
        }
        if self.abandoned_cart_minutes > 7 * 24 * 60 {
            errors.push(FieldError::new("abandoned_cart_minutes", "at most 7 days"));
        }
        if self.attribution_hours == 0 || self.attribution_hours > 30 * 24 {
            errors.push(FieldError::new("attribution_hours", "1 hour to 30 days"));
        }
        errors.extend(self.message_rates.problems());
        errors
    }
}

fn key() -> Key {
    crate::platform::schema::settings(crate::platform::schema::Settings::Notifications)
}

/// The merchant's settings (defaults when never set).
pub async fn load(table: &TenantTable) -> Result<NotificationSettings, AppError> {
    match table.get(&key()).await? {
        Some(item) => serde_json::from_str(item.get_s("doc").unwrap_or("{}"))
            .map_err(|e| AppError::Internal(e.into())),
        None => Ok(NotificationSettings::default()),
    }
}

/// Validates and stores the settings (the link host written as its bare origin), claiming the link
/// host for this merchant and releasing the one it replaces in the same transaction. `public_url`
/// is the deployment's own, which no merchant may claim.
pub async fn save(
    table: &TenantTable,
    mut settings: NotificationSettings,
    public_url: &str,
) -> Result<NotificationSettings, AppError> {
    let mut errors = settings.problems();
    let mut new_host = None;
    if let Some(given) = settings.link_host.take() {
        match check_link_host(&given) {
            Ok(origin) => {
                let host = host_of(&origin);
                if host.is_some() && host == host_of(public_url) {
                    errors.push(FieldError::new(
                        "link_host",
                        "this deployment's own host; give a subdomain of yours",
                    ));
                }
                new_host = host;
                settings.link_host = Some(origin);
            }
            Err(why) => errors.push(FieldError::new("link_host", why)),
        }
    }
    if !errors.is_empty() {
        return Err(AppError::Validation(errors));
    }
    let old_host = load(table).await?.link_host.as_deref().and_then(host_of);
    let platform = crate::platform::tenant::claim_ops(
        table.merchant(),
        new_host.as_deref().map(schema::link_host_claim),
        old_host.as_deref().map(schema::link_host_claim),
    );
    let doc = serde_json::to_string(&settings).map_err(|e| AppError::Internal(e.into()))?;
    let ops = vec![TxOp::Put {
        item: Item::new(&key()).with("doc", doc),
        condition: None,
    }];
    match table.transact_with_platform(ops, platform).await {
        Ok(()) => Ok(settings),
        Err(e) if new_host.is_some() && e.failed_operations() == [1] => {
            Err(AppError::Validation(vec![FieldError::new(
                "link_host",
                "already the link host of another account",
            )]))
        }
        Err(e) => Err(e.into()),
    }
}

/// The merchant a link host (`go.banco.mx`) is claimed by, if any.
pub(crate) async fn link_host_owner(
    deps_table: &dyn Table,
    host: &str,
) -> Result<Option<MerchantId>, AppError> {
    Ok(crate::platform::tenant::claim_holder(deps_table, &schema::link_host_claim(host)).await?)
}
