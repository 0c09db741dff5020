//! Notifications for fintechs (and any merchant) through the merchant API: a template registry,
//! consent records, single and bulk sends validated before anything is queued, scheduled sends, the
//! customer's replies mapped to actions, tracked links, micro-conversions attributed to the
//! notification.
//!
//! A notification is an outbound message whose id starts with [`ID_PREFIX`]; its record
//! `NOTIF#{id}` carries the template, campaign and report day, so the sender, the status webhooks
//! and the attribution paths count it in its template's and campaign's daily counters
//! (`schema::report_counters`: per template and per campaign, sort key the day) — each in the same conditional
//! write that records the event, so a redelivery never counts twice.

pub mod bridge;
pub mod bulk;
pub mod documents;
pub mod experiments;
pub mod links;
pub mod meta;
pub mod replies;
pub mod send;
pub mod stats;
pub mod templates;

use chrono::{DateTime, Utc};
use mostrador_store::Key;

/// The prefix of notification ids (and so of their outbound message ids).
pub const ID_PREFIX: &str = "ntf";

/// Whether an outbound id is a notification's.
pub(crate) fn is_notification(id: &str) -> bool {
    id.starts_with(ID_PREFIX)
}

/// The key of a notification's record.
pub fn key(id: &str) -> Key {
    crate::platform::schema::notification(id)
}

/// The report day of an instant: the calendar day in Mexico City.
pub(crate) fn mx_day(t: DateTime<Utc>) -> String {
    t.with_timezone(&chrono_tz::America::Mexico_City)
        .format("%Y-%m-%d")
        .to_string()
}
