//! DynamoDB-specific behaviour of `DynamoTable` on moto, beyond the shared Table contract: expired
//! items that DynamoDB has not deleted yet, paging around them, expressions on awkward names and
//! values, and what the engine does with data it did not write.

use chrono::Utc;
use mostrador_core::{Clock, FixedClock};
use mostrador_store::dynamodb::{ensure_table, DynamoTable};
use mostrador_store::table::cursor;
use mostrador_store::{
    CancelReason, Condition, Item, Key, Query, SortKey, StoreError, Table, TxOp, Update, Value,
};
use std::collections::BTreeMap;
use std::sync::Arc;

struct Engine {
    table: DynamoTable,
    clock: FixedClock,
    client: aws_sdk_dynamodb::Client,
    name: String,
}

/// A fresh table on moto, judged by a clock the test moves.
async fn engine() -> Engine {
    let config = mostrador_store::aws::test_sdk_config()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let client = aws_sdk_dynamodb::Client::new(&config);
    let name = format!("engine-{}", uuid::Uuid::new_v4().simple());
    ensure_table(&client, &name)
        .await
        .expect("create table on moto");
    let clock = FixedClock::at(Utc::now());
    let table = DynamoTable::new(client.clone(), name.clone(), Arc::new(clock.clone()));
    Engine {
        table,
        clock,
        client,
        name,
    }
}

fn condition_failed<T: std::fmt::Debug>(result: Result<T, StoreError>) -> Option<Item> {
    match result {
        Err(StoreError::ConditionFailed { current }) => current.map(|b| *b),
        other => panic!("expected ConditionFailed, got {other:?}"),
    }
}

async fn put_all(t: &DynamoTable, pk: &str, sks: &[&str], ttl: Option<i64>) {
    for sk in sks {
        let mut item = Item::new(&Key::new(pk, *sk));
        if let Some(ttl) = ttl {
            item.set("ttl", ttl);
        }
        t.put(item, None).await.expect("put");
    }
}

fn sks(items: &[Item]) -> Vec<String> {
    items
        .iter()
        .map(|i| i.get_s("sk").unwrap_or_default().to_owned())
        .collect()
}

async fn all_pages(t: &DynamoTable, q: Query) -> Vec<Vec<String>> {
    let mut pages = Vec::new();
    let mut cursor = None;
    loop {
        let page = t.query(q.clone().after(cursor)).await.expect("query page");
        pages.push(sks(&page.items));
        assert!(pages.len() < 100, "paging does not end");
        match page.cursor {
            Some(c) => cursor = Some(c),
            None => return pages,
        }
    }
}

#[tokio::test]
async fn ensure_table_is_idempotent() {
    let e = engine().await;
    ensure_table(&e.client, &e.name)
        .await
        .expect("second ensure_table");
    let key = Key::new("P", "S");
    e.table.put(Item::new(&key), None).await.expect("put");
    assert!(e.table.get(&key).await.expect("get").is_some());
}

#[tokio::test]
async fn attribute_names_that_are_reserved_words_or_contain_dots_work() {
    let e = engine().await;
    let key = Key::new("ORDER#1", "ORDER");
    let item = Item::new(&key)
        .with("status", "paid")
        .with("name", "Ana")
        .with("a.b", 1)
        .with("size", 3);
    e.table
        .put(item.clone(), Some(Condition::NotExists))
        .await
        .expect("put");
    let cond = Condition::Eq("status".into(), "paid".into())
        .and(Condition::Ge("a.b".into(), 1))
        .and(Condition::AttrExists("name".into()));
    let updated = e
        .table
        .update(
            &key,
            Update::new()
                .set("status", "fulfilled")
                .add("a.b", 1)
                .remove("name"),
            Some(cond),
        )
        .await
        .expect("update");
    assert_eq!(updated.get_s("status"), Some("fulfilled"));
    assert_eq!(updated.get_n("a.b"), Some(2));
    assert_eq!(updated.get("name"), None);
    assert_eq!(updated.get_n("size"), Some(3));
}

