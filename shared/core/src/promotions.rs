//! Promotions: what a merchant takes off a price, and the one arithmetic the chat summary, the
//! payment link, the order, refunds and the CFDI all read.
//!
//! The rules, as the merchant and the customer are told them:
//! - A line gets at most one product promotion (a product or category percentage or amount off,
//!   N×M, a volume price): the one that saves the customer most.
//! - Then at most one whole-order promotion (percentage or amount off the order), the best one,
//!   on what is left after the line discounts, spread over the lines in proportion to what each
//!   still costs (largest remainder, so the parts add up to the centavo).
//! - An `exclusive` promotion does not combine: when one applies, nothing else does. Of "the
//!   exclusive alone" and "everything else combined", the customer gets the cheaper (best price
//!   for the customer; on a tie, the combination).
//! - Free delivery is separate: it combines with everything.
//! - A promotion with a code applies only when the customer gave that code (one code per cart).
//! - Discounts are in the same terms as the shelf price (IVA included when the merchant prices
//!   so). No promotion takes a line below one centavo: SAT needs an amount to invoice, and the
//!   merchant never gives more than the promotion states.
//! - A volume price counts units of the same product. An N×M on one product counts its units; on
//!   a category or several products it counts their units together and the cheapest go free
//!   ("2×1 en vitaminas": a Vitamina C and a Complejo B, the cheaper one free), the saving spread
//!   over the lines of the deal.

use crate::money::{spread, Centavos};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// Longest promotion name (it is shown in the chat and on the CFDI's order summary).
pub const MAX_NAME: usize = 60;
/// Most products one promotion names.
pub const MAX_SKUS: usize = 200;

/// What a promotion gives.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum Benefit {
    /// A whole percentage off (1–99).
    PercentOff {
        /// 10 = 10 %.
        percent: u32,
    },
    /// An amount off: per unit for products and categories, once for a whole order.
    AmountOff {
        /// In centavos.
        amount: Centavos,
    },
    /// Take `take` units of a product, pay `pay` (2×1: take 2, pay 1).
    TakePay {
        /// Units taken.
        take: u32,
        /// Units paid.
        pay: u32,
    },
    /// From `min_qty` units of a product, each at `unit_price` ("3 o más a $33 c/u").
    Volume {
        /// Units from which the price applies.
        min_qty: u32,
        /// The price of each unit then (same terms as the shelf price).
        unit_price: Centavos,
    },
    /// Delivery free for orders of at least `from` (products after discounts).
    FreeDelivery {
        /// In centavos; 0 for every order.
        from: Centavos,
    },
}

/// What a promotion applies to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "scope", rename_all = "snake_case", deny_unknown_fields)]
pub enum Target {
    /// These products (SKUs).
    Products {
        /// The SKUs.
        skus: Vec<String>,
    },
    /// Every product of a category (as the catalog names it; case and accents ignored).
    Category {
        /// The category.
        category: String,
    },
    /// The whole order.
    Order,
}

/// How often a promotion may be used.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Limits {
    /// Orders in all that may use it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub total_uses: Option<u32>,
    /// Orders per customer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub per_customer: Option<u32>,
    /// Only for a customer's first order with the merchant.
    #[serde(default)]
    pub first_purchase_only: bool,
}

impl Limits {
    /// Whether uses must be counted at all.
    pub fn counted(&self) -> bool {
        self.total_uses.is_some() || self.per_customer.is_some()
    }
}

/// A promotion of a merchant.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Promotion {
    /// Its id ("P…").
    pub id: String,
    /// As customers read it ("2x1 en vitaminas").
    pub name: String,
    /// What it gives.
    pub benefit: Benefit,
    /// What it applies to.
    pub applies_to: Target,
    /// Branch ids where it applies; empty for every branch.
    #[serde(default)]
    pub branches: Vec<String>,
    /// From when (inclusive); `None`: already.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub starts_at: Option<DateTime<Utc>>,
    /// Until when (exclusive); `None`: until paused.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ends_at: Option<DateTime<Utc>>,
    /// The code the customer gives to get it; `None`: applies by itself.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
    /// How often it may be used.
    #[serde(default)]
    pub limits: Limits,
    /// Never combined with another promotion.
    #[serde(default)]
    pub exclusive: bool,
    /// Only for orders whose products add up to at least this much at shelf price.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_order: Option<Centavos>,
    /// Paused by the merchant.
    #[serde(default)]
    pub paused: bool,
    /// Applies only with a code issued to one customer (the abandoned-cart reminder issues them);
    /// each issued code serves one order of the customer it was issued to.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub issued_codes: bool,
    /// Only for customers of one of these groups ("mayoreo", "empleados"); empty: everyone.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub customer_groups: Vec<String>,
}

