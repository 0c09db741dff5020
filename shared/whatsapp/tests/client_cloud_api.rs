//! The Cloud API client against wiremock standing in for the Graph API: exact request bodies as
//! Meta documents them, paths, bearer auth, validation before sending, error dispositions, media.

use std::time::Duration;

use bytes::Bytes;
use mostrador_whatsapp::client::{
    codes, BodyParameter, CloudApi, Disposition, Document, Image, ListMessage, ListRow,
    ListSection, MediaError, MediaSource, OutgoingMessage, ProductListMessage, ProductMessage,
    ProductSection, ReplyButton, ReplyButtons, SendError, Template, TemplateButton, TemplateHeader,
    Text, ValidationError,
};
use serde_json::{json, Value};
use wiremock::matchers::{header, method, path};
use wiremock::{Mock, MockServer, Request, ResponseTemplate};

const VERSION: &str = "v25.0";
const PHONE_NUMBER_ID: &str = "106540352242922";
const TOKEN: &str = "EAAGm0PX4ZCpsBAtestTOKEN0123456789";
const CUSTOMER: &str = "5215512345678";

fn messages_path() -> String {
    format!("/{VERSION}/{PHONE_NUMBER_ID}/messages")
}

fn api(server: &MockServer) -> CloudApi {
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .expect("http client");
    CloudApi::new(http, server.uri(), VERSION.to_owned())
}

/// Meta's success answer.
fn accepted(wamid: &str) -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_json(json!({
        "messaging_product": "whatsapp",
        "contacts": [{ "input": CUSTOMER, "wa_id": CUSTOMER }],
        "messages": [{ "id": wamid }]
    }))
}

fn only_request(requests: &[Request]) -> &Request {
    assert_eq!(
        requests.len(),
        1,
        "expected exactly one request, got {}",
        requests.len()
    );
    &requests[0]
}

/// Sends `message` to a fake Graph API and returns the JSON body it received, after checking the
/// path, the bearer token, the content type, and that the JSON reads back into the same message.
async fn sent_body(message: &OutgoingMessage) -> Value {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(messages_path()))
        .and(header("authorization", format!("Bearer {TOKEN}").as_str()))
        .respond_with(accepted("wamid.HBgNNTIxNTUxMjM0NTY3OBUCABEYEjQ2"))
        .expect(1)
        .mount(&server)
        .await;

    let answer = api(&server)
        .send(PHONE_NUMBER_ID, TOKEN, message)
        .await
        .expect("message accepted");
    assert_eq!(answer.wamid, "wamid.HBgNNTIxNTUxMjM0NTY3OBUCABEYEjQ2");
    assert_eq!(answer.wa_id.as_deref(), Some(CUSTOMER));

    let requests = server
        .received_requests()
        .await
        .expect("request recording is on");
    let request = only_request(&requests);
    assert_eq!(request.url.path(), messages_path());
    let content_type = request
        .headers
        .get("content-type")
        .and_then(|v| v.to_str().ok());
    assert_eq!(content_type, Some("application/json"));
    let body: Value = serde_json::from_slice(&request.body).expect("JSON body");

    let read_back: OutgoingMessage = serde_json::from_value(body.clone()).expect("body reads back");
    assert_eq!(&read_back, message, "the wire JSON must round-trip");
    body
}

async fn assert_nothing_sent(server: &MockServer) {
    let requests = server
        .received_requests()
        .await
        .expect("request recording is on");
    assert!(
        requests.is_empty(),
        "no request may be made, got {}",
        requests.len()
    );
}

// ---------------------------------------------------------------- sending

#[tokio::test]
async fn text_message_is_posted_with_bearer_token_in_metas_shape() {
    let message = OutgoingMessage::new(
        CUSTOMER,
        Text {
            body: "Tu pedido va en camino: https://mostrador.mx/l/abc".into(),
            preview_url: true,
        },
    );
    let body = sent_body(&message).await;
    assert_eq!(
        body,
        json!({
            "messaging_product": "whatsapp",
            "recipient_type": "individual",
            "to": CUSTOMER,
            "type": "text",
            "text": { "preview_url": true, "body": "Tu pedido va en camino: https://mostrador.mx/l/abc" }
        })
    );
}

#[tokio::test]
async fn a_customer_known_only_by_username_is_addressed_by_bsuid_in_recipient() {
    let message = OutgoingMessage::text("MX.1502576394655843", "¡Hola! Sí tenemos.");
    let body = sent_body(&message).await;
    assert_eq!(
        body,
        json!({
            "messaging_product": "whatsapp",
            "recipient_type": "individual",
            "recipient": "MX.1502576394655843",
            "type": "text",
            "text": { "preview_url": false, "body": "¡Hola! Sí tenemos." }
        })
    );
    assert!(
        body.get("to").is_none(),
        "to would take precedence over recipient"
    );
}

