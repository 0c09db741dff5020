//! Building invoices: individual (from order lines), global (from tickets) and notas de crédito.
//! Every sealed document here also passes the independent SAT-arithmetic checker.

mod common;

use common::{
    fixture_csd, header, header_resico, line, pago_tarjeta, paid, receptor_fisica, receptor_moral,
    resico_csd, sat_rules, typical_order,
};
use mostrador_cfdi::{
    CfdiRelacionados, Comprobante, DatosFiscales, FormaPago, InformacionGlobal, InvoiceHeader,
    Meses, OrderLine, Pago, Periodicidad, Receptor, SealedCfdi, Ticket, TicketPart,
    TipoDeComprobante, TipoRelacion, UsoCfdi,
};
use mostrador_core::money::Centavos;
use mostrador_core::tax::TaxTreatment;
use rust_decimal::Decimal;

fn sealed(c: &Comprobante) -> SealedCfdi {
    let sealed = c.seal(&fixture_csd()).expect("seals");
    if let Err(problems) = sat_rules::check(sealed.xml()) {
        panic!("SAT arithmetic: {problems:#?}\n{}", sealed.xml());
    }
    sealed
}

fn dec(s: &str) -> Decimal {
    s.parse().expect("decimal")
}

#[test]
fn individual_invoice_total_is_exactly_what_the_customer_paid() {
    let lines = typical_order();
    let c = Comprobante::ingreso(&header(), receptor_fisica(), pago_tarjeta(), &lines).unwrap();
    assert_eq!(c.total_centavos(), paid(&lines));
    assert_eq!(c.conceptos().len(), 5);
    assert_eq!(c.tipo(), TipoDeComprobante::Ingreso);
    let s = sealed(&c);
    assert_eq!(s.total_centavos(), paid(&lines));
    assert!(s.xml().contains(r#"Total="390.75""#), "{}", s.xml());
}

#[test]
fn shelf_prices_become_valor_unitario_with_enough_decimals() {
    // 3 × $45.50 with IVA: the customer paid $136.50.
    let lines = [line("53131608", "Jabón", 3, 4_550, TaxTreatment::Iva16)];
    let c = Comprobante::ingreso(&header(), receptor_fisica(), pago_tarjeta(), &lines).unwrap();
    let k = &c.conceptos()[0];
    assert_eq!(k.valor_unitario(), dec("39.223333"));
    assert_eq!(k.importe(), dec("117.67"));
    let t = &k.traslados()[0];
    assert_eq!((t.base(), t.importe()), (dec("117.67"), Some(dec("18.83"))));
    assert_eq!(t.tasa_o_cuota(), Some("0.160000"));
    assert_eq!(c.total(), dec("136.50"));
    let s = sealed(&c);
    assert!(s
        .xml()
        .contains(r#"ValorUnitario="39.223333" Importe="117.67""#));
}

#[test]
fn prices_before_iva_get_it_added_like_the_cart() {
    let mut l = line("53131502", "Pasta dental", 2, 10_000, TaxTreatment::Iva8);
    l.precio_incluye_iva = false;
    let c = Comprobante::ingreso(&header(), receptor_fisica(), pago_tarjeta(), &[l]).unwrap();
    assert_eq!(c.subtotal(), dec("200.00"));
    assert_eq!(c.total(), dec("216.00"));
    assert_eq!(c.conceptos()[0].valor_unitario(), dec("100"));
    assert!(sealed(&c)
        .xml()
        .contains(r#"TasaOCuota="0.080000" Importe="16.00""#));
}

#[test]
fn discounts_show_on_the_line_and_on_the_comprobante() {
    let mut l = line("53131608", "Jabón", 2, 11_600, TaxTreatment::Iva16);
    l.descuento = Centavos(1_160);
    let c =
        Comprobante::ingreso(&header(), receptor_fisica(), pago_tarjeta(), &[l.clone()]).unwrap();
    let k = &c.conceptos()[0];
    assert_eq!(
        (k.importe(), k.descuento()),
        (dec("200.00"), Some(dec("10.00")))
    );
    assert_eq!(k.traslados()[0].base(), dec("190.00"));
    assert_eq!(c.descuento(), Some(dec("10.00")));
    assert_eq!(c.total_centavos(), Centavos(22_040));
    assert_eq!(c.total_centavos(), paid(&[l]));
    sealed(&c);
}

#[test]
fn exempt_lines_carry_a_traslado_without_rate_or_amount() {
    let lines = [
        line("51142001", "Paracetamol", 1, 4_550, TaxTreatment::Exempt),
        line("51191905", "Suero oral", 2, 2_890, TaxTreatment::Exempt),
    ];
    let c = Comprobante::ingreso(&header(), receptor_fisica(), pago_tarjeta(), &lines).unwrap();
    let imp = c.impuestos().unwrap();
    assert_eq!(imp.total_trasladados(), None);
    assert_eq!(imp.traslados().len(), 1);
    assert_eq!(imp.traslados()[0].tipo_factor(), "Exento");
    assert_eq!(c.total(), dec("103.30"));
    let xml = sealed(&c).into_xml();
    assert!(
        xml.contains(r#"<cfdi:Traslado Base="45.50" Impuesto="002" TipoFactor="Exento"/>"#),
        "{xml}"
    );
    assert!(!xml.contains("TotalImpuestosTrasladados"));
    assert!(xml.contains(r#"ObjetoImp="02""#));
}

#[test]
fn the_summary_groups_lines_by_rate_in_a_fixed_order() {
    let lines = [
        line("51142001", "Paracetamol", 1, 4_550, TaxTreatment::Exempt),
        line("53131502", "Pasta", 1, 5_490, TaxTreatment::Iva16),
        line("51191905", "Suero", 1, 2_890, TaxTreatment::Iva0),
        line("53131608", "Jabón", 1, 2_350, TaxTreatment::Iva16),
    ];
    let c = Comprobante::ingreso(&header(), receptor_fisica(), pago_tarjeta(), &lines).unwrap();
    let factors: Vec<Option<&str>> = c
        .impuestos()
        .unwrap()
        .traslados()
        .iter()
        .map(|t| t.tasa_o_cuota())
        .collect();
    assert_eq!(factors, [Some("0.160000"), Some("0.000000"), None]);
    let t16 = &c.impuestos().unwrap().traslados()[0];
    assert_eq!(t16.base(), dec("47.33") + dec("20.26"));
    assert_eq!(c.total_centavos(), paid(&lines));
    sealed(&c);
}

#[test]
fn every_bad_line_is_reported_with_its_position() {
    let mut lines = typical_order();
    lines[0].clave_prod_serv = "50501500".into();
    lines[1].cantidad = 0;
    lines[2].precio_unitario = Centavos(0);
    lines[3].descuento = Centavos(99_999);
    lines[4].clave_unidad = "BOX".into();
    let e = Comprobante::ingreso(&header(), receptor_fisica(), pago_tarjeta(), &lines).unwrap_err();
    let fields: Vec<&str> = e.iter().map(|e| e.field.as_str()).collect();
    assert_eq!(
        fields,
        [
            "lineas[0].clave_prod_serv",
            "lineas[1].cantidad",
            "lineas[2].precio_unitario",
            "lineas[3].descuento",
            "lineas[4].clave_unidad"
        ]
    );
    let empty =
        Comprobante::ingreso(&header(), receptor_fisica(), pago_tarjeta(), &[]).unwrap_err();
    assert_eq!(empty[0].field, "lineas");
}

#[test]
fn catalog_text_is_cleaned_not_refused() {
    let mut l = line(
        "53131608",
        "  Jabón | neutro\n 150 g ",
        1,
        2_350,
        TaxTreatment::Iva16,
    );
    l.unidad = None;
    l.no_identificacion = Some("AT&T-<1>".into());
    let c = Comprobante::ingreso(&header(), receptor_fisica(), pago_tarjeta(), &[l]).unwrap();
    let k = &c.conceptos()[0];
    assert_eq!(k.descripcion().as_str(), "Jabón / neutro 150 g");
    assert_eq!(k.unidad().map(|u| u.as_str()), Some("Pieza"));
    let s = sealed(&c);
    assert!(s.xml().contains(r#"NoIdentificacion="AT&amp;T-&lt;1&gt;""#));
    assert!(s.cadena_original().contains("|AT&T-<1>|"));
}

#[test]
fn a_customer_without_rfc_gets_the_lugar_de_expedicion_as_postal_code() {
    let datos = |cp: &str| DatosFiscales {
        residencia_fiscal: None,
        num_reg_id_trib: None,
        rfc: "XAXX010101000".into(),
        nombre: "Juan Pérez".into(),
        codigo_postal: cp.into(),
        regimen_fiscal: "616".into(),
        uso_cfdi: "S01".into(),
    };
    let lines = typical_order();
    let wrong = Receptor::parse(&datos("06600")).unwrap();
    let e = Comprobante::ingreso(&header(), wrong, pago_tarjeta(), &lines).unwrap_err();
    assert_eq!(e[0].field, "codigo_postal");
    assert!(e[0].message.contains("42501"));
    let right = Receptor::parse(&datos("42501")).unwrap();
    sealed(&Comprobante::ingreso(&header(), right, pago_tarjeta(), &lines).unwrap());
}

#[test]
fn ppd_goes_with_forma_99_and_pue_never_does() {
    let c =
        Comprobante::ingreso(&header(), receptor_fisica(), Pago::ppd(), &typical_order()).unwrap();
    let xml = sealed(&c).into_xml();
    assert!(xml.contains(r#"FormaPago="99""#) && xml.contains(r#"MetodoPago="PPD""#));
    assert_eq!(
        Pago::pue(FormaPago::PorDefinir).unwrap_err().field,
        "forma_pago"
    );
}

#[test]
fn header_problems_are_reported_and_fractions_of_a_second_dropped() {
    let mut h = header();
    h.serie = Some("A|B".into());
    h.folio = Some("x".repeat(41));
    let e =
        Comprobante::ingreso(&h, receptor_fisica(), pago_tarjeta(), &typical_order()).unwrap_err();
    let fields: Vec<&str> = e.iter().map(|e| e.field.as_str()).collect();
    assert_eq!(fields, ["serie", "folio"]);

    let mut h = header();
    h.fecha = common::fecha(2025, 6, 15, 12, 30, 5) + chrono::TimeDelta::milliseconds(750);
    h.serie = None;
    h.folio = Some("  ".into());
    let c = Comprobante::ingreso(&h, receptor_fisica(), pago_tarjeta(), &typical_order()).unwrap();
    assert_eq!(c.fecha_text(), "2025-06-15T12:30:05");
    assert!(c.serie().is_none() && c.folio().is_none());
}

fn global_header() -> InvoiceHeader {
    let mut h = header();
    h.serie = Some("G".into());
    h
}

fn mensual(mes: u8, anio: i32) -> InformacionGlobal {
    InformacionGlobal::new(Periodicidad::Mensual, Meses::new(mes).unwrap(), anio).unwrap()
}

#[test]
fn global_invoice_has_one_concepto_per_ticket() {
    let tickets = vec![
        Ticket::new(
            "T-0001",
            FormaPago::Efectivo,
            TaxTreatment::Iva16,
            Centavos(11_600),
        ),
        Ticket::new(
            "T-0002",
            FormaPago::TarjetaDeDebito,
            TaxTreatment::Iva0,
            Centavos(45_050),
        ),
        Ticket::new(
            "T-0003",
            FormaPago::Efectivo,
            TaxTreatment::Exempt,
            Centavos(999),
        ),
        Ticket {
            folio: "T-0004".into(),
            forma_pago: FormaPago::Transferencia,
            partes: vec![
                TicketPart {
                    iva_cargado: None,
                    iva: TaxTreatment::Iva16,
                    total: Centavos(5_490),
                },
                TicketPart {
                    iva_cargado: None,
                    iva: TaxTreatment::Iva0,
                    total: Centavos(9_100),
                },
                TicketPart {
                    iva_cargado: None,
                    iva: TaxTreatment::Iva16,
                    total: Centavos(2_350),
                },
            ],
        },
    ];
    let c = Comprobante::global(&global_header(), mensual(6, 2025), &tickets).unwrap();
    let expected: i64 = tickets.iter().map(|t| t.total().unwrap().0).sum();
    assert_eq!(c.total_centavos(), Centavos(expected));
    let r = c.receptor();
    assert_eq!(
        (
            r.rfc().as_str(),
            r.nombre().as_str(),
            r.domicilio_fiscal().as_str(),
            r.uso_cfdi()
        ),
        ("XAXX010101000", "PUBLICO EN GENERAL", "42501", UsoCfdi::S01)
    );
    // The largest ticket was paid by debit card.
    assert_eq!(c.pago().forma(), FormaPago::TarjetaDeDebito);
    assert_eq!(c.conceptos().len(), 4);
    let mixed = &c.conceptos()[3];
    assert_eq!(
        mixed.no_identificacion().map(|t| t.as_str()),
        Some("T-0004")
    );
    assert_eq!(mixed.traslados().len(), 2);
    assert_eq!(
        mixed.importe(),
        mixed.traslados().iter().map(|t| t.base()).sum::<Decimal>()
    );
    assert_eq!(mixed.cantidad(), Decimal::ONE);
    assert_eq!(mixed.valor_unitario(), mixed.importe());
    let xml = sealed(&c).into_xml();
    assert!(
        xml.contains(r#"<cfdi:InformacionGlobal Periodicidad="04" Meses="06" Año="2025"/>"#),
        "{xml}"
    );
    assert!(xml.contains(r#"ClaveProdServ="01010101" NoIdentificacion="T-0001" Cantidad="1" ClaveUnidad="ACT" Descripcion="Venta" ValorUnitario="100.00""#), "{xml}");
}

#[test]
fn a_resico_person_invoicing_a_company_shows_the_isr_it_withholds() {
    let lines = typical_order();
    let paid = paid(&lines);
    let c = Comprobante::ingreso(&header_resico(), receptor_moral(), pago_tarjeta(), &lines)
        .expect("invoice");
    // Each line withholds 1.25 % of its amount before IVA, rounded to the centavo.
    let mut withheld = Decimal::ZERO;
    for k in c.conceptos() {
        let base = k.importe() - k.descuento().unwrap_or_default();
        let r = k.retenciones();
        assert_eq!(r.len(), 1);
        assert_eq!(r[0].base(), base);
        assert_eq!(
            r[0].importe(),
            (base * Decimal::new(125, 4))
                .round_dp_with_strategy(2, rust_decimal::RoundingStrategy::MidpointAwayFromZero)
        );
        withheld += r[0].importe();
    }
    assert!(withheld > Decimal::ZERO);
    assert_eq!(c.impuestos().and_then(|i| i.retenido_isr()), Some(withheld));
    // The company pays the invoice's Total and the ISR to SAT: together, what the sale cost.
    assert_eq!(c.total() + withheld, Decimal::new(paid.0, 2));
    let xml = c.seal(&resico_csd()).expect("seals").into_xml();
    assert!(
        xml.contains(r#"Impuesto="001" TipoFactor="Tasa" TasaOCuota="0.012500""#),
        "{xml}"
    );
    assert!(xml.contains("TotalImpuestosRetenidos="), "{xml}");
    sat_rules::check(&xml).expect("SAT's arithmetic");

    // No retención to a persona física, from a RESICO company, or from the general régimen.
    let to_person =
        Comprobante::ingreso(&header_resico(), receptor_fisica(), pago_tarjeta(), &lines)
            .expect("invoice");
    let from_company =
        Comprobante::ingreso(&header(), receptor_moral(), pago_tarjeta(), &lines).expect("invoice");
    for c in [to_person, from_company] {
        assert!(c.conceptos().iter().all(|k| k.retenciones().is_empty()));
        assert_eq!(c.total(), Decimal::new(paid.0, 2));
        assert_eq!(c.impuestos().and_then(|i| i.retenido_isr()), None);
    }
}

#[test]
fn a_global_declares_the_iva_charged_on_each_ticket() {
    // Ten lines of $1.17 at 16 %: each is base 1.01 + IVA 0.16, so the ticket was charged 1.60 of
    // IVA on 10.10 of base, where one traslado admits only 1.61 or 1.62.
    let ticket = |folio: &str, lines: i64, tax: TaxTreatment| {
        let line = mostrador_cfdi::amounts::split_paid(Centavos(117), tax).unwrap();
        Ticket {
            folio: folio.into(),
            forma_pago: FormaPago::Efectivo,
            partes: vec![
                TicketPart {
                    iva: tax,
                    total: Centavos(line.pagado * lines),
                    iva_cargado: Some(Centavos(line.iva * lines)),
                },
                TicketPart {
                    iva: TaxTreatment::Iva0,
                    total: Centavos(2_000),
                    iva_cargado: Some(Centavos::ZERO),
                },
            ],
        }
    };
    let tickets = vec![
        ticket("T-1", 10, TaxTreatment::Iva16),
        ticket("T-2", 1, TaxTreatment::Iva16),
    ];
    let c = Comprobante::global(&global_header(), mensual(6, 2025), &tickets).unwrap();
    assert_eq!(c.total_centavos(), Centavos(1_170 + 2_000 + 117 + 2_000));
    let of = |folio: &str| -> Vec<&mostrador_cfdi::model::Concepto> {
        c.conceptos()
            .iter()
            .filter(|k| k.no_identificacion().map(|t| t.as_str()) == Some(folio))
            .collect()
    };
    let iva = |conceptos: &[&mostrador_cfdi::model::Concepto]| -> Decimal {
        conceptos
            .iter()
            .flat_map(|k| k.traslados())
            .filter_map(|t| t.importe())
            .sum()
    };
    let t1 = of("T-1");
    // 10.10 × 0.16 = 1.616 against 1.60 charged: the main concepto holds both rates and 9.85 of
    // base with 1.57 of IVA (9.85 × 0.16 = 1.576); a 25-centavo concepto carries 0.03 (one
    // centavo under 0.04).
    assert_eq!(t1.len(), 2, "{t1:?}");
    assert_eq!(t1[1].traslados()[0].importe(), Some(Decimal::new(3, 2)));
    assert_eq!(t1[0].traslados().len(), 2);
    assert_eq!(iva(&t1), Decimal::new(160, 2));
    let base: Decimal = t1.iter().map(|k| k.importe()).sum();
    assert_eq!(base, Decimal::new(1_010 + 2_000, 2));
    for k in &t1[1..] {
        assert_eq!(k.importe(), Decimal::new(25, 2));
        assert_eq!(k.descripcion().as_str(), "Venta");
    }
    // A one-line ticket is one concepto, as before.
    assert_eq!(of("T-2").len(), 1);
    assert_eq!(iva(&of("T-2")), Decimal::new(16, 2));
}

#[test]
fn global_invoice_refuses_what_sat_would() {
    let tickets = vec![
        Ticket::new(
            "T-1",
            FormaPago::Efectivo,
            TaxTreatment::Iva16,
            Centavos(100),
        ),
        Ticket::new(
            "T-1",
            FormaPago::Efectivo,
            TaxTreatment::Iva16,
            Centavos(100),
        ),
        Ticket::new(
            "T-2",
            FormaPago::PorDefinir,
            TaxTreatment::Iva16,
            Centavos(0),
        ),
    ];
    let e = Comprobante::global(&global_header(), mensual(6, 2023), &tickets).unwrap_err();
    let fields: Vec<&str> = e.iter().map(|e| e.field.as_str()).collect();
    assert_eq!(
        fields,
        [
            "anio",
            "tickets[1].folio",
            "tickets[2].forma_pago",
            "tickets[2].total"
        ]
    );

    let bimestral = InformacionGlobal::new(
        Periodicidad::Bimestral,
        Meses::bimestre_de(5).unwrap(),
        2025,
    )
    .unwrap();
    let ok = [Ticket::new(
        "T-9",
        FormaPago::Efectivo,
        TaxTreatment::Iva16,
        Centavos(100),
    )];
    let e = Comprobante::global(&global_header(), bimestral, &ok).unwrap_err();
    assert_eq!(e[0].field, "periodicidad");
    assert!(e[0].message.contains("621"));
    assert!(InformacionGlobal::new(Periodicidad::Bimestral, Meses::new(5).unwrap(), 2025).is_err());
    assert!(InformacionGlobal::new(Periodicidad::Diario, Meses::new(15).unwrap(), 2025).is_err());
    assert_eq!(
        Comprobante::global(&global_header(), mensual(6, 2025), &[]).unwrap_err()[0].field,
        "tickets"
    );
}

#[test]
fn nota_de_credito_relates_the_invoice_and_uses_g02() {
    let uuid = "5fb2822e-396d-4725-8521-cdc4bdd20ccf";
    let rel = CfdiRelacionados::new(TipoRelacion::NotaDeCredito, [uuid]).unwrap();
    let lines = [OrderLine::bonificacion(
        "Devolución de 1 jabón",
        Centavos(2_350),
        TaxTreatment::Iva16,
    )];
    let c = Comprobante::egreso(
        &header(),
        receptor_fisica(),
        rel,
        FormaPago::TarjetaDeDebito,
        &lines,
    )
    .unwrap();
    assert_eq!(c.tipo(), TipoDeComprobante::Egreso);
    assert_eq!(c.receptor().uso_cfdi(), UsoCfdi::G02);
    assert_eq!(c.total_centavos(), Centavos(2_350));
    let xml = sealed(&c).into_xml();
    assert!(xml.contains(r#"TipoDeComprobante="E""#));
    assert!(xml.contains(r#"<cfdi:CfdiRelacionados TipoRelacion="01"><cfdi:CfdiRelacionado UUID="5FB2822E-396D-4725-8521-CDC4BDD20CCF"/></cfdi:CfdiRelacionados>"#), "{xml}");
    assert!(xml.contains(r#"ClaveProdServ="84111506""#) && xml.contains(r#"ClaveUnidad="ACT""#));

    let bad = CfdiRelacionados::new(TipoRelacion::NotaDeDebito, [uuid]).unwrap();
    let e = Comprobante::egreso(
        &header(),
        receptor_fisica(),
        bad,
        FormaPago::Efectivo,
        &lines,
    )
    .unwrap_err();
    assert_eq!(e[0].field, "tipo_relacion");
    assert_eq!(
        CfdiRelacionados::new(TipoRelacion::NotaDeCredito, ["no-es-uuid"]).unwrap_err()[0].field,
        "uuids[0]"
    );
}

#[test]
fn a_nota_to_the_general_public_carries_the_period_of_the_global_it_corrects() {
    let uuid = "5fb2822e-396d-4725-8521-cdc4bdd20ccf";
    let rel = || CfdiRelacionados::new(TipoRelacion::Devolucion, [uuid]).unwrap();
    let lines = [OrderLine::bonificacion(
        "Devolución del ticket 8841",
        Centavos(11_600),
        TaxTreatment::Iva16,
    )];
    let periodo =
        InformacionGlobal::new(Periodicidad::Diario, Meses::new(6).unwrap(), 2025).unwrap();
    let c = Comprobante::egreso_publico_en_general(
        &header(),
        periodo,
        rel(),
        FormaPago::TarjetaDeDebito,
        &lines,
    )
    .unwrap();
    assert_eq!(c.receptor().rfc().as_str(), "XAXX010101000");
    assert_eq!(c.receptor().uso_cfdi(), UsoCfdi::S01);
    let xml = sealed(&c).into_xml();
    assert!(
        xml.contains(r#"<cfdi:InformacionGlobal Periodicidad="01" Meses="06" Año="2025"/>"#),
        "{xml}"
    );
    assert!(xml.contains(r#"TipoRelacion="03""#), "{xml}");

    // Without the period SAT's rule is broken: refused, not stamped.
    let e = Comprobante::egreso(
        &header(),
        Receptor::publico_en_general(header().lugar_expedicion),
        rel(),
        FormaPago::TarjetaDeDebito,
        &lines,
    )
    .unwrap_err();
    assert_eq!(e[0].field, "informacion_global");
}

#[test]
fn an_ingreso_may_only_substitute_earlier_cfdi() {
    let c = Comprobante::ingreso(
        &header(),
        receptor_fisica(),
        pago_tarjeta(),
        &typical_order(),
    )
    .unwrap();
    let uuid = "5FB2822E-396D-4725-8521-CDC4BDD20CCF";
    let nota = CfdiRelacionados::new(TipoRelacion::NotaDeCredito, [uuid]).unwrap();
    assert_eq!(
        c.clone().with_relacionados(nota).unwrap_err().field,
        "tipo_relacion"
    );
    let sust = CfdiRelacionados::new(TipoRelacion::Sustitucion, [uuid]).unwrap();
    let again = CfdiRelacionados::new(
        TipoRelacion::Sustitucion,
        [uuid, "6FB2822E-396D-4725-8521-CDC4BDD20CCF"],
    )
    .unwrap();
    let c = c
        .with_relacionados(sust)
        .unwrap()
        .with_relacionados(again)
        .unwrap();
    assert_eq!(c.relacionados().len(), 1);
    assert_eq!(c.relacionados()[0].uuids().len(), 2);
    assert!(sealed(&c).xml().contains(r#"TipoRelacion="04""#));
}

#[test]
fn a_company_customer_is_named_without_regimen_societario() {
    let r = Receptor::parse(&DatosFiscales {
        residencia_fiscal: None,
        num_reg_id_trib: None,
        rfc: "XIA190128J61".into(),
        nombre: "Xenon Industrial Articles, S.A. de C.V.".into(),
        codigo_postal: "76343".into(),
        regimen_fiscal: "601".into(),
        uso_cfdi: "G01".into(),
    })
    .unwrap();
    let c = Comprobante::ingreso(&header(), r, pago_tarjeta(), &typical_order()).unwrap();
    let s = sealed(&c);
    assert!(s.xml().contains(r#"<cfdi:Receptor Rfc="XIA190128J61" Nombre="XENON INDUSTRIAL ARTICLES" DomicilioFiscalReceptor="76343" RegimenFiscalReceptor="601" UsoCFDI="G01"/>"#));
}
