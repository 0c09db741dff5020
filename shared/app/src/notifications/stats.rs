//! The funnel counters of notifications, per template and per campaign and day, written in the same
//! transaction as the event they count (an outcome recorded, a status moved forward, a milestone set
//! once on the notification), so they stay exact under redelivery. Times to read are kept as
//! histograms, which add up across days and give the median to within a bucket.

use crate::parties::messages::Outcome;
use crate::platform::tenant::TenantTable;
use chrono::{DateTime, Utc};
use mostrador_store::{Condition, Item, Key, StoreError, Table, TxOp, Update};
use serde_json::Value;

/// Upper bounds (seconds) of the histogram buckets; the last bucket holds everything longer.
pub const BUCKETS: [i64; 12] = [
    30, 60, 300, 900, 1800, 3600, 7200, 14_400, 28_800, 43_200, 86_400, 172_800,
];

/// What the counters need to know about a notification.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tag {
    pub id: String,
    pub template: String,
    pub campaign: Option<String>,
    /// The report day (Mexico City) of the send.
    pub day: String,
    /// Unix seconds when it was handed to WhatsApp.
    pub sent_at: Option<i64>,
    /// The recipient's WhatsApp id: in clear only in what an earlier version wrote; read it with
    /// [`Tag::to_of`], which opens [`Tag::to_sealed`].
    pub to: String,
    /// The recipient, sealed like the conversation.
    pub to_sealed: Option<Vec<u8>>,
    pub kind: String,
    pub category: String,
    /// The merchant's metadata, as given: in clear only in what an earlier version wrote; read it
    /// with [`Tag::metadata_of`], which opens [`Tag::metadata_sealed`].
    pub metadata: Value,
    /// The metadata, sealed like the conversation (its references may name the customer).
    pub metadata_sealed: Option<Vec<u8>>,
    /// The merchant's text for the `details` action.
    pub details: Option<String>,
    /// The experiment variant it belongs to (`{experiment}~{variant}`).
    pub experiment: Option<String>,
}

/// The notification's tag, if the record exists.
pub async fn tag(table: &TenantTable, id: &str) -> Result<Option<Tag>, StoreError> {
    Ok(table.get(&super::key(id)).await?.map(|i| tag_from(id, &i)))
}

/// Reads a tag from a notification record.
pub(crate) fn tag_from(id: &str, item: &Item) -> Tag {
    let s = |n: &str| item.get_s(n).unwrap_or_default().to_owned();
    Tag {
        id: id.to_owned(),
        template: s("template"),
        campaign: item
            .get_s("campaign")
            .filter(|c| !c.is_empty())
            .map(str::to_owned),
        day: s("day"),
        sent_at: item.get_n("sent_at"),
        to: s("to"),
        to_sealed: match item.get("to_sealed") {
            Some(mostrador_store::Value::B(b)) => Some(b.clone()),
            _ => None,
        },
        kind: s("kind"),
        category: s("category"),
        metadata: item
            .get_s("metadata")
            .and_then(|m| serde_json::from_str(m).ok())
            .unwrap_or(Value::Null),
        metadata_sealed: match item.get("metadata_sealed") {
            Some(mostrador_store::Value::B(b)) => Some(b.clone()),
            _ => None,
        },
        // Written in clear by an earlier version; sealed (`details_sealed`) since, and opened
        // where the customer asks for them.
        details: item.get_s("details").map(str::to_owned),
        experiment: item.get_s("experiment").map(str::to_owned),
    }
}

impl Tag {
    /// The recipient's WhatsApp id, opened (empty when it cannot be).
    pub(crate) async fn to_of(
        &self,
        deps: &crate::platform::Deps,
        merchant: &crate::platform::tenant::MerchantId,
    ) -> String {
        match &self.to_sealed {
            Some(sealed) => crate::parties::conversation::open_text(deps, merchant, sealed)
                .await
                .unwrap_or_default(),
            None => self.to.clone(),
        }
    }

