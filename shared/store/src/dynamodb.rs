//! The Table port on DynamoDB: one table with `pk`/`sk`, the `gsi1` index and TTL on `ttl`.
//!
//! Semantics match [`SqliteTable`](crate::sqlite::SqliteTable) exactly. DynamoDB deletes expired items
//! up to days late, so every read filters them and every condition treats them as absent; updates of
//! an expired item start from nothing, as if it had been deleted on time.

use crate::table::key_attrs;
use crate::table::{
    cursor, validate_transaction, CancelReason, Condition, Index, Item, Key, Page, Query, SortKey,
    StoreError, Table, TxOp, Update, Value, GSI1PK, GSI1SK, PK, SK, TTL,
};
use async_trait::async_trait;
use aws_sdk_dynamodb::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::operation::delete_item::DeleteItemError;
use aws_sdk_dynamodb::operation::describe_table::DescribeTableError;
use aws_sdk_dynamodb::operation::put_item::PutItemError;
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::operation::update_item::UpdateItemError;
use aws_sdk_dynamodb::primitives::Blob;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, AttributeValue, BillingMode, ConditionCheck, Delete, GlobalSecondaryIndex,
    IndexStatus, KeySchemaElement, KeyType, Projection, ProjectionType, Put, ReturnValue,
    ReturnValuesOnConditionCheckFailure, ScalarAttributeType, TableStatus, TimeToLiveSpecification,
    TimeToLiveStatus, TransactWriteItem,
};
use aws_sdk_dynamodb::Client;
use mostrador_core::Clock;
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::Duration;

/// Name of the secondary index.
pub const GSI1: &str = "gsi1";

/// How many times a write is retried when an expired item changes under it.
const MAX_ATTEMPTS: usize = 5;

/// Raw DynamoDB attributes of one item.
type RawItem = HashMap<String, AttributeValue>;

/// The Table port on a DynamoDB table created by [`ensure_table`].
#[derive(Debug, Clone)]
pub struct DynamoTable {
    client: Client,
    table: String,
    clock: Arc<dyn Clock>,
}

impl DynamoTable {
    /// The table `table` reached through `client`, with expiry judged by `clock`.
    pub fn new(client: Client, table: impl Into<String>, clock: Arc<dyn Clock>) -> Self {
        Self {
            client,
            table: table.into(),
            clock,
        }
    }

