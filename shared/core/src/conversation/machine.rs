//! The transitions: one function per thing the customer can ask for.

use super::cart::{apply_shortages, merge, offer, price, problem_lines, shortage_line, summary};
use super::choice::Choice;
use super::reply::{
    fit, limits, list, page_window, product_list, text_messages, with_buttons, Button, Reply, Row,
    Section,
};
use super::texts::{fill, plural};
use super::understand::{
    consent, search_query, understand, Intent, Quantity, Reader, Situation, Wanted,
};
use super::{
    Action, CartLine, Context, Fulfilment, Input, Offer, OrderSummary, PricedLine, Shortage, State,
    Step, DELIVERY_SKU, MAX_QTY_PER_LINE,
};
use crate::money::Centavos;
use crate::search::ProductIndex;
use crate::tax::{line_amounts, TaxTreatment};
use crate::text::map_link;
use chrono::Duration;

/// Orders shown for "mi pedido".
const ORDERS_SHOWN: usize = 5;
/// FAQs shown in the help list (the other rows are the agent and the menu).
const FAQS_SHOWN: usize = limits::LIST_ROWS - 2;

/// The order number customers see everywhere (chat, payment page, invoice): the id's last six
/// characters, upper case.
pub fn order_number(order_id: &str) -> String {
    let chars: Vec<char> = order_id.trim().chars().collect();
    let start = chars.len().saturating_sub(6);
    chars[start..].iter().collect::<String>().to_uppercase()
}

/// Handles one input: the new state and what to do, in order. Every customer input gets a reply,
/// except while a person has the conversation ([`State::HandedOff`]) and for stickers' cousins,
/// reactions, which the app does not pass in.
pub fn step(state: &State, input: &Input, ctx: &Context<'_>) -> Step {
    if *state == State::HandedOff {
        return handed_off(input, ctx);
    }
    let settled = settle(state, ctx);
    let state = &settled;
    match input {
        Input::Text(text) => on_text(state, text, ctx),
        Input::ButtonReply { id, title } | Input::ListReply { id, title } => {
            match Choice::parse(id) {
                Some(choice) => on_choice(state, choice, ctx),
                // Not one of ours (a template's button, say): read what the customer saw.
                None => on_text(state, title, ctx),
            }
        }
        Input::CatalogOrder { items } => catalog_order(state, items, ctx),
        Input::Media => info(state, &ctx.texts.media, ctx),
        Input::Voice => offer_person(state, &ctx.texts.voice, ctx),
        Input::Image => offer_person(state, &ctx.texts.image, ctx),
        Input::Sticker => Step {
            state: state.clone(),
            actions: replies(text_messages(&ctx.texts.sticker)),
        },
        Input::Location {
            latitude,
            longitude,
            address,
        } if matches!(state, State::GivingAddress { .. }) => {
            let place = address
                .as_deref()
                .map(str::trim)
                .filter(|a| !a.is_empty())
                .map_or_else(|| ctx.texts.pin_address.clone(), str::to_owned);
            deliver_to(
                state,
                Fulfilment::Delivery {
                    address: place,
                    latitude: Some(latitude.clone()),
                    longitude: Some(longitude.clone()),
                },
                ctx,
            )
        }
        Input::Location { .. } => {
            let body = format!("{}\n{}", ctx.texts.location_received, delivery_words(ctx));
            info(state, &body, ctx)
        }
        Input::Unsupported => info(state, &ctx.texts.unsupported, ctx),
        Input::OrderCancelled {
            order_id,
            cancelled,
        } => order_cancelled(state, order_id, *cancelled, ctx),
        Input::OrderPlaced {
            order_id,
            total,
            payment_url,
            expires_in_minutes,
        } => {
            let mut step = order_placed(
                state,
                order_id,
                *total,
                payment_url,
                *expires_in_minutes,
                ctx,
            );
            // A code serves one order.
            if ctx.code.is_some() {
                step.actions.insert(0, Action::RememberCode { code: None });
            }
            step
        }
        Input::OrderRejected { shortages } => order_rejected(state, shortages, ctx),
        Input::PromotionUnavailable { name } => promotion_unavailable(state, name, ctx),
        Input::ReleasedByAgent => Step {
            state: state.clone(),
            actions: Vec::new(),
        },
    }
}

/// A person has the conversation: nothing is said; only consent changes are recorded.
fn handed_off(input: &Input, ctx: &Context<'_>) -> Step {
    let text = match input {
        Input::ReleasedByAgent => {
            return Step {
                state: State::Idle,
                actions: replies(text_messages(&ctx.texts.released)),
            };
        }
        Input::Text(text) => text,
        Input::ButtonReply { title, .. } | Input::ListReply { title, .. } => title,
        _ => {
            return Step {
                state: State::HandedOff,
                actions: Vec::new(),
            }
        }
    };
    // Consent changes act and are confirmed even while a person has the conversation.
    let actions = match consent(text) {
        Some(
            intent @ (Intent::OptOut
            | Intent::OptIn
            | Intent::MarketingOptOut
            | Intent::MarketingOptIn),
        ) => consent_step(&State::HandedOff, &intent, ctx).actions,
        _ => Vec::new(),
    };
    Step {
        state: State::HandedOff,
        actions,
    }
}

/// A state that says an order waits for payment, when the order has moved on (paid, cancelled,
/// expired), reads as the menu: nothing is owed any more.
fn settle(state: &State, ctx: &Context<'_>) -> State {
    match state {
        State::Unknown => State::Idle,
        State::AwaitingPayment { order_id, .. }
            if ctx
                .orders
                .iter()
                .any(|o| o.order_id == *order_id && o.status != "awaiting_payment") =>
        {
            State::Idle
        }
        other => other.clone(),
    }
}

fn on_text(state: &State, text: &str, ctx: &Context<'_>) -> Step {
    let built;
    let index = match ctx.index {
        Some(index) if index.len() == ctx.offers.len() => index,
        _ => {
            built = ProductIndex::build(ctx.offers.iter().map(|o| &o.product), &[]);
            &built
        }
    };
    let active = |i: usize| ctx.offers.get(i).is_some_and(|o| o.product.active);
    let codes: Vec<String> = ctx
        .promotions
        .iter()
        .filter_map(|p| {
            p.code
                .as_deref()
                .and_then(crate::promotions::normalize_code)
        })
        .chain(ctx.refused_codes.iter().map(|(c, _)| c.clone()))
        .collect();
    let reader = Reader {
        faqs: ctx.faqs,
        categories: index.categories(),
        index,
        active: &active,
        codes: &codes,
    };
    let at = Situation {
        choosing_fulfilment: matches!(state, State::ChoosingFulfilment { .. }),
        asking_quantity: matches!(state, State::ChoosingQuantity { .. }),
        has_cart: !state.cart().is_empty(),
        awaiting_payment: pending_order(state, ctx).is_some(),
    };
    let intent = understand(text, at, &reader);
    if let State::GivingAddress { .. } = state {
        // Anything but a way out of the question, a person or opt-out is the address.
        let way_out = matches!(
            intent,
            Intent::OptOut
                | Intent::OptIn
                | Intent::MarketingOptOut
                | Intent::MarketingOptIn
                | Intent::CancelOrder
                | Intent::Choose(
                    Choice::Agent
                        | Choice::Cancel
                        | Choice::Pickup
                        | Choice::Menu
                        | Choice::ViewCart
                )
        );
        if !way_out {
            return written_address(state, text, ctx);
        }
    }
    match intent {
        Intent::OptOut | Intent::OptIn | Intent::MarketingOptOut | Intent::MarketingOptIn => {
            consent_step(state, &intent, ctx)
        }
        Intent::Choose(choice) => on_choice(state, choice, ctx),
        Intent::Quantity(quantity) => on_quantity(state, quantity, ctx),
        Intent::Faq(index) => match ctx.faqs.get(index) {
            Some(faq) => info(state, &faq.answer, ctx),
            None => fallback(state, ctx),
        },
        Intent::PaymentLink => payment_link(state, ctx),
        Intent::PaymentMethods => payment_methods(state, ctx),
        Intent::PaidClaim => paid_claim(state, ctx),
        Intent::CancelOrder => cancel_order(state, ctx),
        Intent::Hours => hours(state, ctx),
        Intent::Location => location(state, ctx),
        Intent::Delivery => info(state, &delivery_words(ctx), ctx),
        Intent::Remove(named) => remove_from_cart(state, &named, text, ctx),
        Intent::SetQuantity(qty, named) => set_quantity(state, qty, &named, text, ctx),
        Intent::Thanks => info(state, &ctx.texts.thanks, ctx),
        Intent::Goodbye => Step {
            state: state.clone(),
            actions: replies(text_messages(&ctx.texts.goodbye)),
        },
        Intent::Want(wanted) => want(state, text, wanted, ctx),
        Intent::NotCarried(query) => not_carried(state, &query, ctx),
        Intent::Code(code) => give_code(state, &code, ctx),
        Intent::AskCode => info(state, &ctx.texts.code_ask, ctx),
        Intent::Promotions => promotions_running(state, ctx),
        Intent::Unknown => fallback(state, ctx),
    }
}

