//! The table's key layout: one builder per entity, so a key is spelled in one place and stored data
//! cannot drift by a typo. Merchant items are written through `TenantTable`, which puts their
//! partition under `merchant_pk`; the builders here give the logical key inside the merchant.
//! The unit tests pin every builder to the exact strings already stored: changing one moves data.

use crate::platform::due::{DueAction, Job};
use crate::platform::tenant::MerchantId;
use mostrador_store::{Item, Key, StoreError};

/// The physical partition of a merchant's logical partition `pk`: `M#{merchant}#{pk}`.
pub(crate) fn merchant_pk(merchant: &impl std::fmt::Display, pk: &str) -> String {
    format!("M#{merchant}#{pk}")
}

/// The partition prefix of everything a merchant owns.
pub(crate) fn merchant_prefix(merchant: &impl std::fmt::Display) -> String {
    format!("M#{merchant}#")
}

/// The start of every order's partition (for a scan of all the merchant's orders).
pub const ORDER_PARTITION_PREFIX: &str = "ORDER#";

/// An order.
pub fn order(order_id: &str) -> Key {
    Key::new(format!("ORDER#{order_id}"), "ORDER")
}

/// The index partition (`gsi1pk`, inside the merchant) of all the merchant's orders.
pub const ORDERS_INDEX: &str = "ORDERS";

/// An order's sort key in [`ORDERS_INDEX`]: newest last by creation time.
pub(crate) fn orders_index_sk(created_at: &str, order_id: &str) -> String {
    format!("{created_at}#{order_id}")
}

/// The pointer from a customer to one of their orders (sorted by creation time).
pub(crate) fn customer_order(customer: &CustomerKey, created_at: &str, order_id: &str) -> Key {
    Key::new(
        format!("CUST#{customer}"),
        format!("ORDER#{created_at}#{order_id}"),
    )
}

/// The partition of everything about one customer.
pub(crate) fn customer_pk(customer: &CustomerKey) -> String {
    format!("{CUSTOMER_PARTITION_PREFIX}{customer}")
}

/// The start of every customer partition (for a scan of all the merchant's customers).
pub const CUSTOMER_PARTITION_PREFIX: &str = "CUST#";

/// The index partition of customer profiles, newest message first (`gsi1sk` from
/// [`customer_index_sk`]).
pub const CUSTOMERS: &str = "CUSTOMERS";

/// Where a profile sorts in [`CUSTOMERS`]: by the time of the customer's latest message.
pub fn customer_index_sk(last_inbound_at: i64) -> String {
    format!("{:012}", last_inbound_at.max(0))
}

/// The customer a customer partition belongs to, as its key names them (a pseudonym, or the
/// number itself in a partition an earlier version wrote).
pub(crate) fn customer_of(pk: &str) -> Option<&str> {
    pk.strip_prefix(CUSTOMER_PARTITION_PREFIX)
}

/// A customer as the table's keys name them: the keyed hash of their WhatsApp id (or user id),
/// from [`TenantTable::customer`](crate::platform::tenant::TenantTable::customer), so that no key
/// reveals a phone number.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct CustomerKey(String);

impl CustomerKey {
    /// A key from a pseudonym already computed (`mostrador_store::Pseudonyms::of`).
    pub(crate) fn from_pseudonym(pseudonym: String) -> Self {
        Self(pseudonym)
    }

