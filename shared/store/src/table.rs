//! The Table port: a key-value table with DynamoDB's semantics (single table, `pk`/`sk`, one GSI, TTL).
//!
//! Reserved attributes: `pk` and `sk` (the primary key), `gsi1pk` and `gsi1sk` (the one secondary index:
//! an item without `gsi1pk` is not in it), and `ttl` (epoch seconds; an item whose `ttl` has passed is
//! treated as absent by every read and every condition, on every engine).

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Attribute name of the partition key.
pub const PK: &str = "pk";
/// Attribute name of the sort key.
pub const SK: &str = "sk";
/// Partition key of the secondary index.
pub const GSI1PK: &str = "gsi1pk";
/// Sort key of the secondary index.
pub const GSI1SK: &str = "gsi1sk";
/// Expiry in epoch seconds.
pub const TTL: &str = "ttl";

/// DynamoDB's limit on one item, in bytes.
pub const MAX_ITEM_BYTES: usize = 400 * 1024;
/// DynamoDB's limit on actions in one transaction.
pub const MAX_TRANSACTION_ITEMS: usize = 100;

/// One attribute value. Numbers are integers: money is centavos, times are epoch seconds or ms.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Value {
    S(String),
    N(i64),
    /// Bytes: written as base64 text where items are JSON (the embedded engine's rows), read
    /// from that or from the array of numbers earlier versions wrote.
    B(#[serde(with = "bytes_text")] Vec<u8>),
    Bool(bool),
    Null,
    L(Vec<Value>),
    M(BTreeMap<String, Value>),
}

impl Value {
    /// The string, if this is one.
    pub fn as_s(&self) -> Option<&str> {
        match self {
            Value::S(s) => Some(s),
            _ => None,
        }
    }

    /// The number, if this is one.
    pub fn as_n(&self) -> Option<i64> {
        match self {
            Value::N(n) => Some(*n),
            _ => None,
        }
    }

    /// Approximate stored size, as DynamoDB counts it (UTF-8 bytes of strings, ~digits of numbers).
    pub fn size(&self) -> usize {
        match self {
            Value::S(s) => s.len(),
            Value::N(_) => 21,
            Value::B(b) => b.len(),
            Value::Bool(_) | Value::Null => 1,
            Value::L(l) => 3 + l.iter().map(|v| v.size() + 1).sum::<usize>(),
            Value::M(m) => 3 + m.iter().map(|(k, v)| k.len() + v.size() + 1).sum::<usize>(),
        }
    }
}

impl From<&str> for Value {
    fn from(s: &str) -> Self {
        Value::S(s.to_owned())
    }
}
impl From<String> for Value {
    fn from(s: String) -> Self {
        Value::S(s)
    }
}
impl From<i64> for Value {
    fn from(n: i64) -> Self {
        Value::N(n)
    }
}
impl From<bool> for Value {
    fn from(b: bool) -> Self {
        Value::Bool(b)
    }
}
impl From<Vec<u8>> for Value {
    fn from(b: Vec<u8>) -> Self {
        Value::B(b)
    }
}

/// The primary key of an item.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Key {
    pub pk: String,
    pub sk: String,
}

impl Key {
    /// A key from its two parts.
    pub fn new(pk: impl Into<String>, sk: impl Into<String>) -> Self {
        Self {
            pk: pk.into(),
            sk: sk.into(),
        }
    }
}

/// An item: its attributes, always including `pk` and `sk` as strings.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Item {
    pub attrs: BTreeMap<String, Value>,
}

impl Item {
    /// An item with the given key and no other attributes.
    pub fn new(key: &Key) -> Self {
        let mut attrs = BTreeMap::new();
        attrs.insert(PK.to_owned(), Value::S(key.pk.clone()));
        attrs.insert(SK.to_owned(), Value::S(key.sk.clone()));
        Self { attrs }
    }

    /// Builder: sets an attribute.
    pub fn with(mut self, name: impl Into<String>, value: impl Into<Value>) -> Self {
        self.attrs.insert(name.into(), value.into());
        self
    }

    /// Sets an attribute.
    pub fn set(&mut self, name: impl Into<String>, value: impl Into<Value>) {
        self.attrs.insert(name.into(), value.into());
    }

