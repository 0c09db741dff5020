//! Templates in Meta: created and submitted for review from the registry, imported from the
//! WhatsApp Business Account, and kept current by Meta's webhooks — status
//! (`message_template_status_update`: approved, rejected with its reason, paused, disabled…),
//! quality (`message_template_quality_update`) and category (`template_category_update`, which
//! also changes how the template is sent: a template Meta moves to marketing needs marketing
//! consent from then on). Each language of a template is its own template in Meta, reviewed on its
//! own; sends of a language that is not approved are refused (see `super::templates::not_sendable`).
//!
//! Graph API: `POST /{version}/{waba_id}/message_templates` (create, answered `{id, status,
//! category}`) and `GET /{version}/{waba_id}/message_templates?fields=…` (paged by
//! `paging.cursors.after`), with the merchant's access token.

use super::templates::{
    self, ButtonSpec, HeaderKind, MetaStatus, ParamSpec, ParamType, TemplateCategory, TemplateDef,
    Translation,
};
use crate::parties::settings;
use crate::platform::error::{AppError, FieldError};
use crate::platform::schema;
use crate::platform::tenant::{MerchantId, TenantTable};
use crate::platform::Deps;
use serde_json::{json, Value};
use std::collections::BTreeMap;

/// Templates listed per page when importing.
const PAGE: u32 = 100;
/// Pages read at most in one import (10,000 templates: more than Meta lets one account have).
const MAX_PAGES: u32 = 100;

/// The merchant a WhatsApp Business Account belongs to.
pub(crate) async fn merchant_of_account(
    deps: &Deps,
    waba_id: &str,
) -> Result<Option<MerchantId>, AppError> {
    if waba_id.is_empty() || waba_id.len() > 32 || !waba_id.chars().all(|c| c.is_ascii_digit()) {
        return Ok(None);
    }
    Ok(crate::platform::tenant::claim_holder(
        deps.table.as_ref(),
        &schema::business_account(waba_id),
    )
    .await?)
}

/// What a Graph call needs: the account and the token.
struct Account {
    waba_id: String,
    token: crate::platform::config::Secret,
}

async fn account(deps: &Deps, table: &TenantTable) -> Result<Account, AppError> {
    let wa = settings::load(table).await?;
    let Some(waba_id) = wa.business_account_id else {
        return Err(AppError::Validation(vec![FieldError::new(
            "business_account_id",
            "primero guarda el id de tu cuenta de WhatsApp Business (PUT /v1/settings/whatsapp con business_account_id)",
        )]));
    };
    let Some(token) = settings::access_token(deps, table.merchant()).await? else {
        return Err(AppError::Validation(vec![FieldError::new(
            "access_token",
            "primero guarda el token de acceso de la Cloud API (PUT /v1/settings/whatsapp con access_token)",
        )]));
    };
    Ok(Account { waba_id, token })
}

fn templates_url(deps: &Deps, waba_id: &str) -> String {
    format!(
        "{}/{}/{}/message_templates",
        deps.config.graph_api_base, deps.config.graph_api_version, waba_id
    )
}

/// Meta's answer to a management call: the JSON body, or the error as the caller should see it
/// (Meta's own words for what it refused; retry later for its outages).
async fn answer(response: reqwest::Response) -> Result<Value, AppError> {
    let status = response.status();
    let body: Value = response.json().await.unwrap_or(Value::Null);
    if status.is_success() {
        return Ok(body);
    }
    let error = &body["error"];
    let message = error["error_user_msg"]
        .as_str()
        .or_else(|| error["message"].as_str())
        .unwrap_or("refused")
        .to_owned();
    if status.as_u16() == 429 || status.is_server_error() {
        return Err(AppError::Unavailable(format!(
            "Meta answered {status}: {message}; try again later"
        )));
    }
    if error["code"].as_i64() == Some(190) || status.as_u16() == 401 {
        return Err(AppError::Validation(vec![FieldError::new(
            "access_token",
            format!("Meta refused the access token: {message}"),
        )]));
    }
    Err(AppError::Validation(vec![FieldError::new(
        "meta",
        format!("Meta refused it ({status}): {message}"),
    )]))
}

fn category_name(c: TemplateCategory) -> &'static str {
    match c {
        TemplateCategory::Utility => "UTILITY",
        TemplateCategory::Marketing => "MARKETING",
        TemplateCategory::Authentication => "AUTHENTICATION",
    }
}

