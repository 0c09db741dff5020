//! Experiments: the same notification in two to five variants (templates that take the same
//! parameters), each customer getting one variant by a stable split (`mostrador_core::experiments`),
//! and a report per variant with a significance test on the metric that decides.
//!
//! A notification asks for `"experiment": "prestamo-dic"` instead of a template; the variant is
//! chosen from the customer and the experiment's name, so a retried or repeated request gets the
//! same variant. Each notification counts in its variant's daily counters (report dimension
//! `Experiment`, named `{experiment}~{variant}`), besides its template's and campaign's.

use super::send::NotificationRequest;
use super::templates::{self, TemplateDef};
use crate::platform::error::{AppError, FieldError};
use crate::platform::schema;
use crate::platform::tenant::TenantTable;
use mostrador_store::{Condition, Item, Query, Table};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;

/// What decides an experiment: the share of sent notifications that reached this step.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Metric {
    Read,
    Replied,
    Clicked,
    Documented,
    Paid,
    Converted,
}

impl Metric {
    /// The report counter the metric reads.
    pub fn counter(self) -> &'static str {
        match self {
            Metric::Read => "read",
            Metric::Replied => "replied",
            Metric::Clicked => "clicked",
            Metric::Documented => "documented",
            Metric::Paid => "paid",
            Metric::Converted => "converted",
        }
    }
}

/// One variant: a template and its share of recipients.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Variant {
    /// A short name (`a`, `b`, `boton-corto`): letters, digits, `_` or `-`.
    pub name: String,
    pub template: String,
    /// Its share, in percent; the variants' weights add up to 100.
    pub weight: u32,
}

/// An experiment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Experiment {
    /// Letters, digits, `_` or `-` (1-64).
    pub name: String,
    /// The first is the control the others are compared with.
    pub variants: Vec<Variant>,
    #[serde(default = "default_metric")]
    pub metric: Metric,
    /// An ended experiment takes no more notifications.
    #[serde(default)]
    pub ended: bool,
}

fn default_metric() -> Metric {
    Metric::Converted
}

fn valid_name(s: &str, max: usize) -> bool {
    !s.is_empty()
        && s.len() <= max
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
}

impl Experiment {
    /// The variant a recipient gets (the same one every time).
    pub(crate) fn variant_for(&self, to: &str) -> Option<&Variant> {
        let recipient = mostrador_core::phone::customer_id(to).unwrap_or_else(|| to.to_owned());
        let weights: Vec<u32> = self.variants.iter().map(|v| v.weight).collect();
        mostrador_core::experiments::assign(&self.name, &recipient, &weights)
            .and_then(|i| self.variants.get(i))
    }

    /// The counters' name of a variant.
    pub fn label(&self, variant: &Variant) -> String {
        format!("{}~{}", self.name, variant.name)
    }

    fn problems(&self, templates: &HashMap<String, Option<TemplateDef>>) -> Vec<FieldError> {
        let mut errors = Vec::new();
        if !valid_name(&self.name, 64) {
            errors.push(FieldError::new("name", "1-64 letters, digits, _ or -"));
        }
        if !(2..=5).contains(&self.variants.len()) {
            errors.push(FieldError::new("variants", "2 to 5 variants"));
        }
        let total: u32 = self.variants.iter().map(|v| v.weight).sum();
        if total != 100 {
            errors.push(FieldError::new(
                "variants",
                format!("the weights add up to 100 (percent); they add up to {total}"),
            ));
        }
        let mut first: Option<&TemplateDef> = None;
        for (i, v) in self.variants.iter().enumerate() {
            let field = |f: &str| format!("variants[{i}].{f}");
            if !valid_name(&v.name, 32) {
                errors.push(FieldError::new(
                    field("name"),
                    "1-32 letters, digits, _ or -",
                ));
            }
            if self.variants[..i].iter().any(|o| o.name == v.name) {
                errors.push(FieldError::new(field("name"), "repeated"));
            }
            if v.weight == 0 {
                errors.push(FieldError::new(field("weight"), "at least 1"));
            }
            let Some(Some(t)) = templates.get(&v.template) else {
                errors.push(FieldError::new(
                    field("template"),
                    format!(
                        "unknown template {:?}: register it with POST /v1/templates",
                        v.template
                    ),
                ));
                continue;
            };
            match first {
                None => first = Some(t),
                // One request must fit every variant: the same parameters, header, URL buttons
                // and category.
                Some(f) => {
                    if f.body != t.body
                        || f.header != t.header
                        || f.url_buttons() != t.url_buttons()
                        || f.category != t.category
                    {
                        errors.push(FieldError::new(
                            field("template"),
                            format!(
                                "takes other parameters, header, URL buttons or category than {}: every variant must fit the same request",
                                f.name
                            ),
                        ));
                    }
                }
            }
        }
        errors
    }
}