#[tokio::test]
async fn reply_context_and_callback_data_ride_on_any_message() {
    let message = OutgoingMessage::text(CUSTOMER, "¡Claro! Te lo aparto.")
        .reply_to("wamid.HBgNNTIxNTUxMjM0NTY3OBUCABIYFjNFQjA")
        .callback_data("out_01JH8ZK3Q5");
    let body = sent_body(&message).await;
    assert_eq!(
        body,
        json!({
            "messaging_product": "whatsapp",
            "recipient_type": "individual",
            "to": CUSTOMER,
            "type": "text",
            "context": { "message_id": "wamid.HBgNNTIxNTUxMjM0NTY3OBUCABIYFjNFQjA" },
            "biz_opaque_callback_data": "out_01JH8ZK3Q5",
            "text": { "preview_url": false, "body": "¡Claro! Te lo aparto." }
        })
    );
}

#[tokio::test]
async fn template_carries_header_body_quick_reply_and_url_parameters() {
    let message = OutgoingMessage::new(
        CUSTOMER,
        Template {
            name: "pedido_confirmado".into(),
            language: "es_MX".into(),
            header: Some(TemplateHeader::Document {
                media: MediaSource::Link("https://files.mostrador.mx/f/A-1024.pdf".into()),
                filename: Some("Pedido A-1024.pdf".into()),
            }),
            body: vec![
                BodyParameter::positional("Ana"),
                BodyParameter::positional("A-1024"),
                BodyParameter::positional("$350.00"),
            ],
            buttons: vec![
                TemplateButton::QuickReply {
                    index: 0,
                    payload: "cancel:A-1024".into(),
                },
                TemplateButton::Url {
                    index: 1,
                    text: "A-1024".into(),
                },
            ],
        },
    )
    .callback_data("out_77");
    let body = sent_body(&message).await;
    assert_eq!(
        body,
        json!({
            "messaging_product": "whatsapp",
            "recipient_type": "individual",
            "to": CUSTOMER,
            "type": "template",
            "biz_opaque_callback_data": "out_77",
            "template": {
                "name": "pedido_confirmado",
                "language": { "code": "es_MX" },
                "components": [
                    {
                        "type": "header",
                        "parameters": [{
                            "type": "document",
                            "document": { "link": "https://files.mostrador.mx/f/A-1024.pdf", "filename": "Pedido A-1024.pdf" }
                        }]
                    },
                    {
                        "type": "body",
                        "parameters": [
                            { "type": "text", "text": "Ana" },
                            { "type": "text", "text": "A-1024" },
                            { "type": "text", "text": "$350.00" }
                        ]
                    },
                    {
                        "type": "button",
                        "sub_type": "quick_reply",
                        "index": "0",
                        "parameters": [{ "type": "payload", "payload": "cancel:A-1024" }]
                    },
                    {
                        "type": "button",
                        "sub_type": "url",
                        "index": "1",
                        "parameters": [{ "type": "text", "text": "A-1024" }]
                    }
                ]
            }
        })
    );
}

#[tokio::test]
async fn template_with_image_header_and_named_parameters() {
    let message = OutgoingMessage::new(
        CUSTOMER,
        Template {
            name: "promo_semana".into(),
            language: "es_MX".into(),
            header: Some(TemplateHeader::Image {
                media: MediaSource::Id("1037543291543636".into()),
            }),
            body: vec![BodyParameter::named("nombre", "Ana")],
            buttons: vec![],
        },
    );
    let body = sent_body(&message).await;
    assert_eq!(
        body["template"],
        json!({
            "name": "promo_semana",
            "language": { "code": "es_MX" },
            "components": [
                { "type": "header", "parameters": [{ "type": "image", "image": { "id": "1037543291543636" } }] },
                { "type": "body", "parameters": [{ "type": "text", "parameter_name": "nombre", "text": "Ana" }] }
            ]
        })
    );
}

#[tokio::test]
async fn interactive_reply_buttons_in_metas_shape() {
    let message = OutgoingMessage::new(
        CUSTOMER,
        ReplyButtons {
            header: Some("Pedido A-1024".into()),
            body: "2 × Paracetamol 500 mg\nTotal: $96.00\n¿Lo confirmamos?".into(),
            footer: Some("Farmacia San Juan".into()),
            buttons: vec![
                ReplyButton {
                    id: "confirm:A-1024".into(),
                    title: "Confirmar".into(),
                },
                ReplyButton {
                    id: "edit:A-1024".into(),
                    title: "Cambiar".into(),
                },
                ReplyButton {
                    id: "cancel:A-1024".into(),
                    title: "Cancelar".into(),
                },
            ],
        },
    );
    let body = sent_body(&message).await;
    assert_eq!(
        body,
        json!({
            "messaging_product": "whatsapp",
            "recipient_type": "individual",
            "to": CUSTOMER,
            "type": "interactive",
            "interactive": {
                "type": "button",
                "header": { "type": "text", "text": "Pedido A-1024" },
                "body": { "text": "2 × Paracetamol 500 mg\nTotal: $96.00\n¿Lo confirmamos?" },
                "footer": { "text": "Farmacia San Juan" },
                "action": {
                    "buttons": [
                        { "type": "reply", "reply": { "id": "confirm:A-1024", "title": "Confirmar" } },
                        { "type": "reply", "reply": { "id": "edit:A-1024", "title": "Cambiar" } },
                        { "type": "reply", "reply": { "id": "cancel:A-1024", "title": "Cancelar" } }
                    ]
                }
            }
        })
    );
}

