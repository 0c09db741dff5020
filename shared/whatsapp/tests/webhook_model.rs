//! The webhook model against deliveries shaped exactly as Meta sends them (tests/fixtures/*.json).

use mostrador_whatsapp::signature;
use mostrador_whatsapp::webhook::{
    parse, parse_message, Delivery, Interactive, Message, MessageKind, StatusKind, WebhookError,
    MAX_UPDATES_PER_DELIVERY,
};

macro_rules! fixture {
    ($name:literal) => {
        include_bytes!(concat!("fixtures/", $name, ".json")).as_slice()
    };
}

const FIXTURES: &[(&str, &[u8])] = &[
    ("text", fixture!("text")),
    ("text_utf8", fixture!("text_utf8")),
    ("text_product_inquiry", fixture!("text_product_inquiry")),
    (
        "interactive_button_reply",
        fixture!("interactive_button_reply"),
    ),
    ("interactive_list_reply", fixture!("interactive_list_reply")),
    ("interactive_nfm_reply", fixture!("interactive_nfm_reply")),
    ("button", fixture!("button")),
    ("order", fixture!("order")),
    ("image", fixture!("image")),
    ("document", fixture!("document")),
    ("audio_voice", fixture!("audio_voice")),
    ("video", fixture!("video")),
    ("sticker", fixture!("sticker")),
    ("location", fixture!("location")),
    ("contacts", fixture!("contacts")),
    ("reaction", fixture!("reaction")),
    (
        "system_user_changed_number",
        fixture!("system_user_changed_number"),
    ),
    ("unsupported", fixture!("unsupported")),
    ("status_sent", fixture!("status_sent")),
    ("status_delivered", fixture!("status_delivered")),
    ("status_read", fixture!("status_read")),
    ("status_failed", fixture!("status_failed")),
    ("mixed_batch", fixture!("mixed_batch")),
    ("future_poll", fixture!("future_poll")),
    ("malformed_known_types", fixture!("malformed_known_types")),
    ("missing_id_or_from", fixture!("missing_id_or_from")),
    ("username_only_sender", fixture!("username_only_sender")),
];

fn delivery(body: &[u8]) -> Delivery {
    parse(body).expect("fixture parses")
}

/// The only message of a one-message delivery.
fn only_message(body: &[u8]) -> Message {
    let d = delivery(body);
    assert_eq!(d.message_count(), 1, "one message expected");
    assert_eq!(d.skipped, 0);
    d.changes[0].messages[0].clone()
}

// ---- envelope ----

#[test]
fn text_with_meta_escapes_decodes_accents_emoji_slashes_and_at() {
    let d = delivery(fixture!("text"));
    assert_eq!(d.changes.len(), 1);
    let change = &d.changes[0];
    assert_eq!(change.waba_id, "102938475610293");
    assert_eq!(change.phone_number_id, "109876543210987");
    assert_eq!(change.display_phone_number, "525512345678");
    assert_eq!(change.profile_name("5215587654321"), Some("María López 🌺"));

    let m = &change.messages[0];
    // Identifiers stay exactly as sent: the 521 form is normalized elsewhere.
    assert_eq!(m.from, "5215587654321");
    assert_eq!(
        m.id,
        "wamid.HBgNNTIxNTU4NzY1NDMyMRUCABIYFjNFQjBDMDQ4RjFBMjM0NTY3ODkwQUIA"
    );
    assert_eq!(m.timestamp, 1_767_225_600);
    assert_eq!(m.context, None);
    assert_eq!(
        m.kind,
        MessageKind::Text {
            body: "Hola! ¿Tienen tortas de cochinita? 🌮 Quiero 2 para las 14:00 — mi correo es \
                   maria@correo.mx y vi el menú en https://tacos.mx/menu?x=1&y=<2>"
                .into()
        }
    );
    assert_eq!(m.kind.type_name(), "text");
}

#[test]
fn text_in_raw_utf8_parses_like_the_escaped_form() {
    let m = only_message(fixture!("text_utf8"));
    assert_eq!(
        m.kind,
        MessageKind::Text {
            body: "¿Abren el día de Reyes? 🎉 Pago en efectivo / tarjeta @ sucursal Coyoacán"
                .into()
        }
    );
    assert_eq!(m.from, "525598765432");
}

