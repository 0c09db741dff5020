//! Reports, read from counters kept for them (no scans): commerce per branch and day, notifications
//! per template or campaign and day; JSON or CSV.
//!
//! Commerce counters live under `RPT#B#{branch}` (sort key the Mexico City day): conversations (a
//! customer's first message of the day, marked once on `CUST#{wa}`/`CONVDAY#{day}`), orders placed
//! (in the order's own transaction), conversations that ordered (marked once on the same marker) and
//! the first-response histogram. Revenue and the payment-method mix are the day's paid sales the
//! payments path records (`SALES#{branch}#{day}`).

use crate::commerce::orders::Order;
use crate::notifications::stats::{self, histogram, median};
use crate::parties::messages::InboundEnvelope;
use crate::platform::error::{AppError, FieldError};
use crate::platform::tenant::{MerchantId, TenantTable};
use crate::platform::Deps;
use chrono::{DateTime, NaiveDate, Utc};
use futures::{StreamExt, TryStreamExt};
use mostrador_store::{Condition, Item, Key, Query, SortKey, StoreError, Table, TxOp, Update};
use serde::Deserialize;
use serde_json::{json, Map, Value};
use std::collections::BTreeMap;

/// Longest date range of one report.
pub const MAX_DAYS: i64 = 92;

fn branch_counters(branch: &str, day: &str) -> Key {
    crate::platform::schema::branch_counters(branch, day)
}

fn conversation_marker(
    table: &crate::platform::tenant::TenantTable,
    wa_id: &str,
    day: &str,
) -> Key {
    crate::platform::schema::conversation_day(&table.customer(wa_id), day)
}

/// A customer's first message of the day at a branch starts a conversation: counted once.
pub(crate) async fn count_conversation(
    deps: &Deps,
    table: &TenantTable,
    msg: &InboundEnvelope,
) -> Result<(), AppError> {
    let now = deps.clock.now();
    let day = crate::notifications::mx_day(now);
    let ops = vec![
        TxOp::Put {
            item: Item::new(&conversation_marker(table, &msg.wa_id, &day))
                .with("branch_id", msg.branch_id.as_str())
                .with("started_at", now.timestamp())
                .with("ttl", now.timestamp() + 3 * 86_400),
            condition: Some(Condition::NotExists),
        },
        TxOp::Update {
            key: branch_counters(&msg.branch_id, &day),
            update: Update::new().add("conversations", 1),
            condition: None,
        },
    ];
    match table.transact(ops).await {
        Ok(()) => Ok(()),
        Err(e) if e.is_condition_failed() => Ok(()),
        Err(e) => Err(e.into()),
    }
}

/// The branch's order count, for the order's own (unscoped) transaction.
pub(crate) fn order_placed_op(merchant: &MerchantId, order: &Order, now: DateTime<Utc>) -> TxOp {
    let day = crate::notifications::mx_day(now);
    TxOp::Update {
        key: crate::platform::schema::in_merchant(
            merchant,
            crate::platform::schema::branch_counters(&order.branch_id, &day),
        ),
        update: Update::new().add("orders", 1),
        condition: None,
    }
}

/// The customer's conversation of the day led to an order: counted once. Never fails the order.
pub(crate) async fn count_ordering_conversation(deps: &Deps, merchant: &MerchantId, order: &Order) {
    let table = TenantTable::of(deps, merchant);
    let day = crate::notifications::mx_day(deps.clock.now());
    let ops = vec![
        TxOp::Update {
            key: conversation_marker(&table, &order.wa_id, &day),
            update: Update::new().set("ordered", true),
            condition: Some(Condition::Exists.and(Condition::AttrNotExists("ordered".into()))),
        },
        TxOp::Update {
            key: branch_counters(&order.branch_id, &day),
            update: Update::new().add("ordering_conversations", 1),
            condition: None,
        },
    ];
    match table.transact(ops).await {
        Ok(()) => {}
        Err(e) if e.is_condition_failed() => {}
        Err(e) => {
            tracing::warn!(merchant = %merchant, order = %order.id, error = %e, "ordering conversation not counted")
        }
    }
}

