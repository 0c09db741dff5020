//! The customer simulator of the local stack: `/sandbox/chat`, a phone-like page that writes to a
//! merchant's WhatsApp number as a customer would and shows the replies held in the sandbox outbox
//! as WhatsApp renders them. Try the whole conversation without a Meta account.
//!
//! Customer messages take the real path: the body Meta would send, signed with the app secret and
//! POSTed to this stack's own `/webhooks/whatsapp` over loopback. Local development only: no Lambda
//! serves these routes, and they need no API key.
//!
//! - `GET  /sandbox/chat`          the page (self-contained: no CDN, inline script and style)
//! - `GET  /sandbox/api/branches`  the WhatsApp numbers to write to (`?phone_number_id=` looks one up)
//! - `POST /sandbox/api/send`      `{phone_number_id, wa_id, name?, kind, text?, id?, title?,
//!   description?, items?, context_id?}` → `{wamid, webhook: {status, report}}`
//! - `GET  /sandbox/api/messages`  `?phone_number_id=&wa_id=&after=` → the outbox for that customer,
//!   newest last, with the `cursor` to pass as `after` next time

mod delivery;

use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, QueryRejection};
use axum::extract::{DefaultBodyLimit, Query, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post, MethodRouter};
use axum::{Json, Router};
use delivery::{CustomerSend, Envelope, SendRequest};
use mostrador_app::entry::http::error::json_error;
use mostrador_app::parties::merchants::{self, route_phone};
use mostrador_app::platform::error::{AppError, FieldError};
use mostrador_app::platform::tenant::{MerchantId, TenantTable};
use mostrador_app::{commerce::catalog, parties::settings, Deps};
use mostrador_core::phone::normalize_wa_id;
use mostrador_store::{Item, Key, Query as TableQuery, SortKey, Table};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use std::collections::{BTreeSet, HashMap};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

const CHAT_HTML: &str = include_str!("sandbox/chat.html");

/// The page may talk only to this server; images in messages may come from anywhere.
const CHAT_CSP: &str =
    "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; \
     connect-src 'self'; img-src 'self' data: http: https:; base-uri 'none'; form-action 'none'; \
     frame-ancestors 'none'";

/// Platform partition where the sandbox remembers the numbers it was used with (sort key: the id).
const REMEMBERED_NUMBERS: &str = "SANDBOX#NUMBERS";
/// GSI1 partition of the platform's phone routing records (`PHONE#{id}`), when they carry
/// `gsi1pk = "PHONES"`: then every registered number shows up without being used first.
const INDEXED_NUMBERS: &str = "PHONES";
/// Catalog id in orders when the merchant configured no Meta catalog.
const SANDBOX_CATALOG: &str = "sandbox-catalog";
/// Requests are small JSON; the webhook's own limit is for Meta's batches.
const MAX_BODY_BYTES: usize = 64 * 1024;
/// Outbox items read per query page, messages returned at first load, items scanned per request.
const PAGE: u32 = 100;
const HISTORY: usize = 50;
const MAX_SCANNED: usize = 2_000;
/// An outbox item is keyed by the time its writer read the clock, not the time it landed: a poll
/// re-reads this much before its cursor so a late write is not skipped (clients dedupe by `id`).
const OVERLAP_MS: i64 = 5_000;

#[derive(Clone)]
struct Sandbox {
    deps: Deps,
    http: reqwest::Client,
    webhook_url: Arc<str>,
}

/// The simulator's routes. `addr` is where this stack listens: customer messages are posted there.
pub fn routes(deps: Deps, addr: SocketAddr) -> Result<Router, reqwest::Error> {
    let http = reqwest::Client::builder()
        .no_proxy()
        .timeout(Duration::from_secs(30))
        .user_agent("facebookexternalua (mostrador sandbox)")
        .build()?;
    let sandbox = Sandbox {
        deps,
        http,
        webhook_url: format!("http://{}/webhooks/whatsapp", loopback(addr)).into(),
    };
    Ok(Router::new()
        .route(
            "/sandbox",
            only(get(|| async { Redirect::to("/sandbox/chat") })),
        )
        .route("/sandbox/chat", only(get(chat_page)))
        .route("/sandbox/api/branches", only(get(branches)))
        .route("/sandbox/api/send", only(post(send)))
        .route("/sandbox/api/messages", only(get(messages)))
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .with_state(sandbox))
}

/// A listener on every interface is reached through loopback.
fn loopback(addr: SocketAddr) -> SocketAddr {
    match addr.ip() {
        IpAddr::V4(ip) if ip.is_unspecified() => (Ipv4Addr::LOCALHOST, addr.port()).into(),
        IpAddr::V6(ip) if ip.is_unspecified() => (Ipv6Addr::LOCALHOST, addr.port()).into(),
        _ => addr,
    }
}

/// Other methods get the JSON 405 of the rest of the surface.
fn only(route: MethodRouter<Sandbox>) -> MethodRouter<Sandbox> {
    route.fallback(|| async {
        json_error(
            StatusCode::METHOD_NOT_ALLOWED,
            "method_not_allowed",
            "method not allowed",
        )
    })
}