    /// The attribute, if present.
    pub fn get(&self, name: &str) -> Option<&Value> {
        self.attrs.get(name)
    }

    /// A string attribute, if present and a string.
    pub fn get_s(&self, name: &str) -> Option<&str> {
        self.attrs.get(name).and_then(Value::as_s)
    }

    /// A number attribute, if present and a number.
    pub fn get_n(&self, name: &str) -> Option<i64> {
        self.attrs.get(name).and_then(Value::as_n)
    }

    /// The item's key, if `pk` and `sk` are present strings.
    pub fn key(&self) -> Option<Key> {
        Some(Key::new(self.get_s(PK)?, self.get_s(SK)?))
    }

    /// The expiry in epoch seconds, if any.
    pub fn ttl(&self) -> Option<i64> {
        self.get_n(TTL)
    }

    /// Whether the item has expired at `now_secs`.
    pub fn is_expired(&self, now_secs: i64) -> bool {
        self.ttl().is_some_and(|t| t <= now_secs)
    }

    /// Approximate size in bytes as DynamoDB counts it.
    pub fn size(&self) -> usize {
        self.attrs.iter().map(|(k, v)| k.len() + v.size()).sum()
    }

    /// Checks the invariants every engine enforces before writing.
    pub fn validate(&self) -> Result<Key, StoreError> {
        let key = self
            .key()
            .ok_or_else(|| StoreError::Invalid("item needs string pk and sk".into()))?;
        if key.pk.is_empty() || key.sk.is_empty() {
            return Err(StoreError::Invalid("pk and sk must not be empty".into()));
        }
        for name in [GSI1PK, GSI1SK] {
            if let Some(v) = self.attrs.get(name) {
                if v.as_s().is_none_or(str::is_empty) {
                    return Err(StoreError::Invalid(format!(
                        "{name} must be a non-empty string"
                    )));
                }
            }
        }
        if let Some(v) = self.attrs.get(TTL) {
            if v.as_n().is_none() {
                return Err(StoreError::Invalid(
                    "ttl must be a number of epoch seconds".into(),
                ));
            }
        }
        if self.size() > MAX_ITEM_BYTES {
            return Err(StoreError::Invalid(format!(
                "item {}/{} is {} bytes, over the 400 KB limit",
                key.pk,
                key.sk,
                self.size()
            )));
        }
        Ok(key)
    }
}

/// A condition on the current state of an item, checked atomically with a write.
#[derive(Debug, Clone, PartialEq)]
pub enum Condition {
    /// The item exists (and has not expired).
    Exists,
    /// The item does not exist (or has expired).
    NotExists,
    AttrExists(String),
    AttrNotExists(String),
    Eq(String, Value),
    /// Not equal; true when the attribute is missing.
    Ne(String, Value),
    Lt(String, i64),
    Le(String, i64),
    Gt(String, i64),
    Ge(String, i64),
    And(Vec<Condition>),
    Or(Vec<Condition>),
    Not(Box<Condition>),
}

impl Condition {
    /// Both conditions.
    pub fn and(self, other: Condition) -> Condition {
        match self {
            Condition::And(mut all) => {
                all.push(other);
                Condition::And(all)
            }
            first => Condition::And(vec![first, other]),
        }
    }

    /// Either condition.
    pub fn or(self, other: Condition) -> Condition {
        match self {
            Condition::Or(mut any) => {
                any.push(other);
                Condition::Or(any)
            }
            first => Condition::Or(vec![first, other]),
        }
    }

    /// Evaluates the condition against the live item (`None` when absent or expired).
    pub fn eval(&self, item: Option<&Item>) -> bool {
        let attr = |name: &str| item.and_then(|i| i.get(name));
        let num = |name: &str| attr(name).and_then(Value::as_n);
        match self {
            Condition::Exists => item.is_some(),
            Condition::NotExists => item.is_none(),
            Condition::AttrExists(a) => attr(a).is_some(),
            Condition::AttrNotExists(a) => attr(a).is_none(),
            Condition::Eq(a, v) => attr(a) == Some(v),
            Condition::Ne(a, v) => attr(a) != Some(v),
            Condition::Lt(a, n) => num(a).is_some_and(|x| x < *n),
            Condition::Le(a, n) => num(a).is_some_and(|x| x <= *n),
            Condition::Gt(a, n) => num(a).is_some_and(|x| x > *n),
            Condition::Ge(a, n) => num(a).is_some_and(|x| x >= *n),
            Condition::And(all) => all.iter().all(|c| c.eval(item)),
            Condition::Or(any) => any.iter().any(|c| c.eval(item)),
            Condition::Not(c) => !c.eval(item),
        }
    }
}