/// Our first reply in the customer's conversation of the day: its delay goes in the branch's
/// first-response histogram, once. Never fails the send.
pub(crate) async fn count_first_response(table: &TenantTable, wa_id: &str, now: DateTime<Utc>) {
    let day = crate::notifications::mx_day(now);
    let result = async {
        let Some(marker) = table.get(&conversation_marker(table, wa_id, &day)).await? else {
            return Ok::<_, StoreError>(());
        };
        if marker.get("responded_at").is_some() {
            return Ok(());
        }
        let (Some(branch), Some(started)) = (marker.get_s("branch_id"), marker.get_n("started_at"))
        else {
            return Ok(());
        };
        let delay = (now.timestamp() - started).max(0);
        let ops = vec![
            TxOp::Update {
                key: conversation_marker(table, wa_id, &day),
                update: Update::new().set("responded_at", now.timestamp()),
                condition: Some(Condition::AttrNotExists("responded_at".into())),
            },
            TxOp::Update {
                key: branch_counters(branch, &day),
                update: Update::new()
                    .add("responded", 1)
                    .add(stats::bucket_attr("first_response", delay), 1),
                condition: None,
            },
        ];
        match table.transact(ops).await {
            Ok(()) => Ok(()),
            Err(e) if e.is_condition_failed() => Ok(()),
            Err(e) => Err(e),
        }
    }
    .await;
    if let Err(e) = result {
        tracing::warn!(error = %e, "first response not counted");
    }
}

/// Report parameters.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReportQuery {
    /// First day, `YYYY-MM-DD` (Mexico City); default: 6 days before `to`.
    pub from: Option<String>,
    /// Last day, inclusive; default: today.
    pub to: Option<String>,
    /// `json` (default) or `csv`.
    pub format: Option<String>,
    /// Notifications: `template` (default) or `campaign`.
    pub group_by: Option<String>,
    pub template: Option<String>,
    pub campaign: Option<String>,
    /// Commerce: one branch.
    pub branch_id: Option<String>,
}

impl ReportQuery {
    /// The checked day range.
    pub(crate) fn range(&self, now: DateTime<Utc>) -> Result<(NaiveDate, NaiveDate), AppError> {
        let parse = |v: &Option<String>, field: &str| -> Result<Option<NaiveDate>, AppError> {
            v.as_deref()
                .map(|d| {
                    NaiveDate::parse_from_str(d, "%Y-%m-%d").map_err(|_| {
                        AppError::Validation(vec![FieldError::new(field, "a date as YYYY-MM-DD")])
                    })
                })
                .transpose()
        };
        let today = now
            .with_timezone(&chrono_tz::America::Mexico_City)
            .date_naive();
        let to = parse(&self.to, "to")?.unwrap_or(today);
        let from = parse(&self.from, "from")?.unwrap_or(to - chrono::Duration::days(6));
        if from > to {
            return Err(AppError::Validation(vec![FieldError::new(
                "from",
                "must not be after to",
            )]));
        }
        if (to - from).num_days() >= MAX_DAYS {
            return Err(AppError::Validation(vec![FieldError::new(
                "from",
                format!("at most {MAX_DAYS} days per report"),
            )]));
        }
        Ok((from, to))
    }

    /// Whether CSV was asked for.
    pub fn csv(&self) -> Result<bool, AppError> {
        match self.format.as_deref() {
            None | Some("json") => Ok(false),
            Some("csv") => Ok(true),
            Some(_) => Err(AppError::Validation(vec![FieldError::new(
                "format",
                "json or csv",
            )])),
        }
    }
}

fn day_key(d: NaiveDate) -> String {
    d.format("%Y-%m-%d").to_string()
}

async fn all_items(table: &TenantTable, query: Query) -> Result<Vec<Item>, AppError> {
    let mut out = Vec::new();
    let mut cursor = None;
    loop {
        let page = table.query(query.clone().after(cursor)).await?;
        out.extend(page.items);
        match page.cursor {
            Some(c) => cursor = Some(c),
            None => return Ok(out),
        }
    }
}

fn rate(part: i64, whole: i64) -> Value {
    if whole == 0 {
        Value::Null
    } else {
        // Rounded to 4 decimals: 0.8333.
        json!(((part as f64 / whole as f64) * 10_000.0).round() / 10_000.0)
    }
}

/// The counters of one notification report row.
const FUNNEL: [&str; 11] = [
    "sent",
    "delivered",
    "read",
    "failed",
    "refused",
    "replied",
    "clicked",
    "link_clicks",
    "documented",
    "paid",
    "converted",
];

