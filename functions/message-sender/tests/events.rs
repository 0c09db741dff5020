//! The fixtures of `events/message-sender/` through the function's handler, on embedded engines.

#[path = "../../testkit/fixtures.rs"]
mod fixtures;
#[path = "../../testkit/sqs.rs"]
mod sqs;

use fixtures::embedded_deps;
use message_sender::handler;
use mostrador_app::parties::messages::OutboundEnvelope;
use mostrador_app::platform::tenant::{MerchantId, TenantTable};
use mostrador_app::Deps;
use mostrador_store::{Key, Query, Table, Update};

/// The outbox of `merchant_id` as (message id, recipient, message) in the order they were stored.
async fn outbox(deps: &Deps, merchant_id: &str) -> Vec<(String, String, serde_json::Value)> {
    let merchant = MerchantId::try_from(merchant_id.to_owned()).expect("merchant id");
    let table = TenantTable::of(deps, &merchant);
    let page = table
        .query(Query::partition("OUTBOX"))
        .await
        .expect("query");
    let mut out = Vec::new();
    for item in &page.items {
        let key = item.key().expect("key");
        let id = key.sk.rsplit('#').next().expect("message id").to_owned();
        // Stored sealed, the recipient inside the message, never in clear beside it.
        assert!(item.get_s("message").is_none() && item.get_s("to").is_none());
        let message = mostrador_app::parties::conversation::message_of(deps, &table, item).await;
        let to = message["to"].as_str().expect("recipient").to_owned();
        assert_eq!(
            item.get_s("customer"),
            Some(deps.pseudonyms.of(&to).as_str())
        );
        out.push((id, to, message));
    }
    out
}

/// The customer wrote a minute ago (as order-confirm records it): free-form replies may go.
async fn open_window(deps: &Deps, merchant_id: &str, wa_id: &str) {
    let merchant = MerchantId::try_from(merchant_id.to_owned()).expect("merchant id");
    let profile = Key::new(format!("CUST#{}", deps.customer_key(wa_id)), "PROFILE");
    let wrote = Update::new().set("last_inbound_at", deps.clock.now_secs() - 60);
    TenantTable::of(deps, &merchant)
        .update(&profile, wrote, None)
        .await
        .expect("customer profile");
}

#[tokio::test]
async fn outbound_batch_puts_each_message_in_the_sandbox_outbox_once() {
    let (deps, _dir) = embedded_deps().await;
    let bodies: Vec<serde_json::Value> = sqs::bodies("outbound-batch.json")
        .iter()
        .map(|body| serde_json::from_str(body).expect("JSON"))
        .collect();
    let sent: Vec<OutboundEnvelope> = bodies
        .iter()
        .map(|body| serde_json::from_value(body.clone()).expect("an outbound envelope"))
        .collect();
    let expected: Vec<(String, String, serde_json::Value)> = sent
        .iter()
        .zip(&bodies)
        .map(|(e, body)| (e.id.clone(), e.message.to.clone(), body["message"].clone()))
        .collect();
    open_window(&deps, &sent[0].merchant_id, &sent[0].message.to).await;

    let first = handler(&deps, sqs::event("outbound-batch.json"))
        .await
        .expect("handler");
    assert_eq!(sqs::failed(&first), Vec::<&str>::new());
    assert_eq!(outbox(&deps, &sent[0].merchant_id).await, expected);

    // A redelivered batch sends nothing twice.
    let again = handler(&deps, sqs::event("outbound-batch.json"))
        .await
        .expect("handler");
    assert_eq!(sqs::failed(&again), Vec::<&str>::new());
    assert_eq!(outbox(&deps, &sent[0].merchant_id).await, expected);
}

#[test]
fn every_fixture_is_loaded_by_a_test() {
    fixtures::assert_every_fixture_is_loaded(include_str!("events.rs"));
}
