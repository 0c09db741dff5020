//! The template registry: what the merchant had approved in Meta (name, language, category, the
//! body's parameters with their types, buttons) plus what we do with the customer's answers (quick
//! reply payloads and keywords mapped to actions). Every notification is checked against it before
//! anything is queued, and rendered from it into the Cloud API's template message.

use crate::platform::error::{AppError, FieldError};
use crate::platform::tenant::TenantTable;
use crate::platform::urls::check_target;
use chrono::NaiveDate;
use mostrador_core::money::Centavos;
use mostrador_store::{Condition, Item, Key, Query, StoreError, Table, Update};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Body parameters per template (Meta allows more; nobody reads a notification with more).
pub const MAX_BODY_PARAMS: usize = 20;
/// Keywords per template.
pub const MAX_KEYWORDS: usize = 20;
/// Longest text parameter Meta accepts in a template body.
pub const MAX_PARAM_CHARS: usize = 1024;

/// Meta's template categories.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TemplateCategory {
    Utility,
    Marketing,
    Authentication,
}

impl TemplateCategory {
    /// The sender's category for messages of this template.
    pub(crate) fn sending_category(self) -> crate::parties::messages::Category {
        match self {
            TemplateCategory::Utility => crate::parties::messages::Category::Utility,
            TemplateCategory::Marketing => crate::parties::messages::Category::Marketing,
            TemplateCategory::Authentication => crate::parties::messages::Category::Authentication,
        }
    }
}

/// The type of a body parameter: how the API value is checked and how it is written for the customer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ParamType {
    /// Any single-line text.
    Text,
    /// An integer (a JSON number or a string of digits).
    Number,
    /// Integer centavos, written `$1,250.00`.
    Currency,
    /// `YYYY-MM-DD`, written `21/11/2026`.
    Date,
    /// An https URL, sent as a tracked link (`/l/{code}`).
    Url,
}

/// One body parameter (`{{1}}`, `{{2}}`... in order).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ParamSpec {
    /// What the parameter is (`monto`, `comercio`); parameters may also be given by this name.
    pub name: String,
    #[serde(rename = "type")]
    pub kind: ParamType,
}

/// The template's header, when it has a variable or media one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum HeaderKind {
    Text,
    Document,
    Image,
}

/// What a reply triggers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReplyAction {
    /// A signed `notification.reply` event to the merchant's webhook (e.g. to block a card).
    Webhook,
    /// Answer with the notification's details.
    Details,
    /// Hand the conversation to a human (the chat's asesor hand-off).
    Human,
}

/// A template button.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum ButtonSpec {
    /// A quick reply: the payload comes back when the customer taps it.
    QuickReply {
        text: String,
        payload: String,
        #[serde(default)]
        actions: Vec<ReplyAction>,
        /// Text answered when tapped (besides the actions' own messages).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        reply: Option<String>,
    },
    /// A URL button approved as `{link host}/l/{{1}}` (the merchant's `link_host`, else the public
    /// URL): each notification gives its target and the
    /// customer's tap is counted before the redirect.
    Url { text: String },
    /// A URL button with a fixed address (nothing to give per notification; not tracked).
    StaticUrl { text: String, url: String },
    /// A button that calls a phone number.
    PhoneNumber { text: String, phone: String },
}

impl ButtonSpec {
    /// The button's label.
    pub fn text(&self) -> &str {
        match self {
            ButtonSpec::QuickReply { text, .. }
            | ButtonSpec::Url { text }
            | ButtonSpec::StaticUrl { text, .. }
            | ButtonSpec::PhoneNumber { text, .. } => text,
        }
    }
}

/// The template in another language: the same parameters and buttons, its own words. Meta
/// reviews each language on its own.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Translation {
    pub language: String,
    /// The body with `{{1}}`… as in the main language.
    pub text: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub header_text: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub footer: Option<String>,
    /// The buttons' labels in this language, in order (default: the main language's).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub button_texts: Vec<String>,
}

