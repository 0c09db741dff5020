//! Consent under the LFPDPPP: the opt-in a customer gave (where, when, the exact wording shown and
//! the merchant's privacy notice in force), kept with every later change (opt-outs by keyword or API,
//! opt-ins) as an append-only history. Business-initiated notifications need a standing opt-in;
//! marketing needs one that covers marketing; an opt-out stops everything, security alerts included.

use crate::parties::customers::{self, Customer};
use crate::parties::messages::Category;
use crate::platform::error::{AppError, FieldError};
use crate::platform::tenant::TenantTable;
use chrono::{DateTime, Utc};
use mostrador_store::{Item, Key, Query, Table, TxOp, Update};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

/// Where and how the customer agreed.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConsentInput {
    /// Where it was given: `app`, `web`, `branch`, `whatsapp`, `call_center`, ...
    pub source: String,
    /// The exact text the customer accepted.
    pub wording: String,
    /// Whether it covers promotions (marketing templates).
    #[serde(default)]
    pub marketing: bool,
    /// When the customer agreed (default: now); never in the future.
    pub granted_at: Option<DateTime<Utc>>,
    /// The privacy notice shown, when it differs from the merchant's configured one.
    pub privacy_notice_url: Option<String>,
}

/// A standing opt-in.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Consent {
    pub source: String,
    pub wording: String,
    pub marketing: bool,
    pub granted_at: DateTime<Utc>,
    pub privacy_notice_url: String,
}

/// Why a business-initiated message may not be sent to a customer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// The customer opted out (keyword or API) and has not opted in again.
    OptedOut,
    /// No opt-in is recorded.
    NoConsent,
    /// The opt-in does not cover marketing.
    NoMarketingConsent,
}

impl Refusal {
    /// The stable error code.
    pub fn code(self) -> &'static str {
        match self {
            Refusal::OptedOut => "opted_out",
            Refusal::NoConsent => "consent_required",
            Refusal::NoMarketingConsent => "marketing_consent_required",
        }
    }

    /// What the caller reads.
    pub fn message(self) -> &'static str {
        match self {
            Refusal::OptedOut => "the customer opted out; nothing is sent until they opt in again",
            Refusal::NoConsent => "no opt-in is recorded for this customer (POST /v1/customers/{wa_id}/consent); nothing was queued",
            Refusal::NoMarketingConsent => "the customer's opt-in does not cover marketing; nothing was queued",
        }
    }
}

fn current_key(table: &crate::platform::tenant::TenantTable, wa_id: &str) -> Key {
    crate::platform::schema::consent(&table.customer(wa_id))
}

fn history_item(
    table: &crate::platform::tenant::TenantTable,
    wa_id: &str,
    at: DateTime<Utc>,
    event: &str,
    source: &str,
) -> Item {
    let suffix = uuid::Uuid::new_v4().simple().to_string();
    Item::new(&crate::platform::schema::consent_event(
        &table.customer(wa_id),
        at.timestamp_millis(),
        &suffix[..8],
    ))
    .with("event", event)
    .with("source", source)
    .with("at", at.to_rfc3339())
}

/// Appends an opt-out or opt-in made by keyword or API to the customer's consent history.
pub(crate) async fn record_change(
    table: &TenantTable,
    wa_id: &str,
    opted_out: bool,
    source: &str,
    at: DateTime<Utc>,
) -> Result<(), AppError> {
    let event = if opted_out { "opt_out" } else { "opt_in" };
    table
        .put(history_item(table, wa_id, at, event, source), None)
        .await?;
    Ok(())
}

/// The customer's standing opt-in, if any.
pub async fn current(table: &TenantTable, wa_id: &str) -> Result<Option<Consent>, AppError> {
    table
        .get(&current_key(table, wa_id))
        .await?
        .map(|i| {
            serde_json::from_str(i.get_s("doc").unwrap_or("{}"))
                .map_err(|e| AppError::Internal(e.into()))
        })
        .transpose()
}