/// Most groups a customer or a promotion names.
pub const MAX_GROUPS: usize = 10;

/// A customer group's name as it is compared ("Mayoreo " and "mayoreo" are one group); `None`
/// when it is empty or longer than 40 characters.
pub fn group_key(name: &str) -> Option<String> {
    let key = crate::text::fold_text(name);
    (!key.is_empty() && name.trim().chars().count() <= 40).then_some(key)
}

/// How long an issued code lasts.
pub const ISSUED_CODE_DAYS: i64 = 7;

/// A code for one customer: `prefix` and five letters or digits that cannot be misread (no 0/O,
/// 1/I/L), from `random` (the caller's randomness keeps this pure): "VUELVE-7K2QX".
pub fn issued_code(prefix: &str, random: [u8; 5]) -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHJKMNPQRSTUVWXYZ23456789";
    let tail: String = random
        .iter()
        .map(|b| char::from(ALPHABET[usize::from(*b) % ALPHABET.len()]))
        .collect();
    format!("{prefix}-{tail}")
}

/// A code as it is stored and compared: upper case, trimmed. `None` when it is not 3–20 letters
/// A–Z, digits or hyphens (no spaces, no accents: customers type it on a phone).
pub fn normalize_code(code: &str) -> Option<String> {
    let code = code.trim().to_uppercase();
    let ok = (3..=20).contains(&code.len())
        && code.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        && code.chars().any(|c| c.is_ascii_alphabetic());
    ok.then_some(code)
}

/// Why a promotion (or its code) cannot be used by this customer now.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Unusable {
    /// Paused by the merchant.
    Paused,
    /// Not started yet.
    NotYet,
    /// Ended.
    Ended,
    /// Not at this branch.
    OtherBranch,
    /// All its uses are taken.
    UsedUp,
    /// The customer used it as often as allowed.
    AlreadyUsed,
    /// Only for a first order, and the customer has ordered before.
    FirstPurchaseOnly,
    /// Only for customers of some groups, and this one is in none of them.
    NotInGroup,
}

impl Unusable {
    /// Why, for the customer, in Spanish (after "El código X …" or "La promoción X …").
    pub fn reason(self) -> &'static str {
        match self {
            Unusable::Paused | Unusable::Ended => "ya no está vigente",
            Unusable::NotYet => "todavía no empieza",
            Unusable::OtherBranch => "no aplica en esta sucursal",
            Unusable::UsedUp => "ya se agotó",
            Unusable::AlreadyUsed => "ya lo usaste las veces que permite",
            Unusable::FirstPurchaseOnly => "es solo para tu primera compra",
            Unusable::NotInGroup => "no aplica para tu cuenta",
        }
    }
}

/// What the app knows about this customer and the promotion's uses.
#[derive(Debug, Clone, Copy)]
pub struct Facts<'a> {
    /// Now.
    pub now: DateTime<Utc>,
    /// The branch the customer orders from.
    pub branch_id: &'a str,
    /// Whether the customer has ordered from the merchant before (an order placed and not
    /// cancelled or expired unpaid).
    pub ordered_before: bool,
    /// Orders that used the promotion so far.
    pub uses: u32,
    /// Orders of this customer that used it.
    pub customer_uses: u32,
    /// The customer's groups, as the merchant named them.
    pub groups: &'a [String],
}

/// Whether the promotion can be used by this customer now.
pub fn usable(p: &Promotion, facts: &Facts<'_>) -> Result<(), Unusable> {
    if p.paused {
        return Err(Unusable::Paused);
    }
    if p.starts_at.is_some_and(|s| facts.now < s) {
        return Err(Unusable::NotYet);
    }
    if p.ends_at.is_some_and(|e| facts.now >= e) {
        return Err(Unusable::Ended);
    }
    if !p.branches.is_empty() && !p.branches.iter().any(|b| b == facts.branch_id) {
        return Err(Unusable::OtherBranch);
    }
    if p.limits.total_uses.is_some_and(|max| facts.uses >= max) {
        return Err(Unusable::UsedUp);
    }
    if p.limits
        .per_customer
        .is_some_and(|max| facts.customer_uses >= max)
    {
        return Err(Unusable::AlreadyUsed);
    }
    if p.limits.first_purchase_only && facts.ordered_before {
        return Err(Unusable::FirstPurchaseOnly);
    }
    if !p.customer_groups.is_empty()
        && !p
            .customer_groups
            .iter()
            .filter_map(|g| group_key(g))
            .any(|g| {
                facts
                    .groups
                    .iter()
                    .filter_map(|c| group_key(c))
                    .any(|c| c == g)
            })
    {
        return Err(Unusable::NotInGroup);
    }
    Ok(())
}

