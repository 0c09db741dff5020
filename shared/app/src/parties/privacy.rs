//! The merchant's duties over its customers' personal data (LFPDPPP): how long conversations are
//! kept, the record of ARCO requests with the day each must be answered by, and the record of who
//! read or exported a customer's data.

use crate::platform::error::{AppError, FieldError};
use crate::platform::schema::{self, Settings};
use crate::platform::tenant::TenantTable;
use crate::platform::Deps;
use chrono::{DateTime, NaiveDate, Utc};
use mostrador_core::privacy::{self, ArcoRight};
use mostrador_store::{Condition, Item, Query, Table, Update};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::sync::{Mutex, OnceLock};

/// The merchant's privacy settings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PrivacySettings {
    /// Days a conversation's messages are kept; then they expire on their own (the table's TTL).
    pub message_retention_days: u32,
}

impl Default for PrivacySettings {
    fn default() -> Self {
        Self {
            message_retention_days: privacy::DEFAULT_MESSAGE_RETENTION_DAYS,
        }
    }
}

impl PrivacySettings {
    pub(crate) fn validate(&self) -> Result<(), AppError> {
        match privacy::retention_problem(self.message_retention_days) {
            Some(problem) => Err(AppError::Validation(vec![FieldError::new(
                "message_retention_days",
                problem,
            )])),
            None => Ok(()),
        }
    }
}

/// The merchant's privacy settings (defaults when never saved).
pub(crate) async fn load_settings(table: &TenantTable) -> Result<PrivacySettings, AppError> {
    Ok(
        match table.get(&schema::settings(Settings::Privacy)).await? {
            Some(item) => serde_json::from_str(item.get_s("doc").unwrap_or("{}"))
                .map_err(|e| AppError::Internal(e.into()))?,
            None => PrivacySettings::default(),
        },
    )
}

/// Saves the privacy settings. Messages logged from now on expire after the new period; those
/// already logged keep the period they were logged with.
pub async fn save_settings(
    table: &TenantTable,
    settings: &PrivacySettings,
) -> Result<(), AppError> {
    settings.validate()?;
    let doc = serde_json::to_string(settings).map_err(|e| AppError::Internal(e.into()))?;
    table
        .put(
            Item::new(&schema::settings(Settings::Privacy)).with("doc", doc),
            None,
        )
        .await?;
    forget_retention(table);
    Ok(())
}

/// How long a settings read is reused by this process: logging a message must not cost a read.
const RETENTION_CACHE_SECS: i64 = 60;

type RetentionCache = Mutex<HashMap<String, (u32, i64)>>;

fn retention_cache() -> &'static RetentionCache {
    static CACHE: OnceLock<RetentionCache> = OnceLock::new();
    CACHE.get_or_init(|| Mutex::new(HashMap::new()))
}

fn forget_retention(table: &TenantTable) {
    if let Ok(mut cache) = retention_cache().lock() {
        cache.remove(&table.merchant().to_string());
    }
}

/// The merchant's message retention in seconds (read at most once a minute per process; a
/// settings document that cannot be read counts as the default).
pub(crate) async fn message_retention_secs(
    table: &TenantTable,
    now: i64,
) -> Result<i64, mostrador_store::StoreError> {
    let merchant = table.merchant().to_string();
    if let Ok(cache) = retention_cache().lock() {
        if let Some((days, read_at)) = cache.get(&merchant) {
            if now - read_at < RETENTION_CACHE_SECS {
                return Ok(i64::from(*days) * 86_400);
            }
        }
    }
    let days = table
        .get(&schema::settings(Settings::Privacy))
        .await?
        .and_then(|item| {
            serde_json::from_str::<PrivacySettings>(item.get_s("doc").unwrap_or("{}")).ok()
        })
        .unwrap_or_default()
        .message_retention_days;
    if let Ok(mut cache) = retention_cache().lock() {
        cache.insert(merchant, (days, now));
    }
    Ok(i64::from(days) * 86_400)
}

/// Where an ARCO request stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RequestStatus {
    /// Received, not answered yet.
    Pendiente,
    /// Answered: the data was given, corrected, erased or the opposition recorded.
    Atendida,
    /// Refused with a reason (e.g. erasure while an order is in course).
    Improcedente,
}

