//! Bulk sends: up to [`MAX_BULK`] notifications in one request. Every item is checked against its
//! template first — any invalid item refuses the whole request with each item's reasons and nothing
//! stored. A valid request is kept in chunks of [`CHUNK`] with a due entry per chunk, and answered
//! 202 with a job id at once; the `due_notifications` job expands each chunk (consent and caps per
//! recipient, then the same commit as a single notification) and counts its results once, so a
//! chunk cut off or fired twice never sends or counts twice.

use super::links::LinkBase;
use super::send::{self, NotificationRequest, NotifyError};
use super::templates::{self, MetaStatuses, TemplateDef};
use crate::parties::notification_settings;
use crate::parties::settings as whatsapp_settings;
use crate::platform::due::{DueAction, Job};
use crate::platform::error::{AppError, FieldError};
use crate::platform::tenant::{MerchantId, TenantTable};
use crate::platform::Deps;
use mostrador_store::{Condition, Item, Key, Query, Table, TxOp, Update};
use serde::Deserialize;
use serde_json::{json, Value};
use std::collections::{BTreeMap, HashMap};

use futures::StreamExt;

/// Items of a chunk checked and committed at the same time.
const ITEMS_AT_ONCE: usize = 8;

/// Most notifications in one bulk request.
pub const MAX_BULK: usize = 10_000;
/// Notifications per stored chunk (one due entry each).
pub const CHUNK: usize = 100;
/// Rejections listed in the progress answer.
const LISTED_REJECTIONS: u32 = 100;

/// `POST /v1/notifications/bulk`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BulkRequest {
    /// Applied to every item that names none.
    #[serde(default)]
    pub campaign: Option<String>,
    #[serde(default)]
    pub branch_id: Option<String>,
    pub notifications: Vec<NotificationRequest>,
}

fn bulk_key(id: &str) -> Key {
    crate::platform::schema::bulk(id)
}

fn chunk_key(id: &str, n: usize) -> Key {
    crate::platform::schema::bulk_chunk(id, n)
}