/// Whether the promotion is running at `now` (not paused, inside its window), whoever asks.
pub fn running(p: &Promotion, now: DateTime<Utc>) -> bool {
    !p.paused && p.starts_at.is_none_or(|s| now >= s) && p.ends_at.is_none_or(|e| now < e)
}

/// A field and why it is wrong, for the merchant (Spanish).
pub type Problem = (&'static str, String);

/// What is wrong with a promotion as written, each field with its reason; empty when fine.
/// `now` refuses windows that already ended.
pub fn problems(p: &Promotion, now: DateTime<Utc>) -> Vec<Problem> {
    let mut out: Vec<Problem> = Vec::new();
    let name = p.name.trim();
    if name.is_empty() || name.chars().count() > MAX_NAME {
        out.push((
            "name",
            format!("Escribe un nombre de 1 a {MAX_NAME} caracteres, como lo leerá el cliente."),
        ));
    }
    let line_target = !matches!(p.applies_to, Target::Order);
    match &p.benefit {
        Benefit::PercentOff { percent } => {
            if !(1..=99).contains(percent) {
                out.push((
                    "benefit.percent",
                    "El porcentaje va de 1 a 99 (un descuento de 100 % o más regala el producto)."
                        .into(),
                ));
            }
        }
        Benefit::AmountOff { amount } => {
            if amount.0 <= 0 || amount.0 > 10_000_000 {
                out.push((
                    "benefit.amount",
                    "El monto de descuento es mayor que cero y de hasta $100,000.00, en centavos."
                        .into(),
                ));
            }
        }
        Benefit::TakePay { take, pay } => {
            if !line_target {
                out.push((
                    "applies_to",
                    "Un N×M aplica a productos o a una categoría, no al pedido completo.".into(),
                ));
            }
            if !(2..=20).contains(take) || *pay == 0 || pay >= take {
                out.push((
                    "benefit.pay",
                    "En un N×M se llevan de 2 a 20 piezas y se paga al menos una y menos de las que se llevan (2×1: take 2, pay 1).".into(),
                ));
            }
        }
        Benefit::Volume {
            min_qty,
            unit_price,
        } => {
            if !line_target {
                out.push((
                    "applies_to",
                    "Un precio por volumen aplica a productos o a una categoría, no al pedido completo.".into(),
                ));
            }
            if !(2..=99).contains(min_qty) {
                out.push((
                    "benefit.min_qty",
                    "El precio por volumen empieza entre 2 y 99 piezas.".into(),
                ));
            }
            if unit_price.0 <= 0 {
                out.push((
                    "benefit.unit_price",
                    "El precio por pieza es mayor que cero, en centavos.".into(),
                ));
            }
        }
        Benefit::FreeDelivery { from } => {
            if line_target {
                out.push((
                    "applies_to",
                    "El envío gratis aplica al pedido completo (scope: order).".into(),
                ));
            }
            if from.0 < 0 {
                out.push((
                    "benefit.from",
                    "El monto mínimo no puede ser negativo.".into(),
                ));
            }
        }
    }
    match &p.applies_to {
        Target::Products { skus } => {
            if skus.is_empty() || skus.len() > MAX_SKUS {
                out.push((
                    "applies_to.skus",
                    format!("Nombra de 1 a {MAX_SKUS} productos por su SKU."),
                ));
            }
        }
        Target::Category { category } => {
            if category.trim().is_empty() {
                out.push((
                    "applies_to.category",
                    "Nombra la categoría como aparece en el catálogo.".into(),
                ));
            }
        }
        Target::Order => {}
    }
    if let (Some(s), Some(e)) = (p.starts_at, p.ends_at) {
        if e <= s {
            out.push(("ends_at", "La promoción termina después de empezar.".into()));
        }
    }
    if p.ends_at.is_some_and(|e| e <= now) {
        out.push(("ends_at", "Esa fecha de fin ya pasó.".into()));
    }
    if p.issued_codes && p.code.is_some() {
        out.push((
            "code",
            "Con códigos por cliente (issued_codes) cada cliente recibe el suyo: deja code vacío."
                .into(),
        ));
    }
    if let Some(code) = &p.code {
        if normalize_code(code).is_none() {
            out.push((
                "code",
                "El código lleva de 3 a 20 letras sin acentos, números o guiones, sin espacios (BIENVENIDA, VERANO-10).".into(),
            ));
        }
    }
    if p.limits.total_uses == Some(0) {
        out.push((
            "limits.total_uses",
            "Al menos un uso (o quita el límite).".into(),
        ));
    }
    if p.limits.per_customer == Some(0) {
        out.push((
            "limits.per_customer",
            "Al menos un uso por cliente (o quita el límite).".into(),
        ));
    }
    if p.min_order.is_some_and(|m| m.0 < 0) {
        out.push((
            "min_order",
            "El mínimo de compra no puede ser negativo.".into(),
        ));
    }
    if p.customer_groups.len() > MAX_GROUPS
        || p.customer_groups.iter().any(|g| group_key(g).is_none())
    {
        out.push((
            "customer_groups",
            format!("Hasta {MAX_GROUPS} grupos de clientes, cada uno de 1 a 40 caracteres."),
        ));
    }
    if p.branches.iter().any(|b| b.trim().is_empty()) {
        out.push(("branches", "Una sucursal sin id.".into()));
    }
    out
}

/// Whether two windows share a moment.
fn windows_meet(a: &Promotion, b: &Promotion) -> bool {
    let starts_before_other_ends = |x: &Promotion, y: &Promotion| match (x.starts_at, y.ends_at) {
        (Some(s), Some(e)) => s < e,
        _ => true,
    };
    starts_before_other_ends(a, b) && starts_before_other_ends(b, a)
}

/// Whether two promotions apply at a common branch.
fn branches_meet(a: &Promotion, b: &Promotion) -> bool {
    a.branches.is_empty()
        || b.branches.is_empty()
        || a.branches.iter().any(|x| b.branches.contains(x))
}

/// Whether two promotions are for a common customer group (or one of them for everyone).
fn groups_meet(a: &Promotion, b: &Promotion) -> bool {
    a.customer_groups.is_empty()
        || b.customer_groups.is_empty()
        || a.customer_groups
            .iter()
            .filter_map(|g| group_key(g))
            .any(|g| {
                b.customer_groups
                    .iter()
                    .filter_map(|x| group_key(x))
                    .any(|x| x == g)
            })
}

/// The same kind of benefit (percent, amount, N×M, volume, free delivery).
fn same_kind(a: &Benefit, b: &Benefit) -> bool {
    std::mem::discriminant(a) == std::mem::discriminant(b)
}

/// Whether two targets name a common product or category (or both the order).
fn targets_meet(a: &Target, b: &Target) -> bool {
    match (a, b) {
        (Target::Products { skus: x }, Target::Products { skus: y }) => {
            x.iter().any(|s| y.contains(s))
        }
        (Target::Category { category: x }, Target::Category { category: y }) => {
            crate::text::fold_text(x) == crate::text::fold_text(y)
        }
        (Target::Order, Target::Order) => true,
        _ => false,
    }
}

/// A rule that contradicts one already there (not paused, in a window that meets): the same code,
/// or the same kind of benefit on the same products, category or order, at a common branch, with
/// no code to tell them apart. The best-price rule would silently pick one; the merchant is asked
/// to end or pause the other first.
pub fn conflict(new: &Promotion, existing: &[Promotion], now: DateTime<Utc>) -> Option<Problem> {
    let live = existing.iter().filter(|e| {
        e.id != new.id && !e.paused && e.ends_at.is_none_or(|end| end > now) && windows_meet(new, e)
    });
    for other in live {
        if let (Some(a), Some(b)) = (&new.code, &other.code) {
            if normalize_code(a) == normalize_code(b) {
                return Some((
                    "code",
                    format!(
                        "El código ya lo usa la promoción «{}» en fechas que se empalman.",
                        other.name
                    ),
                ));
            }
        }
        // Promotions with codes (shared or issued) apply only to who gives one: no contradiction.
        let automatic = |p: &Promotion| p.code.is_none() && !p.issued_codes;
        if automatic(new)
            && automatic(other)
            && same_kind(&new.benefit, &other.benefit)
            && targets_meet(&new.applies_to, &other.applies_to)
            && branches_meet(new, other)
            && new.customer_groups.is_empty() == other.customer_groups.is_empty()
            && groups_meet(new, other)
        {
            return Some((
                "applies_to",
                format!(
                    "Se empalma con «{}», que da el mismo tipo de descuento a los mismos productos en las mismas fechas y sucursales: páusala o termínala antes.",
                    other.name
                ),
            ));
        }
    }
    None
}

/// A cart line as promotions read it.
#[derive(Debug, Clone, Copy)]
pub struct Item<'a> {
    /// The SKU.
    pub sku: &'a str,
    /// The product's categories.
    pub categories: &'a [String],
    /// Units.
    pub qty: u32,
    /// Shelf price of one unit.
    pub unit: Centavos,
}

