//! Customers as the channel knows them: profile name, the 24-hour window, consent, timezone.

use crate::platform::error::AppError;
use crate::platform::tenant::TenantTable;
use crate::platform::Deps;
use chrono::{DateTime, Utc};
use mostrador_store::{Condition, Item, Key, Table, Update};
use serde::Serialize;

/// What the sender and the conversation need to know about a customer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Default)]
pub struct Customer {
    pub wa_id: String,
    /// Unix seconds of the customer's last message (opens the 24-hour window).
    pub last_inbound_at: Option<i64>,
    pub opted_out: bool,
    /// IANA timezone for quiet hours (default America/Mexico_City).
    pub timezone: String,
    /// The merchant's groups for this customer ("mayoreo", "empleados"): prices of their own.
    pub groups: Vec<String>,
}

/// The customer-service window: free-form messages only within 24 hours of the customer's last message.
pub const WINDOW_SECS: i64 = 24 * 3600;

impl Customer {
    /// Whether the 24-hour window is open at `now`.
    pub(crate) fn window_open(&self, now: DateTime<Utc>) -> bool {
        self.last_inbound_at
            .is_some_and(|t| now.timestamp() - t < WINDOW_SECS)
    }

    /// The customer's timezone, falling back to Mexico City.
    pub fn tz(&self) -> chrono_tz::Tz {
        self.timezone
            .parse()
            .unwrap_or(chrono_tz::America::Mexico_City)
    }
}

pub(crate) fn profile_key(table: &TenantTable, wa_id: &str) -> Key {
    crate::platform::schema::customer_profile(&table.customer(wa_id))
}

/// The profile attribute saying who it is (its key names a pseudonym): the WhatsApp id, sealed as
/// `wa_id_sealed` (in clear in what an earlier version wrote).
pub const PROFILE_WA_ID: &str = "wa_id";
/// The profile attribute of the number a WhatsApp username writes from, sealed like the id.
pub const PROFILE_PHONE: &str = "phone";

/// Sets `name` (one of the profile's personal attributes) sealed on a profile update, any clear
/// copy removed.
pub(crate) async fn set_sealed(
    deps: &Deps,
    table: &TenantTable,
    update: Update,
    name: &str,
    value: &str,
) -> Result<Update, mostrador_store::StoreError> {
    let sealed = crate::parties::conversation::seal_text(deps, table.merchant(), value).await?;
    Ok(update
        .set(format!("{name}_sealed"), mostrador_store::Value::B(sealed))
        .remove(name))
}

/// Who a profile item belongs to: its WhatsApp id, opened, or, in a profile an earlier version
/// keyed by the number itself, its partition.
pub(crate) async fn wa_id_in(deps: &Deps, table: &TenantTable, profile: &Item) -> Option<String> {
    if let Some(id) =
        crate::parties::conversation::text_of(deps, table, profile, PROFILE_WA_ID).await
    {
        return Some(id);
    }
    profile
        .get_s("pk")
        .and_then(crate::platform::schema::customer_of)
        .filter(|id| !mostrador_store::Pseudonyms::is_pseudonym(id))
        .map(str::to_owned)
}

/// The customer's record (a default, opted-in record when never seen).
pub async fn get(table: &TenantTable, wa_id: &str) -> Result<Customer, AppError> {
    let item = table.get(&profile_key(table, wa_id)).await?;
    Ok(Customer {
        wa_id: wa_id.to_owned(),
        last_inbound_at: item.as_ref().and_then(|i| i.get_n("last_inbound_at")),
        opted_out: item.as_ref().and_then(|i| i.get("opted_out"))
            == Some(&mostrador_store::Value::Bool(true)),
        timezone: item
            .as_ref()
            .and_then(|i| i.get_s("timezone"))
            .unwrap_or("America/Mexico_City")
            .to_owned(),
        groups: item.as_ref().map(groups_of).unwrap_or_default(),
    })
}