/// What Meta says about one language of a template.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct MetaStatus {
    /// Meta's template id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// `PENDING`, `APPROVED`, `REJECTED`, `PAUSED`, `DISABLED`, `IN_APPEAL`, `PENDING_DELETION`…
    pub status: String,
    /// Why it was rejected, paused or disabled (Meta's reason code or text).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// Meta's quality rating: `GREEN`, `YELLOW`, `RED` or `UNKNOWN`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quality: Option<String>,
    /// The category Meta gave it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub category: Option<String>,
    /// Unix seconds of the last change.
    pub updated_at: i64,
}

/// Meta's statuses of a template, by language.
pub type MetaStatuses = std::collections::BTreeMap<String, MetaStatus>;

/// Why a template cannot be sent in `language` now; `None` when it can. A template registered
/// here without going through Meta (no status) is taken as approved, as before.
pub(crate) fn not_sendable(statuses: &MetaStatuses, language: &str) -> Option<String> {
    if statuses.is_empty() {
        return None;
    }
    match statuses.get(language) {
        Some(s) if s.status == "APPROVED" => None,
        Some(s) => Some(match &s.reason {
            Some(r) if !r.is_empty() && r != "NONE" => {
                format!("{} in Meta ({r})", s.status.to_lowercase())
            }
            _ => format!("{} in Meta", s.status.to_lowercase()),
        }),
        None => Some(format!("not submitted to Meta in {language}")),
    }
}

/// The `{{n}}` placeholders of a text, in order of appearance.
pub(crate) fn placeholders(text: &str) -> Vec<u32> {
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find("{{") {
        let after = &rest[start + 2..];
        match after.find("}}") {
            Some(end) => {
                if let Ok(n) = after[..end].trim().parse::<u32>() {
                    out.push(n);
                }
                rest = &after[end + 2..];
            }
            None => break,
        }
    }
    out
}

/// Problems of a text whose placeholders must be exactly `{{1}}`…`{{n}}`.
fn placeholder_problem(text: &str, n: usize) -> Option<String> {
    let mut found = placeholders(text);
    found.sort_unstable();
    found.dedup();
    let want: Vec<u32> = (1..=n as u32).collect();
    (found != want).then(|| {
        if n == 0 {
            "takes no parameters: no {{n}} placeholders".to_owned()
        } else {
            format!("needs the placeholders {{{{1}}}} to {{{{{n}}}}}, one per parameter")
        }
    })
}

/// A keyword the customer may write back (matched without accents or case, as the whole message).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeywordSpec {
    pub keyword: String,
    pub actions: Vec<ReplyAction>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reply: Option<String>,
}

/// A registered template.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TemplateDef {
    /// The name approved in Meta: lowercase letters, digits and `_`.
    pub name: String,
    #[serde(default = "default_language")]
    pub language: String,
    pub category: TemplateCategory,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub header: Option<HeaderKind>,
    #[serde(default)]
    pub body: Vec<ParamSpec>,
    #[serde(default)]
    pub buttons: Vec<ButtonSpec>,
    #[serde(default)]
    pub keywords: Vec<KeywordSpec>,
    /// Answer for the `details` action when the notification brings no `details` of its own.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub details: Option<String>,
    /// The body as Meta shows it, with `{{1}}`… in the order of `body` (needed to submit it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
    /// One example value per body parameter, for Meta's review.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub examples: Vec<String>,
    /// A text header's words, with `{{1}}` when the header takes a parameter.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub header_text: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub header_example: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub footer: Option<String>,
    /// The same template in other languages.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub translations: Vec<Translation>,
}

fn default_language() -> String {
    "es_MX".into()
}

/// The key of a template.
fn key(name: &str) -> Key {
    crate::platform::schema::template(name)
}

/// Whether `code` is a locale code as Meta writes them (`es_MX`, `en_US`, `es`).
fn valid_language(code: &str) -> bool {
    !code.is_empty()
        && code.len() <= 10
        && code.chars().all(|c| c.is_ascii_alphabetic() || c == '_')
}

/// Whether `name` is a Meta template name.
pub(crate) fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 512
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
}

