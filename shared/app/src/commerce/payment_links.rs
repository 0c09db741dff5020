//! The way an order gets paid: the link or reference the merchant's provider issues, how the customer
//! is told (a URL, or the OXXO reference / CLABE with instructions), and recovery when the provider
//! fails at confirmation time.
//!
//! A provider error never loses the order: the stock is reserved anyway, the customer is told the
//! link is coming, and a due entry retries the provider (with the same idempotency key, so a retry
//! never creates a second charge) until it answers or the reservation lapses.

use crate::commerce::fulfilment::short_id;
use crate::commerce::orders::{self, Order, OrderStatus};
use crate::parties::conversation;
use crate::parties::messages::Category;
use crate::parties::tell::{tell, Notice, Template};
use crate::platform::due::{self, DueAction, Job};
use crate::platform::error::AppError;
use crate::platform::tenant::{MerchantId, TenantTable};
use crate::platform::Deps;
use chrono::TimeZone;
use mostrador_core::conversation::State;
use mostrador_payments::{Method, PaymentLink, PaymentProvider, PaymentRequest};
use mostrador_store::{Condition, Table, Update};

/// The template that carries a payment link outside the 24-hour window (body: order, total, link).
pub const PAYMENT_LINK_TEMPLATE: &str = "mostrador_liga_de_pago";
/// What fills the link slot of the confirmation while the provider is being retried.
pub const LINK_PENDING: &str = "en unos minutos te enviamos tu liga de pago";
/// What fills the link slot when the instructions follow in their own message.
pub const SEE_INSTRUCTIONS: &str = "con las instrucciones que te enviamos abajo 👇";
/// Delays between retries of a failed link creation.
const RETRY_DELAYS_SECS: [i64; 5] = [60, 120, 300, 600, 900];

/// The provider that issues this merchant's links and the methods they offer.
pub async fn issuer(
    deps: &Deps,
    merchant: &MerchantId,
) -> Result<(Box<dyn PaymentProvider>, Vec<Method>), AppError> {
    use crate::parties::payment_settings::{self, PaymentMode};
    Ok(match payment_settings::mode(deps, merchant).await? {
        PaymentMode::Configured(credentials) => {
            (credentials.adapter(deps, merchant)?, credentials.methods())
        }
        PaymentMode::DemoSandbox => (
            Box::new(payment_settings::sandbox(deps, merchant)),
            payment_settings::DEFAULT_METHODS.to_vec(),
        ),
        PaymentMode::Unconfigured => (
            Box::new(NoProvider),
            payment_settings::DEFAULT_METHODS.to_vec(),
        ),
    })
}

/// A production merchant that has not chosen a payment provider: no link can be issued. The order
/// is still placed (its stock held) and the link is retried by a due entry, so it goes out once
/// the merchant stores a provider.
struct NoProvider;

#[async_trait::async_trait]
impl PaymentProvider for NoProvider {
    fn name(&self) -> &'static str {
        "none"
    }

    async fn create(
        &self,
        _request: &PaymentRequest,
    ) -> Result<PaymentLink, mostrador_payments::PaymentError> {
        tracing::error!("no payment provider configured: PUT /v1/settings/payments");
        Err(mostrador_payments::PaymentError::Refused(
            "no payment provider is configured".into(),
        ))
    }

    async fn verify(
        &self,
        _callback: &mostrador_payments::Callback<'_>,
    ) -> Result<mostrador_payments::Verified, mostrador_payments::PaymentError> {
        Err(mostrador_payments::PaymentError::Unauthenticated(
            "no payment provider is configured".into(),
        ))
    }

    async fn refund(
        &self,
        _payment_ref: &str,
        _amount: Option<mostrador_core::money::Centavos>,
    ) -> Result<(), mostrador_payments::PaymentError> {
        Err(mostrador_payments::PaymentError::Refused(
            "no payment provider is configured".into(),
        ))
    }
}

/// The request for an order: our order id as reference, our total, expiry with the reservation.
pub fn request_for(
    deps: &Deps,
    merchant: &MerchantId,
    provider: &dyn PaymentProvider,
    methods: Vec<Method>,
    order: &Order,
    merchant_name: &str,
) -> PaymentRequest {
    PaymentRequest {
        order_id: order.id.clone(),
        amount: order.total,
        currency: "MXN".into(),
        description: format!("Pedido {} — {merchant_name}", short_id(&order.id)),
        methods,
        expires_at: order.expires_at_ms / 1000,
        notification_url: format!(
            "{}/webhooks/payments/{}?m={merchant}",
            deps.config.public_url(),
            provider.name()
        ),
        idempotency_key: order.id.clone(),
    }
}

