//! Behaviour of the conversation, one customer message at a time. Every step taken here is also
//! checked against WhatsApp's limits and for ids the machine can read back.

use super::*;
use crate::tax::TaxTreatment;
use crate::text::normalize;
use chrono::{TimeZone, Utc};

const CEPILLO: &str = "7501035911208";
const PARACETAMOL: &str = "7501008491072";
const IBUPROFENO: &str = "7501109901234";
const VITAMINA: &str = "7501050600019";
const SUERO: &str = "7501125104426";

fn product(sku: &str, name: &str, price: i64, tax: TaxTreatment, categories: &[&str]) -> Product {
    Product {
        sku: sku.into(),
        name: name.into(),
        description: String::new(),
        price: Centavos(price),
        tax,
        clave_prod_serv: "51142001".into(),
        clave_unidad: "H87".into(),
        image_url: None,
        categories: categories.iter().map(|c| c.to_string()).collect(),
        active: true,
        min_stock: None,
    }
}

fn offer(product: Product, available: u32) -> Offer {
    Offer { product, available }
}

/// Owns what a [`Context`] borrows.
struct Shop {
    texts: Texts,
    offers: Vec<Offer>,
    faqs: Vec<Faq>,
    orders: Vec<OrderSummary>,
    includes_iva: bool,
    catalog_id: Option<String>,
    customer_name: Option<String>,
    now: DateTime<Utc>,
    branch_address: String,
    branch_hours: String,
    delivery: Option<DeliveryOffer>,
    promotions: Vec<crate::promotions::Promotion>,
    refused_codes: Vec<(String, crate::promotions::Unusable)>,
    code: Option<String>,
    alerts_after_opt_out: bool,
}

fn pharmacy() -> Shop {
    let mut vitamina = product(
        VITAMINA,
        "Vitamina C 1 g",
        9_900,
        TaxTreatment::Iva0,
        &["Vitaminas"],
    );
    vitamina.active = false;
    Shop {
        texts: Texts::default(),
        offers: vec![
            offer(
                product(
                    PARACETAMOL,
                    "Paracetamol 500 mg",
                    4_550,
                    TaxTreatment::Iva0,
                    &["Analgésicos"],
                ),
                50,
            ),
            offer(
                product(
                    IBUPROFENO,
                    "Ibuprofeno 400 mg",
                    6_200,
                    TaxTreatment::Iva0,
                    &["Analgésicos"],
                ),
                2,
            ),
            offer(
                product(
                    CEPILLO,
                    "Cepillo dental suave",
                    4_550,
                    TaxTreatment::Iva16,
                    &["Cuidado personal"],
                ),
                20,
            ),
            offer(vitamina, 10),
            offer(
                product(
                    SUERO,
                    "Suero oral sabor coco",
                    2_800,
                    TaxTreatment::Iva0,
                    &["Cuidado personal"],
                ),
                0,
            ),
        ],
        faqs: vec![
            Faq {
                question: "¿Cuál es el horario?".into(),
                answer: "Abrimos de lunes a sábado de 8:00 a 22:00 🕗".into(),
                keywords: vec!["horario".into(), "abren".into(), "cierran".into()],
                branches: Vec::new(),
            },
            Faq {
                question: "¿Dónde están?".into(),
                answer: "Av. Juárez 123, Centro, CDMX 📍".into(),
                keywords: vec!["dirección".into(), "ubicación".into(), "dónde están".into()],
                branches: Vec::new(),
            },
            Faq {
                question: "¿Hacen envíos?".into(),
                answer: "Enviamos a Cuauhtémoc, Benito Juárez y Coyoacán 🛵".into(),
                keywords: vec!["envío".into(), "domicilio".into()],
                branches: Vec::new(),
            },
        ],
        orders: Vec::new(),
        includes_iva: true,
        catalog_id: None,
        customer_name: Some("Mariana López".into()),
        now: Utc.with_ymd_and_hms(2025, 5, 12, 20, 30, 0).unwrap(),
        branch_address: "Av. Juárez 123, Centro, CDMX".into(),
        branch_hours: "Lun a sáb 8:00–22:00".into(),
        delivery: None,
        promotions: Vec::new(),
        refused_codes: Vec::new(),
        code: None,
        alerts_after_opt_out: false,
    }
}

impl Shop {
    fn ctx(&self) -> Context<'_> {
        Context {
            merchant_name: "Farmacia San Juan",
            branch_name: "Centro",
            texts: &self.texts,
            offers: &self.offers,
            includes_iva: self.includes_iva,
            faqs: &self.faqs,
            catalog_id: self.catalog_id.as_deref(),
            customer_name: self.customer_name.as_deref(),
            orders: &self.orders,
            now: self.now,
            timezone: chrono_tz::America::Mexico_City,
            branch_address: &self.branch_address,
            branch_hours: &self.branch_hours,
            delivery: self.delivery.as_ref(),
            index: None,
            promotions: &self.promotions,
            refused_codes: &self.refused_codes,
            code: self.code.as_deref(),
            alerts_after_opt_out: self.alerts_after_opt_out,
        }
    }

    /// One step, checked against WhatsApp's limits.
    fn step(&self, state: &State, input: Input) -> Step {
        let out = step(state, &input, &self.ctx());
        assert_fits_whatsapp(&out);
        out
    }

    fn say(&self, state: &State, text: &str) -> Step {
        self.step(state, Input::Text(text.into()))
    }

    fn tap(&self, state: &State, id: &str) -> Step {
        self.step(
            state,
            Input::ButtonReply {
                id: id.into(),
                title: "x".into(),
            },
        )
    }

    fn pick(&self, state: &State, id: &str) -> Step {
        self.step(
            state,
            Input::ListReply {
                id: id.into(),
                title: "x".into(),
            },
        )
    }
}

fn count(s: &str) -> usize {
    s.chars().count()
}

/// Every reply within WhatsApp's limits, and every id one the machine reads back.
fn assert_fits_whatsapp(step: &Step) {
    for reply in step.replies() {
        match reply {
            Reply::Text(text) => assert!(
                !text.trim().is_empty() && count(text) <= limits::TEXT_BODY,
                "text: {text:?}"
            ),
            Reply::Buttons { body, buttons } => {
                assert!(
                    !body.trim().is_empty() && count(body) <= limits::INTERACTIVE_BODY,
                    "buttons body: {body:?}"
                );
                assert!(
                    (1..=limits::BUTTONS).contains(&buttons.len()),
                    "{} buttons",
                    buttons.len()
                );
                for (i, b) in buttons.iter().enumerate() {
                    assert!(
                        !b.title.trim().is_empty() && count(&b.title) <= limits::BUTTON_TITLE,
                        "button title {:?}",
                        b.title
                    );
                    assert!(
                        count(&b.id) <= limits::BUTTON_ID && Choice::parse(&b.id).is_some(),
                        "button id {:?}",
                        b.id
                    );
                    assert!(
                        buttons[..i].iter().all(|o| o.id != b.id),
                        "repeated id {:?}",
                        b.id
                    );
                }
            }
            Reply::List {
                body,
                button_label,
                sections,
            } => {
                assert!(!body.trim().is_empty() && count(body) <= limits::LIST_BODY);
                assert!(
                    !button_label.trim().is_empty() && count(button_label) <= limits::LIST_BUTTON,
                    "label {button_label:?}"
                );
                assert!((1..=limits::SECTIONS).contains(&sections.len()));
                let rows: Vec<&Row> = sections.iter().flat_map(|s| &s.rows).collect();
                assert!(
                    (1..=limits::LIST_ROWS).contains(&rows.len()),
                    "{} rows",
                    rows.len()
                );
                for s in sections {
                    assert!(
                        !s.title.trim().is_empty() && count(&s.title) <= limits::SECTION_TITLE,
                        "section {:?}",
                        s.title
                    );
                    assert!(!s.rows.is_empty());
                }
                for (i, r) in rows.iter().enumerate() {
                    assert!(
                        !r.title.trim().is_empty() && count(&r.title) <= limits::ROW_TITLE,
                        "row title {:?}",
                        r.title
                    );
                    assert!(
                        count(&r.description) <= limits::ROW_DESCRIPTION,
                        "row description {:?}",
                        r.description
                    );
                    assert!(
                        count(&r.id) <= limits::ROW_ID && Choice::parse(&r.id).is_some(),
                        "row id {:?}",
                        r.id
                    );
                    assert!(
                        rows[..i].iter().all(|o| o.id != r.id),
                        "repeated id {:?}",
                        r.id
                    );
                }
            }
            Reply::ProductList {
                catalog_id,
                header,
                body,
                sections,
            } => {
                assert!(!catalog_id.is_empty());
                assert!(!header.trim().is_empty() && count(header) <= limits::HEADER);
                assert!(!body.trim().is_empty() && count(body) <= limits::INTERACTIVE_BODY);
                assert!((1..=limits::SECTIONS).contains(&sections.len()));
                let items: usize = sections.iter().map(|(_, skus)| skus.len()).sum();
                assert!(
                    (1..=limits::PRODUCT_ITEMS).contains(&items),
                    "{items} products"
                );
                for (title, skus) in sections {
                    assert!(
                        !title.trim().is_empty()
                            && count(title) <= limits::SECTION_TITLE
                            && !skus.is_empty()
                    );
                }
            }
        }
    }
}

/// All the words the customer reads in a step.
fn said(step: &Step) -> String {
    let mut out = Vec::new();
    for reply in step.replies() {
        match reply {
            Reply::Text(t) => out.push(t.clone()),
            Reply::Buttons { body, buttons } => {
                out.push(body.clone());
                out.extend(buttons.iter().map(|b| b.title.clone()));
            }
            Reply::List { body, sections, .. } => {
                out.push(body.clone());
                for r in sections.iter().flat_map(|s| &s.rows) {
                    out.push(format!("{} | {}", r.title, r.description));
                }
            }
            Reply::ProductList { header, body, .. } => out.extend([header.clone(), body.clone()]),
        }
    }
    out.join("\n")
}