    /// The pseudonym as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for CustomerKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// The sort-key prefix of a customer's order pointers.
pub const CUSTOMER_ORDER_PREFIX: &str = "ORDER#";

/// The order a customer's order pointer ([`customer_order`]) points at.
pub(crate) fn order_of_pointer(sk: &str) -> Option<&str> {
    sk.strip_prefix(CUSTOMER_ORDER_PREFIX)?
        .rsplit_once('#')
        .map(|(_, id)| id)
}

/// The merchant and the logical partition of a stored partition key ([`merchant_pk`]'s inverse).
pub(crate) fn tenant_of(pk: &str) -> Option<(&str, &str)> {
    pk.strip_prefix("M#")?.split_once('#')
}

/// A customer's profile (name, window, opt-out).
pub fn customer_profile(customer: &CustomerKey) -> Key {
    Key::new(customer_pk(customer), "PROFILE")
}

/// Which customer a business-scoped user id (or a phone number seen with one) belongs to: the id
/// the customer was first known by, so that a number and a username stay one customer.
pub(crate) fn customer_alias(id: &CustomerKey) -> Key {
    Key::new(format!("{ALIAS_PREFIX}{id}"), "CUSTOMER")
}

/// The start of every alias partition.
pub const ALIAS_PREFIX: &str = "ALIAS#";

/// A correction owed to (or made to) a factura global for one of its tickets.
pub(crate) fn global_adjustment(global_id: &str, order_id: &str) -> Key {
    Key::new("GLOBAL_ADJUSTMENTS", format!("{global_id}#{order_id}"))
}

/// The partition of corrections to factura globals.
pub const GLOBAL_ADJUSTMENTS: &str = "GLOBAL_ADJUSTMENTS";

/// A customer's conversation state.
pub(crate) fn conversation_state(customer: &CustomerKey) -> Key {
    Key::new(customer_pk(customer), "CONV")
}

/// One message of a conversation's log, in the order it happened.
pub fn conversation_message(customer: &CustomerKey, at_secs: i64, id: &str) -> Key {
    Key::new(customer_pk(customer), format!("MSG#{at_secs:010}#{id}"))
}

/// A staff note on a customer's conversation (never sent to the customer), in the order written.
pub fn conversation_note(customer: &CustomerKey, at_ms: i64, id: &str) -> Key {
    Key::new(customer_pk(customer), format!("NOTE#{at_ms:013}#{id}"))
}

/// The sort-key prefix of a conversation's notes.
/// The mark that a message of ours (by our id) is in the customer's conversation log, so that a
/// reply written again after a crash or a restore is logged once.
pub(crate) fn conversation_logged(customer: &CustomerKey, id: &str) -> Key {
    Key::new(customer_pk(customer), format!("LOGGED#{id}"))
}

pub const NOTE_PREFIX: &str = "NOTE#";

/// The partition of the conversations waiting for a person.
pub const HANDOFFS: &str = "HANDOFFS";

/// The marker of a conversation waiting for a person.
pub fn handoff(customer: &CustomerKey) -> Key {
    Key::new(HANDOFFS, customer_pk(customer))
}

/// A customer's current consent record.
pub fn consent(customer: &CustomerKey) -> Key {
    Key::new(customer_pk(customer), "CONSENT")
}

/// A customer's saved fiscal data.
pub fn fiscal_data(customer: &CustomerKey) -> Key {
    Key::new(customer_pk(customer), "FISCAL")
}

/// A customer's invoice form in progress in the chat.
pub(crate) fn invoice_form(customer: &CustomerKey) -> Key {
    Key::new(customer_pk(customer), "INVOICE_FORM")
}

/// A branch's stock of one product.
pub fn stock(branch_id: &str, sku: &str) -> Key {
    Key::new(format!("STOCK#{branch_id}"), format!("SKU#{sku}"))
}

/// A product of the catalog.
pub fn product(sku: &str) -> Key {
    Key::new("PRODUCTS", format!("SKU#{sku}"))
}

/// The partition of the merchant's catalog.
pub const PRODUCTS: &str = "PRODUCTS";

/// The sort-key prefix of products in `PRODUCTS` and of stock rows in `stock_of_branch`.
pub const SKU_PREFIX: &str = "SKU#";

/// The partition of one branch's stock rows.
pub(crate) fn stock_of_branch(branch_id: &str) -> String {
    format!("STOCK#{branch_id}")
}

/// The sort-key prefix of a customer's conversation messages ([`conversation_message`]).
pub const MESSAGE_PREFIX: &str = "MSG#";

/// The partition of the merchant's branches.
pub const BRANCHES: &str = "BRANCHES";

/// The sort-key prefix of the entries of [`BRANCHES`].
pub const BRANCH_PREFIX: &str = "BRANCH#";

/// One branch of the merchant.
pub fn branch(id: &str) -> Key {
    Key::new(BRANCHES, format!("{BRANCH_PREFIX}{id}"))
}

/// The merchant's profile (name, RFC, time zone…).
pub(crate) fn merchant_profile() -> Key {
    Key::new("PROFILE", "PROFILE")
}

/// The partition of the merchant's own records of its API keys.
pub const API_KEYS: &str = "APIKEYS";

/// The sort-key prefix of the entries of [`API_KEYS`].
pub const API_KEY_PREFIX: &str = "APIKEY#";

/// The merchant's record of one API key (what the console lists).
pub fn api_key(key_id: &str) -> Key {
    Key::new(API_KEYS, format!("{API_KEY_PREFIX}{key_id}"))
}

/// The platform-level lookup from a key's hash to its merchant (outside any merchant).
pub(crate) fn api_key_lookup(hash: &str) -> Key {
    Key::new(format!("{API_KEY_PREFIX}{hash}"), "APIKEY")
}

/// The platform-level route from a WhatsApp phone number id to its merchant and branch.
pub(crate) fn phone_route(phone_number_id: &str) -> Key {
    Key::new(format!("PHONE#{phone_number_id}"), "PHONE")
}

/// One second's send counter of a WhatsApp number (platform-level, expires by TTL).
pub(crate) fn send_rate_window(phone_number_id: &str, second: i64) -> Key {
    Key::new(format!("RATE#{phone_number_id}"), second.to_string())
}

/// The pacing state (GCRA) of one number-customer pair (platform-level).
pub(crate) fn pair_pacing(phone_number_id: &str, customer: &CustomerKey) -> Key {
    Key::new(format!("PAIR#{phone_number_id}#{customer}"), "GCRA")
}

/// The deployment's pseudonym key, sealed (platform-level; on the AWS engine only: the embedded
/// engine derives its key from the local master key).
pub(crate) fn pseudonym_key() -> Key {
    Key::new("DEPLOYMENT#PSEUDONYMS", "KEY")
}

/// The platform marker that every merchant's customer keys were moved under pseudonyms.
pub(crate) fn pseudonyms_migrated() -> Key {
    Key::new("DEPLOYMENT#MIGRATIONS", "PSEUDONYMS")
}

/// The once-only marker of a merchant webhook delivery, by the digest of its event id.
pub(crate) fn hook_delivery(event_digest: &str) -> Key {
    Key::new(format!("HOOK#{event_digest}"), "HOOK")
}

/// The sort-key prefix of a customer's consent history.
pub const CONSENT_PREFIX: &str = "CONSENT#";

/// One event of a customer's consent history (ordered by time; `suffix` keeps two events of one
/// millisecond apart).
pub(crate) fn consent_event(customer: &CustomerKey, at_ms: i64, suffix: &str) -> Key {
    Key::new(
        customer_pk(customer),
        format!("{CONSENT_PREFIX}{at_ms:013}#{suffix}"),
    )
}

/// A customer's daily notification cap counter: overall, or of one bucket (category or kind).
pub fn daily_cap(customer: &CustomerKey, day: &str, bucket: Option<&str>) -> Key {
    match bucket {
        None => Key::new(customer_pk(customer), format!("CAP#{day}")),
        Some(b) => Key::new(customer_pk(customer), format!("CAP#{day}#{b}")),
    }
}

/// The marker that one notification was counted against a customer's caps of a day (so a
/// redelivery does not count it twice).
pub(crate) fn daily_cap_mark(customer: &CustomerKey, day: &str, notification_id: &str) -> Key {
    Key::new(
        customer_pk(customer),
        format!("CAPMARK#{day}#{notification_id}"),
    )
}

/// A customer's pointer to one notification, ordered by send time.
pub(crate) fn customer_notification(customer: &CustomerKey, send_ms: i64, id: &str) -> Key {
    Key::new(customer_pk(customer), format!("NOTIF#{send_ms:013}#{id}"))
}

/// The sort-key range of a customer's notifications sent between two times (epoch ms, inclusive).
pub(crate) fn customer_notifications_between(from_ms: i64, to_ms: i64) -> (String, String) {
    (
        format!("NOTIF#{from_ms:013}"),
        format!("NOTIF#{to_ms:013}~"),
    )
}

/// The marker that one abandoned cart (by its conversation's last change) was reminded.
pub(crate) fn cart_reminded(customer: &CustomerKey, cart_updated_at: i64) -> Key {
    Key::new(
        customer_pk(customer),
        format!("CARTREMIND#{cart_updated_at}"),
    )
}

/// The marker that a customer talked to the merchant on a day (for the report's conversations).
pub(crate) fn conversation_day(customer: &CustomerKey, day: &str) -> Key {
    Key::new(customer_pk(customer), format!("CONVDAY#{day}"))
}

/// The partition of one branch's daily report counters (sort key the day).
pub(crate) fn branch_report(branch_id: &str) -> String {
    format!("RPT#B#{branch_id}")
}

/// One branch's report counters of one day.
pub(crate) fn branch_counters(branch_id: &str, day: &str) -> Key {
    Key::new(branch_report(branch_id), day)
}

/// A day's outbound counters (sent, refused by reason…).
pub(crate) fn outbound_stats(day: &str) -> Key {
    Key::new("STATS#outbound", day)
}

/// A day's count of messages to a number no merchant has (platform-level).
pub(crate) fn unrouted_stats(day: &str, phone_number_id: &str) -> Key {
    Key::new("STATS#unrouted", format!("{day}#{phone_number_id}"))
}

/// The partition of one bulk notification request.
pub(crate) fn bulk_pk(id: &str) -> String {
    format!("BULK#{id}")
}

/// A bulk request's own record.
pub fn bulk(id: &str) -> Key {
    Key::new(bulk_pk(id), "BULK")
}

/// One chunk of a bulk request's recipients.
pub(crate) fn bulk_chunk(id: &str, n: usize) -> Key {
    Key::new(bulk_pk(id), format!("CHUNK#{n:05}"))
}

/// The sort-key prefix of a bulk request's rejected rows.
pub const BULK_REJECTION_PREFIX: &str = "REJ#";

/// One rejected row of a bulk request, by its index in the request.
pub(crate) fn bulk_rejection(id: &str, index: i64) -> Key {
    Key::new(bulk_pk(id), format!("{BULK_REJECTION_PREFIX}{index:05}"))
}

/// The partition of the merchant's invoice records.
pub const INVOICES: &str = "INVOICES";

/// One invoice record.
pub fn invoice(id: &str) -> Key {
    Key::new(INVOICES, id)
}

/// The partition of the folios invoices got.
pub const FOLIO_OF: &str = "FOLIO_OF";

/// The folio an invoice got (so a retry gets the same one).
pub(crate) fn folio_of(invoice_id: &str) -> Key {
    Key::new(FOLIO_OF, invoice_id)
}

/// The next-folio counter of one serie.
pub(crate) fn folio_counter(serie: &str) -> Key {
    Key::new("FOLIOS", serie)
}

/// A logical key of a merchant's as the raw table stores it (for transactions written outside
/// `TenantTable`).
pub(crate) fn in_merchant(merchant: &impl std::fmt::Display, key: Key) -> Key {
    Key::new(merchant_pk(merchant, &key.pk), key.sk)
}

/// What the notifications report groups by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReportDimension {
    Template,
    Campaign,
    /// A variant of an experiment, named `{experiment}~{variant}`.
    Experiment,
}

