use super::*;
use chrono::TimeZone;
use proptest::prelude::*;

/// A running promotion for everyone with no code, limits or window (tests change what they need).
pub(crate) fn promo(id: &str, benefit: Benefit, applies_to: Target) -> Promotion {
    Promotion {
        id: id.to_owned(),
        name: format!("promo {id}"),
        benefit,
        applies_to,
        branches: Vec::new(),
        starts_at: None,
        ends_at: None,
        code: None,
        limits: Limits::default(),
        exclusive: false,
        min_order: None,
        paused: false,
        issued_codes: false,
        customer_groups: Vec::new(),
    }
}

fn skus(list: &[&str]) -> Target {
    Target::Products {
        skus: list.iter().map(|s| (*s).to_owned()).collect(),
    }
}

fn item<'a>(sku: &'a str, categories: &'a [String], qty: u32, unit: i64) -> Item<'a> {
    Item {
        sku,
        categories,
        qty,
        unit: Centavos(unit),
    }
}

fn at(day: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 12, day, 12, 0, 0)
        .single()
        .expect("valid")
}

#[test]
fn two_for_one_gives_every_second_unit() {
    let p = promo("P1", Benefit::TakePay { take: 2, pay: 1 }, skus(&["VITC"]));
    let none: Vec<String> = Vec::new();
    for (qty, free) in [(1, 0), (2, 1), (3, 1), (4, 2), (5, 2)] {
        let out = apply(&[item("VITC", &none, qty, 4_500)], &[&p], None);
        assert_eq!(out.discount, Centavos(free * 4_500), "{qty} units");
    }
    let three_for_two = promo("P2", Benefit::TakePay { take: 3, pay: 2 }, skus(&["VITC"]));
    let out = apply(&[item("VITC", &none, 7, 1_000)], &[&three_for_two], None);
    assert_eq!(out.discount, Centavos(2_000), "7 units: two sets of three");
}

#[test]
fn two_for_one_on_a_category_mixes_products_and_frees_the_cheaper() {
    let p = promo(
        "P1",
        Benefit::TakePay { take: 2, pay: 1 },
        Target::Category {
            category: "Vitaminas".into(),
        },
    );
    let vit = vec!["Vitaminas".to_owned()];
    let other = vec!["Analgésicos".to_owned()];
    let items = [
        item("VITC", &vit, 1, 9_900),
        item("COMPB", &vit, 1, 12_000),
        item("PARA", &other, 2, 4_550),
    ];
    let out = apply(&items, &[&p], None);
    assert_eq!(out.discount, Centavos(9_900), "the cheaper vitamin's worth");
    // Spread over both vitamins by what each can give: 9,899 and 11,999 of 21,898.
    assert_eq!(out.lines[0].total(), Centavos(4_475));
    assert_eq!(out.lines[1].total(), Centavos(5_425));
    assert_eq!(out.lines[2].total(), Centavos::ZERO, "not a vitamin");
    // Three vitamins: one group of two; the cheapest of all goes free.
    let items = [item("VITC", &vit, 2, 9_900), item("COMPB", &vit, 1, 12_000)];
    assert_eq!(apply(&items, &[&p], None).discount, Centavos(9_900));
    // Four: two free, the two cheapest.
    let items = [item("VITC", &vit, 2, 9_900), item("COMPB", &vit, 2, 12_000)];
    assert_eq!(apply(&items, &[&p], None).discount, Centavos(19_800));
}

#[test]
fn volume_price_applies_from_the_minimum_only() {
    let p = promo(
        "P1",
        Benefit::Volume {
            min_qty: 3,
            unit_price: Centavos(3_300),
        },
        skus(&["CURITAS"]),
    );
    let none: Vec<String> = Vec::new();
    assert_eq!(
        apply(&[item("CURITAS", &none, 2, 4_000)], &[&p], None).discount,
        Centavos::ZERO
    );
    assert_eq!(
        apply(&[item("CURITAS", &none, 3, 4_000)], &[&p], None).discount,
        Centavos(2_100),
        "3 at $33 instead of $40"
    );
    assert_eq!(
        apply(&[item("CURITAS", &none, 3, 3_000)], &[&p], None).discount,
        Centavos::ZERO,
        "a volume price above the shelf price gives nothing"
    );
}