impl Item<'_> {
    fn gross(&self) -> i64 {
        self.unit.0.saturating_mul(i64::from(self.qty))
    }
}

/// A promotion given to an order, as the order keeps it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Applied {
    /// The promotion's id.
    pub id: String,
    /// Its name then.
    pub name: String,
    /// The code the customer gave, when it took one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
    /// What it took off the order (shelf terms); for free delivery, the fee waived.
    pub discount: Centavos,
    /// Whether the order counted a use of the customer's (the promotion limits uses per
    /// customer); set by the app as it places the order, so ending it unpaid gives the use back.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub per_customer: bool,
    /// Whether `code` was issued to this customer (used once; given back if the order ends
    /// unpaid); set by the app as it places the order.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub issued_code: bool,
}

/// One line's discounts.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LineDiscount {
    /// The product promotion of the line and what it takes off, if any.
    pub own: Option<(String, Centavos)>,
    /// The line's part of the whole-order promotion.
    pub order_share: Centavos,
}

impl LineDiscount {
    /// All the line's discount.
    pub fn total(&self) -> Centavos {
        Centavos(self.own.as_ref().map_or(0, |(_, d)| d.0) + self.order_share.0)
    }
}

/// What promotions do to a cart.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Outcome {
    /// Per line, in the cart's order.
    pub lines: Vec<LineDiscount>,
    /// The promotions given, with what each took off, in the order they apply.
    pub applied: Vec<Applied>,
    /// The whole-order promotion, if one applied.
    pub order_promotion: Option<String>,
    /// Everything taken off.
    pub discount: Centavos,
}

