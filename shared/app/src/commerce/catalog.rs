//! The merchant's catalog and each branch's stock: what the POS syncs and the chat sells.
//!
//! Stock per branch keeps `available` (sellable now) and `reserved` (held by chat orders awaiting
//! payment); both only change under conditions, so neither goes negative, and counter sales, stock
//! takes and chat reservations can race safely. A change applies to the very next chat message.

use crate::platform::error::{AppError, FieldError};
use crate::platform::tenant::TenantTable;
use futures::StreamExt;
use mostrador_core::catalog::Product;
use mostrador_core::money::Centavos;
use mostrador_core::tax::TaxTreatment;
use mostrador_store::{Condition, Item, Key, Query, StoreError, Table, Update};
use serde::{Deserialize, Serialize};

/// Largest batch one call may carry.
pub const MAX_ROWS: usize = 10_000;
/// Largest quantity of one SKU in one branch.
pub const MAX_UNITS: i64 = 1_000_000;

fn product_key(sku: &str) -> Key {
    crate::platform::schema::product(sku)
}

fn stock_key(branch: &str, sku: &str) -> Key {
    crate::platform::schema::stock(branch, sku)
}

/// A rejected row of a batch.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RowError {
    /// 1-based row number (CSV: the line after the header; JSON: the array position + 1).
    pub row: usize,
    pub sku: Option<String>,
    pub errors: Vec<FieldError>,
}

/// The answer to a batch.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BatchReport {
    pub received: usize,
    pub applied: usize,
    pub rejected: Vec<RowError>,
}

fn product_item(p: &Product) -> Result<Item, AppError> {
    let doc = serde_json::to_string(p).map_err(|e| AppError::Internal(e.into()))?;
    Ok(Item::new(&product_key(&p.sku))
        .with("doc", doc)
        .with("active", p.active))
}

fn product_from(item: &Item) -> Result<Product, AppError> {
    serde_json::from_str(item.get_s("doc").unwrap_or("{}"))
        .map_err(|e| AppError::Internal(e.into()))
}

fn problems(p: &Product) -> Vec<FieldError> {
    let mut out: Vec<FieldError> = p
        .problems()
        .into_iter()
        .map(|i| FieldError::new(i.field, i.reason))
        .collect();
    // A clave that SAT's catalog does not hold would make every invoice for the product fail.
    if !out.iter().any(|e| e.field == "clave_prod_serv") {
        if let Err(e) = mostrador_cfdi::ClaveProdServ::parse(&p.clave_prod_serv) {
            out.push(FieldError::new("clave_prod_serv", e.message));
        }
    }
    out
}

/// The valid products of a batch, each with its 1-based row, and every rejected row with its
/// reasons (a duplicate SKU, an IVA 8 % no branch may charge, any field of [`Product::problems`]).
async fn check_products(
    table: &TenantTable,
    rows: Vec<Result<Product, Vec<FieldError>>>,
) -> Result<(Vec<(usize, Product)>, Vec<RowError>), AppError> {
    if rows.len() > MAX_ROWS {
        return Err(AppError::Validation(vec![FieldError::new(
            "rows",
            format!("a lo más {MAX_ROWS} filas por llamada"),
        )]));
    }
    let mut valid = Vec::new();
    let mut rejected = Vec::new();
    let mut seen = std::collections::HashSet::new();
    // IVA 8 % only where a branch applies the border incentive.
    let branches = crate::parties::merchants::list_branches_of(table).await?;
    let border_problem = |treatment| -> Option<String> {
        if branches.iter().any(|b| b.tax_problem(treatment).is_none()) {
            return None;
        }
        match branches.first() {
            Some(b) => b.tax_problem(treatment),
            None => Some("El IVA de 8 % solo aplica en sucursales de la región fronteriza: registra primero la sucursal (con su código postal y el estímulo fronterizo) o usa IVA 16 %.".to_owned()),
        }
    };
    for (i, row) in rows.into_iter().enumerate() {
        match row {
            Ok(p) => {
                let mut errors = problems(&p);
                if let Some(why) = border_problem(p.tax) {
                    errors.push(FieldError::new("tax", why));
                }
                if !seen.insert(p.sku.clone()) {
                    errors.push(FieldError::new("sku", "el SKU se repite en este archivo"));
                }
                if errors.is_empty() {
                    valid.push((i + 1, p));
                } else {
                    rejected.push(RowError {
                        row: i + 1,
                        sku: Some(p.sku),
                        errors,
                    });
                }
            }
            Err(errors) => rejected.push(RowError {
                row: i + 1,
                sku: None,
                errors,
            }),
        }
    }
    Ok((valid, rejected))
}