/// Lowercase, without accents or surrounding punctuation, spaces collapsed: how keywords compare.
pub(crate) fn normalize_keyword(text: &str) -> String {
    let folded: String = text
        .chars()
        .map(|c| match c {
            'á' | 'à' | 'ä' | 'Á' | 'À' | 'Ä' => 'a',
            'é' | 'è' | 'ë' | 'É' | 'È' | 'Ë' => 'e',
            'í' | 'ì' | 'ï' | 'Í' | 'Ì' | 'Ï' => 'i',
            'ó' | 'ò' | 'ö' | 'Ó' | 'Ò' | 'Ö' => 'o',
            'ú' | 'ù' | 'ü' | 'Ú' | 'Ù' | 'Ü' => 'u',
            'ñ' | 'Ñ' => 'n',
            c => c.to_ascii_lowercase(),
        })
        .map(|c| if c.is_alphanumeric() { c } else { ' ' })
        .collect();
    folded.split_whitespace().collect::<Vec<_>>().join(" ")
}

impl TemplateDef {
    /// Every field's problems (empty when the template can be stored).
    pub(crate) fn problems(&self) -> Vec<FieldError> {
        let mut errors = Vec::new();
        if !valid_name(&self.name) {
            errors.push(FieldError::new(
                "name",
                "1-512 lowercase letters, digits and _ (Meta's template names)",
            ));
        }
        if !valid_language(&self.language) {
            errors.push(FieldError::new("language", "a locale code such as es_MX"));
        }
        if self.body.len() > MAX_BODY_PARAMS {
            errors.push(FieldError::new(
                "body",
                format!("at most {MAX_BODY_PARAMS} parameters"),
            ));
        }
        for (i, p) in self.body.iter().enumerate() {
            if p.name.is_empty()
                || p.name.len() > 40
                || !p
                    .name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_')
            {
                errors.push(FieldError::new(
                    format!("body[{i}].name"),
                    "1-40 letters, digits and _",
                ));
            }
            if self.body[..i].iter().any(|q| q.name == p.name) {
                errors.push(FieldError::new(
                    format!("body[{i}].name"),
                    "repeats an earlier parameter",
                ));
            }
        }
        if self.buttons.len() > mostrador_whatsapp::client::limits::TEMPLATE_BUTTONS {
            errors.push(FieldError::new("buttons", "at most 10 buttons"));
        }
        let mut payloads: Vec<&str> = Vec::new();
        for (i, b) in self.buttons.iter().enumerate() {
            match b {
                ButtonSpec::QuickReply {
                    text,
                    payload,
                    reply,
                    ..
                } => {
                    if text.is_empty() || text.chars().count() > 25 {
                        errors.push(FieldError::new(
                            format!("buttons[{i}].text"),
                            "1-25 characters",
                        ));
                    }
                    if payload.is_empty() || payload.len() > 256 {
                        errors.push(FieldError::new(
                            format!("buttons[{i}].payload"),
                            "1-256 characters",
                        ));
                    }
                    if payloads.contains(&payload.as_str()) {
                        errors.push(FieldError::new(
                            format!("buttons[{i}].payload"),
                            "repeats another button's payload",
                        ));
                    }
                    payloads.push(payload);
                    if reply
                        .as_ref()
                        .is_some_and(|r| r.is_empty() || r.len() > 4096)
                    {
                        errors.push(FieldError::new(
                            format!("buttons[{i}].reply"),
                            "1-4096 characters",
                        ));
                    }
                }
                ButtonSpec::Url { .. }
                | ButtonSpec::StaticUrl { .. }
                | ButtonSpec::PhoneNumber { .. } => {
                    if b.text().is_empty() || b.text().chars().count() > 25 {
                        errors.push(FieldError::new(
                            format!("buttons[{i}].text"),
                            "1-25 characters",
                        ));
                    }
                    if let ButtonSpec::StaticUrl { url, .. } = b {
                        if let Err(why) = check_target(url) {
                            errors.push(FieldError::new(format!("buttons[{i}].url"), why));
                        }
                    }
                    if let ButtonSpec::PhoneNumber { phone, .. } = b {
                        let digits = phone.trim_start_matches('+');
                        if digits.len() < 8
                            || digits.len() > 20
                            || !digits.chars().all(|c| c.is_ascii_digit())
                        {
                            errors.push(FieldError::new(
                                format!("buttons[{i}].phone"),
                                "a phone number with country code, e.g. +525512345678",
                            ));
                        }
                    }
                }
            }
        }
        if let Some(text) = &self.text {
            if text.trim().is_empty() || text.chars().count() > 1024 {
                errors.push(FieldError::new("text", "1-1024 characters"));
            } else if let Some(why) = placeholder_problem(text, self.body.len()) {
                errors.push(FieldError::new("text", why));
            }
        }
        if !self.examples.is_empty() && self.examples.len() != self.body.len() {
            errors.push(FieldError::new(
                "examples",
                format!("one example per body parameter ({})", self.body.len()),
            ));
        }
        if let Some(h) = &self.header_text {
            if self.header != Some(HeaderKind::Text) {
                errors.push(FieldError::new("header_text", "only for header: text"));
            } else if h.trim().is_empty() || h.chars().count() > 60 {
                errors.push(FieldError::new("header_text", "1-60 characters"));
            } else if placeholders(h).iter().any(|n| *n != 1) {
                errors.push(FieldError::new(
                    "header_text",
                    "at most the placeholder {{1}}",
                ));
            }
        }
        if self
            .footer
            .as_ref()
            .is_some_and(|f| f.trim().is_empty() || f.chars().count() > 60)
        {
            errors.push(FieldError::new("footer", "1-60 characters"));
        }
        for (i, t) in self.translations.iter().enumerate() {
            let field = |f: &str| format!("translations[{i}].{f}");
            if t.language == self.language
                || self.translations[..i]
                    .iter()
                    .any(|o| o.language == t.language)
            {
                errors.push(FieldError::new(
                    field("language"),
                    "repeats another language",
                ));
            }
            if !valid_language(&t.language) {
                errors.push(FieldError::new(
                    field("language"),
                    "a locale code such as en_US",
                ));
            }
            if t.text.trim().is_empty() || t.text.chars().count() > 1024 {
                errors.push(FieldError::new(field("text"), "1-1024 characters"));
            } else if let Some(why) = placeholder_problem(&t.text, self.body.len()) {
                errors.push(FieldError::new(field("text"), why));
            }
            if !t.button_texts.is_empty() && t.button_texts.len() != self.buttons.len() {
                errors.push(FieldError::new(
                    field("button_texts"),
                    format!("one label per button ({})", self.buttons.len()),
                ));
            }
        }
        if self.keywords.len() > MAX_KEYWORDS {
            errors.push(FieldError::new(
                "keywords",
                format!("at most {MAX_KEYWORDS}"),
            ));
        }
        for (i, k) in self.keywords.iter().enumerate() {
            let norm = normalize_keyword(&k.keyword);
            if norm.is_empty() || norm.len() > 40 {
                errors.push(FieldError::new(
                    format!("keywords[{i}].keyword"),
                    "1-40 characters with a letter or digit",
                ));
            }
            if matches!(norm.as_str(), "baja" | "stop" | "alto" | "alta") {
                errors.push(FieldError::new(
                    format!("keywords[{i}].keyword"),
                    "reserved: opting out and in always works",
                ));
            }
            if self.keywords[..i]
                .iter()
                .any(|o| normalize_keyword(&o.keyword) == norm)
            {
                errors.push(FieldError::new(
                    format!("keywords[{i}].keyword"),
                    "repeats another keyword",
                ));
            }
            if k.actions.is_empty() && k.reply.is_none() {
                errors.push(FieldError::new(
                    format!("keywords[{i}].actions"),
                    "at least one action or a reply",
                ));
            }
        }
        if self.details.as_ref().is_some_and(|d| d.len() > 4096) {
            errors.push(FieldError::new("details", "at most 4096 characters"));
        }
        errors
    }

