//! The exact Cloud API JSON of outgoing messages, and the conversions from and to our types.
//!
//! Serializing `OutgoingMessage` goes through these structs; deserializing reads the same JSON back
//! (so a message can wait in a queue as the very body Meta will receive).

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::message::{
    BodyParameter, Content, Document, Image, Interactive, ListMessage, ListRow, ListSection,
    MediaSource, OutgoingMessage, ProductListMessage, ProductMessage, ProductSection, ReplyButton,
    ReplyButtons, Template, TemplateButton, TemplateHeader, Text,
};

const WHATSAPP: &str = "whatsapp";
const INDIVIDUAL: &str = "individual";

#[derive(Debug, Serialize, Deserialize)]
struct WireMessage {
    messaging_product: String,
    #[serde(default = "individual")]
    recipient_type: String,
    /// A phone number. Users who hide theirs behind a username are addressed by their
    /// business-scoped user id in `recipient` instead (never both: `to` would win).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    to: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    recipient: Option<String>,
    #[serde(rename = "type")]
    kind: String,
    #[serde(flatten)]
    content: WireContent,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    context: Option<WireContext>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    biz_opaque_callback_data: Option<String>,
}

fn individual() -> String {
    INDIVIDUAL.to_owned()
}

#[derive(Debug, Serialize, Deserialize)]
struct WireContext {
    message_id: String,
}

/// Externally tagged and flattened: `"text": {...}` next to `"type": "text"`.
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
enum WireContent {
    Text(WireText),
    Template(WireTemplate),
    Interactive(WireInteractive),
    Document(WireMedia),
    Image(WireMedia),
}

