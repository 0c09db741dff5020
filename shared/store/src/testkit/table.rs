//! The Table contract: behaviours every engine must show, run unchanged against each of them with
//! [`table_contract!`](crate::table_contract).

use crate::table::{
    CancelReason, Condition, Item, Key, Query, SortKey, StoreError, Table, TxOp, Update, Value,
};
use mostrador_core::{Clock, FixedClock};
use std::collections::BTreeMap;
use std::sync::Arc;

/// An engine under test, with the clock it judges expiry by.
pub struct TableFixture {
    pub table: Arc<dyn Table>,
    pub clock: FixedClock,
    /// Keeps temporary resources (directories, tables) alive for the test.
    pub guard: Box<dyn std::any::Any + Send>,
}

/// Expands to one `#[tokio::test]` per behaviour; `$make` is an `async fn() -> TableFixture`.
#[macro_export]
macro_rules! table_contract {
    ($make:path) => {
        $crate::table_contract!(@each $make;
            put_then_get_roundtrips_every_value_type,
            get_of_a_missing_item_is_none,
            put_if_not_exists_refuses_a_second_put_and_returns_the_current_item,
            conditional_update_honours_equals_and_numeric_comparisons,
            update_increments_and_creates_a_missing_item,
            update_set_if_absent_keeps_an_existing_value,
            update_removes_attributes,
            update_with_exists_condition_on_a_missing_item_fails,
            update_touching_the_key_is_rejected,
            delete_returns_the_old_item_and_honours_its_condition,
            query_by_prefix_in_both_directions,
            query_by_sort_key_range_and_comparisons,
            query_pages_cover_every_item_exactly_once,
            gsi1_query_orders_by_its_sort_key_and_pages,
            transaction_applies_every_write,
            failed_transaction_applies_nothing_and_names_the_failed_operation,
            transaction_of_100_writes_applies_and_101_is_rejected,
            transaction_touching_one_item_twice_is_rejected,
            transactions_in_a_batch_apply_or_fail_each_on_its_own,
            expired_items_are_invisible_to_reads_and_conditions,
            oversized_item_is_rejected,
            concurrent_conditional_decrements_never_oversell,
            malformed_cursor_is_rejected,
            scan_pages_every_live_item_under_a_partition_prefix_once,
        );
    };
    (@each $make:path; $($name:ident),* $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() {
                let fixture = $make().await;
                $crate::testkit::table::$name(&fixture).await;
            }
        )*
    };
}

/// A partition name unique to one test run, so tests never see each other's items.
fn part(name: &str) -> String {
    format!("T#{}#{name}", uuid::Uuid::new_v4().simple())
}

fn condition_failed(result: Result<impl std::fmt::Debug, StoreError>) -> Option<Item> {
    match result {
        Err(StoreError::ConditionFailed { current }) => current.map(|b| *b),
        other => panic!("expected ConditionFailed, got {other:?}"),
    }
}

async fn put_all(t: &dyn Table, pk: &str, sks: &[&str]) {
    for sk in sks {
        let item = Item::new(&Key::new(pk, *sk)).with("n", 1);
        t.put(item, None).await.expect("put");
    }
}

async fn sks(t: &dyn Table, q: Query) -> Vec<String> {
    let page = t.query(q).await.expect("query");
    page.items
        .iter()
        .map(|i| i.get_s("sk").unwrap_or_default().to_owned())
        .collect()
}

/// Collects every page of a query.
async fn all_pages(t: &dyn Table, q: Query) -> (Vec<String>, usize) {
    let mut out = Vec::new();
    let mut cursor = None;
    let mut pages = 0;
    loop {
        let page = t.query(q.clone().after(cursor)).await.expect("query page");
        pages += 1;
        assert!(pages < 1000, "paging does not end");
        if let Some(limit) = q.limit {
            assert!(
                page.items.len() <= limit as usize,
                "page larger than its limit"
            );
        }
        out.extend(
            page.items
                .iter()
                .map(|i| i.get_s("sk").unwrap_or_default().to_owned()),
        );
        match page.cursor {
            Some(c) => cursor = Some(c),
            None => break,
        }
    }
    (out, pages)
}