#[test]
fn category_percentage_ignores_case_and_accents() {
    let p = promo(
        "P1",
        Benefit::PercentOff { percent: 10 },
        Target::Category {
            category: "vitaminas y minerales".into(),
        },
    );
    let cats = vec!["Vitaminas y Minerales".to_owned()];
    let other = vec!["Analgésicos".to_owned()];
    let out = apply(
        &[item("A", &cats, 1, 9_999), item("B", &other, 1, 5_000)],
        &[&p],
        None,
    );
    assert_eq!(
        out.lines[0].total(),
        Centavos(1_000),
        "10 % of 99.99 rounds half up"
    );
    assert_eq!(out.lines[1].total(), Centavos::ZERO);
    assert_eq!(out.applied.len(), 1);
    assert_eq!(out.applied[0].discount, Centavos(1_000));
}

#[test]
fn a_line_gets_its_best_product_promotion_only() {
    let pct = promo("P1", Benefit::PercentOff { percent: 20 }, skus(&["X"]));
    let two_for_one = promo("P2", Benefit::TakePay { take: 2, pay: 1 }, skus(&["X"]));
    let none: Vec<String> = Vec::new();
    let out = apply(&[item("X", &none, 2, 1_000)], &[&pct, &two_for_one], None);
    assert_eq!(
        out.discount,
        Centavos(1_000),
        "2×1 (10.00) beats 20 % (4.00)"
    );
    assert_eq!(
        out.lines[0].own.as_ref().map(|(id, _)| id.as_str()),
        Some("P2")
    );
    let out = apply(&[item("X", &none, 1, 1_000)], &[&pct, &two_for_one], None);
    assert_eq!(out.discount, Centavos(200), "one unit: only the 20 %");
}

#[test]
fn the_order_promotion_applies_after_line_discounts_and_adds_up() {
    let line = promo("P1", Benefit::TakePay { take: 2, pay: 1 }, skus(&["A"]));
    let order = promo("P2", Benefit::PercentOff { percent: 10 }, Target::Order);
    let none: Vec<String> = Vec::new();
    let items = [item("A", &none, 2, 1_000), item("B", &none, 3, 333)];
    let out = apply(&items, &[&line, &order], None);
    // After the 2×1: 1,000 + 999 left; 10 % = 199.9 → 200, spread 100 / 100.
    assert_eq!(out.order_promotion.as_deref(), Some("P2"));
    assert_eq!(out.lines.iter().map(|l| l.order_share.0).sum::<i64>(), 200);
    assert_eq!(out.discount, Centavos(1_200));
    let by_id: Vec<(&str, i64)> = out
        .applied
        .iter()
        .map(|a| (a.id.as_str(), a.discount.0))
        .collect();
    assert_eq!(by_id, vec![("P1", 1_000), ("P2", 200)]);
}

#[test]
fn an_amount_off_the_order_never_takes_a_line_below_a_centavo() {
    let order = promo(
        "P1",
        Benefit::AmountOff {
            amount: Centavos(100_000),
        },
        Target::Order,
    );
    let none: Vec<String> = Vec::new();
    let items = [item("A", &none, 1, 500), item("B", &none, 2, 1)];
    let out = apply(&items, &[&order], None);
    assert_eq!(out.lines[0].total(), Centavos(499));
    assert_eq!(out.lines[1].total(), Centavos(1), "2 × 1 centavo keeps one");
    assert_eq!(out.discount, Centavos(500));
}

#[test]
fn an_exclusive_promotion_wins_only_when_it_is_cheaper_for_the_customer() {
    let none: Vec<String> = Vec::new();
    let small = promo("P1", Benefit::PercentOff { percent: 5 }, skus(&["A"]));
    let order = promo("P2", Benefit::PercentOff { percent: 5 }, Target::Order);
    let mut big = promo("P3", Benefit::PercentOff { percent: 30 }, Target::Order);
    big.exclusive = true;
    let items = [item("A", &none, 1, 10_000)];
    let out = apply(&items, &[&small, &order, &big], None);
    assert_eq!(out.discount, Centavos(3_000));
    assert_eq!(
        out.applied.len(),
        1,
        "nothing combines with the exclusive one"
    );
    assert_eq!(out.applied[0].id, "P3");
    let mut modest = big.clone();
    modest.benefit = Benefit::PercentOff { percent: 8 };
    let out = apply(&items, &[&small, &order, &modest], None);
    assert_eq!(out.discount, Centavos(975), "5 % then 5 % beats 8 % alone");
    assert_eq!(out.applied.len(), 2);
}