#[test]
fn product_inquiry_keeps_the_referred_product() {
    let m = only_message(fixture!("text_product_inquiry"));
    let ctx = m.context.expect("context");
    assert_eq!(ctx.from.as_deref(), Some("525512345678"));
    assert_eq!(
        ctx.id.as_deref(),
        Some("wamid.HBgNNTIxNTUxMTExMjIyMhUCABEYEjQ2QzFBRTI4OTk3MEJCNEIwQQA=")
    );
    let product = ctx.referred_product.expect("referred product");
    assert_eq!(product.catalog_id, "1183947261748392");
    assert_eq!(product.product_retailer_id, "TORTA-COCHINITA");
    assert_eq!(
        m.kind,
        MessageKind::Text {
            body: "¿La tienen sin cebolla?".into()
        }
    );
}

// ---- interactive and buttons ----

#[test]
fn button_reply_carries_the_id_the_business_set() {
    let m = only_message(fixture!("interactive_button_reply"));
    assert_eq!(
        m.kind,
        MessageKind::Interactive(Interactive::ButtonReply {
            id: "pay:order-8841".into(),
            title: "Pagar ahora 💳".into()
        })
    );
    assert!(m.context.is_some_and(|c| c.id.is_some() && !c.forwarded));
}

#[test]
fn list_reply_carries_id_title_and_description() {
    let m = only_message(fixture!("interactive_list_reply"));
    assert_eq!(
        m.kind,
        MessageKind::Interactive(Interactive::ListReply {
            id: "branch:coyoacan".into(),
            title: "Sucursal Coyoacán".into(),
            description: Some("Av. México 123 — abre 8:00 a 22:00".into()),
        })
    );
}

#[test]
fn flow_reply_parses_the_response_json_string() {
    let d = delivery(fixture!("interactive_nfm_reply"));
    let change = &d.changes[0];
    assert_eq!(
        change.contacts[0].user_id.as_deref(),
        Some("MX.1502576394655843")
    );
    let m = &change.messages[0];
    assert_eq!(m.from_user_id.as_deref(), Some("MX.1502576394655843"));
    let MessageKind::Interactive(Interactive::NfmReply {
        name,
        body,
        response_json,
    }) = &m.kind
    else {
        panic!("expected a Flow reply, got {:?}", m.kind);
    };
    assert_eq!((name.as_str(), body.as_str()), ("flow", "Sent"));
    assert_eq!(response_json["flow_token"], "order-8841");
    // Escaped twice (inside a JSON string inside JSON): decoded once by each parse.
    assert_eq!(response_json["dirección"], "Av. Juárez 12, Centro");
    assert_eq!(response_json["cantidad"], "2");
}

#[test]
fn template_quick_reply_button_carries_payload_and_text() {
    let m = only_message(fixture!("button"));
    assert_eq!(
        m.kind,
        MessageKind::Button {
            payload: "CONFIRMAR_PEDIDO_8841".into(),
            text: "Sí, confirmar".into()
        }
    );
}

// ---- order ----

#[test]
fn order_keeps_item_prices_as_exact_decimal_text() {
    let m = only_message(fixture!("order"));
    let MessageKind::Order {
        catalog_id,
        text,
        items,
    } = m.kind
    else {
        panic!("expected an order")
    };
    assert_eq!(catalog_id, "1183947261748392");
    assert_eq!(text.as_deref(), Some("Sin cebolla, por favor 🙏"));
    let lines: Vec<(&str, u32, &str, &str)> = items
        .iter()
        .map(|i| {
            (
                i.product_retailer_id.as_str(),
                i.quantity,
                i.item_price.as_str(),
                i.currency.as_str(),
            )
        })
        .collect();
    assert_eq!(
        lines,
        [
            ("TORTA-COCHINITA", 2, "89.5", "MXN"),
            ("AGUA-HORCHATA-1L", 1, "45", "MXN"),
            // Through f64 these would come back as "0.1" and "149.9".
            ("SALSA-HABANERO", 3, "0.10", "MXN"),
            ("PASTEL-3-LECHES", 1, "149.90", "MXN"),
        ]
    );
}