    /// The merchant's metadata, opened (`null` when it cannot be).
    pub(crate) async fn metadata_of(
        &self,
        deps: &crate::platform::Deps,
        merchant: &crate::platform::tenant::MerchantId,
    ) -> Value {
        match &self.metadata_sealed {
            Some(sealed) => crate::parties::conversation::open_text(deps, merchant, sealed)
                .await
                .and_then(|m| serde_json::from_str(&m).ok())
                .unwrap_or(Value::Null),
            None => self.metadata.clone(),
        }
    }
}

/// The campaign of notifications sent without one, in the report grouped by campaign (campaign
/// names are letters, digits, `_` and `-`, so it cannot clash with one).
pub const NO_CAMPAIGN: &str = "(sin campaña)";

/// The counter items a notification counts in: its template's and its campaign's (or
/// [`NO_CAMPAIGN`]), and its experiment variant's when it has one, on its day.
pub(crate) fn counter_keys(
    template: &str,
    campaign: Option<&str>,
    variant: Option<&str>,
    day: &str,
) -> Vec<Key> {
    use crate::platform::schema::{report_counter, ReportDimension};
    let mut keys = vec![
        report_counter(ReportDimension::Template, template, day),
        report_counter(
            ReportDimension::Campaign,
            campaign.unwrap_or(NO_CAMPAIGN),
            day,
        ),
    ];
    if let Some(v) = variant {
        keys.push(report_counter(ReportDimension::Experiment, v, day));
    }
    keys
}

/// The items that list which templates and campaigns the report has.
pub(crate) fn dimension_keys(template: &str, campaign: Option<&str>) -> Vec<Key> {
    use crate::platform::schema::{report_dimension, ReportDimension};
    vec![
        report_dimension(ReportDimension::Template, template),
        report_dimension(ReportDimension::Campaign, campaign.unwrap_or(NO_CAMPAIGN)),
    ]
}

/// A notification refused when it was asked for (no consent, opted out, a cap), counted under its
/// reason on its template's and campaign's day, so the report shows what never left. Best effort:
/// the caller answers with the refusal either way.
pub(crate) async fn count_refusal(
    table: &TenantTable,
    template: &str,
    campaign: Option<&str>,
    variant: Option<&str>,
    day: &str,
    reason: &str,
) {
    let update = Update::new().add(format!("refused_{reason}"), 1);
    for key in counter_keys(template, campaign, variant, day) {
        if let Err(e) = table.update(&key, update.clone(), None).await {
            tracing::warn!(error = %e, "a refused notification could not be counted");
        }
    }
    for key in dimension_keys(template, campaign) {
        if let Err(e) = table.put(Item::new(&key), None).await {
            tracing::warn!(error = %e, "a refused notification's report entry could not be written");
        }
    }
}

/// The same update applied to each of the tag's counters.
pub(crate) fn counter_ops(tag: &Tag, update: &Update) -> Vec<TxOp> {
    if update.add.is_empty() {
        return Vec::new();
    }
    counter_keys(
        &tag.template,
        tag.campaign.as_deref(),
        tag.experiment.as_deref(),
        &tag.day,
    )
    .into_iter()
    .map(|key| TxOp::Update {
        key,
        update: update.clone(),
        condition: None,
    })
    .collect()
}

/// The histogram attribute for a duration.
pub(crate) fn bucket_attr(prefix: &str, secs: i64) -> String {
    match BUCKETS.iter().find(|b| secs <= **b) {
        Some(b) => format!("{prefix}_le_{b}"),
        None => format!("{prefix}_gt_{}", BUCKETS[BUCKETS.len() - 1]),
    }
}