    /// The quick reply with this payload.
    pub fn quick_reply(&self, payload: &str) -> Option<(&[ReplyAction], Option<&str>)> {
        self.buttons.iter().find_map(|b| match b {
            ButtonSpec::QuickReply {
                payload: p,
                actions,
                reply,
                ..
            } if p == payload => Some((actions.as_slice(), reply.as_deref())),
            _ => None,
        })
    }

    /// The keyword the whole text matches, if any.
    pub fn keyword(&self, text: &str) -> Option<&KeywordSpec> {
        let norm = normalize_keyword(text);
        self.keywords
            .iter()
            .find(|k| normalize_keyword(&k.keyword) == norm)
    }

    /// Whether the template exists in `language` (its main language or a translation).
    pub(crate) fn has_language(&self, language: &str) -> bool {
        self.language == language || self.translations.iter().any(|t| t.language == language)
    }

    /// Every language of the template, the main one first.
    pub fn languages(&self) -> Vec<&str> {
        std::iter::once(self.language.as_str())
            .chain(self.translations.iter().map(|t| t.language.as_str()))
            .collect()
    }

    /// The buttons' labels (for Meta) in one language.
    pub fn button_texts(&self, language: &str) -> Vec<String> {
        let own: Vec<String> = self.buttons.iter().map(|b| b.text().to_owned()).collect();
        match self.translations.iter().find(|t| t.language == language) {
            Some(t) if !t.button_texts.is_empty() => t.button_texts.clone(),
            _ => own,
        }
    }