impl ReportDimension {
    fn prefix(self) -> &'static str {
        match self {
            ReportDimension::Template => "T#",
            ReportDimension::Campaign => "C#",
            ReportDimension::Experiment => "X#",
        }
    }
}

/// The partition listing which templates and campaigns the notifications report has.
pub const REPORT_DIMENSIONS: &str = "RPT#N#DIMS";

/// The entry of one template or campaign in [`REPORT_DIMENSIONS`].
pub(crate) fn report_dimension(dimension: ReportDimension, name: &str) -> Key {
    Key::new(REPORT_DIMENSIONS, format!("{}{name}", dimension.prefix()))
}

/// The sort-key prefix of one dimension's entries in [`REPORT_DIMENSIONS`].
pub(crate) fn report_dimension_prefix(dimension: ReportDimension) -> &'static str {
    dimension.prefix()
}

/// One template's, campaign's or variant's counters of one day.
pub(crate) fn report_counter(dimension: ReportDimension, name: &str, day: &str) -> Key {
    Key::new(report_counters(dimension, name), day)
}

/// The partition of one template's or campaign's daily counters (sort key the day).
pub(crate) fn report_counters(dimension: ReportDimension, name: &str) -> String {
    format!("RPT#N#{}{name}", dimension.prefix())
}

/// The partition of one branch's paid sales of one day (Mexico City or the branch's time zone),
/// read by the global invoice and the sales report.
pub(crate) fn sales_of_day(branch_id: &str, day: &str) -> String {
    format!("SALES#{branch_id}#{day}")
}

/// One paid sale, in its branch's day partition.
pub fn sale(branch_id: &str, day: &str, order_id: &str) -> Key {
    Key::new(sales_of_day(branch_id, day), format!("ORDER#{order_id}"))
}

/// The partition of the merchant's promotions.
pub const PROMOTIONS: &str = "PROMOTIONS";

/// A promotion, with its use and report counters.
pub fn promotion(id: &str) -> Key {
    Key::new(PROMOTIONS, format!("PROMO#{id}"))
}

/// How many orders of one customer used a promotion (in the customer's partition, so an erasure
/// takes it too).
pub(crate) fn promotion_customer_uses(customer: &CustomerKey, id: &str) -> Key {
    Key::new(customer_pk(customer), format!("PROMO#{id}"))
}