// ---- media, location, contacts, reaction ----

#[test]
fn image_has_id_mime_sha_caption_and_url() {
    let MessageKind::Image(media) = only_message(fixture!("image")).kind else {
        panic!("expected an image")
    };
    assert_eq!(media.id, "1029384756102938");
    assert_eq!(media.mime_type, "image/jpeg");
    assert_eq!(
        media.sha256.as_deref(),
        Some("Q2h8rA0Zq3O7m5r1d9yH3V0b6kXl0l8n0q6v3w+F/2I=")
    );
    assert_eq!(
        media.caption.as_deref(),
        Some("Así la quiero, con aguacate 🥑")
    );
    assert!(media
        .url
        .as_deref()
        .is_some_and(|u| u.starts_with("https://lookaside.fbsbx.com/")));
    assert!(!media.voice && !media.animated);
}

#[test]
fn forwarded_document_keeps_filename_and_forward_flag() {
    let m = only_message(fixture!("document"));
    let ctx = m.context.expect("context");
    assert!(ctx.forwarded && ctx.id.is_none() && ctx.from.is_none());
    let MessageKind::Document(media) = m.kind else {
        panic!("expected a document")
    };
    assert_eq!(
        media.filename.as_deref(),
        Some("Constancia de situación fiscal.pdf")
    );
    assert_eq!(media.mime_type, "application/pdf");
    assert_eq!(media.caption.as_deref(), Some("Para la factura"));
}

#[test]
fn voice_note_is_audio_with_voice_set() {
    let MessageKind::Audio(media) = only_message(fixture!("audio_voice")).kind else {
        panic!("expected audio")
    };
    assert!(media.voice);
    assert_eq!(media.mime_type, "audio/ogg; codecs=opus");
    assert_eq!(media.id, "3049586710293847");
}

#[test]
fn video_and_animated_sticker_parse_as_media() {
    let MessageKind::Video(video) = only_message(fixture!("video")).kind else {
        panic!("expected video")
    };
    assert_eq!(video.caption.as_deref(), Some("El paquete llegó abierto"));
    let MessageKind::Sticker(sticker) = only_message(fixture!("sticker")).kind else {
        panic!("expected sticker")
    };
    assert!(sticker.animated);
    assert_eq!(sticker.mime_type, "image/webp");
}

#[test]
fn location_keeps_coordinates_as_sent_and_decodes_the_place() {
    let m = only_message(fixture!("location"));
    assert_eq!(
        m.kind,
        MessageKind::Location {
            latitude: "19.43260770".into(),
            longitude: "-99.1422817".into(),
            name: Some("Mercado de San Juan".into()),
            address: Some("Ernesto Pugibet 21, Centro, 06070 Ciudad de México, CDMX".into()),
            url: Some("https://maps.google.com/?cid=1234567890123456789".into()),
        }
    );
}

#[test]
fn shared_contacts_are_kept_as_received() {
    let MessageKind::Contacts(cards) = only_message(fixture!("contacts")).kind else {
        panic!("expected contacts")
    };
    assert_eq!(cards.len(), 2);
    assert_eq!(cards[0]["name"]["formatted_name"], "Lucía Hernández");
    assert_eq!(cards[0]["phones"][0]["wa_id"], "5215533334444");
    assert_eq!(cards[1]["phones"][0]["phone"], "+52 33 1234 5678");
}

#[test]
fn reaction_and_its_removal_by_empty_or_missing_emoji() {
    let d = delivery(fixture!("reaction"));
    let kinds: Vec<&MessageKind> = d.messages().map(|(_, m)| &m.kind).collect();
    let target = "wamid.HBgNNTIxNTUxMTExMjIyMhUCABEYEkQwQzUzRTc4RjJBMUI0NTY3OAA=";
    assert_eq!(
        *kinds[0],
        MessageKind::Reaction {
            message_id: target.into(),
            emoji: Some("❤️".into())
        }
    );
    assert_eq!(
        *kinds[1],
        MessageKind::Reaction {
            message_id: target.into(),
            emoji: None
        }
    );
    assert_eq!(
        *kinds[2],
        MessageKind::Reaction {
            message_id: target.into(),
            emoji: None
        }
    );
}

