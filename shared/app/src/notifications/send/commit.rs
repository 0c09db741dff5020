//! Committing an accepted request: the recipient checked against consent and the daily caps, then
//! one transaction (notification, tracked links, due entry) and, for an immediate one, the queue.

use super::*;

/// The daily cap counters the sender keeps for a customer (see `sender::take_daily_cap`).
pub(crate) fn cap_key(
    table: &crate::platform::tenant::TenantTable,
    wa_id: &str,
    day: &str,
    bucket: Option<&str>,
) -> Key {
    crate::platform::schema::daily_cap(&table.customer(wa_id), day, bucket)
}

/// Counts a request-time refusal (consent or a cap) in the report; other errors are not counted.
pub(crate) async fn count_refusal(table: &TenantTable, draft: &Draft, refusal: &NotifyError) {
    let reason = match refusal {
        NotifyError::Consent(r) => r.code(),
        NotifyError::Cap(code) => code,
        _ => return,
    };
    stats::count_refusal(
        table,
        &draft.template,
        draft.campaign.as_deref(),
        draft.variant.as_deref(),
        &draft.day,
        reason,
    )
    .await;
}

/// Consent and, for an immediate send, the daily caps as counted so far (the sender enforces them
/// again atomically when it sends).
pub(crate) async fn check_recipient(
    table: &TenantTable,
    draft: &Draft,
    wa: &WhatsAppSettings,
    settings: &NotificationSettings,
    now: DateTime<Utc>,
) -> Result<(), NotifyError> {
    let customer = customers::get(table, &draft.to).await?;
    let consent = consent::current(table, &draft.to).await?;
    let security = mostrador_core::caps::rule(draft.category.as_str(), Some(draft.kind.as_str()))
        .bucket
        == Some("security");
    if customer.opted_out && security && settings.security_alerts_after_opt_out {
        // The merchant's policy keeps security alerts after a "baja" (README): consent aside,
        // the customer is still one of theirs.
        if consent.is_none() {
            return Err(NotifyError::Consent(consent::Refusal::NoConsent));
        }
    } else {
        consent::check(&customer, consent.as_ref(), draft.category)
            .map_err(NotifyError::Consent)?;
    }
    if draft.send_at_ms.is_some() {
        return Ok(());
    }
    let day = now
        .with_timezone(&customer.tz())
        .format("%Y-%m-%d")
        .to_string();
    let count = |item: Option<Item>| item.and_then(|i| i.get_n("n")).unwrap_or(0);
    let rule = mostrador_core::caps::rule(draft.category.as_str(), Some(draft.kind.as_str()));
    if rule.general {
        let n = count(table.get(&cap_key(table, &draft.to, &day, None)).await?);
        if n >= i64::from(wa.daily_cap) {
            return Err(NotifyError::Cap("daily_cap"));
        }
    }
    if let Some((bucket, cap)) = rule
        .bucket
        .and_then(|b| settings.category_cap(b).map(|cap| (b, cap)))
    {
        let n = count(
            table
                .get(&cap_key(table, &draft.to, &day, Some(bucket)))
                .await?,
        );
        if n >= i64::from(cap) {
            return Err(NotifyError::Cap("category_cap"));
        }
    }
    Ok(())
}

pub(super) fn scoped(merchant: &MerchantId, pk: &str) -> String {
    crate::platform::schema::merchant_pk(merchant, pk)
}

/// Stores the draft (record, customer pointer, links, report dimensions, due entry) in one
/// transaction, then queues an immediate send. A repeat of the same request answers the stored one.
/// What committing a draft writes: its transaction (record, customer pointer, links, due entry),
/// the report's dimension items (the same for every notification of a template and campaign) and
/// the envelope queued for an immediate send.
pub(crate) struct Prepared {
    ops: Vec<TxOp>,
    dimensions: Vec<TxOp>,
    body: String,
}