async fn chat_page() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            (header::CACHE_CONTROL, "no-store"),
            (header::CONTENT_SECURITY_POLICY, CHAT_CSP),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        ],
        CHAT_HTML,
    )
        .into_response()
}

/// Why a sandbox request failed.
#[derive(Debug)]
enum SandboxError {
    Api(AppError),
    /// The stack's own webhook could not be reached.
    WebhookUnreachable(String),
    /// The webhook answered, but not 2xx: the simulated delivery was not accepted.
    WebhookRefused {
        status: StatusCode,
        body: String,
    },
}

impl From<AppError> for SandboxError {
    fn from(e: AppError) -> Self {
        Self::Api(e)
    }
}

impl From<mostrador_store::StoreError> for SandboxError {
    fn from(e: mostrador_store::StoreError) -> Self {
        Self::Api(e.into())
    }
}

impl IntoResponse for SandboxError {
    fn into_response(self) -> Response {
        match self {
            SandboxError::Api(e) => e.into_response(),
            SandboxError::WebhookUnreachable(why) => {
                tracing::warn!(error = %why, "sandbox: webhook unreachable");
                json_error(
                    StatusCode::BAD_GATEWAY,
                    "webhook_unreachable",
                    format!("the stack's webhook could not be reached: {why}"),
                )
            }
            SandboxError::WebhookRefused { status, body } => {
                tracing::warn!(
                    status = status.as_u16(),
                    "sandbox: webhook refused the delivery"
                );
                let detail: String = body.chars().take(500).collect();
                json_error(
                    StatusCode::BAD_GATEWAY,
                    "webhook_refused",
                    format!("the webhook answered {status}: {detail}"),
                )
            }
        }
    }
}

fn invalid(field: &str, reason: impl Into<String>) -> SandboxError {
    SandboxError::Api(AppError::Validation(vec![FieldError::new(field, reason)]))
}

fn unknown_number() -> SandboxError {
    SandboxError::Api(AppError::NotFound(
        "WhatsApp number (no branch has this phone_number_id)".into(),
    ))
}

/// A number the simulator can write to, with who answers it.
#[derive(Debug, Clone, Serialize)]
struct SandboxBranch {
    merchant_name: String,
    branch_name: String,
    phone_number_id: String,
    merchant_id: String,
    branch_id: String,
    /// The merchant's Meta catalog, named in catalog orders.
    #[serde(skip)]
    catalog_id: Option<String>,
    /// The merchant stored a WhatsApp token: its replies go to real customers, not to the outbox.
    #[serde(skip)]
    live: bool,
    #[serde(skip)]
    merchant: MerchantId,
}

/// The merchant and branch behind a number, or `None` when no branch has it.
async fn describe(deps: &Deps, phone_number_id: &str) -> Result<Option<SandboxBranch>, AppError> {
    let Some(route) = route_phone(&*deps.table, phone_number_id).await? else {
        return Ok(None);
    };
    let merchant = merchants::get_merchant(deps, &route.merchant).await?;
    let tenant = TenantTable::of(deps, &route.merchant);
    let branch = merchants::get_branch(&tenant, &route.branch_id).await?;
    let settings = settings::load(&tenant).await?;
    Ok(Some(SandboxBranch {
        merchant_name: merchant.map_or_else(|| route.merchant.to_string(), |m| m.name),
        branch_name: branch.map_or_else(|| route.branch_id.clone(), |b| b.name),
        phone_number_id: phone_number_id.to_owned(),
        merchant_id: route.merchant.to_string(),
        branch_id: route.branch_id,
        catalog_id: settings.catalog_id,
        live: settings.has_token,
        merchant: route.merchant,
    }))
}

/// A number the simulator may use: it belongs to a branch (else 404) of a merchant in sandbox mode.
/// A merchant with a WhatsApp token talks to real customers; simulated ones must not reach its
/// conversations, where they could place real orders (409).
async fn sandbox_branch(deps: &Deps, phone_number_id: &str) -> Result<SandboxBranch, SandboxError> {
    let branch = describe(deps, phone_number_id)
        .await?
        .ok_or_else(unknown_number)?;
    if branch.live {
        return Err(SandboxError::Api(AppError::Conflict(
            "this merchant sends through the WhatsApp Cloud API (a token is stored); the simulator \
             only talks to merchants in sandbox mode"
                .into(),
        )));
    }
    Ok(branch)
}

async fn remember(deps: &Deps, phone_number_id: &str) -> Result<(), AppError> {
    let item = Item::new(&Key::new(REMEMBERED_NUMBERS, phone_number_id))
        .with("remembered_at", deps.clock.now_secs());
    deps.table.put(item, None).await?;
    Ok(())
}

