//! A notification as the API shows it, and cancelling one still scheduled.

use super::*;

/// `GET /v1/notifications/{id}`: the record, the delivery status and the funnel so far.
pub async fn view(deps: &Deps, table: &TenantTable, id: &str) -> Result<Value, AppError> {
    if !crate::notifications::is_notification(id) || id.len() > 100 || id.contains('#') {
        return Err(AppError::NotFound("notification".into()));
    }
    let item = table
        .get(&crate::notifications::key(id))
        .await?
        .ok_or_else(|| AppError::NotFound("notification".into()))?;
    view_of(deps, table, id, &item).await
}

/// [`view`] of a notification record already read (a report's drill-down lists them).
pub(crate) async fn view_of(
    deps: &Deps,
    table: &TenantTable,
    id: &str,
    item: &Item,
) -> Result<Value, AppError> {
    let out = table.get(&crate::platform::schema::outbound(id)).await?;
    let tag = stats::tag_from(id, item);
    let n = |i: &Item, name: &str| {
        i.get_n(name)
            .and_then(|t| DateTime::from_timestamp(t, 0))
            .map(|t| t.to_rfc3339())
    };
    let mut status = item.get_s("status").unwrap_or("queued").to_owned();
    let mut error = Value::Null;
    let mut timeline = serde_json::Map::new();
    if let Some(o) = &out {
        if let Some(s) = o.get_s("status") {
            status = if s == "sandbox" {
                "sent".into()
            } else {
                s.to_owned()
            };
        }
        if let Some(d) = o.get_s("delivery_status") {
            status = d.to_owned();
        }
        if let Some(code) = o.get_n("error_code") {
            error = json!({ "code": code, "title": o.get_s("error_title").or(o.get_s("reason")) });
        } else if let Some(reason) = o.get_s("reason") {
            error = json!({ "reason": reason });
        }
        for s in ["delivered", "read", "failed"] {
            if let Some(t) = n(o, &format!("{s}_at")) {
                timeline.insert(format!("{s}_at"), json!(t));
            }
        }
        if let Some(w) = o.get_s("wamid") {
            timeline.insert("wamid".into(), json!(w));
        }
    }
    if status == "accepting" {
        status = "queued".into();
    }
    for m in [
        "sent",
        Milestone::Replied.name(),
        Milestone::Clicked.name(),
        Milestone::Documented.name(),
        Milestone::Paid.name(),
        Milestone::Converted.name(),
    ] {
        if let Some(t) = n(item, &format!("{m}_at")) {
            timeline.insert(format!("{m}_at"), json!(t));
        }
    }
    Ok(json!({
        "id": id,
        "to": crate::platform::telemetry::redact(&tag.to_of(deps, table.merchant()).await),
        "template": tag.template,
        "kind": tag.kind,
        "category": tag.category,
        "campaign": tag.campaign,
        "metadata": tag.metadata_of(deps, table.merchant()).await,
        "status": status,
        "error": error,
        "created_at": n(item, "created_at"),
        "send_at": item.get_n("send_at_ms").and_then(DateTime::from_timestamp_millis).map(|t| t.to_rfc3339()),
        "bulk_id": item.get_s("bulk_id"),
        "timeline": timeline,
    }))
}

/// Cancels a scheduled notification that has not come due yet.
pub async fn cancel(table: &TenantTable, id: &str) -> Result<Value, AppError> {
    if !crate::notifications::is_notification(id) || id.contains('#') {
        return Err(AppError::NotFound("notification".into()));
    }
    let ops = vec![
        TxOp::Delete {
            key: crate::platform::schema::due(Job::DueNotifications, id),
            condition: Some(Condition::Exists.and(Condition::AttrNotExists("lease_until".into()))),
        },
        TxOp::Update {
            key: crate::notifications::key(id),
            update: Update::new().set("status", "cancelled"),
            condition: Some(Condition::Eq("status".into(), "scheduled".into())),
        },
    ];
    match table.transact(ops).await {
        Ok(()) => Ok(json!({ "id": id, "status": "cancelled" })),
        Err(e) if e.is_condition_failed() => Err(AppError::Conflict(
            "only a scheduled notification that has not come due can be cancelled".into(),
        )),
        Err(e) => Err(e.into()),
    }
}