/// The name WhatsApp shows for the customer, from a profile item: sealed at rest with the
/// merchant's conversation texts (or in clear, written by an earlier version).
pub async fn name_in(deps: &Deps, table: &TenantTable, profile: &Item) -> Option<String> {
    crate::parties::conversation::text_of(deps, table, profile, PROFILE_NAME).await
}

/// The customer's name as WhatsApp shows it, when known.
pub async fn name(
    deps: &Deps,
    table: &TenantTable,
    wa_id: &str,
) -> Result<Option<String>, AppError> {
    Ok(match table.get(&profile_key(table, wa_id)).await? {
        Some(item) => name_in(deps, table, &item).await,
        None => None,
    })
}

/// The profile attribute of the customer's name (stored sealed as `profile_name_sealed`).
pub const PROFILE_NAME: &str = "profile_name";

/// Sets the customer's name on a profile update: sealed, and any clear copy removed.
pub(crate) async fn set_name(
    deps: &Deps,
    table: &TenantTable,
    update: Update,
    name: &str,
) -> Result<Update, mostrador_store::StoreError> {
    set_sealed(deps, table, update, PROFILE_NAME, name).await
}

/// The groups a customer profile item names.
pub(crate) fn groups_of(profile: &Item) -> Vec<String> {
    profile
        .get_s("groups")
        .and_then(|g| serde_json::from_str(g).ok())
        .unwrap_or_default()
}

/// Puts a customer in the merchant's groups (replacing the ones before): each 1 to 40 characters,
/// at most [`mostrador_core::promotions::MAX_GROUPS`], the same group once.
pub(crate) async fn set_groups(
    table: &TenantTable,
    wa_id: &str,
    groups: Vec<String>,
) -> Result<Vec<String>, AppError> {
    use mostrador_core::promotions::{group_key, MAX_GROUPS};
    if groups.len() > MAX_GROUPS {
        return Err(AppError::Validation(vec![
            crate::platform::error::FieldError::new(
                "groups",
                format!("hasta {MAX_GROUPS} grupos por cliente"),
            ),
        ]));
    }
    let mut kept: Vec<String> = Vec::new();
    for g in groups {
        let name = g.trim().to_owned();
        let Some(key) = group_key(&name) else {
            return Err(AppError::Validation(vec![
                crate::platform::error::FieldError::new(
                    "groups",
                    "cada grupo lleva de 1 a 40 caracteres",
                ),
            ]));
        };
        if !kept
            .iter()
            .any(|k| group_key(k).as_deref() == Some(key.as_str()))
        {
            kept.push(name);
        }
    }
    if kept.len() > MAX_GROUPS {
        return Err(AppError::Validation(vec![
            crate::platform::error::FieldError::new(
                "groups",
                format!("hasta {MAX_GROUPS} grupos por cliente"),
            ),
        ]));
    }
    let doc = serde_json::to_string(&kept).map_err(|e| AppError::Internal(e.into()))?;
    table
        .update(
            &profile_key(table, wa_id),
            Update::new().set("groups", doc),
            None,
        )
        .await?;
    Ok(kept)
}

/// The id a message's sender is known by, from the phone number Meta sent (normalized) and the
/// business-scoped user id (BSUID) it sends since 2026. Without a BSUID the phone number is the id
/// (no lookup). With one, the customer is whoever that BSUID was first seen as: the phone number
/// when Meta sent both, the BSUID when the user hid their number behind a username. So a customer
/// who later shows their number, or later hides it, stays one customer with one history, consent
/// and window. `None` when the message names neither.
pub(crate) async fn sender_id(
    table: &TenantTable,
    phone: Option<String>,
    bsuid: Option<&str>,
) -> Result<Option<String>, AppError> {
    let Some(bsuid) = bsuid.filter(|b| mostrador_core::phone::is_bsuid(b)) else {
        return Ok(phone);
    };
    let key = crate::platform::schema::customer_alias(&table.customer(bsuid));
    if let Some(known) = table.get(&key).await? {
        if let Some(id) = known.get_s("customer") {
            return Ok(Some(id.to_owned()));
        }
    }
    let id = phone.unwrap_or_else(|| bsuid.to_owned());
    let alias = Item::new(&key)
        .with("customer", id.as_str())
        .with("id", bsuid);
    match table
        .put(alias, Some(Condition::AttrNotExists("pk".into())))
        .await
    {
        Ok(()) => Ok(Some(id)),
        // Another delivery recorded it first: theirs holds.
        Err(e) if e.is_condition_failed() => Ok(table
            .get(&key)
            .await?
            .and_then(|i| i.get_s("customer").map(str::to_owned))
            .or(Some(id))),
        Err(e) => Err(e.into()),
    }
}