#[test]
fn a_coded_promotion_needs_its_code_in_any_case() {
    let mut p = promo("P1", Benefit::PercentOff { percent: 10 }, Target::Order);
    p.code = Some("BIENVENIDA".into());
    let none: Vec<String> = Vec::new();
    let items = [item("A", &none, 1, 10_000)];
    assert_eq!(apply(&items, &[&p], None).discount, Centavos::ZERO);
    assert_eq!(apply(&items, &[&p], Some("OTRO")).discount, Centavos::ZERO);
    let out = apply(&items, &[&p], Some(" bienvenida "));
    assert_eq!(out.discount, Centavos(1_000));
    assert_eq!(out.applied[0].code.as_deref(), Some("BIENVENIDA"));
}

#[test]
fn a_minimum_order_counts_products_at_shelf_price() {
    let mut p = promo(
        "P1",
        Benefit::AmountOff {
            amount: Centavos(5_000),
        },
        Target::Order,
    );
    p.min_order = Some(Centavos(50_000));
    let none: Vec<String> = Vec::new();
    assert_eq!(
        apply(&[item("A", &none, 4, 12_000)], &[&p], None).discount,
        Centavos::ZERO
    );
    assert_eq!(
        apply(&[item("A", &none, 5, 10_000)], &[&p], None).discount,
        Centavos(5_000)
    );
}

#[test]
fn free_delivery_from_a_threshold_and_with_any_other_promotion() {
    let p = promo(
        "P1",
        Benefit::FreeDelivery {
            from: Centavos(30_000),
        },
        Target::Order,
    );
    assert!(free_delivery(&[&p], None, Centavos(29_999)).is_none());
    assert_eq!(
        free_delivery(&[&p], None, Centavos(30_000)).map(|p| p.id.as_str()),
        Some("P1")
    );
    let none: Vec<String> = Vec::new();
    assert_eq!(
        apply(&[item("A", &none, 1, 50_000)], &[&p], None).discount,
        Centavos::ZERO,
        "free delivery takes nothing off the products"
    );
}

#[test]
fn usable_checks_window_branch_and_limits() {
    let mut p = promo("P1", Benefit::PercentOff { percent: 10 }, Target::Order);
    p.starts_at = Some(at(5));
    p.ends_at = Some(at(10));
    p.branches = vec!["centro".into()];
    p.limits = Limits {
        total_uses: Some(100),
        per_customer: Some(1),
        first_purchase_only: true,
    };
    let facts = Facts {
        now: at(6),
        branch_id: "centro",
        ordered_before: false,
        uses: 99,
        customer_uses: 0,
        groups: &[],
    };
    assert_eq!(usable(&p, &facts), Ok(()));
    assert_eq!(
        usable(
            &p,
            &Facts {
                now: at(4),
                ..facts
            }
        ),
        Err(Unusable::NotYet)
    );
    assert_eq!(
        usable(
            &p,
            &Facts {
                now: at(10),
                ..facts
            }
        ),
        Err(Unusable::Ended)
    );
    assert_eq!(
        usable(
            &p,
            &Facts {
                branch_id: "polanco",
                ..facts
            }
        ),
        Err(Unusable::OtherBranch)
    );
    assert_eq!(
        usable(&p, &Facts { uses: 100, ..facts }),
        Err(Unusable::UsedUp)
    );
    assert_eq!(
        usable(
            &p,
            &Facts {
                customer_uses: 1,
                ..facts
            }
        ),
        Err(Unusable::AlreadyUsed)
    );
    assert_eq!(
        usable(
            &p,
            &Facts {
                ordered_before: true,
                ..facts
            }
        ),
        Err(Unusable::FirstPurchaseOnly)
    );
    p.paused = true;
    assert_eq!(usable(&p, &facts), Err(Unusable::Paused));
    assert!(!running(&p, at(6)));
}

