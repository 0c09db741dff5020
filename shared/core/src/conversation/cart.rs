//! Carts priced from the branch's catalog view: what the client says a product costs is never read.

use super::texts::{fill, plural, Texts};
use super::{CartLine, Context, Offer, PricedLine, Shortage, MAX_CART_LINES, MAX_QTY_PER_LINE};
use crate::money::Centavos;
use crate::promotions::{self, Applied, Item, LineDiscount, Promotion};
use crate::tax::{discounted_line_amounts, line_amounts};

/// Why a cart line could not be kept as asked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Problem {
    /// No product with this SKU.
    Unknown { sku: String },
    /// The product is no longer sold.
    Inactive { name: String },
    /// Nothing available.
    SoldOut { name: String, requested: u32 },
    /// Less available than asked; the cart keeps what there is.
    Short {
        name: String,
        requested: u32,
        available: u32,
    },
    /// More than a line may have; the cart keeps the maximum.
    TooMany { name: String, requested: u32 },
    /// Zero units.
    InvalidQty { name: String },
    /// More distinct products than a cart holds; the rest were dropped.
    TooManyLines,
}

/// A cart after pricing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Priced {
    /// The lines kept, priced.
    pub lines: Vec<PricedLine>,
    /// Why some lines were changed or dropped.
    pub problems: Vec<Problem>,
    /// Sum of bases.
    pub subtotal: Centavos,
    /// Sum of IVA.
    pub iva: Centavos,
    /// Sum of line totals (after discounts).
    pub total: Centavos,
    /// Each line's discounts (same order as `lines`).
    pub discounts: Vec<LineDiscount>,
    /// The promotions given, with what each took off.
    pub applied: Vec<Applied>,
    /// The whole-order promotion's id, if one applied.
    pub order_promotion: Option<String>,
}

impl Priced {
    /// The lines as they stay in the cart.
    pub fn kept(&self) -> Vec<CartLine> {
        self.lines
            .iter()
            .map(|l| CartLine {
                sku: l.sku.clone(),
                qty: l.qty,
            })
            .collect()
    }
}

/// The offer of a SKU, if the branch has it.
pub(crate) fn offer<'a>(ctx: &Context<'a>, sku: &str) -> Option<&'a Offer> {
    ctx.offers.iter().find(|o| o.product.sku == sku)
}

/// Adds up lines of the same SKU, keeping the order in which they first appear.
pub(crate) fn merge(lines: impl IntoIterator<Item = CartLine>) -> Vec<CartLine> {
    let mut out: Vec<CartLine> = Vec::new();
    for line in lines {
        match out.iter_mut().find(|l| l.sku == line.sku) {
            Some(existing) => existing.qty = existing.qty.saturating_add(line.qty),
            None => out.push(line),
        }
    }
    out
}