/// Checks every item, stores the chunks and their due entries; answers the job.
pub async fn accept(
    deps: &Deps,
    caller: &crate::parties::merchants::Caller,
    mut req: BulkRequest,
) -> Result<Value, NotifyError> {
    let n = req.notifications.len();
    if n == 0 {
        return Err(NotifyError::Invalid(vec![FieldError::new(
            "notifications",
            "at least one notification",
        )]));
    }
    if n > MAX_BULK {
        return Err(NotifyError::Invalid(vec![FieldError::new(
            "notifications",
            format!("at most {MAX_BULK} per request; got {n} (split them)"),
        )]));
    }
    let phone = send::sending_number(caller, req.branch_id.as_deref()).await?;
    let now = deps.clock.now();
    let link_host = notification_settings::load(&caller.table).await?.link_host;
    let links_at = LinkBase::new(link_host.as_deref(), deps.config.public_url());
    let mut cache: HashMap<String, Option<(TemplateDef, MetaStatuses)>> = HashMap::new();
    let mut experiments = super::experiments::Cache::new();
    let mut errors = Vec::new();
    for (i, item) in req.notifications.iter_mut().enumerate() {
        if item.campaign.is_none() {
            item.campaign = req.campaign.clone();
        }
        if item.branch_id.is_some() {
            errors.push(FieldError::new(
                format!("notifications[{i}].branch_id"),
                "set branch_id once for the whole request",
            ));
        }
        let picked = super::experiments::resolve(&caller.table, item, &mut experiments).await?;
        if !picked.is_empty() {
            errors.extend(
                picked
                    .into_iter()
                    .map(|f| FieldError::new(format!("notifications[{i}].{}", f.field), f.reason)),
            );
            continue;
        }
        if !cache.contains_key(&item.template) {
            let t = if templates::valid_name(&item.template) {
                templates::get_with_statuses(&caller.table, &item.template).await?
            } else {
                None
            };
            cache.insert(item.template.clone(), t);
        }
        let found = cache.get(&item.template).and_then(Option::as_ref);
        match send::draft(
            item,
            found.map(|(t, _)| t),
            String::new(),
            &links_at,
            now,
            &mut send::link_code,
        ) {
            Err(fields) => errors.extend(
                fields
                    .into_iter()
                    .map(|f| FieldError::new(format!("notifications[{i}].{}", f.field), f.reason)),
            ),
            Ok(draft) => {
                if let Some(why) =
                    found.and_then(|(_, s)| templates::not_sendable(s, &draft.language))
                {
                    errors.push(FieldError::new(
                        format!("notifications[{i}].template"),
                        format!(
                            "{} ({}) is {why}: only approved templates are sent",
                            draft.template, draft.language
                        ),
                    ));
                }
            }
        }
        if errors.len() > 1000 {
            errors.push(FieldError::new("notifications", "more errors not listed"));
            break;
        }
    }
    if !errors.is_empty() {
        return Err(NotifyError::Invalid(errors));
    }
    let id = format!(
        "blk{}",
        crate::parties::merchants::new_id(deps).to_lowercase()
    );
    let merchant = &caller.merchant;
    let chunks = n.div_ceil(CHUNK);
    let table = &caller.table;
    table
        .put(
            Item::new(&bulk_key(&id))
                .with("total", n as i64)
                .with("chunks", chunks as i64)
                .with("phone_number_id", phone.as_str())
                .with("campaign", req.campaign.clone().unwrap_or_default())
                .with("created_at", now.timestamp())
                .with("ids", SEQUENCED_IDS),
            None,
        )
        .await?;
    let due = deps.clock.now_ms();
    for (c, items) in req.notifications.chunks(CHUNK).enumerate() {
        let doc = serde_json::to_string(items).map_err(|e| AppError::Internal(e.into()))?;
        let entry = crate::platform::schema::due_entry(
            merchant,
            Job::DueNotifications,
            &format!("{id}-{c}"),
            &format!("{id}-{c:05}"),
            due,
            &DueAction::NotificationBatch {
                merchant_id: merchant.to_string(),
                bulk_id: id.clone(),
                chunk: c as u32,
            },
        )?;
        let ops = vec![
            TxOp::Put {
                item: Item::new(&crate::platform::schema::in_merchant(
                    merchant,
                    chunk_key(&id, c),
                ))
                .with("items", doc)
                .with("first", (c * CHUNK) as i64),
                condition: None,
            },
            TxOp::Put {
                item: entry,
                condition: None,
            },
        ];
        deps.table.transact(ops).await?;
    }
    tracing::info!(merchant = %merchant, bulk = %id, notifications = n, chunks, "bulk notifications accepted");
    Ok(json!({ "id": id, "status": "accepted", "total": n, "chunks": chunks }))
}