fn category_of(name: &str) -> Option<TemplateCategory> {
    match name.to_ascii_uppercase().as_str() {
        "UTILITY" => Some(TemplateCategory::Utility),
        "MARKETING" => Some(TemplateCategory::Marketing),
        "AUTHENTICATION" => Some(TemplateCategory::Authentication),
        _ => None,
    }
}

/// The components Meta reviews for one language of a template. `link_base` is where tracked
/// links live (`https://go.banco.mx`): URL buttons are approved as `{link_base}/l/{{1}}`.
pub fn components(
    def: &TemplateDef,
    language: &str,
    link_base: &str,
) -> Result<Vec<Value>, Vec<FieldError>> {
    let mut errors = Vec::new();
    let translation = def.translations.iter().find(|t| t.language == language);
    let text = translation
        .map(|t| t.text.clone())
        .or_else(|| def.text.clone());
    let Some(text) = text else {
        return Err(vec![FieldError::new(
            "text",
            "falta el texto del cuerpo con {{1}}… para enviarla a revisión de Meta",
        )]);
    };
    if !def.body.is_empty() && def.examples.len() != def.body.len() {
        errors.push(FieldError::new(
            "examples",
            "falta un ejemplo por cada parámetro del cuerpo: Meta los revisa",
        ));
    }
    let mut out = Vec::new();
    match def.header {
        None => {}
        Some(HeaderKind::Text) => {
            let header = translation
                .and_then(|t| t.header_text.clone())
                .or_else(|| def.header_text.clone());
            match header {
                Some(h) if h.contains("{{1}}") => match &def.header_example {
                    Some(example) => out.push(json!({ "type": "HEADER", "format": "TEXT", "text": h,
                        "example": { "header_text": [example] } })),
                    None => errors.push(FieldError::new(
                        "header_example",
                        "an example for the header's {{1}}",
                    )),
                },
                Some(h) => out.push(json!({ "type": "HEADER", "format": "TEXT", "text": h })),
                None => errors.push(FieldError::new(
                    "header_text",
                    "the text header's words are needed to submit it",
                )),
            }
        }
        Some(HeaderKind::Document | HeaderKind::Image) => errors.push(FieldError::new(
            "header",
            "templates with a document or image header need a sample file uploaded to Meta: create them in WhatsApp Manager and import them (POST /v1/templates/import)",
        )),
    }
    let mut body = json!({ "type": "BODY", "text": text });
    if !def.examples.is_empty() {
        body["example"] = json!({ "body_text": [def.examples] });
    }
    out.push(body);
    let footer = translation
        .and_then(|t| t.footer.clone())
        .or_else(|| def.footer.clone());
    if let Some(f) = footer {
        out.push(json!({ "type": "FOOTER", "text": f }));
    }
    let labels = def.button_texts(language);
    let buttons: Vec<Value> = def
        .buttons
        .iter()
        .zip(&labels)
        .map(|(b, label)| match b {
            ButtonSpec::QuickReply { .. } => json!({ "type": "QUICK_REPLY", "text": label }),
            ButtonSpec::Url { .. } => json!({ "type": "URL", "text": label,
                "url": format!("{link_base}/l/{{{{1}}}}"),
                "example": [format!("{link_base}/l/3f9a1c7e2b")] }),
            ButtonSpec::StaticUrl { url, .. } => {
                json!({ "type": "URL", "text": label, "url": url })
            }
            ButtonSpec::PhoneNumber { phone, .. } => {
                json!({ "type": "PHONE_NUMBER", "text": label, "phone_number": phone })
            }
        })
        .collect();
    if !buttons.is_empty() {
        out.push(json!({ "type": "BUTTONS", "buttons": buttons }));
    }
    if errors.is_empty() {
        Ok(out)
    } else {
        Err(errors)
    }
}