    /// Updates the item; when it exists but has expired, replaces it with the update applied to nothing.
    async fn update_once(
        &self,
        key: &Key,
        update: &Update,
        condition: Option<&Condition>,
        now: i64,
    ) -> Result<Attempt<Item>, StoreError> {
        let mut expr = Expr::new(now);
        let update_expression = expr.update(update);
        let condition_expression = expr.update_condition(condition);
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(raw_key(key)))
            .update_expression(update_expression)
            .condition_expression(condition_expression)
            .set_expression_attribute_names(expr.names())
            .set_expression_attribute_values(expr.values())
            .return_values(ReturnValue::AllNew)
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .send()
            .await;
        let failed_on = match result {
            Ok(out) => {
                let raw = out.attributes.ok_or_else(|| {
                    StoreError::Internal("UpdateItem returned no attributes".into())
                })?;
                return Ok(Attempt::Done(to_item(&raw)?));
            }
            Err(err) => match err.as_service_error() {
                Some(UpdateItemError::ConditionalCheckFailedException(e)) => {
                    e.item().map(to_item).transpose()?
                }
                _ => return Err(sdk_error("updating an item", err)),
            },
        };
        match failed_on {
            Some(old) if old.is_expired(now) => {
                if !condition.is_none_or(|c| c.eval(None)) {
                    return Err(StoreError::ConditionFailed { current: None });
                }
                let fresh = update.apply(key, None)?;
                match self.replace_expired(&fresh, now).await? {
                    true => Ok(Attempt::Done(fresh)),
                    false => Ok(Attempt::Retry),
                }
            }
            live => Err(StoreError::ConditionFailed {
                current: live.map(Box::new),
            }),
        }
    }

    /// Writes `item` over an item that is still expired; false when it no longer is.
    async fn replace_expired(&self, item: &Item, now: i64) -> Result<bool, StoreError> {
        let mut expr = Expr::new(now);
        let condition_expression = expr.expired();
        let result = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(to_raw(item)))
            .condition_expression(condition_expression)
            .set_expression_attribute_names(expr.names())
            .set_expression_attribute_values(expr.values())
            .send()
            .await;
        match result {
            Ok(_) => Ok(true),
            Err(err) => match err.as_service_error() {
                Some(PutItemError::ConditionalCheckFailedException(_)) => Ok(false),
                _ => Err(sdk_error("replacing an expired item", err)),
            },
        }
    }

    /// One transaction write; `replace_expired` turns an update into a put over an expired item.
    fn transact_item(
        &self,
        op: &TxOp,
        replace_expired: bool,
        now: i64,
    ) -> Result<TransactWriteItem, StoreError> {
        let mut expr = Expr::new(now);
        let on_failure = ReturnValuesOnConditionCheckFailure::AllOld;
        let item = match op {
            TxOp::Update { key, update, .. } if replace_expired => {
                let fresh = update.apply(key, None)?;
                let condition_expression = expr.expired();
                let put = Put::builder()
                    .table_name(&self.table)
                    .set_item(Some(to_raw(&fresh)))
                    .condition_expression(condition_expression)
                    .set_expression_attribute_names(expr.names())
                    .set_expression_attribute_values(expr.values())
                    .return_values_on_condition_check_failure(on_failure)
                    .build()
                    .map_err(build_error)?;
                TransactWriteItem::builder().put(put).build()
            }
            TxOp::Put { item, condition } => {
                let condition_expression = expr.guarded(condition.as_ref());
                let put = Put::builder()
                    .table_name(&self.table)
                    .set_item(Some(to_raw(item)))
                    .set_condition_expression(condition_expression)
                    .set_expression_attribute_names(expr.names())
                    .set_expression_attribute_values(expr.values())
                    .return_values_on_condition_check_failure(on_failure)
                    .build()
                    .map_err(build_error)?;
                TransactWriteItem::builder().put(put).build()
            }
            TxOp::Update {
                key,
                update,
                condition,
            } => {
                let update_expression = expr.update(update);
                let condition_expression = expr.update_condition(condition.as_ref());
                let update = aws_sdk_dynamodb::types::Update::builder()
                    .table_name(&self.table)
                    .set_key(Some(raw_key(key)))
                    .update_expression(update_expression)
                    .condition_expression(condition_expression)
                    .set_expression_attribute_names(expr.names())
                    .set_expression_attribute_values(expr.values())
                    .return_values_on_condition_check_failure(on_failure)
                    .build()
                    .map_err(build_error)?;
                TransactWriteItem::builder().update(update).build()
            }
            TxOp::Delete { key, condition } => {
                let condition_expression = expr.guarded(condition.as_ref());
                let delete = Delete::builder()
                    .table_name(&self.table)
                    .set_key(Some(raw_key(key)))
                    .set_condition_expression(condition_expression)
                    .set_expression_attribute_names(expr.names())
                    .set_expression_attribute_values(expr.values())
                    .return_values_on_condition_check_failure(on_failure)
                    .build()
                    .map_err(build_error)?;
                TransactWriteItem::builder().delete(delete).build()
            }
            TxOp::Check { key, condition } => {
                let condition_expression = expr.guarded(Some(condition));
                let check = ConditionCheck::builder()
                    .table_name(&self.table)
                    .set_key(Some(raw_key(key)))
                    .set_condition_expression(condition_expression)
                    .set_expression_attribute_names(expr.names())
                    .set_expression_attribute_values(expr.values())
                    .return_values_on_condition_check_failure(on_failure)
                    .build()
                    .map_err(build_error)?;
                TransactWriteItem::builder().condition_check(check).build()
            }
        };
        Ok(item)
    }
}

/// The outcome of one try of a write that may have to be retried.
enum Attempt<T> {
    Done(T),
    Retry,
}