fn buttons(step: &Step) -> Vec<(String, String)> {
    step.replies()
        .filter_map(|r| match r {
            Reply::Buttons { buttons, .. } => Some(
                buttons
                    .iter()
                    .map(|b| (b.id.clone(), b.title.clone()))
                    .collect::<Vec<_>>(),
            ),
            _ => None,
        })
        .last()
        .unwrap_or_default()
}

fn button_ids(step: &Step) -> Vec<String> {
    buttons(step).into_iter().map(|(id, _)| id).collect()
}

fn rows(step: &Step) -> Vec<Row> {
    step.replies()
        .filter_map(|r| match r {
            Reply::List { sections, .. } => Some(
                sections
                    .iter()
                    .flat_map(|s| s.rows.clone())
                    .collect::<Vec<_>>(),
            ),
            _ => None,
        })
        .last()
        .unwrap_or_default()
}

fn line(sku: &str, qty: u32) -> CartLine {
    CartLine {
        sku: sku.into(),
        qty,
    }
}

fn menu_ids() -> Vec<String> {
    vec![
        "catalogo".to_string(),
        "pedido".to_string(),
        "ayuda".to_string(),
    ]
}

// ---- greeting and menu ----

#[test]
fn greeting_shows_the_menu_with_the_customers_first_name() {
    let shop = pharmacy();
    let out = shop.say(&State::Idle, "Hola");
    assert_eq!(out.state, State::Idle);
    let [Action::Reply(Reply::Buttons { body, buttons })] = out.actions.as_slice() else {
        panic!("one buttons message, got {:?}", out.actions);
    };
    assert!(
        body.starts_with("¡Hola, Mariana! 👋 Soy el asistente de Farmacia San Juan (Centro)."),
        "{body}"
    );
    let titles: Vec<&str> = buttons.iter().map(|b| b.title.as_str()).collect();
    assert_eq!(titles, ["Ver catálogo", "Mi pedido", "Ayuda"]);
    assert_eq!(button_ids(&out), menu_ids());
}

#[test]
fn greeting_without_a_profile_name_still_greets() {
    let mut shop = pharmacy();
    shop.customer_name = None;
    for text in ["menú", "Buenas tardes", "MENU", "hola buen día"] {
        let out = shop.say(&State::Idle, text);
        assert!(
            said(&out).starts_with("¡Hola! 👋 Soy el asistente de Farmacia San Juan"),
            "{text}: {}",
            said(&out)
        );
        assert_eq!(button_ids(&out), menu_ids());
    }
}

#[test]
fn the_menu_keeps_an_open_cart_and_says_so() {
    let shop = pharmacy();
    let cart = State::Cart {
        lines: vec![line(PARACETAMOL, 2)],
        total: Centavos(9_100),
    };
    let out = shop.say(&cart, "hola");
    assert_eq!(
        out.state,
        State::Browsing {
            category: None,
            cart: vec![line(PARACETAMOL, 2)]
        }
    );
    assert!(
        said(&out).contains("Tu carrito sigue guardado (2 productos)"),
        "{}",
        said(&out)
    );
    let again = shop.say(&out.state, "carrito");
    assert!(matches!(again.state, State::Cart { .. }));
}

#[test]
fn merchant_texts_override_only_what_they_set() {
    use serde::de::value::{Error, MapDeserializer};
    use serde::Deserialize;
    let custom = [
        (
            "greeting",
            "¿Qué onda, {customer}? Bienvenido a {merchant} 🌮",
        ),
        ("button_catalog", "Ver menú de tacos"),
    ];
    let texts =
        Texts::deserialize(MapDeserializer::<_, Error>::new(custom.into_iter())).expect("texts");
    assert_eq!(texts.button_help, Texts::default().button_help);
    let mut shop = pharmacy();
    shop.texts = texts;
    let out = shop.say(&State::Idle, "hola");
    assert!(
        said(&out).starts_with("¿Qué onda, Mariana? Bienvenido a Farmacia San Juan 🌮"),
        "{}",
        said(&out)
    );
    assert_eq!(buttons(&out)[0].1, "Ver menú de tacos");
}

// ---- browsing to an order ----

#[test]
fn browse_choose_quantity_and_confirm_places_an_order_priced_with_iva_included() {
    let shop = pharmacy();
    let categories = shop.tap(&State::Idle, "catalogo");
    assert_eq!(categories.state, State::Idle);
    let category_rows = rows(&categories);
    let titles: Vec<&str> = category_rows.iter().map(|r| r.title.as_str()).collect();
    assert_eq!(
        titles,
        ["Analgésicos", "Cuidado personal"],
        "the inactive product's category is not offered"
    );

    let products = shop.pick(&categories.state, &category_rows[1].id);
    assert_eq!(
        products.state,
        State::Browsing {
            category: Some("Cuidado personal".into()),
            cart: vec![]
        }
    );
    let product_rows = rows(&products);
    assert_eq!(product_rows[0].title, "Cepillo dental… — $45.50");
    assert_eq!(
        product_rows[0].description,
        "20 disponibles · Cepillo dental suave"
    );
    assert_eq!(
        product_rows[1].description,
        "Agotado por ahora · Suero oral sabor coco"
    );

    let quantity = shop.pick(&products.state, &product_rows[0].id);
    assert_eq!(
        quantity.state,
        State::ChoosingQuantity {
            sku: CEPILLO.into(),
            cart: vec![]
        }
    );
    assert!(said(&quantity).contains("¿Cuántos quieres de *Cepillo dental suave*? ($45.50 c/u)"));
    let qty_buttons = buttons(&quantity);
    assert_eq!(
        qty_buttons
            .iter()
            .map(|(_, t)| t.as_str())
            .collect::<Vec<_>>(),
        ["1", "2", "3"]
    );

    let cart = shop.tap(&quantity.state, &qty_buttons[2].0);
    assert_eq!(
        cart.state,
        State::Cart {
            lines: vec![line(CEPILLO, 3)],
            total: Centavos(13_650)
        }
    );
    let summary = said(&cart);
    assert!(
        summary.contains("• 3 × Cepillo dental suave ($45.50 c/u): $136.50"),
        "{summary}"
    );
    assert!(
        summary.contains("Subtotal: $117.67\nIVA: $18.83\n*Total: $136.50*"),
        "{summary}"
    );
    assert_eq!(button_ids(&cart), ["catalogo", "confirmar", "cancelar"]);
    assert_eq!(buttons(&cart)[1].1, "Confirmar");

    let placed = shop.tap(&cart.state, "confirmar");
    assert_eq!(
        placed.state,
        State::Confirming {
            fulfilment: Fulfilment::Pickup,
            lines: vec![line(CEPILLO, 3)]
        }
    );
    assert_eq!(
        placed.actions,
        [Action::PlaceOrder {
            fulfilment: Fulfilment::Pickup,
            lines: vec![PricedLine {
                sku: CEPILLO.into(),
                name: "Cepillo dental suave".into(),
                qty: 3,
                unit: Centavos(4_550),
                amounts: crate::tax::LineAmounts {
                    total: Centavos(13_650),
                    base: Centavos(11_767),
                    iva: Centavos(1_883)
                },
                discount: Centavos::ZERO,
            }],
            total: Centavos(13_650),
            promotions: Vec::new(),
        }]
    );
}

#[test]
fn adding_more_keeps_the_cart_and_sums_lines() {
    let shop = pharmacy();
    let cart = State::Cart {
        lines: vec![line(PARACETAMOL, 2)],
        total: Centavos(9_100),
    };
    let more = shop.tap(&cart, "catalogo");
    assert_eq!(
        more.state,
        State::Browsing {
            category: None,
            cart: vec![line(PARACETAMOL, 2)]
        }
    );
    let asked = shop.pick(&more.state, &format!("sku:{CEPILLO}"));
    let added = shop.say(&asked.state, "1");
    assert_eq!(
        added.state,
        State::Cart {
            lines: vec![line(PARACETAMOL, 2), line(CEPILLO, 1)],
            total: Centavos(13_650)
        }
    );
    let again = shop.tap(&added.state, &format!("qty:2:{PARACETAMOL}"));
    assert_eq!(again.state.cart(), [line(PARACETAMOL, 4), line(CEPILLO, 1)]);
}

#[test]
fn prices_without_iva_get_it_added_in_the_summary() {
    let mut shop = pharmacy();
    shop.includes_iva = false;
    shop.offers.push(offer(
        product(
            "GASA-10",
            "Gasas estériles",
            10_000,
            TaxTreatment::Iva16,
            &["Curación"],
        ),
        9,
    ));
    let out = shop.step(
        &State::Idle,
        Input::CatalogOrder {
            items: vec![("GASA-10".into(), 2)],
        },
    );
    let summary = said(&out);
    assert!(
        summary.contains("• 2 × Gasas estériles ($100.00 c/u): $200.00"),
        "{summary}"
    );
    assert!(
        summary.contains("Subtotal: $200.00\nIVA: $32.00\n*Total: $232.00*"),
        "{summary}"
    );
}

#[test]
fn quantities_can_be_typed_in_words_or_numbers() {
    let shop = pharmacy();
    let asking = State::ChoosingQuantity {
        sku: PARACETAMOL.into(),
        cart: vec![],
    };
    for (text, qty) in [
        ("2", 2),
        ("quiero 3", 3),
        ("dos", 2),
        ("una caja", 1),
        ("media docena", 6),
        ("10 piezas", 10),
        ("40", 40),
    ] {
        let out = shop.say(&asking, text);
        assert_eq!(out.state.cart(), [line(PARACETAMOL, qty)], "{text}");
    }
}

#[test]
fn zero_negative_fractional_and_absurd_quantities_get_a_clear_message() {
    let shop = pharmacy();
    let asking = State::ChoosingQuantity {
        sku: PARACETAMOL.into(),
        cart: vec![line(CEPILLO, 1)],
    };
    for text in ["0", "-3", "1.5", "100", "999999999999999999999", "cero"] {
        let out = shop.say(&asking, text);
        assert_eq!(out.state, asking, "{text}");
        assert!(
            said(&out).contains("La cantidad debe ser un número entero del 1 al 50"),
            "{text}: {}",
            said(&out)
        );
        assert!(!buttons(&out).is_empty());
    }
}