#[tokio::test]
async fn interactive_list_in_metas_shape() {
    let message = OutgoingMessage::new(
        CUSTOMER,
        ListMessage {
            header: None,
            body: "¿En qué sucursal recoges?".into(),
            footer: None,
            button: "Ver sucursales".into(),
            sections: vec![
                ListSection {
                    title: Some("CDMX".into()),
                    rows: vec![
                        ListRow {
                            id: "branch:roma".into(),
                            title: "Roma Norte".into(),
                            description: Some("Orizaba 101, 9:00–21:00".into()),
                        },
                        ListRow {
                            id: "branch:coyoacan".into(),
                            title: "Coyoacán".into(),
                            description: None,
                        },
                    ],
                },
                ListSection {
                    title: Some("Edomex".into()),
                    rows: vec![ListRow {
                        id: "branch:satelite".into(),
                        title: "Satélite".into(),
                        description: None,
                    }],
                },
            ],
        },
    );
    let body = sent_body(&message).await;
    assert_eq!(
        body["interactive"],
        json!({
            "type": "list",
            "body": { "text": "¿En qué sucursal recoges?" },
            "action": {
                "button": "Ver sucursales",
                "sections": [
                    {
                        "title": "CDMX",
                        "rows": [
                            { "id": "branch:roma", "title": "Roma Norte", "description": "Orizaba 101, 9:00–21:00" },
                            { "id": "branch:coyoacan", "title": "Coyoacán" }
                        ]
                    },
                    { "title": "Edomex", "rows": [{ "id": "branch:satelite", "title": "Satélite" }] }
                ]
            }
        })
    );
    assert_eq!(body["type"], "interactive");
}

#[tokio::test]
async fn single_product_in_metas_shape() {
    let message = OutgoingMessage::new(
        CUSTOMER,
        ProductMessage {
            body: Some("Te recomendamos:".into()),
            footer: None,
            catalog_id: "367025965434465".into(),
            product_retailer_id: "SKU-PARA-500".into(),
        },
    );
    let body = sent_body(&message).await;
    assert_eq!(
        body["interactive"],
        json!({
            "type": "product",
            "body": { "text": "Te recomendamos:" },
            "action": { "catalog_id": "367025965434465", "product_retailer_id": "SKU-PARA-500" }
        })
    );
}

#[tokio::test]
async fn product_list_in_metas_shape() {
    let message = OutgoingMessage::new(
        CUSTOMER,
        ProductListMessage {
            header: "Analgésicos".into(),
            body: "Estos tenemos en existencia".into(),
            footer: Some("Precios con IVA".into()),
            catalog_id: "367025965434465".into(),
            sections: vec![
                ProductSection {
                    title: "Tabletas".into(),
                    product_retailer_ids: vec!["SKU-PARA-500".into(), "SKU-IBU-400".into()],
                },
                ProductSection {
                    title: "Jarabes".into(),
                    product_retailer_ids: vec!["SKU-PARA-JBE".into()],
                },
            ],
        },
    );
    let body = sent_body(&message).await;
    assert_eq!(
        body["interactive"],
        json!({
            "type": "product_list",
            "header": { "type": "text", "text": "Analgésicos" },
            "body": { "text": "Estos tenemos en existencia" },
            "footer": { "text": "Precios con IVA" },
            "action": {
                "catalog_id": "367025965434465",
                "sections": [
                    {
                        "title": "Tabletas",
                        "product_items": [
                            { "product_retailer_id": "SKU-PARA-500" },
                            { "product_retailer_id": "SKU-IBU-400" }
                        ]
                    },
                    { "title": "Jarabes", "product_items": [{ "product_retailer_id": "SKU-PARA-JBE" }] }
                ]
            }
        })
    );
}