/// A change of consent and its confirmation: what stops, what goes on, how to resume.
fn consent_step(state: &State, intent: &Intent, ctx: &Context<'_>) -> Step {
    let t = ctx.texts;
    let (action, body, menu) = match intent {
        Intent::OptOut => {
            let body = if ctx.alerts_after_opt_out {
                format!("{}\n{}", t.opted_out, t.opted_out_alerts)
            } else {
                t.opted_out.clone()
            };
            (Action::OptOut, body, false)
        }
        Intent::MarketingOptOut => (
            Action::MarketingOptOut,
            t.opted_out_marketing.clone(),
            false,
        ),
        Intent::MarketingOptIn => (Action::MarketingOptIn, t.opted_in_marketing.clone(), false),
        _ => (Action::OptIn, t.opted_in.clone(), true),
    };
    // While a person has the conversation the confirmation comes without the menu.
    let menu = menu && !matches!(state, State::HandedOff);
    let answer = if menu {
        with_menu(&body, ctx)
    } else {
        replies(text_messages(&body))
    };
    Step {
        state: state.clone(),
        actions: [action].into_iter().chain(answer).collect(),
    }
}

fn on_choice(state: &State, choice: Choice, ctx: &Context<'_>) -> Step {
    match choice {
        Choice::Menu => menu(state, ctx),
        Choice::Catalog { page } => catalog(state, page, ctx),
        Choice::Category { page, name } => category(state, &name, page, ctx),
        Choice::Product { sku } => choose_product(state, &sku, ctx),
        Choice::Quantity { sku, qty } => add_to_cart(state, &sku, qty, ctx),
        Choice::OrderStatus => order_status(state, ctx),
        Choice::Help => help(state, ctx),
        Choice::Faq { index } => match ctx.faqs.get(index) {
            Some(faq) => info(state, &faq.answer, ctx),
            None => help(state, ctx),
        },
        Choice::Agent => hand_off(state, ctx),
        Choice::ViewCart => view_cart(state, ctx),
        Choice::Confirm => confirm(state, ctx),
        Choice::Cancel => cancel(state, ctx),
        Choice::Pickup => match state {
            State::ChoosingFulfilment { lines, total } | State::GivingAddress { lines, total } => {
                place(state, lines, *total, Fulfilment::Pickup, ctx)
            }
            _ => confirm(state, ctx),
        },
        Choice::Delivery => match state {
            State::ChoosingFulfilment { lines, total } | State::GivingAddress { lines, total }
                if ctx.delivery.is_some() =>
            {
                ask_address(lines.clone(), *total, None, ctx)
            }
            _ => confirm(state, ctx),
        },
    }
}

// ---- building blocks ----

fn replies(messages: Vec<Reply>) -> Vec<Action> {
    messages.into_iter().map(Action::Reply).collect()
}

fn menu_buttons(ctx: &Context<'_>) -> Vec<Button> {
    let t = ctx.texts;
    vec![
        Button::new(Choice::Catalog { page: 0 }.id(), &t.button_catalog),
        Button::new(Choice::OrderStatus.id(), &t.button_order_status),
        Button::new(Choice::Help.id(), &t.button_help),
    ]
}

fn cart_buttons(ctx: &Context<'_>) -> Vec<Button> {
    let t = ctx.texts;
    vec![
        Button::new(Choice::Catalog { page: 0 }.id(), &t.button_add_more),
        Button::new(Choice::Confirm.id(), &t.button_confirm),
        Button::new(Choice::Cancel.id(), &t.button_cancel),
    ]
}

/// `body` with the main menu's buttons.
fn with_menu(body: &str, ctx: &Context<'_>) -> Vec<Action> {
    replies(with_buttons(
        body,
        menu_buttons(ctx),
        &ctx.texts.choose_option,
    ))
}

/// An answer that does not move the conversation (FAQ, status, media…), with the menu; while a
/// quantity was asked, the answer and the same question again, so no question traps the customer.
fn info(state: &State, body: &str, ctx: &Context<'_>) -> Step {
    if let State::ChoosingQuantity { sku, cart } = state {
        if let Some(offer) = offer(ctx, sku).filter(|o| o.product.active && o.available > 0) {
            let mut step = ask_quantity(offer, cart.clone(), None, ctx);
            let answer = replies(text_messages(body));
            step.actions.splice(0..0, answer);
            return step;
        }
    }
    Step {
        state: state.clone(),
        actions: with_menu(body, ctx),
    }
}

/// An answer with two buttons: talk to a person, or the menu.
fn offer_person(state: &State, body: &str, ctx: &Context<'_>) -> Step {
    let t = ctx.texts;
    let buttons = vec![
        Button::new(Choice::Agent.id(), &t.button_agent),
        Button::new(Choice::Menu.id(), &t.button_menu),
    ];
    Step {
        state: state.clone(),
        actions: replies(with_buttons(body, buttons, &t.choose_option)),
    }
}

/// A text with the branch's `{store}` and `{address}` filled in.
fn store_fill(template: &str, ctx: &Context<'_>) -> String {
    let store = store_name(ctx);
    let address = if ctx.branch_address.trim().is_empty() {
        store.clone()
    } else {
        ctx.branch_address.trim().to_string()
    };
    fill(template, &[("store", &store), ("address", &address)])
}

/// The state after going back to the menu: an open cart is kept, so is a pending payment.
fn top(state: &State) -> State {
    match state {
        State::AwaitingPayment { .. } => state.clone(),
        _ => browsing(None, state.cart().to_vec()),
    }
}

fn browsing(category: Option<String>, cart: Vec<CartLine>) -> State {
    if category.is_none() && cart.is_empty() {
        State::Idle
    } else {
        State::Browsing { category, cart }
    }
}

/// "Farmacia San Juan (Centro)", or the merchant alone without a branch name.
fn store_name(ctx: &Context<'_>) -> String {
    let branch = ctx.branch_name.trim();
    if branch.is_empty() {
        ctx.merchant_name.to_string()
    } else {
        format!("{} ({branch})", ctx.merchant_name)
    }
}

/// Courtesy titles that come before a name in profile names ("Don Beto", "Lic. Ana").
const HONORIFICS: &[&str] = &[
    "don",
    "dona",
    "doña",
    "sr",
    "sra",
    "srta",
    "senor",
    "señor",
    "senora",
    "señora",
    "lic",
    "licenciado",
    "licenciada",
    "ing",
    "dr",
    "dra",
    "doctor",
    "doctora",
    "profe",
    "prof",
    "mtro",
    "mtra",
    "c",
];

/// The first word of the profile name that has letters and is not a title ("~Mariana López" →
/// "Mariana", "Don Beto" → "Beto").
fn first_name(profile: Option<&str>) -> Option<String> {
    let word = profile?
        .split_whitespace()
        .filter(|w| {
            let bare: String = w
                .chars()
                .filter(|c| c.is_alphabetic())
                .flat_map(char::to_lowercase)
                .collect();
            !HONORIFICS.contains(&bare.as_str())
        })
        .find(|w| w.chars().any(char::is_alphabetic))?;
    let word: String = word
        .chars()
        .filter(|c| c.is_alphanumeric() || *c == '-' || *c == '\'')
        .collect();
    (!word.is_empty()).then(|| fit(&word, 30))
}