// ---- system and unsupported ----

#[test]
fn user_changed_number_arrives_without_contacts() {
    let d = delivery(fixture!("system_user_changed_number"));
    assert!(d.changes[0].contacts.is_empty());
    let m = &d.changes[0].messages[0];
    assert_eq!(m.from, "5215511112222");
    assert_eq!(
        m.kind,
        MessageKind::System {
            body: "Ana cambió de 5215511112222 a 5215599990000".into(),
            wa_id: Some("5215599990000".into()),
            kind: "user_changed_number".into(),
        }
    );
}

#[test]
fn unsupported_message_carries_error_131051_and_what_was_sent() {
    let MessageKind::Unsupported { errors, kind } = only_message(fixture!("unsupported")).kind
    else {
        panic!("expected unsupported")
    };
    assert_eq!(kind.as_deref(), Some("poll_creation"));
    assert_eq!(errors.len(), 1);
    assert_eq!(errors[0].code, 131_051);
    assert_eq!(errors[0].title, "Message type unknown");
    assert_eq!(errors[0].message, "Message type unknown");
    assert_eq!(
        errors[0].details.as_deref(),
        Some("Message type is currently not supported.")
    );
}

// ---- statuses ----

#[test]
fn sent_status_carries_callback_data_pricing_and_conversation() {
    let d = delivery(fixture!("status_sent"));
    assert_eq!((d.message_count(), d.status_count()), (0, 1));
    let s = &d.changes[0].statuses[0];
    assert_eq!(
        s.id,
        "wamid.HBgNNTIxNTUxMTExMjIyMhUCABEYEkQwQzUzRTc4RjJBMUI0NTY3OAA="
    );
    assert_eq!(s.status, StatusKind::Sent);
    assert_eq!(s.timestamp, 1_767_226_700);
    assert_eq!(s.recipient_id.as_deref(), Some("5215511112222"));
    assert_eq!(
        s.biz_opaque_callback_data.as_deref(),
        Some("order:8841|step:payment_link")
    );
    assert_eq!(
        s.conversation_id.as_deref(),
        Some("c2a8e0f1b3d4e5f60718293a4b5c6d7e")
    );
    let pricing = s.pricing.as_ref().expect("pricing");
    assert_eq!(pricing.billable, Some(true));
    assert_eq!(pricing.pricing_model.as_deref(), Some("PMP"));
    assert_eq!(pricing.category.as_deref(), Some("utility"));
    assert_eq!(pricing.kind.as_deref(), Some("regular"));
    assert!(s.errors.is_empty());
}

#[test]
fn delivered_and_read_statuses_parse() {
    let delivered = &delivery(fixture!("status_delivered")).changes[0].statuses[0];
    assert_eq!(delivered.status, StatusKind::Delivered);
    assert!(delivered.pricing.is_some());
    let read = &delivery(fixture!("status_read")).changes[0].statuses[0];
    assert_eq!(read.status, StatusKind::Read);
    assert_eq!(read.pricing, None);
    assert_eq!(read.conversation_id, None);
}

#[test]
fn failed_status_carries_error_131026_with_details() {
    let d = delivery(fixture!("status_failed"));
    let s = &d.changes[0].statuses[0];
    assert_eq!(s.status, StatusKind::Failed);
    assert_eq!(s.errors.len(), 1);
    assert_eq!(s.errors[0].code, 131_026);
    assert_eq!(s.errors[0].title, "Message undeliverable");
    assert_eq!(
        s.errors[0].details.as_deref(),
        Some("Message Undeliverable.")
    );
}

#[test]
fn out_of_order_statuses_settle_on_the_highest_rank() {
    let d = delivery(fixture!("mixed_batch"));
    // read arrives before delivered in this batch; folding by rank never downgrades to delivered.
    let settled = d
        .statuses()
        .map(|(_, s)| s)
        .filter(|s| s.id == "wamid.OUT-A-1")
        .fold(None::<&StatusKind>, |best, s| match best {
            Some(b) if b.rank() >= s.status.rank() => Some(b),
            _ => Some(&s.status),
        });
    assert_eq!(settled, Some(&StatusKind::Read));
}