#[test]
fn bad_promotions_are_refused_field_by_field() {
    let now = at(6);
    let fields = |p: &Promotion| -> Vec<&'static str> {
        problems(p, now).into_iter().map(|(f, _)| f).collect()
    };
    assert!(fields(&promo(
        "P",
        Benefit::PercentOff { percent: 15 },
        Target::Order
    ))
    .is_empty());
    assert_eq!(
        fields(&promo(
            "P",
            Benefit::PercentOff { percent: 100 },
            Target::Order
        )),
        vec!["benefit.percent"]
    );
    assert_eq!(
        fields(&promo(
            "P",
            Benefit::PercentOff { percent: 0 },
            Target::Order
        )),
        vec!["benefit.percent"]
    );
    assert_eq!(
        fields(&promo(
            "P",
            Benefit::AmountOff {
                amount: Centavos(-5)
            },
            Target::Order
        )),
        vec!["benefit.amount"]
    );
    assert_eq!(
        fields(&promo(
            "P",
            Benefit::TakePay { take: 2, pay: 2 },
            skus(&["A"])
        )),
        vec!["benefit.pay"]
    );
    assert_eq!(
        fields(&promo(
            "P",
            Benefit::TakePay { take: 2, pay: 1 },
            Target::Order
        )),
        vec!["applies_to"]
    );
    assert_eq!(
        fields(&promo(
            "P",
            Benefit::Volume {
                min_qty: 1,
                unit_price: Centavos(0)
            },
            skus(&["A"])
        )),
        vec!["benefit.min_qty", "benefit.unit_price"]
    );
    assert_eq!(
        fields(&promo(
            "P",
            Benefit::FreeDelivery { from: Centavos(0) },
            skus(&["A"])
        )),
        vec!["applies_to"]
    );
    assert_eq!(
        fields(&promo("P", Benefit::PercentOff { percent: 5 }, skus(&[]))),
        vec!["applies_to.skus"]
    );
    let mut p = promo("P", Benefit::PercentOff { percent: 5 }, Target::Order);
    p.code = Some("BIEN VENIDA".into());
    p.starts_at = Some(at(9));
    p.ends_at = Some(at(8));
    p.name = " ".into();
    assert_eq!(fields(&p), vec!["name", "ends_at", "code"]);
    p.code = Some("CAMIÓN".into());
    p.ends_at = Some(at(1));
    p.starts_at = None;
    p.name = "ok".into();
    assert_eq!(fields(&p), vec!["ends_at", "code"]);
}

#[test]
fn codes_are_upper_case_letters_digits_and_hyphens() {
    assert_eq!(normalize_code(" bienvenida "), Some("BIENVENIDA".into()));
    assert_eq!(normalize_code("verano-10"), Some("VERANO-10".into()));
    assert_eq!(normalize_code("año"), None);
    assert_eq!(normalize_code("a b"), None);
    assert_eq!(normalize_code("ab"), None);
    assert_eq!(
        normalize_code("12345"),
        None,
        "a number alone reads as a quantity"
    );
}

#[test]
fn contradictory_rules_are_named() {
    let now = at(6);
    let a = promo(
        "P1",
        Benefit::TakePay { take: 2, pay: 1 },
        skus(&["A", "B"]),
    );
    let b = promo("P2", Benefit::TakePay { take: 3, pay: 2 }, skus(&["B"]));
    assert_eq!(
        conflict(&b, std::slice::from_ref(&a), now).map(|c| c.0),
        Some("applies_to")
    );
    let c = promo("P3", Benefit::PercentOff { percent: 10 }, skus(&["B"]));
    assert!(
        conflict(&c, std::slice::from_ref(&a), now).is_none(),
        "another kind combines by the best-price rule"
    );
    let mut later = b.clone();
    later.starts_at = Some(at(20));
    let mut ending = a.clone();
    ending.ends_at = Some(at(19));
    assert!(
        conflict(&later, &[ending], now).is_none(),
        "windows that do not meet"
    );
    let mut other_branch = b.clone();
    other_branch.branches = vec!["polanco".into()];
    let mut centro = a.clone();
    centro.branches = vec!["centro".into()];
    assert!(conflict(&other_branch, &[centro], now).is_none());
    let mut coded = c.clone();
    coded.code = Some("hola-1".into());
    let mut same_code = promo(
        "P4",
        Benefit::AmountOff {
            amount: Centavos(100),
        },
        Target::Order,
    );
    same_code.code = Some("HOLA-1".into());
    assert_eq!(
        conflict(&same_code, &[coded.clone()], now).map(|c| c.0),
        Some("code")
    );
    coded.paused = true;
    assert!(
        conflict(&same_code, &[coded], now).is_none(),
        "a paused one is out of the way"
    );
}