#[tokio::test]
async fn document_by_link_in_metas_shape() {
    let message = OutgoingMessage::new(
        CUSTOMER,
        Document {
            media: MediaSource::Link("https://files.mostrador.mx/cfdi/ABC123.pdf".into()),
            caption: Some("Tu factura".into()),
            filename: Some("Factura ABC123.pdf".into()),
        },
    );
    let body = sent_body(&message).await;
    assert_eq!(
        body,
        json!({
            "messaging_product": "whatsapp",
            "recipient_type": "individual",
            "to": CUSTOMER,
            "type": "document",
            "document": {
                "link": "https://files.mostrador.mx/cfdi/ABC123.pdf",
                "caption": "Tu factura",
                "filename": "Factura ABC123.pdf"
            }
        })
    );
}

#[tokio::test]
async fn image_by_link_in_metas_shape() {
    let message = OutgoingMessage::new(
        CUSTOMER,
        Image {
            media: MediaSource::Link("https://files.mostrador.mx/p/sku.jpg".into()),
            caption: Some("Así luce".into()),
        },
    );
    let body = sent_body(&message).await;
    assert_eq!(body["type"], "image");
    assert_eq!(
        body["image"],
        json!({ "link": "https://files.mostrador.mx/p/sku.jpg", "caption": "Así luce" })
    );
}

#[tokio::test]
async fn uploaded_document_is_sent_by_its_media_id() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(format!("/{VERSION}/{PHONE_NUMBER_ID}/media")))
        .and(header("authorization", format!("Bearer {TOKEN}").as_str()))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({ "id": "1037543291543636" })))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path(messages_path()))
        .and(header("authorization", format!("Bearer {TOKEN}").as_str()))
        .respond_with(accepted("wamid.DOC"))
        .expect(1)
        .mount(&server)
        .await;
    let api = api(&server);
    let pdf = Bytes::from_static(b"%PDF-1.7\n1 0 obj <<>> endobj\n%%EOF\n");

    let media_id = api
        .upload_media(
            PHONE_NUMBER_ID,
            TOKEN,
            pdf.clone(),
            "application/pdf",
            "Factura ABC123.pdf",
        )
        .await
        .expect("upload accepted");
    assert_eq!(media_id, "1037543291543636");

    let message = OutgoingMessage::new(
        CUSTOMER,
        Document {
            media: MediaSource::Id(media_id),
            caption: None,
            filename: Some("Factura ABC123.pdf".into()),
        },
    );
    let answer = api
        .send(PHONE_NUMBER_ID, TOKEN, &message)
        .await
        .expect("message accepted");
    assert_eq!(answer.wamid, "wamid.DOC");

    let requests = server
        .received_requests()
        .await
        .expect("request recording is on");
    assert_eq!(requests.len(), 2);
    let upload = &requests[0];
    let content_type = upload
        .headers
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    assert!(
        content_type.starts_with("multipart/form-data; boundary="),
        "{content_type}"
    );
    let form = String::from_utf8_lossy(&upload.body);
    assert!(
        form.contains("name=\"messaging_product\"\r\n\r\nwhatsapp\r\n"),
        "{form}"
    );
    assert!(
        form.contains("name=\"type\"\r\n\r\napplication/pdf\r\n"),
        "{form}"
    );
    assert!(
        form.contains(
            "name=\"file\"; filename=\"Factura ABC123.pdf\"\r\nContent-Type: application/pdf"
        ),
        "{form}"
    );
    assert!(
        upload.body.windows(pdf.len()).any(|w| w == pdf.as_ref()),
        "the file bytes are in the form"
    );

    let sent: Value = serde_json::from_slice(&requests[1].body).expect("JSON body");
    assert_eq!(
        sent["document"],
        json!({ "id": "1037543291543636", "filename": "Factura ABC123.pdf" })
    );
}

#[tokio::test]
async fn mark_as_read_posts_the_read_status() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(messages_path()))
        .and(header("authorization", format!("Bearer {TOKEN}").as_str()))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({ "success": true })))
        .expect(1)
        .mount(&server)
        .await;

    api(&server)
        .mark_read(
            PHONE_NUMBER_ID,
            TOKEN,
            "wamid.HBgNNTIxNTUxMjM0NTY3OBUCABIYFjNFQjA",
        )
        .await
        .expect("marked as read");

    let requests = server
        .received_requests()
        .await
        .expect("request recording is on");
    let body: Value = serde_json::from_slice(&only_request(&requests).body).expect("JSON body");
    assert_eq!(
        body,
        json!({
            "messaging_product": "whatsapp",
            "status": "read",
            "message_id": "wamid.HBgNNTIxNTUxMjM0NTY3OBUCABIYFjNFQjA"
        })
    );
}

// ---------------------------------------------------------------- validation before sending

fn buttons(titles: &[&str]) -> ReplyButtons {
    ReplyButtons {
        header: None,
        body: "¿Qué deseas hacer?".into(),
        footer: None,
        buttons: titles
            .iter()
            .enumerate()
            .map(|(i, t)| ReplyButton {
                id: format!("b{i}"),
                title: (*t).to_owned(),
            })
            .collect(),
    }
}