/// What one unit costs the customer, IVA included.
fn unit_price(offer: &Offer, ctx: &Context<'_>) -> Centavos {
    line_amounts(offer.product.price, 1, offer.product.tax, ctx.includes_iva)
        .map_or(offer.product.price, |a| a.total)
}

// ---- menu, browsing ----

fn menu(state: &State, ctx: &Context<'_>) -> Step {
    let t = ctx.texts;
    let store = store_name(ctx);
    let common = [
        ("merchant", ctx.merchant_name),
        ("branch", ctx.branch_name),
        ("store", store.as_str()),
    ];
    let mut body = match first_name(ctx.customer_name) {
        Some(name) => fill(
            &t.greeting,
            &[&common[..], &[("customer", name.as_str())]].concat(),
        ),
        None => fill(&t.greeting_anonymous, &common),
    };
    let units: u64 = state.cart().iter().map(|l| u64::from(l.qty)).sum();
    if units > 0 {
        body.push_str("\n\n");
        body.push_str(&fill(
            &t.cart_kept,
            &[("count", &units.to_string()), ("s", plural(units))],
        ));
    }
    Step {
        state: top(state),
        actions: with_menu(&body, ctx),
    }
}

/// Active products grouped by category, in catalog order: (name, positions in `ctx.offers`).
fn categories(ctx: &Context<'_>) -> Vec<(String, Vec<usize>)> {
    let mut out: Vec<(String, Vec<usize>)> = Vec::new();
    if let Some(index) = ctx.index.filter(|i| i.len() == ctx.offers.len()) {
        for (name, members) in index.category_members() {
            let products: Vec<usize> = members
                .iter()
                .map(|&p| p as usize)
                .filter(|&p| ctx.offers.get(p).is_some_and(|o| o.product.active))
                .collect();
            if products.is_empty() {
                continue;
            }
            let name = name.unwrap_or(ctx.texts.uncategorized.as_str());
            match out.iter_mut().find(|(n, _)| n == name) {
                Some((_, existing)) => {
                    existing.extend(products);
                    existing.sort_unstable();
                    existing.dedup();
                }
                None => out.push((name.to_string(), products)),
            }
        }
        return out;
    }
    for (index, offer) in ctx
        .offers
        .iter()
        .enumerate()
        .filter(|(_, o)| o.product.active)
    {
        let mut named = false;
        let names = offer
            .product
            .categories
            .iter()
            .map(|c| c.trim())
            .filter(|c| !c.is_empty());
        for name in names.chain(std::iter::once(ctx.texts.uncategorized.as_str())) {
            if named && name == ctx.texts.uncategorized.as_str() {
                break;
            }
            named = true;
            match out.iter_mut().find(|(n, _)| n == name) {
                Some((_, products)) => products.push(index),
                None => out.push((name.to_string(), vec![index])),
            }
        }
    }
    out
}

fn catalog(state: &State, page: u32, ctx: &Context<'_>) -> Step {
    let t = ctx.texts;
    let cart = state.cart().to_vec();
    let groups = categories(ctx);
    if groups.is_empty() {
        return Step {
            state: top(state),
            actions: with_menu(&t.empty_catalog, ctx),
        };
    }
    if groups.len() == 1 {
        return category(state, &groups[0].0, page, ctx);
    }
    if let Some(reply) = ctx
        .catalog_id
        .and_then(|id| whole_catalog(id, &groups, ctx))
    {
        return Step {
            state: browsing(None, cart),
            actions: vec![Action::Reply(reply)],
        };
    }
    let window = page_window(groups.len(), page, limits::LIST_ROWS);
    let mut rows: Vec<Row> = groups[window.start..window.end]
        .iter()
        .map(|(name, products)| {
            let count = products.len() as u64;
            let description = fill(
                &t.category_row,
                &[("count", &count.to_string()), ("s", plural(count))],
            );
            Row::new(
                Choice::Category {
                    page: 0,
                    name: name.clone(),
                }
                .id(),
                name,
                &description,
            )
        })
        .collect();
    if let Some(next) = window.next_page {
        rows.push(more_row(
            Choice::Catalog { page: next },
            groups.len() - window.end,
            ctx,
        ));
    }
    let reply = list(
        &t.categories_body,
        &t.categories_button,
        vec![Section::new(&t.categories_section, rows)],
    );
    match reply {
        Some(reply) => Step {
            state: browsing(None, cart),
            actions: vec![Action::Reply(reply)],
        },
        None => Step {
            state: top(state),
            actions: with_menu(&t.empty_catalog, ctx),
        },
    }
}

fn more_row(choice: Choice, left: usize, ctx: &Context<'_>) -> Row {
    let t = ctx.texts;
    Row::new(
        choice.id(),
        &t.more_title,
        &fill(&t.more_description, &[("count", &left.to_string())]),
    )
}

/// The whole catalog in one product list, when it fits (≤30 products in stock, ≤10 categories).
fn whole_catalog(
    catalog_id: &str,
    groups: &[(String, Vec<usize>)],
    ctx: &Context<'_>,
) -> Option<Reply> {
    let mut used: Vec<usize> = Vec::new();
    let mut sections = Vec::new();
    for (name, products) in groups {
        let mut skus = Vec::new();
        for &i in products {
            if ctx.offers[i].available > 0 && !used.contains(&i) {
                used.push(i);
                skus.push(ctx.offers[i].product.sku.clone());
                if used.len() > limits::PRODUCT_ITEMS {
                    return None;
                }
            }
        }
        if !skus.is_empty() {
            sections.push((name.clone(), skus));
        }
    }
    if sections.len() > limits::SECTIONS {
        return None;
    }
    let t = ctx.texts;
    let store = store_name(ctx);
    let header = fill(
        &t.product_list_header,
        &[("merchant", ctx.merchant_name), ("store", &store)],
    );
    product_list(
        catalog_id,
        &header,
        &fill(&t.product_list_body, &[("category", "")]),
        sections,
    )
}

fn category(state: &State, name: &str, page: u32, ctx: &Context<'_>) -> Step {
    let t = ctx.texts;
    let cart = state.cart().to_vec();
    let groups = categories(ctx);
    let Some((name, products)) = groups.iter().find(|(n, _)| n == name) else {
        let mut step = catalog(state, 0, ctx);
        step.actions
            .insert(0, Action::Reply(Reply::Text(t.category_gone.clone())));
        return step;
    };
    let state_after = browsing(Some(name.clone()), cart);
    if let Some(catalog_id) = ctx.catalog_id {
        let in_stock: Vec<String> = products
            .iter()
            .filter(|&&i| ctx.offers[i].available > 0)
            .map(|&i| ctx.offers[i].product.sku.clone())
            .collect();
        let per_page = limits::PRODUCT_ITEMS;
        let page = if (page as usize).saturating_mul(per_page) >= in_stock.len() {
            0
        } else {
            page as usize
        };
        let start = page * per_page;
        let end = (start + per_page).min(in_stock.len());
        let body = fill(&t.product_list_body, &[("category", name)]);
        if let Some(reply) = product_list(
            catalog_id,
            name,
            &body,
            vec![(name.clone(), in_stock[start..end].to_vec())],
        ) {
            let mut actions = vec![Action::Reply(reply)];
            if end < in_stock.len() {
                let next = Choice::Category {
                    page: u32::try_from(page + 1).unwrap_or(0),
                    name: name.clone(),
                };
                let buttons = vec![
                    Button::new(next.id(), &t.more_title),
                    Button::new(Choice::Catalog { page: 0 }.id(), &t.button_catalog),
                ];
                actions.extend(replies(with_buttons(
                    &fill(&t.more_products_body, &[("category", name)]),
                    buttons,
                    &t.choose_option,
                )));
            }
            return Step {
                state: state_after,
                actions,
            };
        }
        // Everything sold out: the plain list below says so product by product.
    }
    let window = page_window(products.len(), page, limits::LIST_ROWS);
    let mut rows: Vec<Row> = products[window.start..window.end]
        .iter()
        .map(|&i| product_row(&ctx.offers[i], ctx))
        .collect();
    if let Some(next) = window.next_page {
        rows.push(more_row(
            Choice::Category {
                page: next,
                name: name.clone(),
            },
            products.len() - window.end,
            ctx,
        ));
    }
    let body = fill(&t.products_body, &[("category", name)]);
    match list(&body, &t.products_button, vec![Section::new(name, rows)]) {
        Some(reply) => Step {
            state: state_after,
            actions: vec![Action::Reply(reply)],
        },
        None => Step {
            state: top(state),
            actions: with_menu(&t.empty_catalog, ctx),
        },
    }
}

