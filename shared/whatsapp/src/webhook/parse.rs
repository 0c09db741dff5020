//! Reading a delivery: the envelope strictly, then each message and status on its own from its raw
//! JSON, so one odd element never fails the batch (see the module above).

use super::wire::*;
use super::*;
use serde::de::{Deserializer, Error as _};
use serde::Deserialize;
use serde_json::value::RawValue;
use serde_json::Value;
use std::borrow::Cow;

/// Parses a verified webhook body.
///
/// Fails only when the body is not JSON or not a WhatsApp Business Account envelope; everything below
/// the envelope degrades per element (see the module docs).
pub fn parse(body: &[u8]) -> Result<Delivery, WebhookError> {
    let envelope: WireEnvelope<'_> =
        serde_json::from_slice(body).map_err(|e| match e.classify() {
            // Syntactically valid JSON in another shape (an array, `entry` not a list, …).
            serde_json::error::Category::Data => {
                // Position only: a data error's text can quote a value from the body.
                tracing::warn!(
                    line = e.line(),
                    column = e.column(),
                    "webhook body is JSON but not a WhatsApp delivery envelope"
                );
                WebhookError::NotWhatsApp
            }
            _ => WebhookError::NotJson(e.to_string()),
        })?;
    if envelope.object.as_deref() != Some(WHATSAPP_OBJECT) {
        return Err(WebhookError::NotWhatsApp);
    }

    let mut delivery = Delivery::default();
    for entry in envelope.entry.unwrap_or_default() {
        let waba_id = entry.id.unwrap_or_default();
        for change in entry.changes.unwrap_or_default() {
            let field = change.field.unwrap_or_default();
            let routed = match (field.as_str(), change.value) {
                ("messages", Some(value)) => {
                    parse_messages_change(&waba_id, value, &mut delivery.skipped)
                }
                _ => None,
            };
            match routed {
                Some(c) => delivery.changes.push(c),
                None => {
                    if field == "messages" {
                        tracing::warn!(waba_id = %waba_id, "messages change without metadata.phone_number_id kept raw");
                    }
                    let value = change.value.map_or(Value::Null, raw_to_value);
                    delivery.other_changes.push(OtherChange {
                        waba_id: waba_id.clone(),
                        field,
                        value,
                    });
                }
            }
        }
    }

    if delivery.skipped > 0 {
        tracing::warn!(
            skipped = delivery.skipped,
            "webhook updates without id/from/status skipped"
        );
    }
    let updates = delivery.update_count();
    if updates > MAX_UPDATES_PER_DELIVERY {
        tracing::warn!(
            updates,
            max = MAX_UPDATES_PER_DELIVERY,
            "webhook delivery exceeds Meta's documented batch size"
        );
    }
    Ok(delivery)
}

/// Parses one element of `value.messages` from its JSON text (e.g. a message forwarded through a queue).
///
/// `None` when the message is unusable: no non-empty string `id`, and neither `from` nor
/// `from_user_id` (a username user's BSUID, which then stands in for `from`). Any other oddity yields
/// [`MessageKind::Unknown`] holding the raw message.
pub fn parse_message(json: &str) -> Option<Message> {
    let wire: WireMessage<'_> = match serde_json::from_str(json) {
        Ok(w) => w,
        Err(_) => return parse_opaque_message(json),
    };
    let id = wire.id.and_then(non_empty_string)?;
    let from_user_id = wire.from_user_id.and_then(non_empty_string);
    let from = wire
        .from
        .and_then(non_empty_string)
        .or_else(|| from_user_id.clone())?;
    let type_name = wire.kind.and_then(non_empty_string).unwrap_or_default();
    let kind = match parse_kind(&type_name, &wire) {
        Some(kind) => kind,
        None => {
            if KNOWN_TYPES.contains(&type_name.as_str()) {
                tracing::warn!(wamid = %id, type_name = %type_name, "message of a known type with an unexpected shape kept raw");
            } else {
                tracing::info!(wamid = %id, type_name = %type_name, "message of an unknown type kept raw");
            }
            MessageKind::Unknown {
                type_name,
                raw: str_to_value(json),
            }
        }
    };
    Some(Message {
        from,
        from_user_id,
        id,
        timestamp: wire.timestamp.and_then(integer).unwrap_or(0),
        context: typed::<WireContext>(wire.context).map(WireContext::into_context),
        referral: typed::<Value>(wire.referral),
        kind,
    })
}

const KNOWN_TYPES: &[&str] = &[
    "text",
    "interactive",
    "button",
    "order",
    "image",
    "document",
    "audio",
    "video",
    "sticker",
    "location",
    "contacts",
    "reaction",
    "system",
    "unsupported",
    "unknown",
];