#[async_trait]
impl Table for DynamoTable {
    async fn get(&self, key: &Key) -> Result<Option<Item>, StoreError> {
        if key.pk.is_empty() || key.sk.is_empty() {
            // DynamoDB rejects empty key values; no item can have one.
            return Ok(None);
        }
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(raw_key(key)))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| sdk_error("reading an item", e))?;
        live(out.item.as_ref(), self.clock.now_secs())
    }

    async fn put(&self, item: Item, condition: Option<Condition>) -> Result<(), StoreError> {
        item.validate()?;
        let now = self.clock.now_secs();
        let mut expr = Expr::new(now);
        let condition_expression = expr.guarded(condition.as_ref());
        let result = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(to_raw(&item)))
            .set_condition_expression(condition_expression)
            .set_expression_attribute_names(expr.names())
            .set_expression_attribute_values(expr.values())
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(err) => match err.as_service_error() {
                Some(PutItemError::ConditionalCheckFailedException(e)) => {
                    let current = live(e.item(), now)?;
                    Err(StoreError::ConditionFailed {
                        current: current.map(Box::new),
                    })
                }
                _ => Err(sdk_error("writing an item", err)),
            },
        }
    }

    async fn update(
        &self,
        key: &Key,
        update: Update,
        condition: Option<Condition>,
    ) -> Result<Item, StoreError> {
        update.validate()?;
        // Rejects what no starting item could make valid (empty key, empty index keys, text ttl)
        // before DynamoDB sees it.
        update.apply(key, None)?;
        for _ in 0..MAX_ATTEMPTS {
            let now = self.clock.now_secs();
            if let Attempt::Done(item) = self
                .update_once(key, &update, condition.as_ref(), now)
                .await?
            {
                return Ok(item);
            }
        }
        Err(StoreError::Unavailable(format!(
            "item {}/{} kept changing while its expired copy was being replaced",
            key.pk, key.sk
        )))
    }

    async fn delete(
        &self,
        key: &Key,
        condition: Option<Condition>,
    ) -> Result<Option<Item>, StoreError> {
        if key.pk.is_empty() || key.sk.is_empty() {
            // No item can have an empty key: the condition is judged against nothing.
            return match condition.is_none_or(|c| c.eval(None)) {
                true => Ok(None),
                false => Err(StoreError::ConditionFailed { current: None }),
            };
        }
        let now = self.clock.now_secs();
        let mut expr = Expr::new(now);
        let condition_expression = expr.guarded(condition.as_ref());
        let result = self
            .client
            .delete_item()
            .table_name(&self.table)
            .set_key(Some(raw_key(key)))
            .set_condition_expression(condition_expression)
            .set_expression_attribute_names(expr.names())
            .set_expression_attribute_values(expr.values())
            .return_values(ReturnValue::AllOld)
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .send()
            .await;
        match result {
            Ok(out) => live(out.attributes.as_ref(), now),
            Err(err) => match err.as_service_error() {
                Some(DeleteItemError::ConditionalCheckFailedException(e)) => {
                    let current = live(e.item(), now)?;
                    Err(StoreError::ConditionFailed {
                        current: current.map(Box::new),
                    })
                }
                _ => Err(sdk_error("deleting an item", err)),
            },
        }
    }

    async fn query(&self, query: Query) -> Result<Page, StoreError> {
        let now = self.clock.now_secs();
        let mut start = start_key(&query)?;
        let Some(sort) = normalize(&query.pk, &query.sort) else {
            return Ok(Page::default());
        };
        let mut expr = Expr::new(now);
        let key_condition = expr.key_condition(query.index, &query.pk, &sort);
        let filter = expr.live();
        let names = expr.names();
        let values = expr.values();
        // One item beyond the page tells whether another page exists, as in the embedded engine.
        let limit = query.limit.map(|l| l.max(1) as usize);
        let mut items = Vec::new();
        loop {
            let mut request = self
                .client
                .query()
                .table_name(&self.table)
                .key_condition_expression(&key_condition)
                .filter_expression(&filter)
                .set_expression_attribute_names(names.clone())
                .set_expression_attribute_values(values.clone())
                .scan_index_forward(query.forward)
                .set_exclusive_start_key(start.take());
            request = match query.index {
                Index::Primary => request.consistent_read(true),
                Index::Gsi1 => request.index_name(GSI1),
            };
            if let Some(l) = limit {
                // DynamoDB applies Limit before the filter, so expired items may leave the page short.
                let wanted = (l + 1).saturating_sub(items.len());
                request = request.limit(i32::try_from(wanted).unwrap_or(i32::MAX));
            }
            let out = request.send().await.map_err(|e| sdk_error("querying", e))?;
            for raw in out.items() {
                items.push(to_item(raw)?);
            }
            if limit.is_some_and(|l| items.len() > l) {
                break;
            }
            match out.last_evaluated_key {
                Some(last) => start = Some(last),
                None => break,
            }
        }
        let mut next = None;
        if let Some(l) = limit {
            if items.len() > l {
                items.truncate(l);
                next = items
                    .last()
                    .map(|last| cursor::encode(&key_attrs(last, query.index)));
            }
        }
        Ok(Page {
            items,
            cursor: next,
        })
    }

    async fn scan(
        &self,
        pk_prefix: &str,
        cursor: Option<String>,
        limit: u32,
    ) -> Result<Page, StoreError> {
        let now = self.clock.now_secs();
        let limit = limit.max(1) as usize;
        let mut start = cursor
            .map(|c| cursor::decode_key(&c).map(|last| raw_key(&last)))
            .transpose()?;
        let mut expr = Expr::new(now);
        let p = expr.name(PK);
        let pv = expr.value(AttributeValue::S(pk_prefix.to_owned()));
        let filter = format!("begins_with({p}, {pv}) AND {}", expr.live());
        let names = expr.names();
        let values = expr.values();
        let mut items = Vec::new();
        // The filter applies after DynamoDB's own page: read on until the page is full or the
        // table ends; the cursor is the key of the last item returned (a valid scan start).
        loop {
            let out = self
                .client
                .scan()
                .table_name(&self.table)
                .filter_expression(&filter)
                .set_expression_attribute_names(names.clone())
                .set_expression_attribute_values(values.clone())
                .consistent_read(true)
                .set_exclusive_start_key(start.take())
                .send()
                .await
                .map_err(|e| sdk_error("scanning", e))?;
            for raw in out.items() {
                items.push(to_item(raw)?);
            }
            if items.len() > limit {
                break;
            }
            match out.last_evaluated_key {
                Some(last) => start = Some(last),
                None => break,
            }
        }
        let mut next = None;
        if items.len() > limit {
            items.truncate(limit);
            next = items
                .last()
                .map(|last| cursor::encode(&key_attrs(last, Index::Primary)));
        }
        Ok(Page {
            items,
            cursor: next,
        })
    }

    async fn transact(&self, ops: Vec<TxOp>) -> Result<(), StoreError> {
        validate_transaction(&ops)?;
        for op in &ops {
            let key = op.key()?;
            if key.pk.is_empty() || key.sk.is_empty() {
                return Err(StoreError::Invalid("pk and sk must not be empty".into()));
            }
            if let TxOp::Update { key, update, .. } = op {
                update.apply(key, None)?;
            }
        }
        // Updates whose item turned out to exist but be expired are sent as puts over it.
        let mut replace_expired = vec![false; ops.len()];
        for _ in 0..MAX_ATTEMPTS {
            let now = self.clock.now_secs();
            let items = ops
                .iter()
                .zip(&replace_expired)
                .map(|(op, replace)| self.transact_item(op, *replace, now))
                .collect::<Result<Vec<_>, _>>()?;
            let result = self
                .client
                .transact_write_items()
                .set_transact_items(Some(items))
                .send()
                .await;
            let err = match result {
                Ok(_) => return Ok(()),
                Err(err) => err,
            };
            let Some(TransactWriteItemsError::TransactionCanceledException(cancelled)) =
                err.as_service_error()
            else {
                return Err(sdk_error("writing a transaction", err));
            };
            let raw = cancelled.cancellation_reasons();
            let mut retry = false;
            let mut reasons = Vec::with_capacity(ops.len());
            for (i, op) in ops.iter().enumerate() {
                let Some(reason) = raw.get(i) else {
                    reasons.push(CancelReason::Other("no reason reported".into()));
                    continue;
                };
                reasons.push(match reason.code().unwrap_or("None") {
                    "None" => CancelReason::None,
                    "TransactionConflict" => CancelReason::Conflict,
                    "ConditionalCheckFailed" => match op {
                        TxOp::Update { condition, .. } => {
                            let old = reason.item().map(to_item).transpose()?;
                            let expired = old.as_ref().is_some_and(|o| o.is_expired(now));
                            let holds_on_nothing = condition.as_ref().is_none_or(|c| c.eval(None));
                            if replace_expired[i] || (expired && holds_on_nothing) {
                                // The item's expiry changed under us: retry with the other form.
                                replace_expired[i] = !replace_expired[i];
                                retry = true;
                                CancelReason::None
                            } else {
                                CancelReason::ConditionFailed
                            }
                        }
                        _ => CancelReason::ConditionFailed,
                    },
                    other => CancelReason::Other(other.to_owned()),
                });
            }
            if retry && reasons.iter().all(|r| *r == CancelReason::None) {
                continue;
            }
            return Err(StoreError::TransactionCanceled { reasons });
        }
        Err(StoreError::Unavailable(
            "transaction items kept changing while expired copies were being replaced".into(),
        ))
    }
}

