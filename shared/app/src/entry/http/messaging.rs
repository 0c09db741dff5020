//! Merchant API for the WhatsApp channel: settings, sending, message status, the sandbox outbox,
//! and customers' opt-out.

use super::auth::Merchant;
use crate::parties::conversation;
use crate::parties::merchants::{self, new_id};
use crate::parties::messages::{Category, OutboundEnvelope};
use crate::parties::settings::{self, WhatsAppSettings, WhatsAppSettingsInput};
use crate::platform::error::{AppError, FieldError};
use crate::platform::Deps;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use mostrador_core::phone::customer_id;
use mostrador_queue::OutgoingMessage;
use mostrador_store::idempotency::{IdempotencyError, Outcome};
use mostrador_store::{Query as TableQuery, Table};
use mostrador_whatsapp::client::{Content, OutgoingMessage as CloudMessage};
use serde::Deserialize;
use serde_json::{json, Value};

/// Routes of the channel under `/v1`.
pub fn routes() -> Router<Deps> {
    Router::new()
        .route("/v1/settings/whatsapp", get(get_settings).put(put_settings))
        .route("/v1/messages", post(send))
        .route("/v1/messages/{id}", get(message_status))
        .route("/v1/outbox", get(outbox))
        .route("/v1/customers/{wa_id}/opt-out", post(opt_out))
        .route("/v1/customers/{wa_id}/opt-in", post(opt_in))
}

async fn get_settings(Merchant(caller): Merchant) -> Result<Json<WhatsAppSettings>, AppError> {
    Ok(Json(settings::load(&caller.table).await?))
}

async fn put_settings(
    State(deps): State<Deps>,
    Merchant(caller): Merchant,
    Json(input): Json<WhatsAppSettingsInput>,
) -> Result<Json<WhatsAppSettings>, AppError> {
    // The Cloud API token speaks for the merchant's WhatsApp numbers: the owner's alone.
    caller.check_owner()?;
    Ok(Json(
        settings::update(&deps, &caller.merchant, input).await?,
    ))
}

/// A message the merchant sends (an agent's reply, an order update).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct SendRequest {
    /// The branch whose WhatsApp number sends it.
    branch_id: String,
    /// The customer's WhatsApp id (`52…` or `521…`).
    to: String,
    #[serde(default = "service")]
    category: Category,
    /// A Cloud API message body (`type` and its object), e.g. `{"type":"text","text":{"body":"Hola"}}`.
    message: Value,
    /// Makes a retried request the same message (also the `Idempotency-Key` header): sent once,
    /// answered 200 with the same id; the key with a different message is refused (409).
    #[serde(default)]
    idempotency_key: Option<String>,
}

fn service() -> Category {
    Category::Service
}

