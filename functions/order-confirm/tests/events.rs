//! The fixtures of `events/order-confirm/` through the function's handler, on embedded engines.

#[path = "../../testkit/fixtures.rs"]
mod fixtures;
#[path = "../../testkit/sqs.rs"]
mod sqs;

use fixtures::embedded_deps;
use mostrador_app::parties::messages::InboundEnvelope;
use mostrador_app::platform::tenant::{MerchantId, TenantTable};
use mostrador_app::Deps;
use mostrador_store::{Key, Query, Table};
use order_confirm::handler;

fn envelopes(name: &str) -> Vec<Option<InboundEnvelope>> {
    sqs::bodies(name)
        .iter()
        .map(|body| serde_json::from_str(body).ok())
        .collect()
}

fn customer_table(deps: &Deps, envelope: &InboundEnvelope) -> TenantTable {
    let merchant = MerchantId::try_from(envelope.merchant_id.clone()).expect("merchant id");
    TenantTable::of(deps, &merchant)
}

/// The wamids of the messages stored in the customer's conversation, in order.
async fn stored_wamids(deps: &Deps, envelope: &InboundEnvelope) -> Vec<String> {
    let table = customer_table(deps, envelope);
    let conversation =
        Query::partition(format!("CUST#{}", table.customer(&envelope.wa_id))).prefix("MSG#");
    let page = table.query(conversation).await.expect("query");
    page.items
        .iter()
        .filter_map(|item| item.key())
        .filter_map(|key| key.sk.rsplit('#').next().map(str::to_owned))
        .collect()
}

#[tokio::test]
async fn inbound_batch_stores_each_customer_message_once() {
    let (deps, _dir) = embedded_deps().await;
    let sent: Vec<InboundEnvelope> = envelopes("inbound-batch.json")
        .into_iter()
        .map(|e| e.expect("an inbound envelope"))
        .collect();
    let wamids: Vec<String> = sent.iter().map(|e| e.wamid.clone()).collect();

    let first = handler(&deps, sqs::event("inbound-batch.json"))
        .await
        .expect("handler");
    assert_eq!(sqs::failed(&first), Vec::<&str>::new());
    assert_eq!(stored_wamids(&deps, &sent[0]).await, wamids);

    // SQS delivers at least once: the same batch again stores nothing new.
    let again = handler(&deps, sqs::event("inbound-batch.json"))
        .await
        .expect("handler");
    assert_eq!(sqs::failed(&again), Vec::<&str>::new());
    assert_eq!(stored_wamids(&deps, &sent[0]).await, wamids);

    let last = sent.last().expect("a record");
    let table = customer_table(&deps, last);
    let profile_key = Key::new(format!("CUST#{}", table.customer(&last.wa_id)), "PROFILE");
    let profile = table
        .get(&profile_key)
        .await
        .expect("get")
        .expect("customer profile");
    // The name is sealed at rest, and opens for the merchant.
    assert_eq!(profile.get_s("profile_name"), None);
    assert_eq!(
        mostrador_app::parties::customers::name_in(&deps, &table, &profile)
            .await
            .as_deref(),
        Some("María Guadalupe")
    );
    assert_eq!(profile.get_n("last_inbound_at"), Some(last.timestamp));
    assert_eq!(profile.get_n("first_seen_at"), Some(sent[0].timestamp));
}

#[tokio::test]
async fn malformed_record_fails_with_the_later_records_of_its_group_only() {
    let (deps, _dir) = embedded_deps().await;
    let ids = sqs::message_ids("malformed-record.json");
    let groups = sqs::group_ids("malformed-record.json");
    let sent = envelopes("malformed-record.json");
    let malformed = sent
        .iter()
        .position(Option::is_none)
        .expect("a record that is not an inbound envelope");
    let held_back = |i: usize| i >= malformed && groups[i] == groups[malformed];
    let expected: Vec<&str> = (0..ids.len())
        .filter(|&i| held_back(i))
        .map(|i| ids[i].as_str())
        .collect();
    assert!(
        expected.len() > 1,
        "the fixture has a later record in the malformed record's group"
    );
    assert!(
        (malformed..ids.len()).any(|i| !held_back(i)),
        "the fixture has a later record of another group"
    );

    let response = handler(&deps, sqs::event("malformed-record.json"))
        .await
        .expect("handler");

    assert_eq!(sqs::failed(&response), expected);
    for (i, envelope) in sent.iter().enumerate() {
        let Some(envelope) = envelope else { continue };
        let stored = stored_wamids(&deps, envelope)
            .await
            .contains(&envelope.wamid);
        assert_eq!(
            stored,
            !held_back(i),
            "record {i}: stored unless held back for the retry"
        );
    }
}

#[test]
fn every_fixture_is_loaded_by_a_test() {
    fixtures::assert_every_fixture_is_loaded(include_str!("events.rs"));
}