/// "Paracetamol 500… — $45.50" with the availability (and the full name when it was cut) below.
fn product_row(offer: &Offer, ctx: &Context<'_>) -> Row {
    let t = ctx.texts;
    let product = &offer.product;
    let suffix = format!(" — {}", unit_price(offer, ctx).display_mxn());
    let room = limits::ROW_TITLE
        .saturating_sub(suffix.chars().count())
        .max(1);
    let short_name = fit(&product.name, room);
    let availability = if offer.available == 0 {
        t.sold_out.clone()
    } else {
        fill(
            &t.in_stock,
            &[
                ("available", &offer.available.to_string()),
                ("s", plural(offer.available.into())),
            ],
        )
    };
    let detail = if short_name != product.name.trim() {
        product.name.trim()
    } else {
        product.description.trim()
    };
    let description = if detail.is_empty() {
        availability
    } else {
        format!("{availability} · {detail}")
    };
    Row::new(
        Choice::Product {
            sku: product.sku.clone(),
        }
        .id(),
        &format!("{short_name}{suffix}"),
        &description,
    )
}

fn search_results(state: &State, text: &str, found: &[usize], ctx: &Context<'_>) -> Step {
    let t = ctx.texts;
    let cart = state.cart().to_vec();
    if let [only] = found {
        let offer = &ctx.offers[*only];
        if offer.available > 0 {
            return ask_quantity(offer, cart, None, ctx);
        }
    }
    let rows: Vec<Row> = found
        .iter()
        .take(limits::LIST_ROWS)
        .map(|&i| product_row(&ctx.offers[i], ctx))
        .collect();
    let body = fill(
        &t.search_results,
        &[
            ("query", &search_query(text)),
            ("count", &found.len().to_string()),
        ],
    );
    match list(
        &body,
        &t.products_button,
        vec![Section::new(&t.search_section, rows)],
    ) {
        Some(reply) => Step {
            state: browsing(None, cart),
            actions: vec![Action::Reply(reply)],
        },
        None => fallback(state, ctx),
    }
}

// ---- quantities and the cart ----

fn choose_product(state: &State, sku: &str, ctx: &Context<'_>) -> Step {
    let t = ctx.texts;
    match offer(ctx, sku) {
        Some(offer) if offer.product.active && offer.available > 0 => {
            ask_quantity(offer, state.cart().to_vec(), None, ctx)
        }
        Some(offer) if offer.product.active => {
            let body = fill(
                &t.product_sold_out,
                &[("product", offer.product.name.trim())],
            );
            Step {
                state: top(state),
                actions: with_menu(&body, ctx),
            }
        }
        _ => Step {
            state: top(state),
            actions: with_menu(&t.product_unavailable, ctx),
        },
    }
}

/// Asks how many units, with buttons 1-3 (fewer when fewer are available) and free text.
fn ask_quantity(
    offer: &Offer,
    cart: Vec<CartLine>,
    before: Option<String>,
    ctx: &Context<'_>,
) -> Step {
    let t = ctx.texts;
    let product = &offer.product;
    let max = offer.available.min(MAX_QTY_PER_LINE);
    let question = fill(
        &t.ask_quantity,
        &[
            ("product", &fit(&product.name, 60)),
            ("price", &unit_price(offer, ctx).display_mxn()),
            ("max", &max.to_string()),
        ],
    );
    let body = match before {
        Some(before) => format!("{before}\n{question}"),
        None => question,
    };
    let buttons = (1..=max.min(3))
        .map(|qty| {
            Button::new(
                Choice::Quantity {
                    sku: product.sku.clone(),
                    qty,
                }
                .id(),
                &qty.to_string(),
            )
        })
        .collect();
    Step {
        state: State::ChoosingQuantity {
            sku: product.sku.clone(),
            cart,
        },
        actions: replies(with_buttons(&body, buttons, &t.choose_option)),
    }
}

fn on_quantity(state: &State, quantity: Quantity, ctx: &Context<'_>) -> Step {
    let State::ChoosingQuantity { sku, cart } = state else {
        return fallback(state, ctx);
    };
    match quantity {
        Quantity::Valid(qty) => add_to_cart(state, sku, qty, ctx),
        Quantity::OutOfRange => match offer(ctx, sku) {
            Some(offer) if offer.product.active && offer.available > 0 => {
                let max = offer.available.min(MAX_QTY_PER_LINE).to_string();
                let why = fill(&ctx.texts.quantity_invalid, &[("max", &max)]);
                ask_quantity(offer, cart.clone(), Some(why), ctx)
            }
            _ => choose_product(state, sku, ctx),
        },
    }
}

fn add_to_cart(state: &State, sku: &str, qty: u32, ctx: &Context<'_>) -> Step {
    let mut lines = state.cart().to_vec();
    lines.push(CartLine {
        sku: sku.to_string(),
        qty,
    });
    show_cart(state, merge(lines), Vec::new(), ctx)
}

/// Prices the cart, explains what changed line by line and shows the summary with
/// Agregar más / Confirmar / Cancelar. `notes` go first.
/// When nothing can be kept, the customer goes back to the menu (a pending payment stays).
fn show_cart(state: &State, lines: Vec<CartLine>, notes: Vec<String>, ctx: &Context<'_>) -> Step {
    let t = ctx.texts;
    let priced = price(&lines, ctx);
    let mut body = notes;
    if !priced.problems.is_empty() {
        body.push(t.cart_adjusted.clone());
        body.extend(problem_lines(&priced.problems, t));
        body.push(String::new());
    }
    if priced.lines.is_empty() {
        body.push(t.cart_emptied.clone());
        let state = match state {
            State::AwaitingPayment { .. } => state.clone(),
            _ => State::Idle,
        };
        return Step {
            state,
            actions: with_menu(body.join("\n").trim(), ctx),
        };
    }
    body.push(summary(&priced, ctx));
    body.push(String::new());
    body.push(t.cart_question.clone());
    let actions = replies(with_buttons(
        body.join("\n").trim(),
        cart_buttons(ctx),
        &t.cart_question,
    ));
    Step {
        state: State::Cart {
            lines: priced.kept(),
            total: priced.total,
        },
        actions,
    }
}

fn view_cart(state: &State, ctx: &Context<'_>) -> Step {
    let cart = state.cart();
    if cart.is_empty() {
        return info(state, &ctx.texts.cart_empty, ctx);
    }
    show_cart(state, cart.to_vec(), Vec::new(), ctx)
}

fn catalog_order(state: &State, items: &[(String, u32)], ctx: &Context<'_>) -> Step {
    let t = ctx.texts;
    if items.is_empty() {
        return info(state, &t.cart_empty, ctx);
    }
    // WhatsApp empties its cart once sent: a second order adds to what the customer has here.
    let lines = merge(
        state
            .cart()
            .iter()
            .cloned()
            .chain(items.iter().map(|(sku, qty)| CartLine {
                sku: sku.clone(),
                qty: *qty,
            })),
    );
    let notes = if state.cart().is_empty() {
        Vec::new()
    } else {
        vec![t.cart_replaced.clone(), String::new()]
    };
    show_cart(state, lines, notes, ctx)
}

/// Places the order shown in the summary, re-priced now; anything different shows the summary again.
/// A branch that delivers first asks: pickup or delivery.
fn confirm(state: &State, ctx: &Context<'_>) -> Step {
    match state {
        State::Cart { lines, total } => {
            if ctx.delivery.is_some() {
                let priced = price(lines, ctx);
                if priced.lines.is_empty() || !priced.problems.is_empty() || priced.total != *total
                {
                    return place(state, lines, *total, Fulfilment::Pickup, ctx);
                }
                return ask_fulfilment(priced.kept(), priced.total, ctx);
            }
            place(state, lines, *total, Fulfilment::Pickup, ctx)
        }
        State::ChoosingFulfilment { lines, total } => ask_fulfilment(lines.clone(), *total, ctx),
        State::GivingAddress { lines, total } => ask_address(lines.clone(), *total, None, ctx),
        State::AwaitingPayment { .. } => payment_link(state, ctx),
        // A cart whose current summary was not shown (or a confirmation that never came back).
        _ if !state.cart().is_empty() => show_cart(state, state.cart().to_vec(), Vec::new(), ctx),
        _ => info(state, &ctx.texts.cart_empty, ctx),
    }
}