/// The index partition (`gsi1pk`) of the notifications of one template sent on one day (Mexico
/// City), for the recipients behind a report's figure.
pub(crate) fn notifications_of(template: &str, day: &str) -> String {
    format!("NOTIFS#{template}#{day}")
}

/// The sort-key prefix of the codes issued to a customer.
pub const ISSUED_CODE_PREFIX: &str = "PROMOCODE#";

/// A promotion code issued to one customer (by the abandoned-cart reminder), in the customer's
/// partition.
pub(crate) fn promotion_issued_code(customer: &CustomerKey, code: &str) -> Key {
    Key::new(customer_pk(customer), format!("{ISSUED_CODE_PREFIX}{code}"))
}

/// The merchant's settings documents.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Settings {
    Chat,
    Invoicing,
    Notifications,
    Payments,
    Privacy,
    Webhook,
    WhatsApp,
}

/// One of the merchant's settings documents.
pub fn settings(which: Settings) -> Key {
    let sk = match which {
        Settings::Chat => "CHAT",
        Settings::Invoicing => "INVOICING",
        Settings::Notifications => "NOTIFICATIONS",
        Settings::Payments => "PAYMENTS",
        Settings::Privacy => "PRIVACY",
        Settings::Webhook => "WEBHOOK",
        Settings::WhatsApp => "WHATSAPP",
    };
    Key::new("SETTINGS", sk)
}

/// What was last pushed to the merchant's Meta catalog (fingerprint, handles, time, last error).
pub(crate) fn catalog_sync_state() -> Key {
    Key::new("CATALOG_SYNC", "STATE")
}

/// A day's delivery counters (delivered, read, failed, unmatched statuses), by Mexico City day.
pub(crate) fn delivery_stats(day: &str) -> Key {
    Key::new("STATS#delivery", day)
}

/// Payments the merchant must look at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PaymentIssue {
    /// Paid a different amount or currency, or after the order expired or was cancelled.
    Flagged,
    /// A payment for no order of this merchant.
    Unmatched,
}

impl PaymentIssue {
    /// Every kind, as listed to the merchant.
    pub const ALL: [PaymentIssue; 2] = [PaymentIssue::Flagged, PaymentIssue::Unmatched];

    /// The partition its records live in.
    pub fn partition(self) -> &'static str {
        match self {
            PaymentIssue::Flagged => "PAYMENT_ISSUES",
            PaymentIssue::Unmatched => "UNMATCHED_PAYMENTS",
        }
    }

    /// Its name in the API.
    pub fn name(self) -> &'static str {
        match self {
            PaymentIssue::Flagged => "flagged",
            PaymentIssue::Unmatched => "unmatched",
        }
    }

    /// The kind an API name means.
    pub(crate) fn from_name(name: &str) -> Option<PaymentIssue> {
        PaymentIssue::ALL.into_iter().find(|k| k.name() == name)
    }
}

/// One payment the merchant must look at, by the provider's event id.
pub(crate) fn payment_issue(kind: PaymentIssue, provider: &str, event_id: &str) -> Key {
    Key::new(kind.partition(), format!("{provider}#{event_id}"))
}

/// The marker that a customer's data was erased, named by a token of its own (a keyed hash that is
/// not the customer's pseudonym: the erasure leaves that nowhere).
pub(crate) fn erasure_marker(token: &str) -> Key {
    Key::new(format!("ERASED#{token}"), "ERASED")
}

/// The partition of the merchant's outbox (every message sent, newest last).
pub const OUTBOX: &str = "OUTBOX";

/// A message of the sandbox outbox, in the order it was stored.
pub(crate) fn outbox_entry(at_ms: i64, id: &str) -> Key {
    Key::new(OUTBOX, format!("{at_ms:013}#{id}"))
}

/// The marker that an outbound message is in the sandbox outbox (written once per id).
pub(crate) fn outbox_marker(id: &str) -> Key {
    Key::new(format!("OUTBOXID#{id}"), "OUTBOXID")
}

/// An outbound message's record (status, outcome).
pub fn outbound(id: &str) -> Key {
    Key::new(format!("OUT#{id}"), "OUT")
}

/// The record of a message Meta assigned `wamid` to.
pub fn wamid(wamid: &str) -> Key {
    Key::new(format!("WAMID#{wamid}"), "WAMID")
}

/// A notification's record.
pub fn notification(id: &str) -> Key {
    Key::new(format!("NOTIF#{id}"), "NOTIF")
}

/// The partition of the merchant's notification templates.
pub const TEMPLATES: &str = "TEMPLATES";

/// The sort-key prefix of the entries of [`TEMPLATES`].
pub const TEMPLATE_PREFIX: &str = "T#";

/// A message template.
pub fn template(name: &str) -> Key {
    Key::new(TEMPLATES, format!("{TEMPLATE_PREFIX}{name}"))
}

/// A due entry: `action` for the job `job` at `due_at_ms`, unique per `id` under the merchant
/// (scheduling the same id again replaces it). The global index (`DUE#{job}`, sorted by due time)
/// is what the job reads; `sort_id` ends its sort key (usually `id`).
pub(crate) fn due_entry(
    merchant: &MerchantId,
    job: Job,
    id: &str,
    sort_id: &str,
    due_at_ms: i64,
    action: &DueAction,
) -> Result<Item, StoreError> {
    let body = serde_json::to_string(action).map_err(|e| StoreError::Internal(e.to_string()))?;
    Ok(Item::new(&in_merchant(merchant, due(job, id)))
        .with("gsi1pk", due_index(job))
        .with("gsi1sk", format!("{due_at_ms:013}#{merchant}#{sort_id}"))
        .with("action", body))
}

/// A merchant's due entry of a job, by its id (inside the merchant).
pub fn due(job: Job, id: &str) -> Key {
    Key::new("DUE", format!("{}#{id}", job.name()))
}