#[test]
fn text_that_is_not_a_quantity_asks_again() {
    let shop = pharmacy();
    let asking = State::ChoosingQuantity {
        sku: PARACETAMOL.into(),
        cart: vec![],
    };
    for text in ["mmm no sé", "tengo una duda"] {
        let out = shop.say(&asking, text);
        assert_eq!(out.state, asking, "{text}");
        assert!(
            said(&out).contains("No entendí la cantidad de *Paracetamol 500 mg*"),
            "{text}"
        );
        assert_eq!(
            button_ids(&out),
            [
                format!("qty:1:{PARACETAMOL}"),
                format!("qty:2:{PARACETAMOL}"),
                format!("qty:3:{PARACETAMOL}")
            ]
        );
    }
    let cancelled = shop.say(&asking, "cancelar");
    assert_eq!(cancelled.state, State::Idle);
    assert_eq!(button_ids(&cancelled), menu_ids());
}

#[test]
fn asking_more_than_in_stock_keeps_what_there_is_and_explains() {
    let shop = pharmacy();
    let asking = State::ChoosingQuantity {
        sku: IBUPROFENO.into(),
        cart: vec![],
    };
    let out = shop.say(&asking, "5");
    assert_eq!(
        out.state,
        State::Cart {
            lines: vec![line(IBUPROFENO, 2)],
            total: Centavos(12_400)
        }
    );
    assert!(
        said(&out).contains("• Ibuprofeno 400 mg: pediste 5, hay 2 disponibles"),
        "{}",
        said(&out)
    );
}

#[test]
fn quantity_buttons_never_offer_more_than_available() {
    let shop = pharmacy();
    let out = shop.pick(&State::Idle, &format!("sku:{IBUPROFENO}"));
    assert_eq!(
        button_ids(&out),
        [format!("qty:1:{IBUPROFENO}"), format!("qty:2:{IBUPROFENO}")]
    );
    assert!(
        !said(&out).contains("del 1 al"),
        "the stock level is not shown"
    );
}

#[test]
fn a_line_never_exceeds_99_units() {
    let shop = pharmacy();
    let cart = State::Cart {
        lines: vec![line(PARACETAMOL, 98)],
        total: Centavos(445_900),
    };
    let mut shop_with_stock = shop;
    shop_with_stock.offers[0].available = 500;
    let out = shop_with_stock.tap(&cart, &format!("qty:3:{PARACETAMOL}"));
    assert_eq!(out.state.cart(), [line(PARACETAMOL, 99)]);
    assert!(
        said(&out).contains("• Paracetamol 500 mg: pediste 101, el máximo es 99 por producto"),
        "{}",
        said(&out)
    );
}

#[test]
fn a_sold_out_or_withdrawn_product_is_explained_with_the_menu() {
    let shop = pharmacy();
    let sold_out = shop.pick(&State::Idle, &format!("sku:{SUERO}"));
    assert!(said(&sold_out).contains("*Suero oral sabor coco* está agotado"));
    assert_eq!(button_ids(&sold_out), menu_ids());
    let gone = shop.pick(&State::Idle, &format!("sku:{VITAMINA}"));
    assert!(said(&gone).contains("ya no está disponible"));
    let unknown = shop.pick(&State::Idle, "sku:NO-EXISTE");
    assert_eq!(button_ids(&unknown), menu_ids());
}

#[test]
fn an_old_quantity_button_still_works_after_the_state_moved_on() {
    let shop = pharmacy();
    let out = shop.tap(&State::Idle, &format!("qty:2:{CEPILLO}"));
    assert_eq!(
        out.state,
        State::Cart {
            lines: vec![line(CEPILLO, 2)],
            total: Centavos(9_100)
        }
    );
}

// ---- catalog orders ----

#[test]
fn a_catalog_order_explains_unknown_inactive_and_short_lines_one_by_one() {
    let shop = pharmacy();
    let items = vec![
        ("NO-EXISTE".to_string(), 1),
        (VITAMINA.to_string(), 2),
        (IBUPROFENO.to_string(), 5),
        (PARACETAMOL.to_string(), 1),
        (SUERO.to_string(), 3),
    ];
    let out = shop.step(&State::Idle, Input::CatalogOrder { items });
    let text = said(&out);
    let expected = "Ajusté tu carrito:\n\
                    • Producto NO-EXISTE: no está en nuestro catálogo\n\
                    • Vitamina C 1 g: ya no está disponible\n\
                    • Ibuprofeno 400 mg: pediste 5, hay 2 disponibles\n\
                    • Suero oral sabor coco: pediste 3, está agotado";
    assert!(text.contains(expected), "{text}");
    assert_eq!(
        out.state,
        State::Cart {
            lines: vec![line(IBUPROFENO, 2), line(PARACETAMOL, 1)],
            total: Centavos(12_400 + 4_550)
        }
    );
    assert!(text.contains("*Total: $169.50*"), "{text}");
}

#[test]
fn a_catalog_order_is_priced_from_our_catalog_only() {
    // The Input carries SKUs and quantities only: the client's item_price has nowhere to go.
    let shop = pharmacy();
    let items = vec![
        (PARACETAMOL.to_string(), 1),
        (PARACETAMOL.to_string(), 1),
        (CEPILLO.to_string(), 1),
    ];
    let out = shop.step(&State::Idle, Input::CatalogOrder { items });
    assert_eq!(
        out.state,
        State::Cart {
            lines: vec![line(PARACETAMOL, 2), line(CEPILLO, 1)],
            total: Centavos(9_100 + 4_550)
        }
    );
    let placed = shop.tap(&out.state, "confirmar");
    let [Action::PlaceOrder { lines, total, .. }] = placed.actions.as_slice() else {
        panic!("{:?}", placed.actions)
    };
    assert_eq!(*total, Centavos(13_650));
    assert_eq!(
        lines
            .iter()
            .map(|l| (l.sku.as_str(), l.qty, l.unit))
            .collect::<Vec<_>>(),
        [
            (PARACETAMOL, 2, Centavos(4_550)),
            (CEPILLO, 1, Centavos(4_550))
        ]
    );
}

#[test]
fn a_catalog_order_with_nothing_available_returns_to_the_menu() {
    let shop = pharmacy();
    let out = shop.step(
        &State::Idle,
        Input::CatalogOrder {
            items: vec![(SUERO.into(), 1), ("X".into(), 0)],
        },
    );
    assert_eq!(out.state, State::Idle);
    assert!(said(&out).contains("No quedó nada disponible"));
    assert_eq!(button_ids(&out), menu_ids());
    let empty = shop.step(&State::Idle, Input::CatalogOrder { items: vec![] });
    assert!(said(&empty).contains("Tu carrito está vacío"));
}

#[test]
fn a_catalog_order_adds_to_an_open_cart() {
    let shop = pharmacy();
    let cart = State::Cart {
        lines: vec![line(CEPILLO, 1)],
        total: Centavos(4_550),
    };
    let out = shop.step(
        &cart,
        Input::CatalogOrder {
            items: vec![(PARACETAMOL.into(), 1)],
        },
    );
    assert_eq!(out.state.cart(), [line(CEPILLO, 1), line(PARACETAMOL, 1)]);
    assert!(said(&out).contains("Agregué lo que enviaste"));
}

#[test]
fn a_long_summary_goes_as_text_with_the_buttons_after_it() {
    let mut shop = pharmacy();
    let items: Vec<(String, u32)> = (0..30)
        .map(|i| {
            let sku = format!("MED-{i:02}");
            shop.offers.push(offer(
                product(
                    &sku,
                    &format!("Medicamento genérico de prueba número {i:02}, caja con 30 tabletas"),
                    12_345,
                    TaxTreatment::Iva16,
                    &["Genéricos"],
                ),
                99,
            ));
            (sku, 99)
        })
        .collect();
    let out = shop.step(&State::Idle, Input::CatalogOrder { items });
    let replies: Vec<&Reply> = out.replies().collect();
    assert!(
        matches!(replies[0], Reply::Text(t) if t.contains("*Total: $366,646.50*")),
        "{replies:?}"
    );
    assert!(
        matches!(replies.last(), Some(Reply::Buttons { body, .. }) if body == "¿Confirmamos tu pedido?")
    );
    assert_eq!(out.state.cart().len(), 30);
}

#[test]
fn a_cart_holds_at_most_30_distinct_products() {
    let mut shop = pharmacy();
    let items: Vec<(String, u32)> = (0..35)
        .map(|i| {
            let sku = format!("P{i}");
            shop.offers.push(offer(
                product(
                    &sku,
                    &format!("Producto {i}"),
                    1_000,
                    TaxTreatment::Iva16,
                    &["Varios"],
                ),
                5,
            ));
            (sku, 1)
        })
        .collect();
    let out = shop.step(&State::Idle, Input::CatalogOrder { items });
    assert_eq!(out.state.cart().len(), MAX_CART_LINES);
    assert!(said(&out).contains("hasta 30 productos distintos"));
}

// ---- confirming ----

#[test]
fn confirming_after_a_price_change_shows_the_new_summary_instead_of_ordering() {
    let mut shop = pharmacy();
    let cart = State::Cart {
        lines: vec![line(PARACETAMOL, 2)],
        total: Centavos(9_100),
    };
    shop.offers[0].product.price = Centavos(4_990);
    let out = shop.tap(&cart, "confirmar");
    assert!(out
        .actions
        .iter()
        .all(|a| !matches!(a, Action::PlaceOrder { .. })));
    assert!(said(&out).contains("Algunos precios cambiaron"));
    assert_eq!(
        out.state,
        State::Cart {
            lines: vec![line(PARACETAMOL, 2)],
            total: Centavos(9_980)
        }
    );
    let placed = shop.say(&out.state, "Confirmar");
    assert!(matches!(
        placed.actions.as_slice(),
        [Action::PlaceOrder {
            total: Centavos(9_980),
            ..
        }]
    ));
}