/// One ARCO request of a customer, as the merchant must be able to show it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PrivacyRequest {
    pub id: String,
    pub right: ArcoRight,
    /// The customer (the pseudonym after an erasure).
    pub wa_id: String,
    pub status: RequestStatus,
    /// How it arrived: api, console, whatsapp, correo, escrito…
    pub channel: String,
    pub received_at: String,
    /// The last day to answer it: 20 business days after receipt (LFPDPPP art. 32).
    pub due_by: NaiveDate,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub answered_at: Option<String>,
    /// What was done, in words the customer can be told.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub outcome: Option<String>,
    /// Who registered or answered it.
    pub by: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

fn request_key(id: &str) -> Result<mostrador_store::Key, AppError> {
    let ms = id
        .strip_prefix("ARCO-")
        .and_then(|rest| rest.split('-').next())
        .and_then(|ms| ms.parse::<i64>().ok())
        .ok_or_else(|| AppError::NotFound("solicitud ARCO".into()))?;
    Ok(schema::privacy_request(ms, id))
}

fn mexico_day(at: DateTime<Utc>) -> NaiveDate {
    at.with_timezone(&chrono_tz::America::Mexico_City)
        .date_naive()
}

/// A request as it is registered.
#[derive(Debug, Clone)]
pub struct NewRequest<'a> {
    pub right: ArcoRight,
    pub wa_id: &'a str,
    /// How it arrived: api, console, whatsapp, correo, escrito…
    pub channel: &'a str,
    /// Who registers it.
    pub by: &'a str,
    /// When it was received, for one that came by mail or in person (now when absent).
    pub received_at: Option<DateTime<Utc>>,
    pub note: Option<String>,
}

/// Registers a request, pending, with the day it must be answered by.
pub(crate) async fn register(
    deps: &Deps,
    table: &TenantTable,
    new: NewRequest<'_>,
) -> Result<PrivacyRequest, AppError> {
    let NewRequest {
        right,
        wa_id,
        channel,
        by,
        received_at,
        note,
    } = new;
    let now = deps.clock.now();
    let received = received_at.unwrap_or(now);
    if received > now {
        return Err(AppError::Validation(vec![FieldError::new(
            "received_at",
            "una solicitud no puede recibirse en el futuro",
        )]));
    }
    let ms = received.timestamp_millis();
    // The random end of a new id (its start is the time, already in the key).
    let fresh: Vec<char> = crate::parties::merchants::new_id(deps)
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .collect();
    let suffix: String = fresh[fresh.len().saturating_sub(8)..].iter().collect();
    let id = format!("ARCO-{ms:013}-{suffix}");
    let request = PrivacyRequest {
        id: id.clone(),
        right,
        wa_id: wa_id.to_owned(),
        status: RequestStatus::Pendiente,
        channel: channel.to_owned(),
        received_at: received.to_rfc3339(),
        due_by: privacy::business_days_after(mexico_day(received), privacy::ANSWER_BUSINESS_DAYS),
        answered_at: None,
        outcome: None,
        by: by.to_owned(),
        note,
    };
    store(table, &request, Some(Condition::NotExists)).await?;
    Ok(request)
}

async fn store(
    table: &TenantTable,
    request: &PrivacyRequest,
    condition: Option<Condition>,
) -> Result<(), AppError> {
    let doc = serde_json::to_string(request).map_err(|e| AppError::Internal(e.into()))?;
    let key = request_key(&request.id)?;
    table
        .put(
            Item::new(&key)
                .with("doc", doc)
                .with("wa_id", request.wa_id.as_str())
                .with(
                    "status",
                    serde_json::to_value(request.status)
                        .ok()
                        .and_then(|v| v.as_str().map(str::to_owned))
                        .unwrap_or_default(),
                ),
            condition,
        )
        .await?;
    Ok(())
}