/// The estimated cost of a row: its billable deliveries per category at the merchant's rates.
fn cost_row(
    items: &[&Item],
    rates: &crate::parties::notification_settings::MessageRates,
) -> Map<String, Value> {
    let mut billable = BTreeMap::new();
    for category in mostrador_core::pricing::CATEGORIES {
        let n: i64 = items
            .iter()
            .map(|i| i.get_n(&format!("billable_{category}")).unwrap_or(0))
            .sum();
        if n > 0 {
            billable.insert(category.to_owned(), n.unsigned_abs());
        }
    }
    let cost = mostrador_core::pricing::estimate(&billable, &rates.by_category());
    let mut row = Map::new();
    row.insert("billable_by_category".into(), json!(billable));
    row.insert("estimated_cost".into(), json!(cost.display()));
    row.insert("cost_currency".into(), json!(rates.currency));
    row
}

fn funnel_row(items: &[&Item]) -> Map<String, Value> {
    let sum = |name: &str| -> i64 { items.iter().map(|i| i.get_n(name).unwrap_or(0)).sum() };
    let mut row = Map::new();
    for name in FUNNEL {
        row.insert(name.into(), json!(sum(name)));
    }
    row.insert("revenue_centavos".into(), json!(sum("revenue")));
    row.insert(
        "conversion_value_centavos".into(),
        json!(sum("conversion_value")),
    );
    let mut failed = BTreeMap::new();
    let mut refused = BTreeMap::new();
    for item in items {
        for (name, value) in &item.attrs {
            let Some(n) = value.as_n() else { continue };
            if let Some(code) = name.strip_prefix("failed_") {
                *failed.entry(code.to_owned()).or_insert(0) += n;
            } else if let Some(reason) = name.strip_prefix("refused_") {
                *refused.entry(reason.to_owned()).or_insert(0) += n;
            }
        }
    }
    row.insert("failed_by_code".into(), json!(failed));
    row.insert("refused_by_reason".into(), json!(refused));
    let sent = sum("sent");
    row.insert("delivery_rate".into(), rate(sum("delivered"), sent));
    row.insert("read_rate".into(), rate(sum("read"), sent));
    row.insert("reply_rate".into(), rate(sum("replied"), sent));
    row.insert("click_rate".into(), rate(sum("clicked"), sent));
    row.insert("conversion_rate".into(), rate(sum("converted"), sent));
    row.insert(
        "median_seconds_to_read".into(),
        json!(median(&histogram(items.iter().copied(), "read"))),
    );
    row
}

use crate::platform::schema::{self, ReportDimension};

/// The daily counters of one template, campaign or experiment variant, `from`..=`to`.
async fn daily_counters(
    table: &TenantTable,
    dimension: ReportDimension,
    name: &str,
    from: NaiveDate,
    to: NaiveDate,
) -> Result<Vec<Item>, AppError> {
    all_items(
        table,
        Query::partition(schema::report_counters(dimension, name))
            .sort(SortKey::Between(day_key(from), day_key(to))),
    )
    .await
}

/// `GET /v1/reports/notifications`: one row per template (or campaign) and day, and a total per
/// template (or campaign).
pub async fn notifications(
    table: &TenantTable,
    q: &ReportQuery,
    now: DateTime<Utc>,
) -> Result<Value, AppError> {
    let (from, to) = q.range(now)?;
    let rates = crate::parties::notification_settings::load(table)
        .await?
        .message_rates;
    let priced = |mut row: Map<String, Value>, items: &[&Item]| {
        row.extend(cost_row(items, &rates));
        row
    };
    let (prefix, dimension, only) = match q.group_by.as_deref() {
        None | Some("template") => (ReportDimension::Template, "template", q.template.as_deref()),
        Some("campaign") => (ReportDimension::Campaign, "campaign", q.campaign.as_deref()),
        Some(_) => {
            return Err(AppError::Validation(vec![FieldError::new(
                "group_by",
                "template or campaign",
            )]))
        }
    };
    let dims = all_items(
        table,
        Query::partition(schema::REPORT_DIMENSIONS).prefix(schema::report_dimension_prefix(prefix)),
    )
    .await?;
    let mut rows = Vec::new();
    let mut totals = Vec::new();
    let mut every: Vec<Item> = Vec::new();
    for dim in &dims {
        let Some(name) = dim
            .get_s("sk")
            .and_then(|s| s.strip_prefix(schema::report_dimension_prefix(prefix)))
        else {
            continue;
        };
        if only.is_some_and(|o| o != name) {
            continue;
        }
        let items = daily_counters(table, prefix, name, from, to).await?;
        if items.is_empty() {
            continue;
        }
        for item in &items {
            let mut row = Map::new();
            row.insert("day".into(), json!(item.get_s("sk")));
            row.insert(dimension.into(), json!(name));
            row.extend(funnel_row(&[item]));
            rows.push(Value::Object(priced(row, &[item])));
        }
        let mut total = Map::new();
        total.insert(dimension.into(), json!(name));
        let all: Vec<&Item> = items.iter().collect();
        total.extend(funnel_row(&all));
        totals.push(Value::Object(priced(total, &all)));
        every.extend(items);
    }
    // Every notification counts once under its template and once under its campaign (or "(sin
    // campaña)"), so the overall figures add up either grouping, not both.
    let all: Vec<&Item> = every.iter().collect();
    let overall = priced(funnel_row(&all), &all);
    Ok(json!({
        "from": day_key(from),
        "to": day_key(to),
        "group_by": dimension,
        "rows": rows,
        "totals": totals,
        "overall": overall,
    }))
}