/// Bucket counts of a histogram, summed over items (in [`BUCKETS`] order, then the overflow).
pub(crate) fn histogram<'a>(items: impl IntoIterator<Item = &'a Item>, prefix: &str) -> Vec<i64> {
    let mut counts = vec![0i64; BUCKETS.len() + 1];
    for item in items {
        for (i, b) in BUCKETS.iter().enumerate() {
            counts[i] += item.get_n(&format!("{prefix}_le_{b}")).unwrap_or(0);
        }
        counts[BUCKETS.len()] += item
            .get_n(&format!("{prefix}_gt_{}", BUCKETS[BUCKETS.len() - 1]))
            .unwrap_or(0);
    }
    counts
}

/// The median of a histogram in seconds, interpolated inside its bucket; `None` when empty.
pub fn median(counts: &[i64]) -> Option<i64> {
    let total: i64 = counts.iter().sum();
    if total == 0 {
        return None;
    }
    let half = (total + 1) / 2;
    let mut seen = 0;
    for (i, n) in counts.iter().enumerate() {
        if *n > 0 && seen + n >= half {
            let lower = if i == 0 { 0 } else { BUCKETS[i - 1] };
            let Some(upper) = BUCKETS.get(i) else {
                return Some(lower);
            };
            // Linear inside the bucket: the (half - seen)-th of n values spread over (lower, upper].
            return Some(lower + (upper - lower) * (half - seen) / n);
        }
        seen += n;
    }
    None
}

/// The sender recorded an outcome for a notification: its status on the record and the counters, to
/// go in the sender's own transaction.
pub(crate) fn outcome_ops(tag: &Tag, outcome: &Outcome, now: DateTime<Utc>) -> Vec<TxOp> {
    let mut record = Update::new();
    let mut counters = Update::new();
    match outcome {
        Outcome::Sent { .. } | Outcome::Sandbox { .. } => {
            record = record.set("status", "sent").set("sent_at", now.timestamp());
            counters = counters.add("sent", 1);
        }
        Outcome::Refused { reason } => {
            record = record
                .set("status", "refused")
                .set("reason", reason.as_str());
            counters = counters
                .add("refused", 1)
                .add(format!("refused_{reason}"), 1);
        }
        Outcome::Failed { code, message } => {
            record = record
                .set("status", "failed")
                .set("reason", message.as_str());
            counters = counters
                .add("failed", 1)
                .add(format!("failed_{}", code.unwrap_or(0)), 1);
        }
        Outcome::Deferred { until } => {
            record = record
                .set("status", "deferred")
                .set("deferred_until", until.as_str());
        }
    }
    let mut ops = vec![TxOp::Update {
        key: super::key(&tag.id),
        update: record,
        condition: Some(Condition::Exists),
    }];
    ops.extend(counter_ops(tag, &counters));
    ops
}

/// A status webhook moved a notification forward: the same counts as the channel's, per template and
/// campaign, plus the time to read.
pub(crate) fn status_ops(tag: &Tag, counters: &Update, read_at: Option<i64>) -> Vec<TxOp> {
    let mut update = Update {
        add: counters.add.clone(),
        ..Update::default()
    };
    if let (Some(read), Some(sent)) = (read_at, tag.sent_at) {
        update = update.add(bucket_attr("read", (read - sent).max(0)), 1);
    }
    counter_ops(tag, &update)
}

/// Steps of the funnel after delivery, each counted once per notification.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Milestone {
    Replied,
    Clicked,
    Documented,
    Paid,
    /// The notification reached its goal (a document, a payment, or the merchant said so).
    Converted,
}

impl Milestone {
    /// The counter's name.
    pub fn name(self) -> &'static str {
        match self {
            Milestone::Replied => "replied",
            Milestone::Clicked => "clicked",
            Milestone::Documented => "documented",
            Milestone::Paid => "paid",
            Milestone::Converted => "converted",
        }
    }
}