// ---- batches ----

#[test]
fn several_entries_and_changes_are_flattened_in_order() {
    let d = delivery(fixture!("mixed_batch"));
    assert_eq!(d.changes.len(), 3);
    assert_eq!((d.message_count(), d.status_count(), d.skipped), (3, 4, 0));
    assert_eq!(d.update_count(), 7);

    let routes: Vec<(&str, &str)> = d
        .changes
        .iter()
        .map(|c| (c.waba_id.as_str(), c.phone_number_id.as_str()))
        .collect();
    assert_eq!(
        routes,
        [
            ("102938475610293", "109876543210987"),
            ("102938475610293", "109876543210987"),
            ("203948576120394", "208765432109876")
        ]
    );

    let ids: Vec<&str> = d.messages().map(|(_, m)| m.id.as_str()).collect();
    assert_eq!(
        ids,
        ["wamid.MIXED-A-1", "wamid.MIXED-A-2", "wamid.MIXED-B-1"]
    );
    let (change, first) = d.messages().next().expect("a message");
    assert_eq!(change.profile_name(&first.from), Some("Ana"));
    assert_eq!(d.changes[0].profile_name("525598765432"), Some("José"));

    let statuses: Vec<(&str, &str)> = d
        .statuses()
        .map(|(c, s)| (c.phone_number_id.as_str(), s.status.as_str()))
        .collect();
    assert_eq!(
        statuses,
        [
            ("109876543210987", "read"),
            ("109876543210987", "delivered"),
            ("109876543210987", "played"),
            ("208765432109876", "failed")
        ]
    );

    // Other subscribed fields are kept raw, not dropped and not failed.
    assert_eq!(d.other_changes.len(), 1);
    assert_eq!(d.other_changes[0].field, "message_template_status_update");
    assert_eq!(d.other_changes[0].waba_id, "102938475610293");
    assert_eq!(
        d.other_changes[0].value["message_template_name"],
        "pedido_confirmado"
    );
}

#[test]
fn a_future_message_type_is_kept_raw_and_does_not_fail_the_batch() {
    let d = delivery(fixture!("future_poll"));
    assert_eq!((d.message_count(), d.skipped), (2, 0));
    let poll = &d.changes[0].messages[0];
    assert_eq!(
        poll.id,
        "wamid.HBgNNTIxNTUxMTExMjIyMhUCABIYFjNFQjBQT0xMMDAwMDAwMDAwMDAwMQA="
    );
    assert_eq!(poll.timestamp, 1_767_226_800);
    let MessageKind::Unknown { type_name, raw } = &poll.kind else {
        panic!("expected unknown, got {:?}", poll.kind)
    };
    assert_eq!(type_name, "poll");
    assert_eq!(poll.kind.type_name(), "poll");
    assert_eq!(raw["poll"]["options"][1]["name"], "Pipián");
    assert_eq!(raw["id"], poll.id.as_str());
    assert_eq!(
        d.changes[0].messages[1].kind,
        MessageKind::Text {
            body: "Y dos aguas de jamaica".into()
        }
    );
}

#[test]
fn known_types_with_unexpected_shapes_become_unknown_with_raw() {
    let d = delivery(fixture!("malformed_known_types"));
    assert_eq!((d.message_count(), d.skipped), (4, 0));
    let messages = &d.changes[0].messages;
    for (m, expected_type) in messages.iter().zip(["text", "interactive", "order"]) {
        let MessageKind::Unknown { type_name, raw } = &m.kind else {
            panic!("{} should be unknown: {:?}", m.id, m.kind)
        };
        assert_eq!(type_name, expected_type);
        assert_eq!(raw["id"], m.id.as_str());
    }
    // A fractional quantity is kept raw, never truncated into a wrong cart.
    let MessageKind::Unknown { raw, .. } = &messages[2].kind else {
        unreachable!()
    };
    assert_eq!(raw["order"]["product_items"][0]["quantity"], 1.5);
    // The reply context survives even when the content does not parse.
    assert!(messages[1]
        .context
        .as_ref()
        .is_some_and(|c| c.id.as_deref() == Some("wamid.OUT-X")));
    assert_eq!(
        messages[3].kind,
        MessageKind::Text {
            body: "¿Sigue en pie?".into()
        }
    );
    // Errors Meta reported for the change itself.
    assert_eq!(d.changes[0].errors.len(), 1);
    assert_eq!(d.changes[0].errors[0].code, 131_000);
    assert_eq!(
        d.changes[0].errors[0].details.as_deref(),
        Some("Unsupported webhook payload")
    );
}

