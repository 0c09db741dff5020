//! Reading a stamped CFDI 4.0 back for printing: every field the printed representation shows, the
//! verification URL, and refusals of what is not a stamped CFDI 4.0.

mod pac_support;
use pac_support as support;

use mostrador_cfdi::stamped::{StampedCfdi, StampedError, Timbre};
use support::{Tfd, SEALED};

const UUID: &str = "AF124DC7-BD75-5EFF-8EDF-28C1E7D43B1D";

fn stamped() -> String {
    Tfd::for_sealed(SEALED, UUID).stamp(SEALED)
}

#[test]
fn reads_every_printed_field_with_exact_amounts() {
    let cfdi = StampedCfdi::parse(&stamped()).expect("stamped CFDI");

    assert_eq!(cfdi.serie_folio().as_deref(), Some("A-1001"));
    assert_eq!(cfdi.fecha, "2026-11-20T10:30:00");
    assert_eq!(cfdi.tipo_de_comprobante, "I");
    assert_eq!(cfdi.lugar_expedicion, "26015");
    assert_eq!(cfdi.forma_pago.as_deref(), Some("01"));
    assert_eq!(cfdi.metodo_pago.as_deref(), Some("PUE"));
    assert_eq!(cfdi.moneda, "MXN");
    assert_eq!(
        (cfdi.subtotal.as_str(), cfdi.total.as_str()),
        ("100.00", "116.00")
    );
    assert_eq!(cfdi.descuento, None);
    assert_eq!(cfdi.no_certificado, "30001000000500003416");
    assert_eq!(cfdi.sello, support::sello(SEALED));
    assert_eq!(cfdi.emisor.rfc, "EKU9003173C9");
    assert_eq!(cfdi.emisor.nombre, "ESCUELA KEMPER URGATE");
    assert_eq!(cfdi.emisor.regimen_fiscal, "601");
    assert_eq!(cfdi.receptor.rfc, "XIA190128J61");
    assert_eq!(cfdi.receptor.domicilio_fiscal, "76343");
    assert_eq!(cfdi.receptor.regimen_fiscal, "601");
    assert_eq!(cfdi.receptor.uso_cfdi, "G03");
    assert_eq!(cfdi.informacion_global, None);

    let concepto = &cfdi.conceptos[0];
    assert_eq!(concepto.clave_prod_serv, "50202306");
    assert_eq!(concepto.no_identificacion.as_deref(), Some("SKU-001"));
    assert_eq!(concepto.cantidad, "1");
    assert_eq!(concepto.clave_unidad, "H87");
    assert_eq!(concepto.unidad.as_deref(), Some("Pieza"));
    assert_eq!(
        concepto.descripcion,
        "Refresco de cola 600 ml (envase no retornable) — edición “Año Nuevo” & más"
    );
    assert_eq!(concepto.valor_unitario, "100.00");
    assert_eq!(concepto.importe, "100.00");
    assert_eq!(concepto.objeto_imp, "02");
    assert_eq!(concepto.iva_trasladado().as_deref(), Some("16.00"));

    let impuestos = cfdi.impuestos.as_ref().expect("taxes summary");
    assert_eq!(
        impuestos.total_impuestos_trasladados.as_deref(),
        Some("16.00")
    );
    assert_eq!(
        impuestos.traslados[0].tasa_o_cuota.as_deref(),
        Some("0.160000")
    );

    assert_eq!(cfdi.timbre.uuid, UUID);
    assert_eq!(cfdi.timbre.fecha_timbrado, "2026-11-20T10:30:14");
    assert_eq!(cfdi.timbre.rfc_prov_certif, "CVD110412TF6");
    assert_eq!(cfdi.timbre.no_certificado_sat, "30001000000500003456");
    assert_eq!(cfdi.timbre.leyenda, None);
    assert!(!cfdi.is_sandbox());
}

#[test]
fn the_verification_url_follows_anexo_20() {
    let cfdi = StampedCfdi::parse(&stamped()).expect("stamped CFDI");
    let sello = support::sello(SEALED);

    assert_eq!(
        cfdi.verification_url(),
        format!(
            "https://verificacfdi.facturaelectronica.sat.gob.mx/default.aspx?id={UUID}&re=EKU9003173C9&rr=XIA190128J61&tt=116.0&fe={}",
            &sello[sello.len() - 8..]
        )
    );
}