fn parse_messages_change(waba_id: &str, value: &RawValue, skipped: &mut usize) -> Option<Change> {
    let wire: WireValue<'_> = serde_json::from_str(value.get()).ok()?;
    let metadata = wire.metadata?;
    let mut messages = Vec::with_capacity(wire.messages.as_ref().map_or(0, Vec::len));
    for raw in wire.messages.unwrap_or_default() {
        match parse_message(raw.get()) {
            Some(m) => messages.push(m),
            None => *skipped += 1,
        }
    }
    let mut statuses = Vec::with_capacity(wire.statuses.as_ref().map_or(0, Vec::len));
    for raw in wire.statuses.unwrap_or_default() {
        match parse_status(raw.get()) {
            Some(s) => statuses.push(s),
            None => *skipped += 1,
        }
    }
    Some(Change {
        waba_id: waba_id.to_owned(),
        phone_number_id: metadata.phone_number_id,
        display_phone_number: metadata.display_phone_number.unwrap_or_default(),
        contacts: wire
            .contacts
            .unwrap_or_default()
            .into_iter()
            .filter_map(|c| typed::<WireContact>(Some(c)))
            .map(WireContact::into_contact)
            .collect(),
        messages,
        statuses,
        errors: parse_errors(wire.errors),
    })
}

/// A message whose top level is not a plain object of known field types: keep it if it has `id`/`from`.
fn parse_opaque_message(json: &str) -> Option<Message> {
    let raw = str_to_value(json);
    let text = |key: &str| {
        raw.get(key)
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
    };
    let id = text("id")?;
    let from = text("from").or_else(|| text("from_user_id"))?;
    let type_name = text("type").unwrap_or_default();
    tracing::warn!(wamid = %id, type_name = %type_name, "message with an unexpected shape kept raw");
    Some(Message {
        from,
        from_user_id: text("from_user_id"),
        id,
        timestamp: raw
            .get("timestamp")
            .and_then(|t| {
                t.as_str()
                    .and_then(|s| s.parse().ok())
                    .or_else(|| t.as_i64())
            })
            .unwrap_or(0),
        context: None,
        referral: None,
        kind: MessageKind::Unknown { type_name, raw },
    })
}

/// The typed content for `type_name`, or `None` when the type is unknown or its object is misshapen.
fn parse_kind(type_name: &str, w: &WireMessage<'_>) -> Option<MessageKind> {
    let kind = match type_name {
        "text" => MessageKind::Text {
            body: typed::<WireText>(w.text)?.body,
        },
        "interactive" => MessageKind::Interactive(parse_interactive(w.interactive)?),
        "button" => {
            let b = typed::<WireButton>(w.button)?;
            MessageKind::Button {
                payload: b.payload,
                text: b.text,
            }
        }
        "order" => {
            let o = typed::<WireOrder>(w.order)?;
            let items = o
                .product_items
                .into_iter()
                .map(|i| OrderItem {
                    product_retailer_id: i.product_retailer_id,
                    quantity: i.quantity,
                    item_price: i.item_price,
                    currency: i.currency,
                })
                .collect();
            MessageKind::Order {
                catalog_id: o.catalog_id,
                text: o.text,
                items,
            }
        }
        "image" => MessageKind::Image(typed::<WireMedia>(w.image)?.into_media()),
        "document" => MessageKind::Document(typed::<WireMedia>(w.document)?.into_media()),
        "audio" => MessageKind::Audio(typed::<WireMedia>(w.audio)?.into_media()),
        "video" => MessageKind::Video(typed::<WireMedia>(w.video)?.into_media()),
        "sticker" => MessageKind::Sticker(typed::<WireMedia>(w.sticker)?.into_media()),
        "location" => {
            let l = typed::<WireLocation>(w.location)?;
            MessageKind::Location {
                latitude: l.latitude,
                longitude: l.longitude,
                name: l.name,
                address: l.address,
                url: l.url,
            }
        }
        "contacts" => MessageKind::Contacts(typed::<Vec<Value>>(w.contacts)?),
        "reaction" => {
            let r = typed::<WireReaction>(w.reaction)?;
            MessageKind::Reaction {
                message_id: r.message_id,
                emoji: r.emoji.filter(|e| !e.is_empty()),
            }
        }
        "system" => {
            let s = typed::<WireSystem>(w.system)?;
            MessageKind::System {
                body: s.body,
                wa_id: s.wa_id.or(s.new_wa_id),
                kind: s.kind,
            }
        }
        // `unknown` is what older API versions sent for the same case.
        "unsupported" | "unknown" => MessageKind::Unsupported {
            errors: parse_errors(w.errors),
            kind: typed::<WireUnsupported>(w.unsupported).and_then(|u| u.kind),
        },
        _ => return None,
    };
    Some(kind)
}

fn parse_interactive(raw: Option<&RawValue>) -> Option<Interactive> {
    let i = typed::<WireInteractive<'_>>(raw)?;
    let reply = match i.kind.as_str() {
        "button_reply" => {
            let b = typed::<WireReply>(i.button_reply)?;
            Interactive::ButtonReply {
                id: b.id,
                title: b.title,
            }
        }
        "list_reply" => {
            let l = typed::<WireReply>(i.list_reply)?;
            Interactive::ListReply {
                id: l.id,
                title: l.title,
                description: l.description,
            }
        }
        "nfm_reply" => {
            let n = typed::<WireNfmReply>(i.nfm_reply)?;
            let response_json = serde_json::from_str(&n.response_json).ok()?;
            Interactive::NfmReply {
                name: n.name.unwrap_or_default(),
                body: n.body.unwrap_or_default(),
                response_json,
            }
        }
        _ => return None,
    };
    Some(reply)
}