pub async fn put_then_get_roundtrips_every_value_type(f: &TableFixture) {
    let key = Key::new(part("values"), "ITEM#1");
    let mut map = BTreeMap::new();
    map.insert("city".to_owned(), Value::S("Querétaro".into()));
    map.insert("qty".to_owned(), Value::N(-3));
    let item = Item::new(&key)
        .with("name", "Paracetamol 500 mg — caja con 10 🙂")
        .with("price", 4_550)
        .with("big", i64::MAX)
        .with("neg", -1)
        .with("flag", true)
        .with("raw", vec![0u8, 159, 146, 150, 255])
        .with("nothing", Value::Null)
        .with(
            "list",
            Value::L(vec![Value::S("a".into()), Value::N(2), Value::Bool(false)]),
        )
        .with("map", Value::M(map));
    f.table.put(item.clone(), None).await.expect("put");
    let got = f.table.get(&key).await.expect("get");
    assert_eq!(got, Some(item));
}

pub async fn get_of_a_missing_item_is_none(f: &TableFixture) {
    let got = f
        .table
        .get(&Key::new(part("missing"), "NOPE"))
        .await
        .expect("get");
    assert_eq!(got, None);
}

pub async fn put_if_not_exists_refuses_a_second_put_and_returns_the_current_item(f: &TableFixture) {
    let key = Key::new(part("once"), "ORDER#1");
    let first = Item::new(&key).with("status", "awaiting_payment");
    f.table
        .put(first.clone(), Some(Condition::NotExists))
        .await
        .expect("first put");
    let second = Item::new(&key).with("status", "paid");
    let current = condition_failed(f.table.put(second, Some(Condition::NotExists)).await);
    assert_eq!(current, Some(first.clone()));
    assert_eq!(f.table.get(&key).await.expect("get"), Some(first));
}

pub async fn conditional_update_honours_equals_and_numeric_comparisons(f: &TableFixture) {
    let key = Key::new(part("cond"), "STOCK#SKU1");
    f.table
        .put(
            Item::new(&key)
                .with("available", 5)
                .with("status", "active"),
            None,
        )
        .await
        .expect("put");

    // Equals
    let eq = Condition::Eq("status".into(), "active".into());
    f.table
        .update(&key, Update::new().set("note", "a"), Some(eq))
        .await
        .expect("eq holds");
    let ne = Condition::Eq("status".into(), "inactive".into());
    condition_failed(
        f.table
            .update(&key, Update::new().set("note", "b"), Some(ne))
            .await,
    );
    let not_eq = Condition::Ne("status".into(), "inactive".into());
    f.table
        .update(&key, Update::new().set("note", "c"), Some(not_eq))
        .await
        .expect("ne holds");

    // Numeric comparisons
    let take = |q: i64| Update::new().add("available", -q);
    let after = f
        .table
        .update(&key, take(5), Some(Condition::Ge("available".into(), 5)))
        .await
        .expect("ge holds");
    assert_eq!(after.get_n("available"), Some(0));
    let current = condition_failed(
        f.table
            .update(&key, take(1), Some(Condition::Ge("available".into(), 1)))
            .await,
    );
    assert_eq!(current.and_then(|i| i.get_n("available")), Some(0));
    for (cond, holds) in [
        (Condition::Lt("available".into(), 1), true),
        (Condition::Le("available".into(), 0), true),
        (Condition::Gt("available".into(), 0), false),
        (Condition::Lt("missing".into(), 100), false),
        (Condition::AttrExists("note".into()), true),
        (Condition::AttrNotExists("note".into()), false),
        (
            Condition::Or(vec![
                Condition::Gt("available".into(), 0),
                Condition::AttrExists("note".into()),
            ]),
            true,
        ),
        (
            Condition::And(vec![
                Condition::Exists,
                Condition::Not(Box::new(Condition::AttrExists("note".into()))),
            ]),
            false,
        ),
    ] {
        let result = f
            .table
            .update(&key, Update::new().set("checked", true), Some(cond.clone()))
            .await;
        assert_eq!(result.is_ok(), holds, "condition {cond:?}");
        if !holds {
            assert!(result.err().is_some_and(|e| e.is_condition_failed()));
        }
    }
    assert_eq!(
        f.table
            .get(&key)
            .await
            .expect("get")
            .and_then(|i| i.get_s("note").map(str::to_owned)),
        Some("c".into())
    );
}

