//! message-sender: the rules every outbound message passes, then exactly one Cloud API call.
//!
//! Order of the rules: opt-out (nothing, ever, until the customer opts in again) → the 24-hour window
//! (free-form only inside it; outside it a template or nothing) → quiet hours (marketing is held until
//! the morning in the customer's timezone; security alerts are not) → the daily cap for
//! business-initiated messages (counted once per message) → throughput per number and per customer.
//! Without a stored access token the merchant is in sandbox mode and messages go to the outbox.
//! Every outcome — sent, refused with its reason, failed with Meta's code, deferred — is recorded
//! under `OUT#{id}` for status tracking and reports.

use crate::parties::customers::{self, Customer};
use crate::parties::messages::{Category, OutboundEnvelope};
use crate::parties::settings;
use crate::platform::due::{self, Job};
use crate::platform::records::{QueueRecord, RecordError};
use crate::platform::telemetry::redact;
use crate::platform::tenant::{MerchantId, TenantTable};
use crate::platform::throttle::{self, PairLimit, Permit};
use crate::platform::Deps;
use chrono::{DateTime, Duration as ChronoDuration, Utc};
use mostrador_core::phone::customer_id;
use mostrador_core::sending;
use mostrador_store::idempotency::{Claim, IdempotencyError};
use mostrador_store::{CancelReason, Condition, Item, Key, StoreError, Table, TxOp, Update};
use mostrador_whatsapp::client::{Content, Disposition, SendError};
use std::time::Duration;

pub use crate::parties::messages::Outcome;