#[test]
fn confirming_after_stock_ran_out_explains_and_asks_again() {
    let mut shop = pharmacy();
    let cart = State::Cart {
        lines: vec![line(IBUPROFENO, 2), line(PARACETAMOL, 1)],
        total: Centavos(16_950),
    };
    shop.offers[1].available = 1;
    let out = shop.tap(&cart, "confirmar");
    assert!(
        said(&out).contains("• Ibuprofeno 400 mg: pediste 2, hay 1 disponible\n"),
        "{}",
        said(&out)
    );
    assert_eq!(
        out.state,
        State::Cart {
            lines: vec![line(IBUPROFENO, 1), line(PARACETAMOL, 1)],
            total: Centavos(10_750)
        }
    );
}

#[test]
fn confirm_without_a_shown_summary_shows_it_first() {
    let shop = pharmacy();
    let browsing = State::Browsing {
        category: None,
        cart: vec![line(CEPILLO, 1)],
    };
    let out = shop.say(&browsing, "confirmar");
    assert!(out
        .actions
        .iter()
        .all(|a| !matches!(a, Action::PlaceOrder { .. })));
    assert!(matches!(out.state, State::Cart { .. }));
    let nothing = shop.say(&State::Idle, "confirmar");
    assert!(said(&nothing).contains("Tu carrito está vacío"));
}

#[test]
fn a_confirmation_that_never_came_back_can_be_confirmed_again() {
    let shop = pharmacy();
    let stuck = State::Confirming {
        fulfilment: Fulfilment::Pickup,
        lines: vec![line(CEPILLO, 1)],
    };
    let out = shop.tap(&stuck, "confirmar");
    assert_eq!(
        out.state,
        State::Cart {
            lines: vec![line(CEPILLO, 1)],
            total: Centavos(4_550)
        }
    );
    assert!(matches!(
        shop.tap(&out.state, "confirmar").actions.as_slice(),
        [Action::PlaceOrder { .. }]
    ));
}

#[test]
fn cancel_drops_the_cart() {
    let shop = pharmacy();
    let cart = State::Cart {
        lines: vec![line(CEPILLO, 1)],
        total: Centavos(4_550),
    };
    let out = shop.tap(&cart, "cancelar");
    assert_eq!(out.state, State::Idle);
    assert_eq!(out.actions[0], Action::CancelDraft);
    assert!(said(&out).contains("cancelé tu carrito"));
    let nothing = shop.say(&State::Idle, "cancelar");
    assert!(nothing.actions.iter().all(|a| *a != Action::CancelDraft));
    assert!(said(&nothing).contains("No tienes un carrito abierto"));
}

#[test]
fn order_placed_sends_the_total_and_payment_link_and_holds_stock() {
    let shop = pharmacy();
    let confirming = State::Confirming {
        fulfilment: Fulfilment::Pickup,
        lines: vec![line(CEPILLO, 3)],
    };
    let input = Input::OrderPlaced {
        order_id: "01JV0ABC".into(),
        total: Centavos(13_650),
        payment_url: "https://pagos.example/l/XYZ".into(),
        expires_in_minutes: 30,
    };
    let out = shop.step(&confirming, input);
    assert_eq!(
        out.state,
        State::AwaitingPayment {
            order_id: "01JV0ABC".into(),
            payment_url: "https://pagos.example/l/XYZ".into(),
            expires_at: shop.now + chrono::Duration::minutes(30)
        }
    );
    let [Action::Reply(Reply::Text(text))] = out.actions.as_slice() else {
        panic!("{:?}", out.actions)
    };
    assert!(
        text.contains("JV0ABC")
            && text.contains("*$136.50*")
            && text.contains("https://pagos.example/l/XYZ"),
        "{text}"
    );
    assert!(
        text.contains("Apartamos tus productos por 30 minutos"),
        "{text}"
    );
}

#[test]
fn order_rejected_explains_shortages_and_offers_the_adjusted_cart() {
    let shop = pharmacy();
    let confirming = State::Confirming {
        fulfilment: Fulfilment::Pickup,
        lines: vec![line(IBUPROFENO, 2), line(PARACETAMOL, 3), line(CEPILLO, 1)],
    };
    let shortages = vec![
        Shortage {
            sku: IBUPROFENO.into(),
            name: "Ibuprofeno 400 mg".into(),
            requested: 2,
            available: 1,
        },
        Shortage {
            sku: CEPILLO.into(),
            name: "Cepillo dental suave".into(),
            requested: 1,
            available: 0,
        },
    ];
    let out = shop.step(&confirming, Input::OrderRejected { shortages });
    let text = said(&out);
    assert!(
        text.contains("Mientras confirmabas cambió la existencia:\n• Ibuprofeno 400 mg: pediste 2, hay 1 disponible\n• Cepillo dental suave: pediste 1, está agotado"),
        "{text}"
    );
    assert_eq!(
        out.state,
        State::Cart {
            lines: vec![line(IBUPROFENO, 1), line(PARACETAMOL, 3)],
            total: Centavos(6_200 + 13_650)
        }
    );
    assert_eq!(button_ids(&out), ["catalogo", "confirmar", "cancelar"]);
}

#[test]
fn order_rejected_with_nothing_left_returns_to_the_menu() {
    let shop = pharmacy();
    let confirming = State::Confirming {
        fulfilment: Fulfilment::Pickup,
        lines: vec![line(IBUPROFENO, 2)],
    };
    let shortages = vec![Shortage {
        sku: IBUPROFENO.into(),
        name: "Ibuprofeno 400 mg".into(),
        requested: 2,
        available: 0,
    }];
    let out = shop.step(&confirming, Input::OrderRejected { shortages });
    assert_eq!(out.state, State::Idle);
    assert!(said(&out).contains("• Ibuprofeno 400 mg: pediste 2, está agotado"));
    assert_eq!(button_ids(&out), menu_ids());
}

#[test]
fn the_payment_link_is_sent_again_until_the_reservation_ends() {
    let mut shop = pharmacy();
    let waiting = State::AwaitingPayment {
        order_id: "01JV0ABC".into(),
        payment_url: "https://pagos.example/l/XYZ".into(),
        expires_at: shop.now + chrono::Duration::minutes(12),
    };
    let out = shop.say(&waiting, "¿me pasas la liga para pagar?");
    assert_eq!(out.state, waiting);
    assert!(
        said(&out).contains("https://pagos.example/l/XYZ") && said(&out).contains("12 minutos"),
        "{}",
        said(&out)
    );
    let double_tap = shop.tap(&waiting, "confirmar");
    assert!(said(&double_tap).contains("https://pagos.example/l/XYZ"));
    assert!(double_tap
        .actions
        .iter()
        .all(|a| !matches!(a, Action::PlaceOrder { .. })));
    shop.now += chrono::Duration::minutes(13);
    let late = shop.say(&waiting, "pagar");
    assert_eq!(late.state, State::Idle);
    assert!(said(&late).contains("ya venció"));
    let none = shop.say(&State::Idle, "pagar");
    assert!(said(&none).contains("No tienes pagos pendientes"));
}

// ---- order status ----

#[test]
fn mi_pedido_lists_recent_orders_newest_first_in_local_time() {
    let mut shop = pharmacy();
    shop.orders = vec![
        OrderSummary {
            order_id: "01JA".into(),
            status: "paid".into(),
            total: Centavos(9_100),
            created_at: Utc.with_ymd_and_hms(2025, 5, 1, 16, 0, 0).unwrap(),
        },
        OrderSummary {
            order_id: "01JB".into(),
            status: "awaiting_payment".into(),
            total: Centavos(13_650),
            created_at: Utc.with_ymd_and_hms(2025, 5, 12, 20, 25, 0).unwrap(),
        },
    ];
    for input in [
        Input::Text("mi pedido".into()),
        Input::Text("¿Dónde está mi pedido?".into()),
        Input::ButtonReply {
            id: "pedido".into(),
            title: "Mi pedido".into(),
        },
    ] {
        let out = shop.step(&State::Idle, input);
        let text = said(&out);
        assert!(
            text.contains("📦 *Tus pedidos recientes*\n• 01JB · 12/05/2025 14:25 · $136.50 · Pendiente de pago\n• 01JA · 01/05/2025 10:00 · $91.00 · Pagado"),
            "{text}"
        );
        assert_eq!(button_ids(&out), menu_ids());
        assert_eq!(out.state, State::Idle);
    }
}

#[test]
fn mi_pedido_without_orders_offers_the_catalog() {
    let shop = pharmacy();
    let out = shop.say(&State::Idle, "pedido");
    assert!(said(&out).contains("Aún no tienes pedidos"));
    assert_eq!(button_ids(&out), menu_ids());
    let waiting = State::AwaitingPayment {
        order_id: "01JV0ABC".into(),
        payment_url: "https://pagos.example/l/XYZ".into(),
        expires_at: shop.now + chrono::Duration::minutes(30),
    };
    let just_placed = shop.say(&waiting, "mi pedido");
    assert!(
        said(&just_placed).contains("Tu pedido JV0ABC te espera"),
        "{}",
        said(&just_placed)
    );
}

#[test]
fn wanting_to_place_an_order_opens_the_catalog() {
    let shop = pharmacy();
    let out = shop.say(&State::Idle, "Quiero hacer un pedido");
    assert!(matches!(out.replies().next(), Some(Reply::List { .. })));
}

#[test]
fn status_labels_can_be_renamed_by_the_merchant() {
    let mut shop = pharmacy();
    shop.texts
        .status_labels
        .insert("paid".into(), "Pagado, lo preparamos 🧑‍🍳".into());
    shop.orders = vec![OrderSummary {
        order_id: "01JA".into(),
        status: "paid".into(),
        total: Centavos(100),
        created_at: shop.now,
    }];
    assert!(said(&shop.say(&State::Idle, "pedido")).contains("Pagado, lo preparamos 🧑‍🍳"));
    assert_eq!(shop.texts.status_label("shipped"), "En camino");
    assert_eq!(shop.texts.status_label("something_new"), "something_new");
}