/// How the customer pays with `link`: what goes in the confirmation's link slot, and the
/// instructions to send after it when the link is a reference or a CLABE rather than a page.
pub(crate) fn how_to_pay(link: &PaymentLink, order: &Order) -> (String, Option<String>) {
    let deadline = chrono_tz::America::Mexico_City
        .timestamp_opt(link.expires_at, 0)
        .single()
        .map(|t| t.format("%d/%m/%Y %H:%M").to_string())
        .unwrap_or_default();
    let amount = order.total.display_mxn();
    let mut notes = Vec::new();
    if let Some(reference) = &link.cash_reference {
        let mut text = format!(
            "💵 *Pago en efectivo (OXXO)*\n1. Ve a cualquier OXXO y di que harás un pago de *OXXO Pay*.\n2. Da esta referencia: *{}*\n3. Paga exactamente *{amount}* (OXXO puede cobrar una comisión).\n4. Guarda tu ticket; te avisamos aquí en cuanto se refleje el pago.",
            group_digits(reference)
        );
        if let Some(barcode) = &link.barcode_url {
            text.push_str(&format!("\nCódigo de barras: {barcode}"));
        }
        if !deadline.is_empty() {
            text.push_str(&format!("\nVence: {deadline} (hora del centro)."));
        }
        notes.push(text);
    }
    if let Some(clabe) = &link.clabe {
        let mut text = format!(
            "🏦 *Transferencia SPEI*\n1. Desde tu banca en línea, transfiere *{amount}* exactos.\n2. CLABE: *{}*\n3. Concepto: Pedido {}\n4. El pago se refleja en minutos; te avisamos aquí.",
            clabe.as_str(),
            short_id(&order.id)
        );
        if !deadline.is_empty() {
            text.push_str(&format!("\nVence: {deadline} (hora del centro)."));
        }
        notes.push(text);
    }
    let instructions = (!notes.is_empty()).then(|| notes.join("\n\n"));
    let slot = match (&link.url, &instructions) {
        (Some(url), _) => url.clone(),
        (None, Some(_)) => SEE_INSTRUCTIONS.to_owned(),
        (None, None) => LINK_PENDING.to_owned(),
    };
    (slot, instructions)
}

/// A reference in groups of four digits, as OXXO's cashiers read them.
fn group_digits(reference: &str) -> String {
    if !reference.chars().all(|c| c.is_ascii_digit()) {
        return reference.to_owned();
    }
    reference
        .as_bytes()
        .chunks(4)
        .map(|c| String::from_utf8_lossy(c).into_owned())
        .collect::<Vec<_>>()
        .join(" ")
}

/// Records what the provider issued on the order (for "pago" requests, refunds and support).
pub async fn store_on_order(
    table: &TenantTable,
    order_id: &str,
    provider: &str,
    link: &PaymentLink,
) -> Result<(), AppError> {
    let mut update = Update::new()
        .set("payment_provider", provider)
        .set("provider_ref", link.provider_ref.as_str())
        .remove("link_pending");
    if let Some(url) = &link.url {
        update = update.set("payment_url", url.as_str());
    }
    if let Some(r) = &link.cash_reference {
        update = update.set("cash_reference", r.as_str());
    }
    if let Some(c) = &link.clabe {
        update = update.set("clabe", c.as_str());
    }
    table
        .update(
            &crate::platform::schema::order(order_id),
            update,
            Some(Condition::Exists),
        )
        .await?;
    Ok(())
}

/// Marks the order as waiting for its link and schedules the first retry.
pub(crate) async fn schedule_retry(
    deps: &Deps,
    merchant: &MerchantId,
    order_id: &str,
    attempt: u32,
) -> Result<(), AppError> {
    let delay = RETRY_DELAYS_SECS[(attempt as usize).min(RETRY_DELAYS_SECS.len() - 1)];
    let action = DueAction::RetryPaymentLink {
        merchant_id: merchant.to_string(),
        order_id: order_id.to_owned(),
        attempt,
    };
    if attempt == 0 {
        TenantTable::of(deps, merchant)
            .update(
                &crate::platform::schema::order(order_id),
                Update::new().set("link_pending", true),
                Some(Condition::Exists),
            )
            .await?;
    }
    due::schedule(
        deps,
        merchant,
        Job::DueNotifications,
        &format!("paylink-{order_id}-{attempt}"),
        deps.clock.now_ms() + delay * 1000,
        &action,
    )
    .await?;
    Ok(())
}