/// Records an opt-out or opt-in with its source ("keyword", "api") and time.
pub(crate) async fn set_opt_out(
    table: &TenantTable,
    wa_id: &str,
    opted_out: bool,
    source: &str,
    now: DateTime<Utc>,
) -> Result<(), AppError> {
    let update = Update::new()
        .set("opted_out", opted_out)
        .set("consent_source", source)
        .set("consent_changed_at", now.timestamp());
    table
        .update(&profile_key(table, wa_id), update, None)
        .await?;
    // The LFPDPPP record: every change is kept, not only the latest.
    crate::parties::consent::record_change(table, wa_id, opted_out, source, now).await
}

/// A customer as the merchant's list shows them.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Listed {
    pub wa_id: String,
    pub name: Option<String>,
    /// The WhatsApp number (branch) they last wrote to.
    pub phone_number_id: Option<String>,
    pub first_seen_at: Option<i64>,
    pub last_inbound_at: Option<i64>,
    pub opted_out: bool,
}

/// Whether `text` matches a search: every word of the query appears in the name (accents and
/// case aside) or, for digits, in the number.
pub fn matches(listed: &Listed, query: &str) -> bool {
    let name = mostrador_core::text::fold_text(listed.name.as_deref().unwrap_or(""));
    query.split_whitespace().all(|word| {
        let digits: String = word.chars().filter(char::is_ascii_digit).collect();
        if !digits.is_empty() && digits.len() == word.chars().filter(|c| *c != '+').count() {
            listed.wa_id.contains(&digits)
        } else {
            name.contains(&mostrador_core::text::fold_text(word))
        }
    })
}

/// The merchant's customers the caller may see, latest to write first, from `cursor`; with a
/// query, only those matching it (reading at most 5,000 profiles per call).
pub async fn list(
    deps: &Deps,
    table: &TenantTable,
    visible: impl Fn(Option<&str>) -> bool,
    query: Option<&str>,
    cursor: Option<String>,
    limit: u32,
) -> Result<(Vec<Listed>, Option<String>), AppError> {
    let limit = limit.clamp(1, 200);
    let query = query.map(str::trim).filter(|q| !q.is_empty());
    let mut out = Vec::new();
    let mut cursor = cursor;
    let mut read = 0usize;
    loop {
        let page = table
            .query(
                mostrador_store::Query::gsi1(crate::platform::schema::CUSTOMERS)
                    .backward()
                    // Never more than can still be listed, so a call ends at a page's end and
                    // its cursor skips nothing.
                    .limit(limit - out.len() as u32)
                    .after(cursor.take()),
            )
            .await?;
        for item in &page.items {
            read += 1;
            if !visible(item.get_s("phone_number_id")) {
                continue;
            }
            let Some(wa_id) = wa_id_in(deps, table, item).await else {
                continue;
            };
            let listed = Listed {
                wa_id,
                name: name_in(deps, table, item).await,
                phone_number_id: item.get_s("phone_number_id").map(str::to_owned),
                first_seen_at: item.get_n("first_seen_at"),
                last_inbound_at: item.get_n("last_inbound_at"),
                opted_out: item.get("opted_out") == Some(&mostrador_store::Value::Bool(true)),
            };
            if query.is_some_and(|q| !matches(&listed, q)) {
                continue;
            }
            out.push(listed);
        }
        let full = out.len() as u32 >= limit;
        match page.cursor {
            Some(next) if !full && read < 5_000 => cursor = Some(next),
            Some(next) => return Ok((out, Some(next))),
            None => return Ok((out, None)),
        }
    }
}