#[tokio::test]
async fn conditions_match_eval_on_missing_and_mistyped_attributes() {
    let e = engine().await;
    let key = Key::new("COND", "X");
    let mut map = BTreeMap::new();
    map.insert("k".to_owned(), Value::L(vec![Value::N(1), Value::Null]));
    let item = Item::new(&key)
        .with("text", "10")
        .with("n", 5)
        .with("m", Value::M(map.clone()));
    e.table.put(item.clone(), None).await.expect("put");
    let cases = [
        Condition::Ne("missing".into(), "x".into()),
        Condition::Eq("missing".into(), "x".into()),
        Condition::Lt("text".into(), 100),
        Condition::Ge("text".into(), 0),
        Condition::Not(Box::new(Condition::Lt("text".into(), 100))),
        Condition::Eq("m".into(), Value::M(map.clone())),
        Condition::Ne("m".into(), Value::M(BTreeMap::new())),
        Condition::Eq("n".into(), Value::S("5".into())),
        Condition::And(vec![]),
        Condition::Or(vec![]),
        Condition::Not(Box::new(Condition::Or(vec![]))),
        Condition::Or(vec![
            Condition::NotExists,
            Condition::Eq("n".into(), 5.into()),
        ]),
    ];
    for cond in cases {
        let expected = cond.eval(Some(&item));
        let result = e
            .table
            .update(&key, Update::new().set("probe", 1), Some(cond.clone()))
            .await;
        match result {
            Ok(_) => assert!(expected, "{cond:?} held on DynamoDB but not in eval"),
            Err(StoreError::ConditionFailed { current }) => {
                assert!(!expected, "{cond:?} failed on DynamoDB but holds in eval");
                assert_eq!(
                    current.map(|c| c.get_s("text").map(str::to_owned)),
                    Some(Some("10".into()))
                );
            }
            Err(other) => panic!("{cond:?}: {other:?}"),
        }
    }
}

#[tokio::test]
async fn update_of_an_expired_item_starts_from_nothing() {
    let e = engine().await;
    let key = Key::new("COUNTER", "DAY");
    let now = e.clock.now_secs();
    let old = Item::new(&key)
        .with("count", 41)
        .with("stale", true)
        .with("ttl", now + 10);
    e.table.put(old, None).await.expect("put");
    e.clock.advance(chrono::Duration::seconds(11));
    let fresh = e
        .table
        .update(&key, Update::new().add("count", 1), None)
        .await
        .expect("update");
    assert_eq!(
        fresh,
        Item::new(&key).with("count", 1),
        "expired attributes leaked into the update"
    );
    assert_eq!(e.table.get(&key).await.expect("get"), Some(fresh));
    // With a condition that needs the item, an expired one counts as absent.
    let other = Key::new("COUNTER", "OTHER");
    e.table
        .put(
            Item::new(&other)
                .with("count", 1)
                .with("ttl", e.clock.now_secs()),
            None,
        )
        .await
        .expect("put");
    let current = condition_failed(
        e.table
            .update(
                &other,
                Update::new().add("count", 1),
                Some(Condition::Exists),
            )
            .await,
    );
    assert_eq!(current, None);
    // With a condition that holds on nothing, the update applies to nothing.
    let claimed = e
        .table
        .update(
            &other,
            Update::new().set("owner", "me"),
            Some(Condition::AttrNotExists("owner".into())),
        )
        .await
        .expect("claim");
    assert_eq!(claimed, Item::new(&other).with("owner", "me"));
}

#[tokio::test]
async fn put_and_delete_treat_expired_items_as_absent() {
    let e = engine().await;
    let key = Key::new("IDEM", "MSG#1");
    let now = e.clock.now_secs();
    e.table
        .put(
            Item::new(&key)
                .with("status", "INPROGRESS")
                .with("ttl", now + 5),
            None,
        )
        .await
        .expect("put");
    // A condition that only a live item could satisfy fails, and reports no current item.
    e.clock.advance(chrono::Duration::seconds(5));
    let current = condition_failed(
        e.table
            .put(
                Item::new(&key),
                Some(Condition::Eq("status".into(), "INPROGRESS".into())),
            )
            .await,
    );
    assert_eq!(current, None);
    let current = condition_failed(e.table.delete(&key, Some(Condition::Exists)).await);
    assert_eq!(current, None);
    // A condition that holds on nothing succeeds even though the expired attributes would fail it.
    let claim = Item::new(&key).with("status", "COMPLETED");
    e.table
        .put(
            claim.clone(),
            Some(Condition::Ne("status".into(), "INPROGRESS".into())),
        )
        .await
        .expect("put over expired");
    assert_eq!(e.table.get(&key).await.expect("get"), Some(claim.clone()));
    // A live item's failed condition reports it.
    let current = condition_failed(
        e.table
            .put(Item::new(&key), Some(Condition::NotExists))
            .await,
    );
    assert_eq!(current, Some(claim));
}