// ---- FAQs, help, search ----

#[test]
fn faq_answers_match_keywords_without_accents_or_case() {
    let shop = pharmacy();
    let cases = [
        ("¿Cuál es su horario?", "Abrimos de lunes a sábado"),
        ("A QUÉ HORA ABREN", "Abrimos de lunes a sábado"),
        ("me pasas la direccion", "Av. Juárez 123"),
        ("¿Dónde están?", "Av. Juárez 123"),
        ("¿Hacen envíos a Coyoacán?", "Enviamos a Cuauhtémoc"),
        ("servicio a DOMICILIO", "Enviamos a Cuauhtémoc"),
    ];
    let cart = State::Cart {
        lines: vec![line(CEPILLO, 1)],
        total: Centavos(4_550),
    };
    for (question, answer) in cases {
        let out = shop.say(&cart, question);
        assert!(said(&out).starts_with(answer), "{question}: {}", said(&out));
        assert_eq!(out.state, cart, "an answer does not move the conversation");
        assert_eq!(button_ids(&out), menu_ids());
    }
}

#[test]
fn help_lists_the_questions_an_agent_and_the_menu() {
    let shop = pharmacy();
    let out = shop.tap(&State::Idle, "ayuda");
    let ids: Vec<String> = rows(&out).into_iter().map(|r| r.id).collect();
    assert_eq!(ids, ["faq:0", "faq:1", "faq:2", "asesor", "menu"]);
    let answer = shop.pick(&State::Idle, "faq:2");
    assert!(said(&answer).starts_with("Enviamos a Cuauhtémoc"));
    let stale = shop.pick(&State::Idle, "faq:9");
    assert!(matches!(stale.replies().next(), Some(Reply::List { .. })));
}

#[test]
fn a_product_name_finds_the_product() {
    let shop = pharmacy();
    let one = shop.say(&State::Idle, "¿Tienen ibuprofeno?");
    assert_eq!(
        one.state,
        State::ChoosingQuantity {
            sku: IBUPROFENO.into(),
            cart: vec![]
        }
    );
    let mut more = pharmacy();
    more.offers.push(offer(
        product(
            "PARA-INF",
            "Paracetamol infantil jarabe",
            6_900,
            TaxTreatment::Iva0,
            &["Analgésicos"],
        ),
        4,
    ));
    let many = more.say(&State::Idle, "paracetamol");
    let skus: Vec<String> = rows(&many).into_iter().map(|r| r.id).collect();
    assert_eq!(
        skus,
        [format!("sku:{PARACETAMOL}"), "sku:PARA-INF".to_string()]
    );
    assert!(said(&many).contains("«paracetamol»"));
}

// ---- people and consent ----

#[test]
fn asesor_hands_off_and_the_machine_stays_silent_until_released() {
    let shop = pharmacy();
    let cart = State::Cart {
        lines: vec![line(CEPILLO, 1)],
        total: Centavos(4_550),
    };
    let out = shop.say(&cart, "Quiero hablar con un asesor");
    assert_eq!(out.state, State::HandedOff);
    assert_eq!(out.actions[..2], [Action::CancelDraft, Action::HandToHuman]);
    assert!(said(&out).contains("una persona de nuestro equipo"));

    let inputs = [
        Input::Text("hola".into()),
        Input::Text("asesor".into()),
        Input::Text("¿cuál es su horario?".into()),
        Input::ButtonReply {
            id: "catalogo".into(),
            title: "Ver catálogo".into(),
        },
        Input::ListReply {
            id: format!("sku:{CEPILLO}"),
            title: "Cepillo".into(),
        },
        Input::CatalogOrder {
            items: vec![(CEPILLO.into(), 1)],
        },
        Input::Media,
        Input::Unsupported,
    ];
    for input in inputs {
        let silent = shop.step(&State::HandedOff, input.clone());
        assert_eq!(
            silent,
            Step {
                state: State::HandedOff,
                actions: vec![]
            },
            "{input:?}"
        );
    }
    let released = shop.step(&State::HandedOff, Input::ReleasedByAgent);
    assert_eq!(released.state, State::Idle);
    assert!(said(&released).contains("Gracias por tu paciencia"));
    assert_eq!(button_ids(&shop.say(&released.state, "hola")), menu_ids());
}

#[test]
fn a_button_to_talk_to_a_person_hands_off_too() {
    let shop = pharmacy();
    for text in ["humano", "AGENTE por favor"] {
        assert_eq!(
            shop.say(&State::Idle, text).state,
            State::HandedOff,
            "{text}"
        );
    }
    let out = shop.pick(&State::Idle, "asesor");
    assert_eq!(out.actions[0], Action::HandToHuman);
}

#[test]
fn an_empty_release_text_sends_nothing() {
    let mut shop = pharmacy();
    shop.texts.released = String::new();
    let out = shop.step(&State::HandedOff, Input::ReleasedByAgent);
    assert_eq!(
        out,
        Step {
            state: State::Idle,
            actions: vec![]
        }
    );
}

#[test]
fn released_by_agent_outside_a_handoff_changes_nothing() {
    let shop = pharmacy();
    let cart = State::Cart {
        lines: vec![line(CEPILLO, 1)],
        total: Centavos(4_550),
    };
    assert_eq!(
        shop.step(&cart, Input::ReleasedByAgent),
        Step {
            state: cart,
            actions: vec![]
        }
    );
}

#[test]
fn baja_opts_out_and_alta_opts_back_in() {
    let shop = pharmacy();
    for text in ["baja", "BAJA", "Alto", "stop", "darme de baja"] {
        let out = shop.say(&State::Idle, text);
        assert_eq!(out.actions[0], Action::OptOut, "{text}");
        assert!(
            said(&out).contains("ya no te enviaremos mensajes"),
            "{text}"
        );
    }
    let back = shop.say(&State::Idle, "Alta");
    assert_eq!(back.actions[0], Action::OptIn);
    assert!(said(&back).contains("Volverás a recibir"));
    let not_opt_out = shop.say(&State::Idle, "el precio está muy alto");
    assert!(not_opt_out.actions.iter().all(|a| *a != Action::OptOut));
}

#[test]
fn consent_is_recorded_and_confirmed_while_a_person_has_the_conversation() {
    let shop = pharmacy();
    let out = shop.say(&State::HandedOff, "baja");
    assert_eq!(out.state, State::HandedOff);
    assert_eq!(out.actions[0], Action::OptOut);
    assert!(
        said(&out).contains("ya no te enviaremos mensajes"),
        "{}",
        said(&out)
    );
    assert!(buttons(&out).is_empty(), "no menu while a person answers");
    let out = shop.say(&State::HandedOff, "alta");
    assert_eq!(out.actions[0], Action::OptIn);
    assert!(said(&out).contains("Volverás a recibir"));
    assert!(buttons(&out).is_empty());
    let out = shop.say(&State::HandedOff, "ya no quiero promociones");
    assert_eq!(out.actions[0], Action::MarketingOptOut);
    assert_eq!(
        shop.say(&State::HandedOff, "tengo una duda de mi pedido")
            .actions,
        Vec::<Action>::new(),
        "anything else is for the person"
    );
}

#[test]
fn promotions_alone_can_be_stopped_and_resumed_in_the_customers_words() {
    let shop = pharmacy();
    for text in [
        "baja promociones",
        "BAJA PROMOS",
        "ya no quiero promociones",
        "no me manden ofertas",
        "stop publicidad",
        "no me interesan las promociones",
    ] {
        let out = shop.say(&State::Idle, text);
        assert_eq!(out.actions[0], Action::MarketingOptOut, "{text}");
        let text_out = said(&out);
        assert!(
            text_out.contains("ya no te enviaremos promociones"),
            "{text}: {text_out}"
        );
        assert!(
            text_out.contains("Seguirás recibiendo los avisos de tus pedidos"),
            "{text_out}"
        );
        assert!(
            text_out.contains("*alta promociones*"),
            "how to resume: {text_out}"
        );
    }
    for text in [
        "alta promociones",
        "sí quiero recibir promociones",
        "mándenme promociones",
    ] {
        let out = shop.say(&State::Idle, text);
        assert_eq!(out.actions[0], Action::MarketingOptIn, "{text}");
        assert!(
            said(&out).contains("Volverás a recibir nuestras promociones"),
            "{text}"
        );
    }
    for text in [
        "¿hay promociones?",
        "tienen ofertas?",
        "no tienen promociones?",
    ] {
        let out = shop.say(&State::Idle, text);
        assert!(
            out.actions.iter().all(|a| !matches!(
                a,
                Action::MarketingOptOut | Action::OptOut | Action::MarketingOptIn
            )),
            "{text}: {:?}",
            out.actions
        );
    }
}

#[test]
fn a_full_opt_out_says_when_security_alerts_still_come() {
    let mut shop = pharmacy();
    let out = shop.say(&State::Idle, "baja");
    assert!(
        !said(&out).contains("alertas de seguridad"),
        "{}",
        said(&out)
    );
    shop.alerts_after_opt_out = true;
    let out = shop.say(&State::Idle, "baja");
    assert_eq!(out.actions[0], Action::OptOut);
    let text = said(&out);
    assert!(text.contains("ya no te enviaremos mensajes"), "{text}");
    assert!(text.contains("alertas de seguridad"), "{text}");
}

// ---- never silent ----

/// A small deterministic generator, so the "random" strings are the same on every run.
struct Lcg(u64);

impl Lcg {
    fn next(&mut self, below: usize) -> usize {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        ((self.0 >> 33) % below as u64) as usize
    }
}