/// Upserts a batch of products. All-or-nothing unless `partial`: with any invalid row and
/// `partial == false`, nothing is written and every reason is reported.
pub async fn upsert_products(
    table: &TenantTable,
    rows: Vec<Result<Product, Vec<FieldError>>>,
    partial: bool,
) -> Result<BatchReport, AppError> {
    let received = rows.len();
    let (valid, rejected) = check_products(table, rows).await?;
    if !rejected.is_empty() && !partial {
        return Ok(BatchReport {
            received,
            applied: 0,
            rejected,
        });
    }
    let items: Vec<Item> = valid
        .iter()
        .map(|(_, p)| product_item(p))
        .collect::<Result<_, _>>()?;
    let results: Vec<Result<(), StoreError>> = futures::stream::iter(items)
        .map(|item| table.put(item, None))
        .buffer_unordered(16)
        .collect()
        .await;
    for r in results {
        r?;
    }
    Ok(BatchReport {
        received,
        applied: valid.len(),
        rejected,
    })
}

/// Creates one product, refusing a SKU the catalog already has (the console's "Nuevo producto":
/// a new product never overwrites another). The same checks as a batch.
pub(crate) async fn create_product(table: &TenantTable, product: Product) -> Result<(), AppError> {
    let (valid, rejected) = check_products(table, vec![Ok(product)]).await?;
    if let Some(row) = rejected.into_iter().next() {
        return Err(AppError::Validation(row.errors));
    }
    let Some((_, product)) = valid.into_iter().next() else {
        return Err(AppError::Internal(anyhow::anyhow!(
            "a checked product went missing"
        )));
    };
    match table
        .put(product_item(&product)?, Some(Condition::NotExists))
        .await
    {
        Err(StoreError::ConditionFailed { .. }) => Err(AppError::Conflict(format!(
            "Ya hay un producto con el SKU {}; ábrelo para cambiarlo.",
            product.sku
        ))),
        other => Ok(other?),
    }
}

/// What a valid row of a product batch would do.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ProductChange {
    pub row: usize,
    pub sku: String,
    pub name: String,
    /// `create` (a new SKU), `update` (something differs) or `same` (already as written).
    pub action: &'static str,
    /// Shelf price now, in centavos (none for a new product).
    pub price_before: Option<i64>,
    pub price: i64,
}

/// A batch checked without writing anything: what each valid row would change, and every
/// rejected row with its reasons.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ProductPreview {
    pub dry_run: bool,
    pub received: usize,
    pub valid: usize,
    pub changes: Vec<ProductChange>,
    pub rejected: Vec<RowError>,
}

/// Checks a batch of products as [`upsert_products`] would and says what each row would change,
/// writing nothing.
pub(crate) async fn preview_products(
    table: &TenantTable,
    rows: Vec<Result<Product, Vec<FieldError>>>,
) -> Result<ProductPreview, AppError> {
    let received = rows.len();
    let (valid, rejected) = check_products(table, rows).await?;
    let current: std::collections::HashMap<String, Product> = all_products(table)
        .await?
        .into_iter()
        .map(|p| (p.sku.clone(), p))
        .collect();
    let changes: Vec<ProductChange> = valid
        .into_iter()
        .map(|(row, p)| {
            let before = current.get(&p.sku);
            ProductChange {
                row,
                action: match before {
                    None => "create",
                    Some(b) if *b == p => "same",
                    Some(_) => "update",
                },
                price_before: before.map(|b| b.price.0),
                price: p.price.0,
                sku: p.sku,
                name: p.name,
            }
        })
        .collect();
    Ok(ProductPreview {
        dry_run: true,
        received,
        valid: changes.len(),
        changes,
        rejected,
    })
}

/// One product.
pub async fn get_product(table: &TenantTable, sku: &str) -> Result<Option<Product>, AppError> {
    table
        .get(&product_key(sku))
        .await?
        .as_ref()
        .map(product_from)
        .transpose()
}

/// A page of products, by SKU.
pub(crate) async fn list_products(
    table: &TenantTable,
    limit: u32,
    cursor: Option<String>,
) -> Result<(Vec<Product>, Option<String>), AppError> {
    let page = table
        .query(
            Query::partition(crate::platform::schema::PRODUCTS)
                .prefix(crate::platform::schema::SKU_PREFIX)
                .limit(limit)
                .after(cursor),
        )
        .await?;
    let products = page
        .items
        .iter()
        .map(product_from)
        .collect::<Result<_, _>>()?;
    Ok((products, page.cursor))
}