pub async fn update_increments_and_creates_a_missing_item(f: &TableFixture) {
    let key = Key::new(part("counter"), "DAY#2026-11-21");
    let first = f
        .table
        .update(&key, Update::new().add("delivered", 1), None)
        .await
        .expect("create");
    assert_eq!(first.get_n("delivered"), Some(1));
    assert_eq!(first.key(), Some(key.clone()));
    for _ in 0..4 {
        f.table
            .update(&key, Update::new().add("delivered", 1).add("read", 2), None)
            .await
            .expect("add");
    }
    let got = f.table.get(&key).await.expect("get").expect("present");
    assert_eq!(got.get_n("delivered"), Some(5));
    assert_eq!(got.get_n("read"), Some(8));
}

pub async fn update_set_if_absent_keeps_an_existing_value(f: &TableFixture) {
    let key = Key::new(part("absent"), "CUSTOMER#1");
    f.table
        .update(
            &key,
            Update::new()
                .set_if_absent("first_seen", 100)
                .set("last_seen", 100),
            None,
        )
        .await
        .expect("1");
    let item = f
        .table
        .update(
            &key,
            Update::new()
                .set_if_absent("first_seen", 200)
                .set("last_seen", 200),
            None,
        )
        .await
        .expect("2");
    assert_eq!(item.get_n("first_seen"), Some(100));
    assert_eq!(item.get_n("last_seen"), Some(200));
}

pub async fn update_removes_attributes(f: &TableFixture) {
    let key = Key::new(part("remove"), "X");
    f.table
        .put(Item::new(&key).with("a", 1).with("b", 2), None)
        .await
        .expect("put");
    let item = f
        .table
        .update(&key, Update::new().remove("a"), None)
        .await
        .expect("update");
    assert_eq!(item.get("a"), None);
    assert_eq!(item.get_n("b"), Some(2));
    assert_eq!(f.table.get(&key).await.expect("get"), Some(item));
}

pub async fn update_with_exists_condition_on_a_missing_item_fails(f: &TableFixture) {
    let key = Key::new(part("exists"), "ORDER#404");
    let current = condition_failed(
        f.table
            .update(
                &key,
                Update::new().set("status", "paid"),
                Some(Condition::Exists),
            )
            .await,
    );
    assert_eq!(current, None);
    assert_eq!(
        f.table.get(&key).await.expect("get"),
        None,
        "a failed update must not create the item"
    );
}

pub async fn update_touching_the_key_is_rejected(f: &TableFixture) {
    let key = Key::new(part("badupdate"), "X");
    let result = f
        .table
        .update(&key, Update::new().set("sk", "Y"), None)
        .await;
    assert!(matches!(result, Err(StoreError::Invalid(_))), "{result:?}");
    let twice = f
        .table
        .update(&key, Update::new().set("a", 1).add("a", 1), None)
        .await;
    assert!(matches!(twice, Err(StoreError::Invalid(_))), "{twice:?}");
}

pub async fn delete_returns_the_old_item_and_honours_its_condition(f: &TableFixture) {
    let key = Key::new(part("delete"), "KEY#1");
    let item = Item::new(&key).with("revoked", false);
    f.table.put(item.clone(), None).await.expect("put");
    condition_failed(
        f.table
            .delete(&key, Some(Condition::Eq("revoked".into(), true.into())))
            .await,
    );
    assert!(f.table.get(&key).await.expect("get").is_some());
    let old = f
        .table
        .delete(&key, Some(Condition::Exists))
        .await
        .expect("delete");
    assert_eq!(old, Some(item));
    assert_eq!(f.table.get(&key).await.expect("get"), None);
    let again = f
        .table
        .delete(&key, None)
        .await
        .expect("delete of a missing item");
    assert_eq!(again, None);
}

pub async fn query_by_prefix_in_both_directions(f: &TableFixture) {
    let pk = part("prefix");
    put_all(
        &*f.table,
        &pk,
        &[
            "ORDER#001",
            "ORDER#002",
            "ORDER#010",
            "ORDERS",
            "PROFILE",
            "ORD",
        ],
    )
    .await;
    assert_eq!(
        sks(&*f.table, Query::partition(&pk).prefix("ORDER#")).await,
        ["ORDER#001", "ORDER#002", "ORDER#010"]
    );
    assert_eq!(
        sks(&*f.table, Query::partition(&pk).prefix("ORDER#").backward()).await,
        ["ORDER#010", "ORDER#002", "ORDER#001"]
    );
    assert_eq!(sks(&*f.table, Query::partition(&pk)).await.len(), 6);
    assert!(sks(&*f.table, Query::partition(&pk).prefix("Z"))
        .await
        .is_empty());
    // Prefixes with characters that are special in LIKE/GLOB patterns still match literally.
    let pk2 = part("literal");
    put_all(&*f.table, &pk2, &["A%_*?[1]", "A%_x", "Ab"]).await;
    assert_eq!(
        sks(&*f.table, Query::partition(&pk2).prefix("A%_*")).await,
        ["A%_*?[1]"]
    );
}

