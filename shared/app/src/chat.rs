//! order-confirm: a customer's message through the conversation state machine, and its actions
//! carried out. Replies are queued with ids derived from the wamid and orders are created with ids
//! derived from it too, so a redelivered message never sends a second reply or creates a second order.

use crate::catalog;
use crate::customers;
use crate::error::ApiError;
use crate::merchants;
use crate::messages::{Category, InboundEnvelope, OutboundEnvelope};
use crate::orders::{self, Order, OrderLine, OrderStatus, PlaceError};
use crate::settings;
use crate::tenant::{MerchantId, TenantTable};
use crate::Deps;
use mostrador_core::conversation::{
    self, Action, Faq, Input, Offer, OrderSummary, Reply, State, Texts,
};
use mostrador_store::{Item, Key, Query, Table};
use mostrador_whatsapp::client::OutgoingMessage as CloudMessage;
use mostrador_whatsapp::webhook::{self, Interactive, MessageKind};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// A merchant's chat settings: texts, questions, prices and how long a reservation holds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct ChatSettings {
    pub texts: Texts,
    pub faqs: Vec<Faq>,
    /// Whether shelf prices include IVA.
    pub includes_iva: bool,
    /// Minutes stock stays reserved for an unpaid order.
    pub reservation_minutes: u32,
}

impl Default for ChatSettings {
    fn default() -> Self {
        Self {
            texts: Texts::default(),
            faqs: Vec::new(),
            includes_iva: true,
            reservation_minutes: 30,
        }
    }
}

fn settings_key() -> Key {
    Key::new("SETTINGS", "CHAT")
}

/// The merchant's chat settings (defaults when never set).
pub async fn load_settings(table: &TenantTable) -> Result<ChatSettings, ApiError> {
    match table.get(&settings_key()).await? {
        Some(item) => serde_json::from_str(item.get_s("doc").unwrap_or("{}"))
            .map_err(|e| ApiError::Internal(e.into())),
        None => Ok(ChatSettings::default()),
    }
}

/// Stores the merchant's chat settings.
pub async fn save_settings(table: &TenantTable, settings: &ChatSettings) -> Result<(), ApiError> {
    if settings.reservation_minutes == 0 || settings.reservation_minutes > 7 * 24 * 60 {
        return Err(ApiError::Validation(vec![crate::error::FieldError::new(
            "reservation_minutes",
            "1 minute to 7 days",
        )]));
    }
    let doc = serde_json::to_string(settings).map_err(|e| ApiError::Internal(e.into()))?;
    table
        .put(Item::new(&settings_key()).with("doc", doc), None)
        .await?;
    Ok(())
}

fn state_key(wa_id: &str) -> Key {
    Key::new(format!("CUST#{wa_id}"), "CONV")
}

/// The customer's conversation state.
pub async fn load_state(table: &TenantTable, wa_id: &str) -> Result<State, ApiError> {
    Ok(table
        .get(&state_key(wa_id))
        .await?
        .and_then(|i| i.get_s("doc").and_then(|d| serde_json::from_str(d).ok()))
        .unwrap_or_default())
}

/// Stores the conversation state of one customer.
pub async fn save_state(
    table: &TenantTable,
    wa_id: &str,
    state: &State,
    now: i64,
) -> Result<(), ApiError> {
    let doc = serde_json::to_string(state).map_err(|e| ApiError::Internal(e.into()))?;
    let handed_off = matches!(state, State::HandedOff);
    table
        .put(
            Item::new(&state_key(wa_id))
                .with("doc", doc)
                .with("handed_off", handed_off)
                .with("updated_at", now),
            None,
        )
        .await?;
    // The merchant's list of conversations waiting for a human.
    let marker = Key::new("HANDOFFS", format!("CUST#{wa_id}"));
    if handed_off {
        table
            .put(
                Item::new(&marker).with("wa_id", wa_id).with("since", now),
                None,
            )
            .await?;
    } else {
        table.delete(&marker, None).await?;
    }
    Ok(())
}

/// Hands the customer's conversation to a human agent, as asking for an asesor does.
pub async fn hand_off(table: &TenantTable, wa_id: &str, now: i64) -> Result<(), ApiError> {
    save_state(table, wa_id, &State::HandedOff, now).await
}