/// Prices a cart from the catalog and stock of the context, keeping what can be sold.
pub(crate) fn price(lines: &[CartLine], ctx: &Context<'_>) -> Priced {
    let mut priced = Priced {
        lines: Vec::new(),
        problems: Vec::new(),
        subtotal: Centavos::ZERO,
        iva: Centavos::ZERO,
        total: Centavos::ZERO,
        discounts: Vec::new(),
        applied: Vec::new(),
        order_promotion: None,
    };
    for (index, line) in merge(lines.iter().cloned()).into_iter().enumerate() {
        if index >= MAX_CART_LINES {
            priced.problems.push(Problem::TooManyLines);
            break;
        }
        let Some(offer) = offer(ctx, &line.sku) else {
            priced.problems.push(Problem::Unknown { sku: line.sku });
            continue;
        };
        let product = &offer.product;
        let name = product.name.clone();
        if !product.active {
            priced.problems.push(Problem::Inactive { name });
            continue;
        }
        if line.qty == 0 {
            priced.problems.push(Problem::InvalidQty { name });
            continue;
        }
        if offer.available == 0 {
            priced.problems.push(Problem::SoldOut {
                name,
                requested: line.qty,
            });
            continue;
        }
        let wanted = line.qty.min(MAX_QTY_PER_LINE);
        let qty = wanted.min(offer.available);
        if qty < wanted {
            priced.problems.push(Problem::Short {
                name: name.clone(),
                requested: line.qty,
                available: offer.available,
            });
        } else if line.qty > MAX_QTY_PER_LINE {
            priced.problems.push(Problem::TooMany {
                name: name.clone(),
                requested: line.qty,
            });
        }
        let sums =
            line_amounts(product.price, qty, product.tax, ctx.includes_iva).and_then(|amounts| {
                Some((
                    amounts,
                    priced.subtotal.checked_add(amounts.base)?,
                    priced.iva.checked_add(amounts.iva)?,
                    priced.total.checked_add(amounts.total)?,
                ))
            });
        let Some((amounts, subtotal, iva, total)) = sums else {
            // Only an absurd price overflows; such a line cannot be sold.
            priced.problems.push(Problem::Inactive { name });
            continue;
        };
        (priced.subtotal, priced.iva, priced.total) = (subtotal, iva, total);
        priced.lines.push(PricedLine {
            sku: line.sku,
            name,
            qty,
            unit: product.price,
            amounts,
            discount: Centavos::ZERO,
        });
    }
    discount(&mut priced, ctx);
    priced
}

/// The promotions of the context on the priced lines: each line's discount and amounts, and the
/// sums again.
fn discount(priced: &mut Priced, ctx: &Context<'_>) {
    if ctx.promotions.is_empty() || priced.lines.is_empty() {
        return;
    }
    let items: Vec<Item<'_>> = priced
        .lines
        .iter()
        .map(|l| Item {
            sku: &l.sku,
            categories: offer(ctx, &l.sku).map_or(&[], |o| o.product.categories.as_slice()),
            qty: l.qty,
            unit: l.unit,
        })
        .collect();
    let usable: Vec<&Promotion> = ctx.promotions.iter().collect();
    let outcome = promotions::apply(&items, &usable, ctx.code);
    if outcome.discount.0 == 0 {
        return;
    }
    let mut lines = priced.lines.clone();
    for (line, d) in lines.iter_mut().zip(&outcome.lines) {
        let Some(offer) = offer(ctx, &line.sku) else {
            return;
        };
        let Some(amounts) = discounted_line_amounts(
            line.unit,
            line.qty,
            offer.product.tax,
            ctx.includes_iva,
            d.total(),
        ) else {
            // Only an absurd amount fails; the cart is then priced without promotions.
            return;
        };
        line.amounts = amounts;
        line.discount = d.total();
    }
    priced.subtotal = Centavos(lines.iter().map(|l| l.amounts.base.0).sum());
    priced.iva = Centavos(lines.iter().map(|l| l.amounts.iva.0).sum());
    priced.total = Centavos(lines.iter().map(|l| l.amounts.total.0).sum());
    priced.lines = lines;
    priced.discounts = outcome.lines;
    priced.applied = outcome.applied;
    priced.order_promotion = outcome.order_promotion;
}

/// A promotion of the context by id.
pub(crate) fn promotion<'a>(ctx: &Context<'a>, id: &str) -> Option<&'a Promotion> {
    ctx.promotions.iter().find(|p| p.id == id)
}

/// The cart after the app could not reserve some lines: each short line keeps what is available.
pub(crate) fn apply_shortages(lines: &[CartLine], shortages: &[Shortage]) -> Vec<CartLine> {
    lines
        .iter()
        .filter_map(|line| {
            let qty = match shortages.iter().find(|s| s.sku == line.sku) {
                Some(s) => line.qty.min(s.available),
                None => line.qty,
            };
            (qty > 0).then(|| CartLine {
                sku: line.sku.clone(),
                qty,
            })
        })
        .collect()
}