    /// How many URL buttons take a target per notification.
    pub(crate) fn url_buttons(&self) -> usize {
        self.buttons
            .iter()
            .filter(|b| matches!(b, ButtonSpec::Url { .. }))
            .count()
    }
}

/// A parameter value checked against its type and written as the customer reads it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Rendered {
    /// Ready to send.
    Text(String),
    /// A target URL to be replaced by a tracked link.
    Link(String),
}

/// Checks `value` against `kind`; the reason is for the caller.
pub(crate) fn render(kind: ParamType, value: &Value) -> Result<Rendered, String> {
    match kind {
        ParamType::Text => {
            let s = value.as_str().ok_or("a string")?;
            check_text(s)?;
            Ok(Rendered::Text(s.to_owned()))
        }
        ParamType::Number => match value {
            Value::Number(n) if n.is_i64() => Ok(Rendered::Text(n.to_string())),
            Value::String(s)
                if !s.is_empty() && s.len() <= 30 && s.chars().all(|c| c.is_ascii_digit()) =>
            {
                Ok(Rendered::Text(s.clone()))
            }
            _ => Err("an integer".into()),
        },
        ParamType::Currency => match value.as_i64() {
            Some(c) => Ok(Rendered::Text(Centavos(c).display_mxn())),
            None => Err("integer centavos (125000 is $1,250.00)".into()),
        },
        ParamType::Date => {
            let s = value.as_str().ok_or("a date as YYYY-MM-DD")?;
            let d = NaiveDate::parse_from_str(s, "%Y-%m-%d")
                .map_err(|_| "a date as YYYY-MM-DD".to_owned())?;
            Ok(Rendered::Text(d.format("%d/%m/%Y").to_string()))
        }
        ParamType::Url => {
            let s = value.as_str().ok_or("an https URL")?;
            check_target(s)?;
            Ok(Rendered::Link(s.to_owned()))
        }
    }
}

/// Meta refuses template parameters with new lines, tabs or more than four consecutive spaces.
fn check_text(s: &str) -> Result<(), String> {
    if s.trim().is_empty() {
        return Err("a non-empty string".into());
    }
    if s.chars().count() > MAX_PARAM_CHARS {
        return Err(format!("at most {MAX_PARAM_CHARS} characters"));
    }
    if s.contains(['\n', '\t', '\r']) || s.contains("     ") {
        return Err("one line without tabs or runs of 5 spaces (Meta refuses them)".into());
    }
    Ok(())
}

/// Stores a new template; 409 when the name is taken.
pub async fn create(table: &TenantTable, def: &TemplateDef) -> Result<(), AppError> {
    let errors = def.problems();
    if !errors.is_empty() {
        return Err(AppError::Validation(errors));
    }
    match table.put(item(def)?, Some(Condition::NotExists)).await {
        Ok(()) => Ok(()),
        Err(StoreError::ConditionFailed { .. }) => Err(AppError::Conflict(format!(
            "template {} exists; PUT /v1/templates/{} replaces it",
            def.name, def.name
        ))),
        Err(e) => Err(e.into()),
    }
}