#[derive(Debug, Serialize, Deserialize)]
struct WireText {
    #[serde(default)]
    preview_url: bool,
    body: String,
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct WireMedia {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    link: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    caption: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    filename: Option<String>,
}

#[derive(Debug, Serialize, Deserialize)]
struct WireTemplate {
    name: String,
    language: WireLanguage,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    components: Vec<WireComponent>,
}

#[derive(Debug, Serialize, Deserialize)]
struct WireLanguage {
    code: String,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum WireComponent {
    Header {
        parameters: Vec<WireParameter>,
    },
    Body {
        parameters: Vec<WireParameter>,
    },
    Button {
        sub_type: String,
        // Meta documents the index as a string ("0"); numbers are accepted when reading.
        #[serde(
            serialize_with = "index_as_string",
            deserialize_with = "index_from_string_or_number"
        )]
        index: u8,
        parameters: Vec<WireParameter>,
    },
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum WireParameter {
    Text {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        parameter_name: Option<String>,
        text: String,
    },
    Payload {
        payload: String,
    },
    Document {
        document: WireMedia,
    },
    Image {
        image: WireMedia,
    },
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum WireInteractive {
    Button {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        header: Option<WireHeader>,
        body: WireBody,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        footer: Option<WireBody>,
        action: WireButtonsAction,
    },
    List {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        header: Option<WireHeader>,
        body: WireBody,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        footer: Option<WireBody>,
        action: WireListAction,
    },
    Product {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        body: Option<WireBody>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        footer: Option<WireBody>,
        action: WireProductAction,
    },
    ProductList {
        header: WireHeader,
        body: WireBody,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        footer: Option<WireBody>,
        action: WireProductListAction,
    },
}

#[derive(Debug, Serialize, Deserialize)]
struct WireHeader {
    #[serde(rename = "type")]
    kind: String,
    text: String,
}

#[derive(Debug, Serialize, Deserialize)]
struct WireBody {
    text: String,
}

#[derive(Debug, Serialize, Deserialize)]
struct WireButtonsAction {
    buttons: Vec<WireReplyButton>,
}

#[derive(Debug, Serialize, Deserialize)]
struct WireReplyButton {
    #[serde(rename = "type")]
    kind: String,
    reply: WireReply,
}

#[derive(Debug, Serialize, Deserialize)]
struct WireReply {
    id: String,
    title: String,
}

#[derive(Debug, Serialize, Deserialize)]
struct WireListAction {
    button: String,
    sections: Vec<WireListSection>,
}

#[derive(Debug, Serialize, Deserialize)]
struct WireListSection {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    title: Option<String>,
    rows: Vec<WireRow>,
}

#[derive(Debug, Serialize, Deserialize)]
struct WireRow {
    id: String,
    title: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    description: Option<String>,
}

#[derive(Debug, Serialize, Deserialize)]
struct WireProductAction {
    catalog_id: String,
    product_retailer_id: String,
}

#[derive(Debug, Serialize, Deserialize)]
struct WireProductListAction {
    catalog_id: String,
    sections: Vec<WireProductSection>,
}

#[derive(Debug, Serialize, Deserialize)]
struct WireProductSection {
    title: String,
    product_items: Vec<WireProductItem>,
}

#[derive(Debug, Serialize, Deserialize)]
struct WireProductItem {
    product_retailer_id: String,
}

fn index_as_string<S: Serializer>(index: &u8, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_str(&index.to_string())
}

fn index_from_string_or_number<'de, D: Deserializer<'de>>(deserializer: D) -> Result<u8, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Index {
        Number(u8),
        Text(String),
    }
    match Index::deserialize(deserializer)? {
        Index::Number(n) => Ok(n),
        Index::Text(s) => s.trim().parse().map_err(serde::de::Error::custom),
    }
}

// ---- ours → wire ----

impl From<&OutgoingMessage> for WireMessage {
    fn from(m: &OutgoingMessage) -> Self {
        Self {
            messaging_product: WHATSAPP.to_owned(),
            recipient_type: INDIVIDUAL.to_owned(),
            // Phone numbers are digits; a BSUID (`MX.123…`) always has a period.
            to: (!m.to.contains('.')).then(|| m.to.clone()),
            recipient: m.to.contains('.').then(|| m.to.clone()),
            kind: m.kind().to_owned(),
            content: WireContent::from(&m.content),
            context: m
                .reply_to
                .clone()
                .map(|message_id| WireContext { message_id }),
            biz_opaque_callback_data: m.biz_opaque_callback_data.clone(),
        }
    }
}

impl From<&Content> for WireContent {
    fn from(c: &Content) -> Self {
        match c {
            Content::Text(t) => Self::Text(WireText {
                preview_url: t.preview_url,
                body: t.body.clone(),
            }),
            Content::Template(t) => Self::Template(WireTemplate::from(t)),
            Content::Interactive(i) => Self::Interactive(WireInteractive::from(i)),
            Content::Document(d) => Self::Document(WireMedia {
                caption: d.caption.clone(),
                filename: d.filename.clone(),
                ..WireMedia::from(&d.media)
            }),
            Content::Image(i) => Self::Image(WireMedia {
                caption: i.caption.clone(),
                ..WireMedia::from(&i.media)
            }),
        }
    }
}

impl From<&MediaSource> for WireMedia {
    fn from(source: &MediaSource) -> Self {
        match source {
            MediaSource::Id(id) => Self {
                id: Some(id.clone()),
                ..Self::default()
            },
            MediaSource::Link(link) => Self {
                link: Some(link.clone()),
                ..Self::default()
            },
        }
    }
}

impl From<&Template> for WireTemplate {
    fn from(t: &Template) -> Self {
        let mut components = Vec::with_capacity(2 + t.buttons.len());
        if let Some(header) = &t.header {
            let parameter = match header {
                TemplateHeader::Text(text) => WireParameter::Text {
                    parameter_name: None,
                    text: text.clone(),
                },
                TemplateHeader::Document { media, filename } => WireParameter::Document {
                    document: WireMedia {
                        filename: filename.clone(),
                        ..WireMedia::from(media)
                    },
                },
                TemplateHeader::Image { media } => WireParameter::Image {
                    image: WireMedia::from(media),
                },
            };
            components.push(WireComponent::Header {
                parameters: vec![parameter],
            });
        }
        if !t.body.is_empty() {
            let parameters = t
                .body
                .iter()
                .map(|p| WireParameter::Text {
                    parameter_name: p.name.clone(),
                    text: p.text.clone(),
                })
                .collect();
            components.push(WireComponent::Body { parameters });
        }
        for button in &t.buttons {
            components.push(match button {
                TemplateButton::QuickReply { index, payload } => WireComponent::Button {
                    sub_type: "quick_reply".to_owned(),
                    index: *index,
                    parameters: vec![WireParameter::Payload {
                        payload: payload.clone(),
                    }],
                },
                TemplateButton::Url { index, text } => WireComponent::Button {
                    sub_type: "url".to_owned(),
                    index: *index,
                    parameters: vec![WireParameter::Text {
                        parameter_name: None,
                        text: text.clone(),
                    }],
                },
            });
        }
        Self {
            name: t.name.clone(),
            language: WireLanguage {
                code: t.language.clone(),
            },
            components,
        }
    }
}

fn text_header(text: &str) -> WireHeader {
    WireHeader {
        kind: "text".to_owned(),
        text: text.to_owned(),
    }
}

fn body(text: &str) -> WireBody {
    WireBody {
        text: text.to_owned(),
    }
}

impl From<&Interactive> for WireInteractive {
    fn from(i: &Interactive) -> Self {
        match i {
            Interactive::Buttons(m) => Self::Button {
                header: m.header.as_deref().map(text_header),
                body: body(&m.body),
                footer: m.footer.as_deref().map(body),
                action: WireButtonsAction {
                    buttons: m
                        .buttons
                        .iter()
                        .map(|b| WireReplyButton {
                            kind: "reply".to_owned(),
                            reply: WireReply {
                                id: b.id.clone(),
                                title: b.title.clone(),
                            },
                        })
                        .collect(),
                },
            },
            Interactive::List(m) => Self::List {
                header: m.header.as_deref().map(text_header),
                body: body(&m.body),
                footer: m.footer.as_deref().map(body),
                action: WireListAction {
                    button: m.button.clone(),
                    sections: m
                        .sections
                        .iter()
                        .map(|s| WireListSection {
                            title: s.title.clone(),
                            rows: s
                                .rows
                                .iter()
                                .map(|r| WireRow {
                                    id: r.id.clone(),
                                    title: r.title.clone(),
                                    description: r.description.clone(),
                                })
                                .collect(),
                        })
                        .collect(),
                },
            },
            Interactive::Product(m) => Self::Product {
                body: m.body.as_deref().map(body),
                footer: m.footer.as_deref().map(body),
                action: WireProductAction {
                    catalog_id: m.catalog_id.clone(),
                    product_retailer_id: m.product_retailer_id.clone(),
                },
            },
            Interactive::ProductList(m) => Self::ProductList {
                header: text_header(&m.header),
                body: body(&m.body),
                footer: m.footer.as_deref().map(body),
                action: WireProductListAction {
                    catalog_id: m.catalog_id.clone(),
                    sections: m
                        .sections
                        .iter()
                        .map(|s| WireProductSection {
                            title: s.title.clone(),
                            product_items: s
                                .product_retailer_ids
                                .iter()
                                .map(|id| WireProductItem {
                                    product_retailer_id: id.clone(),
                                })
                                .collect(),
                        })
                        .collect(),
                },
            },
        }
    }
}

// ---- wire → ours ----

impl TryFrom<WireMessage> for OutgoingMessage {
    type Error = String;

