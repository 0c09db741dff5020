//! Outgoing messages as typed values, and the limits Meta enforces on them.
//!
//! The shapes here are ours (ergonomic, no wire noise); `wire.rs` turns them into the exact Cloud API
//! JSON. `OutgoingMessage::validate` checks Meta's documented limits so a bad message is refused
//! locally, with a typed error, instead of costing an HTTP round trip and a `(#100) Invalid parameter`.

/// Meta's documented limits for what this client sends (characters are Unicode scalar values).
pub mod limits {
    /// Text message body.
    pub const TEXT_BODY: usize = 4096;
    /// Caption of a document or image.
    pub const CAPTION: usize = 1024;
    /// `biz_opaque_callback_data`.
    pub const CALLBACK_DATA: usize = 512;
    /// Reply buttons per interactive message.
    pub const REPLY_BUTTONS: usize = 3;
    /// Reply button title.
    pub const BUTTON_TITLE: usize = 20;
    /// Reply button id.
    pub const BUTTON_ID: usize = 256;
    /// Body of reply-button, product and product-list messages.
    pub const INTERACTIVE_BODY: usize = 1024;
    /// Body of a list message.
    pub const LIST_BODY: usize = 4096;
    /// Text header of an interactive message.
    pub const HEADER_TEXT: usize = 60;
    /// Footer of an interactive message.
    pub const FOOTER: usize = 60;
    /// Label of the button that opens a list.
    pub const LIST_BUTTON: usize = 20;
    /// Sections of a list or product-list message.
    pub const SECTIONS: usize = 10;
    /// Rows across all sections of a list message.
    pub const LIST_ROWS: usize = 10;
    /// Section title.
    pub const SECTION_TITLE: usize = 24;
    /// List row title.
    pub const ROW_TITLE: usize = 24;
    /// List row description.
    pub const ROW_DESCRIPTION: usize = 72;
    /// List row id.
    pub const ROW_ID: usize = 200;
    /// Products across all sections of a product-list message.
    pub const PRODUCT_ITEMS: usize = 30;
    /// Template buttons (their `index` is 0-based and below this).
    pub const TEMPLATE_BUTTONS: usize = 10;
}

/// Why a message was refused before sending; `field` names the Cloud API field.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ValidationError {
    /// A required value is empty or absent.
    #[error("{field} is required")]
    Missing {
        /// The Cloud API field.
        field: &'static str,
    },
    /// A text is longer than Meta allows.
    #[error("{field} is {actual} characters long; at most {max} are allowed")]
    TooLong {
        /// The Cloud API field.
        field: &'static str,
        /// Meta's limit.
        max: usize,
        /// What the message had.
        actual: usize,
    },
    /// A list has more entries than Meta allows.
    #[error("{field} has {actual} entries; at most {max} are allowed")]
    TooMany {
        /// The Cloud API field.
        field: &'static str,
        /// Meta's limit.
        max: usize,
        /// What the message had.
        actual: usize,
    },
    /// A value has a shape Meta would refuse (an id with characters ids never have, say).
    #[error("{field} is malformed")]
    Malformed {
        /// The Cloud API field.
        field: &'static str,
    },
    /// Two entries share an id or index that must be unique.
    #[error("{field} repeats {value:?}")]
    Duplicate {
        /// The Cloud API field.
        field: &'static str,
        /// The repeated id or index.
        value: String,
    },
}

/// One message to one customer: recipient, content, and the optional fields every type accepts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutgoingMessage {
    /// The customer's `wa_id` (phone number in international format, digits), or their business-scoped user id (`MX.…`) when they hide the
    /// number behind a username: sent as `recipient` then.
    pub to: String,
    /// What is sent.
    pub content: Content,
    /// wamid of the message this one answers (`context.message_id`): WhatsApp shows it quoted.
    pub reply_to: Option<String>,
    /// Our outbound id; Meta echoes it in this message's status webhooks (≤ 512 characters).
    pub biz_opaque_callback_data: Option<String>,
}