pub async fn query_by_sort_key_range_and_comparisons(f: &TableFixture) {
    let pk = part("range");
    put_all(
        &*f.table,
        &pk,
        &["DUE#0100", "DUE#0200", "DUE#0300", "DUE#0400"],
    )
    .await;
    let q = || Query::partition(&pk);
    assert_eq!(
        sks(
            &*f.table,
            q().sort(SortKey::Between("DUE#0200".into(), "DUE#0300".into()))
        )
        .await,
        ["DUE#0200", "DUE#0300"]
    );
    assert_eq!(
        sks(&*f.table, q().sort(SortKey::Lt("DUE#0200".into()))).await,
        ["DUE#0100"]
    );
    assert_eq!(
        sks(&*f.table, q().sort(SortKey::Le("DUE#0200".into()))).await,
        ["DUE#0100", "DUE#0200"]
    );
    assert_eq!(
        sks(&*f.table, q().sort(SortKey::Gt("DUE#0300".into()))).await,
        ["DUE#0400"]
    );
    assert_eq!(
        sks(
            &*f.table,
            q().sort(SortKey::Ge("DUE#0300".into())).backward()
        )
        .await,
        ["DUE#0400", "DUE#0300"]
    );
    assert_eq!(
        sks(&*f.table, q().sort(SortKey::Eq("DUE#0300".into()))).await,
        ["DUE#0300"]
    );
}

pub async fn query_pages_cover_every_item_exactly_once(f: &TableFixture) {
    let pk = part("pages");
    let names: Vec<String> = (0..11).map(|i| format!("ITEM#{i:03}")).collect();
    let refs: Vec<&str> = names.iter().map(String::as_str).collect();
    put_all(&*f.table, &pk, &refs).await;
    let (forward, pages) = all_pages(&*f.table, Query::partition(&pk).limit(3)).await;
    assert_eq!(forward, names);
    assert!(
        pages >= 4,
        "11 items in pages of 3 take at least 4 pages, got {pages}"
    );
    let (backward, _) = all_pages(&*f.table, Query::partition(&pk).limit(4).backward()).await;
    let mut reversed = names.clone();
    reversed.reverse();
    assert_eq!(backward, reversed);
    let (prefixed, _) =
        all_pages(&*f.table, Query::partition(&pk).prefix("ITEM#00").limit(2)).await;
    assert_eq!(prefixed, names[..10].to_vec());
}

pub async fn gsi1_query_orders_by_its_sort_key_and_pages(f: &TableFixture) {
    let index_pk = part("gsi");
    // Items in different partitions, all in one index partition, sorted by due time.
    for (i, due) in ["0300", "0100", "0200", "0100"].iter().enumerate() {
        let key = Key::new(format!("{index_pk}#ORDER#{i}"), "ORDER");
        let item = Item::new(&key)
            .with("gsi1pk", index_pk.as_str())
            .with("gsi1sk", format!("DUE#{due}#{i}"));
        f.table.put(item, None).await.expect("put");
    }
    // Not in the index: no gsi1pk.
    f.table
        .put(
            Item::new(&Key::new(format!("{index_pk}#ORDER#9"), "ORDER")),
            None,
        )
        .await
        .expect("put");
    let due = |items: &[Item]| {
        items
            .iter()
            .map(|i| i.get_s("gsi1sk").unwrap_or_default().to_owned())
            .collect::<Vec<_>>()
    };
    let page = f.table.query(Query::gsi1(&index_pk)).await.expect("query");
    assert_eq!(
        due(&page.items),
        ["DUE#0100#1", "DUE#0100#3", "DUE#0200#2", "DUE#0300#0"]
    );
    let early = f
        .table
        .query(Query::gsi1(&index_pk).sort(SortKey::Le("DUE#0200~".into())))
        .await
        .expect("query");
    assert_eq!(early.items.len(), 3);
    let mut seen = Vec::new();
    let mut cursor = None;
    loop {
        let page = f
            .table
            .query(Query::gsi1(&index_pk).backward().limit(1).after(cursor))
            .await
            .expect("page");
        seen.extend(due(&page.items));
        cursor = page.cursor;
        if cursor.is_none() {
            break;
        }
    }
    assert_eq!(
        seen,
        ["DUE#0300#0", "DUE#0200#2", "DUE#0100#3", "DUE#0100#1"]
    );
}