fn parse_status(json: &str) -> Option<Status> {
    let w: WireStatus<'_> = serde_json::from_str(json).ok()?;
    let id = w.id.and_then(non_empty_string)?;
    let status = w.status.and_then(non_empty_string)?;
    Some(Status {
        id,
        status: StatusKind::from_wire(&status),
        timestamp: w.timestamp.and_then(integer).unwrap_or(0),
        recipient_id: w.recipient_id.and_then(non_empty_string),
        recipient_user_id: w.recipient_user_id.and_then(non_empty_string),
        biz_opaque_callback_data: w.biz_opaque_callback_data.and_then(non_empty_string),
        errors: parse_errors(w.errors),
        pricing: typed::<WirePricing>(w.pricing).map(|p| Pricing {
            billable: p.billable,
            pricing_model: p.pricing_model,
            category: p.category,
            kind: p.kind,
        }),
        conversation_id: typed::<WireConversation>(w.conversation).and_then(|c| c.id),
    })
}

/// Each element of an `errors` list that is an object; the others are dropped.
fn parse_errors(raw: Option<&RawValue>) -> Vec<ApiErrorDetail> {
    typed::<Vec<&RawValue>>(raw)
        .unwrap_or_default()
        .into_iter()
        .filter_map(|e| typed::<WireError<'_>>(Some(e)))
        .map(|e| {
            let data_details = typed::<WireErrorData>(e.error_data).and_then(|d| d.details);
            ApiErrorDetail {
                code: e.code.and_then(integer).unwrap_or(0),
                title: e.title.and_then(non_empty_string).unwrap_or_default(),
                message: e.message.and_then(non_empty_string).unwrap_or_default(),
                details: data_details.or_else(|| e.details.and_then(non_empty_string)),
            }
        })
        .collect()
}

// ---- reading raw JSON values ----

/// Deserializes `raw` (borrowing from it) as `T`; `None` if absent or of another shape.
fn typed<'a, T: Deserialize<'a>>(raw: Option<&'a RawValue>) -> Option<T> {
    serde_json::from_str(raw?.get()).ok()
}

/// A JSON string's decoded text; `None` for other JSON types and for `""`.
fn non_empty_string(raw: &RawValue) -> Option<String> {
    serde_json::from_str::<String>(raw.get())
        .ok()
        .filter(|s| !s.is_empty())
}

/// An integer sent as a JSON number or as a string of digits (Meta sends timestamps as strings).
fn integer(raw: &RawValue) -> Option<i64> {
    let text = raw.get().trim();
    if text.starts_with('"') {
        serde_json::from_str::<String>(text)
            .ok()?
            .trim()
            .parse()
            .ok()
    } else {
        text.parse().ok()
    }
}

fn raw_to_value(raw: &RawValue) -> Value {
    str_to_value(raw.get())
}

/// `raw` was validated as JSON when it was split off, so `Null` is unreachable in practice.
fn str_to_value(json: &str) -> Value {
    serde_json::from_str(json).unwrap_or(Value::Null)
}

/// The exact text of a JSON number (or of a string holding one), kept off `f64`.
pub(super) fn number_text<'de, D: Deserializer<'de>>(d: D) -> Result<Cow<'de, str>, D::Error> {
    let raw = <&'de RawValue>::deserialize(d)?;
    let text = raw.get().trim();
    if text.starts_with('"') {
        let s = serde_json::from_str::<String>(text).map_err(D::Error::custom)?;
        Ok(Cow::Owned(s.trim().to_owned()))
    } else {
        Ok(Cow::Borrowed(text))
    }
}

/// A plain decimal (`-?digits[.digits]`) as exact text: what `rust_decimal` and friends parse losslessly.
pub(super) fn decimal_text<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    let text = number_text(d)?;
    if is_plain_decimal(&text) {
        Ok(text.into_owned())
    } else {
        Err(D::Error::custom("expected a plain decimal number"))
    }
}

pub(super) fn quantity<'de, D: Deserializer<'de>>(d: D) -> Result<u32, D::Error> {
    let text = number_text(d)?;
    text.parse()
        .map_err(|_| D::Error::custom("expected a whole, non-negative quantity"))
}

pub(super) fn is_plain_decimal(s: &str) -> bool {
    let digits = s.strip_prefix('-').unwrap_or(s);
    let (int, frac) = match digits.split_once('.') {
        Some((i, f)) => (i, Some(f)),
        None => (digits, None),
    };
    let all_digits = |p: &str| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit());
    all_digits(int) && frac.is_none_or(all_digits)
}