/// Changes to an item's attributes. Like DynamoDB's UpdateItem, it creates the item when absent
/// (unless a condition forbids it).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Update {
    /// `SET name = value`.
    pub set: Vec<(String, Value)>,
    /// `SET name = if_not_exists(name, value)`.
    pub set_if_absent: Vec<(String, Value)>,
    /// `ADD name delta` (a missing attribute counts as 0).
    pub add: Vec<(String, i64)>,
    /// `REMOVE name`.
    pub remove: Vec<String>,
}

impl Update {
    /// An empty update.
    pub fn new() -> Self {
        Self::default()
    }

    /// Builder: sets an attribute.
    pub fn set(mut self, name: impl Into<String>, value: impl Into<Value>) -> Self {
        self.set.push((name.into(), value.into()));
        self
    }

    /// Builder: sets an attribute only if it has no value yet.
    pub fn set_if_absent(mut self, name: impl Into<String>, value: impl Into<Value>) -> Self {
        self.set_if_absent.push((name.into(), value.into()));
        self
    }

    /// Builder: adds a delta to a numeric attribute.
    pub fn add(mut self, name: impl Into<String>, delta: i64) -> Self {
        self.add.push((name.into(), delta));
        self
    }

    /// Builder: removes an attribute.
    pub fn remove(mut self, name: impl Into<String>) -> Self {
        self.remove.push(name.into());
        self
    }

    /// Names every attribute this update touches, in order.
    pub fn touched(&self) -> impl Iterator<Item = &str> {
        self.set
            .iter()
            .map(|(n, _)| n.as_str())
            .chain(self.set_if_absent.iter().map(|(n, _)| n.as_str()))
            .chain(self.add.iter().map(|(n, _)| n.as_str()))
            .chain(self.remove.iter().map(String::as_str))
    }

    /// Rejects updates DynamoDB would reject: touching the key, or one attribute twice.
    pub fn validate(&self) -> Result<(), StoreError> {
        let mut seen = std::collections::BTreeSet::new();
        for name in self.touched() {
            if name == PK || name == SK {
                return Err(StoreError::Invalid(format!(
                    "an update cannot change {name}"
                )));
            }
            if !seen.insert(name) {
                return Err(StoreError::Invalid(format!(
                    "an update touches {name} twice"
                )));
            }
        }
        if seen.is_empty() {
            return Err(StoreError::Invalid(
                "an update must change something".into(),
            ));
        }
        Ok(())
    }

    /// Applies the update to the current item (`None` when absent) and returns the new item.
    pub fn apply(&self, key: &Key, current: Option<&Item>) -> Result<Item, StoreError> {
        let mut item = current.cloned().unwrap_or_else(|| Item::new(key));
        for (name, value) in &self.set {
            item.attrs.insert(name.clone(), value.clone());
        }
        for (name, value) in &self.set_if_absent {
            item.attrs
                .entry(name.clone())
                .or_insert_with(|| value.clone());
        }
        for (name, delta) in &self.add {
            let now = match item.attrs.get(name) {
                None => 0,
                Some(Value::N(n)) => *n,
                Some(_) => {
                    return Err(StoreError::Invalid(format!(
                        "ADD on non-numeric attribute {name}"
                    )))
                }
            };
            let next = now
                .checked_add(*delta)
                .ok_or_else(|| StoreError::Invalid(format!("ADD overflows attribute {name}")))?;
            item.attrs.insert(name.clone(), Value::N(next));
        }
        for name in &self.remove {
            item.attrs.remove(name);
        }
        item.validate()?;
        Ok(item)
    }
}