#[test]
fn messages_without_id_or_from_and_statuses_without_id_are_counted_as_skipped() {
    let d = delivery(fixture!("missing_id_or_from"));
    assert_eq!(
        d.skipped, 4,
        "no id, no from, not an object, status without id"
    );
    assert_eq!((d.message_count(), d.status_count()), (1, 1));
    assert_eq!(d.changes[0].messages[0].id, "wamid.GOOD");
    assert_eq!(d.changes[0].statuses[0].id, "wamid.OUT-GOOD");
    assert_eq!(d.update_count(), 6);
}

#[test]
fn a_username_sender_without_a_number_is_known_by_their_bsuid() {
    let d = delivery(fixture!("username_only_sender"));
    assert_eq!((d.message_count(), d.skipped), (1, 0));
    let change = &d.changes[0];
    let m = &change.messages[0];
    assert_eq!(m.from, "MX.1502576394655843");
    assert_eq!(m.from_user_id.as_deref(), Some("MX.1502576394655843"));
    assert_eq!(change.profile_name(&m.from), Some("Lupita"));
    assert_eq!(
        change.contact(&m.from).and_then(|c| c.username.as_deref()),
        Some("@lupita.mx")
    );
}

/// `n` text messages in one change, escaped the way Meta escapes them.
fn batch_of_texts(n: usize) -> Vec<u8> {
    let messages: Vec<String> = (0..n)
        .map(|i| {
            format!(
                r#"{{"from":"52155{i:08}","id":"wamid.BATCH{i:06}","timestamp":"1767230000","text":{{"body":"Pedido {i}: 2 tortas \u00bfa qu\u00e9 hora? \ud83c\udf2e https:\/\/t.mx"}},"type":"text"}}"#
            )
        })
        .collect();
    format!(
        r#"{{"object":"whatsapp_business_account","entry":[{{"id":"102938475610293","changes":[{{"value":{{"messaging_product":"whatsapp","metadata":{{"display_phone_number":"525512345678","phone_number_id":"109876543210987"}},"messages":[{}]}},"field":"messages"}}]}}]}}"#,
        messages.join(",")
    )
    .into_bytes()
}

#[test]
fn a_thousand_message_delivery_parses() {
    let d = delivery(&batch_of_texts(MAX_UPDATES_PER_DELIVERY));
    assert_eq!(d.message_count(), 1_000);
    assert_eq!(d.skipped, 0);
    let last = &d.changes[0].messages[999];
    assert_eq!(last.id, "wamid.BATCH000999");
    assert_eq!(
        last.kind,
        MessageKind::Text {
            body: "Pedido 999: 2 tortas ¿a qué hora? 🌮 https://t.mx".into()
        }
    );
}

#[test]
fn more_than_a_thousand_updates_are_still_accepted() {
    // Refusing would make Meta retry the same body for days; the excess is only logged.
    assert_eq!(
        delivery(&batch_of_texts(MAX_UPDATES_PER_DELIVERY + 1)).message_count(),
        1_001
    );
}

// ---- refusals ----

#[test]
fn bodies_that_are_not_json_are_refused_as_not_json() {
    for body in [
        &b"not json"[..],
        b"",
        b"{\"object\":\"whatsapp_business_account\",\"entry\":[",
        b"\xff\xfe{}",
    ] {
        assert!(
            matches!(parse(body), Err(WebhookError::NotJson(_))),
            "{:?}",
            String::from_utf8_lossy(body)
        );
    }
    // A syntax error deep inside a message fails the body too: it cannot be trusted as a whole.
    let mut broken = fixture!("text").to_vec();
    let at = broken
        .windows(6)
        .position(|w| w == b"\"body\"")
        .expect("body key");
    broken[at + 6] = b'=';
    assert!(matches!(parse(&broken), Err(WebhookError::NotJson(_))));
}

