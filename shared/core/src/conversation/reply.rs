//! Messages as the machine describes them, built so that they always fit WhatsApp's limits.

use serde::{Deserialize, Serialize};

/// WhatsApp's limits for interactive messages, in characters (Unicode scalar values).
pub mod limits {
    /// Text message body.
    pub const TEXT_BODY: usize = 4096;
    /// Body of a reply-buttons or product-list message.
    pub const INTERACTIVE_BODY: usize = 1024;
    /// Body of a list message.
    pub const LIST_BODY: usize = 4096;
    /// Reply buttons per message.
    pub const BUTTONS: usize = 3;
    /// Reply button title.
    pub const BUTTON_TITLE: usize = 20;
    /// Reply button id.
    pub const BUTTON_ID: usize = 256;
    /// Label of the button that opens a list.
    pub const LIST_BUTTON: usize = 20;
    /// Sections of a list or product list.
    pub const SECTIONS: usize = 10;
    /// Section title.
    pub const SECTION_TITLE: usize = 24;
    /// Rows across all sections of a list.
    pub const LIST_ROWS: usize = 10;
    /// List row id.
    pub const ROW_ID: usize = 200;
    /// List row title.
    pub const ROW_TITLE: usize = 24;
    /// List row description.
    pub const ROW_DESCRIPTION: usize = 72;
    /// Text header of a product list.
    pub const HEADER: usize = 60;
    /// Products across all sections of a product list.
    pub const PRODUCT_ITEMS: usize = 30;
}

/// A message to the customer, independent of the Cloud API's wire format.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Reply {
    /// Plain text (links in it get a preview).
    Text(String),
    /// Up to three reply buttons under a body.
    Buttons {
        /// The message body.
        body: String,
        /// One to three buttons.
        buttons: Vec<Button>,
    },
    /// A list the customer opens with a button; up to ten rows in all.
    List {
        /// The message body.
        body: String,
        /// The label of the button that opens the list.
        button_label: String,
        /// Sections, titled.
        sections: Vec<Section>,
    },
    /// Products of the merchant's Meta catalog, up to thirty.
    ProductList {
        /// The Meta catalog id.
        catalog_id: String,
        /// The header text.
        header: String,
        /// The body text.
        body: String,
        /// Section titles and the SKUs (product retailer ids) in each.
        sections: Vec<(String, Vec<String>)>,
    },
}

/// A reply button; a tap comes back as [`crate::conversation::Input::ButtonReply`] with this id.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Button {
    /// A [`crate::conversation::Choice`] id.
    pub id: String,
    /// Up to 20 characters.
    pub title: String,
}

/// A titled group of list rows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Section {
    /// Up to 24 characters.
    pub title: String,
    /// The rows.
    pub rows: Vec<Row>,
}

/// A list row; a tap comes back as [`crate::conversation::Input::ListReply`] with this id.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Row {
    /// A [`crate::conversation::Choice`] id.
    pub id: String,
    /// Up to 24 characters.
    pub title: String,
    /// Up to 72 characters; may be empty.
    pub description: String,
}

/// Cuts `text` to `max` characters, ending with "…" when something was cut; never empty.
pub(crate) fn fit(text: &str, max: usize) -> String {
    let text = text.trim();
    if text.is_empty() {
        return "…".to_string();
    }
    if text.chars().count() <= max {
        return text.to_string();
    }
    let kept: String = text.chars().take(max.saturating_sub(1)).collect();
    format!("{}…", kept.trim_end())
}

impl Button {
    /// A button with its title cut to WhatsApp's limit.
    pub(crate) fn new(id: impl Into<String>, title: &str) -> Self {
        Button {
            id: id.into(),
            title: fit(title, limits::BUTTON_TITLE),
        }
    }
}

impl Row {
    /// A row with title and description cut to WhatsApp's limits.
    pub(crate) fn new(id: impl Into<String>, title: &str, description: &str) -> Self {
        let description = description.trim();
        let description = if description.is_empty() {
            String::new()
        } else {
            fit(description, limits::ROW_DESCRIPTION)
        };
        Row {
            id: id.into(),
            title: fit(title, limits::ROW_TITLE),
            description,
        }
    }
}

impl Section {
    /// A section with its title cut to WhatsApp's limit.
    pub(crate) fn new(title: &str, rows: Vec<Row>) -> Self {
        Section {
            title: fit(title, limits::SECTION_TITLE),
            rows,
        }
    }
}