    fn try_from(w: WireMessage) -> Result<Self, String> {
        if w.messaging_product != WHATSAPP {
            return Err(format!(
                "messaging_product must be \"whatsapp\", not {:?}",
                w.messaging_product
            ));
        }
        let content = Content::try_from(w.content)?;
        let to =
            w.to.or(w.recipient)
                .ok_or_else(|| "to or recipient is required".to_owned())?;
        let message = Self {
            to,
            content,
            reply_to: w.context.map(|c| c.message_id),
            biz_opaque_callback_data: w.biz_opaque_callback_data,
        };
        if message.kind() != w.kind {
            return Err(format!(
                "type {:?} does not match the {:?} object",
                w.kind,
                message.kind()
            ));
        }
        Ok(message)
    }
}

impl TryFrom<WireContent> for Content {
    type Error = String;

    fn try_from(w: WireContent) -> Result<Self, String> {
        Ok(match w {
            WireContent::Text(t) => Self::Text(Text {
                body: t.body,
                preview_url: t.preview_url,
            }),
            WireContent::Template(t) => Self::Template(Template::try_from(t)?),
            WireContent::Interactive(i) => Self::Interactive(Interactive::from(i)),
            WireContent::Document(d) => {
                let media = MediaSource::try_from(&d)?;
                Self::Document(Document {
                    media,
                    caption: d.caption,
                    filename: d.filename,
                })
            }
            WireContent::Image(i) => {
                let media = MediaSource::try_from(&i)?;
                Self::Image(Image {
                    media,
                    caption: i.caption,
                })
            }
        })
    }
}

impl TryFrom<&WireMedia> for MediaSource {
    type Error = String;

    fn try_from(w: &WireMedia) -> Result<Self, String> {
        match (&w.id, &w.link) {
            (Some(id), None) => Ok(Self::Id(id.clone())),
            (None, Some(link)) => Ok(Self::Link(link.clone())),
            _ => Err("media needs exactly one of id and link".to_owned()),
        }
    }
}

impl TryFrom<WireTemplate> for Template {
    type Error = String;