#[test]
fn describes_promotions_as_customers_read_them() {
    let mut p = promo(
        "P1",
        Benefit::TakePay { take: 2, pay: 1 },
        Target::Category {
            category: "Vitaminas".into(),
        },
    );
    assert_eq!(describe(&p, |_| None), "2×1 en Vitaminas");
    p.benefit = Benefit::PercentOff { percent: 10 };
    p.applies_to = Target::Order;
    p.code = Some("BIENVENIDA".into());
    p.min_order = Some(Centavos(30_000));
    assert_eq!(
        describe(&p, |_| None),
        "10 % de descuento en tu pedido en compras desde $300.00 con el código BIENVENIDA"
    );
    let v = promo(
        "P2",
        Benefit::Volume {
            min_qty: 3,
            unit_price: Centavos(3_300),
        },
        skus(&["CUR"]),
    );
    assert_eq!(
        describe(&v, |_| Some("Curitas".into())),
        "3 o más a $33.00 c/u en Curitas"
    );
}

fn arb_benefit() -> impl Strategy<Value = Benefit> {
    prop_oneof![
        (1u32..=99).prop_map(|percent| Benefit::PercentOff { percent }),
        (1i64..=50_000).prop_map(|a| Benefit::AmountOff {
            amount: Centavos(a)
        }),
        (2u32..=5)
            .prop_flat_map(|take| (Just(take), 1..take))
            .prop_map(|(take, pay)| Benefit::TakePay { take, pay }),
        (2u32..=6, 1i64..=20_000).prop_map(|(min_qty, u)| Benefit::Volume {
            min_qty,
            unit_price: Centavos(u)
        }),
    ]
}

proptest! {
    #[test]
    fn no_line_goes_below_a_centavo_and_the_parts_add_up(
        lines in proptest::collection::vec((0usize..4, 1u32..=12, 1i64..=100_000), 1..8),
        promos in proptest::collection::vec((arb_benefit(), 0usize..6, any::<bool>()), 0..6),
    ) {
        let skus_all = ["A", "B", "C", "D"];
        let none: Vec<String> = Vec::new();
        let items: Vec<Item<'_>> = lines
            .iter()
            .map(|(s, q, u)| item(skus_all[*s], &none, *q, *u))
            .collect();
        let list: Vec<Promotion> = promos
            .iter()
            .enumerate()
            .map(|(i, (b, target, exclusive))| {
                let applies_to = match (b, *target) {
                    (Benefit::PercentOff { .. } | Benefit::AmountOff { .. }, 4) => Target::Order,
                    // A deal over several products (an N×M pools their units).
                    (_, 5) => skus(&["A", "B", "C"]),
                    (_, t) => skus(&[skus_all[t % 4]]),
                };
                let mut p = promo(&format!("P{i}"), b.clone(), applies_to);
                p.exclusive = *exclusive;
                p
            })
            .collect();
        let refs: Vec<&Promotion> = list.iter().collect();
        let out = apply(&items, &refs, None);
        prop_assert_eq!(out.lines.len(), items.len());
        let mut sum = 0;
        for (it, l) in items.iter().zip(&out.lines) {
            let d = l.total().0;
            prop_assert!(d >= 0);
            prop_assert!(d < it.gross(), "line below a centavo: {} of {}", d, it.gross());
            sum += d;
        }
        prop_assert_eq!(out.discount.0, sum);
        prop_assert_eq!(out.applied.iter().map(|a| a.discount.0).sum::<i64>(), sum);
        // Best price: never less than any promotion alone.
        for p in &refs {
            let alone = apply(&items, &[p], None);
            prop_assert!(out.discount >= alone.discount, "{} alone gives more", p.id);
        }
        // Each line's taxes still split: the discounted amounts exist.
        for (it, l) in items.iter().zip(&out.lines) {
            let amounts = crate::tax::discounted_line_amounts(it.unit, it.qty, crate::tax::TaxTreatment::Iva16, true, l.total());
            prop_assert!(amounts.is_some());
            let amounts = amounts.expect("checked");
            prop_assert_eq!(amounts.total.0, it.gross() - l.total().0);
            prop_assert_eq!(amounts.base.0 + amounts.iva.0, amounts.total.0);
        }
    }
}