/// Splits a long text into messages at line breaks, each within the text limit.
pub(crate) fn text_messages(text: &str) -> Vec<Reply> {
    let mut out = Vec::new();
    let mut current = String::new();
    for line in text.split('\n') {
        let line_len = line.chars().count();
        let current_len = current.chars().count();
        if current_len > 0 && current_len + 1 + line_len > limits::TEXT_BODY {
            out.push(std::mem::take(&mut current));
        }
        if line_len > limits::TEXT_BODY {
            // A single line longer than a message: cut it by characters.
            let chars: Vec<char> = line.chars().collect();
            for chunk in chars.chunks(limits::TEXT_BODY) {
                if !current.is_empty() {
                    out.push(std::mem::take(&mut current));
                }
                current = chunk.iter().collect();
            }
            continue;
        }
        if !current.is_empty() {
            current.push('\n');
        }
        current.push_str(line);
    }
    if !current.trim().is_empty() {
        out.push(current);
    }
    out.into_iter()
        .filter(|t| !t.trim().is_empty())
        .map(Reply::Text)
        .collect()
}

/// Buttons under `body`; a body too long for an interactive message goes first as text, and the
/// buttons follow under `short_body`.
pub(crate) fn with_buttons(body: &str, buttons: Vec<Button>, short_body: &str) -> Vec<Reply> {
    let buttons: Vec<Button> = buttons.into_iter().take(limits::BUTTONS).collect();
    let body = body.trim();
    if buttons.is_empty() {
        return text_messages(body);
    }
    if !body.is_empty() && body.chars().count() <= limits::INTERACTIVE_BODY {
        return vec![Reply::Buttons {
            body: body.to_string(),
            buttons,
        }];
    }
    let mut out = text_messages(body);
    out.push(Reply::Buttons {
        body: fit(short_body, limits::INTERACTIVE_BODY),
        buttons,
    });
    out
}

/// A list, with every text cut to WhatsApp's limits and at most ten rows; `None` without rows.
pub(crate) fn list(body: &str, button_label: &str, sections: Vec<Section>) -> Option<Reply> {
    let mut room = limits::LIST_ROWS;
    let mut kept = Vec::new();
    for mut section in sections.into_iter().take(limits::SECTIONS) {
        section.rows.truncate(room);
        room -= section.rows.len();
        if !section.rows.is_empty() {
            kept.push(section);
        }
    }
    if kept.is_empty() {
        return None;
    }
    Some(Reply::List {
        body: fit(body, limits::LIST_BODY),
        button_label: fit(button_label, limits::LIST_BUTTON),
        sections: kept,
    })
}

/// A product list within WhatsApp's limits; `None` without products.
pub(crate) fn product_list(
    catalog_id: &str,
    header: &str,
    body: &str,
    sections: Vec<(String, Vec<String>)>,
) -> Option<Reply> {
    let mut room = limits::PRODUCT_ITEMS;
    let mut kept = Vec::new();
    for (title, mut skus) in sections.into_iter().take(limits::SECTIONS) {
        skus.truncate(room);
        room -= skus.len();
        if !skus.is_empty() {
            kept.push((fit(&title, limits::SECTION_TITLE), skus));
        }
    }
    if kept.is_empty() {
        return None;
    }
    Some(Reply::ProductList {
        catalog_id: catalog_id.to_string(),
        header: fit(header, limits::HEADER),
        body: fit(body, limits::INTERACTIVE_BODY),
        sections: kept,
    })
}

/// The items one page of a list shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Window {
    /// First item shown.
    pub start: usize,
    /// One past the last item shown.
    pub end: usize,
    /// The page a "Ver más" row leads to, when more items follow.
    pub next_page: Option<u32>,
}

/// The slice of `total` items that page `page` shows when `capacity` rows fit and a "Ver más" row
/// takes the last one whenever more follow. Pages past the end (an old message) show the first page.
pub(crate) fn page_window(total: usize, page: u32, capacity: usize) -> Window {
    let per_page = capacity.saturating_sub(1).max(1);
    let mut page = page as usize;
    if page.saturating_mul(per_page) >= total {
        page = 0;
    }
    let start = page * per_page;
    if total - start <= capacity {
        Window {
            start,
            end: total,
            next_page: None,
        }
    } else {
        Window {
            start,
            end: start + per_page,
            next_page: u32::try_from(page + 1).ok(),
        }
    }
}
