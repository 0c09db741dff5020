//! Accepting a notification: the request checked against the template registry (parameter count and
//! types, header, URL buttons), the recipient against consent and the daily caps, then one
//! transaction that stores the notification, its tracked links and — for a future `send_at` — its due
//! entry; an immediate one goes on the outbound queue. Anything refused leaves nothing queued.
//!
//! The same idempotency key always names the same notification: a repeat answers the stored one, a
//! different payload under a used key is refused.

use super::links::LinkBase;
use super::stats::{self, Milestone};
use super::templates::{
    self, ButtonSpec, HeaderKind, ParamType, Rendered, TemplateCategory, TemplateDef,
};
use crate::parties::consent::{self, Refusal};
use crate::parties::customers;
use crate::parties::messages::{Category, OutboundEnvelope};
use crate::parties::notification_settings::{self, NotificationSettings};
use crate::parties::settings::{self as whatsapp_settings, WhatsAppSettings};
use crate::platform::due::Job;
use crate::platform::error::{AppError, FieldError};
use crate::platform::tenant::{MerchantId, TenantTable};
use crate::platform::Deps;
use chrono::{DateTime, Utc};
use mostrador_core::phone::customer_id;
use mostrador_queue::OutgoingMessage;
use mostrador_store::{CancelReason, Condition, Item, Key, StoreError, Table, TxOp, Update};
use mostrador_whatsapp::client::{
    BodyParameter, Content, MediaSource, OutgoingMessage as CloudMessage, Template, TemplateButton,
    TemplateHeader,
};
use rand::RngCore;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

/// Largest metadata object (JSON bytes) kept with a notification.
mod commit;
mod view;

pub use commit::accept;
pub(crate) use commit::{check_recipient, commit_many, count_refusal, sending_number};
pub(crate) use view::view_of;
pub use view::{cancel, view};

pub const MAX_METADATA_BYTES: usize = 2048;
/// How far ahead a notification may be scheduled.
pub const MAX_SCHEDULE_DAYS: i64 = 60;

/// What the notification is about; decides its category (fraud alerts are security) and checks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    TransactionAlert,
    AccountStatement,
    LoanPreapproval,
    KycReminder,
    PaymentReminder,
    FraudAlert,
    #[default]
    Other,
}

impl Kind {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::TransactionAlert => "transaction_alert",
            Kind::AccountStatement => "account_statement",
            Kind::LoanPreapproval => "loan_preapproval",
            Kind::KycReminder => "kyc_reminder",
            Kind::PaymentReminder => "payment_reminder",
            Kind::FraudAlert => "fraud_alert",
            Kind::Other => "other",
        }
    }
}

/// A media header: an uploaded media id or an https link.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct MediaInput {
    pub link: Option<String>,
    pub id: Option<String>,
    pub filename: Option<String>,
}

/// The header's value, for templates with a variable or media header.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct HeaderInput {
    pub text: Option<String>,
    pub document: Option<MediaInput>,
    pub image: Option<MediaInput>,
}

/// `POST /v1/notifications`.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct NotificationRequest {
    /// The customer's WhatsApp id (`52…` or `521…`).
    pub to: String,
    /// A registered template's name (or leave it out and name an `experiment`).
    #[serde(default)]
    pub template: String,
    /// An experiment whose variant the customer gets picks the template.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub experiment: Option<String>,
    /// The template's language to send (its main language when absent; or a translation's).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub language: Option<String>,
    /// The variant picked (`{experiment}~{variant}`), set by [`super::experiments::resolve`].
    #[serde(skip)]
    pub variant: Option<String>,
    /// The body parameters: an array in order, or an object by parameter name.
    #[serde(default)]
    pub parameters: Value,
    #[serde(default)]
    pub header: Option<HeaderInput>,
    /// Targets of the template's URL buttons, in order (each becomes a tracked link).
    #[serde(default)]
    pub button_urls: Vec<String>,
    /// When to send (RFC 3339); absent: now.
    #[serde(default)]
    pub send_at: Option<DateTime<Utc>>,
    #[serde(default)]
    pub idempotency_key: Option<String>,
    /// The merchant's own data (a card or account reference), returned in events and reports.
    #[serde(default)]
    pub metadata: Value,
    #[serde(default)]
    pub kind: Kind,
    #[serde(default)]
    pub campaign: Option<String>,
    /// What the `details` action answers (e.g. the transaction's place and time).
    #[serde(default)]
    pub details: Option<String>,
    /// The branch whose WhatsApp number sends it (default: the first with a number).
    #[serde(default)]
    pub branch_id: Option<String>,
}