/// Expands one chunk (the due job's action): each item is checked for consent and caps and committed
/// with an id derived from the bulk and its position; the chunk's tallies are added once.
pub(crate) async fn process_chunk(
    deps: &Deps,
    merchant: &MerchantId,
    bulk_id: &str,
    chunk: u32,
) -> Result<(), AppError> {
    let table = TenantTable::of(deps, merchant);
    let ckey = chunk_key(bulk_id, chunk as usize);
    let Some(stored) = table.get(&ckey).await? else {
        return Ok(());
    };
    if stored.get("done").is_some() {
        return Ok(());
    }
    let Some(bulk) = table.get(&bulk_key(bulk_id)).await? else {
        return Ok(());
    };
    let phone = bulk.get_s("phone_number_id").unwrap_or_default().to_owned();
    let sequenced = bulk.get_s("ids") == Some(SEQUENCED_IDS);
    let items: Vec<NotificationRequest> =
        serde_json::from_str(stored.get_s("items").unwrap_or("[]"))
            .map_err(|e| AppError::Internal(e.into()))?;
    let first = stored.get_n("first").unwrap_or(0);
    let wa = whatsapp_settings::load(&table).await?;
    let settings = notification_settings::load(&table).await?;
    let links_at = LinkBase::new(settings.link_host.as_deref(), deps.config.public_url());
    let mut cache: HashMap<String, Option<(TemplateDef, MetaStatuses)>> = HashMap::new();
    let mut experiments = super::experiments::Cache::new();
    let (mut accepted, mut rejected) = (0i64, BTreeMap::<String, i64>::new());
    // First, what every item needs that items share (variants, templates), read once.
    let mut items = items;
    for item in items.iter_mut() {
        // The variant again (it is not stored with the chunk): the same customer, the same one.
        // An experiment ended since the request was accepted still sends what was accepted.
        if let Some(name) = item.experiment.clone() {
            if !experiments.contains_key(&name) {
                experiments.insert(name.clone(), super::experiments::get(&table, &name).await?);
            }
            if let Some(Some(experiment)) = experiments.get(&name) {
                item.variant = experiment
                    .variant_for(&item.to)
                    .filter(|v| v.template == item.template)
                    .map(|v| experiment.label(v));
            }
        }
        if !cache.contains_key(&item.template) {
            cache.insert(
                item.template.clone(),
                templates::get_with_statuses(&table, &item.template).await?,
            );
        }
    }
    // Then each item checked on its own, several at a time; those that pass are committed
    // together, each in its own transaction keyed by its index (a rerun after a failure replays
    // what was done).
    let ctx = ChunkContext {
        deps,
        merchant,
        bulk_id,
        table: &table,
        cache: &cache,
        links_at: &links_at,
        wa: &wa,
        settings: &settings,
        sequenced,
    };
    let checks: Vec<_> = items
        .iter()
        .enumerate()
        .map(|(i, item)| check_item(&ctx, first + i as i64, item))
        .collect();
    let mut checked: Vec<(i64, Result<send::Draft, NotifyError>)> = futures::stream::iter(checks)
        .buffer_unordered(ITEMS_AT_ONCE)
        .collect()
        .await;
    checked.sort_by_key(|(index, _)| *index);
    let drafts: Vec<&send::Draft> = checked
        .iter()
        .filter_map(|(_, c)| c.as_ref().ok())
        .collect();
    let mut committed = send::commit_many(deps, merchant, &phone, &drafts, Some(bulk_id))
        .await?
        .into_iter();
    let mut outcomes: Vec<(i64, Result<(), NotifyError>)> = Vec::with_capacity(checked.len());
    for (index, check) in checked {
        outcomes.push((
            index,
            match check {
                Ok(_) => committed.next().map_or_else(
                    || {
                        Err(NotifyError::Api(AppError::Internal(anyhow::anyhow!(
                            "a draft was left without an outcome"
                        ))))
                    },
                    |c| c.map(|_| ()),
                ),
                Err(e) => Err(e),
            },
        ));
    }
    for (index, outcome) in outcomes {
        match outcome {
            Ok(()) => accepted += 1,
            Err(NotifyError::Api(e @ (AppError::Unavailable(_) | AppError::Internal(_)))) => {
                // The chunk stays due and resumes from here on the next run.
                return Err(e);
            }
            Err(e) => {
                let (code, reason) = e.reason();
                *rejected.entry(code.clone()).or_default() += 1;
                table
                    .put(
                        Item::new(&crate::platform::schema::bulk_rejection(bulk_id, index))
                            .with("code", code)
                            .with("reason", reason),
                        None,
                    )
                    .await?;
            }
        }
    }
    let mut tally = Update::new()
        .add("accepted", accepted)
        .add("chunks_done", 1);
    let total_rejected: i64 = rejected.values().sum();
    tally = tally.add("rejected", total_rejected);
    for (code, count) in &rejected {
        tally = tally.add(format!("rejected_{code}"), *count);
    }
    let ops = vec![
        TxOp::Update {
            key: ckey,
            update: Update::new().set("done", true).remove("items"),
            condition: Some(Condition::AttrNotExists("done".into())),
        },
        TxOp::Update {
            key: bulk_key(bulk_id),
            update: tally,
            condition: Some(Condition::Exists),
        },
    ];
    match table.transact(ops).await {
        Ok(()) => Ok(()),
        Err(e) if e.is_condition_failed() => Ok(()),
        Err(e) => Err(e.into()),
    }
}

/// What every item of a chunk is checked against.
struct ChunkContext<'a> {
    deps: &'a Deps,
    merchant: &'a MerchantId,
    bulk_id: &'a str,
    table: &'a TenantTable,
    cache: &'a HashMap<String, Option<(TemplateDef, MetaStatuses)>>,
    links_at: &'a LinkBase,
    wa: &'a whatsapp_settings::WhatsAppSettings,
    settings: &'a notification_settings::NotificationSettings,
    /// The bulk's items without a key of their own get sequenced ids (see [`SEQUENCED_IDS`]).
    sequenced: bool,
}