#[tokio::test]
async fn pages_are_full_and_cursors_exact_around_expired_items() {
    let e = engine().await;
    let pk = "PAGES";
    let now = e.clock.now_secs();
    // Live items interleaved with runs of expired ones, which DynamoDB still returns before filtering.
    put_all(&e.table, pk, &["A01", "A03", "A07", "A09", "A10"], None).await;
    put_all(
        &e.table,
        pk,
        &["A02", "A04", "A05", "A06", "A08", "A11", "A12"],
        Some(now - 1),
    )
    .await;
    let forward = all_pages(&e.table, Query::partition(pk).limit(2)).await;
    assert_eq!(
        forward,
        [vec!["A01", "A03"], vec!["A07", "A09"], vec!["A10"]]
    );
    let backward = all_pages(&e.table, Query::partition(pk).limit(2).backward()).await;
    assert_eq!(
        backward,
        [vec!["A10", "A09"], vec!["A07", "A03"], vec!["A01"]]
    );
    // Exactly `limit` live items left: no cursor, even though expired items follow.
    let exact = e
        .table
        .query(
            Query::partition(pk)
                .sort(SortKey::Ge("A09".into()))
                .limit(2),
        )
        .await
        .expect("query");
    assert_eq!(
        (sks(&exact.items), exact.cursor),
        (vec!["A09".to_owned(), "A10".to_owned()], None)
    );
    let everything = e.table.query(Query::partition(pk)).await.expect("query");
    assert_eq!(sks(&everything.items), ["A01", "A03", "A07", "A09", "A10"]);
    assert_eq!(everything.cursor, None);
    let zero = e
        .table
        .query(Query::partition(pk).limit(0))
        .await
        .expect("query");
    assert_eq!(
        sks(&zero.items),
        ["A01"],
        "a limit of 0 means 1, as in the embedded engine"
    );
}

#[tokio::test]
async fn sort_key_conditions_with_empty_or_reversed_bounds_behave_like_the_embedded_engine() {
    let e = engine().await;
    let pk = "RANGE";
    put_all(&e.table, pk, &["B", "C", "D"], None).await;
    let q = |sort: SortKey| Query::partition(pk).sort(sort);
    let cases: [(SortKey, &[&str]); 9] = [
        (SortKey::Between("D".into(), "B".into()), &[]),
        (SortKey::Between("".into(), "C".into()), &["B", "C"]),
        (SortKey::Between("".into(), "".into()), &[]),
        (SortKey::BeginsWith("".into()), &["B", "C", "D"]),
        (SortKey::Gt("".into()), &["B", "C", "D"]),
        (SortKey::Ge("".into()), &["B", "C", "D"]),
        (SortKey::Le("".into()), &[]),
        (SortKey::Eq("".into()), &[]),
        (SortKey::Between("B".into(), "C".into()), &["B", "C"]),
    ];
    for (sort, expected) in cases {
        let page = e
            .table
            .query(q(sort.clone()))
            .await
            .unwrap_or_else(|err| panic!("{sort:?}: {err:?}"));
        assert_eq!(sks(&page.items), expected, "{sort:?}");
    }
    let empty_pk = e
        .table
        .query(Query::partition(""))
        .await
        .expect("query of an empty partition key");
    assert!(empty_pk.items.is_empty());
    assert_eq!(
        e.table
            .get(&Key::new("", ""))
            .await
            .expect("get of an empty key"),
        None
    );
}

#[tokio::test]
async fn gsi1_pages_by_index_sort_key_and_skips_expired_items() {
    let e = engine().await;
    let now = e.clock.now_secs();
    for (i, (due, ttl)) in [
        ("0300", None),
        ("0100", Some(now)),
        ("0200", None),
        ("0400", None),
        ("0050", Some(now - 5)),
    ]
    .into_iter()
    .enumerate()
    {
        let mut item = Item::new(&Key::new(format!("ORDER#{i}"), "ORDER"))
            .with("gsi1pk", "DUE")
            .with("gsi1sk", due);
        if let Some(t) = ttl {
            item.set("ttl", t);
        }
        e.table.put(item, None).await.expect("put");
    }
    let due = |items: &[Item]| {
        items
            .iter()
            .map(|i| i.get_s("gsi1sk").unwrap_or_default().to_owned())
            .collect::<Vec<_>>()
    };
    let first = e
        .table
        .query(Query::gsi1("DUE").limit(2))
        .await
        .expect("page 1");
    assert_eq!(due(&first.items), ["0200", "0300"]);
    let attrs = cursor::decode(first.cursor.as_deref().expect("cursor")).expect("decode");
    assert_eq!(
        attrs.keys().map(String::as_str).collect::<Vec<_>>(),
        ["gsi1pk", "gsi1sk", "pk", "sk"]
    );
    let second = e
        .table
        .query(Query::gsi1("DUE").limit(2).after(first.cursor))
        .await
        .expect("page 2");
    assert_eq!(
        (due(&second.items), second.cursor),
        (vec!["0400".to_owned()], None)
    );
    let foreign = cursor::encode(&BTreeMap::from([("sk".to_owned(), "ORDER".to_owned())]));
    let result = e.table.query(Query::gsi1("DUE").after(Some(foreign))).await;
    assert!(matches!(result, Err(StoreError::Invalid(_))), "{result:?}");
}