/// Creates the single table (pk/sk, the `gsi1` index, on-demand billing, TTL on `ttl`) unless it
/// exists, and waits until it is active.
pub async fn ensure_table(client: &Client, name: &str) -> Result<(), StoreError> {
    match client.describe_table().table_name(name).send().await {
        Ok(_) => {}
        Err(err)
            if matches!(
                err.as_service_error(),
                Some(DescribeTableError::ResourceNotFoundException(_))
            ) =>
        {
            create_table(client, name).await?;
        }
        Err(err) => return Err(sdk_error("describing the table", err)),
    }
    wait_until_active(client, name).await?;
    enable_ttl(client, name).await
}

async fn create_table(client: &Client, name: &str) -> Result<(), StoreError> {
    let attribute = |n: &str| {
        AttributeDefinition::builder()
            .attribute_name(n)
            .attribute_type(ScalarAttributeType::S)
            .build()
            .map_err(build_error)
    };
    let key = |n: &str, t: KeyType| {
        KeySchemaElement::builder()
            .attribute_name(n)
            .key_type(t)
            .build()
            .map_err(build_error)
    };
    let gsi = GlobalSecondaryIndex::builder()
        .index_name(GSI1)
        .key_schema(key(GSI1PK, KeyType::Hash)?)
        .key_schema(key(GSI1SK, KeyType::Range)?)
        .projection(
            Projection::builder()
                .projection_type(ProjectionType::All)
                .build(),
        )
        .build()
        .map_err(build_error)?;
    let result = client
        .create_table()
        .table_name(name)
        .attribute_definitions(attribute(PK)?)
        .attribute_definitions(attribute(SK)?)
        .attribute_definitions(attribute(GSI1PK)?)
        .attribute_definitions(attribute(GSI1SK)?)
        .key_schema(key(PK, KeyType::Hash)?)
        .key_schema(key(SK, KeyType::Range)?)
        .global_secondary_indexes(gsi)
        .billing_mode(BillingMode::PayPerRequest)
        .send()
        .await;
    match result {
        Ok(_) => Ok(()),
        // Someone else is creating it at the same time.
        Err(err) if err.code() == Some("ResourceInUseException") => Ok(()),
        Err(err) => Err(sdk_error("creating the table", err)),
    }
}

