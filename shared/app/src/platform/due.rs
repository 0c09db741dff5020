//! Due entries: work that comes due later (an expiry, a reminder, a scheduled send), indexed for the
//! scheduled jobs that act on it (`entry::jobs`).
//!
//! Work that comes due is indexed by due time (GSI1 `DUE#{job}`, sort `{due_ms}#...`), so a run costs
//! what is due, never a table scan. Each entry is leased with a conditional update before its action
//! and deleted after it: a double firing does nothing twice, and a run cut off by its timeout leaves
//! the rest for the next run.

use crate::platform::tenant::MerchantId;
use crate::platform::Deps;
use mostrador_store::StoreError;
use serde::{Deserialize, Serialize};

/// The jobs the scheduler fires.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Job {
    PaymentReminders,
    ExpireOrders,
    AbandonedCarts,
    GlobalInvoices,
    DueNotifications,
    CatalogSync,
}

impl Job {
    /// Every job.
    pub const ALL: [Job; 6] = [
        Job::PaymentReminders,
        Job::ExpireOrders,
        Job::AbandonedCarts,
        Job::GlobalInvoices,
        Job::DueNotifications,
        Job::CatalogSync,
    ];

    /// The name used in the scheduler input.
    pub fn name(self) -> &'static str {
        match self {
            Job::PaymentReminders => "payment_reminders",
            Job::ExpireOrders => "expire_orders",
            Job::AbandonedCarts => "abandoned_carts",
            Job::GlobalInvoices => "global_invoices",
            Job::DueNotifications => "due_notifications",
            Job::CatalogSync => "catalog_sync",
        }
    }
}

/// The scheduler's input.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JobInput {
    pub job: Job,
}

/// What an entry does when it comes due.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum DueAction {
    /// Put a message on a queue (a reminder to send, an invoice to stamp).
    Enqueue {
        queue: String,
        body: String,
        group_id: Option<String>,
        dedup_id: Option<String>,
    },
    /// Put a message to a customer on a queue when it comes due (a scheduled notification, a
    /// message held for quiet hours): its body is sealed beside the action, under the merchant's
    /// conversation context, since it carries what the customer is told.
    EnqueueSealed {
        merchant_id: String,
        queue: String,
        group_id: Option<String>,
        dedup_id: Option<String>,
    },
    /// Expire an order still awaiting payment: release its stock and tell the customer.
    ExpireOrder {
        merchant_id: String,
        order_id: String,
    },
    /// Remind the customer of an order still awaiting payment.
    PaymentReminder {
        merchant_id: String,
        order_id: String,
    },
    /// Remind a customer, once, of the cart left in the chat.
    AbandonedCart {
        merchant_id: String,
        wa_id: String,
        phone_number_id: String,
    },
    /// Expand one chunk of a bulk notification request.
    NotificationBatch {
        merchant_id: String,
        bulk_id: String,
        chunk: u32,
    },
    /// Push the merchant's products, prices and availability to its Meta catalog.
    SyncCatalog { merchant_id: String },
    /// Delete a document a customer sent (its record and file) when the merchant's retention ends.
    ForgetDocument {
        merchant_id: String,
        document_id: String,
    },
    /// Delete a stored file that has served its purpose: the sealed copy of an over-long inbound
    /// message when the merchant's message retention ends, a customer's data export when its link
    /// expires. Only keys under that merchant's `inbound/` or `exports/` prefixes.
    ForgetBlob {
        merchant_id: String,
        blob_key: String,
    },
    /// Ask the payment provider again for the link of an order it failed at confirmation.
    RetryPaymentLink {
        merchant_id: String,
        order_id: String,
        attempt: u32,
    },
}

/// The attribute of a due entry holding the sealed body of a [`DueAction::EnqueueSealed`].
const SEALED_BODY: &str = "body_sealed";

/// A due entry that queues `body` for a customer at `due_at_ms` (a scheduled notification, a
/// message held for quiet hours), its body sealed under the merchant's conversation context.
#[allow(clippy::too_many_arguments)]
pub(crate) async fn sealed_enqueue_entry(
    deps: &Deps,
    merchant: &MerchantId,
    job: Job,
    id: &str,
    due_at_ms: i64,
    queue: &str,
    body: &str,
    group_id: Option<String>,
    dedup_id: Option<String>,
) -> Result<mostrador_store::Item, StoreError> {
    let sealed = deps
        .keys
        .seal(
            body.as_bytes(),
            &crate::platform::sealed::Sealing::Conversation.context(merchant),
        )
        .await
        .map_err(|e| match e {
            mostrador_store::KeysError::Unavailable(why) => StoreError::Unavailable(why),
            other => StoreError::Internal(other.to_string()),
        })?;
    let action = DueAction::EnqueueSealed {
        merchant_id: merchant.to_string(),
        queue: queue.to_owned(),
        group_id,
        dedup_id,
    };
    Ok(
        crate::platform::schema::due_entry(merchant, job, id, id, due_at_ms, &action)?
            .with(SEALED_BODY, mostrador_store::Value::B(sealed)),
    )
}

/// Opens the body a [`DueAction::EnqueueSealed`] entry carries.
pub(crate) async fn open_enqueued(
    deps: &Deps,
    merchant: &MerchantId,
    entry: &mostrador_store::Item,
) -> anyhow::Result<String> {
    let Some(mostrador_store::Value::B(sealed)) = entry.get(SEALED_BODY) else {
        anyhow::bail!("a sealed due entry without its body");
    };
    let plain = deps
        .keys
        .open(
            sealed,
            &crate::platform::sealed::Sealing::Conversation.context(merchant),
        )
        .await?;
    Ok(String::from_utf8(plain)?)
}

/// Schedules an invoicing request (`body`, as the invoicing queue takes it) for `due_at_ms`: a PAC
/// retry, a cancellation follow-up, a global invoice at its period's end.
pub async fn schedule_invoicing(
    deps: &Deps,
    merchant: &MerchantId,
    job: Job,
    id: &str,
    due_at_ms: i64,
    body: String,
) -> Result<(), StoreError> {
    let action = DueAction::Enqueue {
        queue: "invoicing".into(),
        body,
        group_id: None,
        dedup_id: None,
    };
    schedule(deps, merchant, job, id, due_at_ms, &action).await
}

/// Schedules `action` for `due_at_ms` under a merchant; `id` makes it unique (re-scheduling replaces).
pub async fn schedule(
    deps: &Deps,
    merchant: &MerchantId,
    job: Job,
    id: &str,
    due_at_ms: i64,
    action: &DueAction,
) -> Result<(), StoreError> {
    let item = crate::platform::schema::due_entry(merchant, job, id, id, due_at_ms, action)?;
    deps.table.put(item, None).await
}