/// Creates an experiment (409 when the name is taken).
pub async fn create(table: &TenantTable, experiment: &Experiment) -> Result<(), AppError> {
    let mut found = HashMap::new();
    for v in &experiment.variants {
        if !found.contains_key(&v.template) {
            let t = if templates::valid_name(&v.template) {
                templates::get(table, &v.template).await?
            } else {
                None
            };
            found.insert(v.template.clone(), t);
        }
    }
    let errors = experiment.problems(&found);
    if !errors.is_empty() {
        return Err(AppError::Validation(errors));
    }
    let doc = serde_json::to_string(experiment).map_err(|e| AppError::Internal(e.into()))?;
    match table
        .put(
            Item::new(&schema::experiment(&experiment.name)).with("doc", doc),
            Some(Condition::NotExists),
        )
        .await
    {
        Ok(()) => Ok(()),
        Err(e) if e.is_condition_failed() => Err(AppError::Conflict(format!(
            "an experiment named {} exists",
            experiment.name
        ))),
        Err(e) => Err(e.into()),
    }
}

/// An experiment by name.
pub async fn get(table: &TenantTable, name: &str) -> Result<Option<Experiment>, AppError> {
    if !valid_name(name, 64) {
        return Ok(None);
    }
    match table.get(&schema::experiment(name)).await? {
        Some(item) => serde_json::from_str(item.get_s("doc").unwrap_or("null"))
            .map(Some)
            .map_err(|e| AppError::Internal(e.into())),
        None => Ok(None),
    }
}

/// Every experiment of the merchant.
pub async fn list(table: &TenantTable) -> Result<Vec<Experiment>, AppError> {
    let mut out = Vec::new();
    let mut cursor = None;
    loop {
        let page = table
            .query(Query::partition(schema::EXPERIMENTS).after(cursor))
            .await?;
        for item in &page.items {
            if let Some(e) = item.get_s("doc").and_then(|d| serde_json::from_str(d).ok()) {
                out.push(e);
            }
        }
        match page.cursor {
            Some(c) => cursor = Some(c),
            None => return Ok(out),
        }
    }
}

/// Ends an experiment: it takes no more notifications; its report stays.
pub async fn end(table: &TenantTable, name: &str) -> Result<Experiment, AppError> {
    let mut experiment = get(table, name)
        .await?
        .ok_or_else(|| AppError::NotFound("experiment".into()))?;
    experiment.ended = true;
    let doc = serde_json::to_string(&experiment).map_err(|e| AppError::Internal(e.into()))?;
    table
        .put(
            Item::new(&schema::experiment(name)).with("doc", doc),
            Some(Condition::Exists),
        )
        .await?;
    Ok(experiment)
}

/// Experiments read while checking one request (a bulk request names the same ones many times).
pub type Cache = HashMap<String, Option<Experiment>>;

/// Picks the request's template: its own, or — when it names an experiment — the variant the
/// customer gets, recording the variant's label on the request.
pub async fn resolve(
    table: &TenantTable,
    req: &mut NotificationRequest,
    cache: &mut Cache,
) -> Result<Vec<FieldError>, AppError> {
    let Some(name) = req.experiment.clone() else {
        if req.template.is_empty() {
            return Ok(vec![FieldError::new(
                "template",
                "a registered template's name (or an experiment)",
            )]);
        }
        return Ok(Vec::new());
    };
    if !cache.contains_key(&name) {
        cache.insert(name.clone(), get(table, &name).await?);
    }
    let Some(experiment) = cache.get(&name).and_then(Option::as_ref) else {
        return Ok(vec![FieldError::new(
            "experiment",
            format!("unknown experiment {name:?}: create it with POST /v1/experiments"),
        )]);
    };
    if experiment.ended {
        return Ok(vec![FieldError::new(
            "experiment",
            format!("experiment {name} has ended"),
        )]);
    }
    let Some(variant) = experiment.variant_for(&req.to) else {
        return Ok(vec![FieldError::new(
            "experiment",
            "has no variant to send",
        )]);
    };
    if !req.template.is_empty() && req.template != variant.template {
        return Ok(vec![FieldError::new(
            "template",
            "give a template or an experiment, not both",
        )]);
    }
    req.template = variant.template.clone();
    req.variant = Some(experiment.label(variant));
    Ok(Vec::new())
}