/// Whether a promotion's code matches the cart's (a promotion without code always does).
fn code_matches(p: &Promotion, code: Option<&str>) -> bool {
    if p.issued_codes && p.code.is_none() {
        // Offered without the customer's own code: never applies.
        return false;
    }
    match (&p.code, code) {
        (None, _) => true,
        (Some(own), Some(given)) => {
            normalize_code(own).is_some_and(|o| Some(o) == normalize_code(given))
        }
        (Some(_), None) => false,
    }
}

fn applies_to_item(p: &Promotion, item: &Item<'_>) -> bool {
    match &p.applies_to {
        Target::Products { skus } => skus.iter().any(|s| s == item.sku),
        Target::Category { category } => {
            let wanted = crate::text::fold_text(category);
            item.categories
                .iter()
                .any(|c| crate::text::fold_text(c) == wanted)
        }
        Target::Order => false,
    }
}

/// What a product promotion takes off one line, before the one-centavo floor.
fn line_discount(p: &Promotion, item: &Item<'_>) -> i64 {
    let gross = item.gross();
    let unit = item.unit.0;
    let qty = i64::from(item.qty);
    match p.benefit {
        Benefit::PercentOff { percent } => div_round(gross.saturating_mul(i64::from(percent)), 100),
        Benefit::AmountOff { amount } => amount.0.min(unit).saturating_mul(qty),
        Benefit::TakePay { take, pay } if take > pay && take > 0 => {
            (qty / i64::from(take)) * i64::from(take - pay) * unit
        }
        Benefit::Volume {
            min_qty,
            unit_price,
        } if item.qty >= min_qty && unit_price.0 < unit => {
            (unit - unit_price.0).saturating_mul(qty)
        }
        _ => 0,
    }
    .clamp(0, (gross - 1).max(0))
}