/// The order a sale ([`sale`]) is of, from its sort key.
pub(crate) fn order_of_sale(sk: &str) -> Option<&str> {
    sk.strip_prefix("ORDER#")
}

/// The global index partition of a job's due entries.
pub(crate) fn due_index(job: Job) -> String {
    format!("DUE#{}", job.name())
}

/// The partition of the merchant's record of ARCO requests (LFPDPPP).
pub const PRIVACY_REQUESTS: &str = "PRIVACY_REQUESTS";

/// One ARCO request, in the order received.
pub(crate) fn privacy_request(received_ms: i64, id: &str) -> Key {
    Key::new(PRIVACY_REQUESTS, format!("{received_ms:013}#{id}"))
}

/// The partition of the record of who read or exported customers' personal data.
pub const PRIVACY_AUDIT: &str = "PRIVACY_AUDIT";

/// One read of a customer's personal data, in the order it happened.
pub(crate) fn privacy_audit(at_ms: i64, id: &str) -> Key {
    Key::new(PRIVACY_AUDIT, format!("{at_ms:013}#{id}"))
}

/// The id an alias item (`ALIAS#{id}`) records a customer for, from its logical partition key.
pub(crate) fn alias_of(pk: &str) -> Option<&str> {
    pk.strip_prefix(ALIAS_PREFIX)
}

/// The order id of an order's logical partition key (`ORDER#{id}`).
pub(crate) fn order_id_of(pk: &str) -> Option<&str> {
    pk.strip_prefix("ORDER#")
}

/// Whether a logical partition key is a notification's.
pub(crate) fn is_notification(pk: &str) -> bool {
    pk.starts_with(NOTIFICATION_PARTITION_PREFIX)
}

/// The start of every notification's partition.
pub const NOTIFICATION_PARTITION_PREFIX: &str = "NOTIF#";

/// What one item of a customer's partition is, from its sort key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CustomerRecord {
    Profile,
    /// A conversation message, with the second it happened.
    Message(Option<i64>),
    Note,
    /// The standing consent or an entry of its history.
    Consent,
    FiscalData,
    /// The pointer to one of the customer's orders.
    OrderPointer,
    ConversationState,
    InvoiceForm,
    Other,
}

/// Reads a customer partition's sort key.
pub(crate) fn customer_record(sk: &str) -> CustomerRecord {
    match sk {
        "PROFILE" => CustomerRecord::Profile,
        "FISCAL" => CustomerRecord::FiscalData,
        "CONV" => CustomerRecord::ConversationState,
        "INVOICE_FORM" => CustomerRecord::InvoiceForm,
        _ if sk.starts_with("MSG#") => {
            CustomerRecord::Message(sk.split('#').nth(1).and_then(|t| t.parse().ok()))
        }
        _ if sk.starts_with(NOTE_PREFIX) => CustomerRecord::Note,
        _ if sk.starts_with("CONSENT") => CustomerRecord::Consent,
        _ if sk.starts_with("ORDER#") => CustomerRecord::OrderPointer,
        _ => CustomerRecord::Other,
    }
}

/// What kind of record a merchant item is, for a customer's data export and erasure, from its
/// logical partition key.
pub(crate) fn record_kind(pk: &str) -> mostrador_core::privacy::RecordKind {
    use mostrador_core::privacy::RecordKind;
    if pk.starts_with("CUST#") {
        RecordKind::Customer
    } else if pk.starts_with("ORDER#") {
        RecordKind::Order
    } else if pk == INVOICES || pk == GLOBAL_ADJUSTMENTS || pk == FOLIO_OF {
        RecordKind::Invoice
    } else if pk == PRIVACY_REQUESTS || pk == PRIVACY_AUDIT {
        RecordKind::PrivacyLog
    } else {
        RecordKind::Other
    }
}

/// A document a customer sent back to a notification (a KYC request), by its id.
pub fn document(id: &str) -> Key {
    Key::new("DOCUMENTS", format!("DOC#{id}"))
}

/// The platform-wide claim of a WhatsApp Business Account by one merchant: Meta's template
/// webhooks name the account, and reach that merchant.
pub(crate) fn business_account(waba_id: &str) -> Key {
    Key::new(format!("WABA#{waba_id}"), "WABA")
}

/// The partition of the merchant's experiments.
pub const EXPERIMENTS: &str = "EXPERIMENTS";

/// An experiment (A/B test of notifications), by name.
pub fn experiment(name: &str) -> Key {
    Key::new(EXPERIMENTS, format!("EXP#{name}"))
}

/// A tracked link (platform-wide: the code is all a visitor has).
pub fn link(code: &str) -> Key {
    Key::new(format!("LINK#{code}"), "LINK")
}

/// The marker of a tracked link's first counted click.
pub(crate) fn link_click(code: &str) -> Key {
    Key::new(format!("LINK#{code}"), "CLICK")
}

/// The platform-wide claim of a link host (`go.banco.mx`) by one merchant: links are served on it
/// only for that merchant, and no other merchant can claim it.
pub(crate) fn link_host_claim(host: &str) -> Key {
    Key::new(format!("LINKHOST#{host}"), "LINKHOST")
}

/// A staff member of the merchant's console (merchant item).
pub(crate) fn staff_user(user_id: &str) -> Key {
    Key::new("STAFF", format!("USER#{user_id}"))
}

/// The partition of the merchant's staff.
pub const STAFF_PK: &str = "STAFF";

/// The platform-wide owner of a staff email: which merchant and user it signs in to.
pub(crate) fn staff_email(email: &str) -> Key {
    Key::new(format!("STAFF_EMAIL#{email}"), "STAFF")
}

/// A console session, by the SHA-256 of its token (platform-wide).
pub(crate) fn staff_session(token_hash: &str) -> Key {
    Key::new(format!("SESSION#{token_hash}"), "SESSION")
}

/// A staff invitation, by the SHA-256 of its token (platform-wide).
pub(crate) fn staff_invitation(token_hash: &str) -> Key {
    Key::new(format!("INVITE#{token_hash}"), "INVITE")
}