/// Builds what [`commit`] writes for `draft` (sealing what the customer is told).
async fn prepare(
    deps: &Deps,
    merchant: &MerchantId,
    phone_number_id: &str,
    draft: &Draft,
    bulk_id: Option<&str>,
    settings: &NotificationSettings,
) -> Result<Prepared, NotifyError> {
    let now = deps.clock.now();
    let envelope = OutboundEnvelope {
        id: draft.id.clone(),
        merchant_id: merchant.to_string(),
        phone_number_id: phone_number_id.to_owned(),
        category: draft.category,
        message: draft.message.clone(),
        kind: Some(draft.kind.as_str().to_owned()),
    };
    let body = serde_json::to_string(&envelope).map_err(|e| AppError::Internal(e.into()))?;
    let send_ms = draft.send_at_ms.unwrap_or_else(|| now.timestamp_millis());
    let ttl = send_ms / 1000 + settings.attribution_secs() + 86_400;
    // An immediate one is queued right after this write; should that fail, a repeat of the
    // request (or the bulk chunk's next run) finds it queued and queues it again (see replay).
    let status = if draft.send_at_ms.is_some() {
        "scheduled"
    } else {
        "queued"
    };
    let mut record = Item::new(&crate::platform::schema::in_merchant(
        merchant,
        crate::platform::schema::notification(&draft.id),
    ))
    .with(
        "to_sealed",
        mostrador_store::Value::B(
            crate::parties::conversation::seal_text(deps, merchant, &draft.to).await?,
        ),
    )
    .with("template", draft.template.as_str())
    .with("category", draft.category.as_str())
    .with("kind", draft.kind.as_str())
    .with("campaign", draft.campaign.clone().unwrap_or_default())
    .with("day", draft.day.as_str())
    // Listed under its template and day, for the recipients behind the report's figures.
    .with(
        "gsi1pk",
        scoped(
            merchant,
            &crate::platform::schema::notifications_of(&draft.template, &draft.day),
        ),
    )
    .with("gsi1sk", draft.id.as_str())
    .with("status", status)
    .with("fingerprint", draft.fingerprint.as_str())
    .with("created_at", now.timestamp())
    .with("send_at_ms", send_ms)
    .with("phone_number_id", phone_number_id)
    // What the customer is told (names, amounts): sealed like the conversation.
    .with(
        "body_sealed",
        mostrador_store::Value::B(
            crate::parties::conversation::seal_text(deps, merchant, &body).await?,
        ),
    );
    if draft.metadata != "{}" {
        // The fintech's references (an account, a card, a loan): sealed like the message.
        record.set(
            "metadata_sealed",
            mostrador_store::Value::B(
                crate::parties::conversation::seal_text(deps, merchant, &draft.metadata).await?,
            ),
        );
    }
    if let Some(d) = &draft.details {
        // The fintech's own words about it (a charge, a card): sealed like the message.
        record.set(
            "details_sealed",
            mostrador_store::Value::B(
                crate::parties::conversation::seal_text(deps, merchant, d).await?,
            ),
        );
    }
    if let Some(v) = &draft.variant {
        record.set("experiment", v.as_str());
    }
    if let Some(b) = bulk_id {
        record.set("bulk_id", b);
    }
    if !draft.links.is_empty() {
        let codes: Vec<&str> = draft.links.iter().map(|(c, _)| c.as_str()).collect();
        record.set("links", codes.join(","));
    }
    let mut ops = vec![
        TxOp::Put {
            item: record,
            condition: Some(Condition::NotExists),
        },
        TxOp::Put {
            item: Item::new(&crate::platform::schema::in_merchant(
                merchant,
                crate::platform::schema::customer_notification(
                    &deps.customer_key(&draft.to),
                    send_ms,
                    &draft.id,
                ),
            ))
            .with("id", draft.id.as_str())
            .with("ttl", ttl),
            condition: None,
        },
    ];
    for (code, target) in &draft.links {
        ops.push(TxOp::Put {
            item: crate::notifications::links::link_item(code, target, merchant, &draft.id, now),
            condition: Some(Condition::NotExists),
        });
    }
    if let Some(at) = draft.send_at_ms {
        let entry = crate::platform::due::sealed_enqueue_entry(
            deps,
            merchant,
            Job::DueNotifications,
            &draft.id,
            at,
            "outbound",
            &body,
            Some(deps.pseudonyms.of(&draft.to)),
            Some(draft.id.clone()),
        )
        .await?;
        ops.push(TxOp::Put {
            item: entry,
            condition: None,
        });
    }
    let dimensions = stats::dimension_keys(&draft.template, draft.campaign.as_deref())
        .into_iter()
        .map(|key| TxOp::Put {
            item: Item::new(&crate::platform::schema::in_merchant(merchant, key)),
            condition: None,
        })
        .collect();
    Ok(Prepared {
        ops,
        dimensions,
        body,
    })
}

/// Stores the draft (record, customer pointer, links, report dimensions, due entry) in one
/// transaction, then queues an immediate send. A repeat of the same request answers the stored one.
pub(super) async fn commit(
    deps: &Deps,
    merchant: &MerchantId,
    phone_number_id: &str,
    draft: &Draft,
    bulk_id: Option<&str>,
) -> Result<Accepted, NotifyError> {
    let table = TenantTable::of(deps, merchant);
    let settings = notification_settings::load(&table).await?;
    let Prepared {
        mut ops,
        dimensions,
        body,
    } = prepare(deps, merchant, phone_number_id, draft, bulk_id, &settings).await?;
    ops.extend(dimensions);
    match deps.table.transact(ops).await {
        Ok(()) => {}
        Err(StoreError::TransactionCanceled { reasons })
            if reasons.first() == Some(&CancelReason::ConditionFailed) =>
        {
            return replay(deps, &table, draft).await;
        }
        Err(e) => return Err(e.into()),
    }
    if draft.send_at_ms.is_some() {
        tracing::info!(merchant = %merchant, notification = %draft.id, template = %draft.template, "notification scheduled");
        return Ok(accepted(draft, "scheduled", false));
    }
    enqueue(deps, &draft.id, &draft.to, body).await?;
    Ok(accepted(draft, "queued", false))
}