/// Which index a query reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Index {
    /// The table itself: partition `pk`, sort `sk`.
    #[default]
    Primary,
    /// The secondary index: partition `gsi1pk`, sort `gsi1sk`. Eventually consistent on DynamoDB.
    Gsi1,
}

/// A condition on the sort key of a query.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum SortKey {
    #[default]
    Any,
    Eq(String),
    BeginsWith(String),
    /// Inclusive on both ends, as DynamoDB's BETWEEN.
    Between(String, String),
    Lt(String),
    Le(String),
    Gt(String),
    Ge(String),
}

/// A query on one partition.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Query {
    pub index: Index,
    pub pk: String,
    pub sort: SortKey,
    /// Ascending sort-key order when true.
    pub forward: bool,
    /// At most this many items in the page.
    pub limit: Option<u32>,
    /// Where the previous page stopped.
    pub cursor: Option<String>,
}

impl Query {
    /// All items of a partition, ascending.
    pub fn partition(pk: impl Into<String>) -> Self {
        Self {
            pk: pk.into(),
            forward: true,
            ..Self::default()
        }
    }

    /// A partition of the secondary index, ascending.
    pub fn gsi1(pk: impl Into<String>) -> Self {
        Self {
            index: Index::Gsi1,
            pk: pk.into(),
            forward: true,
            ..Self::default()
        }
    }

    /// Builder: sort-key condition.
    pub fn sort(mut self, sort: SortKey) -> Self {
        self.sort = sort;
        self
    }

    /// Builder: sort-key prefix.
    pub fn prefix(self, prefix: impl Into<String>) -> Self {
        self.sort(SortKey::BeginsWith(prefix.into()))
    }

    /// Builder: descending order.
    pub fn backward(mut self) -> Self {
        self.forward = false;
        self
    }

    /// Builder: page size.
    pub fn limit(mut self, limit: u32) -> Self {
        self.limit = Some(limit);
        self
    }

    /// Builder: continue after a previous page.
    pub fn after(mut self, cursor: Option<String>) -> Self {
        self.cursor = cursor;
        self
    }
}

/// One page of query results.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Page {
    pub items: Vec<Item>,
    /// Present when more items may follow; pass it to [`Query::after`].
    pub cursor: Option<String>,
}

/// One write in a transaction.
#[derive(Debug, Clone, PartialEq)]
pub enum TxOp {
    Put {
        item: Item,
        condition: Option<Condition>,
    },
    Update {
        key: Key,
        update: Update,
        condition: Option<Condition>,
    },
    Delete {
        key: Key,
        condition: Option<Condition>,
    },
    /// Only checks a condition on an item that is not otherwise written.
    Check { key: Key, condition: Condition },
}

impl TxOp {
    /// The key this operation addresses.
    pub fn key(&self) -> Result<Key, StoreError> {
        match self {
            TxOp::Put { item, .. } => item.validate(),
            TxOp::Update { key, .. } | TxOp::Delete { key, .. } | TxOp::Check { key, .. } => {
                Ok(key.clone())
            }
        }
    }

    /// The condition attached to this operation.
    pub fn condition(&self) -> Option<&Condition> {
        match self {
            TxOp::Put { condition, .. }
            | TxOp::Update { condition, .. }
            | TxOp::Delete { condition, .. } => condition.as_ref(),
            TxOp::Check { condition, .. } => Some(condition),
        }
    }
}

/// Why one operation of a cancelled transaction did not apply.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum CancelReason {
    /// This operation was fine; others failed.
    None,
    /// Its condition did not hold.
    ConditionFailed,
    /// Another transaction was writing the same item; retrying may succeed.
    Conflict,
    /// Anything else the engine reported.
    Other(String),
}

/// Errors of the Table port.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The condition of a single write did not hold; `current` is the live item, if any.
    #[error("condition failed")]
    ConditionFailed { current: Option<Box<Item>> },
    /// A transaction applied nothing; one reason per operation, in order.
    #[error("transaction cancelled: {reasons:?}")]
    TransactionCanceled { reasons: Vec<CancelReason> },
    /// The request itself is wrong (the caller's fault): bad key, too large, too many operations.
    #[error("invalid request: {0}")]
    Invalid(String),
    /// The engine is throttling or unreachable; retrying later may succeed.
    #[error("store unavailable: {0}")]
    Unavailable(String),
    /// Anything else.
    #[error("store error: {0}")]
    Internal(String),
}

