//! What each queue consumer does with one record. The Lambdas and the local pollers call these.

use crate::parties::conversation;
use crate::parties::messages::InboundEnvelope;
use crate::platform::error::AppError;
use crate::platform::records::{QueueRecord, RecordError};
use crate::platform::telemetry::redact;
use crate::platform::tenant::{MerchantId, TenantTable};
use crate::platform::Deps;
use mostrador_store::idempotency::IdempotencyError;
use mostrador_store::{Condition, Table, Update};
use serde::de::DeserializeOwned;

/// How long a consumer may hold an idempotency claim before another may take over.
const CLAIM_MS: i64 = 60_000;

fn parse<T: DeserializeOwned>(record: &QueueRecord) -> Result<T, RecordError> {
    serde_json::from_str(&record.body).map_err(|e| RecordError::Malformed(e.to_string()))
}

fn tenant(deps: &Deps, merchant_id: &str) -> Result<TenantTable, RecordError> {
    let id = MerchantId::try_from(merchant_id.to_owned()).map_err(RecordError::Malformed)?;
    Ok(TenantTable::of(deps, &id))
}

fn idem_error<E: Into<RecordError> + std::fmt::Display>(e: IdempotencyError<E>) -> RecordError {
    match e {
        IdempotencyError::PayloadMismatch => {
            RecordError::Malformed("id reused with a different payload".into())
        }
        // The use case's own failure keeps its kind: invalid input is not retried.
        IdempotencyError::Effect(e) => e.into(),
        other => RecordError::retry(other),
    }
}

/// order-confirm: records the customer's message and 24-hour window, then runs the conversation.
pub async fn handle_inbound(deps: &Deps, record: &QueueRecord) -> Result<(), RecordError> {
    let msg: InboundEnvelope = parse(record)?;
    let table = tenant(deps, &msg.merchant_id)?;
    let span = tracing::info_span!("inbound", merchant = %msg.merchant_id, wamid = %msg.wamid, customer = %redact(&msg.wa_id));
    // A message the customer sent before their data was erased, delivered (or retried) after the
    // erasure, is part of what was erased: it is not stored, and nothing answers it.
    if let Some(at) = crate::parties::privacy::erased_at(deps, &table, &msg.wa_id)
        .await
        .map_err(RecordError::retry)?
    {
        // Seconds, as Meta stamps messages: one of the erasure's own second is kept.
        if msg.timestamp < at {
            tracing::info!(parent: &span, "a message sent before the customer's data was erased: not stored");
            return Ok(());
        }
    }
    let deadline = deps.clock.now_ms() + CLAIM_MS;
    let work = deps.idempotency.run(
        "inbound",
        &msg.wamid,
        record.body.as_bytes(),
        deadline,
        || async {
            conversation::log_message(
                deps,
                &table,
                &conversation::LogEntry {
                    wa_id: &msg.wa_id,
                    at_secs: msg.timestamp,
                    logged_ms: deps.clock.now_ms(),
                    id: &msg.wamid,
                    direction: "in",
                    phone_number_id: &msg.phone_number_id,
                    branch_id: Some(&msg.branch_id),
                },
                msg.message.get(),
            )
            .await?;
            let profile = crate::platform::schema::customer_profile(&table.customer(&msg.wa_id));
            // The newest message decides the 24-hour window, the number and the name; one that
            // Meta delivers late (they may arrive out of order) never moves them back.
            let mut update = Update::new()
                .set("last_inbound_at", msg.timestamp)
                .set("phone_number_id", msg.phone_number_id.as_str())
                .set_if_absent("first_seen_at", msg.timestamp)
                // Listed among the merchant's customers, the latest to write first.
                .set("gsi1pk", crate::platform::schema::CUSTOMERS)
                .set(
                    "gsi1sk",
                    crate::platform::schema::customer_index_sk(msg.timestamp),
                );
            // The key names the customer by a pseudonym: the profile says who it is, sealed.
            use crate::parties::customers::{set_sealed, PROFILE_PHONE, PROFILE_WA_ID};
            update = set_sealed(deps, &table, update, PROFILE_WA_ID, &msg.wa_id).await?;
            if let Some(name) = &msg.profile_name {
                update = crate::parties::customers::set_name(deps, &table, update, name).await?;
            }
            if let Some(phone) = &msg.phone {
                update = set_sealed(deps, &table, update, PROFILE_PHONE, phone).await?;
            }
            if let Some(username) = &msg.username {
                update = update.set("username", username.as_str());
            }
            let newer = Condition::Or(vec![
                Condition::AttrNotExists("last_inbound_at".into()),
                Condition::Le("last_inbound_at".into(), msg.timestamp),
            ]);
            match table.update(&profile, update, Some(newer)).await {
                Ok(_) => {}
                Err(e) if e.is_condition_failed() => {
                    // An older message may still be the first one seen.
                    table
                        .update(
                            &profile,
                            Update::new().set("first_seen_at", msg.timestamp),
                            Some(Condition::Gt("first_seen_at".into(), msg.timestamp)),
                        )
                        .await
                        .or_else(|e| {
                            if e.is_condition_failed() {
                                Ok(Default::default())
                            } else {
                                Err(e)
                            }
                        })?;
                }
                Err(e) => return Err(e.into()),
            }
            crate::flows::reports::count_conversation(deps, &table, &msg)
                .await
                .map_err(|e| AppError::Unavailable(format!("conversation count: {e}")))?;
            // An answer to a notification (a quick reply, "no fui yo", a KYC document) runs the
            // template's actions; anything else goes to the conversation unchanged.
            let answered = crate::notifications::replies::intercept(deps, &msg).await?;
            // A merchant with its own bot gets what is left (consent changes and a conversation a
            // person has stay here); the event's id is the wamid's, so a retry is one event.
            let answered = answered || crate::notifications::bridge::forward(deps, &msg).await?;
            // The conversation answers; its replies and orders are keyed by the wamid, so a retry
            // after a failure here repeats nothing already done.
            if !answered {
                crate::flows::chat::converse(deps, &msg).await?;
            }
            Ok::<_, AppError>(())
        },
    );
    tracing::Instrument::instrument(work, span)
        .await
        .map(|_| ())
        .map_err(idem_error)
}

/// message-sender: the send rules, then one Cloud API call (or the sandbox outbox).
/// Signed events for merchants' own systems ride the same queue (see [`crate::parties::hooks`]).
pub async fn handle_outbound(deps: &Deps, record: &QueueRecord) -> Result<(), RecordError> {
    if crate::parties::hooks::is_delivery(&record.body) {
        return crate::parties::hooks::deliver(deps, record).await;
    }
    crate::flows::sender::handle(deps, record).await
}

/// invoice-stamp: builds, seals, stamps, stores and delivers one invoice (see [`crate::invoicing`]).
pub async fn handle_invoice_request(deps: &Deps, record: &QueueRecord) -> Result<(), RecordError> {
    crate::invoicing::issue::handle(deps, record).await
}
