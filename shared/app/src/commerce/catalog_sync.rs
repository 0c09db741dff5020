//! The merchant's Meta commerce catalog kept true: products, prices, images and availability pushed
//! through the Graph API's `/{catalog_id}/items_batch` (method UPDATE, which also creates) whenever
//! they change, so the WhatsApp catalog customers browse never offers what the shop can't sell.
//!
//! Every change schedules one push a little later ([`DEBOUNCE_MS`]; a later change replaces the
//! pending one). A push that fails for now (throttling, 5xx, network) leaves its due entry for the
//! next run of the `catalog_sync` job; a refusal (bad token, bad catalog id) is recorded and not
//! retried. The same content is never pushed twice (a fingerprint of the last push is kept), and
//! UPDATE by retailer id makes a repeated push harmless anyway.
//!
//! One catalog per merchant: an item is "in stock" while any branch has units available, with the
//! total as its inventory. A merchant without a catalog id, or in sandbox mode (no access token),
//! pushes nothing.

use crate::commerce::catalog;
use crate::parties::{merchants, settings};
use crate::platform::due::{self, DueAction, Job};
use crate::platform::error::AppError;
use crate::platform::schema;
use crate::platform::tenant::{MerchantId, TenantTable};
use crate::platform::Deps;
use mostrador_core::catalog::Product;
use mostrador_core::tax::line_amounts;
use mostrador_store::{Item, Table};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use std::collections::HashMap;

/// How long after a change the push happens (later changes join it).
pub const DEBOUNCE_MS: i64 = 30_000;
/// Items per items_batch call (Meta allows 5,000 and recommends under 3,000).
pub const BATCH_ITEMS: usize = 3_000;
/// The id of the pending push's due entry (one per merchant).
const DUE_ID: &str = "catalog-sync";

/// Schedules a push of the catalog, unless the merchant has no Meta catalog.
pub async fn schedule(deps: &Deps, merchant: &MerchantId) -> Result<(), AppError> {
    let table = TenantTable::of(deps, merchant);
    if settings::load(&table).await?.catalog_id.is_none() {
        return Ok(());
    }
    due::schedule(
        deps,
        merchant,
        Job::CatalogSync,
        DUE_ID,
        deps.clock.now_ms() + DEBOUNCE_MS,
        &DueAction::SyncCatalog {
            merchant_id: merchant.to_string(),
        },
    )
    .await?;
    Ok(())
}

/// "45.50 MXN": a price as the catalog takes it.
fn price_text(centavos: i64) -> String {
    format!("{}.{:02} MXN", centavos / 100, centavos.rem_euclid(100))
}

fn clip(text: &str, max: usize) -> String {
    text.trim().chars().take(max).collect()
}

/// The items_batch requests for a catalog: one UPDATE per product, with the shelf price (IVA
/// included), availability from `available` (units across branches) and the product's image.
pub fn requests(
    products: &[Product],
    available: &HashMap<String, i64>,
    includes_iva: bool,
    brand: &str,
) -> Vec<Value> {
    products
        .iter()
        .map(|p| {
            let units = available.get(&p.sku).copied().unwrap_or(0).max(0);
            let shelf = line_amounts(p.price, 1, p.tax, includes_iva).map_or(p.price, |a| a.total);
            let in_stock = p.active && units > 0;
            let description = if p.description.trim().is_empty() {
                p.name.as_str()
            } else {
                p.description.as_str()
            };
            let mut data = json!({
                "id": p.sku,
                "title": clip(&p.name, 150),
                "description": clip(description, 5_000),
                "availability": if in_stock { "in stock" } else { "out of stock" },
                "condition": "new",
                "price": price_text(shelf.0),
                "inventory": if p.active { units } else { 0 },
                "brand": clip(brand, 100),
            });
            if let Some(image) = p.image_url.as_deref().filter(|u| u.starts_with("https://")) {
                data["image_link"] = json!(image);
            }
            json!({ "method": "UPDATE", "data": data })
        })
        .collect()
}