/// Sets `{milestone}_at` on the notification and counts it, once: `false` when it was already set.
/// `extra` adds to the same counters (e.g. the revenue of a payment).
pub async fn mark(
    table: &TenantTable,
    tag: &Tag,
    milestone: Milestone,
    now: DateTime<Utc>,
    extra: &[(&str, i64)],
) -> Result<bool, StoreError> {
    let at = format!("{}_at", milestone.name());
    let mut counters = Update::new().add(milestone.name(), 1);
    for (name, n) in extra {
        counters = counters.add(*name, *n);
    }
    let mut ops = vec![TxOp::Update {
        key: super::key(&tag.id),
        update: Update::new().set(at.clone(), now.timestamp()),
        condition: Some(Condition::Exists.and(Condition::AttrNotExists(at))),
    }];
    ops.extend(counter_ops(tag, &counters));
    match table.transact(ops).await {
        Ok(()) => Ok(true),
        Err(e) if e.is_condition_failed() => Ok(false),
        Err(e) => Err(e),
    }
}

/// A conversion the merchant reports for a notification (a loan applied for, an account opened):
/// its name and value (centavos) are kept on the notification and, the first time, it converts in
/// the funnel with its value. `Ok(false)`: it had converted already (nothing counted twice).
pub(crate) async fn report_conversion(
    table: &TenantTable,
    tag: &Tag,
    name: &str,
    value: i64,
    now: DateTime<Utc>,
) -> Result<bool, StoreError> {
    let counted = mark(
        table,
        tag,
        Milestone::Converted,
        now,
        &[("conversion_value", value)],
    )
    .await?;
    if counted {
        table
            .update(
                &super::key(&tag.id),
                Update::new()
                    .set("conversion_name", name)
                    .set("conversion_value", value),
                Some(Condition::Exists),
            )
            .await?;
    }
    Ok(counted)
}

/// An order was paid: the customer's latest notification within the attribution window converts
/// (once), its revenue is counted and the merchant gets a `notification.conversion` event. Never
/// fails the payment: problems are logged.
pub(crate) async fn attribute_payment(
    deps: &crate::platform::Deps,
    merchant: &crate::platform::tenant::MerchantId,
    order: &crate::commerce::orders::Order,
) {
    let table = TenantTable::of(deps, merchant);
    let result = async {
        let Some(tag) = super::replies::recent_notification(deps, &table, &order.wa_id).await?
        else {
            return Ok::<_, crate::platform::error::AppError>(());
        };
        let now = deps.clock.now();
        if mark(&table, &tag, Milestone::Paid, now, &[("revenue", order.total.0)]).await? {
            mark(&table, &tag, Milestone::Converted, now, &[]).await?;
            let event = crate::parties::hooks::HookEvent {
                id: format!("notification.conversion:{}", order.id),
                kind: "notification.conversion".into(),
                data: serde_json::json!({
                    "notification_id": tag.id,
                    "template": tag.template,
                    "campaign": tag.campaign,
                    "metadata": tag.metadata_of(deps, merchant).await,
                    "conversion": "payment",
                    "order_id": order.id,
                    "total_centavos": order.total.0,
                }),
            };
            crate::parties::hooks::emit(deps, merchant, event).await?;
            tracing::info!(merchant = %merchant, notification = %tag.id, order = %order.id, "payment attributed to a notification");
        }
        Ok(())
    }
    .await;
    if let Err(e) = result {
        tracing::warn!(merchant = %merchant, order = %order.id, error = %e, "payment not attributed");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_fall_in_their_bucket() {
        assert_eq!(bucket_attr("read", 0), "read_le_30");
        assert_eq!(bucket_attr("read", 61), "read_le_300");
        assert_eq!(bucket_attr("read", 200_000), "read_gt_172800");
    }

    #[test]
    fn median_is_interpolated_inside_its_bucket() {
        let mut counts = vec![0; BUCKETS.len() + 1];
        assert_eq!(median(&counts), None);
        counts[2] = 4; // four reads between 60 s and 300 s
        assert_eq!(median(&counts), Some(60 + 240 * 2 / 4));
        counts[BUCKETS.len()] = 10;
        assert_eq!(median(&counts), Some(172_800));
    }
}
