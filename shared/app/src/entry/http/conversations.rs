//! Merchant API for the chat: texts and questions, and conversations handed to a human agent.

use super::auth::Merchant;
use crate::flows::chat;
use crate::parties::conversation::{self, ChatSettings};
use crate::parties::merchants::{Caller, Scope};
use crate::parties::messages::InboundEnvelope;
use crate::platform::error::{AppError, FieldError};
use crate::platform::Deps;
use axum::extract::{Path, Query, State};
use axum::routing::{get, post};
use axum::{Json, Router};
use mostrador_core::conversation::State as ConvState;
use mostrador_core::phone::customer_id;
use mostrador_store::{Query as TableQuery, Table};
use serde::Deserialize;
use serde_json::{json, Value};

/// Chat routes under `/v1`.
pub fn routes() -> Router<Deps> {
    Router::new()
        .route("/v1/settings/chat", get(get_settings).put(put_settings))
        .route("/v1/conversations", get(handed_off))
        .route("/v1/customers", get(customers))
        .route("/v1/customers/{wa_id}", get(customer_profile))
        .route("/v1/conversations/{wa_id}/messages", get(messages))
        .route("/v1/conversations/{wa_id}/release", post(release))
        .route(
            "/v1/conversations/{wa_id}/notes",
            get(list_notes).post(add_note),
        )
}

async fn get_settings(Merchant(caller): Merchant) -> Result<Json<ChatSettings>, AppError> {
    Ok(Json(conversation::load_settings(&caller.table).await?))
}

/// Reads a settings document strictly: an object whose every field is known (a misspelled key or
/// a list instead of an object is a 422 naming it, never a silent reset to defaults).
fn strict_settings(body: &serde_json::Value) -> Result<ChatSettings, AppError> {
    super::body::strict_object(body, "los ajustes del chat")
}

async fn put_settings(
    Merchant(caller): Merchant,
    Json(body): Json<serde_json::Value>,
) -> Result<Json<ChatSettings>, AppError> {
    let settings = strict_settings(&body)?;
    if caller.branch.is_some() {
        return Err(AppError::Forbidden(
            "a branch-limited key cannot change the chat settings".into(),
        ));
    }
    let mut errors = Vec::new();
    for (i, faq) in settings.faqs.iter().enumerate() {
        if faq.question.trim().is_empty() || faq.answer.trim().is_empty() {
            errors.push(FieldError::new(
                format!("faqs[{i}]"),
                "needs a question and an answer",
            ));
        }
        if faq.answer.chars().count() > 4096 {
            errors.push(FieldError::new(
                format!("faqs[{i}].answer"),
                "at most 4096 characters (one WhatsApp message)",
            ));
        }
    }
    if settings.faqs.len() > 50 {
        errors.push(FieldError::new("faqs", "at most 50 questions"));
    }
    if settings.quick_replies.len() > 30
        || settings
            .quick_replies
            .iter()
            .any(|r| r.trim().is_empty() || r.chars().count() > 1_000)
    {
        errors.push(FieldError::new(
            "quick_replies",
            "hasta 30 respuestas de 1 a 1000 caracteres",
        ));
    }
    if !errors.is_empty() {
        return Err(AppError::Validation(errors));
    }
    conversation::save_settings(&caller.table, &settings).await?;
    Ok(Json(settings))
}