/// One line per problem, as the customer reads them.
pub(crate) fn problem_lines(problems: &[Problem], texts: &Texts) -> Vec<String> {
    let max = MAX_QTY_PER_LINE.to_string();
    problems
        .iter()
        .map(|p| match p {
            Problem::Unknown { sku } => fill(&texts.problem_unknown, &[("sku", sku)]),
            Problem::Inactive { name } => fill(&texts.problem_inactive, &[("product", name)]),
            Problem::SoldOut { name, requested } => fill(
                &texts.problem_sold_out,
                &[("product", name), ("requested", &requested.to_string())],
            ),
            Problem::Short {
                name,
                requested,
                available,
            } => shortage_line(texts, name, *requested, *available),
            Problem::TooMany { name, requested } => fill(
                &texts.problem_too_many,
                &[
                    ("product", name),
                    ("requested", &requested.to_string()),
                    ("max", &max),
                ],
            ),
            Problem::InvalidQty { name } => fill(&texts.problem_invalid_qty, &[("product", name)]),
            Problem::TooManyLines => fill(
                &texts.problem_too_many_lines,
                &[("max", &MAX_CART_LINES.to_string())],
            ),
        })
        .collect()
}

/// "• Ibuprofeno 400 mg: pediste 5, hay 2 disponibles" (or agotado when none).
pub(crate) fn shortage_line(texts: &Texts, name: &str, requested: u32, available: u32) -> String {
    let requested = requested.to_string();
    if available == 0 {
        return fill(
            &texts.problem_sold_out,
            &[("product", name), ("requested", &requested)],
        );
    }
    let available_text = available.to_string();
    fill(
        &texts.problem_short,
        &[
            ("product", name),
            ("requested", &requested),
            ("available", &available_text),
            ("s", plural(available.into())),
        ],
    )
}

/// The summary: lines, subtotal, IVA and total. Lines show what they add to the subtotal when
/// prices exclude IVA, and what they cost when prices include it.
pub(crate) fn summary(priced: &Priced, ctx: &Context<'_>) -> String {
    let texts = ctx.texts;
    let mut out = vec![texts.cart_title.clone()];
    for (i, line) in priced.lines.iter().enumerate() {
        // Before its discount: the shelf amount (IVA included or not, as the merchant prices).
        let amount = line
            .unit
            .checked_mul(line.qty)
            .unwrap_or(line.amounts.total);
        out.push(fill(
            &texts.cart_line,
            &[
                ("qty", &line.qty.to_string()),
                ("product", &super::reply::fit(&line.name, 60)),
                ("unit", &line.unit.display_mxn()),
                ("amount", &amount.display_mxn()),
            ],
        ));
        if let Some((id, taken)) = priced.discounts.get(i).and_then(|d| d.own.as_ref()) {
            let name = promotion(ctx, id).map_or("Promoción", |p| p.name.as_str());
            out.push(fill(
                &texts.cart_line_discount,
                &[
                    ("promotion", &super::reply::fit(name, 60)),
                    ("amount", &taken.display_mxn()),
                ],
            ));
        }
    }
    if let Some(id) = &priced.order_promotion {
        let taken = Centavos(priced.discounts.iter().map(|d| d.order_share.0).sum());
        let name = promotion(ctx, id).map_or("Promoción", |p| p.name.as_str());
        out.push(fill(
            &texts.cart_order_discount,
            &[
                ("promotion", &super::reply::fit(name, 60)),
                ("amount", &taken.display_mxn()),
            ],
        ));
    }
    out.push(String::new());
    out.push(fill(
        &texts.cart_subtotal,
        &[("amount", &priced.subtotal.display_mxn())],
    ));
    out.push(fill(
        &texts.cart_iva,
        &[("amount", &priced.iva.display_mxn())],
    ));
    out.push(fill(
        &texts.cart_total,
        &[("amount", &priced.total.display_mxn())],
    ));
    let saved: i64 = priced.lines.iter().map(|l| l.discount.0).sum();
    if saved > 0 {
        out.push(fill(
            &texts.cart_savings,
            &[("amount", &Centavos(saved).display_mxn())],
        ));
    }
    out.join("\n")
}