/// Re-prices the lines and places the order (with the delivery fee's line when it applies); any
/// change since the summary shows the summary again.
fn place(
    state: &State,
    lines: &[CartLine],
    seen: Centavos,
    fulfilment: Fulfilment,
    ctx: &Context<'_>,
) -> Step {
    let priced = price(lines, ctx);
    if priced.lines.is_empty() || !priced.problems.is_empty() {
        return show_cart(state, lines.to_vec(), Vec::new(), ctx);
    }
    if priced.total != seen {
        return show_cart(
            state,
            lines.to_vec(),
            vec![ctx.texts.prices_changed.clone(), String::new()],
            ctx,
        );
    }
    let mut total = priced.total;
    let mut priced_lines = priced.lines.clone();
    let mut applied = priced.applied.clone();
    if matches!(fulfilment, Fulfilment::Delivery { .. }) {
        if let Some(fee) = delivery_line(priced.total, ctx) {
            total = Centavos(total.0 + fee.amounts.total.0);
            priced_lines.push(fee);
        } else if let (Some(offer), Some(promotion)) =
            (ctx.delivery, free_delivery_promotion(priced.total, ctx))
        {
            if offer.fee.0 > 0 && offer.free_from.is_none_or(|f| priced.total.0 < f.0) {
                applied.push(crate::promotions::Applied {
                    id: promotion.id.clone(),
                    name: promotion.name.clone(),
                    code: promotion
                        .code
                        .as_deref()
                        .and_then(crate::promotions::normalize_code),
                    discount: offer.fee,
                    per_customer: false,
                    issued_code: false,
                });
            }
        }
    }
    Step {
        state: State::Confirming {
            lines: priced.kept(),
            fulfilment: fulfilment.clone(),
        },
        actions: vec![Action::PlaceOrder {
            total,
            lines: priced_lines,
            fulfilment,
            promotions: applied,
        }],
    }
}

/// The free-delivery promotion this order gets (products after discounts), if any.
fn free_delivery_promotion<'a>(
    products: Centavos,
    ctx: &Context<'a>,
) -> Option<&'a crate::promotions::Promotion> {
    let usable: Vec<&crate::promotions::Promotion> = ctx.promotions.iter().collect();
    crate::promotions::free_delivery(&usable, ctx.code, products)
}

/// The delivery fee as an order line, unless delivery is free for this order.
fn delivery_line(products: Centavos, ctx: &Context<'_>) -> Option<PricedLine> {
    let offer = ctx.delivery?;
    if offer.fee.0 <= 0
        || offer.free_from.is_some_and(|f| products.0 >= f.0)
        || free_delivery_promotion(products, ctx).is_some()
    {
        return None;
    }
    let amounts = line_amounts(offer.fee, 1, TaxTreatment::Iva16, ctx.includes_iva)?;
    Some(PricedLine {
        sku: DELIVERY_SKU.to_owned(),
        name: ctx.texts.delivery_line.clone(),
        qty: 1,
        unit: offer.fee,
        amounts,
        discount: Centavos::ZERO,
    })
}

/// What delivery costs this order, in words ("$40.00", "gratis").
fn fee_words(products: Centavos, ctx: &Context<'_>) -> String {
    match delivery_line(products, ctx) {
        Some(line) => line.amounts.total.display_mxn(),
        None => ctx.texts.free.clone(),
    }
}

fn ask_fulfilment(lines: Vec<CartLine>, total: Centavos, ctx: &Context<'_>) -> Step {
    let t = ctx.texts;
    let offer = ctx.delivery;
    let store = store_name(ctx);
    let body = fill(
        &t.ask_fulfilment,
        &[
            ("store", &store),
            ("fee", &fee_words(total, ctx)),
            ("zone", &aside(offer.map_or("", |o| o.zone.trim()))),
            ("eta", &aside(offer.map_or("", |o| o.eta.trim()))),
        ],
    );
    let buttons = vec![
        Button::new(Choice::Pickup.id(), &t.button_pickup),
        Button::new(Choice::Delivery.id(), &t.button_delivery),
    ];
    Step {
        state: State::ChoosingFulfilment { lines, total },
        actions: replies(with_buttons(body.trim(), buttons, &t.choose_option)),
    }
}

fn ask_address(
    lines: Vec<CartLine>,
    total: Centavos,
    before: Option<String>,
    ctx: &Context<'_>,
) -> Step {
    let t = ctx.texts;
    let question = fill(&t.ask_address, &[("fee", &fee_words(total, ctx))]);
    let body = match before {
        Some(before) => format!("{before}\n{question}"),
        None => question,
    };
    let buttons = vec![Button::new(Choice::Pickup.id(), &t.button_pickup)];
    Step {
        state: State::GivingAddress { lines, total },
        actions: replies(with_buttons(&body, buttons, &t.choose_option)),
    }
}

/// How this branch delivers, in words: its offer (fee, zone, arrival time), or pickup only.
fn delivery_words(ctx: &Context<'_>) -> String {
    match ctx.delivery {
        Some(offer) => fill(
            &ctx.texts.delivery_offer,
            &[
                ("fee", &fee_words(Centavos(0), ctx)),
                ("zone", &aside(offer.zone.trim())),
                ("eta", &aside(offer.eta.trim())),
                (
                    "free_from",
                    &offer
                        .free_from
                        .map(|f| fill(&ctx.texts.free_from, &[("amount", &f.display_mxn())]))
                        .unwrap_or_default(),
                ),
            ],
        ),
        None => store_fill(&ctx.texts.delivery, ctx),
    }
}

/// " · text" for an optional part of a sentence, or nothing.
fn aside(text: &str) -> String {
    if text.is_empty() {
        String::new()
    } else {
        format!(" · {text}")
    }
}

/// The first five-digit number of an address: its postal code.
fn postal_code(address: &str) -> Option<String> {
    address
        .split(|c: char| !c.is_ascii_digit())
        .find(|part| part.len() == 5)
        .map(str::to_owned)
}

/// An address written in the chat: checked against the branch's delivery area, then the order.
fn written_address(state: &State, text: &str, ctx: &Context<'_>) -> Step {
    let State::GivingAddress { lines, total } = state else {
        return fallback(state, ctx);
    };
    let t = ctx.texts;
    let address = text.trim();
    let looks_like_one =
        address.chars().count() >= 8 && address.chars().any(|c| c.is_ascii_digit());
    if !looks_like_one {
        return ask_address(lines.clone(), *total, Some(t.address_unclear.clone()), ctx);
    }
    if let Some(offer) = ctx.delivery.filter(|o| !o.postal_codes.is_empty()) {
        match postal_code(address) {
            None => {
                return ask_address(lines.clone(), *total, Some(t.ask_postal_code.clone()), ctx)
            }
            Some(cp) if !offer.postal_codes.iter().any(|c| c.trim() == cp) => {
                let body = fill(
                    &t.no_delivery_there,
                    &[
                        ("cp", &cp),
                        ("zone", offer.zone.trim()),
                        ("store", &store_name(ctx)),
                    ],
                );
                return ask_address(lines.clone(), *total, Some(body), ctx);
            }
            Some(_) => {}
        }
    }
    deliver_to(
        state,
        Fulfilment::Delivery {
            address: crate::conversation::reply::fit(address, 300),
            latitude: None,
            longitude: None,
        },
        ctx,
    )
}

fn deliver_to(state: &State, fulfilment: Fulfilment, ctx: &Context<'_>) -> Step {
    match state {
        State::GivingAddress { lines, total } => place(state, lines, *total, fulfilment, ctx),
        _ => fallback(state, ctx),
    }
}