#[test]
fn issued_codes_apply_only_with_the_customers_own_code() {
    let mut p = promo("P1", Benefit::PercentOff { percent: 15 }, Target::Order);
    p.issued_codes = true;
    let none: Vec<String> = Vec::new();
    let items = [item("A", &none, 1, 10_000)];
    assert_eq!(
        apply(&items, &[&p], Some("VUELVE-7K2QX")).discount,
        Centavos::ZERO,
        "not offered with a code yet"
    );
    let mut offered = p.clone();
    offered.code = Some("VUELVE-7K2QX".into());
    assert_eq!(
        apply(&items, &[&offered], Some("vuelve-7k2qx")).discount,
        Centavos(1_500)
    );
    assert_eq!(apply(&items, &[&offered], None).discount, Centavos::ZERO);
    let mut coded = p.clone();
    coded.code = Some("VUELVE".into());
    assert_eq!(
        problems(&coded, at(6))
            .into_iter()
            .map(|(f, _)| f)
            .collect::<Vec<_>>(),
        vec!["code"]
    );
    let automatic = promo("P2", Benefit::PercentOff { percent: 5 }, Target::Order);
    assert!(
        conflict(&p, &[automatic], at(6)).is_none(),
        "issued codes do not contradict an automatic promotion"
    );
}

#[test]
fn issued_codes_are_readable_and_valid_codes() {
    let code = issued_code("VUELVE", [0, 7, 30, 31, 255]);
    assert_eq!(code, "VUELVE-AH9AH");
    assert_eq!(normalize_code(&code), Some(code.clone()));
    assert!(!code[7..].contains(['0', 'O', '1', 'I', 'L']));
    assert_eq!(code.len(), 12);
}

#[test]
fn a_group_price_is_for_its_customers_only() {
    let mut p = promo("P1", Benefit::PercentOff { percent: 15 }, Target::Order);
    p.customer_groups = vec!["Mayoreo".into()];
    let mayoreo = vec!["mayoreo ".to_owned()];
    let facts = |groups| Facts {
        now: at(6),
        branch_id: "centro",
        ordered_before: true,
        uses: 0,
        customer_uses: 0,
        groups,
    };
    assert_eq!(usable(&p, &facts(&mayoreo)), Ok(()));
    assert_eq!(usable(&p, &facts(&[])), Err(Unusable::NotInGroup));
    assert_eq!(
        usable(&p, &facts(&["empleados".to_owned()])),
        Err(Unusable::NotInGroup)
    );
    let everyone = promo("P2", Benefit::PercentOff { percent: 5 }, Target::Order);
    assert!(
        conflict(&p, &[everyone], at(6)).is_none(),
        "a group's price sits beside everyone's"
    );
    let mut same_group = promo("P3", Benefit::PercentOff { percent: 10 }, Target::Order);
    same_group.customer_groups = vec!["MAYOREO".into()];
    assert_eq!(
        conflict(&same_group, &[p.clone()], at(6)).map(|c| c.0),
        Some("applies_to")
    );
    let mut bad = p.clone();
    bad.customer_groups = vec![" ".into()];
    assert_eq!(
        problems(&bad, at(6))
            .into_iter()
            .map(|(f, _)| f)
            .collect::<Vec<_>>(),
        vec!["customer_groups"]
    );
}