#[test]
fn global_information_related_cfdis_and_withholdings_are_read() {
    let xml = stamped()
        .replacen(
            "<cfdi:Emisor",
            "<cfdi:InformacionGlobal Periodicidad=\"04\" Meses=\"11\" Año=\"2026\"/>\
             <cfdi:CfdiRelacionados TipoRelacion=\"04\"><cfdi:CfdiRelacionado UUID=\"4738AA21-ED8E-57D4-91D9-5D14F232FD1B\"/></cfdi:CfdiRelacionados>\
             <cfdi:Emisor",
            1,
        )
        .replacen(
            "</cfdi:Traslados></cfdi:Impuestos></cfdi:Concepto>",
            "</cfdi:Traslados><cfdi:Retenciones><cfdi:Retencion Base=\"100.00\" Impuesto=\"001\" TipoFactor=\"Tasa\" TasaOCuota=\"0.012500\" Importe=\"1.25\"/></cfdi:Retenciones></cfdi:Impuestos></cfdi:Concepto>",
            1,
        );

    let cfdi = StampedCfdi::parse(&xml).expect("stamped CFDI");

    let global = cfdi.informacion_global.as_ref().expect("global");
    assert_eq!(
        (
            global.periodicidad.as_str(),
            global.meses.as_str(),
            global.anio.as_str()
        ),
        ("04", "11", "2026")
    );
    assert_eq!(cfdi.cfdi_relacionados[0].tipo_relacion, "04");
    assert_eq!(
        cfdi.cfdi_relacionados[0].uuids,
        vec!["4738AA21-ED8E-57D4-91D9-5D14F232FD1B"]
    );
    let retencion = &cfdi.conceptos[0].retenciones[0];
    assert_eq!(
        (retencion.impuesto.as_str(), retencion.importe.as_deref()),
        ("001", Some("1.25"))
    );
}

#[test]
fn the_tfd_alone_is_read_for_the_pac_checks() {
    let timbre = Timbre::from_stamped_xml(&stamped()).expect("tfd");
    assert_eq!(timbre.uuid, UUID);
    assert_eq!(timbre.sello_cfd, support::sello(SEALED));
    assert!(timbre
        .cadena_original()
        .starts_with(&format!("||1.1|{UUID}|2026-11-20T10:30:14|CVD110412TF6|")));
}

#[test]
fn what_is_not_a_stamped_cfdi_40_is_refused() {
    assert!(matches!(
        StampedCfdi::parse("<cfdi:Comprobante"),
        Err(StampedError::Xml(_))
    ));
    assert!(matches!(StampedCfdi::parse(""), Err(StampedError::Xml(_))));
    assert_eq!(StampedCfdi::parse(SEALED), Err(StampedError::NotStamped));

    let v33 = stamped()
        .replace("http://www.sat.gob.mx/cfd/4", "http://www.sat.gob.mx/cfd/3")
        .replace("Version=\"4.0\"", "Version=\"3.3\"");
    assert_eq!(StampedCfdi::parse(&v33), Err(StampedError::NotCfdi40));

    let float_total = stamped().replace("Total=\"116.00\"", "Total=\"1.16e2\"");
    assert!(matches!(
        StampedCfdi::parse(&float_total),
        Err(StampedError::Invalid { ref field, .. }) if field == "Comprobante@Total"
    ));

    let no_receptor = stamped().replace(
        "<cfdi:Receptor Rfc=\"XIA190128J61\" Nombre=\"XENON INDUSTRIAL ARTICLES\" DomicilioFiscalReceptor=\"76343\" RegimenFiscalReceptor=\"601\" UsoCFDI=\"G03\"/>",
        "",
    );
    assert_eq!(
        StampedCfdi::parse(&no_receptor),
        Err(StampedError::Missing("cfdi:Receptor".into()))
    );

    let bad_uuid = stamped().replace(UUID, "not-a-uuid");
    assert!(matches!(
        StampedCfdi::parse(&bad_uuid),
        Err(StampedError::Invalid { .. })
    ));

    let with_dtd = format!(
        "<!DOCTYPE x [<!ENTITY e \"boom\">]>{}",
        stamped().replacen("<?xml version='1.0' encoding='UTF-8'?>\n", "", 1)
    );
    assert!(matches!(
        StampedCfdi::parse(&with_dtd),
        Err(StampedError::Xml(_))
    ));
}
