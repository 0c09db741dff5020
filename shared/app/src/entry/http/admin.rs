//! Platform admin routes: merchants, their API keys, and dead-letter queues.

use super::auth::Admin;
use crate::parties::merchants::{self, IssuedKey, Merchant, NewApiKey, NewMerchant};
use crate::platform::error::AppError;
use crate::platform::tenant::{MerchantId, TenantTable};
use crate::platform::Deps;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::routing::{delete, get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{json, Value};

/// Routes under `/v1/admin`.
pub fn routes() -> Router<Deps> {
    Router::new()
        .route("/v1/admin/merchants", post(create_merchant))
        .route("/v1/admin/merchants/{merchant_id}", get(get_merchant))
        .route(
            "/v1/admin/merchants/{merchant_id}/api-keys",
            post(issue_key).get(list_keys),
        )
        .route(
            "/v1/admin/merchants/{merchant_id}/api-keys/{key_id}",
            delete(revoke_key),
        )
        .route(
            "/v1/admin/merchants/{merchant_id}/seal-conversations",
            post(seal_conversations),
        )
        .route("/v1/admin/queues", get(queues))
        .route("/v1/admin/queues/{queue}/dead-letters", get(dead_letters))
        .route("/v1/admin/queues/{queue}/replay", post(replay))
}

fn merchant_id(raw: String) -> Result<MerchantId, AppError> {
    MerchantId::try_from(raw).map_err(|_| AppError::NotFound("merchant".into()))
}

async fn create_merchant(
    _: Admin,
    State(deps): State<Deps>,
    Json(input): Json<NewMerchant>,
) -> Result<(StatusCode, Json<Merchant>), AppError> {
    Ok((
        StatusCode::CREATED,
        Json(merchants::create_merchant(&deps, input).await?),
    ))
}

async fn get_merchant(
    _: Admin,
    State(deps): State<Deps>,
    Path(id): Path<String>,
) -> Result<Json<Merchant>, AppError> {
    let id = merchant_id(id)?;
    merchants::get_merchant(&deps, &id)
        .await?
        .map(Json)
        .ok_or_else(|| AppError::NotFound("merchant".into()))
}

/// Seals the conversation texts a merchant logged in clear before an upgrade (idempotent).
async fn seal_conversations(
    _: Admin,
    State(deps): State<Deps>,
    Path(id): Path<String>,
) -> Result<Json<crate::flows::privacy::SealReport>, AppError> {
    let id = merchant_id(id)?;
    if merchants::get_merchant(&deps, &id).await?.is_none() {
        return Err(AppError::NotFound("merchant".into()));
    }
    Ok(Json(
        crate::flows::privacy::seal_old_conversation_texts(&deps, &id).await?,
    ))
}

async fn issue_key(
    _: Admin,
    State(deps): State<Deps>,
    Path(id): Path<String>,
    body: Option<Json<Value>>,
) -> Result<(StatusCode, Json<IssuedKey>), AppError> {
    let id = merchant_id(id)?;
    let input: NewApiKey = match body {
        None => NewApiKey::default(),
        Some(Json(v)) => super::body::object(v, "las opciones de la llave")?,
    };
    Ok((
        StatusCode::CREATED,
        Json(merchants::issue_key(&deps, &id, input).await?),
    ))
}

async fn list_keys(
    _: Admin,
    State(deps): State<Deps>,
    Path(id): Path<String>,
) -> Result<Json<Value>, AppError> {
    let id = merchant_id(id)?;
    if merchants::get_merchant(&deps, &id).await?.is_none() {
        return Err(AppError::NotFound("merchant".into()));
    }
    let keys = merchants::list_keys(&TenantTable::of(&deps, &id)).await?;
    Ok(Json(json!({ "api_keys": keys })))
}

async fn revoke_key(
    _: Admin,
    State(deps): State<Deps>,
    Path((id, key_id)): Path<(String, String)>,
) -> Result<Json<Value>, AppError> {
    let id = merchant_id(id)?;
    let info = merchants::revoke_key(&deps, &id, &key_id).await?;
    Ok(Json(json!(info)))
}

async fn queues(_: Admin, State(deps): State<Deps>) -> Result<Json<Value>, AppError> {
    let mut out = serde_json::Map::new();
    for (name, queue) in deps.queues.all() {
        out.insert(name.to_owned(), json!(queue.depth().await?));
    }
    Ok(Json(json!({ "queues": out })))
}

#[derive(Deserialize)]
struct Max {
    max: Option<u32>,
}

fn queue<'a>(
    deps: &'a Deps,
    name: &str,
) -> Result<&'a std::sync::Arc<dyn mostrador_queue::Queue>, AppError> {
    deps.queues
        .by_name(name)
        .ok_or_else(|| AppError::NotFound("queue".into()))
}

async fn dead_letters(
    _: Admin,
    State(deps): State<Deps>,
    Path(name): Path<String>,
    Query(q): Query<Max>,
) -> Result<Json<Value>, AppError> {
    let letters = queue(&deps, &name)?
        .dead_letters(q.max.unwrap_or(10).clamp(1, 10))
        .await?;
    let items: Vec<Value> = letters
        .iter()
        .map(|m| json!({ "message_id": m.message_id, "group_id": m.group_id, "receive_count": m.receive_count, "sent_at_ms": m.sent_at_ms, "body": m.body }))
        .collect();
    Ok(Json(json!({ "dead_letters": items })))
}

async fn replay(
    _: Admin,
    State(deps): State<Deps>,
    Path(name): Path<String>,
    Query(q): Query<Max>,
) -> Result<Json<Value>, AppError> {
    let moved = queue(&deps, &name)?
        .replay_dead_letters(q.max.unwrap_or(100).clamp(1, 10_000))
        .await?;
    tracing::info!(queue = %name, moved, "dead letters replayed");
    Ok(Json(json!({ "replayed": moved })))
}