#[test]
fn the_fallback_is_never_silent_for_50_random_strings_in_any_state() {
    let shop = pharmacy();
    let alphabet: Vec<char> =
        "abcdefghijklmnñopqrstuvwxyzáéíóúü ABCXYZ0123456789¿?¡!.,-_@#$%&*()😀🙏🛒\n\t"
            .chars()
            .collect();
    let states = [
        State::Idle,
        State::Browsing {
            category: Some("Analgésicos".into()),
            cart: vec![line(CEPILLO, 1)],
        },
        State::ChoosingQuantity {
            sku: PARACETAMOL.into(),
            cart: vec![],
        },
        State::Cart {
            lines: vec![line(CEPILLO, 1)],
            total: Centavos(4_550),
        },
        State::Confirming {
            fulfilment: Fulfilment::Pickup,
            lines: vec![line(CEPILLO, 1)],
        },
        State::AwaitingPayment {
            order_id: "01JB".into(),
            payment_url: "https://pagos.example/l/1".into(),
            expires_at: shop.now,
        },
        State::Unknown,
    ];
    let mut rng = Lcg(20_250_512);
    for _ in 0..50 {
        let len = rng.next(60);
        let text: String = (0..len)
            .map(|_| alphabet[rng.next(alphabet.len())])
            .collect();
        for state in &states {
            let out = shop.say(state, &text);
            assert!(
                out.replies().next().is_some(),
                "silence for {text:?} in {state:?}"
            );
        }
    }
    for state in &states {
        for input in [
            Input::Media,
            Input::Unsupported,
            Input::Text(String::new()),
            Input::ButtonReply {
                id: "zzz".into(),
                title: "".into(),
            },
        ] {
            assert!(
                shop.step(state, input.clone()).replies().next().is_some(),
                "silence for {input:?} in {state:?}"
            );
        }
    }
}

#[test]
fn not_understood_offers_the_menu_and_asks_for_help() {
    let shop = pharmacy();
    let out = shop.say(&State::Idle, "no sé qué poner aquí jaja");
    assert!(said(&out).contains("no entendí tu mensaje"));
    assert!(said(&out).contains("*asesor*"));
    assert_eq!(button_ids(&out), menu_ids());
    let in_cart = shop.say(
        &State::Cart {
            lines: vec![line(CEPILLO, 1)],
            total: Centavos(4_550),
        },
        "asdfgh",
    );
    assert_eq!(button_ids(&in_cart), ["catalogo", "confirmar", "cancelar"]);
}

#[test]
fn media_and_unsupported_messages_get_an_answer_with_the_menu() {
    let shop = pharmacy();
    let media = shop.step(&State::Idle, Input::Media);
    assert!(said(&media).contains("solo puedo leer texto"));
    assert_eq!(button_ids(&media), menu_ids());
    let other = shop.step(&State::Idle, Input::Unsupported);
    assert_eq!(button_ids(&other), menu_ids());
}

#[test]
fn a_button_we_did_not_send_is_read_by_its_title() {
    let shop = pharmacy();
    let out = shop.step(
        &State::Idle,
        Input::ButtonReply {
            id: "promo_mayo_2025".into(),
            title: "Ver catálogo".into(),
        },
    );
    assert!(matches!(out.replies().next(), Some(Reply::List { .. })));
}

#[test]
fn a_state_from_a_newer_version_behaves_as_idle() {
    let shop = pharmacy();
    let out = shop.say(&State::Unknown, "hola");
    assert_eq!(out.state, State::Idle);
    assert_eq!(button_ids(&out), menu_ids());
}

// ---- pagination, limits, product lists ----

fn many_products(n: usize, category: &str) -> Vec<Offer> {
    (0..n)
        .map(|i| {
            offer(
                product(
                    &format!("SKU-{i:02}"),
                    &format!("Producto {i:02}"),
                    1_000 + i as i64,
                    TaxTreatment::Iva16,
                    &[category],
                ),
                3,
            )
        })
        .collect()
}

#[test]
fn twenty_five_products_are_shown_in_pages_with_ver_mas() {
    let mut shop = pharmacy();
    shop.offers = many_products(25, "Analgésicos");
    let mut seen = Vec::new();
    let mut page = shop.tap(&State::Idle, "catalogo");
    let mut pages = 0;
    loop {
        pages += 1;
        let rows = rows(&page);
        assert!(rows.len() <= 10);
        let (more, products): (Vec<Row>, Vec<Row>) =
            rows.into_iter().partition(|r| r.title == "Ver más");
        seen.extend(products.into_iter().map(|r| r.id));
        match more.as_slice() {
            [] => break,
            [more] => {
                assert!(more.description.ends_with("más"), "{}", more.description);
                page = shop.pick(&page.state, &more.id);
            }
            _ => panic!("two Ver más rows"),
        }
    }
    assert_eq!(pages, 3);
    assert_eq!(
        seen,
        (0..25)
            .map(|i| format!("sku:SKU-{i:02}"))
            .collect::<Vec<_>>()
    );
}

#[test]
fn many_categories_are_paginated_too() {
    let mut shop = pharmacy();
    shop.offers = (0..12)
        .flat_map(|c| {
            many_products(1, &format!("Categoría {c}"))
                .into_iter()
                .map(move |mut o| {
                    o.product.sku = format!("C{c}");
                    o
                })
        })
        .collect();
    let first = shop.tap(&State::Idle, "catalogo");
    let rows1 = rows(&first);
    assert_eq!(rows1.len(), 10);
    assert_eq!(rows1[9].id, "catalogo:1");
    assert_eq!(rows1[9].description, "3 más");
    let second = shop.pick(&first.state, "catalogo:1");
    assert_eq!(
        rows(&second)
            .iter()
            .map(|r| r.title.as_str())
            .collect::<Vec<_>>(),
        ["Categoría 9", "Categoría 10", "Categoría 11"]
    );
}

#[test]
fn titles_are_cut_to_whatsapp_limits() {
    let mut shop = pharmacy();
    let long_name = "Omeprazol 20 mg cápsulas de liberación retardada, caja con 28 cápsulas";
    shop.offers = vec![
        offer(
            product(
                "OME-20",
                long_name,
                123_456,
                TaxTreatment::Iva0,
                &["Gastrointestinales y digestivos"],
            ),
            7,
        ),
        offer(
            product("X", "Y", 100, TaxTreatment::Iva0, &["Otra categoría"]),
            1,
        ),
    ];
    shop.faqs[0].question =
        "¿Cuál es el horario de atención de la sucursal los días festivos?".into();
    shop.texts.button_catalog = "Ver todo nuestro catálogo de productos".into();
    let menu = shop.say(&State::Idle, "hola");
    assert_eq!(buttons(&menu)[0].1, "Ver todo nuestro ca…");
    let categories = shop.tap(&State::Idle, "catalogo");
    assert_eq!(rows(&categories)[0].title, "Gastrointestinales y di…");
    let products = shop.pick(&State::Idle, "cat:0:Gastrointestinales y digestivos");
    let row = &rows(&products)[0];
    assert_eq!(row.title, "Omeprazol 2… — $1,234.56");
    assert!(
        row.description
            .starts_with("7 disponibles · Omeprazol 20 mg cápsulas"),
        "{}",
        row.description
    );
    assert!(row.description.ends_with('…'));
    let help = shop.tap(&State::Idle, "ayuda");
    let faq = &rows(&help)[0];
    assert_eq!(faq.title, "¿Cuál es el horario de…");
    assert_eq!(
        faq.description,
        "¿Cuál es el horario de atención de la sucursal los días festivos?"
    );
}

#[test]
fn with_a_meta_catalog_browsing_sends_a_product_list() {
    let mut shop = pharmacy();
    shop.catalog_id = Some("1234567890".into());
    let out = shop.tap(&State::Idle, "catalogo");
    let [Action::Reply(Reply::ProductList {
        catalog_id,
        header,
        sections,
        ..
    })] = out.actions.as_slice()
    else {
        panic!("{:?}", out.actions)
    };
    assert_eq!(catalog_id, "1234567890");
    assert_eq!(header, "Farmacia San Juan");
    assert_eq!(
        *sections,
        [
            (
                "Analgésicos".to_string(),
                vec![PARACETAMOL.to_string(), IBUPROFENO.to_string()]
            ),
            ("Cuidado personal".to_string(), vec![CEPILLO.to_string()])
        ],
        "sold-out and inactive products are left out"
    );
}

#[test]
fn a_big_meta_catalog_goes_by_category_thirty_products_at_a_time() {
    let mut shop = pharmacy();
    shop.catalog_id = Some("1234567890".into());
    shop.offers.extend(many_products(40, "Genéricos"));
    let categories = shop.tap(&State::Idle, "catalogo");
    assert!(matches!(
        categories.replies().next(),
        Some(Reply::List { .. })
    ));
    let first = shop.pick(&categories.state, "cat:0:Genéricos");
    let replies: Vec<&Reply> = first.replies().collect();
    assert!(matches!(replies[0], Reply::ProductList { sections, .. } if sections[0].1.len() == 30));
    assert_eq!(button_ids(&first), ["cat:1:Genéricos", "catalogo"]);
    let second = shop.tap(&first.state, "cat:1:Genéricos");
    assert!(
        matches!(second.replies().next(), Some(Reply::ProductList { sections, .. }) if sections[0].1.len() == 10 && sections[0].1[0] == "SKU-30")
    );
    assert_eq!(second.actions.len(), 1);
}

#[test]
fn an_empty_catalog_says_so_and_offers_a_person() {
    let mut shop = pharmacy();
    shop.offers.clear();
    let out = shop.tap(&State::Idle, "catalogo");
    assert!(said(&out).contains("no tenemos productos disponibles"));
    let gone = shop.pick(&State::Idle, "cat:0:Analgésicos");
    assert!(said(&gone).contains("Esa categoría ya no tiene productos"));
}

// ---- small pieces ----