/// Conversations waiting for a human agent.
async fn handed_off(
    State(deps): State<Deps>,
    Merchant(caller): Merchant,
) -> Result<Json<Value>, AppError> {
    let page = caller
        .table
        .query(TableQuery::partition(crate::platform::schema::HANDOFFS).limit(200))
        .await?;
    let scope = caller.scope().await?;
    let branches = crate::parties::merchants::list_branches(&caller).await?;
    let mut waiting: Vec<Value> = Vec::new();
    for i in &page.items {
        let Some(wa) = crate::parties::conversation::text_of(
            &deps,
            &caller.table,
            i,
            crate::parties::customers::PROFILE_WA_ID,
        )
        .await
        else {
            continue;
        };
        let wa = wa.as_str();
        let profile = caller
            .table
            .get(&crate::platform::schema::customer_profile(
                &caller.table.customer(wa),
            ))
            .await?;
        let phone = profile.as_ref().and_then(|p| p.get_s("phone_number_id"));
        if !scope.allows(phone, None) {
            continue;
        }
        let branch = branches
            .iter()
            .find(|b| phone.is_some() && b.phone_number_id.as_deref() == phone);
        let name = match &profile {
            Some(p) => crate::parties::customers::name_in(&deps, &caller.table, p).await,
            None => None,
        };
        waiting.push(json!({
            "wa_id": wa,
            "since": i.get_n("since"),
            "name": name,
            "phone_number_id": phone,
            "branch_id": branch.map(|b| b.id.as_str()),
            "branch": branch.map(|b| b.name.as_str()),
            "last_inbound_at": profile.as_ref().and_then(|p| p.get_n("last_inbound_at")),
        }));
    }
    waiting.sort_by_key(|c| c["since"].as_i64().unwrap_or(0));
    Ok(Json(json!({ "conversations": waiting })))
}

/// A customer's latest orders, newest first.
async fn orders_of(
    caller: &Caller,
    wa_id: &str,
    limit: u32,
) -> Result<Vec<crate::commerce::orders::Order>, AppError> {
    let pointers = caller
        .table
        .query(
            TableQuery::partition(crate::platform::schema::customer_pk(
                &caller.table.customer(wa_id),
            ))
            .prefix(crate::platform::schema::CUSTOMER_ORDER_PREFIX)
            .backward()
            .limit(limit),
        )
        .await?;
    let mut out = Vec::new();
    for p in &pointers.items {
        let Some(order_id) = p
            .get_s("sk")
            .and_then(crate::platform::schema::order_of_pointer)
        else {
            continue;
        };
        if let Some(order) = crate::commerce::orders::get(&caller.table, order_id).await? {
            out.push(order);
        }
    }
    Ok(out)
}

/// Paid orders and what they came to net of refunds.
fn paid_and_spent(orders: &[crate::commerce::orders::Order]) -> (u32, i64) {
    use crate::commerce::orders::OrderStatus as S;
    orders
        .iter()
        .filter(|o| {
            matches!(
                o.status,
                S::Paid | S::ReadyForPickup | S::Shipped | S::Delivered
            )
        })
        .fold((0, 0), |(n, sum), o| {
            (n + 1, sum + o.total.0 - o.refunded().0)
        })
}