/// `GET /v1/experiments/{name}/report`: each variant's funnel over the days asked, and each
/// variant compared with the control (the first) on the experiment's metric — the share of sent
/// notifications that reached it — by a two-proportion z-test: lift, z, p-value, and whether the
/// difference is significant at 95 %. With too few notifications the comparison says so instead.
pub async fn experiment(
    table: &TenantTable,
    experiment: &crate::notifications::experiments::Experiment,
    q: &ReportQuery,
    now: DateTime<Utc>,
) -> Result<Value, AppError> {
    let (from, to) = q.range(now)?;
    let rates = crate::parties::notification_settings::load(table)
        .await?
        .message_rates;
    let metric = experiment.metric.counter();
    let mut variants = Vec::new();
    let mut counts = Vec::new();
    for variant in &experiment.variants {
        let items = daily_counters(
            table,
            ReportDimension::Experiment,
            &experiment.label(variant),
            from,
            to,
        )
        .await?;
        let all: Vec<&Item> = items.iter().collect();
        let sum = |name: &str| -> i64 { all.iter().map(|i| i.get_n(name).unwrap_or(0)).sum() };
        let (sent, reached) = (sum("sent").max(0), sum(metric).max(0));
        counts.push((sent.unsigned_abs(), reached.unsigned_abs()));
        let mut row = Map::new();
        row.insert("variant".into(), json!(variant.name));
        row.insert("template".into(), json!(variant.template));
        row.insert("weight".into(), json!(variant.weight));
        row.extend(funnel_row(&all));
        row.extend(cost_row(&all, &rates));
        row.insert("metric_rate".into(), rate(reached, sent));
        variants.push(Value::Object(row));
    }
    let (control_n, control_s) = counts.first().copied().unwrap_or((0, 0));
    let mut comparisons = Vec::new();
    for (variant, (n, s)) in experiment.variants.iter().zip(&counts).skip(1) {
        let compared = mostrador_core::experiments::compare(control_s, control_n, *s, *n);
        comparisons.push(match compared {
            Some(c) => json!({
                "variant": variant.name,
                "against": experiment.variants[0].name,
                "lift": c.lift.map(|l| (l * 10_000.0).round() / 10_000.0),
                "z": (c.z * 1_000.0).round() / 1_000.0,
                "p_value": (c.p_value * 10_000.0).round() / 10_000.0,
                "significant": c.p_value < 0.05,
            }),
            None => json!({
                "variant": variant.name,
                "against": experiment.variants[0].name,
                "significant": false,
                "why": format!(
                    "not enough data: each variant needs at least {} notifications that reached {metric} and {} that did not",
                    mostrador_core::experiments::MIN_EACH,
                    mostrador_core::experiments::MIN_EACH
                ),
            }),
        });
    }
    // The best variant, when it beats the control significantly (or the control beats them all).
    let winner = comparisons
        .iter()
        .filter(|c| c["significant"] == true)
        .max_by(|a, b| {
            a["z"]
                .as_f64()
                .unwrap_or(0.0)
                .total_cmp(&b["z"].as_f64().unwrap_or(0.0))
        })
        .and_then(|c| {
            if c["z"].as_f64().unwrap_or(0.0) > 0.0 {
                c["variant"].as_str().map(str::to_owned)
            } else {
                None
            }
        });
    Ok(json!({
        "experiment": experiment.name,
        "metric": metric,
        "ended": experiment.ended,
        "from": day_key(from),
        "to": day_key(to),
        "variants": variants,
        "comparisons": comparisons,
        "winner": winner,
    }))
}

/// The figures whose recipients can be listed: every notification asked for (`accepted`) and each
/// step of the funnel that is one per notification (link clicks are counted per click).
fn recipient_metric(metric: &str) -> bool {
    metric == "accepted" || (FUNNEL.contains(&metric) && metric != "link_clicks")
}