/// [`commit`] for many drafts at once (a bulk request's chunk): every draft is its own
/// transaction, as alone, but they are written together (one file commit on the embedded engine),
/// their dimension items once, and the immediate ones queued together. Answers each draft's
/// result in order; a draft committed before is replayed.
pub(crate) async fn commit_many(
    deps: &Deps,
    merchant: &MerchantId,
    phone_number_id: &str,
    drafts: &[&Draft],
    bulk_id: Option<&str>,
) -> Result<Vec<Result<Accepted, NotifyError>>, AppError> {
    let table = TenantTable::of(deps, merchant);
    let settings = notification_settings::load(&table).await?;
    let mut results: Vec<Option<Result<Accepted, NotifyError>>> = Vec::new();
    let mut prepared = Vec::new();
    let mut dimensions: Vec<TxOp> = Vec::new();
    let mut dimension_keys = std::collections::BTreeSet::new();
    for draft in drafts {
        match prepare(deps, merchant, phone_number_id, draft, bulk_id, &settings).await {
            Ok(p) => {
                for op in &p.dimensions {
                    if op.key().is_ok_and(|k| dimension_keys.insert(k)) {
                        dimensions.push(op.clone());
                    }
                }
                results.push(None);
                prepared.push(Some(p));
            }
            Err(e) => {
                results.push(Some(Err(e)));
                prepared.push(None);
            }
        }
    }
    let groups: Vec<Vec<TxOp>> = prepared
        .iter()
        .flatten()
        .map(|p| p.ops.clone())
        .chain((!dimensions.is_empty()).then_some(dimensions))
        .collect();
    let mut written = deps.table.transact_many(groups).await.into_iter();
    // Then each draft's outcome: queued (together), scheduled, replayed, or refused.
    let mut to_queue: Vec<(usize, String)> = Vec::new();
    for (i, (draft, p)) in drafts.iter().zip(prepared).enumerate() {
        let Some(p) = p else { continue };
        let outcome = written.next().unwrap_or_else(|| {
            Err(StoreError::Internal(
                "a batch answered too few results".into(),
            ))
        });
        match outcome {
            Ok(()) if draft.send_at_ms.is_some() => {
                results[i] = Some(Ok(accepted(draft, "scheduled", false)));
            }
            Ok(()) => to_queue.push((i, p.body)),
            Err(StoreError::TransactionCanceled { reasons })
                if reasons.first() == Some(&CancelReason::ConditionFailed) =>
            {
                results[i] = Some(replay(deps, &table, draft).await);
            }
            Err(e) => results[i] = Some(Err(e.into())),
        }
    }
    let messages = to_queue
        .iter()
        .map(|(i, body)| {
            OutgoingMessage::new(body.clone())
                .group(deps.pseudonyms.of(&drafts[*i].to))
                .dedup(drafts[*i].id.clone())
        })
        .collect();
    let sent = deps.queues.outbound.send_batch(messages).await;
    for ((i, _), outcome) in to_queue.iter().zip(sent) {
        results[*i] = Some(match outcome {
            Ok(_) => Ok(accepted(drafts[*i], "queued", false)),
            Err(e) => Err(AppError::from(e).into()),
        });
    }
    Ok(results
        .into_iter()
        .map(|r| {
            r.unwrap_or_else(|| {
                Err(
                    AppError::Internal(anyhow::anyhow!("a draft was left without an outcome"))
                        .into(),
                )
            })
        })
        .collect())
}

pub(super) fn accepted(draft: &Draft, status: &str, replayed: bool) -> Accepted {
    Accepted {
        id: draft.id.clone(),
        status: status.to_owned(),
        category: draft.category.as_str().to_owned(),
        send_at: draft
            .send_at_ms
            .and_then(DateTime::from_timestamp_millis)
            .map(|t| t.to_rfc3339()),
        replayed,
    }
}

/// Puts a stored notification on the outbound queue (its id as the deduplication id: a second copy
/// within five minutes is dropped by the queue, a later one by the sender, which sends an id once).
pub(super) async fn enqueue(
    deps: &Deps,
    id: &str,
    to: &str,
    body: String,
) -> Result<(), NotifyError> {
    deps.queues
        .outbound
        .send(
            OutgoingMessage::new(body)
                .group(deps.pseudonyms.of(to))
                .dedup(id.to_owned()),
        )
        .await
        .map_err(AppError::from)?;
    Ok(())
}