/// The content of an outgoing message; each variant is one Cloud API `type`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Content {
    /// `type: "text"`.
    Text(Text),
    /// `type: "template"`: the only kind allowed outside the 24 h window.
    Template(Template),
    /// `type: "interactive"`: reply buttons, list, product, product list.
    Interactive(Interactive),
    /// `type: "document"`.
    Document(Document),
    /// `type: "image"`.
    Image(Image),
}

/// A text message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Text {
    /// Up to 4096 characters; WhatsApp formatting (`*bold*`) allowed.
    pub body: String,
    /// Render a preview of the first URL in `body`.
    pub preview_url: bool,
}

/// An approved template with its parameters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Template {
    /// Template name as approved by Meta.
    pub name: String,
    /// Language and locale code, e.g. `es_MX`.
    pub language: String,
    /// Parameter of the header, when the template has a variable or media header.
    pub header: Option<TemplateHeader>,
    /// Body variables, in order (`{{1}}`, `{{2}}`, …) or by name.
    pub body: Vec<BodyParameter>,
    /// Parameters of buttons that take one (quick reply payloads, URL suffixes).
    pub buttons: Vec<TemplateButton>,
}

/// The header parameter of a template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TemplateHeader {
    /// A text header's variable.
    Text(String),
    /// A document header (an invoice PDF, say).
    Document {
        /// The file.
        media: MediaSource,
        /// File name shown to the customer.
        filename: Option<String>,
    },
    /// An image header.
    Image {
        /// The picture.
        media: MediaSource,
    },
}

/// A body variable: positional (`{{1}}`) unless `name` is set (`{{first_name}}`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BodyParameter {
    /// Name of a named parameter; `None` for positional templates.
    pub name: Option<String>,
    /// The value.
    pub text: String,
}

impl BodyParameter {
    /// A positional parameter.
    pub fn positional(text: impl Into<String>) -> Self {
        Self {
            name: None,
            text: text.into(),
        }
    }

    /// A named parameter.
    pub fn named(name: impl Into<String>, text: impl Into<String>) -> Self {
        Self {
            name: Some(name.into()),
            text: text.into(),
        }
    }
}

/// The parameter of one template button; `index` is the button's 0-based position in the template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TemplateButton {
    /// Quick reply: `payload` comes back in the customer's `button` message.
    QuickReply {
        /// Position of the button.
        index: u8,
        /// Developer-defined payload.
        payload: String,
    },
    /// Dynamic URL button: `text` is appended to the URL prefix approved in the template.
    Url {
        /// Position of the button.
        index: u8,
        /// URL suffix.
        text: String,
    },
}

impl TemplateButton {
    fn index(&self) -> u8 {
        match self {
            Self::QuickReply { index, .. } | Self::Url { index, .. } => *index,
        }
    }
}

/// Where a media file comes from. Prefer an uploaded id: Meta fetches links itself and fails
/// the send asynchronously when the link is slow or private.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MediaSource {
    /// Id returned by `CloudApi::upload_media`.
    Id(String),
    /// Public HTTPS URL.
    Link(String),
}

/// A document message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Document {
    /// The file.
    pub media: MediaSource,
    /// Caption under the document.
    pub caption: Option<String>,
    /// File name shown to the customer (and its extension decides the icon).
    pub filename: Option<String>,
}

/// An image message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Image {
    /// The picture.
    pub media: MediaSource,
    /// Caption under the image.
    pub caption: Option<String>,
}

/// An interactive message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Interactive {
    /// Up to three reply buttons.
    Buttons(ReplyButtons),
    /// A menu of up to ten rows.
    List(ListMessage),
    /// One product of the merchant's catalog.
    Product(ProductMessage),
    /// Up to thirty catalog products in sections; only inside an open conversation.
    ProductList(ProductListMessage),
}

/// Reply buttons (`interactive.type: "button"`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReplyButtons {
    /// Optional text header.
    pub header: Option<String>,
    /// Up to 1024 characters.
    pub body: String,
    /// Optional footer.
    pub footer: Option<String>,
    /// One to three buttons with unique ids.
    pub buttons: Vec<ReplyButton>,
}