/// Whether a business-initiated message of `category` may go to this customer.
pub fn check(
    customer: &Customer,
    consent: Option<&Consent>,
    category: Category,
) -> Result<(), Refusal> {
    if customer.opted_out {
        return Err(Refusal::OptedOut);
    }
    let Some(consent) = consent else {
        return Err(Refusal::NoConsent);
    };
    if category == Category::Marketing && !consent.marketing {
        return Err(Refusal::NoMarketingConsent);
    }
    Ok(())
}

/// Records an opt-in. An opt-out made after the moment the customer agreed wins: such an opt-in is
/// refused (409), so a stale consent can never override a customer's "baja".
pub async fn grant(
    table: &TenantTable,
    wa_id: &str,
    input: ConsentInput,
    default_notice: Option<String>,
    now: DateTime<Utc>,
) -> Result<Consent, AppError> {
    let mut errors = Vec::new();
    let source = input.source.trim();
    if source.is_empty()
        || source.len() > 40
        || !source
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
    {
        errors.push(FieldError::new(
            "source",
            "1-40 letters, digits, _ or - (app, web, branch, whatsapp...)",
        ));
    }
    if input.wording.trim().len() < 10 || input.wording.len() > 4000 {
        errors.push(FieldError::new(
            "wording",
            "the exact text the customer accepted (10-4000 characters)",
        ));
    }
    let granted_at = input.granted_at.unwrap_or(now);
    if granted_at > now + chrono::Duration::minutes(5) {
        errors.push(FieldError::new("granted_at", "cannot be in the future"));
    }
    let notice = input.privacy_notice_url.or(default_notice);
    match &notice {
        None => errors.push(FieldError::new(
            "privacy_notice_url",
            "no privacy notice: set it in PUT /v1/settings/notifications or send it here",
        )),
        Some(url) => {
            if let Err(why) = crate::platform::urls::check_target(url) {
                errors.push(FieldError::new("privacy_notice_url", why));
            }
        }
    }
    if !errors.is_empty() {
        return Err(AppError::Validation(errors));
    }
    let customer = customers::get(table, wa_id).await?;
    if customer.opted_out {
        let profile = table
            .get(&crate::platform::schema::customer_profile(
                &table.customer(wa_id),
            ))
            .await?;
        let changed = profile
            .as_ref()
            .and_then(|p| p.get_n("consent_changed_at"))
            .unwrap_or(0);
        if changed >= granted_at.timestamp() {
            return Err(AppError::Conflict(
                "the customer opted out after this consent was given; a new opt-in is needed"
                    .into(),
            ));
        }
    }
    let consent = Consent {
        source: source.to_owned(),
        wording: input.wording,
        marketing: input.marketing,
        granted_at,
        privacy_notice_url: notice.unwrap_or_default(),
    };
    let doc = serde_json::to_string(&consent).map_err(|e| AppError::Internal(e.into()))?;
    let history = history_item(table, wa_id, now, "opt_in", source)
        .with("doc", doc.clone())
        .with("marketing", consent.marketing);
    let ops = vec![
        TxOp::Put {
            item: Item::new(&current_key(table, wa_id)).with("doc", doc),
            condition: None,
        },
        TxOp::Put {
            item: history,
            condition: None,
        },
        TxOp::Update {
            key: crate::platform::schema::customer_profile(&table.customer(wa_id)),
            update: Update::new()
                .set("opted_out", false)
                .set("consent_source", source)
                .set("consent_changed_at", now.timestamp()),
            condition: None,
        },
    ];
    table.transact(ops).await?;
    Ok(consent)
}

/// The customer stopped (`stop`) or resumed (`resume`) marketing messages in WhatsApp itself (Meta's
/// `user_preferences` webhook). A stop withdraws the marketing part of the standing opt-in at once;
/// a resume is recorded, and marketing needs the merchant's new opt-in with marketing (Meta's switch
/// is not the customer's consent to this merchant under the LFPDPPP).
pub(crate) async fn marketing_preference(
    table: &TenantTable,
    wa_id: &str,
    stopped: bool,
    at: DateTime<Utc>,
) -> Result<(), AppError> {
    marketing_change(table, wa_id, stopped, "whatsapp_user_preferences", at).await
}