fn list_with_rows(rows: usize) -> ListMessage {
    ListMessage {
        header: None,
        body: "Menú".into(),
        footer: None,
        button: "Ver menú".into(),
        sections: vec![
            ListSection {
                title: Some("Tacos".into()),
                rows: (0..rows / 2)
                    .map(|i| ListRow {
                        id: format!("t{i}"),
                        title: format!("Taco {i}"),
                        description: None,
                    })
                    .collect(),
            },
            ListSection {
                title: Some("Bebidas".into()),
                rows: (rows / 2..rows)
                    .map(|i| ListRow {
                        id: format!("d{i}"),
                        title: format!("Bebida {i}"),
                        description: None,
                    })
                    .collect(),
            },
        ],
    }
}

/// Sends `message` to a server that would accept anything, and returns the refusal.
async fn refused(message: OutgoingMessage) -> ValidationError {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(accepted("wamid.NEVER"))
        .mount(&server)
        .await;
    let err = api(&server)
        .send(PHONE_NUMBER_ID, TOKEN, &message)
        .await
        .expect_err("must be refused");
    assert_nothing_sent(&server).await;
    assert_eq!(err.disposition(), Disposition::Permanent);
    match err {
        SendError::Invalid(e) => e,
        other => panic!("expected a validation error, got {other:?}"),
    }
}

#[tokio::test]
async fn four_reply_buttons_are_refused_without_calling_meta() {
    let err = refused(OutgoingMessage::new(
        CUSTOMER,
        buttons(&["Sí", "No", "Tal vez", "Luego"]),
    ))
    .await;
    assert_eq!(
        err,
        ValidationError::TooMany {
            field: "interactive.action.buttons",
            max: 3,
            actual: 4
        }
    );
}

#[tokio::test]
async fn a_button_title_over_twenty_characters_is_refused_without_calling_meta() {
    let err = refused(OutgoingMessage::new(
        CUSTOMER,
        buttons(&["Confirmar mi pedido ya"]),
    ))
    .await;
    assert_eq!(
        err,
        ValidationError::TooLong {
            field: "interactive.action.buttons.reply.title",
            max: 20,
            actual: 22
        }
    );
}

#[tokio::test]
async fn eleven_list_rows_are_refused_without_calling_meta() {
    let err = refused(OutgoingMessage::new(CUSTOMER, list_with_rows(11))).await;
    assert_eq!(
        err,
        ValidationError::TooMany {
            field: "interactive.action.sections.rows",
            max: 10,
            actual: 11
        }
    );
}

#[tokio::test]
async fn list_row_limits_are_enforced() {
    let mut list = list_with_rows(2);
    list.sections[0].rows[0].title = "Taco de suadero con todo y más".into();
    let err = refused(OutgoingMessage::new(CUSTOMER, list)).await;
    assert!(matches!(
        err,
        ValidationError::TooLong {
            field: "interactive.action.sections.rows.title",
            max: 24,
            ..
        }
    ));

    let mut list = list_with_rows(2);
    list.sections[1].rows[0].description = Some("x".repeat(73));
    let err = refused(OutgoingMessage::new(CUSTOMER, list)).await;
    assert!(matches!(
        err,
        ValidationError::TooLong {
            max: 72,
            actual: 73,
            ..
        }
    ));

    let mut list = list_with_rows(2);
    list.button = "Ver el menú completo hoy".into();
    let err = refused(OutgoingMessage::new(CUSTOMER, list)).await;
    assert!(matches!(
        err,
        ValidationError::TooLong {
            field: "interactive.action.button",
            max: 20,
            ..
        }
    ));
}

#[tokio::test]
async fn product_list_limits_are_enforced() {
    let section = |n: usize| ProductSection {
        title: "Tabletas".into(),
        product_retailer_ids: (0..n).map(|i| format!("SKU-{i}")).collect(),
    };
    let product_list = |sections: Vec<ProductSection>| ProductListMessage {
        header: "Analgésicos".into(),
        body: "En existencia".into(),
        footer: None,
        catalog_id: "367025965434465".into(),
        sections,
    };

    let err = refused(OutgoingMessage::new(
        CUSTOMER,
        product_list(vec![section(16), section(15)]),
    ))
    .await;
    assert_eq!(
        err,
        ValidationError::TooMany {
            field: "interactive.action.sections.product_items",
            max: 30,
            actual: 31
        }
    );

    let err = refused(OutgoingMessage::new(
        CUSTOMER,
        product_list((0..11).map(|_| section(1)).collect()),
    ))
    .await;
    assert_eq!(
        err,
        ValidationError::TooMany {
            field: "interactive.action.sections",
            max: 10,
            actual: 11
        }
    );

    let mut no_header = product_list(vec![section(1)]);
    no_header.header = String::new();
    let err = refused(OutgoingMessage::new(CUSTOMER, no_header)).await;
    assert_eq!(
        err,
        ValidationError::Missing {
            field: "interactive.header.text"
        }
    );
}