/// Every product (the chat's catalog snapshot).
pub(crate) async fn all_products(table: &TenantTable) -> Result<Vec<Product>, AppError> {
    let mut out = Vec::new();
    let mut cursor = None;
    loop {
        let (mut page, next) = list_products(table, 500, cursor).await?;
        out.append(&mut page);
        match next {
            Some(c) => cursor = Some(c),
            None => return Ok(out),
        }
    }
}

/// A product row as CSV carries it: price in pesos (`45.50`), categories separated by `|`.
#[derive(Debug, Deserialize)]
struct CsvRow {
    sku: String,
    name: String,
    #[serde(default)]
    description: String,
    price: String,
    tax: String,
    clave_prod_serv: String,
    clave_unidad: String,
    #[serde(default)]
    image_url: String,
    #[serde(default)]
    categories: String,
    #[serde(default)]
    active: String,
    #[serde(default)]
    min_stock: String,
}

/// Parses a CSV catalog (header `sku,name,description,price,tax,clave_prod_serv,clave_unidad,image_url,categories,active`).
pub(crate) fn parse_csv(text: &str) -> Result<Vec<Result<Product, Vec<FieldError>>>, AppError> {
    let mut reader = csv::ReaderBuilder::new()
        .trim(csv::Trim::All)
        .from_reader(text.as_bytes());
    let headers = reader
        .headers()
        .map_err(|e| AppError::BadRequest(format!("encabezado del CSV: {e}")))?
        .clone();
    for required in [
        "sku",
        "name",
        "price",
        "tax",
        "clave_prod_serv",
        "clave_unidad",
    ] {
        if !headers.iter().any(|h| h == required) {
            return Err(AppError::Validation(vec![FieldError::new(
                "header",
                format!("falta la columna {required}"),
            )]));
        }
    }
    let mut rows = Vec::new();
    for record in reader.records() {
        let row = match record.and_then(|r| r.deserialize::<CsvRow>(Some(&headers))) {
            Err(e) => Err(vec![FieldError::new(
                "row",
                format!("no se pudo leer la fila del CSV: {e}"),
            )]),
            Ok(r) => csv_product(r),
        };
        rows.push(row);
    }
    Ok(rows)
}

fn csv_product(r: CsvRow) -> Result<Product, Vec<FieldError>> {
    let mut errors = Vec::new();
    let price = Centavos::parse_pesos(&r.price).unwrap_or_else(|| {
        errors.push(FieldError::new(
            "price",
            "el precio va en pesos con hasta 2 decimales, por ejemplo 45.50",
        ));
        Centavos::ZERO
    });
    let tax = match r.tax.to_lowercase().as_str() {
        "iva16" | "16" | "iva_16" => TaxTreatment::Iva16,
        "iva8" | "8" | "iva_8" => TaxTreatment::Iva8,
        "iva0" | "0" | "iva_0" => TaxTreatment::Iva0,
        "exempt" | "exento" => TaxTreatment::Exempt,
        _ => {
            errors.push(FieldError::new(
                "tax",
                "el IVA es iva16, iva8, iva0 o exento",
            ));
            TaxTreatment::Iva16
        }
    };
    let active = match r.active.to_lowercase().as_str() {
        "" | "true" | "1" | "si" | "sí" | "yes" => true,
        "false" | "0" | "no" => false,
        _ => {
            errors.push(FieldError::new(
                "active",
                "activo es sí o no (true o false)",
            ));
            true
        }
    };
    let min_stock = match r.min_stock.trim() {
        "" => None,
        n => match n.strip_suffix(".0").unwrap_or(n).parse::<u32>() {
            Ok(n) => Some(n),
            Err(_) => {
                errors.push(FieldError::new(
                    "min_stock",
                    "el mínimo de inventario es un número entero de piezas, 0 o más",
                ));
                None
            }
        },
    };
    if !errors.is_empty() {
        return Err(errors);
    }
    Ok(Product {
        sku: r.sku,
        name: r.name,
        description: r.description,
        price,
        tax,
        clave_prod_serv: r.clave_prod_serv,
        clave_unidad: r.clave_unidad,
        image_url: Some(r.image_url).filter(|u| !u.is_empty()),
        categories: r
            .categories
            .split('|')
            .map(str::trim)
            .filter(|c| !c.is_empty())
            .map(str::to_owned)
            .collect(),
        active,
        min_stock,
    })
}

/// A branch's stock of one SKU.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct Stock {
    /// Sellable now.
    pub available: i64,
    /// Held by chat orders awaiting payment.
    pub reserved: i64,
}