async fn send(
    State(deps): State<Deps>,
    Merchant(caller): Merchant,
    headers: axum::http::HeaderMap,
    Json(mut req): Json<SendRequest>,
) -> Result<(StatusCode, Json<Value>), AppError> {
    if req.idempotency_key.is_none() {
        req.idempotency_key = headers
            .get("idempotency-key")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
    }
    caller.check_branch(&req.branch_id)?;
    let branch = merchants::get_branch(&caller.table, &req.branch_id)
        .await?
        .ok_or_else(|| {
            AppError::Validation(vec![FieldError::new("branch_id", "no such branch")])
        })?;
    let phone_number_id = branch.phone_number_id.ok_or_else(|| {
        AppError::Validation(vec![FieldError::new(
            "branch_id",
            "this branch has no WhatsApp number",
        )])
    })?;
    let to = customer_id(&req.to).ok_or_else(|| {
        AppError::Validation(vec![FieldError::new(
            "to",
            "not a WhatsApp id (digits with country code, or a username's id such as MX.1502576394655843)",
        )])
    })?;
    let mut wire = req.message;
    if let Some(obj) = wire.as_object_mut() {
        obj.insert("messaging_product".into(), json!("whatsapp"));
        obj.insert("to".into(), json!(to));
    }
    let message: CloudMessage = serde_json::from_value(wire).map_err(|e| {
        AppError::Validation(vec![FieldError::new(
            "message",
            format!("not a Cloud API message: {e}"),
        )])
    })?;
    message
        .validate()
        .map_err(|e| AppError::Validation(vec![FieldError::new("message", e.to_string())]))?;
    if req.category != Category::Service && !matches!(message.content, Content::Template(_)) {
        return Err(AppError::Validation(vec![FieldError::new("category", "business-initiated messages must be templates; use `service` for replies in the conversation")]));
    }
    let Some(key) = req.idempotency_key.clone() else {
        let id = new_id(&deps);
        return queue_and_log(
            &deps,
            &caller,
            (&req.branch_id, req.category),
            id,
            phone_number_id,
            message,
        )
        .await
        .map(|v| (StatusCode::ACCEPTED, Json(v)));
    };
    if key.is_empty() || key.len() > 200 {
        return Err(AppError::Validation(vec![FieldError::new(
            "idempotency_key",
            "1-200 characters",
        )]));
    }
    let id = keyed_message_id(&caller.merchant, &key);
    let fingerprint = serde_json::to_vec(&json!({
        "branch_id": req.branch_id, "category": req.category, "message": message,
    }))
    .map_err(|e| AppError::Internal(e.into()))?;
    let deadline = deps.clock.now_ms() + 60_000;
    let outcome = deps
        .idempotency
        .run("api-message", &id, &fingerprint, deadline, || {
            queue_and_log(
                &deps,
                &caller,
                (&req.branch_id, req.category),
                id.clone(),
                phone_number_id,
                message,
            )
        })
        .await;
    match outcome {
        Ok(Outcome::Fresh(v)) => Ok((StatusCode::ACCEPTED, Json(v))),
        Ok(Outcome::Replayed(mut v)) => {
            v["replayed"] = json!(true);
            Ok((StatusCode::OK, Json(v)))
        }
        Err(IdempotencyError::Effect(e)) => Err(e),
        Err(IdempotencyError::PayloadMismatch) => Err(AppError::Conflict(
            "this idempotency_key was used for a different message".into(),
        )),
        Err(IdempotencyError::InProgress) => Err(AppError::Unavailable(
            "a request with this idempotency_key is still being handled; retry".into(),
        )),
        Err(IdempotencyError::Store(e)) => Err(e.into()),
        Err(IdempotencyError::Corrupt(why)) => Err(AppError::Internal(anyhow::anyhow!(why))),
    }
}

/// The message id of a merchant's idempotency key (hex, so never a notification's `ntf` id).
fn keyed_message_id(merchant: &crate::platform::tenant::MerchantId, key: &str) -> String {
    use sha2::{Digest, Sha256};
    let digest = hex::encode(Sha256::digest(format!("{merchant}:{key}").as_bytes()));
    format!("msg{}", &digest[..26])
}

/// Queues the message and logs it in the conversation; the answer's body.
async fn queue_and_log(
    deps: &Deps,
    caller: &merchants::Caller,
    (branch_id, category): (&str, Category),
    id: String,
    phone_number_id: String,
    message: CloudMessage,
) -> Result<Value, AppError> {
    let envelope = OutboundEnvelope {
        id,
        merchant_id: caller.merchant.to_string(),
        phone_number_id,
        category,
        kind: None,
        message,
    };
    let body = serde_json::to_string(&envelope).map_err(|e| AppError::Internal(e.into()))?;
    deps.queues
        .outbound
        .send(
            OutgoingMessage::new(body)
                .group(deps.pseudonyms.of(&envelope.message.to))
                .dedup(envelope.id.clone()),
        )
        .await?;
    // The agent's reply belongs to the conversation the merchant API shows.
    let message =
        serde_json::to_string(&envelope.message).map_err(|e| AppError::Internal(e.into()))?;
    conversation::log_message(
        deps,
        &caller.table,
        &conversation::LogEntry {
            wa_id: &envelope.message.to,
            at_secs: deps.clock.now_secs(),
            logged_ms: deps.clock.now_ms(),
            id: &envelope.id,
            direction: "out",
            phone_number_id: &envelope.phone_number_id,
            branch_id: Some(branch_id),
        },
        &message,
    )
    .await?;
    Ok(json!({ "id": envelope.id, "status": "queued" }))
}