#[test]
fn choice_ids_read_back_as_the_same_choice() {
    let choices = [
        Choice::Menu,
        Choice::Catalog { page: 0 },
        Choice::Catalog { page: 3 },
        Choice::Category {
            page: 2,
            name: "Bebidas: frías".into(),
        },
        Choice::Product {
            sku: "A-1.b_2".into(),
        },
        Choice::Quantity {
            sku: "A-1".into(),
            qty: 3,
        },
        Choice::OrderStatus,
        Choice::Help,
        Choice::Faq { index: 4 },
        Choice::Agent,
        Choice::ViewCart,
        Choice::Confirm,
        Choice::Cancel,
    ];
    for choice in choices {
        assert_eq!(
            Choice::parse(&choice.id()),
            Some(choice.clone()),
            "{}",
            choice.id()
        );
    }
    for id in [
        "",
        "sku:",
        "qty:x:A",
        "qty:2:",
        "cat:1:",
        "cat:x:Bebidas",
        "catalogo:-1",
        "otra_cosa",
        "menu:1",
    ] {
        assert_eq!(Choice::parse(id), None, "{id}");
    }
}

#[test]
fn text_is_normalized_without_accents_case_or_punctuation() {
    assert_eq!(normalize("¿Cuál es su HORARIO?"), "cual es su horario");
    assert_eq!(normalize("  ¡Envíos a Peñón!  🛵 "), "envios a penon");
    assert_eq!(normalize("Menú"), "menu");
}

#[test]
fn templates_fill_known_placeholders_only() {
    use super::texts::fill;
    assert_eq!(
        fill("Hola {customer}, {x} {", &[("customer", "Ana")]),
        "Hola Ana, {x} {"
    );
}

#[test]
fn cut_texts_end_with_an_ellipsis_and_fit() {
    use super::reply::fit;
    assert_eq!(fit("Ver catálogo", 20), "Ver catálogo");
    assert_eq!(fit("Paracetamol 500 mg tabletas", 12), "Paracetamol…");
    assert_eq!(fit("   ", 20), "…");
}

#[test]
fn the_search_index_changes_nothing_the_customer_sees() {
    let shop = pharmacy();
    let index = crate::search::ProductIndex::build(shop.offers.iter().map(|o| &o.product), &[]);
    let cart = State::Cart {
        lines: vec![line(CEPILLO, 1)],
        total: Centavos(4_550),
    };
    for (state, text) in [
        (&State::Idle, "catálogo"),
        (&State::Idle, "paracetamol"),
        (&State::Idle, "me da 2 cepillos y un paracetamol"),
        (&cart, "quita el cepillo"),
        (&State::Idle, "tienen amoxicilina?"),
    ] {
        let plain = step(state, &Input::Text(text.into()), &shop.ctx());
        let with_index = step(
            state,
            &Input::Text(text.into()),
            &Context {
                index: Some(&index),
                ..shop.ctx()
            },
        );
        assert_eq!(plain, with_index, "{text}");
    }
    let category = Input::ListReply {
        id: "cat:0:Analgésicos".into(),
        title: "Analgésicos".into(),
    };
    assert_eq!(
        step(&State::Idle, &category, &shop.ctx()),
        step(
            &State::Idle,
            &category,
            &Context {
                index: Some(&index),
                ..shop.ctx()
            }
        )
    );
}

fn delivering() -> Shop {
    let mut shop = pharmacy();
    shop.delivery = Some(DeliveryOffer {
        fee: Centavos(4_000),
        free_from: Some(Centavos(50_000)),
        zone: "Centro y Roma".into(),
        postal_codes: vec!["06000".into(), "06700".into()],
        eta: "en 30 a 60 minutos".into(),
    });
    shop
}

fn summary_of(shop: &Shop, sku: &str, qty: u32) -> State {
    let out = shop.tap(&State::Idle, &format!("qty:{qty}:{sku}"));
    assert!(matches!(out.state, State::Cart { .. }), "{:?}", out.state);
    out.state
}

fn placed(step: &Step) -> Option<(&Vec<PricedLine>, Centavos, &Fulfilment)> {
    step.actions.iter().find_map(|a| match a {
        Action::PlaceOrder {
            lines,
            total,
            fulfilment,
            ..
        } => Some((lines, *total, fulfilment)),
        _ => None,
    })
}

#[test]
fn a_branch_that_delivers_asks_pickup_or_delivery_and_adds_the_fee_as_a_line() {
    let shop = delivering();
    let cart = summary_of(&shop, PARACETAMOL, 2);
    let asked = shop.tap(&cart, "confirmar");
    assert!(matches!(asked.state, State::ChoosingFulfilment { .. }));
    assert!(
        said(&asked).contains("Envío a domicilio: $40.00 · Centro y Roma"),
        "{}",
        said(&asked)
    );
    assert_eq!(button_ids(&asked), ["entrega:recoger", "entrega:envio"]);

    let address = shop.tap(&asked.state, "entrega:envio");
    assert!(matches!(address.state, State::GivingAddress { .. }));
    let outside = shop.say(&address.state, "Calle Pino 12, Polanco, 11560 CDMX");
    assert!(
        said(&outside).contains("no llegamos al código postal 11560"),
        "{}",
        said(&outside)
    );
    assert!(placed(&outside).is_none());
    let vague = shop.say(&address.state, "por aquí cerca");
    assert!(said(&vague).contains("No alcancé a leer una dirección"));

    let order = shop.say(&address.state, "Av. Juárez 50, Centro, 06000");
    let (lines, total, fulfilment) = placed(&order).expect("placed");
    assert_eq!(
        fulfilment,
        &Fulfilment::Delivery {
            address: "Av. Juárez 50, Centro, 06000".into(),
            latitude: None,
            longitude: None
        }
    );
    let fee = lines
        .iter()
        .find(|l| l.sku == DELIVERY_SKU)
        .expect("fee line");
    assert_eq!((fee.qty, fee.amounts.total), (1, Centavos(4_000)));
    assert_eq!(total, Centavos(2 * 4_550 + 4_000));
    let done = shop.step(
        &order.state,
        Input::OrderPlaced {
            order_id: "01JV0ABC".into(),
            total,
            payment_url: "https://pagos.example/l/XYZ".into(),
            expires_in_minutes: 30,
        },
    );
    assert!(
        said(&done).contains("Lo enviamos a: Av. Juárez 50, Centro, 06000 · en 30 a 60 minutos"),
        "{}",
        said(&done)
    );
}

#[test]
fn pickup_a_location_pin_and_free_delivery() {
    let shop = delivering();
    let cart = summary_of(&shop, PARACETAMOL, 1);
    let asked = shop.tap(&cart, "confirmar");
    let pickup = shop.say(&asked.state, "paso por él a la tienda");
    let (lines, total, fulfilment) = placed(&pickup).expect("placed");
    assert_eq!(fulfilment, &Fulfilment::Pickup);
    assert!(lines.iter().all(|l| l.sku != DELIVERY_SKU));
    assert_eq!(total, Centavos(4_550));
    let done = shop.step(
        &pickup.state,
        Input::OrderPlaced {
            order_id: "01JV0ABD".into(),
            total,
            payment_url: "https://pagos.example/l/XYZ".into(),
            expires_in_minutes: 30,
        },
    );
    assert!(
        said(&done).contains("Recoges en Farmacia San Juan (Centro): Av. Juárez 123"),
        "{}",
        said(&done)
    );

    let address = shop.say(&asked.state, "a domicilio porfa");
    assert!(
        matches!(address.state, State::GivingAddress { .. }),
        "{:?}",
        address.state
    );
    let pinned = shop.step(
        &address.state,
        Input::Location {
            latitude: "19.4326".into(),
            longitude: "-99.1332".into(),
            address: None,
        },
    );
    let (_, _, fulfilment) = placed(&pinned).expect("placed");
    assert!(matches!(
        fulfilment,
        Fulfilment::Delivery {
            latitude: Some(_),
            ..
        }
    ));

    // Over the free-delivery threshold ($500): no fee line.
    let big = summary_of(&shop, PARACETAMOL, 12);
    let asked = shop.tap(&big, "confirmar");
    assert!(
        said(&asked).contains("Envío a domicilio: gratis"),
        "{}",
        said(&asked)
    );
    let address = shop.tap(&asked.state, "entrega:envio");
    let order = shop.say(&address.state, "Roma Norte, Colima 100, 06700");
    let (lines, total, _) = placed(&order).expect("placed");
    assert!(lines.iter().all(|l| l.sku != DELIVERY_SKU));
    assert_eq!(total, Centavos(12 * 4_550));

    // A person or cancelling still works while the address is asked.
    let agent = shop.say(&address.state, "quiero hablar con alguien");
    assert_eq!(agent.state, State::HandedOff);
}

#[test]
fn only_the_closest_product_is_offered_as_such_in_the_customers_words() {
    let mut shop = pharmacy();
    shop.offers.push(offer(
        product(
            "7501943456012",
            "Pañales etapa 3, 40 piezas",
            28_900,
            TaxTreatment::Iva16,
            &["Bebés"],
        ),
        12,
    ));
    let out = shop.say(&State::Idle, "tienen pañales de adulto?");
    assert!(
        said(&out).contains("No manejamos *pañales adulto* tal cual"),
        "{}",
        said(&out)
    );
    assert!(matches!(out.state, State::ChoosingQuantity { ref sku, .. } if sku == "7501943456012"));
    let missing = shop.say(&State::Idle, "¿tienen amoxicilina para niños?");
    assert!(
        said(&missing).contains("No manejamos *amoxicilina niños*"),
        "{}",
        said(&missing)
    );
}

#[test]
fn a_branch_that_delivers_says_how_when_asked() {
    // Without a merchant FAQ about delivery (which would answer first).
    let mut shop = delivering();
    shop.faqs.clear();
    let out = shop.say(&State::Idle, "hacen envíos a domicilio?");
    assert!(
        said(&out).contains("Sí, enviamos a domicilio: $40.00 · Centro y Roma · en 30 a 60 minutos · gratis desde $500.00"),
        "{}",
        said(&out)
    );
    let mut pickup = pharmacy();
    pickup.faqs.clear();
    let pickup_only = pickup.say(&State::Idle, "hacen envíos a domicilio?");
    assert!(
        said(&pickup_only).contains("entregamos en la sucursal"),
        "{}",
        said(&pickup_only)
    );
}