/// The discounts of `promotions` (each usable by this customer now) on a cart, by the rules of
/// this module. `code` is the code the customer gave, if any.
pub fn apply(items: &[Item<'_>], promotions: &[&Promotion], code: Option<&str>) -> Outcome {
    let list: i64 = items.iter().map(Item::gross).sum();
    let eligible: Vec<&Promotion> = promotions
        .iter()
        .copied()
        .filter(|p| {
            code_matches(p, code)
                && !matches!(p.benefit, Benefit::FreeDelivery { .. })
                && p.min_order.is_none_or(|m| list >= m.0)
        })
        .collect();
    let together: Vec<&Promotion> = eligible.iter().copied().filter(|p| !p.exclusive).collect();
    let mut best = evaluate(items, &together);
    for alone in eligible.iter().filter(|p| p.exclusive) {
        let outcome = evaluate(items, &[alone]);
        if outcome.discount > best.discount {
            best = outcome;
        }
    }
    best
}

/// What an N×M over a category or several products takes off each line: the units of every
/// line it covers count together and the cheapest of each group of `take` go free ("2×1 en
/// vitaminas": a Vitamina C and a Complejo B, the cheaper free). `None` for other promotions.
fn pooled(p: &Promotion, items: &[Item<'_>]) -> Option<Vec<i64>> {
    let Benefit::TakePay { take, pay } = p.benefit else {
        return None;
    };
    let pools = match &p.applies_to {
        Target::Category { .. } => true,
        Target::Products { skus } => skus.len() > 1,
        Target::Order => false,
    };
    if !pools || take <= pay || take == 0 {
        return None;
    }
    // Every covered unit, cheapest first (ties: the later line first, so the customer's first
    // choice is the one paid).
    let mut units: Vec<(i64, usize)> = items
        .iter()
        .enumerate()
        .filter(|(_, item)| applies_to_item(p, item))
        .flat_map(|(i, item)| std::iter::repeat_n((item.unit.0, i), item.qty as usize))
        .collect();
    units.sort_by(|a, b| a.0.cmp(&b.0).then(b.1.cmp(&a.1)));
    let free = (units.len() / take as usize) * (take - pay) as usize;
    let worth: i64 = units.iter().take(free).map(|(unit, _)| *unit).sum();
    // Spread over the lines of the deal in proportion to what each can give (down to a centavo),
    // so no line is free outright — a CFDI concepto needs an amount — and the deal gives exactly
    // what its free units are worth.
    let room: Vec<i64> = items
        .iter()
        .map(|item| {
            if applies_to_item(p, item) {
                (item.gross() - 1).max(0)
            } else {
                0
            }
        })
        .collect();
    spread(Centavos(worth.min(room.iter().sum())), &room)
}

fn evaluate(items: &[Item<'_>], promotions: &[&Promotion]) -> Outcome {
    let mut lines: Vec<LineDiscount> = Vec::with_capacity(items.len());
    let pooled: Vec<Option<Vec<i64>>> = promotions.iter().map(|p| pooled(p, items)).collect();
    for (at, item) in items.iter().enumerate() {
        let best = promotions
            .iter()
            .zip(&pooled)
            .filter(|(p, _)| applies_to_item(p, item))
            .map(|(p, pool)| match pool {
                Some(shares) => (p, shares[at]),
                None => (p, line_discount(p, item)),
            })
            .filter(|(_, d)| *d > 0)
            // The largest saving; on a tie, the promotion listed first.
            .fold(None::<(&&Promotion, i64)>, |best, (p, d)| match best {
                Some((_, b)) if b >= d => best,
                _ => Some((p, d)),
            });
        lines.push(LineDiscount {
            own: best.map(|(p, d)| (p.id.clone(), Centavos(d))),
            order_share: Centavos::ZERO,
        });
    }
    // What each line can still give: down to one centavo.
    let room: Vec<i64> = items
        .iter()
        .zip(&lines)
        .map(|(item, l)| (item.gross() - l.total().0 - 1).max(0))
        .collect();
    let left: i64 = items
        .iter()
        .zip(&lines)
        .map(|(item, l)| item.gross() - l.total().0)
        .sum();
    let order_best = promotions
        .iter()
        .filter(|p| matches!(p.applies_to, Target::Order))
        .map(|p| {
            let d = match p.benefit {
                Benefit::PercentOff { percent } => {
                    div_round(left.saturating_mul(i64::from(percent)), 100)
                }
                Benefit::AmountOff { amount } => amount.0,
                _ => 0,
            };
            (p, d.clamp(0, room.iter().sum()))
        })
        .filter(|(_, d)| *d > 0)
        .fold(None::<(&&Promotion, i64)>, |best, (p, d)| match best {
            Some((_, b)) if b >= d => best,
            _ => Some((p, d)),
        });
    let mut order_promotion = None;
    if let Some((p, d)) = order_best {
        if let Some(shares) = spread(Centavos(d), &room) {
            for (line, share) in lines.iter_mut().zip(shares) {
                line.order_share = Centavos(share);
            }
            order_promotion = Some(p.id.clone());
        }
    }
    // What each promotion took, in the order they apply: product promotions (as listed), then
    // the whole-order one.
    let mut applied = Vec::new();
    let (order_level, line_level): (Vec<&&Promotion>, Vec<&&Promotion>) = promotions
        .iter()
        .partition(|p| order_promotion.as_deref() == Some(p.id.as_str()));
    for p in line_level.into_iter().chain(order_level) {
        let taken: i64 = if order_promotion.as_deref() == Some(p.id.as_str()) {
            lines.iter().map(|l| l.order_share.0).sum()
        } else {
            lines
                .iter()
                .filter_map(|l| l.own.as_ref())
                .filter(|(id, _)| *id == p.id)
                .map(|(_, d)| d.0)
                .sum()
        };
        if taken > 0 {
            applied.push(Applied {
                id: p.id.clone(),
                name: p.name.clone(),
                code: p.code.as_deref().and_then(normalize_code),
                discount: Centavos(taken),
                per_customer: false,
                issued_code: false,
            });
        }
    }
    let discount = Centavos(lines.iter().map(|l| l.total().0).sum());
    Outcome {
        lines,
        applied,
        order_promotion,
        discount,
    }
}

/// The free-delivery promotion this order gets, if any: `products` is what its products cost
/// after discounts.
pub fn free_delivery<'a>(
    promotions: &[&'a Promotion],
    code: Option<&str>,
    products: Centavos,
) -> Option<&'a Promotion> {
    promotions.iter().copied().find(|p| {
        code_matches(p, code)
            && matches!(p.benefit, Benefit::FreeDelivery { from } if products >= from)
    })
}

/// "10 % en Vitaminas", "2×1 en Paracetamol 500 mg", for the list of promotions the customer asks
/// for. `product_name` names a SKU.
pub fn describe(p: &Promotion, product_name: impl Fn(&str) -> Option<String>) -> String {
    let what = match &p.benefit {
        Benefit::PercentOff { percent } => format!("{percent} % de descuento"),
        Benefit::AmountOff { amount } => match p.applies_to {
            Target::Order => format!("{} de descuento", amount.display_mxn()),
            _ => format!("{} menos por pieza", amount.display_mxn()),
        },
        Benefit::TakePay { take, pay } => format!("{take}×{pay}"),
        Benefit::Volume {
            min_qty,
            unit_price,
        } => format!("{min_qty} o más a {} c/u", unit_price.display_mxn()),
        Benefit::FreeDelivery { from } if from.0 > 0 => {
            format!("envío gratis desde {}", from.display_mxn())
        }
        Benefit::FreeDelivery { .. } => "envío gratis".to_owned(),
    };
    let on = match &p.applies_to {
        Target::Order => match p.benefit {
            Benefit::FreeDelivery { .. } => String::new(),
            _ => " en tu pedido".to_owned(),
        },
        Target::Category { category } => format!(" en {category}"),
        Target::Products { skus } => {
            let names: Vec<String> = skus
                .iter()
                .take(3)
                .map(|s| product_name(s).unwrap_or_else(|| s.clone()))
                .collect();
            let more = if skus.len() > 3 { " y más" } else { "" };
            format!(" en {}{more}", names.join(", "))
        }
    };
    let min = p
        .min_order
        .filter(|m| m.0 > 0)
        .map(|m| format!(" en compras desde {}", m.display_mxn()))
        .unwrap_or_default();
    let code = p
        .code
        .as_deref()
        .map(|c| format!(" con el código {c}"))
        .unwrap_or_default();
    format!("{what}{on}{min}{code}")
}

/// Integer division rounding half up (amounts are never negative here).
fn div_round(n: i64, d: i64) -> i64 {
    (n + d / 2) / d
}

#[cfg(test)]
pub(crate) mod tests;