/// `POST /v1/templates/{name}/submit`: creates the template in Meta for review in each of its
/// languages not yet submitted (or rejected, after the merchant fixed it here); answers the
/// template with Meta's status per language.
pub async fn submit(deps: &Deps, table: &TenantTable, name: &str) -> Result<Value, AppError> {
    let (def, statuses) = templates::get_with_statuses(table, name)
        .await?
        .ok_or_else(|| AppError::NotFound("template".into()))?;
    let account = account(deps, table).await?;
    let link_base = {
        let settings = crate::parties::notification_settings::load(table).await?;
        settings
            .link_host
            .unwrap_or_else(|| deps.config.public_url().trim_end_matches('/').to_owned())
    };
    let due: Vec<String> = def
        .languages()
        .into_iter()
        .filter(|l| {
            statuses
                .get(*l)
                .is_none_or(|s| s.id.is_none() || s.status == "REJECTED")
        })
        .map(str::to_owned)
        .collect();
    if due.is_empty() {
        return Err(AppError::Conflict(
            "todos los idiomas de esta plantilla ya están en Meta; su estado llega por webhook"
                .into(),
        ));
    }
    // Every language is checked before any is sent.
    let mut bodies = Vec::new();
    for language in &due {
        let components = components(&def, language, &link_base).map_err(AppError::Validation)?;
        bodies.push((
            language.clone(),
            json!({ "name": def.name, "language": language,
                "category": category_name(def.category), "components": components }),
        ));
    }
    let now = deps.clock.now_secs();
    for (language, body) in bodies {
        let response = deps
            .http
            .post(templates_url(deps, &account.waba_id))
            .bearer_auth(account.token.expose())
            .json(&body)
            .send()
            .await
            .map_err(|e| AppError::Unavailable(format!("Meta: {e}")))?;
        let created = answer(response).await?;
        let id = created["id"]
            .as_str()
            .map(str::to_owned)
            .or_else(|| created["id"].as_i64().map(|n| n.to_string()));
        let status = created["status"].as_str().unwrap_or("PENDING").to_owned();
        let category = created["category"].as_str().map(str::to_owned);
        templates::set_status(table, &def.name, &language, |s| {
            *s = MetaStatus {
                id,
                status,
                reason: None,
                quality: None,
                category,
                updated_at: now,
            };
        })
        .await?;
        tracing::info!(merchant = %table.merchant(), template = %def.name, %language, "template submitted to Meta");
    }
    let (def, statuses) = templates::get_with_statuses(table, name)
        .await?
        .ok_or_else(|| AppError::NotFound("template".into()))?;
    Ok(templates::view(&def, &statuses))
}

/// One template as Meta lists it, read into the registry's terms.
struct Remote {
    id: Option<String>,
    name: String,
    language: String,
    status: String,
    category: Option<TemplateCategory>,
    category_name: Option<String>,
    reason: Option<String>,
    quality: Option<String>,
    text: Option<String>,
    examples: Vec<String>,
    header: Option<HeaderKind>,
    header_text: Option<String>,
    header_example: Option<String>,
    footer: Option<String>,
    buttons: Vec<ButtonSpec>,
}

fn remote(t: &Value) -> Option<Remote> {
    let name = t["name"].as_str()?.to_owned();
    let language = t["language"].as_str()?.to_owned();
    let mut r = Remote {
        id: t["id"].as_str().map(str::to_owned),
        name,
        language,
        status: t["status"]
            .as_str()
            .unwrap_or("PENDING")
            .to_ascii_uppercase(),
        category: t["category"].as_str().and_then(category_of),
        category_name: t["category"].as_str().map(str::to_owned),
        reason: t["rejected_reason"]
            .as_str()
            .filter(|r| *r != "NONE")
            .map(str::to_owned),
        quality: t["quality_score"]["score"]
            .as_str()
            .or_else(|| t["quality_score"].as_str())
            .map(str::to_owned),
        text: None,
        examples: Vec::new(),
        header: None,
        header_text: None,
        header_example: None,
        footer: None,
        buttons: Vec::new(),
    };
    for c in t["components"].as_array().into_iter().flatten() {
        match c["type"]
            .as_str()
            .unwrap_or("")
            .to_ascii_uppercase()
            .as_str()
        {
            "HEADER" => match c["format"]
                .as_str()
                .unwrap_or("")
                .to_ascii_uppercase()
                .as_str()
            {
                "TEXT" => {
                    let text = c["text"].as_str().unwrap_or("").to_owned();
                    if text.contains("{{1}}") {
                        r.header = Some(HeaderKind::Text);
                        r.header_example =
                            c["example"]["header_text"][0].as_str().map(str::to_owned);
                    }
                    r.header_text = Some(text);
                }
                "DOCUMENT" => r.header = Some(HeaderKind::Document),
                "IMAGE" => r.header = Some(HeaderKind::Image),
                _ => {}
            },
            "BODY" => {
                r.text = c["text"].as_str().map(str::to_owned);
                r.examples = c["example"]["body_text"][0]
                    .as_array()
                    .map(|a| {
                        a.iter()
                            .filter_map(|v| v.as_str().map(str::to_owned))
                            .collect()
                    })
                    .unwrap_or_default();
            }
            "FOOTER" => r.footer = c["text"].as_str().map(str::to_owned),
            "BUTTONS" => {
                for b in c["buttons"].as_array().into_iter().flatten() {
                    let text = b["text"].as_str().unwrap_or("").to_owned();
                    let spec = match b["type"]
                        .as_str()
                        .unwrap_or("")
                        .to_ascii_uppercase()
                        .as_str()
                    {
                        "QUICK_REPLY" => ButtonSpec::QuickReply {
                            payload: text.clone(),
                            text,
                            actions: Vec::new(),
                            reply: None,
                        },
                        "URL" => {
                            let url = b["url"].as_str().unwrap_or("").to_owned();
                            if url.contains("{{1}}") {
                                ButtonSpec::Url { text }
                            } else {
                                ButtonSpec::StaticUrl { text, url }
                            }
                        }
                        "PHONE_NUMBER" => ButtonSpec::PhoneNumber {
                            text,
                            phone: b["phone_number"].as_str().unwrap_or("").to_owned(),
                        },
                        // Copy-code, one-time-password and flow buttons are not sent from here.
                        _ => return None,
                    };
                    r.buttons.push(spec);
                }
            }
            _ => {}
        }
    }
    Some(r)
}