fn cancel(state: &State, ctx: &Context<'_>) -> Step {
    if state.cart().is_empty() {
        // Also drops a pending quantity question.
        return Step {
            state: top(state),
            actions: with_menu(&ctx.texts.nothing_to_cancel, ctx),
        };
    }
    let actions = [Action::CancelDraft]
        .into_iter()
        .chain(with_menu(&ctx.texts.cart_cancelled, ctx))
        .collect();
    Step {
        state: State::Idle,
        actions,
    }
}

// ---- orders and payment ----

fn order_placed(
    state: &State,
    order_id: &str,
    total: Centavos,
    payment_url: &str,
    minutes: u32,
    ctx: &Context<'_>,
) -> Step {
    let body = fill(
        &ctx.texts.order_placed,
        &[
            ("order_id", &order_number(order_id)),
            ("total", &total.display_mxn()),
            ("payment_url", payment_url),
            ("minutes", &minutes.to_string()),
            ("s", plural(minutes.into())),
        ],
    );
    // Where the order goes, once the customer chose (branches that deliver).
    let note = match state {
        State::Confirming {
            fulfilment: Fulfilment::Delivery { address, .. },
            ..
        } => Some(fill(
            &ctx.texts.delivery_note,
            &[
                ("address", address),
                ("eta", &aside(ctx.delivery.map_or("", |o| o.eta.trim()))),
            ],
        )),
        State::Confirming { .. } if ctx.delivery.is_some() => {
            Some(store_fill(&ctx.texts.pickup_note, ctx))
        }
        _ => None,
    };
    let body = match note {
        Some(note) => format!("{body}\n{}", note.trim()),
        None => body,
    };
    let state = State::AwaitingPayment {
        order_id: order_id.to_string(),
        payment_url: payment_url.to_string(),
        expires_at: ctx.now + Duration::minutes(i64::from(minutes)),
    };
    Step {
        state,
        actions: replies(text_messages(&body)),
    }
}

/// A promotion of the order ran out at the last moment: the cart again, priced without it (the
/// app no longer offers it).
fn promotion_unavailable(state: &State, name: &str, ctx: &Context<'_>) -> Step {
    let note = fill(&ctx.texts.promotion_unavailable, &[("promotion", name)]);
    let lines = state.cart();
    if lines.is_empty() {
        return info(state, &note, ctx);
    }
    show_cart(state, lines.to_vec(), vec![note, String::new()], ctx)
}

/// A code given: kept for the next order when a promotion takes it, with the cart again when
/// there is one; otherwise why not.
fn give_code(state: &State, code: &str, ctx: &Context<'_>) -> Step {
    let t = ctx.texts;
    let found = ctx.promotions.iter().find(|p| {
        p.code
            .as_deref()
            .and_then(crate::promotions::normalize_code)
            .as_deref()
            == Some(code)
    });
    let Some(promotion) = found else {
        let body = match ctx.refused_codes.iter().find(|(c, _)| c == code) {
            Some((_, why)) => fill(&t.code_refused, &[("code", code), ("reason", why.reason())]),
            None => fill(&t.code_unknown, &[("code", code)]),
        };
        return info(state, &body, ctx);
    };
    // What it gives, without repeating the code the customer just wrote.
    let uncoded = crate::promotions::Promotion {
        code: None,
        ..promotion.clone()
    };
    let what = crate::promotions::describe(&uncoded, |sku| {
        offer(ctx, sku).map(|o| o.product.name.clone())
    });
    let applied = fill(&t.code_applied, &[("code", code), ("promotion", &what)]);
    let with_code = Context {
        code: Some(code),
        ..*ctx
    };
    let remember = Action::RememberCode {
        code: Some(code.to_owned()),
    };
    let cart = state.cart();
    let mut step = if cart.is_empty() || matches!(state, State::Confirming { .. }) {
        info(state, &format!("{applied}\n{}", t.code_waits), &with_code)
    } else {
        show_cart(
            state,
            cart.to_vec(),
            vec![applied, String::new()],
            &with_code,
        )
    };
    step.actions.insert(0, remember);
    step
}

/// The promotions running that apply by themselves (codes are the merchant's to hand out).
fn promotions_running(state: &State, ctx: &Context<'_>) -> Step {
    let t = ctx.texts;
    let open: Vec<String> = ctx
        .promotions
        .iter()
        .filter(|p| p.code.is_none())
        .take(10)
        .map(|p| {
            let what = crate::promotions::describe(p, |sku| {
                offer(ctx, sku).map(|o| o.product.name.clone())
            });
            format!("• *{}*: {what}", fit(&p.name, 60))
        })
        .collect();
    if open.is_empty() {
        return info(state, &t.promotions_none, ctx);
    }
    let body = format!("{}\n{}", t.promotions_list, open.join("\n"));
    info(state, &body, ctx)
}

fn order_rejected(state: &State, shortages: &[Shortage], ctx: &Context<'_>) -> Step {
    let t = ctx.texts;
    let mut notes = vec![t.order_rejected.clone()];
    notes.extend(
        shortages
            .iter()
            .map(|s| shortage_line(t, &s.name, s.requested, s.available)),
    );
    notes.push(String::new());
    let lines = state.cart();
    if lines.is_empty() {
        return info(state, notes.join("\n").trim(), ctx);
    }
    show_cart(state, apply_shortages(lines, shortages), notes, ctx)
}

/// Minutes left until `expires_at`, rounded up; `None` when it passed.
fn minutes_left(state: &State, ctx: &Context<'_>) -> Option<i64> {
    let State::AwaitingPayment { expires_at, .. } = state else {
        return None;
    };
    let seconds = (*expires_at - ctx.now).num_seconds();
    (seconds > 0).then(|| (seconds + 59) / 60)
}

fn payment_link_text(state: &State, ctx: &Context<'_>) -> Option<String> {
    let State::AwaitingPayment {
        order_id,
        payment_url,
        ..
    } = state
    else {
        return None;
    };
    pending_order(state, ctx)?;
    let minutes = minutes_left(state, ctx)?;
    Some(fill(
        &ctx.texts.payment_link,
        &[
            ("order_id", &order_number(order_id)),
            ("payment_url", payment_url),
            ("minutes", &minutes.to_string()),
            ("s", plural(minutes.unsigned_abs())),
        ],
    ))
}

/// How to pay; with an order waiting for its payment, its link too ("¿dónde pago?", "¿aceptan
/// OXXO?" right after confirming).
fn payment_methods(state: &State, ctx: &Context<'_>) -> Step {
    match payment_link_text(state, ctx) {
        Some(link) => Step {
            state: state.clone(),
            actions: replies(text_messages(&format!(
                "{}\n\n{link}",
                ctx.texts.payment_methods
            ))),
        },
        None => info(state, &ctx.texts.payment_methods, ctx),
    }
}

fn payment_link(state: &State, ctx: &Context<'_>) -> Step {
    if let Some(text) = payment_link_text(state, ctx) {
        return Step {
            state: state.clone(),
            actions: replies(text_messages(&text)),
        };
    }
    match state {
        State::AwaitingPayment { order_id, .. } => {
            let body = fill(
                &ctx.texts.payment_expired,
                &[("order_id", &order_number(order_id))],
            );
            Step {
                state: State::Idle,
                actions: with_menu(&body, ctx),
            }
        }
        // The state moved on (a new cart) while an order still waits: its status says so.
        _ if ctx.orders.iter().any(|o| o.status == "awaiting_payment") => order_status(state, ctx),
        _ => info(state, &ctx.texts.no_pending_payment, ctx),
    }
}