/// What the customer sent, as the machine understands it; `None` for messages that need no answer.
pub fn input_of(raw: &str) -> Option<Input> {
    let message = webhook::parse_message(raw)?;
    Some(match message.kind {
        MessageKind::Text { body } => Input::Text(body),
        MessageKind::Interactive(Interactive::ButtonReply { id, title }) => {
            Input::ButtonReply { id, title }
        }
        MessageKind::Interactive(Interactive::ListReply { id, title, .. }) => {
            Input::ListReply { id, title }
        }
        MessageKind::Button { payload, text } => Input::ButtonReply {
            id: payload,
            title: text,
        },
        MessageKind::Order { items, .. } => Input::CatalogOrder {
            items: items
                .into_iter()
                .map(|i| (i.product_retailer_id, i.quantity))
                .collect(),
        },
        MessageKind::Image(_)
        | MessageKind::Document(_)
        | MessageKind::Audio(_)
        | MessageKind::Video(_)
        | MessageKind::Sticker(_) => Input::Media,
        // Reactions and number changes are not requests: no answer.
        MessageKind::Reaction { .. } | MessageKind::System { .. } => return None,
        _ => Input::Unsupported,
    })
}

/// Runs one inbound message through the conversation.
pub async fn converse(deps: &Deps, msg: &InboundEnvelope) -> Result<(), ApiError> {
    let Some(input) = input_of(msg.message.get()) else {
        return Ok(());
    };
    // "factura" and the invoice form's answers are handled by the invoicing flow.
    if crate::invoicing::chat_flow::handle(deps, msg, &input).await? {
        return Ok(());
    }
    run(deps, msg, input).await
}

/// The agent gave the conversation back (`msg` names the customer and a unique id for the replies).
pub async fn release(deps: &Deps, msg: &InboundEnvelope) -> Result<(), ApiError> {
    run(deps, msg, Input::ReleasedByAgent).await
}