/// Why a notification was not accepted.
#[derive(Debug)]
pub enum NotifyError {
    /// The request has invalid fields (422).
    Invalid(Vec<FieldError>),
    /// Consent forbids it (422 with the refusal's code).
    Consent(Refusal),
    /// The customer's daily cap is reached (429).
    Cap(&'static str),
    /// The idempotency key was used for another payload (409).
    KeyReused,
    /// The template is not approved by Meta in that language (422).
    NotApproved(String),
    /// Anything else.
    Api(AppError),
}

impl From<AppError> for NotifyError {
    fn from(e: AppError) -> Self {
        NotifyError::Api(e)
    }
}

impl From<StoreError> for NotifyError {
    fn from(e: StoreError) -> Self {
        NotifyError::Api(e.into())
    }
}

impl NotifyError {
    /// The error code and reason, as listed in bulk progress.
    pub fn reason(&self) -> (String, String) {
        match self {
            NotifyError::Invalid(f) => (
                "validation_failed".into(),
                f.iter()
                    .map(|e| format!("{}: {}", e.field, e.reason))
                    .collect::<Vec<_>>()
                    .join("; "),
            ),
            NotifyError::Consent(r) => (r.code().into(), r.message().into()),
            NotifyError::Cap(c) => ((*c).into(), "the customer's daily cap is reached".into()),
            NotifyError::KeyReused => (
                "idempotency_key_reused".into(),
                "the key was used for a different notification".into(),
            ),
            NotifyError::NotApproved(why) => ("template_not_approved".into(), why.clone()),
            NotifyError::Api(e) => (e.code().into(), e.to_string()),
        }
    }
}

/// A checked notification, ready to store and send.
#[derive(Debug, Clone)]
pub struct Draft {
    pub id: String,
    pub to: String,
    pub template: String,
    pub category: Category,
    pub kind: Kind,
    pub message: CloudMessage,
    /// Tracked links: (code, target).
    pub links: Vec<(String, String)>,
    /// Epoch ms of a future send.
    pub send_at_ms: Option<i64>,
    pub day: String,
    pub campaign: Option<String>,
    pub metadata: String,
    pub details: Option<String>,
    /// The experiment variant it belongs to (`{experiment}~{variant}`).
    pub variant: Option<String>,
    /// The template's language it goes in.
    pub language: String,
    /// Hash of the request, to tell a repeat from a reused key.
    pub fingerprint: String,
}

/// What the caller gets back.
#[derive(Debug, Clone, Serialize)]
pub struct Accepted {
    pub id: String,
    pub status: String,
    pub category: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub send_at: Option<String>,
    /// True when this answers a repeat of an accepted request.
    pub replayed: bool,
}

/// The notification id for a merchant's idempotency key, or a fresh one.
pub fn notification_id(deps: &Deps, merchant: &MerchantId, key: Option<&str>) -> String {
    match key {
        Some(k) => {
            let d = hex::encode(Sha256::digest(format!("{merchant}:{k}").as_bytes()));
            format!("{}{}", super::ID_PREFIX, &d[..26])
        }
        None => format!(
            "{}{}",
            super::ID_PREFIX,
            crate::parties::merchants::new_id(deps).to_lowercase()
        ),
    }
}

/// The id of a bulk's `index`-th notification when the item has no idempotency key of its own:
/// the bulk's moment, the item's position, then a digest of both (the same on every run of its
/// chunk). A bulk's notifications thus sort in the request's order and their records sit side by
/// side in the table, where writing them touches few pages. `None` when `bulk_id` carries no
/// moment (then [`notification_id`] of `{bulk_id}:{index}`).
pub fn bulk_notification_id(merchant: &MerchantId, bulk_id: &str, index: i64) -> Option<String> {
    let at = mostrador_core::ids::sortable_id_time(bulk_id.strip_prefix("blk")?)?;
    let digest = Sha256::digest(format!("{merchant}:{bulk_id}:{index}").as_bytes());
    let id = mostrador_core::ids::sequenced_id(at, u32::try_from(index).ok()?, &digest)?;
    Some(format!("{}{}", super::ID_PREFIX, id.to_lowercase()))
}

/// A fresh tracked link's code (80 random bits): what [`draft`] is given in production.
pub(crate) fn link_code() -> String {
    let mut b = [0u8; 10];
    rand::thread_rng().fill_bytes(&mut b);
    hex::encode(b)
}

/// Checks a request against its template and builds the message; no I/O. The id, the time and the
/// tracked links' codes (`link_codes`, [`link_code`] in production) are given.
pub(crate) fn draft(
    req: &NotificationRequest,
    template: Option<&TemplateDef>,
    id: String,
    links_at: &LinkBase,
    now: DateTime<Utc>,
    link_codes: &mut dyn FnMut() -> String,
) -> Result<Draft, Vec<FieldError>> {
    let mut errors = Vec::new();
    let to = customer_id(&req.to);
    if to.is_none() {
        errors.push(FieldError::new(
            "to",
            "not a WhatsApp id (digits with country code, or a username's id such as MX.1502576394655843)",
        ));
    }
    if let Some(k) = &req.idempotency_key {
        if k.is_empty() || k.len() > 200 {
            errors.push(FieldError::new("idempotency_key", "1-200 characters"));
        }
    }
    let metadata = match &req.metadata {
        Value::Null => "{}".to_owned(),
        Value::Object(_) => req.metadata.to_string(),
        _ => {
            errors.push(FieldError::new("metadata", "a JSON object"));
            String::new()
        }
    };
    if metadata.len() > MAX_METADATA_BYTES {
        errors.push(FieldError::new(
            "metadata",
            format!("at most {MAX_METADATA_BYTES} bytes of JSON"),
        ));
    }
    if let Some(c) = &req.campaign {
        if c.is_empty()
            || c.len() > 64
            || !c
                .chars()
                .all(|ch| ch.is_ascii_alphanumeric() || ch == '_' || ch == '-')
        {
            errors.push(FieldError::new("campaign", "1-64 letters, digits, _ or -"));
        }
    }
    if req
        .details
        .as_ref()
        .is_some_and(|d| d.trim().is_empty() || d.len() > 4096)
    {
        errors.push(FieldError::new("details", "1-4096 characters"));
    }
    let send_at_ms = match req.send_at {
        Some(t) if t < now - chrono::Duration::seconds(60) => {
            errors.push(FieldError::new(
                "send_at",
                "is in the past; omit it to send now",
            ));
            None
        }
        Some(t) if t > now + chrono::Duration::days(MAX_SCHEDULE_DAYS) => {
            errors.push(FieldError::new(
                "send_at",
                format!("at most {MAX_SCHEDULE_DAYS} days ahead"),
            ));
            None
        }
        Some(t) if t > now + chrono::Duration::seconds(5) => Some(t.timestamp_millis()),
        _ => None,
    };
    let Some(template) = template else {
        errors.push(FieldError::new(
            "template",
            format!(
                "unknown template {:?}: register it with POST /v1/templates",
                req.template
            ),
        ));
        return Err(errors);
    };
    let category = match (req.kind, template.category) {
        (Kind::FraudAlert, TemplateCategory::Marketing) => {
            errors.push(FieldError::new(
                "kind",
                "a fraud alert cannot use a marketing template",
            ));
            Category::Security
        }
        (Kind::FraudAlert, _) => Category::Security,
        (_, c) => c.sending_category(),
    };
    if req.kind == Kind::AccountStatement && template.header != Some(HeaderKind::Document) {
        errors.push(FieldError::new(
            "template",
            "an account statement needs a template with a document header",
        ));
    }
    let language = req
        .language
        .clone()
        .unwrap_or_else(|| template.language.clone());
    if !template.has_language(&language) {
        errors.push(FieldError::new(
            "language",
            format!(
                "template {} is in {}",
                template.name,
                template.languages().join(", ")
            ),
        ));
    }
    let mut links = Vec::new();
    let mut body = Vec::new();
    let names: Vec<&str> = template.body.iter().map(|p| p.name.as_str()).collect();
    let values: Vec<(String, Option<&Value>)> = match &req.parameters {
        Value::Null => template
            .body
            .iter()
            .map(|p| (p.name.clone(), None))
            .collect(),
        Value::Array(given) => {
            if given.len() != template.body.len() {
                errors.push(FieldError::new(
                    "parameters",
                    format!(
                        "template {} takes {} parameters ({}); got {}",
                        template.name,
                        template.body.len(),
                        names.join(", "),
                        given.len()
                    ),
                ));
            }
            template
                .body
                .iter()
                .enumerate()
                .map(|(i, p)| (format!("parameters[{i}] ({})", p.name), given.get(i)))
                .collect()
        }
        Value::Object(given) => {
            for k in given.keys() {
                if !names.contains(&k.as_str()) {
                    errors.push(FieldError::new(
                        format!("parameters.{k}"),
                        format!(
                            "template {} has no such parameter ({})",
                            template.name,
                            names.join(", ")
                        ),
                    ));
                }
            }
            template
                .body
                .iter()
                .map(|p| (format!("parameters.{}", p.name), given.get(&p.name)))
                .collect()
        }
        _ => {
            errors.push(FieldError::new(
                "parameters",
                "an array in order or an object by name",
            ));
            Vec::new()
        }
    };
    for ((field, value), spec) in values.iter().zip(&template.body) {
        let Some(value) = value else {
            if !matches!(req.parameters, Value::Array(_)) {
                errors.push(FieldError::new(field.clone(), "missing"));
            }
            continue;
        };
        match templates::render(spec.kind, value) {
            Ok(Rendered::Text(t)) => body.push(BodyParameter::positional(t)),
            Ok(Rendered::Link(target)) => {
                let code = link_codes();
                body.push(BodyParameter::positional(links_at.url(&code)));
                links.push((code, target));
            }
            Err(why) => errors.push(FieldError::new(
                field.clone(),
                format!("{} parameter: {why}", type_name(spec.kind)),
            )),
        }
    }
    let header = header_of(template, req.header.as_ref(), &mut errors);
    let mut buttons = Vec::new();
    let url_buttons = template.url_buttons();
    if req.button_urls.len() != url_buttons {
        errors.push(FieldError::new(
            "button_urls",
            format!(
                "template {} has {url_buttons} URL buttons; got {} targets",
                template.name,
                req.button_urls.len()
            ),
        ));
    }
    let mut targets = req.button_urls.iter();
    for (index, b) in template.buttons.iter().enumerate() {
        let index = u8::try_from(index).unwrap_or(u8::MAX);
        match b {
            ButtonSpec::QuickReply { payload, .. } => buttons.push(TemplateButton::QuickReply {
                index,
                payload: payload.clone(),
            }),
            ButtonSpec::Url { .. } => {
                if let Some(target) = targets.next() {
                    match crate::platform::urls::check_target(target) {
                        Ok(()) => {
                            let code = link_codes();
                            buttons.push(TemplateButton::Url {
                                index,
                                text: code.clone(),
                            });
                            links.push((code, target.clone()));
                        }
                        Err(why) => errors.push(FieldError::new("button_urls", why)),
                    }
                }
            }
            // Fixed buttons take nothing per notification.
            ButtonSpec::StaticUrl { .. } | ButtonSpec::PhoneNumber { .. } => {}
        }
    }
    let Some(to) = to else { return Err(errors) };
    if !errors.is_empty() {
        return Err(errors);
    }
    let message = CloudMessage::new(
        to.clone(),
        Content::Template(Template {
            name: template.name.clone(),
            language: language.clone(),
            header,
            body,
            buttons,
        }),
    );
    if let Err(e) = message.validate() {
        return Err(vec![FieldError::new("template", e.to_string())]);
    }
    let send_day = send_at_ms
        .and_then(DateTime::from_timestamp_millis)
        .unwrap_or(now);
    let fingerprint = hex::encode(Sha256::digest(serde_json::to_vec(req).unwrap_or_default()));
    Ok(Draft {
        id,
        to,
        template: template.name.clone(),
        category,
        kind: req.kind,
        message,
        links,
        send_at_ms,
        day: super::mx_day(send_day),
        campaign: req.campaign.clone(),
        metadata,
        details: req.details.clone(),
        variant: req.variant.clone(),
        language,
        fingerprint,
    })
}

fn type_name(kind: ParamType) -> &'static str {
    match kind {
        ParamType::Text => "text",
        ParamType::Number => "number",
        ParamType::Currency => "currency",
        ParamType::Date => "date",
        ParamType::Url => "url",
    }
}