/// Blob key of the sealed copy of an inbound message too long for the queue.
pub(crate) fn inbound_copy(merchant: &impl std::fmt::Display, digest: &str) -> String {
    format!("merchants/{merchant}/inbound/{digest}")
}

/// Blob key of a file a merchant downloads through an expiring link (exports).
pub(crate) fn export_file(merchant: &impl std::fmt::Display, name: &str) -> String {
    format!("exports/{merchant}/{name}")
}

/// Every blob prefix a merchant's files live under: their own (media, inbound copies, documents),
/// invoices (kept 5 years) and exports.
pub(crate) fn blob_prefixes(merchant: &impl std::fmt::Display) -> [String; 3] {
    [
        format!("merchants/{merchant}/"),
        format!("invoices/{merchant}/"),
        export_file(merchant, ""),
    ]
}

/// Whether `key` is a stored copy of `merchant` a due entry may delete: an inbound copy or an export.
pub(crate) fn forgettable_blob(merchant: &impl std::fmt::Display, key: &str) -> bool {
    key.starts_with(&inbound_copy(merchant, "")) || key.starts_with(&export_file(merchant, ""))
}

#[cfg(test)]
mod inverse_tests {
    use super::*;

    fn c(s: &str) -> CustomerKey {
        CustomerKey::from_pseudonym(s.to_owned())
    }