impl StoreError {
    /// Whether the failure is a condition that did not hold (single write or any op of a transaction).
    pub fn is_condition_failed(&self) -> bool {
        match self {
            StoreError::ConditionFailed { .. } => true,
            StoreError::TransactionCanceled { reasons } => {
                reasons.contains(&CancelReason::ConditionFailed)
            }
            _ => false,
        }
    }

    /// The indexes of the transaction operations whose condition failed.
    pub fn failed_operations(&self) -> Vec<usize> {
        match self {
            StoreError::TransactionCanceled { reasons } => reasons
                .iter()
                .enumerate()
                .filter(|(_, r)| **r == CancelReason::ConditionFailed)
                .map(|(i, _)| i)
                .collect(),
            _ => Vec::new(),
        }
    }

    /// Whether retrying the same request later may succeed.
    pub fn is_retryable(&self) -> bool {
        match self {
            StoreError::Unavailable(_) => true,
            StoreError::TransactionCanceled { reasons } => {
                reasons.contains(&CancelReason::Conflict)
                    && !reasons.contains(&CancelReason::ConditionFailed)
            }
            _ => false,
        }
    }
}

/// Checks a transaction's shape before any engine runs it.
pub fn validate_transaction(ops: &[TxOp]) -> Result<(), StoreError> {
    if ops.is_empty() {
        return Err(StoreError::Invalid(
            "a transaction needs at least one operation".into(),
        ));
    }
    if ops.len() > MAX_TRANSACTION_ITEMS {
        return Err(StoreError::Invalid(format!(
            "a transaction holds at most {MAX_TRANSACTION_ITEMS} operations, got {}",
            ops.len()
        )));
    }
    let mut keys = std::collections::BTreeSet::new();
    for op in ops {
        let key = op.key()?;
        if let TxOp::Update { update, .. } = op {
            update.validate()?;
        }
        if !keys.insert(key.clone()) {
            return Err(StoreError::Invalid(format!(
                "a transaction may not touch {}/{} twice",
                key.pk, key.sk
            )));
        }
    }
    Ok(())
}

/// Transactions [`Table::transact_many`] keeps in flight at once on engines that run them one
/// request each.
pub const TRANSACTIONS_AT_ONCE: usize = 8;

/// The Table port.
#[async_trait]
pub trait Table: Send + Sync {
    /// The live item under `key`, if any.
    async fn get(&self, key: &Key) -> Result<Option<Item>, StoreError>;

    /// Writes the whole item if the condition holds.
    async fn put(&self, item: Item, condition: Option<Condition>) -> Result<(), StoreError>;

    /// Updates (or creates) the item if the condition holds; returns the item as written.
    async fn update(
        &self,
        key: &Key,
        update: Update,
        condition: Option<Condition>,
    ) -> Result<Item, StoreError>;

    /// Deletes the item if the condition holds; returns what was deleted, if it was live.
    async fn delete(
        &self,
        key: &Key,
        condition: Option<Condition>,
    ) -> Result<Option<Item>, StoreError>;

    /// One page of a partition, in sort-key order.
    async fn query(&self, query: Query) -> Result<Page, StoreError>;

    /// Up to 100 writes on distinct items that all apply or none do.
    async fn transact(&self, ops: Vec<TxOp>) -> Result<(), StoreError>;

    /// Several independent transactions, each of which applies or not on its own exactly as
    /// [`Table::transact`] would; answers one result per group, in order. For work that comes in
    /// batches (the notifications of a bulk request): the embedded engine commits every group in
    /// one file commit, DynamoDB runs the groups side by side. Groups should not touch the same
    /// item (their order is then the engine's).
    async fn transact_many(&self, groups: Vec<Vec<TxOp>>) -> Vec<Result<(), StoreError>> {
        use futures::StreamExt;
        futures::stream::iter(groups)
            .map(|ops| self.transact(ops))
            .buffered(TRANSACTIONS_AT_ONCE)
            .collect()
            .await
    }