/// One reply button; a tap comes back as `button_reply {id, title}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReplyButton {
    /// Up to 256 characters, unique in the message.
    pub id: String,
    /// Up to 20 characters.
    pub title: String,
}

/// A list message (`interactive.type: "list"`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListMessage {
    /// Optional text header.
    pub header: Option<String>,
    /// Up to 4096 characters.
    pub body: String,
    /// Optional footer.
    pub footer: Option<String>,
    /// Label of the button that opens the list (up to 20 characters).
    pub button: String,
    /// One to ten sections, ten rows in total.
    pub sections: Vec<ListSection>,
}

/// A section of a list; its title is required when there is more than one section.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListSection {
    /// Up to 24 characters.
    pub title: Option<String>,
    /// The rows.
    pub rows: Vec<ListRow>,
}

/// A list row; a tap comes back as `list_reply {id, title, description}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListRow {
    /// Up to 200 characters, unique in the message.
    pub id: String,
    /// Up to 24 characters.
    pub title: String,
    /// Up to 72 characters.
    pub description: Option<String>,
}

/// A single-product message (`interactive.type: "product"`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProductMessage {
    /// Optional body text.
    pub body: Option<String>,
    /// Optional footer.
    pub footer: Option<String>,
    /// The catalog linked to the WhatsApp Business Account.
    pub catalog_id: String,
    /// The product's retailer id (our SKU) in that catalog.
    pub product_retailer_id: String,
}

/// A multi-product message (`interactive.type: "product_list"`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProductListMessage {
    /// Text header (required by Meta).
    pub header: String,
    /// Body text (required by Meta).
    pub body: String,
    /// Optional footer.
    pub footer: Option<String>,
    /// The catalog linked to the WhatsApp Business Account.
    pub catalog_id: String,
    /// One to ten titled sections, thirty products in total.
    pub sections: Vec<ProductSection>,
}

/// A titled group of products.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProductSection {
    /// Up to 24 characters.
    pub title: String,
    /// Retailer ids (SKUs) of the products.
    pub product_retailer_ids: Vec<String>,
}

impl OutgoingMessage {
    /// A message of any content to `to`.
    pub fn new(to: impl Into<String>, content: impl Into<Content>) -> Self {
        Self {
            to: to.into(),
            content: content.into(),
            reply_to: None,
            biz_opaque_callback_data: None,
        }
    }

    /// A plain text message without link preview.
    pub fn text(to: impl Into<String>, body: impl Into<String>) -> Self {
        Self::new(
            to,
            Text {
                body: body.into(),
                preview_url: false,
            },
        )
    }

    /// Quote the customer's message `wamid`.
    pub fn reply_to(mut self, wamid: impl Into<String>) -> Self {
        self.reply_to = Some(wamid.into());
        self
    }

    /// Attach our outbound id, echoed back in status webhooks.
    pub fn callback_data(mut self, data: impl Into<String>) -> Self {
        self.biz_opaque_callback_data = Some(data.into());
        self
    }

    /// The Cloud API `type` of this message.
    pub fn kind(&self) -> &'static str {
        match &self.content {
            Content::Text(_) => "text",
            Content::Template(_) => "template",
            Content::Interactive(_) => "interactive",
            Content::Document(_) => "document",
            Content::Image(_) => "image",
        }
    }

    /// Checks Meta's documented limits; `CloudApi::send` calls it before any HTTP request.
    pub fn validate(&self) -> Result<(), ValidationError> {
        required("to", &self.to)?;
        if let Some(wamid) = &self.reply_to {
            required("context.message_id", wamid)?;
        }
        if let Some(data) = &self.biz_opaque_callback_data {
            max_len("biz_opaque_callback_data", data, limits::CALLBACK_DATA)?;
        }
        match &self.content {
            Content::Text(text) => {
                required("text.body", &text.body)?;
                max_len("text.body", &text.body, limits::TEXT_BODY)
            }
            Content::Template(template) => template.validate(),
            Content::Interactive(interactive) => interactive.validate(),
            Content::Document(doc) => {
                doc.media.validate("document")?;
                opt_max_len("document.caption", doc.caption.as_deref(), limits::CAPTION)
            }
            Content::Image(image) => {
                image.media.validate("image")?;
                opt_max_len("image.caption", image.caption.as_deref(), limits::CAPTION)
            }
        }
    }
}