/// What an import did.
#[derive(Debug, Default, serde::Serialize)]
pub struct Imported {
    /// Templates registered here for the first time.
    pub created: Vec<String>,
    /// Templates registered before whose words and statuses were brought up to date (their
    /// actions, keywords and parameter names stay as the merchant set them).
    pub updated: Vec<String>,
    /// Templates not imported, with why.
    pub skipped: Vec<Value>,
}

/// `POST /v1/templates/import`: every template of the WhatsApp Business Account, each language
/// with Meta's status. The merchant's language comes first when a name has several (`es_MX`).
pub async fn import(deps: &Deps, table: &TenantTable) -> Result<Imported, AppError> {
    let account = account(deps, table).await?;
    let mut all: Vec<Remote> = Vec::new();
    let mut skipped = Vec::new();
    let mut after: Option<String> = None;
    for _ in 0..MAX_PAGES {
        let mut request = deps
            .http
            .get(templates_url(deps, &account.waba_id))
            .bearer_auth(account.token.expose())
            .query(&[
                (
                    "fields",
                    "id,name,language,status,category,components,rejected_reason,quality_score",
                ),
                ("limit", &PAGE.to_string()),
            ]);
        if let Some(a) = &after {
            request = request.query(&[("after", a.as_str())]);
        }
        let page = answer(
            request
                .send()
                .await
                .map_err(|e| AppError::Unavailable(format!("Meta: {e}")))?,
        )
        .await?;
        for t in page["data"].as_array().into_iter().flatten() {
            match remote(t) {
                Some(r) if templates::valid_name(&r.name) => all.push(r),
                _ => skipped.push(json!({
                    "name": t["name"], "language": t["language"],
                    "why": "uses buttons or a format mostrador does not send (copy code, one-time password, flow)",
                })),
            }
        }
        after = page["paging"]["cursors"]["after"]
            .as_str()
            .filter(|_| page["paging"]["next"].is_string())
            .map(str::to_owned);
        if after.is_none() {
            break;
        }
    }
    let mut by_name: BTreeMap<String, Vec<Remote>> = BTreeMap::new();
    for r in all {
        by_name.entry(r.name.clone()).or_default().push(r);
    }
    let now = deps.clock.now_secs();
    let mut out = Imported {
        skipped,
        ..Imported::default()
    };
    for (name, mut versions) in by_name {
        let existing = templates::get_with_statuses(table, &name).await?;
        let primary_language = existing
            .as_ref()
            .map(|(d, _)| d.language.clone())
            .unwrap_or_else(|| "es_MX".into());
        versions.sort_by_key(|r| r.language != primary_language);
        let main = &versions[0];
        let Some(category) = main.category else {
            out.skipped
                .push(json!({ "name": name, "why": "an unknown category" }));
            continue;
        };
        let params = main.examples.len().max(
            main.text
                .as_deref()
                .map(templates::placeholders)
                .and_then(|p| p.into_iter().max())
                .unwrap_or(0) as usize,
        );
        let mut def = match &existing {
            // The merchant's own configuration stays; Meta's words and category are brought in.
            Some((d, _)) if d.body.len() == params && d.buttons.len() == main.buttons.len() => {
                d.clone()
            }
            _ => TemplateDef {
                name: name.clone(),
                language: main.language.clone(),
                category,
                header: main.header,
                body: (1..=params)
                    .map(|n| ParamSpec {
                        name: format!("p{n}"),
                        kind: ParamType::Text,
                    })
                    .collect(),
                buttons: main.buttons.clone(),
                keywords: Vec::new(),
                details: None,
                text: None,
                examples: Vec::new(),
                header_text: None,
                header_example: None,
                footer: None,
                translations: Vec::new(),
            },
        };
        def.language = main.language.clone();
        def.category = category;
        def.text = main.text.clone();
        def.examples = main.examples.clone();
        def.header_text = main
            .header_text
            .clone()
            .filter(|_| main.header == Some(HeaderKind::Text));
        def.header_example = main.header_example.clone();
        def.footer = main.footer.clone();
        def.translations = versions[1..]
            .iter()
            .map(|r| Translation {
                language: r.language.clone(),
                text: r.text.clone().unwrap_or_default(),
                header_text: r
                    .header_text
                    .clone()
                    .filter(|_| r.header == Some(HeaderKind::Text)),
                footer: r.footer.clone(),
                button_texts: r.buttons.iter().map(|b| b.text().to_owned()).collect(),
            })
            .collect();
        if let Err(AppError::Validation(problems)) = templates::replace(table, &def).await {
            out.skipped.push(json!({ "name": name, "why": problems
                .iter()
                .map(|p| format!("{}: {}", p.field, p.reason))
                .collect::<Vec<_>>()
                .join("; ") }));
            continue;
        }
        for r in &versions {
            templates::set_status(table, &name, &r.language, |s| {
                *s = MetaStatus {
                    id: r.id.clone(),
                    status: r.status.clone(),
                    reason: r.reason.clone(),
                    quality: r.quality.clone(),
                    category: r.category_name.clone(),
                    updated_at: now,
                };
            })
            .await?;
        }
        if existing.is_some() {
            out.updated.push(name);
        } else {
            out.created.push(name);
        }
    }
    tracing::info!(merchant = %table.merchant(), created = out.created.len(), updated = out.updated.len(), skipped = out.skipped.len(), "templates imported from Meta");
    Ok(out)
}