fn order_status(state: &State, ctx: &Context<'_>) -> Step {
    let t = ctx.texts;
    if ctx.orders.is_empty() {
        // The order just placed may not be listed yet; its link is.
        let body = payment_link_text(state, ctx).unwrap_or_else(|| t.no_orders.clone());
        return info(state, &body, ctx);
    }
    let mut orders: Vec<&OrderSummary> = ctx.orders.iter().collect();
    orders.sort_by_key(|o| std::cmp::Reverse(o.created_at));
    let mut body = Vec::new();
    if let Some(latest) = orders.first() {
        let mut detail = t.status_detail(&latest.status);
        if latest.status == "ready_for_pickup" && !ctx.branch_address.trim().is_empty() {
            detail = format!("{detail} 📍 {}", ctx.branch_address.trim());
        }
        body.push(fill(
            &t.order_latest,
            &[
                ("order_id", &order_number(&latest.order_id)),
                ("detail", &detail),
            ],
        ));
    }
    if orders.len() > 1 {
        body.push(String::new());
        body.push(t.orders_title.clone());
        for order in orders.iter().take(ORDERS_SHOWN) {
            let date = order
                .created_at
                .with_timezone(&ctx.timezone)
                .format("%d/%m/%Y %H:%M")
                .to_string();
            body.push(fill(
                &t.order_line,
                &[
                    ("order_id", &order_number(&order.order_id)),
                    ("date", &date),
                    ("total", &order.total.display_mxn()),
                    ("status", &t.status_label(&order.status)),
                ],
            ));
        }
    }
    if let Some(link) = payment_link_text(state, ctx) {
        body.push(String::new());
        body.push(link);
    }
    info(state, &body.join("\n"), ctx)
}

/// The order that waits for the customer's payment: the one this conversation placed, unless it
/// is listed with another status, or else the newest listed order waiting for payment.
fn pending_order(state: &State, ctx: &Context<'_>) -> Option<String> {
    if let State::AwaitingPayment { order_id, .. } = state {
        let listed = ctx.orders.iter().find(|o| o.order_id == *order_id);
        if listed.is_none_or(|o| o.status == "awaiting_payment") {
            return Some(order_id.clone());
        }
    }
    ctx.orders
        .iter()
        .filter(|o| o.status == "awaiting_payment")
        .max_by_key(|o| o.created_at)
        .map(|o| o.order_id.clone())
}

/// "ya pagué": what we know of the payment of the newest order.
fn paid_claim(state: &State, ctx: &Context<'_>) -> Step {
    let t = ctx.texts;
    let latest = ctx.orders.iter().max_by_key(|o| o.created_at);
    let Some(order) = latest else {
        if let Some(link) = payment_link_text(state, ctx) {
            return info(state, &link, ctx);
        }
        return info(state, &t.no_pending_payment, ctx);
    };
    let number = order_number(&order.order_id);
    let status = t.status_label(&order.status).to_lowercase();
    match order.status.as_str() {
        "awaiting_payment" => {
            let mut body = fill(
                &t.paid_not_seen,
                &[("order_id", &number), ("total", &order.total.display_mxn())],
            );
            if let Some(link) = payment_link_text(state, ctx) {
                body.push_str("\n\n");
                body.push_str(&link);
            }
            offer_person(state, &body, ctx)
        }
        "cancelled" | "expired" | "refunded" => {
            let body = fill(
                &t.paid_closed,
                &[("order_id", &number), ("status", &status)],
            );
            offer_person(state, &body, ctx)
        }
        _ => info(
            state,
            &fill(
                &t.paid_received,
                &[("order_id", &number), ("status", &status)],
            ),
            ctx,
        ),
    }
}

/// "quiero cancelar mi pedido": an open cart is dropped; an unpaid order is cancelled; a paid one
/// goes to a person (refunds are the merchant's call).
fn cancel_order(state: &State, ctx: &Context<'_>) -> Step {
    if let Some(order_id) = pending_order(state, ctx) {
        let mut actions = Vec::new();
        if !state.cart().is_empty() {
            actions.push(Action::CancelDraft);
        }
        actions.push(Action::CancelOrder { order_id });
        return Step {
            state: State::Idle,
            actions,
        };
    }
    if !state.cart().is_empty() {
        return cancel(state, ctx);
    }
    let latest = ctx.orders.iter().max_by_key(|o| o.created_at);
    match latest {
        Some(order)
            if ["paid", "invoiced", "ready_for_pickup", "shipped"]
                .contains(&order.status.as_str()) =>
        {
            cancel_by_person(&order.order_id, &order.status, ctx)
        }
        _ => info(state, &ctx.texts.nothing_to_cancel, ctx),
    }
}

fn cancel_by_person(order_id: &str, status: &str, ctx: &Context<'_>) -> Step {
    let t = ctx.texts;
    let body = fill(
        &t.cancel_paid,
        &[
            ("order_id", &order_number(order_id)),
            ("status", &t.status_label(status).to_lowercase()),
        ],
    );
    Step {
        state: State::HandedOff,
        actions: [Action::HandToHuman]
            .into_iter()
            .chain(replies(text_messages(&body)))
            .collect(),
    }
}

/// The app's answer to [`Action::CancelOrder`].
fn order_cancelled(state: &State, order_id: &str, cancelled: bool, ctx: &Context<'_>) -> Step {
    if cancelled {
        let body = fill(
            &ctx.texts.order_cancelled,
            &[("order_id", &order_number(order_id))],
        );
        return Step {
            state: top(state),
            actions: with_menu(&body, ctx),
        };
    }
    let status = ctx
        .orders
        .iter()
        .find(|o| o.order_id == order_id)
        .map_or("paid", |o| o.status.as_str());
    cancel_by_person(order_id, status, ctx)
}

fn hours(state: &State, ctx: &Context<'_>) -> Step {
    let t = ctx.texts;
    let store = store_name(ctx);
    let body = if ctx.branch_hours.trim().is_empty() {
        fill(&t.hours_unknown, &[("store", &store)])
    } else {
        fill(
            &t.hours,
            &[("store", &store), ("hours", ctx.branch_hours.trim())],
        )
    };
    info(state, &body, ctx)
}

fn location(state: &State, ctx: &Context<'_>) -> Step {
    let t = ctx.texts;
    let store = store_name(ctx);
    let address = ctx.branch_address.trim();
    let body = if address.is_empty() {
        fill(&t.location_unknown, &[("store", &store)])
    } else {
        fill(
            &t.location,
            &[
                ("store", &store),
                ("address", address),
                ("map", &map_link(address)),
            ],
        )
    };
    let mut step = info(state, &body, ctx);
    if !ctx.branch_hours.trim().is_empty() {
        let hours = fill(
            &t.hours,
            &[("store", &store), ("hours", ctx.branch_hours.trim())],
        );
        if let Some(Action::Reply(Reply::Buttons { body, .. })) = step.actions.first_mut() {
            if body.chars().count() + hours.chars().count() < limits::INTERACTIVE_BODY {
                body.push('\n');
                body.push_str(&hours);
            }
        }
    }
    step
}

/// Cart lines whose product is among `named` (positions in the offers).
fn named_skus(named: &[usize], ctx: &Context<'_>) -> Vec<String> {
    named
        .iter()
        .filter_map(|&i| ctx.offers.get(i))
        .map(|o| o.product.sku.clone())
        .collect()
}

fn product_name(sku: &str, ctx: &Context<'_>) -> String {
    offer(ctx, sku).map_or_else(|| sku.to_string(), |o| o.product.name.trim().to_string())
}

/// "quita el ibuprofeno", "ya no quiero el paracetamol".
fn remove_from_cart(state: &State, named: &[usize], text: &str, ctx: &Context<'_>) -> Step {
    let t = ctx.texts;
    let cart = state.cart().to_vec();
    let skus = named_skus(named, ctx);
    let target: Vec<String> = if skus.is_empty() {
        match cart.as_slice() {
            [only] => vec![only.sku.clone()],
            _ => Vec::new(),
        }
    } else {
        cart.iter()
            .filter(|l| skus.contains(&l.sku))
            .map(|l| l.sku.clone())
            .collect()
    };
    if target.is_empty() {
        let note = if skus.is_empty() {
            let example = cart
                .first()
                .map(|l| product_name(&l.sku, ctx))
                .unwrap_or_default();
            fill(&t.remove_which, &[("product", &example)])
        } else {
            fill(&t.not_in_cart, &[("query", &search_query(text))])
        };
        return show_cart(state, cart, vec![note, String::new()], ctx);
    }
    let notes: Vec<String> = target
        .iter()
        .map(|sku| fill(&t.removed, &[("product", &product_name(sku, ctx))]))
        .collect();
    let left: Vec<CartLine> = cart
        .into_iter()
        .filter(|l| !target.contains(&l.sku))
        .collect();
    if left.is_empty() {
        let body = format!("{}\n{}", notes.join("\n"), t.cart_empty);
        return Step {
            state: match state {
                State::AwaitingPayment { .. } => state.clone(),
                _ => State::Idle,
            },
            actions: [Action::CancelDraft]
                .into_iter()
                .chain(with_menu(&body, ctx))
                .collect(),
        };
    }
    let mut notes = notes;
    notes.push(String::new());
    show_cart(state, left, notes, ctx)
}