    /// One page (at most `limit` items) of the live items whose partition key starts with
    /// `pk_prefix`, continuing after `cursor`. For the rare reads of everything a tenant holds (a
    /// customer's data export or erasure, an integrity check): on DynamoDB it is a Scan, which
    /// reads the whole table whatever the prefix, and its order is the engine's, not the keys'.
    async fn scan(
        &self,
        pk_prefix: &str,
        cursor: Option<String>,
        limit: u32,
    ) -> Result<Page, StoreError>;
}

/// Opaque continuation cursor: the key attributes of the last item returned.
/// The attributes that identify an item's position in an index.
pub(crate) fn key_attrs(item: &Item, index: Index) -> BTreeMap<String, String> {
    let mut names = vec![PK, SK];
    if index == Index::Gsi1 {
        names.extend([GSI1PK, GSI1SK]);
    }
    names
        .into_iter()
        .filter_map(|n| item.get_s(n).map(|v| (n.to_owned(), v.to_owned())))
        .collect()
}

/// Bytes as base64 text in self-describing formats (a sealed value is a third longer as text,
/// instead of nearly four times as a JSON array of numbers, and parses without a number per byte).
mod bytes_text {
    use base64::engine::general_purpose::STANDARD;
    use base64::Engine;
    use serde::de::{self, SeqAccess, Visitor};
    use serde::{Deserializer, Serializer};

    pub fn serialize<S: Serializer>(bytes: &[u8], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&STANDARD.encode(bytes))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
        struct Bytes;
        impl<'de> Visitor<'de> for Bytes {
            type Value = Vec<u8>;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("base64 text or an array of bytes")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Vec<u8>, E> {
                STANDARD.decode(v).map_err(E::custom)
            }
            fn visit_bytes<E: de::Error>(self, v: &[u8]) -> Result<Vec<u8>, E> {
                Ok(v.to_vec())
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Vec<u8>, A::Error> {
                let mut out = Vec::with_capacity(seq.size_hint().unwrap_or(0));
                while let Some(b) = seq.next_element::<u8>()? {
                    out.push(b);
                }
                Ok(out)
            }
        }
        d.deserialize_any(Bytes)
    }
}

pub mod cursor {
    use super::StoreError;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use base64::Engine;
    use std::collections::BTreeMap;

    /// Encodes the key attributes of the last item of a page.
    pub fn encode(key_attrs: &BTreeMap<String, String>) -> String {
        let json = serde_json::to_vec(key_attrs).unwrap_or_default();
        URL_SAFE_NO_PAD.encode(json)
    }

    /// The item key a scan cursor names (its `pk` and `sk`).
    pub fn decode_key(cursor: &str) -> Result<super::Key, StoreError> {
        let last = decode(cursor)?;
        match (last.get(super::PK), last.get(super::SK)) {
            (Some(pk), Some(sk)) => Ok(super::Key::new(pk.clone(), sk.clone())),
            _ => Err(StoreError::Invalid(
                "cursor does not belong to this scan".into(),
            )),
        }
    }

    /// Decodes a cursor produced by [`encode`].
    pub fn decode(cursor: &str) -> Result<BTreeMap<String, String>, StoreError> {
        let bytes = URL_SAFE_NO_PAD
            .decode(cursor)
            .map_err(|_| StoreError::Invalid("malformed cursor".into()))?;
        serde_json::from_slice(&bytes).map_err(|_| StoreError::Invalid("malformed cursor".into()))
    }
}

#[cfg(test)]
mod bytes_tests {
    use super::*;

    #[test]
    fn bytes_are_written_as_base64_and_read_in_either_form() {
        let v = Value::B(vec![0, 1, 2, 250, 255]);
        let text = serde_json::to_string(&v).expect("json");
        assert_eq!(text, r#"{"B":"AAEC+v8="}"#);
        assert_eq!(serde_json::from_str::<Value>(&text).expect("read"), v);
        // What earlier versions wrote.
        let old: Value = serde_json::from_str(r#"{"B":[0,1,2,250,255]}"#).expect("read");
        assert_eq!(old, v);
        assert!(serde_json::from_str::<Value>(r#"{"B":"not base64!"}"#).is_err());
        assert!(serde_json::from_str::<Value>(r#"{"B":[256]}"#).is_err());
    }
}