/// Why the outbound message is not done yet.
enum Step {
    Done(Outcome),
    /// A short wait: the queue delays the record's next receive.
    RetryAfter(Duration, String),
    /// A wait longer than the queue should hold a record (it would spend its receives and end in
    /// the dead-letter queue while only waiting): deferred to a due entry instead.
    Wait(Duration, &'static str),
}

/// How often a message waiting for a valid access token (Meta's error 190) is tried again.
const TOKEN_WAIT: Duration = Duration::from_secs(900);

fn out_key(id: &str) -> Key {
    crate::platform::schema::outbound(id)
}

/// Handles one outbound record.
pub async fn handle(deps: &Deps, record: &QueueRecord) -> Result<(), RecordError> {
    let env: OutboundEnvelope =
        serde_json::from_str(&record.body).map_err(|e| RecordError::Malformed(e.to_string()))?;
    let merchant = MerchantId::try_from(env.merchant_id.clone()).map_err(RecordError::Malformed)?;
    if env.id.is_empty() || env.id.len() > 100 || env.id.contains('#') {
        return Err(RecordError::Malformed(
            "id must have 1-100 characters and no '#'".into(),
        ));
    }
    let to = customer_id(&env.message.to)
        .ok_or_else(|| RecordError::Malformed("recipient is not a WhatsApp id".into()))?;
    env.message
        .validate()
        .map_err(|e| RecordError::Malformed(format!("message: {e}")))?;
    let span = tracing::info_span!("outbound", merchant = %merchant, id = %env.id, to = %redact(&to), kind = env.message.kind());
    tracing::Instrument::instrument(handle_in_span(deps, record, env, merchant, to), span).await
}

async fn handle_in_span(
    deps: &Deps,
    record: &QueueRecord,
    env: OutboundEnvelope,
    merchant: MerchantId,
    to: String,
) -> Result<(), RecordError> {
    let table = TenantTable::of(deps, &merchant);
    let known = read_all(deps, &table, &env, &to).await?;
    // A finished message is never sent again, whatever the queue redelivers.
    if known
        .existing
        .as_ref()
        .and_then(|done| done.get_s("status"))
        .is_some_and(|s| s != "deferred")
    {
        return Ok(());
    }
    let deadline = deps.clock.now_ms() + 60_000;
    match deps
        .idempotency
        .claim::<std::convert::Infallible>("outbound", &env.id, record.body.as_bytes(), deadline)
        .await
    {
        Ok(Claim::Acquired) => {}
        Ok(Claim::Completed(_)) => return Ok(()),
        Err(IdempotencyError::InProgress) => {
            return Err(RecordError::RetryAfter(
                Duration::from_secs(60),
                "another consumer holds this message".into(),
            ))
        }
        Err(IdempotencyError::PayloadMismatch) => {
            return Err(RecordError::Malformed(
                "id reused for a different message".into(),
            ))
        }
        Err(e) => return Err(RecordError::retry(e)),
    }
    let step = decide_and_send(deps, &merchant, &table, &env, &to, record, &known).await;
    match step {
        Ok(Step::Done(outcome)) => {
            // The claim is completed in the outcome's own transaction (a crash leaves both or
            // neither); a deferred copy comes back with the same id, so its key is released.
            let completion = match outcome {
                Outcome::Deferred { .. } => None,
                _ => Some(
                    deps.idempotency
                        .completion("outbound", &env.id, &outcome)
                        .map_err(RecordError::retry)?,
                ),
            };
            record_outcome(
                deps,
                &table,
                &env,
                &to,
                &outcome,
                completion,
                known.tag.as_ref(),
            )
            .await
            .map_err(RecordError::retry)?;
            if env.category == Category::Service
                && matches!(outcome, Outcome::Sent { .. } | Outcome::Sandbox { .. })
            {
                crate::flows::reports::count_first_response(&table, &to, deps.clock.now()).await;
            }
            if let Outcome::Deferred { .. } = outcome {
                deps.idempotency
                    .release("outbound", &env.id)
                    .await
                    .map_err(RecordError::retry)?;
            }
            Ok(())
        }
        Ok(Step::RetryAfter(after, why)) => {
            let _ = deps.idempotency.release("outbound", &env.id).await;
            Err(RecordError::RetryAfter(after, why))
        }
        // decide_and_send turns waits into deferrals; kept a retry should one come through.
        Ok(Step::Wait(after, why)) => {
            let _ = deps.idempotency.release("outbound", &env.id).await;
            Err(RecordError::RetryAfter(after, why.to_owned()))
        }
        Err(e) => {
            let _ = deps.idempotency.release("outbound", &env.id).await;
            Err(e)
        }
    }
}

/// What the rules of one message read, read at once before its claim (the reader threads answer
/// reads waiting together from one snapshot): the record of an earlier attempt, the customer, the
/// merchant's settings and notification policy, the pair's clock and, for a notification, its tag.
struct Known {
    existing: Option<Item>,
    customer: Customer,
    settings: settings::WhatsAppSettings,
    policy: crate::parties::notification_settings::NotificationSettings,
    pair: Option<i64>,
    tag: Option<crate::notifications::stats::Tag>,
}

async fn read_all(
    deps: &Deps,
    table: &TenantTable,
    env: &OutboundEnvelope,
    to: &str,
) -> Result<Known, RecordError> {
    let notification = crate::notifications::is_notification(&env.id);
    let (out, pair_of) = (out_key(&env.id), deps.customer_key(to));
    let (existing, customer, settings, policy, pair, tag) = tokio::join!(
        table.get(&out),
        customers::get(table, to),
        settings::load(table),
        crate::parties::notification_settings::load(table),
        throttle::read_pair(&*deps.table, &env.phone_number_id, &pair_of),
        async {
            match notification {
                true => crate::notifications::stats::tag(table, &env.id).await,
                false => Ok(None),
            }
        },
    );
    Ok(Known {
        existing: existing.map_err(RecordError::retry)?,
        customer: customer.map_err(RecordError::from)?,
        settings: settings.map_err(RecordError::from)?,
        policy: policy.map_err(RecordError::from)?,
        pair: pair.map_err(RecordError::retry)?,
        tag: tag.map_err(RecordError::retry)?,
    })
}

async fn decide_and_send(
    deps: &Deps,
    merchant: &MerchantId,
    table: &TenantTable,
    env: &OutboundEnvelope,
    to: &str,
    record: &QueueRecord,
    known: &Known,
) -> Result<Step, RecordError> {
    let now = deps.clock.now();
    let Known {
        existing,
        customer,
        settings,
        policy,
        ..
    } = known;
    let bucket_cap = |b: &str| policy.category_cap(b);
    let decision = sending::decide(
        &sending::Outbound {
            category: env.category.as_str(),
            kind: env.kind.as_deref(),
            template: matches!(env.message.content, Content::Template(_)),
            business_initiated: env.category.business_initiated(),
            consent_confirmation: env.kind.as_deref()
                == Some(crate::parties::conversation::CONSENT_CONFIRMATION),
        },
        &sending::Recipient {
            opted_out: customer.opted_out,
            window_open: customer.window_open(now),
            quiet_until: sending::quiet_until(
                settings.quiet_hours_start,
                settings.quiet_hours_end,
                customer.tz(),
                now,
            ),
        },
        &sending::Policy {
            security_after_opt_out: policy.security_alerts_after_opt_out,
            daily_cap: settings.daily_cap,
            bucket_cap: &bucket_cap,
        },
    );
    match decision {
        sending::Decision::Refuse(why) => return Ok(refused(why.as_str())),
        sending::Decision::WaitUntil(until) => {
            return defer(deps, merchant, env, to, record, until, "after-quiet-hours").await
        }
        sending::Decision::Send(None) => {}
        sending::Decision::Send(Some(caps)) => {
            if let Some(reason) = take_daily_cap(table, customer, caps, &env.id, now)
                .await
                .map_err(RecordError::retry)?
            {
                return Ok(refused(reason));
            }
        }
    }
    // The number's throughput (Meta's messages per second): a slot is usually a fraction of a
    // second away, so the consumer waits for it in place instead of handing the record back, which
    // would spend one of its receives per wait and, under a burst, end it in the dead-letter queue.
    let mut waited = Duration::ZERO;
    loop {
        let permit = throttle::take_number_slot(
            &*deps.table,
            &env.phone_number_id,
            settings.messages_per_second,
            deps.clock.now_ms(),
        )
        .await
        .map_err(RecordError::retry)?;
        match permit {
            Permit::Granted => break,
            Permit::Wait(d) if waited + d <= SLOT_WAIT_IN_PLACE => {
                tokio::time::sleep(d).await;
                waited += d;
            }
            Permit::Wait(d) => {
                return throttled(deps, merchant, env, to, record, d, "number throughput").await
            }
        }
    }
    if let Permit::Wait(d) = throttle::take_pair_slot(
        &*deps.table,
        &env.phone_number_id,
        &deps.customer_key(to),
        PairLimit::default(),
        deps.clock.now_ms(),
        Some(known.pair),
    )
    .await
    .map_err(RecordError::retry)?
    {
        return throttled(deps, merchant, env, to, record, d, "customer pair rate").await;
    }

    // Without a stored token (known from the settings read) there is nothing to open.
    let token = match settings.has_token {
        true => settings::access_token(deps, merchant)
            .await
            .map_err(RecordError::from)?,
        false => None,
    };
    let Some(token) = token else {
        // Sandbox mode: the outbox entry is written with the outcome (see record_outcome).
        return Ok(Step::Done(Outcome::Sandbox {
            wamid: format!("sandbox.{}", env.id),
        }));
    };
    // A previous attempt may have reached the Cloud API and died before recording the outcome.
    if let Some(step) = reconcile(deps, existing.as_ref()) {
        return Ok(step);
    }
    table
        .update(
            &out_key(&env.id),
            Update::new().set("sending_at", deps.clock.now_ms()),
            None,
        )
        .await
        .map_err(RecordError::retry)?;
    let message = env.message.clone().callback_data(env.id.clone());
    match deps
        .cloud
        .send(&env.phone_number_id, token.expose(), &message)
        .await
    {
        Ok(accepted) => Ok(Step::Done(Outcome::Sent {
            wamid: accepted.wamid,
        })),
        Err(e) => {
            // Meta answered, or the connection never opened: nothing was accepted, nothing is in
            // doubt. A timeout or an unreadable success leaves the send in doubt (see reconcile).
            let definite = matches!(
                e,
                SendError::Api(_)
                    | SendError::Status { .. }
                    | SendError::Invalid(_)
                    | SendError::Transport { timeout: false, .. }
            );
            if definite {
                table
                    .update(&out_key(&env.id), Update::new().remove("sending_at"), None)
                    .await
                    .map_err(RecordError::retry)?;
            }
            after_error(deps, merchant, env, to, record, &e, now).await
        }
    }
}

async fn after_error(
    deps: &Deps,
    merchant: &MerchantId,
    env: &OutboundEnvelope,
    to: &str,
    record: &QueueRecord,
    e: &SendError,
    now: DateTime<Utc>,
) -> Result<Step, RecordError> {
    match classify(e, record.receive_count) {
        Step::Wait(after, tag) => {
            let until = now
                + ChronoDuration::from_std(after).unwrap_or_else(|_| ChronoDuration::minutes(15));
            defer(deps, merchant, env, to, record, until, tag).await
        }
        step => Ok(step),
    }
}

/// How long a message whose previous attempt may have reached the Cloud API waits for Meta's status
/// before it is sent again. Meta reports `sent` within seconds of accepting a message.
const IN_DOUBT_WAIT_MS: i64 = 120_000;

/// After a crash between the Cloud API call and the recorded outcome (`sending_at` left on the
/// record, no outcome): Meta's status webhook for our id (biz_opaque_callback_data) proves the send,
/// and the outcome is recorded without calling the API again; without one, the message waits for
/// it up to [`IN_DOUBT_WAIT_MS`] and is then sent again (never lost, at worst once more).
fn reconcile(deps: &Deps, existing: Option<&Item>) -> Option<Step> {
    let record = existing?;
    if let (Some(wamid), Some(_)) = (record.get_s("wamid"), record.get_s("delivery_status")) {
        tracing::info!("Meta reported this message before its outcome was recorded: recorded now, not sent again");
        return Some(Step::Done(Outcome::Sent {
            wamid: wamid.to_owned(),
        }));
    }
    let sending_at = record.get_n("sending_at")?;
    let waited = deps.clock.now_ms() - sending_at;
    if waited < IN_DOUBT_WAIT_MS {
        let left = Duration::from_millis((IN_DOUBT_WAIT_MS - waited).max(1_000) as u64);
        tracing::warn!(wait = ?left, "a previous attempt may have sent this message: waiting for Meta's status");
        return Some(Step::RetryAfter(
            left,
            "waiting for Meta's status of a send in doubt".into(),
        ));
    }
    tracing::warn!("no status from Meta for a send in doubt: sending again");
    None
}

/// Puts the message back on the outbound queue at `until` (a due entry) and records it deferred.
/// How long a consumer waits in place for a throughput slot.
const SLOT_WAIT_IN_PLACE: Duration = Duration::from_secs(5);

/// Receives a record may spend waiting for throughput before it waits as a due entry instead (the
/// queue moves a record to the dead-letter queue after five).
const RECEIVES_BEFORE_DEFERRING: u32 = 3;

/// A rate limit says "not yet": the queue brings the record back after `after`, or, once it has
/// come back a few times, a due entry brings a fresh copy (never a dead letter for only waiting).
async fn throttled(
    deps: &Deps,
    merchant: &MerchantId,
    env: &OutboundEnvelope,
    to: &str,
    record: &QueueRecord,
    after: Duration,
    why: &'static str,
) -> Result<Step, RecordError> {
    if record.receive_count < RECEIVES_BEFORE_DEFERRING {
        return Ok(Step::RetryAfter(after, why.into()));
    }
    let until = deps.clock.now()
        + ChronoDuration::from_std(after.max(Duration::from_secs(1)))
            .unwrap_or_else(|_| ChronoDuration::seconds(1));
    defer(deps, merchant, env, to, record, until, "throughput").await
}

async fn defer(
    deps: &Deps,
    merchant: &MerchantId,
    env: &OutboundEnvelope,
    to: &str,
    record: &QueueRecord,
    until: DateTime<Utc>,
    tag: &str,
) -> Result<Step, RecordError> {
    let entry = due::sealed_enqueue_entry(
        deps,
        merchant,
        Job::DueNotifications,
        &format!("defer-{}", env.id),
        until.timestamp_millis(),
        "outbound",
        &record.body,
        Some(deps.pseudonyms.of(to)),
        // Unique per deferral: a message deferred twice must not be taken for a duplicate.
        Some(format!("{}-{tag}-{}", env.id, until.timestamp())),
    )
    .await
    .map_err(RecordError::retry)?;
    deps.table
        .put(entry, None)
        .await
        .map_err(RecordError::retry)?;
    Ok(Step::Done(Outcome::Deferred {
        until: until.to_rfc3339(),
    }))
}

fn refused(reason: &str) -> Step {
    tracing::info!(reason, "message refused");
    Step::Done(Outcome::Refused {
        reason: reason.to_owned(),
    })
}

fn classify(e: &SendError, receive_count: u32) -> Step {
    match e.disposition() {
        Disposition::Retry { after } => {
            let after = after
                .or_else(|| e.retry_delay(receive_count))
                .unwrap_or(Duration::from_secs(30));
            tracing::warn!(code = ?e.code(), retry_in = ?after, "Cloud API asked to retry");
            Step::RetryAfter(after, format!("Cloud API: {e}"))
        }
        Disposition::OutsideWindow => Step::Done(Outcome::Refused {
            reason: "outside_24h_window".into(),
        }),
        Disposition::TokenInvalid => {
            tracing::error!(code = ?e.code(), "WhatsApp access token is invalid or expired: the merchant must store a new one; messages wait");
            Step::Wait(TOKEN_WAIT, "token-invalid")
        }
        Disposition::Permanent => {
            tracing::warn!(code = ?e.code(), "Cloud API refused the message for good");
            Step::Done(Outcome::Failed {
                code: e.code(),
                message: e.to_string(),
            })
        }
    }
}

/// Counts a business-initiated message against the customer's day (in their timezone), once per id.
/// Returns the refusal reason when a cap is reached.
async fn take_daily_cap(
    table: &TenantTable,
    customer: &Customer,
    cap: sending::Caps,
    id: &str,
    now: DateTime<Utc>,
) -> Result<Option<&'static str>, StoreError> {
    let day = now
        .with_timezone(&customer.tz())
        .format("%Y-%m-%d")
        .to_string();
    let ttl = now.timestamp() + 3 * 86_400;
    let under = |limit: u32| {
        Condition::AttrNotExists("n".into()).or(Condition::Lt("n".into(), i64::from(limit)))
    };
    let mut ops = vec![TxOp::Put {
        item: Item::new(&crate::platform::schema::daily_cap_mark(
            &table.customer(&customer.wa_id),
            &day,
            id,
        ))
        .with("ttl", ttl),
        condition: Some(Condition::NotExists),
    }];
    let mut reasons_by_op = vec!["counted"];
    if let Some(limit) = cap.general {
        ops.push(TxOp::Update {
            key: crate::platform::schema::daily_cap(&table.customer(&customer.wa_id), &day, None),
            update: Update::new().add("n", 1).set_if_absent("ttl", ttl),
            condition: Some(under(limit)),
        });
        reasons_by_op.push("daily_cap");
    }
    if let Some((bucket, limit)) = cap.bucket {
        ops.push(TxOp::Update {
            key: crate::platform::schema::daily_cap(
                &table.customer(&customer.wa_id),
                &day,
                Some(bucket),
            ),
            update: Update::new().add("n", 1).set_if_absent("ttl", ttl),
            condition: Some(under(limit)),
        });
        reasons_by_op.push("category_cap");
    }
    match table.transact(ops).await {
        Ok(()) => Ok(None),
        Err(StoreError::TransactionCanceled { reasons }) => {
            match reasons
                .iter()
                .position(|r| *r == CancelReason::ConditionFailed)
            {
                // Already counted: a redelivery of a message that was let through.
                Some(0) => Ok(None),
                Some(i) => Ok(reasons_by_op.get(i).copied()),
                None => Err(StoreError::TransactionCanceled { reasons }),
            }
        }
        Err(e) => Err(e),
    }
}

