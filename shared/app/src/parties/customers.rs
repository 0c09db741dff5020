//! Customers as the channel knows them: profile name, the 24-hour window, consent, timezone.

use crate::platform::error::AppError;
use crate::platform::tenant::TenantTable;
use chrono::{DateTime, Utc};
use mostrador_store::{Condition, Item, Key, Table, Update};
use serde::Serialize;

/// What the sender and the conversation need to know about a customer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Default)]
pub struct Customer {
    pub wa_id: String,
    pub profile_name: Option<String>,
    /// Unix seconds of the customer's last message (opens the 24-hour window).
    pub last_inbound_at: Option<i64>,
    pub opted_out: bool,
    /// IANA timezone for quiet hours (default America/Mexico_City).
    pub timezone: String,
}

/// The customer-service window: free-form messages only within 24 hours of the customer's last message.
pub const WINDOW_SECS: i64 = 24 * 3600;

impl Customer {
    /// Whether the 24-hour window is open at `now`.
    pub fn window_open(&self, now: DateTime<Utc>) -> bool {
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

pub(crate) fn profile_key(wa_id: &str) -> Key {
    crate::platform::schema::customer_profile(wa_id)
}

/// The customer's record (a default, opted-in record when never seen).
pub async fn get(table: &TenantTable, wa_id: &str) -> Result<Customer, AppError> {
    let item = table.get(&profile_key(wa_id)).await?;
    Ok(Customer {
        wa_id: wa_id.to_owned(),
        profile_name: item
            .as_ref()
            .and_then(|i| i.get_s("profile_name"))
            .map(str::to_owned),
        last_inbound_at: item.as_ref().and_then(|i| i.get_n("last_inbound_at")),
        opted_out: item.as_ref().and_then(|i| i.get("opted_out"))
            == Some(&mostrador_store::Value::Bool(true)),
        timezone: item
            .as_ref()
            .and_then(|i| i.get_s("timezone"))
            .unwrap_or("America/Mexico_City")
            .to_owned(),
    })
}

/// The id a message's sender is known by, from the phone number Meta sent (normalized) and the
/// business-scoped user id (BSUID) it sends since 2026. Without a BSUID the phone number is the id
/// (no lookup). With one, the customer is whoever that BSUID was first seen as: the phone number
/// when Meta sent both, the BSUID when the user hid their number behind a username. So a customer
/// who later shows their number, or later hides it, stays one customer with one history, consent
/// and window. `None` when the message names neither.
pub async fn sender_id(
    table: &TenantTable,
    phone: Option<String>,
    bsuid: Option<&str>,
) -> Result<Option<String>, AppError> {
    let Some(bsuid) = bsuid.filter(|b| mostrador_core::phone::is_bsuid(b)) else {
        return Ok(phone);
    };
    let key = crate::platform::schema::customer_alias(bsuid);
    if let Some(known) = table.get(&key).await? {
        if let Some(id) = known.get_s("customer") {
            return Ok(Some(id.to_owned()));
        }
    }
    let id = phone.unwrap_or_else(|| bsuid.to_owned());
    let alias = Item::new(&key).with("customer", id.as_str());
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
pub async fn set_opt_out(
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
    table.update(&profile_key(wa_id), update, None).await?;
    // The LFPDPPP record: every change is kept, not only the latest.
    crate::parties::consent::record_change(table, wa_id, opted_out, source, now).await
}