/// The customer asked in the chat to stop promotions ("baja promociones"): the marketing part of
/// the standing opt-in is withdrawn at once; notices of orders and accounts go on.
pub(crate) async fn withdraw_marketing(
    table: &TenantTable,
    wa_id: &str,
    at: DateTime<Utc>,
) -> Result<(), AppError> {
    marketing_change(table, wa_id, true, "keyword", at).await
}

/// The customer asked in the chat for promotions again ("alta promociones"), in `words`: their
/// standing opt-in gets marketing back (a full opt-out is lifted: they asked to hear from us), or,
/// without one, an opt-in with marketing is recorded in their own words under the merchant's
/// privacy notice. Without a notice nothing can be recorded: the refusal is returned.
pub(crate) async fn marketing_by_keyword(
    table: &TenantTable,
    wa_id: &str,
    words: &str,
    notice: Option<String>,
    now: DateTime<Utc>,
) -> Result<(), AppError> {
    if customers::get(table, wa_id).await?.opted_out {
        customers::set_opt_out(table, wa_id, false, "keyword", now).await?;
    }
    let wording: String = format!(
        "El cliente escribió por WhatsApp «{}» para recibir promociones.",
        words.trim()
    )
    .chars()
    .take(4000)
    .collect();
    match current(table, wa_id).await? {
        Some(mut consent) => {
            consent.marketing = true;
            let doc = serde_json::to_string(&consent).map_err(|e| AppError::Internal(e.into()))?;
            table
                .transact(vec![
                    TxOp::Put {
                        item: history_item(table, wa_id, now, "marketing_resume", "keyword")
                            .with("wording", wording),
                        condition: None,
                    },
                    TxOp::Put {
                        item: Item::new(&current_key(table, wa_id)).with("doc", doc),
                        condition: None,
                    },
                ])
                .await?;
            Ok(())
        }
        None => grant(
            table,
            wa_id,
            ConsentInput {
                source: "whatsapp".into(),
                marketing: true,
                wording,
                privacy_notice_url: None,
                granted_at: Some(now),
            },
            notice,
            now,
        )
        .await
        .map(|_| ()),
    }
}

async fn marketing_change(
    table: &TenantTable,
    wa_id: &str,
    stopped: bool,
    source: &str,
    at: DateTime<Utc>,
) -> Result<(), AppError> {
    let event = if stopped {
        "marketing_stop"
    } else {
        "marketing_resume"
    };
    let mut ops = vec![TxOp::Put {
        item: history_item(table, wa_id, at, event, source),
        condition: None,
    }];
    if stopped {
        if let Some(mut consent) = current(table, wa_id).await? {
            if consent.marketing {
                consent.marketing = false;
                let doc =
                    serde_json::to_string(&consent).map_err(|e| AppError::Internal(e.into()))?;
                ops.push(TxOp::Put {
                    item: Item::new(&current_key(table, wa_id)).with("doc", doc),
                    condition: None,
                });
            }
        }
    }
    table.transact(ops).await?;
    Ok(())
}

/// The standing opt-in, the opt-out flag and the whole history, oldest first.
pub async fn show(table: &TenantTable, wa_id: &str) -> Result<Value, AppError> {
    let customer = customers::get(table, wa_id).await?;
    let consent = current(table, wa_id).await?;
    let mut history = Vec::new();
    let mut cursor = None;
    loop {
        let page = table
            .query(
                Query::partition(crate::platform::schema::customer_pk(&table.customer(wa_id)))
                    .prefix(crate::platform::schema::CONSENT_PREFIX)
                    .after(cursor),
            )
            .await?;
        for i in &page.items {
            let mut entry = json!({
                "event": i.get_s("event"),
                "source": i.get_s("source"),
                "at": i.get_s("at"),
            });
            if let Some(doc) = i
                .get_s("doc")
                .and_then(|d| serde_json::from_str::<Value>(d).ok())
            {
                entry["consent"] = doc;
            }
            history.push(entry);
        }
        match page.cursor {
            Some(c) => cursor = Some(c),
            None => break,
        }
    }
    Ok(json!({
        "wa_id": wa_id,
        "opted_out": customer.opted_out,
        "consent": consent,
        "history": history,
    }))
}