#[test]
fn json_that_is_not_a_whatsapp_delivery_is_refused() {
    for body in [
        &br#"{"object":"page","entry":[]}"#[..],
        br#"{"entry":[]}"#,
        br#"[{"object":"whatsapp_business_account"}]"#,
        br#"{"object":"whatsapp_business_account","entry":{"id":"1"}}"#,
        br#"{"object":"whatsapp_business_account","entry":[{"id":"1","changes":"none"}]}"#,
        br#"{"object":42}"#,
    ] {
        assert_eq!(
            parse(body),
            Err(WebhookError::NotWhatsApp),
            "{}",
            String::from_utf8_lossy(body)
        );
    }
}

#[test]
fn an_empty_delivery_is_valid() {
    let d = parse(br#"{"object":"whatsapp_business_account","entry":[]}"#).expect("parses");
    assert_eq!(
        (d.message_count(), d.status_count(), d.update_count()),
        (0, 0, 0)
    );
}

#[test]
fn a_messages_change_without_metadata_is_kept_raw() {
    let body = br#"{"object":"whatsapp_business_account","entry":[{"id":"1","changes":[{"field":"messages","value":{"messages":[{"from":"521","id":"wamid.X","type":"text","text":{"body":"hola"}}]}}]}]}"#;
    let d = parse(body).expect("parses");
    assert!(d.changes.is_empty());
    assert_eq!(d.other_changes.len(), 1);
    assert_eq!(d.other_changes[0].field, "messages");
    assert_eq!(d.other_changes[0].value["messages"][0]["id"], "wamid.X");
}

// ---- single messages ----

#[test]
fn a_single_message_parses_from_its_own_json() {
    let m = parse_message(r#"{"from":"5215511112222","id":"wamid.Q","timestamp":"1767230000","type":"text","text":{"body":"caf\u00e9"}}"#)
        .expect("usable");
    assert_eq!(
        m.kind,
        MessageKind::Text {
            body: "café".into()
        }
    );
    assert_eq!(
        parse_message(r#"{"from":"5215511112222","id":"","type":"text","text":{"body":"x"}}"#),
        None
    );
    // A timestamp Meta did not send (or sent unreadable) reads as 0 rather than dropping the message.
    let m = parse_message(
        r#"{"from":"521","id":"wamid.T","timestamp":"soon","type":"text","text":{"body":"x"}}"#,
    )
    .expect("usable");
    assert_eq!(m.timestamp, 0);
}

#[test]
fn a_message_with_duplicate_keys_is_kept_raw_rather_than_dropped() {
    let m = parse_message(
        r#"{"from":"521","id":"wamid.D","type":"text","text":{"body":"a"},"text":{"body":"b"}}"#,
    )
    .expect("usable");
    assert!(matches!(m.kind, MessageKind::Unknown { ref type_name, .. } if type_name == "text"));
}

// ---- signature over the raw bytes ----

#[test]
fn every_fixture_verifies_over_its_raw_bytes_and_parses() {
    let secret = b"app-secret-de-prueba";
    for (name, body) in FIXTURES {
        let header = signature::sign(secret, body);
        assert_eq!(
            signature::verify(secret, body, Some(&header)),
            Ok(()),
            "{name}"
        );
        assert!(parse(body).is_ok(), "{name}");
    }
}

#[test]
fn reserialized_escaped_body_fails_the_signature_but_parses_the_same() {
    let secret = b"app-secret-de-prueba";
    let raw = fixture!("text");
    let header = signature::sign(secret, raw);
    let value: serde_json::Value = serde_json::from_slice(raw).expect("json");
    let reserialized = serde_json::to_vec(&value).expect("json");
    // Re-serializing unescapes \u00e1, \/ and the surrogate pairs: different bytes, different HMAC.
    assert_ne!(reserialized, raw);
    assert_eq!(
        signature::verify(secret, &reserialized, Some(&header)),
        Err(signature::SignatureError::Mismatch)
    );
    assert_eq!(parse(&reserialized), parse(raw));
}