/// The sandbox outbox entry of a message (sandbox mode: no access token), written in the
/// outcome's transaction: once per id, the marker's condition refusing a second copy.
async fn outbox_ops(
    deps: &Deps,
    table: &TenantTable,
    env: &OutboundEnvelope,
    to: &str,
) -> Result<Vec<TxOp>, StoreError> {
    let at = deps.clock.now_ms();
    let message =
        serde_json::to_string(&env.message).map_err(|e| StoreError::Internal(e.to_string()))?;
    // The message (recipient included) sealed like the conversation; the recipient's pseudonym
    // lets the simulator find a customer's messages without opening the others'.
    let sealed = crate::parties::conversation::seal_text(deps, table.merchant(), &message).await?;
    let item = Item::new(&crate::platform::schema::outbox_entry(at, &env.id))
        .with("id", env.id.as_str())
        .with("customer", deps.pseudonyms.of(to))
        .with("phone_number_id", env.phone_number_id.as_str())
        .with("category", env.category.as_str())
        .with("message_sealed", mostrador_store::Value::B(sealed));
    Ok(vec![
        TxOp::Put {
            item: Item::new(&crate::platform::schema::outbox_marker(&env.id)),
            condition: Some(Condition::NotExists),
        },
        TxOp::Put {
            item,
            condition: None,
        },
    ])
}