pub async fn transaction_applies_every_write(f: &TableFixture) {
    let pk = part("tx");
    let stock = Key::new(&pk, "STOCK#A");
    let old = Key::new(&pk, "CART");
    f.table
        .put(
            Item::new(&stock).with("available", 3).with("reserved", 0),
            None,
        )
        .await
        .expect("put");
    f.table.put(Item::new(&old), None).await.expect("put");
    let order = Item::new(&Key::new(&pk, "ORDER#1")).with("status", "awaiting_payment");
    f.table
        .transact(vec![
            TxOp::Update {
                key: stock.clone(),
                update: Update::new().add("available", -2).add("reserved", 2),
                condition: Some(Condition::Ge("available".into(), 2)),
            },
            TxOp::Put {
                item: order.clone(),
                condition: Some(Condition::NotExists),
            },
            TxOp::Delete {
                key: old.clone(),
                condition: Some(Condition::Exists),
            },
            TxOp::Check {
                key: Key::new(&pk, "MISSING"),
                condition: Condition::NotExists,
            },
        ])
        .await
        .expect("transaction");
    let s = f.table.get(&stock).await.expect("get").expect("stock");
    assert_eq!(
        (s.get_n("available"), s.get_n("reserved")),
        (Some(1), Some(2))
    );
    assert_eq!(
        f.table.get(&order.key().expect("key")).await.expect("get"),
        Some(order)
    );
    assert_eq!(f.table.get(&old).await.expect("get"), None);
}

pub async fn failed_transaction_applies_nothing_and_names_the_failed_operation(f: &TableFixture) {
    let pk = part("txfail");
    let a = Key::new(&pk, "STOCK#A");
    let b = Key::new(&pk, "STOCK#B");
    f.table
        .put(Item::new(&a).with("available", 5), None)
        .await
        .expect("put");
    f.table
        .put(Item::new(&b).with("available", 1), None)
        .await
        .expect("put");
    let take = |key: &Key, q: i64| TxOp::Update {
        key: key.clone(),
        update: Update::new().add("available", -q),
        condition: Some(Condition::Ge("available".into(), q)),
    };
    let order = Key::new(&pk, "ORDER#1");
    let result = f
        .table
        .transact(vec![
            take(&a, 2),
            take(&b, 3),
            TxOp::Put {
                item: Item::new(&order),
                condition: Some(Condition::NotExists),
            },
        ])
        .await;
    let err = result.expect_err("must cancel");
    assert!(err.is_condition_failed());
    assert_eq!(err.failed_operations(), vec![1]);
    match &err {
        StoreError::TransactionCanceled { reasons } => {
            assert_eq!(reasons.len(), 3);
            assert_eq!(reasons[1], CancelReason::ConditionFailed);
        }
        other => panic!("expected TransactionCanceled, got {other:?}"),
    }
    assert_eq!(
        f.table
            .get(&a)
            .await
            .expect("get")
            .and_then(|i| i.get_n("available")),
        Some(5)
    );
    assert_eq!(
        f.table
            .get(&b)
            .await
            .expect("get")
            .and_then(|i| i.get_n("available")),
        Some(1)
    );
    assert_eq!(f.table.get(&order).await.expect("get"), None);
}

pub async fn transaction_of_100_writes_applies_and_101_is_rejected(f: &TableFixture) {
    let pk = part("tx100");
    let ops = |n: usize| {
        (0..n)
            .map(|i| TxOp::Put {
                item: Item::new(&Key::new(&pk, format!("ROW#{i:03}"))).with("i", i as i64),
                condition: Some(Condition::NotExists),
            })
            .collect::<Vec<_>>()
    };
    let too_many = f.table.transact(ops(101)).await;
    assert!(
        matches!(too_many, Err(StoreError::Invalid(_))),
        "{too_many:?}"
    );
    assert!(sks(&*f.table, Query::partition(&pk)).await.is_empty());
    f.table.transact(ops(100)).await.expect("100 writes");
    let (all, _) = all_pages(&*f.table, Query::partition(&pk).limit(50)).await;
    assert_eq!(all.len(), 100);
}