#[tokio::test]
async fn a_phone_number_id_that_could_change_the_path_is_refused() {
    let server = MockServer::start().await;
    let err = api(&server)
        .send("../me", TOKEN, &OutgoingMessage::text(CUSTOMER, "hola"))
        .await
        .expect_err("must be refused");
    assert!(matches!(
        err,
        SendError::Invalid(ValidationError::Malformed {
            field: "phone_number_id"
        })
    ));
    assert_nothing_sent(&server).await;
}

// ---------------------------------------------------------------- error dispositions

/// Meta's error envelope as the Graph API returns it.
fn graph_error(code: i64, message: &str, details: Option<&str>) -> Value {
    let mut error = json!({
        "message": message,
        "type": "OAuthException",
        "code": code,
        "fbtrace_id": "AbCdEfGh123_xyz"
    });
    if let Some(details) = details {
        error["error_data"] = json!({ "messaging_product": "whatsapp", "details": details });
    }
    json!({ "error": error })
}

async fn send_failing_with(response: ResponseTemplate) -> SendError {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(messages_path()))
        .respond_with(response)
        .expect(1)
        .mount(&server)
        .await;
    api(&server)
        .send(
            PHONE_NUMBER_ID,
            TOKEN,
            &OutgoingMessage::text(CUSTOMER, "hola"),
        )
        .await
        .expect_err("Meta refused it")
}

#[tokio::test]
async fn each_error_code_maps_to_its_disposition() {
    let retry = Disposition::Retry { after: None };
    let cases: Vec<(u16, i64, &str, Option<&str>, Disposition)> = vec![
        (400, 130429, "(#130429) Rate limit hit", Some("Cloud API message throughput has been reached."), retry),
        (
            400,
            131056,
            "(#131056) (Business Account, Consumer Account) pair rate limit hit",
            Some("Message failed to send because there were too many messages sent from this phone number to the same phone number in a short period of time."),
            retry,
        ),
        (400, 131057, "(#131057) Account in maintenance mode", Some("Business Account is in maintenance mode"), retry),
        (500, 131000, "(#131000) Something went wrong", Some("Message failed to send due to an unknown error."), retry),
        (503, 2, "(#2) Service temporarily unavailable", None, retry),
        (
            400,
            131047,
            "(#131047) Re-engagement message",
            Some("Message failed to send because more than 24 hours have passed since the customer last replied to this number."),
            Disposition::OutsideWindow,
        ),
        (400, 131026, "(#131026) Message Undeliverable", Some("Message Undeliverable."), Disposition::Permanent),
        (
            400,
            132000,
            "(#132000) Number of parameters does not match the expected number of params",
            Some("body: number of localizable_params (2) does not match the expected number of params (3)"),
            Disposition::Permanent,
        ),
        (
            404,
            132001,
            "(#132001) Template name does not exist in the translation",
            Some("template name (pedido_confirmado) does not exist in es_MX"),
            Disposition::Permanent,
        ),
        (400, 132015, "(#132015) Template is Paused", None, Disposition::Permanent),
        (400, 132016, "(#132016) Template is Disabled", None, Disposition::Permanent),
        (400, 131048, "(#131048) Spam rate limit hit", None, Disposition::Permanent),
        (
            400,
            131049,
            "(#131049) This message was not delivered to maintain healthy ecosystem engagement.",
            None,
            Disposition::Permanent,
        ),
        (400, 131051, "(#131051) Message type unknown", None, Disposition::Permanent),
        (400, 100, "(#100) Invalid parameter", Some("Parameter 'to' is invalid"), Disposition::Permanent),
    ];
    for (status, code, message, details, expected) in cases {
        let err = send_failing_with(
            ResponseTemplate::new(status).set_body_json(graph_error(code, message, details)),
        )
        .await;
        assert_eq!(err.disposition(), expected, "code {code}");
        let api_error = err
            .api_error()
            .unwrap_or_else(|| panic!("code {code}: expected Meta's error, got {err:?}"));
        assert_eq!(api_error.status, status);
        assert_eq!(api_error.code, code);
        assert_eq!(api_error.message, message);
        assert_eq!(api_error.details.as_deref(), details);
        assert_eq!(api_error.kind.as_deref(), Some("OAuthException"));
        assert_eq!(api_error.fbtrace_id.as_deref(), Some("AbCdEfGh123_xyz"));
    }
}