/// Whether one notification (as `GET /v1/notifications/{id}` shows it) counts in `metric`.
fn counts_in(view: &Value, metric: &str) -> bool {
    let status = view["status"].as_str().unwrap_or("");
    let at = |m: &str| !view["timeline"][format!("{m}_at")].is_null();
    match metric {
        "accepted" => true,
        "sent" => at("sent"),
        "delivered" => at("delivered") || at("read"),
        "read" => at("read"),
        "failed" => status == "failed",
        "refused" => status == "refused",
        other => at(other),
    }
}

/// `GET /v1/reports/notifications/recipients`: the notifications of one template and day behind a
/// figure of the report (`metric`), with each recipient, status, reason and timeline; a page of
/// `limit` from `cursor`. Notifications are kept for the attribution window and a day more.
pub async fn recipients(
    deps: &Deps,
    table: &TenantTable,
    template: &str,
    day: &str,
    metric: &str,
    cursor: Option<String>,
    limit: u32,
) -> Result<(Vec<Value>, Option<String>), AppError> {
    if NaiveDate::parse_from_str(day, "%Y-%m-%d").is_err() {
        return Err(AppError::Validation(vec![FieldError::new(
            "day",
            "a date as YYYY-MM-DD",
        )]));
    }
    if !recipient_metric(metric) {
        let known: Vec<&str> = std::iter::once("accepted")
            .chain(FUNNEL.into_iter().filter(|m| recipient_metric(m)))
            .collect();
        return Err(AppError::Validation(vec![FieldError::new(
            "metric",
            known.join(", "),
        )]));
    }
    let page = table
        .query(
            Query::gsi1(crate::platform::schema::notifications_of(template, day))
                .limit(limit.clamp(1, 1_000))
                .after(cursor),
        )
        .await?;
    // The index holds the records themselves: only each one's delivery status is read, ten at a
    // time.
    let listed: Vec<(&str, &Item)> = page
        .items
        .iter()
        .filter_map(|item| item.get_s("gsi1sk").map(|id| (id, item)))
        .collect();
    let mut views = Vec::with_capacity(listed.len());
    for chunk in listed.chunks(10) {
        let mut reads = Vec::with_capacity(chunk.len());
        for (id, item) in chunk {
            reads.push(crate::notifications::send::view_of(deps, table, id, item));
        }
        views.extend(futures::future::try_join_all(reads).await?);
    }
    let mut rows = Vec::new();
    for ((id, item), view) in listed.into_iter().zip(views) {
        if !counts_in(&view, metric) {
            continue;
        }
        let to = crate::parties::conversation::text_of(deps, table, item, "to").await;
        rows.push(json!({
            "id": id,
            "to": to,
            "campaign": item.get_s("campaign").filter(|c| !c.is_empty()),
            "status": view["status"],
            "error": view["error"],
            "timeline": view["timeline"],
        }));
    }
    Ok((rows, page.cursor))
}

/// The recipients as a spreadsheet reads them.
pub(crate) fn recipients_csv(rows: &[Value]) -> Result<String, AppError> {
    let mut w = csv::Writer::from_writer(Vec::new());
    let times = [
        "sent_at",
        "delivered_at",
        "read_at",
        "replied_at",
        "clicked_at",
        "converted_at",
    ];
    let mut header = vec!["id", "to", "campaign", "status", "error"];
    header.extend(times);
    w.write_record(&header)
        .map_err(|e| AppError::Internal(e.into()))?;
    for r in rows {
        let text = |v: &Value| match v {
            Value::String(s) => s.clone(),
            Value::Null => String::new(),
            other => other.to_string(),
        };
        let mut record = vec![
            text(&r["id"]),
            text(&r["to"]),
            text(&r["campaign"]),
            text(&r["status"]),
            text(&r["error"]),
        ];
        record.extend(times.iter().map(|t| text(&r["timeline"][*t])));
        w.write_record(&record)
            .map_err(|e| AppError::Internal(e.into()))?;
    }
    let bytes = w
        .into_inner()
        .map_err(|e| AppError::Internal(anyhow::anyhow!("{e}")))?;
    String::from_utf8(bytes).map_err(|e| AppError::Internal(e.into()))
}

/// A sale's line as [`crate::invoicing::global::SoldLine`] writes it, read without copying.
#[derive(Deserialize)]
struct LineRef<'a> {
    #[serde(borrow)]
    sku: std::borrow::Cow<'a, str>,
    #[serde(borrow)]
    name: std::borrow::Cow<'a, str>,
    qty: u32,
    total: i64,
}