pub async fn transaction_touching_one_item_twice_is_rejected(f: &TableFixture) {
    let key = Key::new(part("txdup"), "A");
    let result = f
        .table
        .transact(vec![
            TxOp::Put {
                item: Item::new(&key),
                condition: None,
            },
            TxOp::Update {
                key: key.clone(),
                update: Update::new().add("n", 1),
                condition: None,
            },
        ])
        .await;
    assert!(matches!(result, Err(StoreError::Invalid(_))), "{result:?}");
    assert_eq!(f.table.get(&key).await.expect("get"), None);
}

pub async fn transactions_in_a_batch_apply_or_fail_each_on_its_own(f: &TableFixture) {
    let pk = part("txmany");
    let taken = Key::new(&pk, "NOTIF#taken");
    f.table
        .put(Item::new(&taken).with("v", 1), None)
        .await
        .expect("put");
    let group = |name: &str| {
        vec![
            TxOp::Put {
                item: Item::new(&Key::new(&pk, format!("NOTIF#{name}"))).with("v", 2),
                condition: Some(Condition::NotExists),
            },
            TxOp::Update {
                key: Key::new(&pk, format!("PTR#{name}")),
                update: Update::new().add("n", 1),
                condition: None,
            },
        ]
    };
    let duplicate_key = vec![
        TxOp::Put {
            item: Item::new(&Key::new(&pk, "DUP")),
            condition: None,
        },
        TxOp::Delete {
            key: Key::new(&pk, "DUP"),
            condition: None,
        },
    ];
    let results = f
        .table
        .transact_many(vec![
            group("a"),
            group("taken"),
            duplicate_key,
            Vec::new(),
            group("b"),
        ])
        .await;
    assert_eq!(results.len(), 5, "{results:?}");
    assert!(results[0].is_ok(), "{results:?}");
    // The second group's condition failed: like a transaction of its own, it names the operation
    // and leaves nothing behind (its pointer was not counted).
    match &results[1] {
        Err(e) => assert_eq!(e.failed_operations(), vec![0], "{e:?}"),
        ok => panic!("expected a cancelled group, got {ok:?}"),
    }
    assert!(
        matches!(results[2], Err(StoreError::Invalid(_))),
        "{results:?}"
    );
    assert!(
        matches!(results[3], Err(StoreError::Invalid(_))),
        "{results:?}"
    );
    assert!(results[4].is_ok(), "{results:?}");
    assert_eq!(
        sks(&*f.table, Query::partition(&pk)).await,
        vec!["NOTIF#a", "NOTIF#b", "NOTIF#taken", "PTR#a", "PTR#b"]
    );
    assert_eq!(
        f.table
            .get(&taken)
            .await
            .expect("get")
            .and_then(|i| i.get_n("v")),
        Some(1)
    );
    assert!(f.table.transact_many(Vec::new()).await.is_empty());
}

pub async fn expired_items_are_invisible_to_reads_and_conditions(f: &TableFixture) {
    let pk = part("ttl");
    let now = f.clock.now_secs();
    let live = Key::new(&pk, "IDEM#live");
    let dying = Key::new(&pk, "IDEM#dying");
    f.table
        .put(Item::new(&live).with("ttl", now + 3600), None)
        .await
        .expect("put");
    f.table
        .put(
            Item::new(&dying)
                .with("ttl", now + 60)
                .with("status", "COMPLETED"),
            None,
        )
        .await
        .expect("put");
    assert!(f.table.get(&dying).await.expect("get").is_some());
    f.clock.advance(chrono::Duration::seconds(61));
    assert_eq!(
        f.table.get(&dying).await.expect("get"),
        None,
        "expired item visible to get"
    );
    assert_eq!(sks(&*f.table, Query::partition(&pk)).await, ["IDEM#live"]);
    let (paged, _) = all_pages(&*f.table, Query::partition(&pk).limit(1)).await;
    assert_eq!(paged, ["IDEM#live"]);
    // An expired item does not exist for conditions either: it can be claimed again.
    condition_failed(
        f.table
            .update(&dying, Update::new().set("x", 1), Some(Condition::Exists))
            .await,
    );
    let fresh = Item::new(&dying)
        .with("status", "INPROGRESS")
        .with("ttl", f.clock.now_secs() + 60);
    f.table
        .put(fresh.clone(), Some(Condition::NotExists))
        .await
        .expect("re-claim expired");
    assert_eq!(f.table.get(&dying).await.expect("get"), Some(fresh));
    // Deleting an expired item reports nothing old.
    let gone = Key::new(&pk, "IDEM#gone");
    f.table
        .put(Item::new(&gone).with("ttl", f.clock.now_secs() + 1), None)
        .await
        .expect("put");
    f.clock.advance(chrono::Duration::seconds(2));
    assert_eq!(f.table.delete(&gone, None).await.expect("delete"), None);
}