#[tokio::test]
async fn server_errors_without_an_error_object_are_retried() {
    for status in [500, 502, 503, 504] {
        let err = send_failing_with(
            ResponseTemplate::new(status).set_body_string("<html>Bad gateway</html>"),
        )
        .await;
        assert!(
            matches!(err, SendError::Status { status: s, .. } if s == status),
            "{err:?}"
        );
        assert_eq!(
            err.disposition(),
            Disposition::Retry { after: None },
            "HTTP {status}"
        );
    }
}

#[tokio::test]
async fn retry_after_header_is_respected() {
    let err = send_failing_with(
        ResponseTemplate::new(429)
            .insert_header("Retry-After", "30")
            .set_body_json(graph_error(
                codes::THROUGHPUT,
                "(#130429) Rate limit hit",
                None,
            )),
    )
    .await;
    assert_eq!(
        err.disposition(),
        Disposition::Retry {
            after: Some(Duration::from_secs(30))
        }
    );
    assert_eq!(err.retry_delay(5), Some(Duration::from_secs(30)));
}

#[tokio::test]
async fn pair_rate_limit_backs_off_four_to_the_attempt() {
    let err = send_failing_with(ResponseTemplate::new(400).set_body_json(graph_error(
        codes::PAIR_RATE_LIMIT,
        "(#131056) (Business Account, Consumer Account) pair rate limit hit",
        None,
    )))
    .await;
    assert_eq!(err.code(), Some(codes::PAIR_RATE_LIMIT));
    assert_eq!(err.retry_delay(0), Some(Duration::from_secs(1)));
    assert_eq!(err.retry_delay(2), Some(Duration::from_secs(16)));
    assert_eq!(
        mostrador_whatsapp::client::pair_rate_limit_backoff(3),
        Duration::from_secs(64)
    );
}

#[tokio::test]
async fn expired_token_is_token_invalid_and_the_token_never_appears_in_the_error() {
    let body = json!({
        "error": {
            "message": format!("Malformed access token {TOKEN}"),
            "type": "OAuthException",
            "code": 190,
            "error_subcode": 463,
            "fbtrace_id": "A1b2C3"
        }
    });
    let err = send_failing_with(ResponseTemplate::new(401).set_body_json(body)).await;
    assert_eq!(err.disposition(), Disposition::TokenInvalid);
    assert_eq!(err.retry_delay(0), None);
    let api_error = err.api_error().expect("Meta's error");
    assert_eq!((api_error.code, api_error.subcode), (190, Some(463)));
    for text in [err.to_string(), format!("{err:?}")] {
        assert!(!text.contains(TOKEN), "the token leaked: {text}");
    }
    assert!(err.to_string().contains("[redacted]"));
}

#[tokio::test]
async fn unreachable_api_is_retried() {
    // A port that was just free: nothing listens there (wiremock pools its servers, so a dropped
    // MockServer may still answer).
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("free port")
        .port();
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .expect("http client");
    let api = CloudApi::new(http, format!("http://127.0.0.1:{port}"), VERSION.to_owned());
    let err = api
        .send(
            PHONE_NUMBER_ID,
            TOKEN,
            &OutgoingMessage::text(CUSTOMER, "hola"),
        )
        .await
        .expect_err("refused");
    assert!(
        matches!(err, SendError::Transport { timeout: false, .. }),
        "{err:?}"
    );
    assert_eq!(err.disposition(), Disposition::Retry { after: None });
}

#[tokio::test]
async fn timeouts_are_retried() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(accepted("wamid.LATE").set_delay(Duration::from_secs(2)))
        .mount(&server)
        .await;
    let http = reqwest::Client::builder()
        .timeout(Duration::from_millis(200))
        .build()
        .expect("http client");
    let api = CloudApi::new(http, server.uri(), VERSION.to_owned());
    let err = api
        .send(
            PHONE_NUMBER_ID,
            TOKEN,
            &OutgoingMessage::text(CUSTOMER, "hola"),
        )
        .await
        .expect_err("timeout");
    assert!(
        matches!(err, SendError::Transport { timeout: true, .. }),
        "{err:?}"
    );
    assert_eq!(err.disposition(), Disposition::Retry { after: None });
}

#[tokio::test]
async fn a_success_without_message_id_is_not_resent() {
    let err = send_failing_with(
        ResponseTemplate::new(200).set_body_json(json!({ "messaging_product": "whatsapp" })),
    )
    .await;
    assert!(matches!(err, SendError::UnexpectedResponse(_)), "{err:?}");
    // Meta may well have accepted it: resending could message the customer twice.
    assert_eq!(err.disposition(), Disposition::Permanent);
}

// ---------------------------------------------------------------- inbound media

const MEDIA_ID: &str = "1366438224589712";
const DOWNLOAD_PATH: &str = "/whatsapp_business/attachments/";