/// The demo merchant's numbers, from the file `cargo run` keeps them in (see [`crate::demo`]).
async fn demo_numbers(deps: &Deps) -> Vec<String> {
    let path = deps.config.data_dir.join("demo.json");
    let Ok(text) = tokio::fs::read_to_string(&path).await else {
        return Vec::new();
    };
    serde_json::from_str::<crate::demo::Demo>(&text)
        .map(|demo| {
            demo.branches
                .into_iter()
                .map(|b| b.phone_number_id)
                .collect()
        })
        .unwrap_or_default()
}

/// Every number the sandbox knows of: the demo's, the indexed routing records and the numbers
/// remembered from earlier use.
async fn known_numbers(deps: &Deps) -> Result<BTreeSet<String>, AppError> {
    let mut numbers: BTreeSet<String> = demo_numbers(deps)
        .await
        .iter()
        .filter_map(|id| delivery::phone_number_id(id))
        .collect();
    for (query, from_indexed) in [
        (TableQuery::gsi1(INDEXED_NUMBERS), true),
        (TableQuery::partition(REMEMBERED_NUMBERS), false),
    ] {
        let mut cursor = None;
        loop {
            let page = deps
                .table
                .query(query.clone().limit(PAGE).after(cursor))
                .await?;
            for item in &page.items {
                let id = if from_indexed {
                    item.get_s("pk").and_then(|pk| pk.strip_prefix("PHONE#"))
                } else {
                    item.get_s("sk")
                };
                if let Some(id) = id.and_then(delivery::phone_number_id) {
                    numbers.insert(id);
                }
            }
            if page.cursor.is_none() || numbers.len() >= MAX_SCANNED {
                break;
            }
            cursor = page.cursor;
        }
    }
    Ok(numbers)
}

#[derive(Debug, Deserialize)]
struct BranchesQuery {
    phone_number_id: Option<String>,
}

/// `GET /sandbox/api/branches`: `{branches: [...]}`, by merchant and branch name.
async fn branches(
    State(s): State<Sandbox>,
    query: Result<Query<BranchesQuery>, QueryRejection>,
) -> Result<Json<Value>, SandboxError> {
    let Query(query) = query.map_err(|e| invalid("query", e.body_text()))?;
    let found = match query.phone_number_id {
        // A number typed on the page: look it up, and list it from now on.
        Some(raw) => {
            let id = delivery::phone_number_id(&raw)
                .ok_or_else(|| invalid("phone_number_id", "must be digits"))?;
            let branch = sandbox_branch(&s.deps, &id).await?;
            remember(&s.deps, &id).await?;
            vec![branch]
        }
        None => {
            let mut found = Vec::new();
            for id in known_numbers(&s.deps).await? {
                // Numbers of deleted branches and of live merchants are left out.
                match describe(&s.deps, &id).await? {
                    Some(branch) if !branch.live => found.push(branch),
                    _ => {}
                }
            }
            found.sort_by(|a, b| {
                (&a.merchant_name, &a.branch_name, &a.phone_number_id).cmp(&(
                    &b.merchant_name,
                    &b.branch_name,
                    &b.phone_number_id,
                ))
            });
            found
        }
    };
    Ok(Json(json!({ "branches": found })))
}