/// What kind of message went out, for the local console: never its words (they may carry a
/// customer's name, address or order), only its kind and size, or a template's name.
fn preview(content: &Content) -> String {
    match content {
        Content::Text(t) => format!("text, {} characters", t.body.chars().count()),
        Content::Template(t) => format!("template {}", t.name),
        Content::Interactive(_) => "interactive".to_owned(),
        Content::Document(_) => "document".to_owned(),
        Content::Image(_) => "image".to_owned(),
    }
}

/// Records the outcome under `OUT#{id}` with its counters, the notification's status, the sandbox
/// outbox entry and `completion` (the idempotency record's), all in one transaction.
async fn record_outcome(
    deps: &Deps,
    table: &TenantTable,
    env: &OutboundEnvelope,
    to: &str,
    outcome: &Outcome,
    completion: Option<TxOp>,
    tag: Option<&crate::notifications::stats::Tag>,
) -> Result<(), StoreError> {
    let now = deps.clock.now();
    // The recipient, sealed like the conversation (the merchant API shows it shortened).
    let to_sealed = crate::parties::conversation::seal_text(deps, table.merchant(), to).await?;
    let mut item = Item::new(&out_key(&env.id))
        .with("status", outcome.name())
        .with("to_sealed", mostrador_store::Value::B(to_sealed))
        .with("category", env.category.as_str())
        .with("kind", env.message.kind())
        .with("phone_number_id", env.phone_number_id.as_str())
        .with(
            "outcome",
            serde_json::to_string(outcome).map_err(|e| StoreError::Internal(e.to_string()))?,
        )
        .with("updated_at", now.timestamp());
    if let Content::Template(t) = &env.message.content {
        item.set("template", t.name.as_str());
    }
    let mut ops = Vec::new();
    match outcome {
        Outcome::Sent { wamid } | Outcome::Sandbox { wamid } => {
            item.set("wamid", wamid.as_str());
            item.set("status_rank", 1);
            ops.push(TxOp::Put {
                item: Item::new(&crate::platform::schema::wamid(wamid)).with("id", env.id.as_str()),
                condition: None,
            });
        }
        Outcome::Refused { reason } => item.set("reason", reason.as_str()),
        Outcome::Failed { code, message } => {
            item.set("reason", message.as_str());
            if let Some(c) = code {
                item.set("error_code", *c);
            }
        }
        Outcome::Deferred { until } => item.set("deferred_until", until.as_str()),
    }
    ops.push(TxOp::Put {
        item,
        condition: None,
    });
    let day = now.format("%Y-%m-%d").to_string();
    let counter = match outcome {
        Outcome::Refused { reason } => format!("refused_{reason}"),
        other => other.name().to_owned(),
    };
    ops.push(TxOp::Update {
        key: crate::platform::schema::outbound_stats(&day),
        update: Update::new().add(counter, 1),
        condition: None,
    });
    // A notification's status and its template's and campaign's counters, in the same write.
    if let Some(tag) = tag {
        ops.extend(crate::notifications::stats::outcome_ops(tag, outcome, now));
    }
    let outbox = if let Outcome::Sandbox { .. } = outcome {
        outbox_ops(deps, table, env, to).await?
    } else {
        Vec::new()
    };
    let platform: Vec<TxOp> = completion.into_iter().collect();
    let mut with_outbox = ops.clone();
    let marker_at = with_outbox.len();
    with_outbox.extend(outbox.iter().cloned());
    match table
        .transact_with_platform(with_outbox, platform.clone())
        .await
    {
        Ok(()) => {
            if !outbox.is_empty() {
                tracing::info!(content = %preview(&env.message.content), "sandbox: message in the outbox");
            }
            Ok(())
        }
        // Already in the outbox (an earlier version wrote it before recording the outcome, and a
        // crash came between): the outcome alone.
        Err(StoreError::TransactionCanceled { reasons })
            if !outbox.is_empty()
                && reasons.get(marker_at) == Some(&CancelReason::ConditionFailed)
                && reasons
                    .iter()
                    .enumerate()
                    .all(|(i, r)| i == marker_at || *r != CancelReason::ConditionFailed) =>
        {
            tracing::info!("sandbox: already in the outbox (a redelivery after a crash)");
            table.transact_with_platform(ops, platform).await
        }
        Err(e) => Err(e),
    }
}