mod promotions {
    use super::*;
    use crate::promotions::{Benefit, Promotion, Target, Unusable};

    fn promo(id: &str, name: &str, benefit: Benefit, applies_to: Target) -> Promotion {
        Promotion {
            name: name.into(),
            ..crate::promotions::tests::promo(id, benefit, applies_to)
        }
    }

    fn two_for_one() -> Promotion {
        promo(
            "P1",
            "2x1 en cepillos",
            Benefit::TakePay { take: 2, pay: 1 },
            Target::Products {
                skus: vec![CEPILLO.into()],
            },
        )
    }

    fn welcome() -> Promotion {
        let mut p = promo(
            "P2",
            "Bienvenida 10 %",
            Benefit::PercentOff { percent: 10 },
            Target::Order,
        );
        p.code = Some("BIENVENIDA".into());
        p
    }

    fn cart(lines: Vec<CartLine>, total: i64) -> State {
        State::Cart {
            lines,
            total: Centavos(total),
        }
    }

    #[test]
    fn the_summary_shows_each_discount_and_the_order_is_placed_at_the_discounted_total() {
        let mut shop = pharmacy();
        shop.promotions = vec![two_for_one()];
        let shown = shop.say(&State::Idle, "quiero 3 cepillos");
        let text = said(&shown);
        assert!(
            text.contains("• 3 × Cepillo dental suave ($45.50 c/u): $136.50"),
            "{text}"
        );
        assert!(text.contains("🏷️ 2x1 en cepillos: -$45.50"), "{text}");
        assert!(text.contains("*Total: $91.00*"), "{text}");
        assert!(text.contains("Ahorras $45.50"), "{text}");
        let confirmed = shop.tap(&shown.state, "confirmar");
        let Some((lines, total, _)) = placed(&confirmed) else {
            panic!("no order: {}", said(&confirmed));
        };
        assert_eq!(total, Centavos(9_100));
        assert_eq!(lines[0].discount, Centavos(4_550));
        assert_eq!(lines[0].amounts.total, Centavos(9_100));
        assert_eq!(lines[0].amounts.base.0 + lines[0].amounts.iva.0, 9_100);
        let applied = confirmed.actions.iter().find_map(|a| match a {
            Action::PlaceOrder { promotions, .. } => Some(promotions.clone()),
            _ => None,
        });
        assert_eq!(
            applied.map(|a| a
                .iter()
                .map(|p| (p.id.clone(), p.discount))
                .collect::<Vec<_>>()),
            Some(vec![("P1".to_owned(), Centavos(4_550))])
        );
    }

    #[test]
    fn a_code_written_alone_is_kept_and_the_cart_shows_it() {
        let mut shop = pharmacy();
        shop.promotions = vec![welcome()];
        let state = cart(vec![line(PARACETAMOL, 2)], 9_100);
        let step = shop.say(&state, "bienvenida");
        assert_eq!(
            step.actions.first(),
            Some(&Action::RememberCode {
                code: Some("BIENVENIDA".into())
            })
        );
        let text = said(&step);
        assert!(
            text.contains("Apliqué el código *BIENVENIDA*: 10 % de descuento en tu pedido"),
            "{text}"
        );
        assert!(text.contains("🏷️ Bienvenida 10 %: -$9.10"), "{text}");
        assert!(text.contains("*Total: $81.90*"), "{text}");
        assert_eq!(step.state, cart(vec![line(PARACETAMOL, 2)], 8_190));
        // The next message comes with the code the app kept; the order is placed with it and the
        // code is forgotten after.
        shop.code = Some("BIENVENIDA".into());
        let confirmed = shop.tap(&step.state, "confirmar");
        assert_eq!(placed(&confirmed).map(|p| p.1), Some(Centavos(8_190)));
        let done = shop.step(
            &confirmed.state,
            Input::OrderPlaced {
                order_id: "O1".into(),
                total: Centavos(8_190),
                payment_url: "https://pay.example/1".into(),
                expires_in_minutes: 30,
            },
        );
        assert_eq!(
            done.actions.first(),
            Some(&Action::RememberCode { code: None })
        );
    }

    #[test]
    fn a_code_named_in_a_sentence_before_any_cart_waits_for_the_order() {
        let mut shop = pharmacy();
        shop.promotions = vec![welcome()];
        let step = shop.say(&State::Idle, "hola tengo el código de descuento Bienvenida");
        assert!(
            matches!(step.actions.first(), Some(Action::RememberCode { code: Some(c) }) if c == "BIENVENIDA")
        );
        assert!(
            said(&step).contains("Se aplicará a tu pedido"),
            "{}",
            said(&step)
        );
    }

    #[test]
    fn unknown_and_unusable_codes_get_a_reason() {
        let mut shop = pharmacy();
        shop.refused_codes = vec![("VERANO".into(), Unusable::Ended)];
        let step = shop.say(&State::Idle, "VERANO");
        assert!(
            said(&step).contains("El código *VERANO* ya no está vigente"),
            "{}",
            said(&step)
        );
        assert!(step
            .actions
            .iter()
            .all(|a| !matches!(a, Action::RememberCode { .. })));
        let step = shop.say(&State::Idle, "mi cupón es PATITO-5");
        assert!(
            said(&step).contains("No encontré el código *PATITO-5*"),
            "{}",
            said(&step)
        );
        let step = shop.say(&State::Idle, "tengo un código");
        assert!(
            said(&step).contains("Escríbeme tu código"),
            "{}",
            said(&step)
        );
    }

    #[test]
    fn promotions_are_listed_on_request_without_the_codes() {
        let mut shop = pharmacy();
        let none = shop.say(&State::Idle, "¿hay promociones?");
        assert!(
            said(&none).contains("Por ahora no tenemos promociones"),
            "{}",
            said(&none)
        );
        shop.promotions = vec![two_for_one(), welcome()];
        let step = shop.say(&State::Idle, "tienen descuentos?");
        let text = said(&step);
        assert!(
            text.contains("• *2x1 en cepillos*: 2×1 en Cepillo dental suave"),
            "{text}"
        );
        assert!(!text.contains("BIENVENIDA"), "{text}");
    }

    #[test]
    fn a_faq_about_a_discount_of_the_merchants_answers_before_the_promotions() {
        let mut shop = pharmacy();
        shop.promotions = vec![two_for_one()];
        shop.faqs.push(Faq {
            question: "¿Tienen descuento INAPAM?".into(),
            answer: "Sí: 10 % con tu credencial INAPAM en mostrador.".into(),
            keywords: vec!["inapam".into(), "adulto mayor".into()],
            branches: Vec::new(),
        });
        let step = shop.say(&State::Idle, "tienen descuento inapam?");
        assert!(said(&step).contains("credencial INAPAM"), "{}", said(&step));
        let step = shop.say(&State::Idle, "tienen descuentos?");
        assert!(said(&step).contains("2x1 en cepillos"), "{}", said(&step));
    }

    #[test]
    fn free_delivery_by_promotion_drops_the_fee_line_and_is_recorded() {
        let mut shop = pharmacy();
        shop.delivery = Some(DeliveryOffer {
            fee: Centavos(4_000),
            free_from: None,
            zone: String::new(),
            postal_codes: Vec::new(),
            eta: String::new(),
        });
        shop.promotions = vec![promo(
            "P9",
            "Envío gratis desde $100",
            Benefit::FreeDelivery {
                from: Centavos(10_000),
            },
            Target::Order,
        )];
        let address = State::GivingAddress {
            lines: vec![line(PARACETAMOL, 3)],
            total: Centavos(13_650),
        };
        let step = shop.say(&address, "Calle Morelos 12, Centro");
        let Some((lines, total, _)) = placed(&step) else {
            panic!("no order: {}", said(&step));
        };
        assert!(lines.iter().all(|l| l.sku != DELIVERY_SKU));
        assert_eq!(total, Centavos(13_650));
        let applied = step.actions.iter().find_map(|a| match a {
            Action::PlaceOrder { promotions, .. } => Some(promotions.clone()),
            _ => None,
        });
        assert_eq!(applied.map(|a| a[0].discount), Some(Centavos(4_000)));
        // Below the threshold the fee is charged.
        let small = State::GivingAddress {
            lines: vec![line(PARACETAMOL, 1)],
            total: Centavos(4_550),
        };
        let step = shop.say(&small, "Calle Morelos 12, Centro");
        let Some((lines, total, _)) = placed(&step) else {
            panic!("no order: {}", said(&step));
        };
        assert!(lines.iter().any(|l| l.sku == DELIVERY_SKU));
        assert_eq!(total, Centavos(8_550));
    }

    #[test]
    fn a_promotion_used_up_at_the_last_moment_shows_the_cart_again() {
        let shop = pharmacy();
        let state = State::Confirming {
            lines: vec![line(CEPILLO, 2)],
            fulfilment: Fulfilment::Pickup,
        };
        let step = shop.step(
            &state,
            Input::PromotionUnavailable {
                name: "2x1 en cepillos".into(),
            },
        );
        let text = said(&step);
        assert!(
            text.contains("La promoción *2x1 en cepillos* se acaba de agotar"),
            "{text}"
        );
        assert!(text.contains("*Total: $91.00*"), "{text}");
        assert_eq!(step.state, cart(vec![line(CEPILLO, 2)], 9_100));
    }
}

#[test]
fn consent_changes_are_told_apart_from_everything_else_a_bot_may_answer() {
    for yes in [
        "baja",
        "BAJA",
        "stop",
        "ya no me manden mensajes",
        "baja promociones",
        "alta",
        "alta promociones",
    ] {
        assert!(super::changes_consent(yes), "{yes}");
    }
    for no in [
        "saldo",
        "cuál es mi saldo?",
        "quiero bajar de peso",
        "mi tarjeta no pasa",
        "promociones?",
        "hola",
    ] {
        assert!(!super::changes_consent(no), "{no}");
    }
}