pub async fn oversized_item_is_rejected(f: &TableFixture) {
    let key = Key::new(part("big"), "BLOB");
    let result = f
        .table
        .put(Item::new(&key).with("data", "x".repeat(401 * 1024)), None)
        .await;
    assert!(matches!(result, Err(StoreError::Invalid(_))), "{result:?}");
    let fits = f
        .table
        .put(Item::new(&key).with("data", "x".repeat(300 * 1024)), None)
        .await;
    assert!(fits.is_ok(), "{fits:?}");
}

pub async fn concurrent_conditional_decrements_never_oversell(f: &TableFixture) {
    let key = Key::new(part("race"), "STOCK#LAST");
    f.table
        .put(Item::new(&key).with("available", 10), None)
        .await
        .expect("put");
    let mut tasks = Vec::new();
    for _ in 0..30 {
        let table = f.table.clone();
        let key = key.clone();
        tasks.push(tokio::spawn(async move {
            loop {
                let r = table
                    .update(
                        &key,
                        Update::new().add("available", -1),
                        Some(Condition::Ge("available".into(), 1)),
                    )
                    .await;
                match r {
                    Ok(_) => return true,
                    Err(e) if e.is_condition_failed() => return false,
                    Err(e) if e.is_retryable() => continue,
                    Err(e) => panic!("unexpected {e:?}"),
                }
            }
        }));
    }
    let mut sold = 0;
    for t in tasks {
        if t.await.expect("task") {
            sold += 1;
        }
    }
    assert_eq!(sold, 10);
    assert_eq!(
        f.table
            .get(&key)
            .await
            .expect("get")
            .and_then(|i| i.get_n("available")),
        Some(0)
    );
}

pub async fn malformed_cursor_is_rejected(f: &TableFixture) {
    let q = Query::partition(part("cursor")).after(Some("not a cursor!".into()));
    let result = f.table.query(q).await;
    assert!(matches!(result, Err(StoreError::Invalid(_))), "{result:?}");
}

pub async fn scan_pages_every_live_item_under_a_partition_prefix_once(f: &TableFixture) {
    let root = part("scan");
    let now = f.clock.now_secs();
    let mut expected = std::collections::BTreeSet::new();
    for p in 0..4 {
        let pk = format!("{root}#P{p}");
        for s in 0..3 {
            let sk = format!("S{s}");
            f.table
                .put(Item::new(&Key::new(&pk, &sk)).with("n", 1), None)
                .await
                .expect("put");
            expected.insert((pk.clone(), sk));
        }
    }
    // Outside the prefix (a sibling whose name only shares characters after a '#'), and expired.
    f.table
        .put(Item::new(&Key::new(format!("{root}X"), "S0")), None)
        .await
        .expect("put");
    f.table
        .put(
            Item::new(&Key::new(format!("{root}#P9"), "S0")).with("ttl", now + 1),
            None,
        )
        .await
        .expect("put");
    f.clock.advance(chrono::Duration::seconds(2));
    let mut seen = Vec::new();
    let mut cursor = None;
    let mut pages = 0;
    loop {
        let page = f
            .table
            .scan(&format!("{root}#"), cursor, 5)
            .await
            .expect("scan page");
        pages += 1;
        assert!(pages < 100, "scanning does not end");
        assert!(page.items.len() <= 5, "page larger than its limit");
        for i in &page.items {
            seen.push((
                i.get_s("pk").unwrap_or_default().to_owned(),
                i.get_s("sk").unwrap_or_default().to_owned(),
            ));
        }
        match page.cursor {
            Some(c) => cursor = Some(c),
            None => break,
        }
    }
    assert!(
        pages >= 3,
        "12 items in pages of 5 take 3 pages, got {pages}"
    );
    let unique: std::collections::BTreeSet<_> = seen.iter().cloned().collect();
    assert_eq!(unique.len(), seen.len(), "an item came twice: {seen:?}");
    assert_eq!(unique, expected);
}