impl Template {
    fn validate(&self) -> Result<(), ValidationError> {
        required("template.name", &self.name)?;
        required("template.language.code", &self.language)?;
        match &self.header {
            Some(TemplateHeader::Document { media, .. }) => {
                media.validate("template header document")?
            }
            Some(TemplateHeader::Image { media }) => media.validate("template header image")?,
            Some(TemplateHeader::Text(_)) | None => {}
        }
        max_count(
            "template button components",
            self.buttons.len(),
            limits::TEMPLATE_BUTTONS,
        )?;
        let mut seen = Vec::with_capacity(self.buttons.len());
        for button in &self.buttons {
            let index = button.index();
            if usize::from(index) >= limits::TEMPLATE_BUTTONS {
                return Err(ValidationError::TooMany {
                    field: "template button index",
                    max: limits::TEMPLATE_BUTTONS - 1,
                    actual: usize::from(index),
                });
            }
            if seen.contains(&index) {
                return Err(ValidationError::Duplicate {
                    field: "template button index",
                    value: index.to_string(),
                });
            }
            seen.push(index);
        }
        Ok(())
    }
}

impl MediaSource {
    fn validate(&self, field: &'static str) -> Result<(), ValidationError> {
        match self {
            Self::Id(value) | Self::Link(value) if value.trim().is_empty() => {
                Err(ValidationError::Missing { field })
            }
            _ => Ok(()),
        }
    }
}

impl Interactive {
    fn validate(&self) -> Result<(), ValidationError> {
        match self {
            Self::Buttons(m) => m.validate(),
            Self::List(m) => m.validate(),
            Self::Product(m) => m.validate(),
            Self::ProductList(m) => m.validate(),
        }
    }
}

impl ReplyButtons {
    fn validate(&self) -> Result<(), ValidationError> {
        opt_max_len(
            "interactive.header.text",
            self.header.as_deref(),
            limits::HEADER_TEXT,
        )?;
        required("interactive.body.text", &self.body)?;
        max_len(
            "interactive.body.text",
            &self.body,
            limits::INTERACTIVE_BODY,
        )?;
        opt_max_len(
            "interactive.footer.text",
            self.footer.as_deref(),
            limits::FOOTER,
        )?;
        if self.buttons.is_empty() {
            return Err(ValidationError::Missing {
                field: "interactive.action.buttons",
            });
        }
        max_count(
            "interactive.action.buttons",
            self.buttons.len(),
            limits::REPLY_BUTTONS,
        )?;
        for (i, button) in self.buttons.iter().enumerate() {
            required("interactive.action.buttons.reply.id", &button.id)?;
            max_len(
                "interactive.action.buttons.reply.id",
                &button.id,
                limits::BUTTON_ID,
            )?;
            required("interactive.action.buttons.reply.title", &button.title)?;
            max_len(
                "interactive.action.buttons.reply.title",
                &button.title,
                limits::BUTTON_TITLE,
            )?;
            if self.buttons[..i].iter().any(|b| b.id == button.id) {
                return Err(ValidationError::Duplicate {
                    field: "interactive.action.buttons.reply.id",
                    value: button.id.clone(),
                });
            }
        }
        Ok(())
    }
}