async fn message_status(
    State(deps): State<Deps>,
    Merchant(caller): Merchant,
    Path(id): Path<String>,
) -> Result<Json<Value>, AppError> {
    if id.contains('#') {
        return Err(AppError::NotFound("message".into()));
    }
    let item = caller
        .table
        .get(&crate::platform::schema::outbound(&id))
        .await?
        .ok_or_else(|| AppError::NotFound("message".into()))?;
    // A branch-limited key sees only its own number's messages (as if the others did not exist).
    if !caller
        .scope()
        .await?
        .allows(item.get_s("phone_number_id"), None)
    {
        return Err(AppError::NotFound("message".into()));
    }
    let mut out = serde_json::Map::new();
    out.insert("id".into(), json!(id));
    for (name, value) in &item.attrs {
        if matches!(name.as_str(), "pk" | "sk" | "outcome" | "to" | "to_sealed") {
            continue;
        }
        let v = match value {
            mostrador_store::Value::S(s) => json!(s),
            mostrador_store::Value::N(n) => json!(n),
            mostrador_store::Value::Bool(b) => json!(b),
            _ => continue,
        };
        out.insert(name.clone(), v);
    }
    if let Some(to) = crate::parties::conversation::text_of(&deps, &caller.table, &item, "to").await
    {
        out.insert("to".into(), json!(crate::platform::telemetry::redact(&to)));
    }
    Ok(Json(Value::Object(out)))
}

#[derive(Deserialize)]
struct Page {
    limit: Option<u32>,
    cursor: Option<String>,
}

/// `GET /v1/outbox`: messages held in sandbox mode, newest first.
async fn outbox(
    State(deps): State<Deps>,
    Merchant(caller): Merchant,
    Query(page): Query<Page>,
) -> Result<Json<Value>, AppError> {
    let limit = page.limit.unwrap_or(50).clamp(1, 200);
    let scope = caller.scope().await?;
    let result = caller
        .table
        .query(
            TableQuery::partition(crate::platform::schema::OUTBOX)
                .backward()
                .limit(limit)
                .after(page.cursor),
        )
        .await?;
    // A branch-limited key sees its own number's messages; a page may hold fewer than `limit`.
    let mut messages: Vec<Value> = Vec::new();
    for i in result
        .items
        .iter()
        .filter(|i| scope.allows(i.get_s("phone_number_id"), None))
    {
        // Sealed (the recipient inside the message); in clear in what an earlier version wrote.
        let message = crate::parties::conversation::message_of(&deps, &caller.table, i).await;
        let to = i.get_s("to").map(str::to_owned).or_else(|| {
            // A number, or a WhatsApp username's id (`recipient`).
            message["to"]
                .as_str()
                .or_else(|| message["recipient"].as_str())
                .map(str::to_owned)
        });
        messages.push(json!({
            "id": i.get_s("id"),
            "to": to,
            "phone_number_id": i.get_s("phone_number_id"),
            "category": i.get_s("category"),
            "stored_at_ms": i.get_s("sk").and_then(|sk| sk.split('#').next()).and_then(|ms| ms.parse::<i64>().ok()),
            "message": message,
        }));
    }
    Ok(Json(
        json!({ "messages": messages, "cursor": result.cursor }),
    ))
}

async fn opt_out(
    State(deps): State<Deps>,
    Merchant(caller): Merchant,
    Path(wa_id): Path<String>,
) -> Result<Json<Value>, AppError> {
    set_consent(&deps, &caller, &wa_id, true).await
}

async fn opt_in(
    State(deps): State<Deps>,
    Merchant(caller): Merchant,
    Path(wa_id): Path<String>,
) -> Result<Json<Value>, AppError> {
    set_consent(&deps, &caller, &wa_id, false).await
}

async fn set_consent(
    deps: &Deps,
    caller: &merchants::Caller,
    wa_id: &str,
    opted_out: bool,
) -> Result<Json<Value>, AppError> {
    let wa = customer_id(wa_id)
        .ok_or_else(|| AppError::Validation(vec![FieldError::new("wa_id", "not a WhatsApp id")]))?;
    caller.check_customer_or_new(&wa).await?;
    crate::parties::customers::set_opt_out(&caller.table, &wa, opted_out, "api", deps.clock.now())
        .await?;
    if opted_out {
        // Oposición (LFPDPPP art. 27): the opt-out is the customer's opposition, recorded as such.
        use crate::parties::privacy;
        privacy::answer(
            deps,
            &caller.table,
            privacy::NewRequest {
                right: mostrador_core::privacy::ArcoRight::Oposicion,
                wa_id: &wa,
                channel: if caller.role.is_some() {
                    "consola"
                } else {
                    "api"
                },
                by: &caller.actor,
                received_at: None,
                note: None,
            },
            privacy::RequestStatus::Atendida,
            "El cliente ya no recibe mensajes que no pida.",
        )
        .await?;
    }
    Ok(Json(json!({ "wa_id": wa, "opted_out": opted_out })))
}