/// Marks a bulk (on its record) whose items without an idempotency key get ids in the request's
/// order ([`send::bulk_notification_id`]); a bulk accepted before them keeps the digest ids its
/// first chunks were committed under, so a chunk run again after an upgrade finds what it did.
const SEQUENCED_IDS: &str = "sequenced";

/// One item of a chunk checked: its draft when it is to be committed (or replayed, when an earlier
/// run of the chunk committed it: its id comes from its index), or why it is refused.
async fn check_item(
    ctx: &ChunkContext<'_>,
    index: i64,
    item: &NotificationRequest,
) -> (i64, Result<send::Draft, NotifyError>) {
    let ChunkContext {
        deps,
        merchant,
        bulk_id,
        table,
        cache,
        links_at,
        wa,
        settings,
        sequenced,
    } = *ctx;
    let found = cache.get(&item.template).and_then(Option::as_ref);
    let template = found.map(|(t, _)| t);
    let id = match &item.idempotency_key {
        Some(key) => send::notification_id(deps, merchant, Some(key)),
        None => sequenced
            .then(|| send::bulk_notification_id(merchant, bulk_id, index))
            .flatten()
            .unwrap_or_else(|| {
                send::notification_id(deps, merchant, Some(&format!("{bulk_id}:{index}")))
            }),
    };
    let now = deps.clock.now();
    let outcome = match send::draft(item, template, id, links_at, now, &mut send::link_code) {
        Err(fields) => Err(NotifyError::Invalid(fields)),
        // Paused or disabled by Meta since the request was accepted: not sent.
        Ok(draft)
            if found
                .and_then(|(_, s)| templates::not_sendable(s, &draft.language))
                .is_some() =>
        {
            Err(NotifyError::NotApproved(format!(
                "template {} ({}) is not approved in Meta now",
                draft.template, draft.language
            )))
        }
        Ok(draft) => match table.get(&super::key(&draft.id)).await {
            Err(e) => Err(NotifyError::from(e)),
            // Committed by an earlier run of this chunk: replayed (queued if it was not yet).
            Ok(Some(_)) => Ok(draft),
            Ok(None) => match send::check_recipient(table, &draft, wa, settings, now).await {
                Ok(()) => Ok(draft),
                Err(e) => {
                    send::count_refusal(table, &draft, &e).await;
                    Err(e)
                }
            },
        },
    };
    (index, outcome)
}

/// `GET /v1/notifications/bulk/{id}`: progress and the first rejections.
pub async fn progress(table: &TenantTable, id: &str) -> Result<Value, AppError> {
    if !id.starts_with("blk") || id.len() > 64 || !id.chars().all(|c| c.is_ascii_alphanumeric()) {
        return Err(AppError::NotFound("bulk job".into()));
    }
    let bulk = table
        .get(&bulk_key(id))
        .await?
        .ok_or_else(|| AppError::NotFound("bulk job".into()))?;
    let n = |name: &str| bulk.get_n(name).unwrap_or(0);
    let mut by_reason = serde_json::Map::new();
    for (name, value) in &bulk.attrs {
        if let (Some(code), Some(v)) = (name.strip_prefix("rejected_"), value.as_n()) {
            by_reason.insert(code.to_owned(), json!(v));
        }
    }
    let page = table
        .query(
            Query::partition(crate::platform::schema::bulk_pk(id))
                .prefix(crate::platform::schema::BULK_REJECTION_PREFIX)
                .limit(LISTED_REJECTIONS),
        )
        .await?;
    let rejections: Vec<Value> = page
        .items
        .iter()
        .map(|i| {
            json!({
                "index": i.get_s("sk").and_then(|s| s.strip_prefix(crate::platform::schema::BULK_REJECTION_PREFIX)).and_then(|s| s.parse::<i64>().ok()),
                "code": i.get_s("code"),
                "reason": i.get_s("reason"),
            })
        })
        .collect();
    let done = n("chunks_done") >= n("chunks");
    Ok(json!({
        "id": id,
        "status": if done { "done" } else { "processing" },
        "total": n("total"),
        "processed": n("accepted") + n("rejected"),
        "accepted": n("accepted"),
        "rejected": n("rejected"),
        "rejected_by_reason": by_reason,
        "chunks": n("chunks"),
        "chunks_done": n("chunks_done"),
        "rejections": rejections,
    }))
}
