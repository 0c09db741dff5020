//! The fixtures of `events/invoice-stamp/` through the function's handler, on embedded engines.

#[path = "../../testkit/fixtures.rs"]
mod fixtures;
#[path = "../../testkit/sqs.rs"]
mod sqs;

use fixtures::embedded_deps;
use invoice_stamp::handler;
use mostrador_app::parties::messages::InvoiceRequest;
use mostrador_app::platform::tenant::{MerchantId, TenantTable};
use mostrador_store::{Query, Table};
use std::collections::BTreeSet;

#[tokio::test]
async fn invoice_requests_for_unknown_orders_fail_item_by_item_and_stamp_nothing() {
    let (deps, _dir) = embedded_deps().await;
    let requests: Vec<InvoiceRequest> = sqs::bodies("invoice-batch.json")
        .iter()
        .map(|body| serde_json::from_str(body).expect("an invoice request"))
        .collect();
    let orders: BTreeSet<&str> = requests.iter().map(|r| r.order_id.as_str()).collect();
    assert!(
        orders.len() < requests.len(),
        "the fixture carries one request twice"
    );

    let response = handler(&deps, sqs::event("invoice-batch.json"))
        .await
        .expect("handler");

    // This deployment has no such orders: each record is reported failed (so that it ends in the
    // dead-letter queue for a person to look at) and nothing is built or stamped.
    assert_eq!(sqs::failed(&response).len(), requests.len());
    let merchant = MerchantId::try_from(requests[0].merchant_id.clone()).expect("merchant id");
    let page = TenantTable::of(&deps, &merchant)
        .query(Query::partition("INVOICES"))
        .await
        .expect("query");
    assert!(page.items.is_empty());
}

#[test]
fn every_fixture_is_loaded_by_a_test() {
    fixtures::assert_every_fixture_is_loaded(include_str!("events.rs"));
}