    fn try_from(w: WireTemplate) -> Result<Self, String> {
        let mut template = Self {
            name: w.name,
            language: w.language.code,
            header: None,
            body: Vec::new(),
            buttons: Vec::new(),
        };
        for component in w.components {
            match component {
                WireComponent::Header { parameters } => {
                    let [parameter] = <[WireParameter; 1]>::try_from(parameters)
                        .map_err(|_| "a template header takes exactly one parameter".to_owned())?;
                    template.header = Some(match parameter {
                        WireParameter::Text { text, .. } => TemplateHeader::Text(text),
                        WireParameter::Document { document } => TemplateHeader::Document {
                            media: MediaSource::try_from(&document)?,
                            filename: document.filename,
                        },
                        WireParameter::Image { image } => TemplateHeader::Image {
                            media: MediaSource::try_from(&image)?,
                        },
                        WireParameter::Payload { .. } => {
                            return Err("a payload cannot be a header".to_owned())
                        }
                    });
                }
                WireComponent::Body { parameters } => {
                    for parameter in parameters {
                        match parameter {
                            WireParameter::Text {
                                parameter_name,
                                text,
                            } => template.body.push(BodyParameter {
                                name: parameter_name,
                                text,
                            }),
                            _ => return Err("only text body parameters are supported".to_owned()),
                        }
                    }
                }
                WireComponent::Button {
                    sub_type,
                    index,
                    parameters,
                } => {
                    let [parameter] = <[WireParameter; 1]>::try_from(parameters)
                        .map_err(|_| "a template button takes exactly one parameter".to_owned())?;
                    template.buttons.push(match (sub_type.as_str(), parameter) {
                        ("quick_reply", WireParameter::Payload { payload }) => {
                            TemplateButton::QuickReply { index, payload }
                        }
                        ("url", WireParameter::Text { text, .. }) => {
                            TemplateButton::Url { index, text }
                        }
                        (other, _) => return Err(format!("unsupported template button {other:?}")),
                    });
                }
            }
        }
        Ok(template)
    }
}

impl From<WireInteractive> for Interactive {
    fn from(w: WireInteractive) -> Self {
        match w {
            WireInteractive::Button {
                header,
                body,
                footer,
                action,
            } => Self::Buttons(ReplyButtons {
                header: header.map(|h| h.text),
                body: body.text,
                footer: footer.map(|f| f.text),
                buttons: action
                    .buttons
                    .into_iter()
                    .map(|b| ReplyButton {
                        id: b.reply.id,
                        title: b.reply.title,
                    })
                    .collect(),
            }),
            WireInteractive::List {
                header,
                body,
                footer,
                action,
            } => Self::List(ListMessage {
                header: header.map(|h| h.text),
                body: body.text,
                footer: footer.map(|f| f.text),
                button: action.button,
                sections: action
                    .sections
                    .into_iter()
                    .map(|s| ListSection {
                        title: s.title,
                        rows: s
                            .rows
                            .into_iter()
                            .map(|r| ListRow {
                                id: r.id,
                                title: r.title,
                                description: r.description,
                            })
                            .collect(),
                    })
                    .collect(),
            }),
            WireInteractive::Product {
                body,
                footer,
                action,
            } => Self::Product(ProductMessage {
                body: body.map(|b| b.text),
                footer: footer.map(|f| f.text),
                catalog_id: action.catalog_id,
                product_retailer_id: action.product_retailer_id,
            }),
            WireInteractive::ProductList {
                header,
                body,
                footer,
                action,
            } => Self::ProductList(ProductListMessage {
                header: header.text,
                body: body.text,
                footer: footer.map(|f| f.text),
                catalog_id: action.catalog_id,
                sections: action
                    .sections
                    .into_iter()
                    .map(|s| ProductSection {
                        title: s.title,
                        product_retailer_ids: s
                            .product_items
                            .into_iter()
                            .map(|p| p.product_retailer_id)
                            .collect(),
                    })
                    .collect(),
            }),
        }
    }
}

impl Serialize for OutgoingMessage {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        WireMessage::from(self).serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for OutgoingMessage {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let wire = WireMessage::deserialize(deserializer)?;
        Self::try_from(wire).map_err(serde::de::Error::custom)
    }
}

/// Body of the mark-as-read request.
#[derive(Debug, Serialize)]
pub(super) struct MarkRead<'a> {
    messaging_product: &'static str,
    status: &'static str,
    message_id: &'a str,
}

impl<'a> MarkRead<'a> {
    pub(super) fn new(message_id: &'a str) -> Self {
        Self {
            messaging_product: WHATSAPP,
            status: "read",
            message_id,
        }
    }
}