/// "mejor que sean 3", "solo 1 paracetamol".
fn set_quantity(state: &State, qty: u32, named: &[usize], text: &str, ctx: &Context<'_>) -> Step {
    let t = ctx.texts;
    let mut cart = state.cart().to_vec();
    let skus = named_skus(named, ctx);
    let target = if skus.is_empty() {
        match cart.as_slice() {
            [only] => Some(only.sku.clone()),
            _ => None,
        }
    } else {
        cart.iter()
            .find(|l| skus.contains(&l.sku))
            .map(|l| l.sku.clone())
    };
    let Some(sku) = target else {
        // A product not in the cart yet: add it with that quantity.
        if let Some(sku) = skus.first() {
            return add_to_cart(state, sku, qty, ctx);
        }
        let note = fill(&t.not_in_cart, &[("query", &search_query(text))]);
        return show_cart(state, cart, vec![note, String::new()], ctx);
    };
    for line in cart.iter_mut().filter(|l| l.sku == sku) {
        line.qty = qty;
    }
    let note = fill(
        &t.quantity_changed,
        &[
            ("product", &product_name(&sku, ctx)),
            ("qty", &qty.to_string()),
        ],
    );
    show_cart(state, cart, vec![note, String::new()], ctx)
}

/// Products asked for in a message, each with its quantity.
fn want(state: &State, text: &str, wanted: Vec<Wanted>, ctx: &Context<'_>) -> Step {
    let t = ctx.texts;
    if let [one] = wanted.as_slice() {
        return want_one(state, text, one, ctx);
    }
    let mut lines = state.cart().to_vec();
    let mut notes = Vec::new();
    let mut added = 0;
    let mut first_unsure: Option<&Wanted> = None;
    for w in &wanted {
        match w.found.as_slice() {
            [] => notes.push(fill(&t.not_carried, &[("query", &w.query)])),
            [first, ..] if w.sure => {
                let offer = &ctx.offers[*first];
                let qty = match w.qty {
                    Some(Quantity::Valid(n)) => n,
                    _ => 1,
                };
                if offer.available == 0 {
                    notes.push(fill(
                        &t.product_sold_out,
                        &[("product", offer.product.name.trim())],
                    ));
                    continue;
                }
                lines.push(CartLine {
                    sku: offer.product.sku.clone(),
                    qty,
                });
                added += 1;
            }
            _ => {
                notes.push(fill(&t.which_one, &[("query", &w.query)]));
                first_unsure = first_unsure.or(Some(w));
            }
        }
    }
    if added == 0 {
        if let Some(w) = first_unsure {
            return search_results(state, &w.query, &w.found, ctx);
        }
        let query: Vec<&str> = wanted.iter().map(|w| w.query.as_str()).collect();
        return not_carried(state, &query.join(", "), ctx);
    }
    if !notes.is_empty() {
        notes.push(String::new());
    }
    show_cart(state, merge(lines), notes, ctx)
}

fn want_one(state: &State, text: &str, one: &Wanted, ctx: &Context<'_>) -> Step {
    let cart = state.cart().to_vec();
    match one.found.as_slice() {
        [] => not_carried(state, &one.query, ctx),
        [first, ..] if one.sure => {
            let offer = &ctx.offers[*first];
            if offer.available == 0 {
                return choose_product(state, &offer.product.sku, ctx);
            }
            if !one.unmatched.is_empty() {
                // Only the closest thing: say so before offering it.
                let note = fill(&ctx.texts.not_exactly, &[("query", &fit(&one.query, 60))]);
                return match one.qty {
                    Some(Quantity::Valid(qty)) => {
                        let mut lines = cart;
                        lines.push(CartLine {
                            sku: offer.product.sku.clone(),
                            qty,
                        });
                        show_cart(state, merge(lines), vec![note, String::new()], ctx)
                    }
                    _ => ask_quantity(offer, cart, Some(note), ctx),
                };
            }
            match one.qty {
                Some(Quantity::Valid(qty)) => add_to_cart(state, &offer.product.sku, qty, ctx),
                Some(Quantity::OutOfRange) => {
                    let max = offer.available.min(MAX_QTY_PER_LINE).to_string();
                    let why = fill(&ctx.texts.quantity_invalid, &[("max", &max)]);
                    ask_quantity(offer, cart, Some(why), ctx)
                }
                None => ask_quantity(offer, cart, None, ctx),
            }
        }
        found => search_results(state, text, found, ctx),
    }
}

/// A product the catalog does not have: say so, with the catalog at hand.
fn not_carried(state: &State, query: &str, ctx: &Context<'_>) -> Step {
    let body = fill(&ctx.texts.not_carried, &[("query", &fit(query, 60))]);
    let t = ctx.texts;
    let buttons = vec![
        Button::new(Choice::Catalog { page: 0 }.id(), &t.button_catalog),
        Button::new(Choice::Agent.id(), &t.button_agent),
    ];
    match state {
        State::ChoosingQuantity { .. } => return info(state, &body, ctx),
        State::Cart { .. } | State::Confirming { .. } => {
            return Step {
                state: state.clone(),
                actions: replies(with_buttons(&body, cart_buttons(ctx), &t.choose_option)),
            }
        }
        _ => {}
    }
    Step {
        state: state.clone(),
        actions: replies(with_buttons(&body, buttons, &t.choose_option)),
    }
}

// ---- help, people, fallback ----

fn help(state: &State, ctx: &Context<'_>) -> Step {
    let t = ctx.texts;
    let questions: Vec<Row> = ctx
        .faqs
        .iter()
        .take(FAQS_SHOWN)
        .enumerate()
        .map(|(index, faq)| faq_row(index, &faq.question))
        .collect();
    let more = vec![
        Row::new(Choice::Agent.id(), &t.row_agent, ""),
        Row::new(Choice::Menu.id(), &t.row_menu, ""),
    ];
    let mut sections = Vec::new();
    if !questions.is_empty() {
        sections.push(Section::new(&t.help_questions, questions));
    }
    sections.push(Section::new(&t.help_more, more));
    match list(&t.help_body, &t.help_button, sections) {
        Some(reply) => Step {
            state: state.clone(),
            actions: vec![Action::Reply(reply)],
        },
        None => info(state, &t.help_body, ctx),
    }
}

/// A question as a row: as much as fits in the title, the rest in the description.
fn faq_row(index: usize, question: &str) -> Row {
    let question = question.trim();
    let count = question.chars().count();
    if count <= limits::ROW_TITLE {
        return Row::new(Choice::Faq { index }.id(), question, "");
    }
    let title = fit(question, limits::ROW_TITLE);
    Row::new(Choice::Faq { index }.id(), &title, question)
}

fn hand_off(state: &State, ctx: &Context<'_>) -> Step {
    let mut actions = Vec::new();
    if !state.cart().is_empty() {
        actions.push(Action::CancelDraft);
    }
    actions.push(Action::HandToHuman);
    actions.extend(replies(text_messages(&ctx.texts.handed_off)));
    Step {
        state: State::HandedOff,
        actions,
    }
}

/// Not understood: say so and offer what fits where the customer is. Never silent.
fn fallback(state: &State, ctx: &Context<'_>) -> Step {
    let t = ctx.texts;
    match state {
        State::ChoosingQuantity { sku, cart } => match offer(ctx, sku) {
            Some(offer) if offer.product.active && offer.available > 0 => {
                let why = fill(
                    &t.quantity_not_understood,
                    &[("product", &fit(&offer.product.name, 60))],
                );
                ask_quantity(offer, cart.clone(), Some(why), ctx)
            }
            _ => Step {
                state: top(state),
                actions: with_menu(&t.fallback, ctx),
            },
        },
        State::Cart { .. } | State::Confirming { .. } => Step {
            state: state.clone(),
            actions: replies(with_buttons(
                &t.fallback_cart,
                cart_buttons(ctx),
                &t.choose_option,
            )),
        },
        _ => info(state, &t.fallback, ctx),
    }
}