async fn run(deps: &Deps, msg: &InboundEnvelope, input: Input) -> Result<(), ApiError> {
    let merchant = MerchantId::try_from(msg.merchant_id.clone()).map_err(ApiError::BadRequest)?;
    let table = TenantTable::new(deps.table.clone(), &merchant);
    let (Some(profile), Some(branch)) = (
        merchants::get_merchant(deps, &merchant).await?,
        merchants::get_branch(&table, &msg.branch_id).await?,
    ) else {
        // Removed since the message was routed: keep the message, answer nothing.
        tracing::warn!(merchant = %merchant, branch = %msg.branch_id, "message for a merchant or branch that no longer exists; no conversation");
        return Ok(());
    };
    let chat = load_settings(&table).await?;
    let wa = settings::load(&table).await?;
    let stock = catalog::branch_stock(&table, &branch.id).await?;
    let offers: Vec<Offer> = catalog::all_products(&table)
        .await?
        .into_iter()
        .map(|product| {
            let available = stock
                .get(&product.sku)
                .map_or(0, |s| s.available.clamp(0, i64::from(u32::MAX)) as u32);
            Offer { product, available }
        })
        .collect();
    let recent = recent_orders(&table, &msg.wa_id).await?;
    let timezone = branch
        .timezone
        .parse()
        .unwrap_or(chrono_tz::America::Mexico_City);
    let ctx = conversation::Context {
        merchant_name: &profile.name,
        branch_name: &branch.name,
        texts: &chat.texts,
        offers: &offers,
        includes_iva: chat.includes_iva,
        faqs: &chat.faqs,
        catalog_id: wa.catalog_id.as_deref(),
        customer_name: msg.profile_name.as_deref(),
        orders: &recent,
        now: deps.clock.now(),
        timezone,
    };
    let mut state = load_state(&table, &msg.wa_id).await?;
    let mut pending = vec![input];
    let mut reply_no = 0;
    // Messages that follow the step's own replies (payment instructions after the confirmation).
    let mut followups: Vec<Reply> = Vec::new();
    while let Some(input) = pending.pop() {
        let step = conversation::step(&state, &input, &ctx);
        state = step.state;
        for action in step.actions {
            match action {
                Action::Reply(reply) => {
                    reply_no += 1;
                    send_reply(
                        deps,
                        &merchant,
                        msg,
                        &format!("{}-r{reply_no}", reply_id(&msg.wamid)),
                        &reply,
                    )
                    .await?;
                }
                Action::PlaceOrder { lines, total } => {
                    let order = Order {
                        id: order_id(&merchant, &msg.wamid),
                        branch_id: branch.id.clone(),
                        wa_id: msg.wa_id.clone(),
                        phone_number_id: msg.phone_number_id.clone(),
                        status: OrderStatus::AwaitingPayment,
                        subtotal: mostrador_core::money::Centavos(
                            lines.iter().map(|l| l.amounts.base.0).sum(),
                        ),
                        iva: mostrador_core::money::Centavos(
                            lines.iter().map(|l| l.amounts.iva.0).sum(),
                        ),
                        total,
                        lines: lines
                            .into_iter()
                            .map(|l| OrderLine {
                                sku: l.sku,
                                name: l.name,
                                qty: l.qty,
                                unit: l.unit,
                                amounts: l.amounts,
                            })
                            .collect(),
                        created_at: deps.clock.now().to_rfc3339(),
                        expires_at_ms: deps.clock.now_ms()
                            + i64::from(chat.reservation_minutes) * 60_000,
                        payment_url: None,
                    };
                    // The merchant's provider, or the sandbox provider until one is configured.
                    let (provider, methods) = crate::payment_links::issuer(deps, &merchant).await?;
                    let request = crate::payment_links::request_for(
                        deps,
                        &merchant,
                        provider.as_ref(),
                        methods,
                        &order,
                        &profile.name,
                    );
                    // A provider failure does not lose the order: the stock is reserved anyway and
                    // the link follows when the provider answers (retried by a due entry).
                    let link = match provider.create(&request).await {
                        Ok(link) => Some(link),
                        Err(e) => {
                            tracing::warn!(merchant = %merchant, order = %order.id, provider = provider.name(), error = %e, "payment link creation failed; the order is placed and the link retried");
                            None
                        }
                    };
                    let order = Order {
                        payment_url: link.as_ref().and_then(|l| l.url.clone()),
                        ..order
                    };
                    match orders::place(deps, &merchant, order).await {
                        Ok(placed) => {
                            let slot = match &link {
                                Some(link) => {
                                    crate::payment_links::store_on_order(
                                        &table,
                                        &placed.id,
                                        provider.name(),
                                        link,
                                    )
                                    .await?;
                                    let (slot, instructions) =
                                        crate::payment_links::how_to_pay(link, &placed);
                                    if let Some(text) = instructions {
                                        followups.push(Reply::Text(text));
                                    }
                                    slot
                                }
                                None if placed.status == OrderStatus::AwaitingPayment
                                    && placed.payment_url.is_none() =>
                                {
                                    crate::payment_links::schedule_retry(
                                        deps, &merchant, &placed.id, 0,
                                    )
                                    .await?;
                                    crate::payment_links::LINK_PENDING.to_owned()
                                }
                                None => placed.payment_url.clone().unwrap_or_else(|| {
                                    crate::payment_links::LINK_PENDING.to_owned()
                                }),
                            };
                            pending.push(Input::OrderPlaced {
                                order_id: placed.id.clone(),
                                total: placed.total,
                                payment_url: slot,
                                expires_in_minutes: chat.reservation_minutes,
                            })
                        }
                        Err(PlaceError::Short(shortages)) => pending.push(Input::OrderRejected {
                            shortages: shortages
                                .into_iter()
                                .map(|s| conversation::Shortage {
                                    sku: s.sku,
                                    name: s.name,
                                    requested: s.requested,
                                    available: s.available.clamp(0, i64::from(u32::MAX)) as u32,
                                })
                                .collect(),
                        }),
                        Err(PlaceError::Store(e)) => return Err(e.into()),
                    }
                }
                Action::CancelDraft => {}
                Action::HandToHuman => {
                    tracing::info!(merchant = %merchant, "conversation handed to a human agent")
                }
                Action::OptOut => {
                    customers::set_opt_out(&table, &msg.wa_id, true, "keyword", deps.clock.now())
                        .await?
                }
                Action::OptIn => {
                    customers::set_opt_out(&table, &msg.wa_id, false, "keyword", deps.clock.now())
                        .await?
                }
            }
        }
    }
    for reply in std::mem::take(&mut followups) {
        reply_no += 1;
        send_reply(
            deps,
            &merchant,
            msg,
            &format!("{}-r{reply_no}", reply_id(&msg.wamid)),
            &reply,
        )
        .await?;
    }
    save_state(&table, &msg.wa_id, &state, deps.clock.now_secs()).await?;
    // A cart left in the chat is reminded after a quiet spell (rescheduled at every step).
    crate::notifications::reminders::track_cart(deps, &merchant, msg, &state).await
}