/// Sums of a set of days and branches: what the console's charts and totals show.
#[derive(Debug, Default)]
struct Tally {
    conversations: i64,
    orders: i64,
    ordering_conversations: i64,
    /// Paid sales, refunded or not.
    paid: i64,
    /// Paid sales refunded in full: no longer revenue.
    refunded: i64,
    revenue: i64,
    /// Per payment method: sales and revenue (sales not refunded).
    methods: BTreeMap<String, (i64, i64)>,
    /// Per SKU: name, units, revenue (sales not refunded).
    products: BTreeMap<String, (String, i64, i64)>,
    first_response: Vec<i64>,
}

impl Tally {
    fn add_counters(&mut self, counters: Option<&Item>) {
        let n = |name: &str| counters.and_then(|i| i.get_n(name)).unwrap_or(0);
        self.conversations += n("conversations");
        self.orders += n("orders");
        self.ordering_conversations += n("ordering_conversations");
        let h = histogram(counters, "first_response");
        if self.first_response.is_empty() {
            self.first_response = h;
        } else {
            for (sum, add) in self.first_response.iter_mut().zip(h) {
                *sum += add;
            }
        }
    }

    fn add_sale(&mut self, sale: &Item) {
        self.paid += 1;
        // What was paid less every refund; a sale recorded before `paid` was kept has only its
        // total, which a refund before the global already lowered.
        let total = match sale.get_n("paid") {
            Some(paid) => paid - sale.get_n("refunded_amount").unwrap_or(0),
            None => sale.get_n("total").unwrap_or(0),
        };
        if sale.get("refunded").is_some() || total <= 0 {
            self.refunded += 1;
            return;
        }
        self.revenue += total;
        let method = sale
            .get_s("method")
            .map(|m| m.trim_matches('"').to_owned())
            .filter(|m| !m.is_empty() && m != "null")
            .unwrap_or_else(|| "unknown".into());
        let slot = self.methods.entry(method).or_insert((0, 0));
        slot.0 += 1;
        slot.1 += total;
        // Sales recorded before lines were kept count in the totals only. Read in place (a long
        // report reads thousands of sales): a product's name is copied once.
        let lines: Vec<LineRef<'_>> = sale
            .get_s("lines")
            .and_then(|l| serde_json::from_str(l).ok())
            .unwrap_or_default();
        for line in lines {
            let slot = match self.products.get_mut(line.sku.as_ref()) {
                Some(slot) => slot,
                None => self
                    .products
                    .entry(line.sku.into_owned())
                    .or_insert_with(|| (line.name.into_owned(), 0, 0)),
            };
            slot.1 += i64::from(line.qty);
            slot.2 += line.total;
        }
    }

    /// Sales kept (paid, not refunded).
    fn kept(&self) -> i64 {
        self.paid - self.refunded
    }

    /// The figures every row and the summary carry.
    fn figures(&self) -> Map<String, Value> {
        let mut out = Map::new();
        out.insert("conversations".into(), json!(self.conversations));
        out.insert("orders".into(), json!(self.orders));
        out.insert(
            "ordering_conversations".into(),
            json!(self.ordering_conversations),
        );
        out.insert(
            "conversion_rate".into(),
            rate(self.ordering_conversations, self.conversations),
        );
        out.insert("paid_orders".into(), json!(self.paid));
        out.insert("refunded_orders".into(), json!(self.refunded));
        out.insert("revenue_centavos".into(), json!(self.revenue));
        out.insert(
            "average_ticket_centavos".into(),
            average(self.revenue, self.kept()),
        );
        out.insert(
            "median_first_response_seconds".into(),
            json!(median(&self.first_response)),
        );
        out
    }
}

/// The mean of whole centavos, rounded half up; null with nothing to average.
fn average(total: i64, count: i64) -> Value {
    if count <= 0 {
        return Value::Null;
    }
    json!((total * 2 + count) / (count * 2))
}