/// The stock of one SKU in a branch (zero when never set).
pub async fn get_stock(table: &dyn Table, branch: &str, sku: &str) -> Result<Stock, StoreError> {
    let item = table.get(&stock_key(branch, sku)).await?;
    Ok(Stock {
        available: item
            .as_ref()
            .and_then(|i| i.get_n("available"))
            .unwrap_or(0),
        reserved: item.as_ref().and_then(|i| i.get_n("reserved")).unwrap_or(0),
    })
}

/// Every SKU's stock in a branch.
pub(crate) async fn branch_stock(
    table: &TenantTable,
    branch: &str,
) -> Result<std::collections::HashMap<String, Stock>, AppError> {
    let mut out = std::collections::HashMap::new();
    let mut cursor = None;
    loop {
        let page = table
            .query(
                Query::partition(crate::platform::schema::stock_of_branch(branch))
                    .prefix(crate::platform::schema::SKU_PREFIX)
                    .limit(1000)
                    .after(cursor),
            )
            .await?;
        for i in &page.items {
            if let Some(sku) = i
                .get_s("sk")
                .and_then(|s| s.strip_prefix(crate::platform::schema::SKU_PREFIX))
            {
                out.insert(
                    sku.to_owned(),
                    Stock {
                        available: i.get_n("available").unwrap_or(0),
                        reserved: i.get_n("reserved").unwrap_or(0),
                    },
                );
            }
        }
        match page.cursor {
            Some(c) => cursor = Some(c),
            None => return Ok(out),
        }
    }
}

/// A stock row: an absolute count (`quantity`) or a change (`delta`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StockRow {
    pub sku: String,
    #[serde(default)]
    pub quantity: Option<i64>,
    #[serde(default)]
    pub delta: Option<i64>,
}

/// Sets counted units (after a stock take): units held by chat orders stay held, so `available`
/// becomes `quantity - reserved`; a count below what is reserved is refused for that row.
async fn set_count(
    table: &TenantTable,
    branch: &str,
    sku: &str,
    quantity: i64,
) -> Result<Result<Stock, String>, StoreError> {
    let key = stock_key(branch, sku);
    for _ in 0..8 {
        let current = get_stock(table, branch, sku).await?;
        if quantity < current.reserved {
            return Ok(Err(format!(
                "contaste {quantity} pero {} están apartadas por pedidos del chat que esperan pago",
                current.reserved
            )));
        }
        let unchanged = if current == Stock::default() {
            Condition::AttrNotExists("reserved".into())
                .or(Condition::Eq("reserved".into(), 0.into()))
        } else {
            Condition::Eq("reserved".into(), current.reserved.into())
        };
        let update = Update::new()
            .set("available", quantity - current.reserved)
            .set_if_absent("reserved", 0);
        match table.update(&key, update, Some(unchanged)).await {
            Ok(item) => {
                return Ok(Ok(Stock {
                    available: item.get_n("available").unwrap_or(0),
                    reserved: item.get_n("reserved").unwrap_or(0),
                }))
            }
            Err(StoreError::ConditionFailed { .. }) => continue,
            Err(e) => return Err(e),
        }
    }
    Err(StoreError::Unavailable("stock kept changing; retry".into()))
}

/// Applies a change (counter sales are negative); refused when it would make `available` negative.
async fn add_delta(
    table: &TenantTable,
    branch: &str,
    sku: &str,
    delta: i64,
) -> Result<Result<Stock, String>, StoreError> {
    let condition = if delta < 0 {
        Some(Condition::Ge("available".into(), -delta))
    } else {
        None
    };
    let update = Update::new()
        .add("available", delta)
        .set_if_absent("reserved", 0);
    match table
        .update(&stock_key(branch, sku), update, condition)
        .await
    {
        Ok(item) => Ok(Ok(Stock {
            available: item.get_n("available").unwrap_or(0),
            reserved: item.get_n("reserved").unwrap_or(0),
        })),
        Err(StoreError::ConditionFailed { current }) => {
            let available = current.and_then(|i| i.get_n("available")).unwrap_or(0);
            Ok(Err(format!(
                "only {available} available; cannot take {}",
                -delta
            )))
        }
        Err(e) => Err(e),
    }
}