/// `POST /sandbox/api/send`: the customer's message, through the real signed webhook.
async fn send(
    State(s): State<Sandbox>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<Value>, SandboxError> {
    let body = body.map_err(|e| {
        SandboxError::Api(match e.status() {
            StatusCode::PAYLOAD_TOO_LARGE => AppError::PayloadTooLarge(MAX_BODY_BYTES),
            _ => AppError::BadRequest(e.body_text()),
        })
    })?;
    let request: SendRequest = serde_json::from_slice(&body)
        .map_err(|e| invalid("body", format!("not a send request: {e}")))?;
    let send = CustomerSend::try_from(request).map_err(AppError::Validation)?;
    let deps = &s.deps;
    let branch = sandbox_branch(deps, &send.phone_number_id).await?;
    remember(deps, &send.phone_number_id).await?;
    let wamid = format!("wamid.sandbox.{}", merchants::new_id(deps));
    let body = delivery::webhook_body(&Envelope {
        send: &send,
        wamid: &wamid,
        timestamp: deps.clock.now_secs(),
        catalog_id: branch.catalog_id.as_deref().unwrap_or(SANDBOX_CATALOG),
    })
    .map_err(|e| AppError::Internal(anyhow::Error::new(e).context("building the webhook body")))?;
    let signature = mostrador_whatsapp::signature::sign(
        deps.config.whatsapp_app_secret.expose().as_bytes(),
        &body,
    );
    let response = s
        .http
        .post(&*s.webhook_url)
        .header(header::CONTENT_TYPE, "application/json")
        .header("x-hub-signature-256", signature)
        .body(body)
        .send()
        .await
        .map_err(|e| SandboxError::WebhookUnreachable(e.to_string()))?;
    let status = response.status();
    let answer = response.text().await.unwrap_or_default();
    if !status.is_success() {
        return Err(SandboxError::WebhookRefused {
            status,
            body: answer,
        });
    }
    let report: Value = serde_json::from_str(&answer).unwrap_or(Value::Null);
    tracing::info!(
        merchant = %branch.merchant_id,
        phone_number_id = %send.phone_number_id,
        wamid = %wamid,
        "sandbox: customer message delivered to the webhook"
    );
    Ok(Json(json!({
        "wamid": wamid,
        "webhook": { "status": status.as_u16(), "report": report },
    })))
}

#[derive(Debug, Deserialize)]
struct MessagesQuery {
    phone_number_id: Option<String>,
    wa_id: Option<String>,
    after: Option<String>,
}

/// Where a poll after `cursor` starts reading: [`OVERLAP_MS`] before it.
fn overlap_start(cursor: &str) -> String {
    let ms: i64 = cursor
        .split('#')
        .next()
        .and_then(|ms| ms.parse().ok())
        .unwrap_or(0);
    format!("{:013}", (ms - OVERLAP_MS).max(0))
}

/// An outbox sort key: `{ms:013}#{id}`, where the sender's ids are 1-100 characters without `#`.
fn outbox_cursor(raw: &str) -> Option<&str> {
    let (ms, id) = raw.split_once('#')?;
    let ok = ms.len() == 13
        && ms.bytes().all(|b| b.is_ascii_digit())
        && !id.is_empty()
        && id.len() <= 100
        && id.bytes().all(|b| b.is_ascii_graphic() && b != b'#');
    ok.then_some(raw)
}

/// `GET /sandbox/api/messages`: `{branch, messages: [...], cursor}`; each message has `id`, `wamid`
/// (what a reply's `context_id` names), `cursor`, `stored_at_ms`, `category` and the Cloud API `message`.
/// With `after`, messages of the few seconds before the cursor come again (see [`OVERLAP_MS`]).
async fn messages(
    State(s): State<Sandbox>,
    query: Result<Query<MessagesQuery>, QueryRejection>,
) -> Result<Json<Value>, SandboxError> {
    let Query(query) = query.map_err(|e| invalid("query", e.body_text()))?;
    let phone = query
        .phone_number_id
        .as_deref()
        .and_then(delivery::phone_number_id)
        .ok_or_else(|| {
            invalid(
                "phone_number_id",
                "must be the numeric WhatsApp phone number id",
            )
        })?;
    let wa_id = query
        .wa_id
        .as_deref()
        .and_then(delivery::customer_number)
        .and_then(|digits| normalize_wa_id(&digits))
        .ok_or_else(|| invalid("wa_id", "must be a WhatsApp number with country code"))?;
    let after = match query.after.as_deref().filter(|a| !a.is_empty()) {
        Some(raw) => Some(
            outbox_cursor(raw)
                .ok_or_else(|| invalid("after", "must be a cursor from a previous answer"))?
                .to_owned(),
        ),
        None => None,
    };
    let branch = sandbox_branch(&s.deps, &phone).await?;
    let outbox = TenantTable::of(&s.deps, &branch.merchant);
    // The customer by pseudonym (or, in what an earlier version wrote, by number).
    let customer = s.deps.pseudonyms.of(&wa_id);
    let for_customer = |item: &Item| {
        (item.get_s("customer") == Some(&customer) || item.get_s("to") == Some(&wa_id))
            && item.get_s("phone_number_id") == Some(&phone)
    };

    // The outbox holds every customer's messages, ordered by time: read forward from the cursor,
    // or backward for the latest history, keeping this customer's.
    let mut found = Vec::new();
    let mut scanned = 0;
    let mut page_cursor = None;
    let mut next = after.clone();
    loop {
        let base = TableQuery::partition("OUTBOX");
        let q = match &after {
            Some(after) => base.sort(SortKey::Gt(overlap_start(after))),
            None => base.backward(),
        };
        let page = outbox.query(q.limit(PAGE).after(page_cursor)).await?;
        for item in &page.items {
            scanned += 1;
            let sk = item.get_s("sk").map(str::to_owned);
            // The newest key read (forward: never behind the cursor given; backward: the first).
            if sk > next {
                next = sk;
            }
            if for_customer(item) {
                found.push(outbox_message(&s.deps, &outbox, item).await);
            }
        }
        let enough = match after {
            Some(_) => found.len() >= PAGE as usize,
            None => found.len() >= HISTORY,
        };
        if page.cursor.is_none() || enough || scanned >= MAX_SCANNED {
            break;
        }
        page_cursor = page.cursor;
    }
    if after.is_none() {
        found.truncate(HISTORY);
        found.reverse();
    }
    add_catalog_products(&outbox, &mut found).await?;
    Ok(Json(
        json!({ "branch": branch, "messages": found, "cursor": next }),
    ))
}

/// The SKUs a product or product_list message shows.
fn skus_of(message: &Value) -> Vec<&str> {
    let interactive = &message["interactive"];
    let action = &interactive["action"];
    match interactive["type"].as_str() {
        Some("product") => action["product_retailer_id"].as_str().into_iter().collect(),
        Some("product_list") => action["sections"]
            .as_array()
            .into_iter()
            .flatten()
            .flat_map(|s| s["product_items"].as_array().into_iter().flatten())
            .filter_map(|p| p["product_retailer_id"].as_str())
            .collect(),
        _ => Vec::new(),
    }
}

/// What WhatsApp shows on a product card comes from the catalog: name, price and picture. Adds
/// `products: {sku: {name, price, image_url}}` to product messages for the SKUs the merchant has
/// (`price` is the decimal text a catalog `order` carries as `item_price`).
async fn add_catalog_products(catalog: &TenantTable, found: &mut [Value]) -> Result<(), AppError> {
    const MAX_LOOKUPS: usize = 100;
    let mut known: HashMap<String, Option<Value>> = HashMap::new();
    for message in found.iter_mut() {
        let skus: Vec<String> = skus_of(&message["message"])
            .into_iter()
            .map(str::to_owned)
            .collect();
        if skus.is_empty() {
            continue;
        }
        let mut products = serde_json::Map::new();
        for sku in skus {
            if !known.contains_key(&sku) {
                if known.len() >= MAX_LOOKUPS {
                    continue;
                }
                let product = catalog::get_product(catalog, &sku).await?.map(|p| {
                    json!({
                        "name": p.name,
                        "price": (p.price.0 >= 0)
                            .then(|| format!("{}.{:02}", p.price.0 / 100, p.price.0 % 100)),
                        "image_url": p.image_url,
                        "active": p.active,
                    })
                });
                known.insert(sku.clone(), product);
            }
            if let Some(Some(product)) = known.get(&sku) {
                products.insert(sku, product.clone());
            }
        }
        if let Some(obj) = message.as_object_mut() {
            obj.insert("products".into(), Value::Object(products));
        }
    }
    Ok(())
}

async fn outbox_message(deps: &Deps, table: &TenantTable, item: &Item) -> Value {
    let sk = item.get_s("sk").unwrap_or_default();
    let id = item.get_s("id").unwrap_or_default();
    let message = mostrador_app::parties::conversation::message_of(deps, table, item).await;
    json!({
        "id": id,
        // What the sender records as the sandbox message's wamid.
        "wamid": format!("sandbox.{id}"),
        "cursor": sk,
        "stored_at_ms": sk.split('#').next().and_then(|ms| ms.parse::<i64>().ok()),
        "category": item.get_s("category"),
        "message": message,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use mostrador_app::parties::customers;
    use mostrador_app::parties::merchants::{BranchInput, NewApiKey, NewMerchant};
    use mostrador_app::platform::config::Vars;
    use mostrador_app::Config;

    const SECRET: &str = "sandbox-test-secret";

    struct Stack {
        url: String,
        deps: Deps,
        http: reqwest::Client,
        running: Option<crate::Running>,
        _dir: tempfile::TempDir,
    }

    impl Stack {
        async fn start() -> Self {
            let dir = tempfile::tempdir().expect("tempdir");
            let data = dir.path().to_string_lossy().to_string();
            let vars = Vars::from_pairs([
                ("MOSTRADOR_DATA_DIR", data.as_str()),
                ("MOSTRADOR_ADMIN_KEY", "sandbox-test-admin-key-0123"),
                ("MOSTRADOR_WHATSAPP_APP_SECRET", SECRET),
                ("MOSTRADOR_WHATSAPP_VERIFY_TOKEN", "verify"),
            ]);
            let config = Config::from_vars(&vars).expect("config");
            let deps = Deps::build(config).await.expect("engines");
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
                .await
                .expect("bind");
            let running = crate::start(
                deps.clone(),
                listener,
                crate::Options {
                    pollers: true,
                    scheduler: false,
                    ..Default::default()
                },
            )
            .await
            .expect("start");
            Self {
                url: format!("http://{}", running.addr),
                deps,
                http: reqwest::Client::new(),
                running: Some(running),
                _dir: dir,
            }
        }

        /// A merchant with one branch on `phone`; returns the merchant key and the branch id.
        async fn branch(&self, phone: &str) -> (String, String) {
            let merchant = merchants::create_merchant(
                &self.deps,
                NewMerchant {
                    name: "Farmacia Sandbox".into(),
                },
            )
            .await
            .expect("merchant");
            let key = merchants::issue_key(&self.deps, &merchant.id, NewApiKey::default())
                .await
                .expect("key");
            let caller = merchants::resolve_key(&self.deps, &key.api_key)
                .await
                .expect("caller");
            let input: BranchInput = serde_json::from_value(json!({
                "name": "Centro", "postal_code": "06000", "phone_number_id": phone
            }))
            .expect("input");
            let branch = merchants::create_branch(&self.deps, &caller, input)
                .await
                .expect("branch");
            (key.api_key, branch.id)
        }

        async fn get(&self, path: &str) -> (StatusCode, Value) {
            let r = self
                .http
                .get(format!("{}{path}", self.url))
                .send()
                .await
                .expect("GET");
            let status = StatusCode::from_u16(r.status().as_u16()).expect("status");
            (status, r.json().await.unwrap_or(Value::Null))
        }

        async fn send(&self, body: Value) -> (StatusCode, Value) {
            let r = self
                .http
                .post(format!("{}/sandbox/api/send", self.url))
                .json(&body)
                .send()
                .await
                .expect("POST");
            let status = StatusCode::from_u16(r.status().as_u16()).expect("status");
            (status, r.json().await.unwrap_or(Value::Null))
        }

        async fn stop(mut self) {
            if let Some(running) = self.running.take() {
                running.stop().await;
            }
        }
    }

    fn outbox_item(at_ms: i64, id: &str, to: &str, phone: &str, body: &str) -> Item {
        let message = json!({"messaging_product": "whatsapp", "to": to, "type": "text", "text": {"body": body}});
        Item::new(&Key::new("OUTBOX", format!("{at_ms:013}#{id}")))
            .with("id", id)
            .with("to", to)
            .with("phone_number_id", phone)
            .with("category", "service")
            .with("message", message.to_string())
    }

    #[tokio::test]
    async fn customer_messages_reach_the_webhook_signed_and_replies_come_back_from_the_outbox() {
        let stack = Stack::start().await;
        let (api_key, branch_id) = stack.branch("5550001").await;

        let page = stack
            .http
            .get(format!("{}/sandbox/chat", stack.url))
            .send()
            .await
            .expect("page");
        assert_eq!(page.status().as_u16(), 200);
        let csp = page.headers().get("content-security-policy").cloned();
        assert!(csp.is_some_and(|v| v
            .to_str()
            .unwrap_or_default()
            .contains("connect-src 'self'")));
        let html = page.text().await.expect("html");
        assert!(html.contains("<html lang=\"es-MX\""));

        let (status, sent) = stack
            .send(json!({"phone_number_id": "5550001", "wa_id": "5215512345678", "name": "Lupita", "kind": "text", "text": "hola"}))
            .await;
        assert_eq!(status, StatusCode::OK, "{sent}");
        assert!(sent["wamid"]
            .as_str()
            .is_some_and(|w| w.starts_with("wamid.sandbox.")));
        assert_eq!(sent["webhook"]["status"], 200);
        assert_eq!(sent["webhook"]["report"]["enqueued"], 1, "{sent}");

        // The number is listed from now on.
        let (status, listed) = stack.get("/sandbox/api/branches").await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(listed["branches"][0]["phone_number_id"], "5550001");
        assert_eq!(listed["branches"][0]["merchant_name"], "Farmacia Sandbox");
        assert_eq!(listed["branches"][0]["branch_name"], "Centro");

        // Once the customer's message is processed, the window is open and a reply lands in the outbox.
        let merchant = MerchantId::try_from(
            listed["branches"][0]["merchant_id"]
                .as_str()
                .unwrap_or_default()
                .to_owned(),
        )
        .expect("merchant id");
        let tenant = TenantTable::of(&stack.deps, &merchant);
        let mut customer = customers::get(&tenant, "525512345678")
            .await
            .expect("customer");
        for _ in 0..100 {
            if customer.last_inbound_at.is_some() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
            customer = customers::get(&tenant, "525512345678")
                .await
                .expect("customer");
        }
        assert!(
            customer.last_inbound_at.is_some(),
            "the inbound message was processed"
        );
        assert_eq!(
            customers::name(&stack.deps, &tenant, "525512345678")
                .await
                .expect("name")
                .as_deref(),
            Some("Lupita")
        );
        let queued = stack
            .http
            .post(format!("{}/v1/messages", stack.url))
            .bearer_auth(&api_key)
            .json(&json!({"branch_id": branch_id, "to": "5215512345678", "message": {
                "type": "interactive",
                "interactive": {"type": "button", "body": {"text": "¿Confirmas?"}, "action": {"buttons": [
                    {"type": "reply", "reply": {"id": "si", "title": "Sí"}}
                ]}}
            }}))
            .send()
            .await
            .expect("queue");
        assert_eq!(queued.status().as_u16(), 202);
        // Other replies (the conversation's own) may come first: look for ours.
        let mut reply = Value::Null;
        for _ in 0..100 {
            let (status, answer) = stack
                .get("/sandbox/api/messages?phone_number_id=5550001&wa_id=5215512345678")
                .await;
            assert_eq!(status, StatusCode::OK, "{answer}");
            let ours = answer["messages"].as_array().and_then(|all| {
                all.iter()
                    .find(|m| {
                        m["message"]["interactive"]["action"]["buttons"][0]["reply"]["id"] == "si"
                    })
                    .cloned()
            });
            if let Some(ours) = ours {
                reply = ours;
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        assert_eq!(
            reply["message"]["type"], "interactive",
            "our reply reached the outbox"
        );
        let wamid = reply["wamid"].as_str().expect("wamid").to_owned();

        // Tapping the button answers that message.
        let (status, sent) = stack
            .send(json!({"phone_number_id": "5550001", "wa_id": "5215512345678", "kind": "button_reply",
                "id": "si", "title": "Sí", "context_id": wamid}))
            .await;
        assert_eq!(status, StatusCode::OK, "{sent}");
        assert_eq!(sent["webhook"]["report"]["enqueued"], 1);
        stack.stop().await;
    }

    #[tokio::test]
    async fn unknown_numbers_are_404_and_malformed_input_is_422() {
        let stack = Stack::start().await;
        stack.branch("5550002").await;
        let (status, body) = stack
            .send(json!({"phone_number_id": "999", "wa_id": "5215512345678", "kind": "text", "text": "hola"}))
            .await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
        assert_eq!(body["error"]["code"], "not_found");
        let (status, body) = stack
            .send(json!({"phone_number_id": "5550002", "wa_id": "x", "kind": "dance"}))
            .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
        let fields: Vec<&str> = body["error"]["fields"]
            .as_array()
            .map(|f| f.iter().filter_map(|e| e["field"].as_str()).collect())
            .unwrap_or_default();
        assert_eq!(fields, ["wa_id", "kind"]);
        let raw = stack
            .http
            .post(format!("{}/sandbox/api/send", stack.url))
            .body("{not json")
            .send()
            .await
            .expect("POST");
        assert_eq!(raw.status().as_u16(), 422);
        let wrong_method = stack
            .http
            .delete(format!("{}/sandbox/api/send", stack.url))
            .send()
            .await
            .expect("DELETE");
        assert_eq!(wrong_method.status().as_u16(), 405);
        assert_eq!(
            wrong_method.json::<Value>().await.expect("json")["error"]["code"],
            "method_not_allowed"
        );

        for (path, want) in [
            (
                "/sandbox/api/messages?phone_number_id=999&wa_id=5215512345678",
                StatusCode::NOT_FOUND,
            ),
            (
                "/sandbox/api/messages?phone_number_id=5550002&wa_id=abc",
                StatusCode::UNPROCESSABLE_ENTITY,
            ),
            (
                "/sandbox/api/messages?phone_number_id=5550002&wa_id=5215512345678&after=x",
                StatusCode::UNPROCESSABLE_ENTITY,
            ),
            (
                "/sandbox/api/messages?wa_id=5215512345678",
                StatusCode::UNPROCESSABLE_ENTITY,
            ),
            (
                "/sandbox/api/branches?phone_number_id=999",
                StatusCode::NOT_FOUND,
            ),
            (
                "/sandbox/api/branches?phone_number_id=abc",
                StatusCode::UNPROCESSABLE_ENTITY,
            ),
        ] {
            let (status, body) = stack.get(path).await;
            assert_eq!(status, want, "{path}: {body}");
            assert!(body["error"]["code"].is_string(), "{path}: {body}");
        }
        // A merchant with a WhatsApp token talks to real customers: the simulator stays out.
        let (live_key, _) = stack.branch("5550005").await;
        let live = merchants::resolve_key(&stack.deps, &live_key)
            .await
            .expect("caller");
        let input: settings::WhatsAppSettingsInput =
            serde_json::from_value(json!({"access_token": "EAAGlivetoken0123456789abcdef"}))
                .expect("input");
        settings::update(&stack.deps, &live.merchant, input)
            .await
            .expect("token stored");
        let (status, body) = stack
            .send(json!({"phone_number_id": "5550005", "wa_id": "5215512345678", "kind": "text", "text": "hola"}))
            .await;
        assert_eq!(status, StatusCode::CONFLICT, "{body}");
        for path in [
            "/sandbox/api/messages?phone_number_id=5550005&wa_id=5215512345678",
            "/sandbox/api/branches?phone_number_id=5550005",
        ] {
            let (status, body) = stack.get(path).await;
            assert_eq!(status, StatusCode::CONFLICT, "{path}: {body}");
        }
        let (_, listed) = stack.get("/sandbox/api/branches").await;
        assert!(!listed.to_string().contains("5550005"), "{listed}");

        // Nothing was delivered to the webhook for any of them.
        let depth = stack.deps.queues.inbound.depth().await.expect("depth");
        assert_eq!(depth.visible + depth.in_flight, 0);
        stack.stop().await;
    }

    #[tokio::test]
    async fn the_outbox_is_read_per_customer_and_number_newest_last() {
        let stack = Stack::start().await;
        stack.branch("5550003").await;
        let (_, listed) = stack
            .get("/sandbox/api/branches?phone_number_id=5550003")
            .await;
        let merchant = MerchantId::try_from(
            listed["branches"][0]["merchant_id"]
                .as_str()
                .unwrap_or_default()
                .to_owned(),
        )
        .expect("merchant");
        let outbox = TenantTable::of(&stack.deps, &merchant);
        for item in [
            outbox_item(10_000, "A1", "525512345678", "5550003", "uno"),
            outbox_item(20_000, "B1", "525599999999", "5550003", "otro cliente"),
            outbox_item(30_000, "A2", "525512345678", "5550003", "dos"),
            outbox_item(40_000, "C1", "525512345678", "5550099", "otra sucursal"),
        ] {
            outbox.put(item, None).await.expect("put");
        }
        let bodies = |answer: &Value| -> Vec<String> {
            answer["messages"]
                .as_array()
                .map(|m| {
                    m.iter()
                        .filter_map(|m| m["message"]["text"]["body"].as_str())
                        .map(str::to_owned)
                        .collect()
                })
                .unwrap_or_default()
        };
        let (status, first) = stack
            .get("/sandbox/api/messages?phone_number_id=5550003&wa_id=5215512345678")
            .await;
        assert_eq!(status, StatusCode::OK, "{first}");
        assert_eq!(bodies(&first), ["uno", "dos"]);
        assert_eq!(first["messages"][1]["wamid"], "sandbox.A2");
        assert_eq!(first["messages"][1]["stored_at_ms"], 30_000);
        let cursor = first["cursor"].as_str().expect("cursor").to_owned();
        assert_eq!(
            cursor, "0000000040000#C1",
            "the cursor passes what was read"
        );

        outbox
            .put(
                outbox_item(50_000, "A3", "525512345678", "5550003", "tres"),
                None,
            )
            .await
            .expect("put");
        let (status, next) = stack
            .get(&format!(
                "/sandbox/api/messages?phone_number_id=5550003&wa_id=525512345678&after={}",
                cursor.replace('#', "%23")
            ))
            .await;
        assert_eq!(status, StatusCode::OK, "{next}");
        assert_eq!(bodies(&next), ["tres"]);
        assert_eq!(next["cursor"], "0000000050000#A3");

        // A write keyed a moment before the cursor but landing after the poll is not skipped.
        outbox
            .put(
                outbox_item(47_000, "A4", "525512345678", "5550003", "tarde"),
                None,
            )
            .await
            .expect("put");
        let (_, late) = stack
            .get("/sandbox/api/messages?phone_number_id=5550003&wa_id=525512345678&after=0000000050000%23A3")
            .await;
        assert_eq!(bodies(&late), ["tarde", "tres"], "recent ones come again");
        assert_eq!(late["cursor"], "0000000050000#A3");
        let (_, quiet) = stack
            .get("/sandbox/api/messages?phone_number_id=5550003&wa_id=525512345678&after=0000000099000%23re5f2f-r1")
            .await;
        assert_eq!(bodies(&quiet), Vec::<String>::new());
        assert_eq!(quiet["cursor"], "0000000099000#re5f2f-r1");
        stack.stop().await;
    }

    #[tokio::test]
    async fn product_cards_carry_catalog_names_and_prices() {
        let stack = Stack::start().await;
        stack.branch("5550004").await;
        let (_, listed) = stack
            .get("/sandbox/api/branches?phone_number_id=5550004")
            .await;
        let merchant = MerchantId::try_from(
            listed["branches"][0]["merchant_id"]
                .as_str()
                .unwrap_or_default()
                .to_owned(),
        )
        .expect("merchant");
        let tenant = TenantTable::of(&stack.deps, &merchant);
        let product: mostrador_core::catalog::Product = serde_json::from_value(json!({
            "sku": "PARA-500", "name": "Paracetamol 500 mg", "price": 4550, "tax": "iva0",
            "clave_prod_serv": "51142001", "clave_unidad": "XBX"
        }))
        .expect("product");
        let report = catalog::upsert_products(&tenant, vec![Ok(product)], false)
            .await
            .expect("upsert");
        assert_eq!(report.applied, 1);
        let list = json!({"messaging_product": "whatsapp", "to": "525512345678", "type": "interactive",
            "interactive": {"type": "product_list", "header": {"type": "text", "text": "Analgésicos"},
                "body": {"text": "Elige"}, "action": {"catalog_id": "c", "sections": [{"title": "Dolor",
                    "product_items": [{"product_retailer_id": "PARA-500"}, {"product_retailer_id": "NADA-1"}]}]}}});
        let item = Item::new(&Key::new("OUTBOX", "0000000001000#P1"))
            .with("id", "P1")
            .with("to", "525512345678")
            .with("phone_number_id", "5550004")
            .with("category", "service")
            .with("message", list.to_string());
        tenant.put(item, None).await.expect("put");
        let (status, answer) = stack
            .get("/sandbox/api/messages?phone_number_id=5550004&wa_id=525512345678")
            .await;
        assert_eq!(status, StatusCode::OK, "{answer}");
        let products = &answer["messages"][0]["products"];
        assert_eq!(products["PARA-500"]["name"], "Paracetamol 500 mg");
        assert_eq!(products["PARA-500"]["price"], "45.50");
        assert!(products.get("NADA-1").is_none(), "{products}");
        stack.stop().await;
    }
}