/// `GET /v1/reports/commerce`: one row per branch and day with activity, and a summary of the whole
/// range (payment methods with their revenue, the ten best-selling products, the average ticket).
/// Revenue counts paid sales less refunds; a sale refunded in full is counted apart.
pub async fn commerce(
    table: &TenantTable,
    branches: &[crate::parties::merchants::Branch],
    q: &ReportQuery,
    now: DateTime<Utc>,
) -> Result<Value, AppError> {
    let (from, to) = q.range(now)?;
    let mut rows = Vec::new();
    let mut all = Tally::default();
    for branch in branches {
        if q.branch_id.as_ref().is_some_and(|b| *b != branch.id) {
            continue;
        }
        let counters: BTreeMap<String, Item> = all_items(
            table,
            Query::partition(crate::platform::schema::branch_report(&branch.id))
                .sort(SortKey::Between(day_key(from), day_key(to))),
        )
        .await?
        .into_iter()
        .filter_map(|i| i.get_s("sk").map(str::to_owned).map(|d| (d, i)))
        .collect();
        let days: Vec<String> = from
            .iter_days()
            .take_while(|d| *d <= to)
            .map(day_key)
            .collect();
        // Each day's sales are a partition of their own: read several at once, kept in day order.
        let queries: Vec<Query> = days
            .iter()
            .map(|d| Query::partition(crate::platform::schema::sales_of_day(&branch.id, d)))
            .collect();
        let sales_of_days: Vec<Vec<Item>> = futures::stream::iter(queries)
            .map(|q| all_items(table, q))
            .buffered(8)
            .try_collect()
            .await?;
        for (d, sales) in days.into_iter().zip(sales_of_days) {
            let c = counters.get(&d);
            if c.is_none() && sales.is_empty() {
                continue;
            }
            let mut tally = Tally::default();
            tally.add_counters(c);
            all.add_counters(c);
            for sale in &sales {
                tally.add_sale(sale);
                all.add_sale(sale);
            }
            let mut row = Map::new();
            row.insert("branch_id".into(), json!(branch.id));
            row.insert("branch".into(), json!(branch.name));
            row.insert("day".into(), json!(d));
            row.extend(tally.figures());
            row.insert(
                "payment_methods".into(),
                json!(tally
                    .methods
                    .iter()
                    .map(|(m, (n, _))| (m.clone(), *n))
                    .collect::<BTreeMap<_, _>>()),
            );
            rows.push(Value::Object(row));
        }
    }
    let mut summary = all.figures();
    summary.insert(
        "payment_methods".into(),
        json!(all
            .methods
            .iter()
            .map(|(m, (n, c))| (m.clone(), json!({ "orders": n, "revenue_centavos": c })))
            .collect::<Map<_, _>>()),
    );
    let mut top: Vec<(&String, &(String, i64, i64))> = all.products.iter().collect();
    top.sort_by(|a, b| {
        b.1 .2
            .cmp(&a.1 .2)
            .then(b.1 .1.cmp(&a.1 .1))
            .then(a.0.cmp(b.0))
    });
    summary.insert(
        "top_products".into(),
        json!(top
            .into_iter()
            .take(10)
            .map(|(sku, (name, units, revenue))| json!({ "sku": sku, "name": name, "units": units, "revenue_centavos": revenue }))
            .collect::<Vec<_>>()),
    );
    Ok(json!({ "from": day_key(from), "to": day_key(to), "rows": rows, "summary": summary }))
}

/// The rows of a report as CSV (nested objects flattened as `key:value;...`).
pub(crate) fn to_csv(report: &Value, columns: &[&str]) -> Result<String, AppError> {
    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record(columns)
        .map_err(|e| AppError::Internal(e.into()))?;
    for row in report["rows"].as_array().into_iter().flatten() {
        let cells: Vec<String> = columns
            .iter()
            .map(|c| match &row[*c] {
                Value::Null => String::new(),
                Value::String(s) => s.clone(),
                Value::Object(m) => m
                    .iter()
                    .map(|(k, v)| format!("{k}:{v}"))
                    .collect::<Vec<_>>()
                    .join(";"),
                other => other.to_string(),
            })
            .collect();
        w.write_record(&cells)
            .map_err(|e| AppError::Internal(e.into()))?;
    }
    let bytes = w
        .into_inner()
        .map_err(|e| AppError::Internal(anyhow::anyhow!(e.to_string())))?;
    String::from_utf8(bytes).map_err(|e| AppError::Internal(e.into()))
}

/// CSV columns of the notification report.
pub(crate) fn notification_columns(dimension: &str) -> Vec<&str> {
    let mut cols = vec!["day", dimension];
    cols.extend(FUNNEL);
    cols.extend([
        "revenue_centavos",
        "conversion_value_centavos",
        "failed_by_code",
        "refused_by_reason",
        "delivery_rate",
        "read_rate",
        "reply_rate",
        "click_rate",
        "conversion_rate",
        "median_seconds_to_read",
        "billable_by_category",
        "estimated_cost",
        "cost_currency",
    ]);
    cols
}