/// Replaces (or creates) a template; what Meta said about it stays.
pub async fn replace(table: &TenantTable, def: &TemplateDef) -> Result<(), AppError> {
    let errors = def.problems();
    if !errors.is_empty() {
        return Err(AppError::Validation(errors));
    }
    let mut update = Update::new().set("doc", item_doc(def)?);
    // Languages the template no longer has lose their status.
    if let Some(old) = table.get(&key(&def.name)).await? {
        for (name, _) in old.attrs.iter() {
            if let Some(language) = name.strip_prefix(META_PREFIX) {
                if !def.has_language(language) {
                    update = update.remove(name.as_str());
                }
            }
        }
    }
    table.update(&key(&def.name), update, None).await?;
    Ok(())
}

/// The attribute prefix of Meta's status of one language (`meta_es_MX`): one attribute per
/// language, so two webhooks about two languages never overwrite each other.
const META_PREFIX: &str = "meta_";

fn item_doc(def: &TemplateDef) -> Result<String, AppError> {
    serde_json::to_string(def).map_err(|e| AppError::Internal(e.into()))
}

fn statuses_of(item: &Item) -> MetaStatuses {
    item.attrs
        .iter()
        .filter_map(|(name, value)| {
            let language = name.strip_prefix(META_PREFIX)?;
            let status = serde_json::from_str(value.as_s()?).ok()?;
            Some((language.to_owned(), status))
        })
        .collect()
}

/// One template and what Meta says about each of its languages.
pub(crate) async fn get_with_statuses(
    table: &TenantTable,
    name: &str,
) -> Result<Option<(TemplateDef, MetaStatuses)>, AppError> {
    if !valid_name(name) {
        return Ok(None);
    }
    let Some(item) = table.get(&key(name)).await? else {
        return Ok(None);
    };
    let def = serde_json::from_str(item.get_s("doc").unwrap_or("{}"))
        .map_err(|e| AppError::Internal(e.into()))?;
    Ok(Some((def, statuses_of(&item))))
}

/// Records what Meta says about one language of a template (`change` edits the current status);
/// `false` when the template is not registered here.
pub(crate) async fn set_status(
    table: &TenantTable,
    name: &str,
    language: &str,
    change: impl FnOnce(&mut MetaStatus),
) -> Result<bool, AppError> {
    let Some((def, statuses)) = get_with_statuses(table, name).await? else {
        return Ok(false);
    };
    if !def.has_language(language) {
        return Ok(false);
    }
    let mut status = statuses.get(language).cloned().unwrap_or_default();
    change(&mut status);
    let doc = serde_json::to_string(&status).map_err(|e| AppError::Internal(e.into()))?;
    table
        .update(
            &key(name),
            Update::new().set(format!("{META_PREFIX}{language}"), doc),
            Some(Condition::Exists),
        )
        .await?;
    Ok(true)
}

/// The template as the API shows it: its definition and `meta`, Meta's status per language.
pub fn view(def: &TemplateDef, statuses: &MetaStatuses) -> Value {
    let mut out = serde_json::to_value(def).unwrap_or(Value::Null);
    let shown: serde_json::Map<String, Value> = statuses
        .iter()
        .map(|(language, s)| {
            let mut v = serde_json::to_value(s).unwrap_or(Value::Null);
            v["status"] = Value::String(s.status.to_lowercase());
            (language.clone(), v)
        })
        .collect();
    out["meta"] = Value::Object(shown);
    out
}

/// Every template with its statuses, by name.
pub(crate) async fn list_with_statuses(
    table: &TenantTable,
) -> Result<Vec<(TemplateDef, MetaStatuses)>, AppError> {
    let mut out = Vec::new();
    let mut cursor = None;
    loop {
        let page = table
            .query(
                Query::partition(crate::platform::schema::TEMPLATES)
                    .prefix(crate::platform::schema::TEMPLATE_PREFIX)
                    .after(cursor),
            )
            .await?;
        for i in &page.items {
            let def = serde_json::from_str(i.get_s("doc").unwrap_or("{}"))
                .map_err(|e| AppError::Internal(e.into()))?;
            out.push((def, statuses_of(i)));
        }
        match page.cursor {
            Some(c) => cursor = Some(c),
            None => return Ok(out),
        }
    }
}

fn item(def: &TemplateDef) -> Result<Item, AppError> {
    let doc = serde_json::to_string(def).map_err(|e| AppError::Internal(e.into()))?;
    Ok(Item::new(&key(&def.name)).with("doc", doc))
}