/// One customer as the console's profile shows them: the list's fields and their latest orders.
async fn customer_profile(
    State(deps): State<Deps>,
    Merchant(caller): Merchant,
    Path(raw): Path<String>,
) -> Result<Json<Value>, AppError> {
    let wa_id = customer(&raw)?;
    caller.check_customer(&wa_id).await?;
    let profile = caller
        .table
        .get(&crate::platform::schema::customer_profile(
            &caller.table.customer(&wa_id),
        ))
        .await?
        .ok_or_else(|| AppError::NotFound("customer".into()))?;
    let phone = profile.get_s("phone_number_id");
    let branches = crate::parties::merchants::list_branches(&caller).await?;
    let branch = branches
        .iter()
        .find(|b| phone.is_some() && b.phone_number_id.as_deref() == phone);
    let orders = orders_of(&caller, &wa_id, 50).await?;
    let (paid, spent) = paid_and_spent(&orders);
    let listed: Vec<Value> = orders
        .iter()
        .map(|o| {
            json!({
                "id": o.id, "created_at": o.created_at, "status": o.status, "branch_id": o.branch_id,
                "total": o.total, "refunded": o.refunded(),
            })
        })
        .collect();
    Ok(Json(json!({
        "wa_id": wa_id,
        "name": crate::parties::customers::name_in(&deps, &caller.table, &profile).await,
        "phone_number_id": phone,
        "branch_id": branch.map(|b| b.id.as_str()),
        "branch": branch.map(|b| b.name.as_str()),
        "first_seen_at": profile.get_n("first_seen_at"),
        "last_inbound_at": profile.get_n("last_inbound_at"),
        "opted_out": profile.get("opted_out") == Some(&mostrador_store::Value::Bool(true)),
        "groups": crate::parties::customers::groups_of(&profile),
        "orders_paid": paid,
        "spent": spent,
        "orders": listed,
    })))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CustomersQuery {
    /// Words of the name, or digits of the number.
    q: Option<String>,
    limit: Option<i64>,
    cursor: Option<String>,
}

/// The merchant's customers, latest to write first: name, number, branch, when they first and last
/// wrote, opt-out, and their orders (how many were paid, what they spent net of refunds, the last
/// one). A branch key or staff member sees the customers of their branch.
async fn customers(
    State(deps): State<Deps>,
    Merchant(caller): Merchant,
    Query(q): Query<CustomersQuery>,
) -> Result<Json<Value>, AppError> {
    let scope = caller.scope().await?;
    let branches = crate::parties::merchants::list_branches(&caller).await?;
    let (listed, cursor) = crate::parties::customers::list(
        &deps,
        &caller.table,
        |phone| scope.allows(phone, None),
        q.q.as_deref(),
        q.cursor,
        q.limit.unwrap_or(50).clamp(1, 200) as u32,
    )
    .await?;
    // Each customer's orders, read ten customers at a time (one round trip each on DynamoDB).
    let mut histories = Vec::with_capacity(listed.len());
    for chunk in listed.chunks(10) {
        let mut reads = Vec::with_capacity(chunk.len());
        for c in chunk {
            reads.push(orders_of(&caller, &c.wa_id, 100));
        }
        histories.extend(futures::future::try_join_all(reads).await?);
    }
    let mut out = Vec::with_capacity(listed.len());
    for (c, orders) in listed.into_iter().zip(histories) {
        let (paid, spent) = paid_and_spent(&orders);
        let last_order = orders.first().map(|o| o.created_at.clone());
        let branch = branches.iter().find(|b| {
            c.phone_number_id.is_some()
                && b.phone_number_id.as_deref() == c.phone_number_id.as_deref()
        });
        out.push(json!({
            "wa_id": c.wa_id,
            "name": c.name,
            "phone_number_id": c.phone_number_id,
            "branch_id": branch.map(|b| b.id.as_str()),
            "branch": branch.map(|b| b.name.as_str()),
            "first_seen_at": c.first_seen_at,
            "last_inbound_at": c.last_inbound_at,
            "opted_out": c.opted_out,
            "orders_paid": paid,
            "spent": spent,
            "last_order_at": last_order,
        }));
    }
    Ok(Json(json!({ "customers": out, "cursor": cursor })))
}

#[derive(Deserialize)]
struct Page {
    limit: Option<u32>,
    cursor: Option<String>,
}

/// Whether a branch-limited key may see this customer's conversation: the customer last wrote to
/// its branch's number.
async fn visible(caller: &Caller, scope: &Scope, wa_id: &str) -> Result<bool, AppError> {
    if *scope == Scope::All {
        return Ok(true);
    }
    let profile = caller
        .table
        .get(&crate::platform::schema::customer_profile(
            &caller.table.customer(wa_id),
        ))
        .await?;
    Ok(scope.allows(
        profile.as_ref().and_then(|p| p.get_s("phone_number_id")),
        None,
    ))
}

fn customer(raw: &str) -> Result<String, AppError> {
    customer_id(raw)
        .ok_or_else(|| AppError::Validation(vec![FieldError::new("wa_id", "not a WhatsApp id")]))
}

/// A conversation's messages, newest first: what the customer wrote and what was answered.
async fn messages(
    State(deps): State<Deps>,
    Merchant(caller): Merchant,
    Path(wa_id): Path<String>,
    Query(page): Query<Page>,
) -> Result<Json<Value>, AppError> {
    let wa = customer(&wa_id)?;
    let q = TableQuery::partition(crate::platform::schema::customer_pk(
        &caller.table.customer(&wa),
    ))
    .prefix(crate::platform::schema::MESSAGE_PREFIX)
    .backward()
    .limit(page.limit.unwrap_or(50).clamp(1, 200))
    .after(page.cursor);
    let result = caller.table.query(q).await?;
    // A branch-limited key sees the messages exchanged on its branch's number only.
    let scope = caller.scope().await?;
    // Keys order messages by second; within one second, by when each was logged (a reply after
    // the message it answers), newest first.
    let at = |i: &mostrador_store::Item| match crate::platform::schema::customer_record(
        i.get_s("sk").unwrap_or_default(),
    ) {
        crate::platform::schema::CustomerRecord::Message(at) => at,
        _ => None,
    };
    let mut logged: Vec<&mostrador_store::Item> = result
        .items
        .iter()
        .filter(|i| scope.allows(i.get_s("phone_number_id"), i.get_s("branch_id")))
        .collect();
    logged.sort_by_key(|i| {
        std::cmp::Reverse((at(i).unwrap_or(0), i.get_n("logged_ms").unwrap_or(0)))
    });
    let mut items: Vec<Value> = Vec::with_capacity(logged.len());
    for i in logged {
        let message = conversation::message_of(&deps, &caller.table, i).await;
        items.push(json!({ "direction": i.get_s("direction"), "at": at(i), "message": message }));
    }
    // A branch-limited key sees a customer who writes to its number, or whose messages on this
    // page went through it; of anyone else, not even the name.
    if items.is_empty() && !visible(&caller, &scope, &wa).await? {
        return Err(AppError::NotFound("conversation".into()));
    }
    crate::parties::privacy::audit(
        &deps,
        &caller.table,
        &caller.actor,
        &caller.key_id,
        "read_conversation",
        &wa,
    )
    .await?;
    let state = conversation::load_state(&caller.table, &wa).await?;
    let profile = caller
        .table
        .get(&crate::platform::schema::customer_profile(
            &caller.table.customer(&wa),
        ))
        .await?;
    let phone = profile.as_ref().and_then(|p| p.get_s("phone_number_id"));
    let branch_id = crate::parties::merchants::list_branches(&caller)
        .await?
        .into_iter()
        .find(|b| phone.is_some() && b.phone_number_id.as_deref() == phone)
        .map(|b| b.id);
    let name = match &profile {
        Some(p) => crate::parties::customers::name_in(&deps, &caller.table, p).await,
        None => None,
    };
    Ok(Json(json!({
        "wa_id": wa,
        "handed_off": matches!(state, ConvState::HandedOff),
        "name": name,
        "branch_id": branch_id,
        "last_inbound_at": profile.as_ref().and_then(|p| p.get_n("last_inbound_at")),
        "messages": items,
        "cursor": result.cursor
    })))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NewNote {
    text: String,
}

/// Staff notes on a conversation, oldest first (never sent to the customer).
async fn list_notes(
    State(deps): State<Deps>,
    Merchant(caller): Merchant,
    Path(wa_id): Path<String>,
) -> Result<Json<Value>, AppError> {
    let wa = customer(&wa_id)?;
    if !visible(&caller, &caller.scope().await?, &wa).await? {
        return Err(AppError::NotFound("conversation".into()));
    }
    let page = caller
        .table
        .query(
            TableQuery::partition(crate::platform::schema::customer_pk(
                &caller.table.customer(&wa),
            ))
            .prefix(crate::platform::schema::NOTE_PREFIX)
            .limit(200),
        )
        .await?;
    let mut notes: Vec<Value> = Vec::with_capacity(page.items.len());
    for i in &page.items {
        notes.push(json!({
            "id": i.get_s("id"),
            "text": conversation::text_of(&deps, &caller.table, i, "text").await,
            "author": i.get_s("author"),
            "at": i.get_n("at"),
        }));
    }
    Ok(Json(json!({ "notes": notes })))
}

/// Adds a staff note to a conversation: 1 to 2,000 characters, signed with who wrote it.
async fn add_note(
    State(deps): State<Deps>,
    Merchant(caller): Merchant,
    Path(wa_id): Path<String>,
    Json(note): Json<NewNote>,
) -> Result<(axum::http::StatusCode, Json<Value>), AppError> {
    let wa = customer(&wa_id)?;
    if !visible(&caller, &caller.scope().await?, &wa).await? {
        return Err(AppError::NotFound("conversation".into()));
    }
    // The limit counts the note as sent (spaces included), as the API document states it.
    let text = note.text.trim();
    if text.is_empty() || note.text.chars().count() > 2_000 {
        return Err(AppError::Validation(vec![FieldError::new(
            "text",
            "la nota debe tener de 1 a 2000 caracteres",
        )]));
    }
    let id = crate::parties::merchants::new_id(&deps);
    let at = deps.clock.now_ms();
    caller
        .table
        .put(
            mostrador_store::Item::new(&crate::platform::schema::conversation_note(
                &caller.table.customer(&wa),
                at,
                &id,
            ))
            .with("id", id.as_str())
            .with(
                "text_sealed",
                mostrador_store::Value::B(
                    conversation::seal_text(&deps, &caller.merchant, text).await?,
                ),
            )
            .with("author", caller.actor.as_str())
            .with("at", at / 1000),
            None,
        )
        .await?;
    Ok((
        axum::http::StatusCode::CREATED,
        Json(json!({ "id": id, "text": text, "author": caller.actor, "at": at / 1000 })),
    ))
}

/// Gives the conversation back to the assistant, which greets the customer again.
async fn release(
    State(deps): State<Deps>,
    Merchant(caller): Merchant,
    Path(wa_id): Path<String>,
) -> Result<Json<Value>, AppError> {
    let wa = customer(&wa_id)?;
    if !visible(&caller, &caller.scope().await?, &wa).await? {
        return Err(AppError::NotFound("conversation".into()));
    }
    if !matches!(
        conversation::load_state(&caller.table, &wa).await?,
        ConvState::HandedOff
    ) {
        return Err(AppError::Conflict(
            "this conversation is not with an agent".into(),
        ));
    }
    let profile = caller
        .table
        .get(&crate::platform::schema::customer_profile(
            &caller.table.customer(&wa),
        ))
        .await?
        .ok_or_else(|| AppError::NotFound("customer".into()))?;
    let phone = profile
        .get_s("phone_number_id")
        .unwrap_or_default()
        .to_owned();
    let branch = crate::parties::merchants::route_phone(&*deps.table, &phone)
        .await?
        .ok_or_else(|| AppError::NotFound("branch".into()))?;
    let release_id = format!("release.{}", crate::parties::merchants::new_id(&deps));
    chat::release(
        &deps,
        &InboundEnvelope {
            merchant_id: caller.merchant.to_string(),
            branch_id: branch.branch_id,
            phone_number_id: phone,
            wa_id: wa.clone(),
            wamid: release_id,
            timestamp: deps.clock.now_secs(),
            profile_name: crate::parties::customers::name_in(&deps, &caller.table, &profile).await,
            phone: None,
            username: None,
            message: serde_json::value::RawValue::from_string("null".into())
                .map_err(|e| AppError::Internal(e.into()))?,
        },
    )
    .await?;
    Ok(Json(json!({ "wa_id": wa, "handed_off": false })))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chat_settings_are_read_strictly() {
        let ok =
            strict_settings(&json!({ "reservation_minutes": 45, "texts": { "goodbye": "¡Bye!" } }))
                .expect("valid");
        assert_eq!(ok.reservation_minutes, 45);
        assert_eq!(ok.texts.goodbye, "¡Bye!");
        assert_eq!(
            ok.texts.thanks,
            mostrador_core::conversation::Texts::default().thanks
        );
        for (bad, field) in [
            (json!([]), "body"),
            (json!({ "faq": [] }), "faq"),
            (json!({ "texts": { "greting": "hola" } }), "texts.greting"),
            (json!({ "reservation_minutes": "treinta" }), "body"),
        ] {
            match strict_settings(&bad) {
                Err(AppError::Validation(fields)) => {
                    assert_eq!(fields[0].field, field, "{bad}")
                }
                other => panic!("{bad}: {other:?}"),
            }
        }
    }
}