async fn wait_until_active(client: &Client, name: &str) -> Result<(), StoreError> {
    for _ in 0..600 {
        let out = client
            .describe_table()
            .table_name(name)
            .send()
            .await
            .map_err(|e| sdk_error("describing the table", e))?;
        if let Some(table) = out.table {
            let table_active = table.table_status() == Some(&TableStatus::Active);
            let indexes_active = table
                .global_secondary_indexes()
                .iter()
                .all(|i| i.index_status().is_none_or(|s| *s == IndexStatus::Active));
            if table_active && indexes_active {
                return Ok(());
            }
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    Err(StoreError::Unavailable(format!(
        "table {name} did not become active in two minutes"
    )))
}

async fn enable_ttl(client: &Client, name: &str) -> Result<(), StoreError> {
    let out = client
        .describe_time_to_live()
        .table_name(name)
        .send()
        .await
        .map_err(|e| sdk_error("describing the table's TTL", e))?;
    if let Some(ttl) = out.time_to_live_description {
        let on = matches!(
            ttl.time_to_live_status(),
            Some(TimeToLiveStatus::Enabled | TimeToLiveStatus::Enabling)
        );
        match (on, ttl.attribute_name()) {
            (true, Some(TTL)) => return Ok(()),
            (true, other) => {
                return Err(StoreError::Internal(format!(
                    "table {name} has TTL on {other:?}, expected {TTL}"
                )))
            }
            (false, _) => {}
        }
    }
    let spec = TimeToLiveSpecification::builder()
        .enabled(true)
        .attribute_name(TTL)
        .build()
        .map_err(build_error)?;
    client
        .update_time_to_live()
        .table_name(name)
        .time_to_live_specification(spec)
        .send()
        .await
        .map_err(|e| sdk_error("enabling TTL", e))?;
    Ok(())
}

/// Builds expressions with placeholders for every name and value, as DynamoDB reserves many words.
struct Expr {
    now: i64,
    names: HashMap<String, String>,
    placeholders: HashMap<String, String>,
    values: HashMap<String, AttributeValue>,
}

impl Expr {
    fn new(now: i64) -> Self {
        Self {
            now,
            names: HashMap::new(),
            placeholders: HashMap::new(),
            values: HashMap::new(),
        }
    }

    /// The placeholder of an attribute name (one per name).
    fn name(&mut self, name: &str) -> String {
        if let Some(p) = self.placeholders.get(name) {
            return p.clone();
        }
        let p = format!("#n{}", self.placeholders.len());
        self.placeholders.insert(name.to_owned(), p.clone());
        self.names.insert(p.clone(), name.to_owned());
        p
    }

    /// The placeholder of a value (one per use).
    fn value(&mut self, value: AttributeValue) -> String {
        let p = format!(":v{}", self.values.len());
        self.values.insert(p.clone(), value);
        p
    }

    fn now(&mut self) -> String {
        let now = self.now;
        self.value(AttributeValue::N(now.to_string()))
    }

    fn names(&self) -> Option<HashMap<String, String>> {
        (!self.names.is_empty()).then(|| self.names.clone())
    }

    fn values(&self) -> Option<HashMap<String, AttributeValue>> {
        (!self.values.is_empty()).then(|| self.values.clone())
    }

    /// True for an absent item and a live one.
    fn live(&mut self) -> String {
        let ttl = self.name(TTL);
        let now = self.now();
        format!("(attribute_not_exists({ttl}) OR {ttl} > {now})")
    }

    /// True only for an item that exists and has expired.
    fn expired(&mut self) -> String {
        let ttl = self.name(TTL);
        let now = self.now();
        format!("{ttl} <= {now}")
    }

    /// A condition for puts, deletes and checks, under which an expired item behaves as absent.
    fn guarded(&mut self, condition: Option<&Condition>) -> Option<String> {
        let condition = condition?;
        let body = self.condition(condition);
        Some(if condition.eval(None) {
            let expired = self.expired();
            format!("{} OR {expired}", body.within(Prec::Or))
        } else {
            let live = self.live();
            format!("{} AND {live}", body.within(Prec::And))
        })
    }

    /// A condition for updates: it also fails on an expired item, which is then replaced instead.
    fn update_condition(&mut self, condition: Option<&Condition>) -> String {
        let live = self.live();
        match condition {
            Some(c) => format!("{} AND {live}", self.condition(c).within(Prec::And)),
            None => live,
        }
    }

    fn condition(&mut self, condition: &Condition) -> Rendered {
        let atom = |text: String| Rendered {
            text,
            prec: Prec::Atom,
        };
        match condition {
            Condition::Exists => atom(format!("attribute_exists({})", self.name(PK))),
            Condition::NotExists => atom(format!("attribute_not_exists({})", self.name(PK))),
            Condition::AttrExists(a) => atom(format!("attribute_exists({})", self.name(a))),
            Condition::AttrNotExists(a) => atom(format!("attribute_not_exists({})", self.name(a))),
            Condition::Eq(a, v) => {
                let (a, v) = (self.name(a), self.value(to_raw_value(v)));
                atom(format!("{a} = {v}"))
            }
            // Spelled out: a missing attribute is "not equal", as in `Condition::eval`.
            Condition::Ne(a, v) => {
                let (a, v) = (self.name(a), self.value(to_raw_value(v)));
                Rendered {
                    text: format!("attribute_not_exists({a}) OR {a} <> {v}"),
                    prec: Prec::Or,
                }
            }
            Condition::Lt(a, n) => self.compare(a, "<", *n),
            Condition::Le(a, n) => self.compare(a, "<=", *n),
            Condition::Gt(a, n) => self.compare(a, ">", *n),
            Condition::Ge(a, n) => self.compare(a, ">=", *n),
            Condition::And(all) => self.join(all, Prec::And),
            Condition::Or(any) => self.join(any, Prec::Or),
            Condition::Not(c) => {
                // `NOT NOT x` does not parse everywhere; a nested NOT gets parentheses.
                let inner = self.condition(c).within(Prec::Atom);
                Rendered {
                    text: format!("NOT {inner}"),
                    prec: Prec::Not,
                }
            }
        }
    }

    /// A numeric comparison that is false, not an error, when the attribute is not a number.
    fn compare(&mut self, attr: &str, op: &str, n: i64) -> Rendered {
        let a = self.name(attr);
        let number = self.value(AttributeValue::S("N".into()));
        let v = self.value(AttributeValue::N(n.to_string()));
        Rendered {
            text: format!("attribute_type({a}, {number}) AND {a} {op} {v}"),
            prec: Prec::And,
        }
    }

    /// `parts` joined by AND or OR (`prec` says which).
    fn join(&mut self, parts: &[Condition], prec: Prec) -> Rendered {
        let op = if prec == Prec::And { " AND " } else { " OR " };
        match parts {
            [] => {
                // An empty AND holds and an empty OR does not; DynamoDB has no literal for either.
                let pk = self.name(PK);
                let always = format!("attribute_exists({pk}) OR attribute_not_exists({pk})");
                match prec {
                    Prec::And => Rendered {
                        text: always,
                        prec: Prec::Or,
                    },
                    _ => Rendered {
                        text: format!("NOT ({always})"),
                        prec: Prec::Not,
                    },
                }
            }
            [only] => self.condition(only),
            _ => {
                let texts: Vec<String> = parts
                    .iter()
                    .map(|c| self.condition(c).within(prec))
                    .collect();
                Rendered {
                    text: texts.join(op),
                    prec,
                }
            }
        }
    }

    fn update(&mut self, update: &Update) -> String {
        let mut set = Vec::new();
        for (name, value) in &update.set {
            let (n, v) = (self.name(name), self.value(to_raw_value(value)));
            set.push(format!("{n} = {v}"));
        }
        for (name, value) in &update.set_if_absent {
            let (n, v) = (self.name(name), self.value(to_raw_value(value)));
            set.push(format!("{n} = if_not_exists({n}, {v})"));
        }
        let mut add = Vec::new();
        for (name, delta) in &update.add {
            let (n, v) = (
                self.name(name),
                self.value(AttributeValue::N(delta.to_string())),
            );
            add.push(format!("{n} {v}"));
        }
        let remove: Vec<String> = update.remove.iter().map(|name| self.name(name)).collect();
        let mut clauses = Vec::new();
        for (verb, parts) in [("SET", set), ("ADD", add), ("REMOVE", remove)] {
            if !parts.is_empty() {
                clauses.push(format!("{verb} {}", parts.join(", ")));
            }
        }
        clauses.join(" ")
    }

    fn key_condition(&mut self, index: Index, pk: &str, sort: &SortKey) -> String {
        let (pk_name, sk_name) = match index {
            Index::Primary => (PK, SK),
            Index::Gsi1 => (GSI1PK, GSI1SK),
        };
        let p = self.name(pk_name);
        let pv = self.value(AttributeValue::S(pk.to_owned()));
        let partition = format!("{p} = {pv}");
        if *sort == SortKey::Any {
            return partition;
        }
        // Named only when used: DynamoDB rejects unused placeholders.
        let s = self.name(sk_name);
        let mut text = |v: &str| self.value(AttributeValue::S(v.to_owned()));
        let range = match sort {
            SortKey::Any => return partition,
            SortKey::Eq(v) => format!("{s} = {}", text(v)),
            SortKey::Lt(v) => format!("{s} < {}", text(v)),
            SortKey::Le(v) => format!("{s} <= {}", text(v)),
            SortKey::Gt(v) => format!("{s} > {}", text(v)),
            SortKey::Ge(v) => format!("{s} >= {}", text(v)),
            SortKey::BeginsWith(v) => format!("begins_with({s}, {})", text(v)),
            SortKey::Between(a, b) => format!("{s} BETWEEN {} AND {}", text(a), text(b)),
        };
        format!("{partition} AND {range}")
    }
}

/// How tightly an expression binds; DynamoDB rejects redundant parentheses, so only looser
/// sub-expressions are wrapped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Prec {
    Or,
    And,
    Not,
    Atom,
}

/// A rendered condition and the operator it is built with.
struct Rendered {
    text: String,
    prec: Prec,
}

impl Rendered {
    /// The text, parenthesised when it binds more loosely than an operand of `outer` must.
    fn within(self, outer: Prec) -> String {
        if self.prec < outer {
            format!("({})", self.text)
        } else {
            self.text
        }
    }
}

/// Rewrites a sort-key condition so DynamoDB accepts it (no empty strings, BETWEEN in order);
/// `None` when no item can match.
fn normalize(pk: &str, sort: &SortKey) -> Option<SortKey> {
    if pk.is_empty() {
        return None;
    }
    // Key values are never empty, so "" sorts before every one of them.
    let sort = match sort {
        SortKey::Eq(v) | SortKey::Lt(v) | SortKey::Le(v) if v.is_empty() => return None,
        SortKey::Gt(v) | SortKey::Ge(v) | SortKey::BeginsWith(v) if v.is_empty() => SortKey::Any,
        SortKey::Between(a, b) if a > b || b.is_empty() => return None,
        SortKey::Between(a, b) if a.is_empty() => SortKey::Le(b.clone()),
        other => other.clone(),
    };
    Some(sort)
}

/// Where a query resumes: the cursor's key attributes, with the partition taken from the query.
fn start_key(query: &Query) -> Result<Option<RawItem>, StoreError> {
    let Some(c) = &query.cursor else {
        return Ok(None);
    };
    let last = cursor::decode(c)?;
    let field = |name: &str| {
        last.get(name)
            .filter(|v| !v.is_empty())
            .map(|v| AttributeValue::S(v.clone()))
            .ok_or_else(|| StoreError::Invalid("cursor does not belong to this query".into()))
    };
    let mut key = HashMap::new();
    match query.index {
        Index::Primary => {
            key.insert(PK.to_owned(), AttributeValue::S(query.pk.clone()));
            key.insert(SK.to_owned(), field(SK)?);
        }
        Index::Gsi1 => {
            key.insert(GSI1PK.to_owned(), AttributeValue::S(query.pk.clone()));
            key.insert(GSI1SK.to_owned(), field(GSI1SK)?);
            key.insert(PK.to_owned(), field(PK)?);
            key.insert(SK.to_owned(), field(SK)?);
        }
    }
    Ok(Some(key))
}

/// The item, unless it is absent or expired at `now`.
fn live(raw: Option<&RawItem>, now: i64) -> Result<Option<Item>, StoreError> {
    let item = raw.map(to_item).transpose()?;
    Ok(item.filter(|i| !i.is_expired(now)))
}

fn raw_key(key: &Key) -> RawItem {
    HashMap::from([
        (PK.to_owned(), AttributeValue::S(key.pk.clone())),
        (SK.to_owned(), AttributeValue::S(key.sk.clone())),
    ])
}

fn to_raw(item: &Item) -> RawItem {
    item.attrs
        .iter()
        .map(|(k, v)| (k.clone(), to_raw_value(v)))
        .collect()
}

fn to_raw_value(value: &Value) -> AttributeValue {
    match value {
        Value::S(s) => AttributeValue::S(s.clone()),
        Value::N(n) => AttributeValue::N(n.to_string()),
        Value::B(b) => AttributeValue::B(Blob::new(b.clone())),
        Value::Bool(b) => AttributeValue::Bool(*b),
        Value::Null => AttributeValue::Null(true),
        Value::L(l) => AttributeValue::L(l.iter().map(to_raw_value).collect()),
        Value::M(m) => AttributeValue::M(
            m.iter()
                .map(|(k, v)| (k.clone(), to_raw_value(v)))
                .collect(),
        ),
    }
}

fn to_item(raw: &RawItem) -> Result<Item, StoreError> {
    let attrs = raw
        .iter()
        .map(|(k, v)| Ok((k.clone(), from_raw_value(v)?)))
        .collect::<Result<BTreeMap<_, _>, StoreError>>()?;
    Ok(Item { attrs })
}

fn from_raw_value(value: &AttributeValue) -> Result<Value, StoreError> {
    Ok(match value {
        AttributeValue::S(s) => Value::S(s.clone()),
        AttributeValue::N(n) => Value::N(n.parse().map_err(|_| {
            StoreError::Internal(format!("stored number {n} is not a 64-bit integer"))
        })?),
        AttributeValue::B(b) => Value::B(b.as_ref().to_vec()),
        AttributeValue::Bool(b) => Value::Bool(*b),
        AttributeValue::Null(_) => Value::Null,
        AttributeValue::L(l) => Value::L(l.iter().map(from_raw_value).collect::<Result<_, _>>()?),
        AttributeValue::M(m) => Value::M(
            m.iter()
                .map(|(k, v)| Ok((k.clone(), from_raw_value(v)?)))
                .collect::<Result<_, StoreError>>()?,
        ),
        other => {
            return Err(StoreError::Internal(format!(
                "unsupported stored attribute {other:?}"
            )))
        }
    })
}

fn build_error(e: aws_sdk_dynamodb::error::BuildError) -> StoreError {
    StoreError::Internal(format!("building a DynamoDB request: {e}"))
}

/// Maps an SDK failure: throttling and transport trouble are retryable, validation is the caller's.
fn sdk_error<E, R>(doing: &str, err: SdkError<E, R>) -> StoreError
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    R: std::fmt::Debug,
{
    let detail = format!("{doing}: {}", DisplayErrorContext(&err));
    match &err {
        SdkError::TimeoutError(_) | SdkError::DispatchFailure(_) | SdkError::ResponseError(_) => {
            StoreError::Unavailable(detail)
        }
        SdkError::ServiceError(service) => match service.err().code() {
            Some(
                "ProvisionedThroughputExceededException"
                | "ThrottlingException"
                | "RequestLimitExceeded"
                | "InternalServerError"
                | "ServiceUnavailable"
                | "TransactionConflictException"
                | "TransactionInProgressException"
                | "ReplicatedWriteConflictException",
            ) => StoreError::Unavailable(detail),
            Some("ValidationException") => StoreError::Invalid(detail),
            _ => StoreError::Internal(detail),
        },
        _ => StoreError::Internal(detail),
    }
}