/// A request whose id exists: the same payload answers the stored notification (and queues it again
/// while no outcome is recorded, in case the first attempt stopped before the queue); another
/// payload is a reused key.
pub(super) async fn replay(
    deps: &Deps,
    table: &TenantTable,
    draft: &Draft,
) -> Result<Accepted, NotifyError> {
    let Some(existing) = table.get(&crate::notifications::key(&draft.id)).await? else {
        return Err(AppError::Unavailable("notification write conflicted; retry".into()).into());
    };
    // Links are random per attempt, so compare the request, not the built message.
    if existing.get_s("fingerprint") != Some(draft.fingerprint.as_str()) {
        return Err(NotifyError::KeyReused);
    }
    let status = existing.get_s("status").unwrap_or("queued").to_owned();
    // "accepting": written by an earlier version before it queued.
    if status == "queued" || status == "accepting" {
        let body = crate::parties::conversation::text_of(deps, table, &existing, "body")
            .await
            .unwrap_or_default();
        enqueue(deps, &draft.id, &draft.to, body).await?;
        return Ok(accepted(draft, "queued", true));
    }
    Ok(accepted(draft, &status, true))
}

/// The phone number that sends a merchant's notifications: the given branch's, or the first branch
/// with a WhatsApp number.
pub(crate) async fn sending_number(
    caller: &crate::parties::merchants::Caller,
    branch_id: Option<&str>,
) -> Result<String, NotifyError> {
    let branches = crate::parties::merchants::list_branches(caller).await?;
    let branch = match branch_id {
        Some(id) => {
            caller.check_branch(id)?;
            branches.into_iter().find(|b| b.id == id)
        }
        None => branches.into_iter().find(|b| b.phone_number_id.is_some()),
    };
    branch.and_then(|b| b.phone_number_id).ok_or_else(|| {
        NotifyError::Invalid(vec![FieldError::new(
            "branch_id",
            "no branch with a WhatsApp number (POST /v1/branches with phone_number_id)",
        )])
    })
}

/// `POST /v1/notifications`: checks everything, then stores and queues (or schedules) it.
pub async fn accept(
    deps: &Deps,
    caller: &crate::parties::merchants::Caller,
    mut req: NotificationRequest,
) -> Result<Accepted, NotifyError> {
    let table = &caller.table;
    let now = deps.clock.now();
    let picked = crate::notifications::experiments::resolve(
        table,
        &mut req,
        &mut crate::notifications::experiments::Cache::new(),
    )
    .await?;
    if !picked.is_empty() {
        return Err(NotifyError::Invalid(picked));
    }
    let (template, statuses) = if templates::valid_name(&req.template) {
        match templates::get_with_statuses(table, &req.template).await? {
            Some((t, s)) => (Some(t), s),
            None => (None, templates::MetaStatuses::new()),
        }
    } else {
        (None, templates::MetaStatuses::new())
    };
    let id = notification_id(deps, &caller.merchant, req.idempotency_key.as_deref());
    let settings = notification_settings::load(table).await?;
    let links_at = LinkBase::new(settings.link_host.as_deref(), deps.config.public_url());
    let draft = draft(&req, template.as_ref(), id, &links_at, now, &mut link_code)
        .map_err(NotifyError::Invalid)?;
    if let Some(why) = templates::not_sendable(&statuses, &draft.language) {
        return Err(NotifyError::NotApproved(format!(
            "template {} ({}) is {why}: only approved templates are sent",
            draft.template, draft.language
        )));
    }
    let phone = sending_number(caller, req.branch_id.as_deref()).await?;
    // A repeat of an accepted request answers the same, whatever the customer's state is now.
    if req.idempotency_key.is_some() {
        if let Some(existing) = table.get(&crate::notifications::key(&draft.id)).await? {
            if existing.get_s("fingerprint") != Some(draft.fingerprint.as_str()) {
                return Err(NotifyError::KeyReused);
            }
            return replay(deps, table, &draft).await;
        }
    }
    let wa = whatsapp_settings::load(table).await?;
    if let Err(refusal) = check_recipient(table, &draft, &wa, &settings, now).await {
        count_refusal(table, &draft, &refusal).await;
        return Err(refusal);
    }
    let accepted = commit(deps, &caller.merchant, &phone, &draft, None).await?;
    tracing::info!(merchant = %caller.merchant, notification = %accepted.id, template = %draft.template, kind = draft.kind.as_str(), status = %accepted.status, "notification accepted");
    Ok(accepted)
}