#[tokio::test]
async fn transaction_reports_each_operation_and_applies_nothing_on_failure() {
    let e = engine().await;
    let now = e.clock.now_secs();
    let a = Key::new("TX", "A");
    let gone = Key::new("TX", "GONE");
    let gone_too = Key::new("TX", "GONE#2");
    e.table
        .put(Item::new(&a).with("v", 1), None)
        .await
        .expect("put");
    for key in [&gone, &gone_too] {
        e.table
            .put(Item::new(key).with("v", 1).with("ttl", now - 1), None)
            .await
            .expect("put");
    }
    let result = e
        .table
        .transact(vec![
            TxOp::Update {
                key: a.clone(),
                update: Update::new().add("v", 1),
                condition: Some(Condition::Eq("v".into(), 1.into())),
            },
            TxOp::Check {
                key: gone.clone(),
                condition: Condition::Exists,
            },
            TxOp::Put {
                item: Item::new(&Key::new("TX", "NEW")),
                condition: Some(Condition::NotExists),
            },
            TxOp::Delete {
                key: gone_too.clone(),
                condition: Some(Condition::Eq("v".into(), 1.into())),
            },
        ])
        .await;
    match result {
        Err(StoreError::TransactionCanceled { reasons }) => assert_eq!(
            reasons,
            [
                CancelReason::None,
                CancelReason::ConditionFailed,
                CancelReason::None,
                CancelReason::ConditionFailed
            ]
        ),
        other => panic!("expected TransactionCanceled, got {other:?}"),
    }
    assert_eq!(
        e.table
            .get(&a)
            .await
            .expect("get")
            .and_then(|i| i.get_n("v")),
        Some(1)
    );
    assert_eq!(
        e.table.get(&Key::new("TX", "NEW")).await.expect("get"),
        None
    );
}

#[tokio::test]
async fn transaction_update_of_an_expired_item_starts_from_nothing() {
    let e = engine().await;
    let now = e.clock.now_secs();
    let stale = Key::new("TXTTL", "STALE");
    let live = Key::new("TXTTL", "LIVE");
    e.table
        .put(
            Item::new(&stale).with("reserved", 7).with("ttl", now - 1),
            None,
        )
        .await
        .expect("put");
    e.table
        .put(Item::new(&live).with("reserved", 7), None)
        .await
        .expect("put");
    e.table
        .transact(vec![
            TxOp::Update {
                key: stale.clone(),
                update: Update::new().add("reserved", 2),
                condition: Some(Condition::NotExists),
            },
            TxOp::Update {
                key: live.clone(),
                update: Update::new().add("reserved", 2),
                condition: Some(Condition::Exists),
            },
        ])
        .await
        .expect("transaction");
    assert_eq!(
        e.table.get(&stale).await.expect("get"),
        Some(Item::new(&stale).with("reserved", 2))
    );
    assert_eq!(
        e.table
            .get(&live)
            .await
            .expect("get")
            .and_then(|i| i.get_n("reserved")),
        Some(9)
    );
    // The same update needing a live item fails, and the expired copy stays untouched underneath.
    let other = Key::new("TXTTL", "OTHER");
    e.table
        .put(
            Item::new(&other).with("reserved", 7).with("ttl", now - 1),
            None,
        )
        .await
        .expect("put");
    let result = e
        .table
        .transact(vec![TxOp::Update {
            key: other.clone(),
            update: Update::new().add("reserved", 2),
            condition: Some(Condition::Exists),
        }])
        .await;
    assert_eq!(
        result.err().map(|err| err.failed_operations()),
        Some(vec![0])
    );
}

#[tokio::test]
async fn items_written_by_others_with_unsupported_values_are_internal_errors() {
    use aws_sdk_dynamodb::types::AttributeValue;
    let e = engine().await;
    for (sk, value) in [
        ("FRACTION", AttributeValue::N("1.5".into())),
        ("SET", AttributeValue::Ss(vec!["a".into()])),
    ] {
        e.client
            .put_item()
            .table_name(&e.name)
            .item("pk", AttributeValue::S("RAW".into()))
            .item("sk", AttributeValue::S(sk.into()))
            .item("v", value)
            .send()
            .await
            .expect("raw put");
        let result = e.table.get(&Key::new("RAW", sk)).await;
        assert!(
            matches!(result, Err(StoreError::Internal(_))),
            "{sk}: {result:?}"
        );
    }
}