    #[test]
    fn keys_read_back_into_their_parts() {
        let pointer = customer_order(&c("521"), "2026-12-05T10:00:00Z", "O1");
        assert_eq!(order_of_pointer(&pointer.sk), Some("O1"));
        assert_eq!(customer_of(&customer_pk(&c("521"))), Some("521"));
        assert_eq!(
            tenant_of(&merchant_pk(&"m1", "CUST#521")),
            Some(("m1", "CUST#521"))
        );
        assert_eq!(tenant_of("WAMID#x"), None);
        assert_eq!(order_of_pointer("PROFILE"), None);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn c(s: &str) -> CustomerKey {
        CustomerKey::from_pseudonym(s.to_owned())
    }

    fn m() -> MerchantId {
        MerchantId::try_from("m1".to_owned()).expect("a valid merchant id")
    }

    fn pk_sk(k: &Key) -> (String, String) {
        (k.pk.clone(), k.sk.clone())
    }

    #[test]
    fn more_builders_are_pinned() {
        let k = |k: Key| (k.pk, k.sk);
        let s = |a: &str, b: &str| (a.to_owned(), b.to_owned());
        assert_eq!(ORDERS_INDEX, "ORDERS");
        assert_eq!(ORDER_PARTITION_PREFIX, "ORDER#");
        assert!(order("o1").pk.starts_with(ORDER_PARTITION_PREFIX));
        assert_eq!(
            orders_index_sk("2026-12-01T10:00:00Z", "o1"),
            "2026-12-01T10:00:00Z#o1"
        );
        assert_eq!(
            (PRODUCTS, SKU_PREFIX, MESSAGE_PREFIX),
            ("PRODUCTS", "SKU#", "MSG#")
        );
        assert_eq!(stock_of_branch("B1"), "STOCK#B1");
        assert_eq!(k(branch("b1")), s("BRANCHES", "BRANCH#b1"));
        assert_eq!((BRANCHES, BRANCH_PREFIX), ("BRANCHES", "BRANCH#"));
        assert_eq!(k(merchant_profile()), s("PROFILE", "PROFILE"));
        assert_eq!(k(api_key("k1")), s("APIKEYS", "APIKEY#k1"));
        assert_eq!((API_KEYS, API_KEY_PREFIX), ("APIKEYS", "APIKEY#"));
        assert_eq!(k(api_key_lookup("ab")), s("APIKEY#ab", "APIKEY"));
        assert_eq!(k(phone_route("111")), s("PHONE#111", "PHONE"));
        assert_eq!(k(send_rate_window("111", 42)), s("RATE#111", "42"));
        assert_eq!(
            k(pair_pacing("111", &c("5215"))),
            s("PAIR#111#5215", "GCRA")
        );
        assert_eq!(k(hook_delivery("d1")), s("HOOK#d1", "HOOK"));
        assert_eq!(CONSENT_PREFIX, "CONSENT#");
        assert_eq!(
            k(consent_event(&c("5215"), 1_700_000_000_000, "abcd1234")),
            s("CUST#5215", "CONSENT#1700000000000#abcd1234")
        );
        assert_eq!(
            k(daily_cap(&c("5215"), "2026-12-01", None)),
            s("CUST#5215", "CAP#2026-12-01")
        );
        assert_eq!(
            k(daily_cap(&c("5215"), "2026-12-01", Some("marketing"))),
            s("CUST#5215", "CAP#2026-12-01#marketing")
        );
        assert_eq!(
            k(daily_cap_mark(&c("5215"), "2026-12-01", "n1")),
            s("CUST#5215", "CAPMARK#2026-12-01#n1")
        );
        assert_eq!(
            k(customer_notification(&c("5215"), 42, "n1")),
            s("CUST#5215", "NOTIF#0000000000042#n1")
        );
        assert_eq!(
            customer_notifications_between(1, 2),
            s("NOTIF#0000000000001", "NOTIF#0000000000002~")
        );
        assert_eq!(
            k(cart_reminded(&c("5215"), 99)),
            s("CUST#5215", "CARTREMIND#99")
        );
        assert_eq!(
            k(conversation_day(&c("5215"), "2026-12-01")),
            s("CUST#5215", "CONVDAY#2026-12-01")
        );
        assert_eq!(
            k(branch_counters("B1", "2026-12-01")),
            s("RPT#B#B1", "2026-12-01")
        );
        assert_eq!(
            k(outbound_stats("2026-12-01")),
            s("STATS#outbound", "2026-12-01")
        );
        assert_eq!(
            k(unrouted_stats("2026-12-01", "111")),
            s("STATS#unrouted", "2026-12-01#111")
        );
        assert_eq!(k(bulk("b1")), s("BULK#b1", "BULK"));
        assert_eq!(k(bulk_chunk("b1", 3)), s("BULK#b1", "CHUNK#00003"));
        assert_eq!(k(bulk_rejection("b1", 12)), s("BULK#b1", "REJ#00012"));
        assert_eq!(BULK_REJECTION_PREFIX, "REJ#");
        assert_eq!(k(invoice("i1")), s("INVOICES", "i1"));
        assert_eq!(k(folio_of("i1")), s("FOLIO_OF", "i1"));
        assert_eq!(k(folio_counter("A")), s("FOLIOS", "A"));
        assert_eq!(
            (HANDOFFS, OUTBOX, TEMPLATES, TEMPLATE_PREFIX),
            ("HANDOFFS", "OUTBOX", "TEMPLATES", "T#")
        );
        assert_eq!(
            k(due(Job::DueNotifications, "n1")),
            s("DUE", &format!("{}#n1", Job::DueNotifications.name()))
        );
        assert_eq!(order_of_sale("ORDER#o1"), Some("o1"));
    }

    #[test]
    fn sales_keys_are_pinned() {
        assert_eq!(sales_of_day("B1", "2026-12-01"), "SALES#B1#2026-12-01");
        let k = sale("B1", "2026-12-01", "o-1");
        assert_eq!(
            (k.pk.as_str(), k.sk.as_str()),
            ("SALES#B1#2026-12-01", "ORDER#o-1")
        );
    }

    #[test]
    fn stored_copies_keep_their_blob_keys_and_only_they_are_forgotten() {
        assert_eq!(inbound_copy(&m(), "ab12"), "merchants/m1/inbound/ab12");
        assert_eq!(export_file(&m(), "arco/x.zip"), "exports/m1/arco/x.zip");
        assert!(forgettable_blob(&m(), "merchants/m1/inbound/ab12"));
        assert!(forgettable_blob(
            &m(),
            "exports/m1/facturas-2026-12-todas.zip"
        ));
        assert!(!forgettable_blob(&m(), "exports/m2/arco/x.zip"));
        assert!(!forgettable_blob(&m(), "invoices/m1/INV1/cfdi.xml"));
        assert_eq!(
            blob_prefixes(&m()),
            ["merchants/m1/", "invoices/m1/", "exports/m1/"]
        );
        assert!(!forgettable_blob(&m(), "merchants/m1/media/77"));
    }

    #[test]
    fn merchant_partitions_keep_their_stored_prefix() {
        assert_eq!(merchant_pk(&m(), "DUE"), "M#m1#DUE");
        assert_eq!(merchant_prefix(&m()), "M#m1#");
    }

    #[test]
    fn entity_keys_are_the_stored_strings() {
        let cases = [
            (order("O1"), ("ORDER#O1", "ORDER")),
            (
                customer_order(&c("5215512345678"), "2026-01-02T03:04:05Z", "O1"),
                ("CUST#5215512345678", "ORDER#2026-01-02T03:04:05Z#O1"),
            ),
            (customer_profile(&c("521")), ("CUST#521", "PROFILE")),
            (promotion("P1"), ("PROMOTIONS", "PROMO#P1")),
            (
                report_dimension(ReportDimension::Campaign, "alertas-nov"),
                ("RPT#N#DIMS", "C#alertas-nov"),
            ),
            (
                Key::new(
                    report_counters(ReportDimension::Template, "alerta_fraude"),
                    "2026-11-20",
                ),
                ("RPT#N#T#alerta_fraude", "2026-11-20"),
            ),
            (
                Key::new(notifications_of("alerta_fraude", "2026-11-20"), "N1"),
                ("NOTIFS#alerta_fraude#2026-11-20", "N1"),
            ),
            (
                promotion_customer_uses(&c("521"), "P1"),
                ("CUST#521", "PROMO#P1"),
            ),
            (
                global_adjustment("G-1", "O1"),
                ("GLOBAL_ADJUSTMENTS", "G-1#O1"),
            ),
            (
                customer_alias(&c("MX.1502576394655843")),
                ("ALIAS#MX.1502576394655843", "CUSTOMER"),
            ),
            (staff_user("U1"), ("STAFF", "USER#U1")),
            (link("Ab12"), ("LINK#Ab12", "LINK")),
            (document("doc1"), ("DOCUMENTS", "DOC#doc1")),
            (business_account("1029384756"), ("WABA#1029384756", "WABA")),
            (
                experiment("prestamo-dic"),
                ("EXPERIMENTS", "EXP#prestamo-dic"),
            ),
            (
                Key::new(
                    report_counters(ReportDimension::Experiment, "prestamo-dic~a"),
                    "2026-12-01",
                ),
                ("RPT#N#X#prestamo-dic~a", "2026-12-01"),
            ),
            (link_click("Ab12"), ("LINK#Ab12", "CLICK")),
            (
                link_host_claim("go.banco.mx"),
                ("LINKHOST#go.banco.mx", "LINKHOST"),
            ),
            (catalog_sync_state(), ("CATALOG_SYNC", "STATE")),
            (
                conversation_note(&c("521"), 1_700_000_000_000, "N1"),
                ("CUST#521", "NOTE#1700000000000#N1"),
            ),
            (staff_email("a@b.mx"), ("STAFF_EMAIL#a@b.mx", "STAFF")),
            (staff_session("ab12"), ("SESSION#ab12", "SESSION")),
            (staff_invitation("cd34"), ("INVITE#cd34", "INVITE")),
            (conversation_state(&c("521")), ("CUST#521", "CONV")),
            (
                conversation_message(&c("521"), 1_700_000_000, "wamid.X"),
                ("CUST#521", "MSG#1700000000#wamid.X"),
            ),
            (
                conversation_message(&c("521"), 5, "r"),
                ("CUST#521", "MSG#0000000005#r"),
            ),
            (handoff(&c("521")), ("HANDOFFS", "CUST#521")),
            (consent(&c("521")), ("CUST#521", "CONSENT")),
            (fiscal_data(&c("521")), ("CUST#521", "FISCAL")),
            (invoice_form(&c("521")), ("CUST#521", "INVOICE_FORM")),
            (
                conversation_logged(&c("521"), "re1-r1"),
                ("CUST#521", "LOGGED#re1-r1"),
            ),
            (stock("B1", "PARA500"), ("STOCK#B1", "SKU#PARA500")),
            (product("PARA500"), ("PRODUCTS", "SKU#PARA500")),
            (outbound("re1"), ("OUT#re1", "OUT")),
            (wamid("wamid.X"), ("WAMID#wamid.X", "WAMID")),
            (notification("ntf1"), ("NOTIF#ntf1", "NOTIF")),
            (template("alerta"), ("TEMPLATES", "T#alerta")),
            (settings(Settings::Chat), ("SETTINGS", "CHAT")),
            (settings(Settings::Invoicing), ("SETTINGS", "INVOICING")),
            (
                settings(Settings::Notifications),
                ("SETTINGS", "NOTIFICATIONS"),
            ),
            (settings(Settings::Payments), ("SETTINGS", "PAYMENTS")),
            (settings(Settings::Webhook), ("SETTINGS", "WEBHOOK")),
            (settings(Settings::WhatsApp), ("SETTINGS", "WHATSAPP")),
            (settings(Settings::Privacy), ("SETTINGS", "PRIVACY")),
            (
                privacy_request(42, "r1"),
                ("PRIVACY_REQUESTS", "0000000000042#r1"),
            ),
            (
                privacy_audit(7, "a1"),
                ("PRIVACY_AUDIT", "0000000000007#a1"),
            ),
        ];
        for (key, (pk, sk)) in cases {
            assert_eq!(pk_sk(&key), (pk.to_owned(), sk.to_owned()));
        }
    }

    #[test]
    fn customer_partition_items_are_read_back_from_the_keys_the_builders_write() {
        let sk = |k: Key| k.sk;
        assert_eq!(
            customer_record(&sk(customer_profile(&c("521")))),
            CustomerRecord::Profile
        );
        assert_eq!(
            customer_record(&sk(conversation_message(&c("521"), 1_700_000_000, "w"))),
            CustomerRecord::Message(Some(1_700_000_000))
        );
        assert_eq!(
            customer_record(&sk(conversation_note(&c("521"), 5, "n"))),
            CustomerRecord::Note
        );
        assert_eq!(
            customer_record(&sk(consent(&c("521")))),
            CustomerRecord::Consent
        );
        assert_eq!(
            customer_record("CONSENT#0000000000001#ab"),
            CustomerRecord::Consent
        );
        assert_eq!(
            customer_record(&sk(fiscal_data(&c("521")))),
            CustomerRecord::FiscalData
        );
        assert_eq!(
            customer_record(&sk(customer_order(&c("521"), "2026", "O1"))),
            CustomerRecord::OrderPointer
        );
        assert_eq!(
            customer_record(&sk(conversation_state(&c("521")))),
            CustomerRecord::ConversationState
        );
        assert_eq!(
            customer_record(&sk(invoice_form(&c("521")))),
            CustomerRecord::InvoiceForm
        );
        assert_eq!(customer_record("SOMETHING"), CustomerRecord::Other);
        assert_eq!(alias_of(&customer_alias(&c("MX.1")).pk), Some("MX.1"));
        assert_eq!(order_id_of(&order("O1").pk), Some("O1"));
        assert!(is_notification(&notification("n1").pk));
        assert!(!is_notification(&order("n1").pk));
    }

    #[test]
    fn records_are_classified_for_erasure_by_their_partition() {
        use mostrador_core::privacy::RecordKind;
        for (pk, kind) in [
            ("CUST#521", RecordKind::Customer),
            ("ORDER#O1", RecordKind::Order),
            ("INVOICES", RecordKind::Invoice),
            ("GLOBAL_ADJUSTMENTS", RecordKind::Invoice),
            ("FOLIO_OF", RecordKind::Invoice),
            ("PRIVACY_REQUESTS", RecordKind::PrivacyLog),
            ("PRIVACY_AUDIT", RecordKind::PrivacyLog),
            ("OUT#re1", RecordKind::Other),
            ("HANDOFFS", RecordKind::Other),
            ("DUE", RecordKind::Other),
        ] {
            assert_eq!(record_kind(pk), kind, "{pk}");
        }
    }

    #[test]
    fn a_due_entry_is_indexed_by_job_and_due_time() {
        let action = DueAction::ExpireOrder {
            merchant_id: "m1".into(),
            order_id: "O1".into(),
        };
        let item = due_entry(&m(), Job::ExpireOrders, "order-O1", "order-O1", 42, &action)
            .expect("the action serializes");
        let key = item.key().expect("the item has a key");
        assert_eq!(
            pk_sk(&key),
            ("M#m1#DUE".into(), "expire_orders#order-O1".into())
        );
        assert_eq!(item.get_s("gsi1pk"), Some("DUE#expire_orders"));
        assert_eq!(item.get_s("gsi1sk"), Some("0000000000042#m1#order-O1"));
        let body = item.get_s("action").expect("the action is stored");
        let back: DueAction = serde_json::from_str(body).expect("the stored action reads back");
        assert_eq!(back, action);
    }

    #[test]
    fn a_due_entry_may_sort_by_another_id() {
        let action = DueAction::NotificationBatch {
            merchant_id: "m1".into(),
            bulk_id: "b1".into(),
            chunk: 3,
        };
        let item = due_entry(&m(), Job::DueNotifications, "b1-3", "b1-00003", 7, &action)
            .expect("the action serializes");
        let key = item.key().expect("the item has a key");
        assert_eq!(key.sk, "due_notifications#b1-3");
        assert_eq!(item.get_s("gsi1sk"), Some("0000000000007#m1#b1-00003"));
    }
}
