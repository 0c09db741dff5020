//! A merchant's WhatsApp settings. The Cloud API access token is sealed through Keys (bound to the
//! merchant) and never returned by the API.

use crate::platform::config::Secret;
use crate::platform::error::{AppError, FieldError};
use crate::platform::schema;
use crate::platform::tenant::{MerchantId, TenantTable};
use crate::platform::Deps;
use mostrador_store::{Item, Key, Table, TxOp, Value};
use serde::{Deserialize, Serialize};

/// Sending policy and limits.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct WhatsAppSettings {
    /// Business-initiated messages per customer per day (templates, or anything outside the window).
    pub daily_cap: u32,
    /// This number's throughput (Meta's default tier is 80 messages per second).
    pub messages_per_second: u32,
    /// Marketing is held between these local hours (start inclusive, end exclusive).
    pub quiet_hours_start: u32,
    pub quiet_hours_end: u32,
    /// The merchant's Meta catalog, for product and product_list messages.
    pub catalog_id: Option<String>,
    /// The WhatsApp Business Account the merchant's numbers and templates belong to: templates are
    /// created, submitted and imported there, and its template webhooks reach this merchant.
    #[serde(default)]
    pub business_account_id: Option<String>,
    /// Whether an access token is stored (otherwise messages go to the sandbox outbox).
    pub has_token: bool,
}

impl Default for WhatsAppSettings {
    fn default() -> Self {
        Self {
            daily_cap: 3,
            messages_per_second: 80,
            quiet_hours_start: 21,
            quiet_hours_end: 9,
            catalog_id: None,
            business_account_id: None,
            has_token: false,
        }
    }
}

/// A change to the settings; absent fields stay as they are.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WhatsAppSettingsInput {
    pub access_token: Option<String>,
    pub daily_cap: Option<u32>,
    pub messages_per_second: Option<u32>,
    pub quiet_hours_start: Option<u32>,
    pub quiet_hours_end: Option<u32>,
    pub catalog_id: Option<String>,
    pub business_account_id: Option<String>,
    /// `true` removes the stored token (back to sandbox mode).
    #[serde(default)]
    pub remove_access_token: bool,
}

fn key() -> Key {
    crate::platform::schema::settings(crate::platform::schema::Settings::WhatsApp)
}

fn token_context(merchant: &MerchantId) -> String {
    crate::platform::sealed::Sealing::WhatsappToken.context(merchant)
}

/// The merchant's settings (defaults when never set).
pub async fn load(table: &TenantTable) -> Result<WhatsAppSettings, AppError> {
    let Some(item) = table.get(&key()).await? else {
        return Ok(WhatsAppSettings::default());
    };
    let mut settings: WhatsAppSettings = serde_json::from_str(item.get_s("doc").unwrap_or("{}"))
        .map_err(|e| AppError::Internal(e.into()))?;
    settings.has_token = matches!(item.get("token"), Some(Value::B(_)));
    Ok(settings)
}

/// The merchant's Cloud API token, if one is stored.
pub async fn access_token(deps: &Deps, merchant: &MerchantId) -> Result<Option<Secret>, AppError> {
    let table = TenantTable::of(deps, merchant);
    let Some(item) = table.get(&key()).await? else {
        return Ok(None);
    };
    let Some(Value::B(sealed)) = item.get("token") else {
        return Ok(None);
    };
    let plain = deps
        .keys
        .open(sealed, &token_context(merchant))
        .await
        .map_err(|e| AppError::Internal(e.into()))?;
    String::from_utf8(plain)
        .map(|t| Some(Secret::new(t)))
        .map_err(|e| AppError::Internal(e.into()))
}