/// Answers a request: the pending ones of the same right and customer (or a new one, answered at
/// once, when none was registered) become `status` with `outcome`.
pub async fn answer(
    deps: &Deps,
    table: &TenantTable,
    new: NewRequest<'_>,
    status: RequestStatus,
    outcome: &str,
) -> Result<Vec<PrivacyRequest>, AppError> {
    let (right, wa_id, by) = (new.right, new.wa_id, new.by);
    let now = deps.clock.now().to_rfc3339();
    let mut pending: Vec<PrivacyRequest> = list(table, Some(wa_id))
        .await?
        .into_iter()
        .filter(|r| r.right == right && r.status == RequestStatus::Pendiente)
        .collect();
    if pending.is_empty() {
        pending.push(register(deps, table, new.clone()).await?);
    }
    for request in &mut pending {
        request.status = status;
        request.answered_at = Some(now.clone());
        request.outcome = Some(outcome.to_owned());
        request.by = by.to_owned();
        store(table, request, Some(Condition::Exists)).await?;
    }
    Ok(pending)
}

/// The merchant's ARCO requests, oldest first; only one customer's with `wa_id`.
pub async fn list(
    table: &TenantTable,
    wa_id: Option<&str>,
) -> Result<Vec<PrivacyRequest>, AppError> {
    let mut out = Vec::new();
    let mut cursor = None;
    loop {
        let page = table
            .query(
                Query::partition(schema::PRIVACY_REQUESTS)
                    .limit(500)
                    .after(cursor),
            )
            .await?;
        for item in &page.items {
            if wa_id.is_some_and(|w| item.get_s("wa_id") != Some(w)) {
                continue;
            }
            if let Some(doc) = item.get_s("doc") {
                out.push(serde_json::from_str(doc).map_err(|e| AppError::Internal(e.into()))?);
            }
        }
        match page.cursor {
            Some(c) => cursor = Some(c),
            None => break,
        }
    }
    Ok(out)
}

/// Whether a pending request is past its answer day (in Mexico City).
pub fn overdue(request: &PrivacyRequest, now: DateTime<Utc>) -> bool {
    request.status == RequestStatus::Pendiente && mexico_day(now) > request.due_by
}

/// Records that `actor` (a staff member or an API key) read or exported a customer's personal data.
pub async fn audit(
    deps: &Deps,
    table: &TenantTable,
    actor: &str,
    key_id: &str,
    action: &str,
    wa_id: &str,
) -> Result<(), AppError> {
    let now = deps.clock.now_ms();
    let id = crate::parties::merchants::new_id(deps);
    table
        .put(
            Item::new(&schema::privacy_audit(now, &id))
                .with("actor", actor)
                .with("key_id", key_id)
                .with("action", action)
                .with("wa_id", wa_id)
                .with("at_ms", now),
            None,
        )
        .await?;
    Ok(())
}

/// One read of personal data, as the merchant's audit shows it.
#[derive(Debug, Clone, Serialize)]
pub struct AuditEntry {
    pub at: String,
    pub actor: String,
    pub key_id: String,
    pub action: String,
    pub wa_id: String,
}

/// The audit record, newest first, up to `limit`; only one customer's with `wa_id`.
pub(crate) async fn audit_log(
    table: &TenantTable,
    wa_id: Option<&str>,
    limit: usize,
) -> Result<Vec<AuditEntry>, AppError> {
    let mut out = Vec::new();
    let mut cursor = None;
    loop {
        let page = table
            .query(
                Query::partition(schema::PRIVACY_AUDIT)
                    .backward()
                    .limit(500)
                    .after(cursor),
            )
            .await?;
        for item in &page.items {
            if wa_id.is_some_and(|w| item.get_s("wa_id") != Some(w)) {
                continue;
            }
            let at = item
                .get_n("at_ms")
                .and_then(DateTime::<Utc>::from_timestamp_millis)
                .map(|t| t.to_rfc3339())
                .unwrap_or_default();
            out.push(AuditEntry {
                at,
                actor: item.get_s("actor").unwrap_or_default().to_owned(),
                key_id: item.get_s("key_id").unwrap_or_default().to_owned(),
                action: item.get_s("action").unwrap_or_default().to_owned(),
                wa_id: item.get_s("wa_id").unwrap_or_default().to_owned(),
            });
            if out.len() >= limit {
                return Ok(out);
            }
        }
        match page.cursor {
            Some(c) => cursor = Some(c),
            None => break,
        }
    }
    Ok(out)
}

/// How long an erasure is remembered: longer than a message can wait in a queue (SQS keeps one 14
/// days at most).
const ERASURE_MEMORY_SECS: i64 = 14 * 24 * 3600;