impl ListMessage {
    fn validate(&self) -> Result<(), ValidationError> {
        opt_max_len(
            "interactive.header.text",
            self.header.as_deref(),
            limits::HEADER_TEXT,
        )?;
        required("interactive.body.text", &self.body)?;
        max_len("interactive.body.text", &self.body, limits::LIST_BODY)?;
        opt_max_len(
            "interactive.footer.text",
            self.footer.as_deref(),
            limits::FOOTER,
        )?;
        required("interactive.action.button", &self.button)?;
        max_len(
            "interactive.action.button",
            &self.button,
            limits::LIST_BUTTON,
        )?;
        if self.sections.is_empty() {
            return Err(ValidationError::Missing {
                field: "interactive.action.sections",
            });
        }
        max_count(
            "interactive.action.sections",
            self.sections.len(),
            limits::SECTIONS,
        )?;
        let rows: usize = self.sections.iter().map(|s| s.rows.len()).sum();
        max_count("interactive.action.sections.rows", rows, limits::LIST_ROWS)?;
        let mut ids: Vec<&str> = Vec::with_capacity(rows);
        for section in &self.sections {
            match &section.title {
                Some(title) => max_len(
                    "interactive.action.sections.title",
                    title,
                    limits::SECTION_TITLE,
                )?,
                // Meta requires a title as soon as there are two sections.
                None if self.sections.len() > 1 => {
                    return Err(ValidationError::Missing {
                        field: "interactive.action.sections.title",
                    })
                }
                None => {}
            }
            if section.rows.is_empty() {
                return Err(ValidationError::Missing {
                    field: "interactive.action.sections.rows",
                });
            }
            for row in &section.rows {
                required("interactive.action.sections.rows.id", &row.id)?;
                max_len(
                    "interactive.action.sections.rows.id",
                    &row.id,
                    limits::ROW_ID,
                )?;
                required("interactive.action.sections.rows.title", &row.title)?;
                max_len(
                    "interactive.action.sections.rows.title",
                    &row.title,
                    limits::ROW_TITLE,
                )?;
                opt_max_len(
                    "interactive.action.sections.rows.description",
                    row.description.as_deref(),
                    limits::ROW_DESCRIPTION,
                )?;
                if ids.contains(&row.id.as_str()) {
                    return Err(ValidationError::Duplicate {
                        field: "interactive.action.sections.rows.id",
                        value: row.id.clone(),
                    });
                }
                ids.push(&row.id);
            }
        }
        Ok(())
    }
}

impl ProductMessage {
    fn validate(&self) -> Result<(), ValidationError> {
        opt_max_len(
            "interactive.body.text",
            self.body.as_deref(),
            limits::INTERACTIVE_BODY,
        )?;
        opt_max_len(
            "interactive.footer.text",
            self.footer.as_deref(),
            limits::FOOTER,
        )?;
        required("interactive.action.catalog_id", &self.catalog_id)?;
        required(
            "interactive.action.product_retailer_id",
            &self.product_retailer_id,
        )
    }
}

impl ProductListMessage {
    fn validate(&self) -> Result<(), ValidationError> {
        required("interactive.header.text", &self.header)?;
        max_len("interactive.header.text", &self.header, limits::HEADER_TEXT)?;
        required("interactive.body.text", &self.body)?;
        max_len(
            "interactive.body.text",
            &self.body,
            limits::INTERACTIVE_BODY,
        )?;
        opt_max_len(
            "interactive.footer.text",
            self.footer.as_deref(),
            limits::FOOTER,
        )?;
        required("interactive.action.catalog_id", &self.catalog_id)?;
        if self.sections.is_empty() {
            return Err(ValidationError::Missing {
                field: "interactive.action.sections",
            });
        }
        max_count(
            "interactive.action.sections",
            self.sections.len(),
            limits::SECTIONS,
        )?;
        let items: usize = self
            .sections
            .iter()
            .map(|s| s.product_retailer_ids.len())
            .sum();
        max_count(
            "interactive.action.sections.product_items",
            items,
            limits::PRODUCT_ITEMS,
        )?;
        for section in &self.sections {
            required("interactive.action.sections.title", &section.title)?;
            max_len(
                "interactive.action.sections.title",
                &section.title,
                limits::SECTION_TITLE,
            )?;
            if section.product_retailer_ids.is_empty() {
                return Err(ValidationError::Missing {
                    field: "interactive.action.sections.product_items",
                });
            }
            for id in &section.product_retailer_ids {
                required(
                    "interactive.action.sections.product_items.product_retailer_id",
                    id,
                )?;
            }
        }
        Ok(())
    }
}