/// Applies a change after validating every field.
pub async fn update(
    deps: &Deps,
    merchant: &MerchantId,
    input: WhatsAppSettingsInput,
) -> Result<WhatsAppSettings, AppError> {
    let mut errors = Vec::new();
    if input.daily_cap.is_some_and(|c| c > 100) {
        errors.push(FieldError::new(
            "daily_cap",
            "at most 100 messages per customer per day",
        ));
    }
    if input
        .messages_per_second
        .is_some_and(|r| r == 0 || r > 1000)
    {
        errors.push(FieldError::new(
            "messages_per_second",
            "between 1 and 1000 (Meta's highest tier)",
        ));
    }
    for (field, v) in [
        ("quiet_hours_start", input.quiet_hours_start),
        ("quiet_hours_end", input.quiet_hours_end),
    ] {
        if v.is_some_and(|h| h > 23) {
            errors.push(FieldError::new(field, "an hour from 0 to 23"));
        }
    }
    if let Some(t) = &input.access_token {
        if t.len() < 20 || t.len() > 1024 || t.chars().any(char::is_whitespace) {
            errors.push(FieldError::new(
                "access_token",
                "does not look like a Cloud API access token",
            ));
        }
    }
    if input
        .catalog_id
        .as_ref()
        .is_some_and(|c| c.is_empty() || !c.chars().all(|ch| ch.is_ascii_digit()))
    {
        errors.push(FieldError::new("catalog_id", "the numeric Meta catalog id"));
    }
    if input
        .business_account_id
        .as_ref()
        .is_some_and(|c| c.is_empty() || c.len() > 32 || !c.chars().all(|ch| ch.is_ascii_digit()))
    {
        errors.push(FieldError::new(
            "business_account_id",
            "the numeric WhatsApp Business Account id",
        ));
    }
    if !errors.is_empty() {
        return Err(AppError::Validation(errors));
    }
    let table = TenantTable::of(deps, merchant);
    let current = table.get(&key()).await?;
    let mut settings = load(&table).await?;
    if let Some(v) = input.daily_cap {
        settings.daily_cap = v;
    }
    if let Some(v) = input.messages_per_second {
        settings.messages_per_second = v;
    }
    if let Some(v) = input.quiet_hours_start {
        settings.quiet_hours_start = v;
    }
    if let Some(v) = input.quiet_hours_end {
        settings.quiet_hours_end = v;
    }
    if input.catalog_id.is_some() {
        settings.catalog_id = input.catalog_id;
    }
    // The account is claimed for this merchant alone (its template webhooks come here), in the
    // same transaction as the settings; the one it replaces is released.
    let platform = match input.business_account_id {
        Some(new) => {
            let old = settings.business_account_id.replace(new.clone());
            crate::platform::tenant::claim_ops(
                merchant,
                Some(schema::business_account(&new)),
                old.as_deref().map(schema::business_account),
            )
        }
        None => Vec::new(),
    };
    let mut item = Item::new(&key());
    match (&input.access_token, input.remove_access_token) {
        (Some(token), _) => {
            let sealed = deps
                .keys
                .seal(token.as_bytes(), &token_context(merchant))
                .await
                .map_err(|e| AppError::Internal(e.into()))?;
            item.set("token", Value::B(sealed));
        }
        (None, false) => {
            if let Some(old) = current.as_ref().and_then(|i| i.get("token")) {
                item.set("token", old.clone());
            }
        }
        (None, true) => {}
    }
    settings.has_token = item.get("token").is_some();
    item.set(
        "doc",
        serde_json::to_string(&settings).map_err(|e| AppError::Internal(e.into()))?,
    );
    let claiming = !platform.is_empty();
    let put = vec![TxOp::Put {
        item,
        condition: None,
    }];
    match table.transact_with_platform(put, platform).await {
        Ok(()) => {}
        // The take is the first platform operation, after the settings' own put.
        Err(e) if claiming && e.failed_operations().contains(&1) => {
            return Err(AppError::Validation(vec![FieldError::new(
                "business_account_id",
                "already the WhatsApp Business Account of another merchant",
            )]))
        }
        Err(e) => return Err(e.into()),
    }
    tracing::info!(merchant = %merchant, has_token = settings.has_token, "whatsapp settings updated");
    Ok(settings)
}