/// Stock rows checked against the catalog: (rows received, valid rows as (row, sku, value), rows
/// with their problems). Row numbers are the given ones (a spreadsheet's data rows, a JSON array's
/// positions + 1). Reasons are in Spanish: the merchant reads them.
pub(crate) async fn check_stock(
    table: &TenantTable,
    branch: &str,
    rows: Vec<(usize, StockRow)>,
    absolute: bool,
) -> Result<(usize, Vec<(usize, String, i64)>, Vec<RowError>), AppError> {
    if rows.len() > MAX_ROWS {
        return Err(AppError::Validation(vec![FieldError::new(
            "rows",
            format!("at most {MAX_ROWS} rows per call"),
        )]));
    }
    let received = rows.len();
    let mut rejected = Vec::new();
    let mut valid = Vec::new();
    let mut seen = std::collections::HashSet::new();
    // One catalog read for the whole batch, not one per row.
    let known: std::collections::HashMap<String, TaxTreatment> = all_products(table)
        .await?
        .into_iter()
        .map(|p| (p.sku, p.tax))
        .collect();
    let branch = crate::parties::merchants::get_branch(table, branch).await?;
    for (number, row) in rows {
        let mut errors = Vec::new();
        let value = if absolute { row.quantity } else { row.delta };
        let (field, other) = if absolute {
            ("quantity", row.delta)
        } else {
            ("delta", row.quantity)
        };
        match value {
            None => errors.push(FieldError::new(field, "falta la cantidad")),
            Some(v) if absolute && !(0..=MAX_UNITS).contains(&v) => errors.push(FieldError::new(
                field,
                format!("debe ser de 0 a {MAX_UNITS} piezas"),
            )),
            Some(v) if !absolute && (v == 0 || v.abs() > MAX_UNITS) => {
                errors.push(FieldError::new(
                    field,
                    format!("un cambio distinto de cero de hasta {MAX_UNITS} piezas"),
                ))
            }
            Some(_) => {}
        }
        if other.is_some() {
            errors.push(FieldError::new(
                if absolute { "delta" } else { "quantity" },
                if absolute {
                    "use POST .../stock/adjustments for changes"
                } else {
                    "use PUT .../stock for counts"
                },
            ));
        }
        if !seen.insert(row.sku.clone()) {
            errors.push(FieldError::new("sku", "aparece dos veces en el archivo"));
        } else {
            match known.get(&row.sku) {
                None => errors.push(FieldError::new("sku", "no está en el catálogo")),
                Some(tax) => {
                    if let Some(why) = branch.as_ref().and_then(|b| b.tax_problem(*tax)) {
                        errors.push(FieldError::new("sku", why));
                    }
                }
            }
        }
        if errors.is_empty() {
            valid.push((number, row.sku, value.unwrap_or(0)));
        } else {
            rejected.push(RowError {
                row: number,
                sku: Some(row.sku),
                errors,
            });
        }
    }
    Ok((received, valid, rejected))
}

/// Applies stock rows for a branch: every row is checked first (SKU exists, numbers sane); with any
/// invalid row nothing is applied (unless `partial`). Rows that lose a race (a count below a new
/// reservation, a sale larger than what is left) are reported individually.
pub async fn apply_stock(
    table: &TenantTable,
    branch: &str,
    rows: Vec<StockRow>,
    absolute: bool,
    partial: bool,
) -> Result<BatchReport, AppError> {
    let numbered = rows
        .into_iter()
        .enumerate()
        .map(|(i, r)| (i + 1, r))
        .collect();
    apply_checked(table, branch, numbered, Vec::new(), absolute, partial).await
}

/// [`apply_stock`] for rows already numbered, with rows that failed before the check (a
/// spreadsheet's unreadable cells) reported alongside.
pub(crate) async fn apply_checked(
    table: &TenantTable,
    branch: &str,
    rows: Vec<(usize, StockRow)>,
    unreadable: Vec<RowError>,
    absolute: bool,
    partial: bool,
) -> Result<BatchReport, AppError> {
    let (received, valid, mut rejected) = check_stock(table, branch, rows, absolute).await?;
    let received = received + unreadable.len();
    rejected.extend(unreadable);
    rejected.sort_by_key(|r| r.row);
    if !rejected.is_empty() && !partial {
        return Ok(BatchReport {
            received,
            applied: 0,
            rejected,
        });
    }
    let mut applied = 0;
    let results: Vec<_> = futures::stream::iter(valid)
        .map(|(row, sku, value)| async move {
            let result = if absolute {
                set_count(table, branch, &sku, value).await
            } else {
                add_delta(table, branch, &sku, value).await
            };
            (row, sku, result)
        })
        .buffer_unordered(16)
        .collect()
        .await;
    for (row, sku, result) in results {
        match result? {
            Ok(_) => applied += 1,
            Err(reason) => rejected.push(RowError {
                row,
                sku: Some(sku),
                errors: vec![FieldError::new(
                    if absolute { "quantity" } else { "delta" },
                    reason,
                )],
            }),
        }
    }
    rejected.sort_by_key(|r| r.row);
    Ok(BatchReport {
        received,
        applied,
        rejected,
    })
}