/// The due entry: asks the provider again and, once it answers, sends the customer the link.
pub async fn retry(
    deps: &Deps,
    merchant: &MerchantId,
    order_id: &str,
    attempt: u32,
) -> Result<(), AppError> {
    let table = TenantTable::of(deps, merchant);
    let Some(order) = orders::get(&table, order_id).await? else {
        return Ok(());
    };
    if order.status != OrderStatus::AwaitingPayment || order.expires_at_ms <= deps.clock.now_ms() {
        // Paid another way, cancelled or expired meanwhile: nothing to send.
        return Ok(());
    }
    let Some(profile) = crate::parties::merchants::get_merchant(deps, merchant).await? else {
        return Ok(());
    };
    let (provider, methods) = issuer(deps, merchant).await?;
    let request = request_for(
        deps,
        merchant,
        provider.as_ref(),
        methods,
        &order,
        &profile.name,
    );
    let link = match provider.create(&request).await {
        Ok(link) => link,
        Err(e) => {
            tracing::warn!(merchant = %merchant, order = %order.id, attempt, error = %e, "payment link still failing; retrying later");
            return schedule_retry(deps, merchant, order_id, attempt + 1).await;
        }
    };
    store_on_order(&table, &order.id, provider.name(), &link).await?;
    let (slot, instructions) = how_to_pay(&link, &order);
    // "pago" in the chat sends the link again: give the conversation the real one.
    if let State::AwaitingPayment {
        order_id: current,
        expires_at,
        ..
    } = conversation::load_state(&table, &order.wa_id).await?
    {
        if current == order.id {
            conversation::save_state(
                deps,
                &table,
                &order.wa_id,
                &State::AwaitingPayment {
                    order_id: current,
                    payment_url: slot.clone(),
                    expires_at,
                },
                deps.clock.now_secs(),
            )
            .await?;
        }
    }
    let mut text = format!(
        "Aquí está tu liga de pago del pedido {} por *{}*: {slot}",
        short_id(&order.id),
        order.total.display_mxn()
    );
    if let Some(notes) = &instructions {
        text = format!(
            "Tu pedido {} por *{}* ya se puede pagar.\n\n{notes}",
            short_id(&order.id),
            order.total.display_mxn()
        );
    }
    send_to_customer(
        deps,
        merchant,
        &order,
        &format!("{}-paylink", order.id),
        text,
        &slot,
    )
    .await?;
    tracing::info!(merchant = %merchant, order = %order.id, attempt, "payment link sent after a provider failure");
    Ok(())
}

/// A text inside the 24-hour window; outside it the link template (order, total, link).
async fn send_to_customer(
    deps: &Deps,
    merchant: &MerchantId,
    order: &Order,
    id: &str,
    text: String,
    link_slot: &str,
) -> Result<(), AppError> {
    let notice = Notice::text(
        id.to_owned(),
        &order.wa_id,
        &order.phone_number_id,
        text,
        Category::Service,
        Template {
            name: PAYMENT_LINK_TEMPLATE,
            document: None,
            body: vec![
                short_id(&order.id),
                order.total.display_mxn(),
                link_slot.to_owned(),
            ],
        },
        Category::Utility,
    );
    tell(deps, merchant, notice).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use mostrador_core::clabe::Clabe;
    use mostrador_core::money::Centavos;

    fn order() -> Order {
        Order {
            id: "O1234567890ABCDEF".into(),
            branch_id: "b1".into(),
            wa_id: "5215512345678".into(),
            phone_number_id: "100".into(),
            status: OrderStatus::AwaitingPayment,
            lines: Vec::new(),
            subtotal: Centavos(10_000),
            iva: Centavos(1_600),
            total: Centavos(11_600),
            created_at: "2026-11-21T10:00:00Z".into(),
            expires_at_ms: 0,
            payment_url: None,
            fulfilment: Default::default(),
            customer_name: None,
            sealed_personal: None,
            refunds: Vec::new(),
            promotions: Vec::new(),
        }
    }

    fn link() -> PaymentLink {
        PaymentLink {
            provider_ref: "ord_1".into(),
            url: None,
            cash_reference: None,
            barcode_url: None,
            clabe: None,
            expires_at: 1_795_000_000,
        }
    }

    #[test]
    fn a_checkout_page_goes_in_the_link_slot_without_instructions() {
        let l = PaymentLink {
            url: Some("https://pay.example/x".into()),
            ..link()
        };
        assert_eq!(
            how_to_pay(&l, &order()),
            ("https://pay.example/x".to_owned(), None)
        );
    }

    #[test]
    fn an_oxxo_reference_comes_with_amount_steps_and_deadline() {
        let l = PaymentLink {
            cash_reference: Some("93000012345678".into()),
            ..link()
        };
        let (slot, notes) = how_to_pay(&l, &order());
        assert_eq!(slot, SEE_INSTRUCTIONS);
        let notes = notes.expect("instructions");
        assert!(notes.contains("9300 0012 3456 78"), "{notes}");
        assert!(notes.contains("$116.00"), "{notes}");
        assert!(notes.contains("OXXO Pay"), "{notes}");
        assert!(notes.contains("Vence:"), "{notes}");
    }

    #[test]
    fn a_clabe_comes_with_amount_and_concept() {
        let clabe =
            Clabe::parse("646180111812345678").or_else(|_| Clabe::parse("012180026050783858"));
        let l = PaymentLink {
            clabe: Some(clabe.expect("a valid CLABE")),
            ..link()
        };
        let (_, notes) = how_to_pay(&l, &order());
        let notes = notes.expect("instructions");
        assert!(notes.contains("SPEI"), "{notes}");
        assert!(notes.contains("$116.00"), "{notes}");
        assert!(notes.contains("Pedido ABCDEF"), "{notes}");
    }

    #[test]
    fn nothing_issued_means_the_link_is_pending() {
        assert_eq!(how_to_pay(&link(), &order()).0, LINK_PENDING);
    }
}