/// Applies one of Meta's template webhooks (`message_template_status_update`,
/// `message_template_quality_update`, `template_category_update`) for the account `waba_id`.
/// Returns whether a template here changed.
pub(crate) async fn apply_webhook(
    deps: &Deps,
    waba_id: &str,
    field: &str,
    value: &Value,
) -> Result<bool, AppError> {
    let Some(merchant) = merchant_of_account(deps, waba_id).await? else {
        tracing::warn!(field, "template webhook for an account no merchant has set");
        return Ok(false);
    };
    let table = TenantTable::of(deps, &merchant);
    let (Some(name), Some(language)) = (
        value["message_template_name"].as_str(),
        value["message_template_language"].as_str(),
    ) else {
        return Ok(false);
    };
    let id = value["message_template_id"]
        .as_str()
        .map(str::to_owned)
        .or_else(|| value["message_template_id"].as_i64().map(|n| n.to_string()));
    let now = deps.clock.now_secs();
    let changed = match field {
        "message_template_status_update" => {
            let Some(event) = value["event"].as_str() else {
                return Ok(false);
            };
            let reason = value["reason"]
                .as_str()
                .filter(|r| *r != "NONE")
                .map(str::to_owned)
                .or_else(|| value["other_info"]["title"].as_str().map(str::to_owned));
            templates::set_status(&table, name, language, |s| {
                s.status = event.to_ascii_uppercase();
                s.reason = reason;
                if id.is_some() {
                    s.id = id;
                }
                if let Some(c) = value["message_template_category"].as_str() {
                    s.category = Some(c.to_owned());
                }
                s.updated_at = now;
            })
            .await?
        }
        "message_template_quality_update" => {
            let Some(score) = value["new_quality_score"].as_str() else {
                return Ok(false);
            };
            templates::set_status(&table, name, language, |s| {
                s.quality = Some(score.to_owned());
                s.updated_at = now;
            })
            .await?
        }
        "template_category_update" => {
            let Some(new) = value["new_category"]
                .as_str()
                .or_else(|| value["correct_category"].as_str())
            else {
                return Ok(false);
            };
            let changed = templates::set_status(&table, name, language, |s| {
                s.category = Some(new.to_owned());
                s.updated_at = now;
            })
            .await?;
            // The template is sent under Meta's category from now on (consent, caps and price
            // follow it); only the main language decides.
            if let (true, Some(category)) = (changed, category_of(new)) {
                if let Some((mut def, _)) = templates::get_with_statuses(&table, name).await? {
                    if def.language == language && def.category != category {
                        def.category = category;
                        templates::replace(&table, &def).await?;
                        tracing::warn!(merchant = %merchant, template = %name, category = new, "Meta changed a template's category; it is sent as such from now on");
                    }
                }
            }
            changed
        }
        _ => false,
    };
    if changed {
        tracing::info!(merchant = %merchant, template = %name, %language, field, "template updated from Meta");
    }
    Ok(changed)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn template() -> TemplateDef {
        serde_json::from_value(json!({
            "name": "kyc_pendiente", "category": "utility",
            "body": [{ "name": "nombre", "type": "text" }, { "name": "liga", "type": "url" }],
            "text": "Hola {{1}}, completa tu verificación aquí: {{2}}",
            "examples": ["Mariana", "https://go.banco.mx/l/3f9a"],
            "footer": "Banco Tepeyac",
            "buttons": [{ "type": "quick_reply", "text": "Ya lo hice", "payload": "LISTO" },
                        { "type": "url", "text": "Verificar" }],
            "translations": [{ "language": "en_US", "text": "Hi {{1}}, finish your check here: {{2}}",
                "button_texts": ["Done", "Verify"] }]
        }))
        .expect("template")
    }

    #[test]
    fn components_carry_examples_and_the_link_hosts_url_button() {
        let c = components(&template(), "es_MX", "https://go.banco.mx").expect("components");
        assert_eq!(c[0]["type"], "BODY");
        assert_eq!(
            c[0]["example"]["body_text"][0][1],
            "https://go.banco.mx/l/3f9a"
        );
        assert_eq!(c[1], json!({ "type": "FOOTER", "text": "Banco Tepeyac" }));
        assert_eq!(c[2]["buttons"][1]["url"], "https://go.banco.mx/l/{{1}}");
        let en = components(&template(), "en_US", "https://go.banco.mx").expect("components");
        assert_eq!(en[0]["text"], "Hi {{1}}, finish your check here: {{2}}");
        assert_eq!(en[2]["buttons"][0]["text"], "Done");
    }

    #[test]
    fn a_template_without_its_words_or_examples_cannot_be_submitted() {
        let mut t = template();
        t.examples.clear();
        let fields: Vec<String> = components(&t, "es_MX", "https://x.mx")
            .expect_err("no examples")
            .into_iter()
            .map(|e| e.field)
            .collect();
        assert_eq!(fields, ["examples"]);
        t.text = None;
        assert!(components(&t, "es_MX", "https://x.mx").is_err());
    }

    #[test]
    fn metas_listing_reads_into_the_registry() {
        let r = remote(&json!({
            "id": "1234", "name": "promo_credito", "language": "es_MX", "status": "REJECTED",
            "category": "MARKETING", "rejected_reason": "INVALID_FORMAT",
            "components": [
                { "type": "HEADER", "format": "TEXT", "text": "Hola {{1}}", "example": { "header_text": ["Ana"] } },
                { "type": "BODY", "text": "Tienes {{1}} preaprobados", "example": { "body_text": [["$20,000"]] } },
                { "type": "BUTTONS", "buttons": [
                    { "type": "URL", "text": "Ver", "url": "https://banco.mx/l/{{1}}" },
                    { "type": "PHONE_NUMBER", "text": "Llamar", "phone_number": "+525512345678" } ] }
            ]
        }))
        .expect("read");
        assert_eq!(r.status, "REJECTED");
        assert_eq!(r.reason.as_deref(), Some("INVALID_FORMAT"));
        assert_eq!(r.header, Some(HeaderKind::Text));
        assert_eq!(r.examples, ["$20,000"]);
        assert!(matches!(r.buttons[0], ButtonSpec::Url { .. }));
        assert!(matches!(r.buttons[1], ButtonSpec::PhoneNumber { .. }));
        assert!(
            remote(&json!({ "name": "otp", "language": "es", "components": [
            { "type": "BUTTONS", "buttons": [{ "type": "OTP", "otp_type": "COPY_CODE" }] }] }))
            .is_none()
        );
    }
}