/// CSV columns of the commerce report (new columns go last: spreadsheets read them by position).
pub const COMMERCE_COLUMNS: [&str; 13] = [
    "branch_id",
    "branch",
    "day",
    "conversations",
    "orders",
    "ordering_conversations",
    "conversion_rate",
    "paid_orders",
    "revenue_centavos",
    "payment_methods",
    "median_first_response_seconds",
    "refunded_orders",
    "average_ticket_centavos",
];

#[cfg(test)]
mod tests {
    use super::*;

    fn sale(order: &str, total: i64, method: &str, lines: &str) -> Item {
        Item::new(&crate::platform::schema::sale("B1", "2026-12-01", order))
            .with("total", total)
            .with("method", method)
            .with("lines", lines)
    }

    #[test]
    fn refunds_leave_revenue_and_the_ticket_averages_what_stayed() {
        let mut t = Tally::default();
        t.add_sale(&sale(
            "1",
            10_000,
            "card",
            r#"[{"sku":"A","name":"Paracetamol","qty":2,"total":9000},{"sku":"B","name":"Gasas","qty":1,"total":1000}]"#,
        ));
        t.add_sale(&sale(
            "2",
            5_001,
            "spei",
            r#"[{"sku":"A","name":"Paracetamol","qty":1,"total":5001}]"#,
        ));
        // Refunded in full: paid, counted apart, no revenue, no products.
        t.add_sale(
            &sale(
                "3",
                7_000,
                "card",
                r#"[{"sku":"B","name":"Gasas","qty":7,"total":7000}]"#,
            )
            .with("refunded", true),
        );
        // Recorded before lines were kept: revenue only.
        t.add_sale(&Item::new(&Key::new("S", "ORDER#4")).with("total", 2_000));
        // Refunded in two parts: counted as refunded, whatever its total says.
        t.add_sale(
            &sale(
                "5",
                3_000,
                "card",
                r#"[{"sku":"B","name":"Gasas","qty":3,"total":3000}]"#,
            )
            .with("paid", 3_000)
            .with("refunded_amount", 3_000),
        );
        // Refunded in part: the rest is revenue.
        t.add_sale(
            &sale(
                "6",
                4_000,
                "card",
                r#"[{"sku":"C","name":"Suero","qty":2,"total":4000}]"#,
            )
            .with("paid", 4_000)
            .with("refunded_amount", 1_500),
        );
        let f = t.figures();
        assert_eq!(f["paid_orders"], 6);
        assert_eq!(f["refunded_orders"], 2);
        assert_eq!(f["revenue_centavos"], 19_501);
        // 19,501 / 4 = 4,875.25 centavos → 4,875.
        assert_eq!(f["average_ticket_centavos"], 4_875);
        assert_eq!(t.methods["card"], (2, 12_500));
        assert_eq!(t.methods["spei"], (1, 5_001));
        assert_eq!(t.methods["unknown"], (1, 2_000));
        assert_eq!(t.products["A"], ("Paracetamol".to_owned(), 3, 14_001));
        assert_eq!(t.products["B"], ("Gasas".to_owned(), 1, 1_000));
    }

    #[test]
    fn averages_round_half_up_and_nothing_sold_has_no_average() {
        assert_eq!(average(10, 4), json!(3)); // 2.5 → 3
        assert_eq!(average(9, 4), json!(2)); // 2.25 → 2
        assert_eq!(average(0, 0), Value::Null);
        let t = Tally::default();
        assert_eq!(t.figures()["average_ticket_centavos"], Value::Null);
        assert_eq!(t.figures()["median_first_response_seconds"], Value::Null);
    }

    #[test]
    fn first_responses_of_several_days_make_one_median() {
        let mut t = Tally::default();
        let day = |secs: i64, n: i64| {
            Item::new(&crate::platform::schema::branch_counters(
                "B1",
                "2026-12-01",
            ))
            .with("conversations", n)
            .with(stats::bucket_attr("first_response", secs).as_str(), n)
        };
        t.add_counters(Some(&day(5, 3)));
        t.add_counters(Some(&day(3_000, 1)));
        t.add_counters(None);
        assert_eq!(t.conversations, 4);
        let m = t.figures()["median_first_response_seconds"]
            .as_i64()
            .expect("median");
        // Three of four answered within the first bucket (30 s), interpolated inside it; one day's
        // slow answer does not pull the median out.
        assert!(m <= 30, "{m}");
        t.add_counters(Some(&day(3_000, 4)));
        let m = t.figures()["median_first_response_seconds"]
            .as_i64()
            .expect("median");
        assert!(m > 1_800, "now five of eight took close to an hour: {m}");
    }
}