/// Outbound ids are at most 100 characters without `#`: derived from the wamid by hashing.
pub(crate) fn reply_id(wamid: &str) -> String {
    let digest = hex::encode(Sha256::digest(wamid.as_bytes()));
    format!("re{}", &digest[..32])
}

/// The order created by a confirmation message: one per wamid.
pub fn order_id(merchant: &MerchantId, wamid: &str) -> String {
    let digest = hex::encode(Sha256::digest(format!("{merchant}:{wamid}").as_bytes()));
    format!("O{}", digest[..19].to_uppercase())
}

pub(crate) async fn recent_orders(
    table: &TenantTable,
    wa_id: &str,
) -> Result<Vec<OrderSummary>, ApiError> {
    let page = table
        .query(
            Query::partition(format!("CUST#{wa_id}"))
                .prefix("ORDER#")
                .backward()
                .limit(5),
        )
        .await?;
    let mut out = Vec::new();
    for pointer in &page.items {
        let Some(id) = pointer.get_s("order_id") else {
            continue;
        };
        if let Some(order) = orders::get(table, id).await? {
            let created_at = chrono::DateTime::parse_from_rfc3339(&order.created_at)
                .map(|t| t.with_timezone(&chrono::Utc))
                .unwrap_or_default();
            out.push(OrderSummary {
                order_id: order.id,
                status: order.status.as_str().to_owned(),
                total: order.total,
                created_at,
            });
        }
    }
    Ok(out)
}

/// The Cloud API message for a reply.
pub fn cloud_message(to: &str, reply: &Reply) -> Result<CloudMessage, ApiError> {
    use serde_json::json;
    let body = match reply {
        Reply::Text(text) => {
            json!({ "type": "text", "text": { "body": text, "preview_url": text.contains("http") } })
        }
        Reply::Buttons { body, buttons } => {
            json!({ "type": "interactive", "interactive": { "type": "button", "body": { "text": body },
            "action": { "buttons": buttons.iter().map(|b| json!({ "type": "reply", "reply": { "id": b.id, "title": b.title } })).collect::<Vec<_>>() } } })
        }
        Reply::List {
            body,
            button_label,
            sections,
        } => {
            json!({ "type": "interactive", "interactive": { "type": "list", "body": { "text": body },
            "action": { "button": button_label, "sections": sections.iter().map(|s| json!({ "title": s.title,
                "rows": s.rows.iter().map(|r| if r.description.is_empty() { json!({ "id": r.id, "title": r.title }) } else { json!({ "id": r.id, "title": r.title, "description": r.description }) }).collect::<Vec<_>>() })).collect::<Vec<_>>() } } })
        }
        Reply::ProductList {
            catalog_id,
            header,
            body,
            sections,
        } => json!({ "type": "interactive", "interactive": { "type": "product_list",
            "header": { "type": "text", "text": header }, "body": { "text": body },
            "action": { "catalog_id": catalog_id, "sections": sections.iter().map(|(title, skus)| json!({ "title": title,
                "product_items": skus.iter().map(|s| json!({ "product_retailer_id": s })).collect::<Vec<_>>() })).collect::<Vec<_>>() } } }),
    };
    let mut wire = body;
    wire["messaging_product"] = json!("whatsapp");
    wire["to"] = json!(to);
    serde_json::from_value(wire).map_err(|e| {
        ApiError::Internal(anyhow::anyhow!(
            "reply does not map to a Cloud API message: {e}"
        ))
    })
}

pub(crate) async fn send_reply(
    deps: &Deps,
    merchant: &MerchantId,
    msg: &InboundEnvelope,
    id: &str,
    reply: &Reply,
) -> Result<(), ApiError> {
    let message = cloud_message(&msg.wa_id, reply)?;
    let envelope = OutboundEnvelope {
        id: id.to_owned(),
        merchant_id: merchant.to_string(),
        phone_number_id: msg.phone_number_id.clone(),
        category: Category::Service,
        message,
    };
    envelope.queue(deps).await?;
    // The conversation log the merchant API shows.
    let table = TenantTable::new(deps.table.clone(), merchant);
    let log = Item::new(&Key::new(
        format!("CUST#{}", msg.wa_id),
        format!("MSG#{:010}#{id}", deps.clock.now_secs()),
    ))
    .with("direction", "out")
    .with(
        "message",
        serde_json::to_string(&envelope.message).map_err(|e| ApiError::Internal(e.into()))?,
    );
    table.put(log, None).await?;
    Ok(())
}