/// Pushes the catalog now (the `catalog_sync` job's action). `Err` only for failures worth retrying.
pub async fn push(deps: &Deps, merchant: &MerchantId) -> Result<(), AppError> {
    let table = TenantTable::of(deps, merchant);
    let wa = settings::load(&table).await?;
    let Some(catalog_id) = wa.catalog_id.clone() else {
        return Ok(());
    };
    let Some(token) = settings::access_token(deps, merchant).await? else {
        tracing::info!(merchant = %merchant, "sandbox mode: the Meta catalog is not pushed");
        return Ok(());
    };
    let products = catalog::all_products(&table).await?;
    let mut available: HashMap<String, i64> = HashMap::new();
    for branch in merchants::list_branches_of(&table).await? {
        for (sku, stock) in catalog::branch_stock(&table, &branch.id).await? {
            *available.entry(sku).or_insert(0) += stock.available.max(0);
        }
    }
    let chat = crate::parties::conversation::load_settings(&table).await?;
    let brand = merchants::get_merchant(deps, merchant)
        .await?
        .map(|m| m.name)
        .unwrap_or_default();
    let requests = requests(&products, &available, chat.includes_iva, &brand);
    let body = serde_json::to_string(&requests).map_err(|e| AppError::Internal(e.into()))?;
    let fingerprint = hex::encode(Sha256::digest(format!("{catalog_id}\n{body}").as_bytes()));
    let state = table.get(&schema::catalog_sync_state()).await?;
    if state.as_ref().and_then(|s| s.get_s("fingerprint")) == Some(fingerprint.as_str()) {
        tracing::debug!(merchant = %merchant, "the Meta catalog is already up to date");
        return Ok(());
    }
    let url = format!(
        "{}/{}/{}/items_batch",
        deps.config.graph_api_base.trim_end_matches('/'),
        deps.config.graph_api_version,
        catalog_id
    );
    let mut handles = Vec::new();
    for chunk in requests.chunks(BATCH_ITEMS) {
        let response = deps
            .http
            .post(&url)
            .bearer_auth(token.expose())
            .json(&json!({ "item_type": "PRODUCT_ITEM", "allow_upsert": true, "requests": chunk }))
            .send()
            .await
            .map_err(|e| AppError::Unavailable(format!("Meta catalog: {e}")))?;
        let status = response.status();
        let answer: Value = response.json().await.unwrap_or(Value::Null);
        if status.as_u16() == 429 || status.is_server_error() {
            return Err(AppError::Unavailable(format!(
                "Meta catalog answered {status}; retried on the next run"
            )));
        }
        if !status.is_success() {
            let message = answer["error"]["message"].as_str().unwrap_or("refused");
            tracing::error!(merchant = %merchant, status = status.as_u16(), code = ?answer["error"]["code"], error = message, "Meta refused the catalog push; fix the token or catalog id");
            table
                .put(
                    Item::new(&schema::catalog_sync_state())
                        .with("error", format!("{status}: {message}"))
                        .with("failed_at", deps.clock.now_secs())
                        .with(
                            "fingerprint",
                            state
                                .as_ref()
                                .and_then(|s| s.get_s("fingerprint"))
                                .unwrap_or_default(),
                        ),
                    None,
                )
                .await?;
            return Ok(());
        }
        handles.extend(
            answer["handles"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|h| h.as_str().map(str::to_owned)),
        );
    }
    table
        .put(
            Item::new(&schema::catalog_sync_state())
                .with("fingerprint", fingerprint.as_str())
                .with("items", requests.len() as i64)
                .with("handles", handles.join(","))
                .with("pushed_at", deps.clock.now_secs()),
            None,
        )
        .await?;
    tracing::info!(merchant = %merchant, items = requests.len(), "Meta catalog pushed");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use mostrador_core::money::Centavos;
    use mostrador_core::tax::TaxTreatment;

    fn product(sku: &str, price: i64, tax: TaxTreatment, active: bool) -> Product {
        Product {
            sku: sku.into(),
            name: format!("Producto {sku}"),
            description: String::new(),
            price: Centavos(price),
            tax,
            clave_prod_serv: "51142001".into(),
            clave_unidad: "XBX".into(),
            image_url: Some("https://cdn.example/p.jpg".into()),
            categories: vec![],
            active,
            min_stock: None,
        }
    }

    #[test]
    fn items_carry_the_shelf_price_and_availability_across_branches() {
        let products = vec![
            product("A", 4_550, TaxTreatment::Iva0, true),
            product("B", 10_000, TaxTreatment::Iva16, true),
            product("C", 999, TaxTreatment::Iva0, false),
        ];
        let available = HashMap::from([("A".to_string(), 7), ("C".to_string(), 3)]);
        let with_iva = requests(&products, &available, true, "Farmacia San Juan");
        assert_eq!(with_iva.len(), 3);
        assert_eq!(with_iva[0]["method"], "UPDATE");
        assert_eq!(with_iva[0]["data"]["id"], "A");
        assert_eq!(with_iva[0]["data"]["price"], "45.50 MXN");
        assert_eq!(with_iva[0]["data"]["availability"], "in stock");
        assert_eq!(with_iva[0]["data"]["inventory"], 7);
        assert_eq!(
            with_iva[0]["data"]["image_link"],
            "https://cdn.example/p.jpg"
        );
        assert_eq!(
            with_iva[1]["data"]["availability"], "out of stock",
            "no units anywhere"
        );
        assert_eq!(
            with_iva[2]["data"]["availability"], "out of stock",
            "inactive"
        );
        assert_eq!(with_iva[2]["data"]["inventory"], 0);
        // Prices without IVA: the customer sees the price plus IVA.
        let without = requests(&products, &available, false, "x");
        assert_eq!(without[1]["data"]["price"], "116.00 MXN");
    }
}