fn erasure_token(deps: &Deps, wa_id: &str) -> String {
    deps.pseudonyms.of(&format!("erased:{wa_id}"))
}

/// Records that `wa_id`'s data was erased at `at_secs`, so that what the customer sent before it
/// and still waits in a queue is not stored again ([`erased_at`]). Kept two weeks, under a token
/// that is not the customer's pseudonym.
pub(crate) async fn mark_erased(
    deps: &Deps,
    table: &TenantTable,
    wa_id: &str,
    at_secs: i64,
) -> Result<(), AppError> {
    let item = Item::new(&schema::erasure_marker(&erasure_token(deps, wa_id)))
        .with("at", at_secs)
        .with("ttl", at_secs + ERASURE_MEMORY_SECS);
    table.put(item, None).await?;
    Ok(())
}

/// When `wa_id`'s data was last erased, within the last two weeks.
pub(crate) async fn erased_at(
    deps: &Deps,
    table: &TenantTable,
    wa_id: &str,
) -> Result<Option<i64>, AppError> {
    Ok(table
        .get(&schema::erasure_marker(&erasure_token(deps, wa_id)))
        .await?
        .and_then(|i| i.get_n("at")))
}

/// Changes the profile's name or timezone (rectificación); absent fields stay.
pub(crate) async fn rectify_profile(
    deps: &Deps,
    table: &TenantTable,
    wa_id: &str,
    profile_name: Option<&str>,
    timezone: Option<&str>,
) -> Result<(), AppError> {
    let mut errors = Vec::new();
    if let Some(name) = profile_name {
        let n = name.trim().chars().count();
        if n == 0 || n > 120 {
            errors.push(FieldError::new("profile_name", "de 1 a 120 caracteres"));
        }
    }
    if let Some(tz) = timezone {
        if tz.parse::<chrono_tz::Tz>().is_err() {
            errors.push(FieldError::new(
                "timezone",
                "una zona horaria IANA, p. ej. America/Mexico_City",
            ));
        }
    }
    if profile_name.is_none() && timezone.is_none() {
        errors.push(FieldError::new(
            "body",
            "indica profile_name o timezone para corregir",
        ));
    }
    if !errors.is_empty() {
        return Err(AppError::Validation(errors));
    }
    let mut update = Update::new();
    if let Some(name) = profile_name {
        update = crate::parties::customers::set_name(deps, table, update, name.trim()).await?;
    }
    if let Some(tz) = timezone {
        update = update.set("timezone", tz);
    }
    table
        .update(
            &schema::customer_profile(&table.customer(wa_id)),
            update,
            Some(Condition::Exists),
        )
        .await
        .map_err(|e| {
            if e.is_condition_failed() {
                AppError::NotFound("cliente".into())
            } else {
                e.into()
            }
        })?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_ids_name_their_key() {
        let key = request_key("ARCO-1764979200000-ab12cd34").expect("a request id");
        assert_eq!(key.pk, "PRIVACY_REQUESTS");
        assert_eq!(key.sk, "1764979200000#ARCO-1764979200000-ab12cd34");
        assert!(request_key("ARCO-x-1").is_err());
        assert!(request_key("O123").is_err());
    }

    #[test]
    fn a_pending_request_is_overdue_after_its_day_in_mexico_city() {
        let request = PrivacyRequest {
            id: "ARCO-1-a".into(),
            right: ArcoRight::Acceso,
            wa_id: "5215512345678".into(),
            status: RequestStatus::Pendiente,
            channel: "api".into(),
            received_at: "2026-11-02T16:00:00Z".into(),
            due_by: NaiveDate::from_ymd_opt(2026, 12, 1).expect("a date"),
            answered_at: None,
            outcome: None,
            by: "Ana".into(),
            note: None,
        };
        // 23:30 on 1 December in Mexico City is already the 2nd in UTC: still on time.
        let late_evening = "2026-12-02T05:30:00Z".parse().expect("a time");
        assert!(!overdue(&request, late_evening));
        let next_day = "2026-12-02T15:00:00Z".parse().expect("a time");
        assert!(overdue(&request, next_day));
        let answered = PrivacyRequest {
            status: RequestStatus::Atendida,
            ..request
        };
        assert!(!overdue(&answered, next_day));
    }
}