fn header_of(
    template: &TemplateDef,
    given: Option<&HeaderInput>,
    errors: &mut Vec<FieldError>,
) -> Option<TemplateHeader> {
    let media = |m: Option<&MediaInput>, what: &str, errors: &mut Vec<FieldError>| {
        let Some(m) = m else {
            errors.push(FieldError::new(
                format!("header.{what}"),
                format!(
                    "template {} has a {what} header: give its link or media id",
                    template.name
                ),
            ));
            return None;
        };
        match (&m.link, &m.id) {
            (Some(link), None) => match crate::platform::urls::check_target(link) {
                Ok(()) => Some(MediaSource::Link(link.clone())),
                Err(why) => {
                    errors.push(FieldError::new(format!("header.{what}.link"), why));
                    None
                }
            },
            (None, Some(id))
                if !id.is_empty()
                    && id.len() <= 64
                    && id.chars().all(|c| c.is_ascii_alphanumeric()) =>
            {
                Some(MediaSource::Id(id.clone()))
            }
            _ => {
                errors.push(FieldError::new(
                    format!("header.{what}"),
                    "exactly one of link (https) or id (uploaded media)",
                ));
                None
            }
        }
    };
    match (template.header, given) {
        (None, None) => None,
        (None, Some(_)) => {
            errors.push(FieldError::new(
                "header",
                format!("template {} has no variable header", template.name),
            ));
            None
        }
        (Some(HeaderKind::Text), g) => match g.and_then(|h| h.text.as_ref()) {
            Some(t) if !t.trim().is_empty() && t.chars().count() <= 60 => {
                Some(TemplateHeader::Text(t.clone()))
            }
            _ => {
                errors.push(FieldError::new("header.text", "1-60 characters"));
                None
            }
        },
        (Some(HeaderKind::Document), g) => {
            let doc = g.and_then(|h| h.document.as_ref());
            let filename = doc.and_then(|d| d.filename.clone());
            if filename
                .as_ref()
                .is_some_and(|f| f.is_empty() || f.len() > 240 || f.contains(['/', '\\']))
            {
                errors.push(FieldError::new(
                    "header.document.filename",
                    "a file name of 1-240 characters",
                ));
            }
            media(doc, "document", errors).map(|media| TemplateHeader::Document { media, filename })
        }
        (Some(HeaderKind::Image), g) => media(g.and_then(|h| h.image.as_ref()), "image", errors)
            .map(|media| TemplateHeader::Image { media }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn a_bulks_ids_follow_its_order_and_are_the_same_on_every_run() {
        let merchant = MerchantId::try_from("mfarmacia".to_owned()).expect("merchant");
        let bulk = format!(
            "blk{}",
            mostrador_core::ids::sortable_id(
                Utc.timestamp_millis_opt(1_795_262_400_250).unwrap(),
                [3; 10]
            )
            .to_lowercase()
        );
        let ids: Vec<String> = (0..300)
            .map(|i| bulk_notification_id(&merchant, &bulk, i).expect("id"))
            .collect();
        let mut sorted = ids.clone();
        sorted.sort();
        assert_eq!(ids, sorted, "in the request's order");
        assert!(ids
            .iter()
            .all(|id| id.starts_with(crate::notifications::ID_PREFIX)
                && id.len() == crate::notifications::ID_PREFIX.len() + 26));
        assert_eq!(
            bulk_notification_id(&merchant, &bulk, 7).as_ref(),
            ids.get(7)
        );
        let other = MerchantId::try_from("motra".to_owned()).expect("merchant");
        assert_ne!(bulk_notification_id(&other, &bulk, 7).as_ref(), ids.get(7));
        assert_eq!(bulk_notification_id(&merchant, "blk-not-sortable", 7), None);
        assert_eq!(bulk_notification_id(&merchant, &bulk, -1), None);
    }

    fn kyc() -> TemplateDef {
        serde_json::from_value(json!({
            "name": "kyc_recordatorio", "category": "utility",
            "body": [{"name": "nombre", "type": "text"}, {"name": "liga", "type": "url"}],
            "buttons": [{"type": "url", "text": "Subir INE"}]
        }))
        .expect("template")
    }

    fn request(v: Value) -> NotificationRequest {
        serde_json::from_value(v).expect("request")
    }

    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 12, 6, 18, 0, 0).unwrap()
    }

    fn counter() -> impl FnMut() -> String {
        let mut n = 0;
        move || {
            n += 1;
            format!("code{n}")
        }
    }

    fn fields(errors: &[FieldError]) -> Vec<&str> {
        errors.iter().map(|e| e.field.as_str()).collect()
    }

    #[test]
    fn links_get_the_given_codes_on_the_senders_domain() {
        let req = request(json!({
            "to": "5215512345678", "template": "kyc_recordatorio", "kind": "kyc_reminder",
            "parameters": ["Ana", "https://banco.mx/kyc/1"],
            "button_urls": ["https://banco.mx/kyc/ine"],
            "metadata": {"cliente": "c-1"}
        }));
        let links_at = LinkBase::new(Some("https://go.banco.mx"), "http://localhost:3000");
        let d = draft(
            &req,
            Some(&kyc()),
            "n1".into(),
            &links_at,
            now(),
            &mut counter(),
        )
        .expect("a valid request");
        assert_eq!(d.id, "n1");
        assert_eq!(d.to, "525512345678", "521… is the same customer as 52…");
        assert_eq!(
            d.links,
            vec![
                ("code1".to_owned(), "https://banco.mx/kyc/1".to_owned()),
                ("code2".to_owned(), "https://banco.mx/kyc/ine".to_owned())
            ]
        );
        let wire = serde_json::to_string(&d.message).expect("json");
        assert!(wire.contains("https://go.banco.mx/l/code1"), "{wire}");
        assert!(
            !wire.contains("banco.mx/kyc/1"),
            "the target is behind the tracked link"
        );
        assert_eq!(d.send_at_ms, None);
        assert_eq!(d.metadata, r#"{"cliente":"c-1"}"#);
        // The same request drafted again has the same fingerprint, whatever codes it got.
        let again = draft(
            &req,
            Some(&kyc()),
            "n1".into(),
            &links_at,
            now(),
            &mut || "x".into(),
        )
        .expect("valid");
        assert_eq!(again.fingerprint, d.fingerprint);
    }

    #[test]
    fn every_problem_of_a_request_is_named_at_once() {
        let req = request(json!({
            "to": "12", "template": "kyc_recordatorio",
            "parameters": ["Ana"], "button_urls": [],
            "metadata": [1], "campaign": "con espacios",
            "send_at": (now() - chrono::Duration::hours(1)).to_rfc3339()
        }));
        let links_at = LinkBase::new(None, "http://localhost:3000");
        let errors = draft(
            &req,
            Some(&kyc()),
            "n1".into(),
            &links_at,
            now(),
            &mut counter(),
        )
        .expect_err("invalid");
        let f = fields(&errors);
        for field in [
            "to",
            "metadata",
            "campaign",
            "send_at",
            "parameters",
            "button_urls",
        ] {
            assert!(f.contains(&field), "{field} in {f:?}");
        }
    }

    #[test]
    fn unknown_templates_bad_types_and_far_schedules_are_refused() {
        let links_at = LinkBase::new(None, "http://localhost:3000");
        let req = request(json!({ "to": "5215512345678", "template": "nada", "parameters": [] }));
        let errors =
            draft(&req, None, "n1".into(), &links_at, now(), &mut counter()).expect_err("unknown");
        assert_eq!(fields(&errors), ["template"]);

        let req = request(json!({
            "to": "5215512345678", "template": "kyc_recordatorio",
            "parameters": {"nombre": "Ana", "liga": "http://inseguro.mx"},
            "button_urls": ["https://banco.mx/ine"],
            "send_at": (now() + chrono::Duration::days(MAX_SCHEDULE_DAYS + 1)).to_rfc3339()
        }));
        let errors = draft(
            &req,
            Some(&kyc()),
            "n1".into(),
            &links_at,
            now(),
            &mut counter(),
        )
        .expect_err("invalid");
        let f = fields(&errors);
        assert!(f.contains(&"parameters.liga"), "https only: {f:?}");
        assert!(f.contains(&"send_at"), "{f:?}");

        let req = request(json!({
            "to": "5215512345678", "template": "kyc_recordatorio",
            "parameters": ["Ana", "https://banco.mx/kyc"], "button_urls": ["https://banco.mx/ine"],
            "send_at": (now() + chrono::Duration::hours(2)).to_rfc3339()
        }));
        let d = draft(
            &req,
            Some(&kyc()),
            "n1".into(),
            &links_at,
            now(),
            &mut counter(),
        )
        .expect("valid");
        assert_eq!(
            d.send_at_ms,
            Some((now() + chrono::Duration::hours(2)).timestamp_millis())
        );
    }
}