/// One template.
pub async fn get(table: &TenantTable, name: &str) -> Result<Option<TemplateDef>, AppError> {
    if !valid_name(name) {
        return Ok(None);
    }
    table
        .get(&key(name))
        .await?
        .map(|i| {
            serde_json::from_str(i.get_s("doc").unwrap_or("{}"))
                .map_err(|e| AppError::Internal(e.into()))
        })
        .transpose()
}

/// Every template of the merchant, by name.
pub async fn list(table: &TenantTable) -> Result<Vec<TemplateDef>, AppError> {
    let mut out = Vec::new();
    let mut cursor = None;
    loop {
        let page = table
            .query(
                Query::partition(crate::platform::schema::TEMPLATES)
                    .prefix(crate::platform::schema::TEMPLATE_PREFIX)
                    .after(cursor),
            )
            .await?;
        for i in &page.items {
            out.push(
                serde_json::from_str(i.get_s("doc").unwrap_or("{}"))
                    .map_err(|e| AppError::Internal(e.into()))?,
            );
        }
        match page.cursor {
            Some(c) => cursor = Some(c),
            None => return Ok(out),
        }
    }
}

/// Removes a template; notifications already sent keep their records.
pub async fn delete(table: &TenantTable, name: &str) -> Result<(), AppError> {
    if !valid_name(name) {
        return Err(AppError::NotFound("template".into()));
    }
    match table.delete(&key(name), Some(Condition::Exists)).await {
        Ok(_) => Ok(()),
        Err(StoreError::ConditionFailed { .. }) => Err(AppError::NotFound("template".into())),
        Err(e) => Err(e.into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn fraud() -> TemplateDef {
        serde_json::from_value(json!({
            "name": "alerta_fraude", "category": "utility",
            "body": [{"name": "monto", "type": "currency"}, {"name": "comercio", "type": "text"}],
            "buttons": [{"type": "quick_reply", "text": "No fui yo", "payload": "NO_FUI_YO", "actions": ["webhook", "human"]}],
            "keywords": [{"keyword": "No fui yo", "actions": ["webhook"]}, {"keyword": "detalles", "actions": ["details"]}]
        }))
        .expect("template")
    }

    #[test]
    fn keywords_match_without_accents_case_or_punctuation() {
        let t = fraud();
        assert!(t.keyword("¡NO FUI YO!").is_some());
        assert!(t.keyword("  no   fui yó ").is_some());
        assert!(t.keyword("Detalles.").is_some());
        assert!(t.keyword("no fui yo, fue mi hijo").is_none());
        assert_eq!(
            t.quick_reply("NO_FUI_YO").map(|(a, _)| a.to_vec()),
            Some(vec![ReplyAction::Webhook, ReplyAction::Human])
        );
    }

    #[test]
    fn parameters_are_checked_by_type() {
        assert_eq!(
            render(ParamType::Currency, &json!(125050)),
            Ok(Rendered::Text("$1,250.50".into()))
        );
        assert!(render(ParamType::Currency, &json!(1250.5)).is_err());
        assert!(render(ParamType::Currency, &json!("$1,250.50")).is_err());
        assert_eq!(
            render(ParamType::Date, &json!("2026-11-21")),
            Ok(Rendered::Text("21/11/2026".into()))
        );
        assert!(render(ParamType::Date, &json!("21/11/2026")).is_err());
        assert!(render(ParamType::Text, &json!("dos\nlíneas")).is_err());
        assert!(render(ParamType::Number, &json!("12a")).is_err());
        assert!(render(ParamType::Url, &json!("http://example.com")).is_err());
        assert_eq!(
            render(ParamType::Url, &json!("https://banco.mx/kyc")),
            Ok(Rendered::Link("https://banco.mx/kyc".into()))
        );
    }

    #[test]
    fn bad_templates_say_what_is_wrong() {
        let mut t = fraud();
        t.name = "Alerta Fraude".into();
        t.keywords.push(KeywordSpec {
            keyword: "BAJA".into(),
            actions: vec![ReplyAction::Webhook],
            reply: None,
        });
        let fields: Vec<String> = t.problems().into_iter().map(|e| e.field).collect();
        assert_eq!(fields, ["name", "keywords[2].keyword"]);
    }
}