fn required(field: &'static str, value: &str) -> Result<(), ValidationError> {
    if value.trim().is_empty() {
        Err(ValidationError::Missing { field })
    } else {
        Ok(())
    }
}

fn max_len(field: &'static str, value: &str, max: usize) -> Result<(), ValidationError> {
    let actual = value.chars().count();
    if actual > max {
        Err(ValidationError::TooLong { field, max, actual })
    } else {
        Ok(())
    }
}

fn opt_max_len(
    field: &'static str,
    value: Option<&str>,
    max: usize,
) -> Result<(), ValidationError> {
    value.map_or(Ok(()), |v| max_len(field, v, max))
}

fn max_count(field: &'static str, actual: usize, max: usize) -> Result<(), ValidationError> {
    if actual > max {
        Err(ValidationError::TooMany { field, max, actual })
    } else {
        Ok(())
    }
}

impl From<Text> for Content {
    fn from(value: Text) -> Self {
        Self::Text(value)
    }
}

impl From<Template> for Content {
    fn from(value: Template) -> Self {
        Self::Template(value)
    }
}

impl From<Interactive> for Content {
    fn from(value: Interactive) -> Self {
        Self::Interactive(value)
    }
}

impl From<ReplyButtons> for Content {
    fn from(value: ReplyButtons) -> Self {
        Self::Interactive(Interactive::Buttons(value))
    }
}

impl From<ListMessage> for Content {
    fn from(value: ListMessage) -> Self {
        Self::Interactive(Interactive::List(value))
    }
}

impl From<ProductMessage> for Content {
    fn from(value: ProductMessage) -> Self {
        Self::Interactive(Interactive::Product(value))
    }
}

impl From<ProductListMessage> for Content {
    fn from(value: ProductListMessage) -> Self {
        Self::Interactive(Interactive::ProductList(value))
    }
}

impl From<Document> for Content {
    fn from(value: Document) -> Self {
        Self::Document(value)
    }
}

impl From<Image> for Content {
    fn from(value: Image) -> Self {
        Self::Image(value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn buttons(n: usize) -> ReplyButtons {
        ReplyButtons {
            header: None,
            body: "¿Confirmas tu pedido?".into(),
            footer: None,
            buttons: (0..n)
                .map(|i| ReplyButton {
                    id: format!("b{i}"),
                    title: format!("Opción {i}"),
                })
                .collect(),
        }
    }

    #[test]
    fn titles_are_counted_in_characters_not_bytes() {
        // 20 characters, 22 bytes: accented Spanish must not be refused.
        let mut m = buttons(1);
        m.buttons[0].title = "Sí, confírmalo ahora".into();
        assert_eq!(m.buttons[0].title.chars().count(), 20);
        assert_eq!(OutgoingMessage::new("5215512345678", m).validate(), Ok(()));
    }

    #[test]
    fn duplicate_button_ids_are_refused() {
        let mut m = buttons(2);
        m.buttons[1].id = "b0".into();
        assert!(matches!(
            OutgoingMessage::new("5215512345678", m).validate(),
            Err(ValidationError::Duplicate { .. })
        ));
    }

    #[test]
    fn list_with_two_sections_needs_titles() {
        let row = |id: &str| ListRow {
            id: id.into(),
            title: id.into(),
            description: None,
        };
        let list = ListMessage {
            header: None,
            body: "Menú".into(),
            footer: None,
            button: "Ver".into(),
            sections: vec![
                ListSection {
                    title: Some("Bebidas".into()),
                    rows: vec![row("a")],
                },
                ListSection {
                    title: None,
                    rows: vec![row("b")],
                },
            ],
        };
        assert_eq!(
            OutgoingMessage::new("5215512345678", list).validate(),
            Err(ValidationError::Missing {
                field: "interactive.action.sections.title"
            })
        );
    }

    #[test]
    fn oversized_callback_data_is_refused() {
        let m = OutgoingMessage::text("5215512345678", "hola").callback_data("x".repeat(513));
        assert!(matches!(
            m.validate(),
            Err(ValidationError::TooLong {
                max: 512,
                actual: 513,
                ..
            })
        ));
    }
}