/// The photo of a prescription a customer sent.
const PHOTO: &[u8] = b"\xff\xd8\xff\xe0 receta medica \xff\xd9";

/// Its sha256 in hex, as `media_url` reports it.
fn photo_sha256_hex() -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(PHOTO))
}

async fn media_server(sha256: &str, file: &'static [u8]) -> MockServer {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(format!("/{VERSION}/{MEDIA_ID}")))
        .and(header("authorization", format!("Bearer {TOKEN}").as_str()))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "messaging_product": "whatsapp",
            "url": format!("{}{DOWNLOAD_PATH}?mid={MEDIA_ID}&ext=1712345678&hash=ATuK3kSg", server.uri()),
            "mime_type": "image/jpeg",
            "sha256": sha256,
            "file_size": PHOTO.len().to_string(),
            "id": MEDIA_ID
        })))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path(DOWNLOAD_PATH))
        .and(header("authorization", format!("Bearer {TOKEN}").as_str()))
        .respond_with(
            ResponseTemplate::new(200)
                .insert_header("content-type", "image/jpeg")
                .set_body_bytes(file),
        )
        .mount(&server)
        .await;
    server
}

#[tokio::test]
async fn inbound_media_is_looked_up_downloaded_with_the_token_and_checked() {
    let sha256 = photo_sha256_hex();
    let server = media_server(&sha256, PHOTO).await;
    let api = api(&server);

    let info = api.media_url(MEDIA_ID, TOKEN).await.expect("media info");
    assert!(info.url.contains(DOWNLOAD_PATH));
    assert_eq!(info.mime_type.as_deref(), Some("image/jpeg"));
    assert_eq!(info.sha256.as_deref(), Some(sha256.as_str()));
    assert_eq!(info.file_size, Some(PHOTO.len() as u64));
    assert_eq!(info.id.as_deref(), Some(MEDIA_ID));

    let bytes = api
        .download(&info.url, TOKEN, info.sha256.as_deref())
        .await
        .expect("download");
    assert_eq!(bytes.as_ref(), PHOTO);

    let media = api.fetch_media(MEDIA_ID, TOKEN).await.expect("fetch");
    assert_eq!(media.bytes.as_ref(), PHOTO);
    assert_eq!(media.mime_type.as_deref(), Some("image/jpeg"));

    let requests = server
        .received_requests()
        .await
        .expect("request recording is on");
    let download = requests
        .iter()
        .find(|r| r.url.path() == DOWNLOAD_PATH)
        .expect("a download request");
    assert!(
        download.headers.get("user-agent").is_some(),
        "Meta's CDN wants a User-Agent"
    );
}

#[tokio::test]
async fn base64_sha256_as_in_webhooks_is_accepted() {
    let server = media_server(&photo_sha256_hex(), PHOTO).await;
    let api = api(&server);
    let info = api.media_url(MEDIA_ID, TOKEN).await.expect("media info");
    // The webhook's `image.sha256` is base64 of the same digest.
    let digest = hex::decode(photo_sha256_hex()).expect("hex");
    let b64 = base64_of(&digest);
    let bytes = api
        .download(&info.url, TOKEN, Some(&b64))
        .await
        .expect("download");
    assert_eq!(bytes.as_ref(), PHOTO);
}

#[tokio::test]
async fn corrupted_download_fails_the_sha256_check() {
    let server = media_server(&photo_sha256_hex(), b"\xff\xd8 truncated").await;
    let err = api(&server)
        .fetch_media(MEDIA_ID, TOKEN)
        .await
        .expect_err("checksum mismatch");
    assert!(
        matches!(&err, MediaError::ChecksumMismatch { expected, .. } if *expected == photo_sha256_hex()),
        "{err:?}"
    );
    assert_eq!(err.disposition(), Disposition::Retry { after: None });
}

#[tokio::test]
async fn unknown_media_id_is_permanent() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(format!("/{VERSION}/{MEDIA_ID}")))
        .respond_with(ResponseTemplate::new(400).set_body_json(graph_error(
            codes::INVALID_PARAMETER,
            "Unsupported get request. Object with ID '1366438224589712' does not exist",
            None,
        )))
        .mount(&server)
        .await;
    let err = api(&server)
        .media_url(MEDIA_ID, TOKEN)
        .await
        .expect_err("unknown id");
    assert!(
        matches!(&err, MediaError::Api(e) if e.code == codes::INVALID_PARAMETER),
        "{err:?}"
    );
    assert_eq!(err.disposition(), Disposition::Permanent);
}

/// Standard padded base64, for the test only.
fn base64_of(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |n, (i, b)| n | u32::from(*b) << (16 - 8 * i));
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(char::from(ALPHABET[((n >> (18 - 6 * i)) & 0x3f) as usize]));
            } else {
                out.push('=');
            }
        }
    }
    out
}
