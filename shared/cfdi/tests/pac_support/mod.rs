//! Shared by the `pac_*` and `pdf_*` tests: a CFDI 4.0 sealed with SAT's public test CSD
//! (EKU9003173C9, sealed by satcfdi as an independent implementation), and the answers PACs give,
//! built the way each PAC writes them.
#![allow(dead_code)]

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine;

/// A CFDI 4.0 sealed with SAT's test CSD 30001000000500003416: one concepto of $100.00 plus 16%
/// IVA, total $116.00; the description carries accents, curly quotes, an em dash and `&`.
pub const SEALED: &str = r##"<?xml version='1.0' encoding='UTF-8'?>
<cfdi:Comprobante xmlns:cfdi="http://www.sat.gob.mx/cfd/4" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" Version="4.0" Serie="A" Folio="1001" Fecha="2026-11-20T10:30:00" Sello="q+oXLEE1KQaqPEjhowYwJPSBu6YXVqt3a4WMifS20604DzrQjW2tLq7kQAwPAwBUI+F/D64kPuzKcQBIJ3rEZYV2XsCk2q+U7ic6SAAcJHzGftFsOr/H1A+XFYBKQ3oTnqvgXFDMs6HffRpuNxJZuW8OeXALdpw/rr/XRfQ6zuQZaIKRYnb/t9MxAogrtX28pFlWZ/wCtL2zFTUqohcKZK10tCTaBMVwZyRK9uD5yqrQ9OSy3YeLdyFn8mgeQ8KsboV19Jz7BM6gaN9j/XGrMSV5xYqamXjQB0XvA/qoJwBaR9LdlAMynww4l9S3pxmb5QcvHGdbKH1XG4jR0mzTrQ==" FormaPago="01" NoCertificado="30001000000500003416" Certificado="MIIFsDCCA5igAwIBAgIUMzAwMDEwMDAwMDA1MDAwMDM0MTYwDQYJKoZIhvcNAQELBQAwggErMQ8wDQYDVQQDDAZBQyBVQVQxLjAsBgNVBAoMJVNFUlZJQ0lPIERFIEFETUlOSVNUUkFDSU9OIFRSSUJVVEFSSUExGjAYBgNVBAsMEVNBVC1JRVMgQXV0aG9yaXR5MSgwJgYJKoZIhvcNAQkBFhlvc2Nhci5tYXJ0aW5lekBzYXQuZ29iLm14MR0wGwYDVQQJDBQzcmEgY2VycmFkYSBkZSBjYWxpejEOMAwGA1UEEQwFMDYzNzAxCzAJBgNVBAYTAk1YMRkwFwYDVQQIDBBDSVVEQUQgREUgTUVYSUNPMREwDwYDVQQHDAhDT1lPQUNBTjERMA8GA1UELRMIMi41LjQuNDUxJTAjBgkqhkiG9w0BCQITFnJlc3BvbnNhYmxlOiBBQ0RNQS1TQVQwHhcNMjMwNTE4MTE0MzUxWhcNMjcwNTE4MTE0MzUxWjCB1zEnMCUGA1UEAxMeRVNDVUVMQSBLRU1QRVIgVVJHQVRFIFNBIERFIENWMScwJQYDVQQpEx5FU0NVRUxBIEtFTVBFUiBVUkdBVEUgU0EgREUgQ1YxJzAlBgNVBAoTHkVTQ1VFTEEgS0VNUEVSIFVSR0FURSBTQSBERSBDVjElMCMGA1UELRMcRUtVOTAwMzE3M0M5IC8gVkFEQTgwMDkyN0RKMzEeMBwGA1UEBRMVIC8gVkFEQTgwMDkyN0hTUlNSTDA1MRMwEQYDVQQLEwpTdWN1cnNhbCAxMIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEAtmecO6n2GS0zL025gbHGQVxznPDICoXzR2uUngz4DqxVUC/w9cE6FxSiXm2ap8Gcjg7wmcZfm85EBaxCx/0J2u5CqnhzIoGCdhBPuhWQnIh5TLgj/X6uNquwZkKChbNe9aeFirU/JbyN7Egia9oKH9KZUsodiM/pWAH00PCtoKJ9OBcSHMq8Rqa3KKoBcfkg1ZrgueffwRLws9yOcRWLb02sDOPzGIm/jEFicVYt2Hw1qdRE5xmTZ7AGG0UHs+unkGjpCVeJ+BEBn0JPLWVvDKHZAQMj6s5Bku35+d/MyATkpOPsGT/VTnsouxekDfikJD1f7A1ZpJbqDpkJnss3vQIDAQABox0wGzAMBgNVHRMBAf8EAjAAMAsGA1UdDwQEAwIGwDANBgkqhkiG9w0BAQsFAAOCAgEAFaUgj5PqgvJigNMgtrdXZnbPfVBbukAbW4OGnUhNrA7SRAAfv2BSGk16PI0nBOr7qF2mItmBnjgEwk+DTv8Zr7w5qp7vleC6dIsZFNJoa6ZndrE/f7KO1CYruLXr5gwEkIyGfJ9NwyIagvHHMszzyHiSZIA850fWtbqtythpAliJ2jF35M5pNS+YTkRB+T6L/c6m00ymN3q9lT1rB03YywxrLreRSFZOSrbwWfg34EJbHfbFXpCSVYdJRfiVdvHnewN0r5fUlPtR9stQHyuqewzdkyb5jTTw02D2cUfL57vlPStBj7SEi3uOWvLrsiDnnCIxRMYJ2UA2ktDKHk+zWnsDmaeleSzonv2CHW42yXYPCvWi88oE1DJNYLNkIjua7MxAnkNZbScNw01A6zbLsZ3y8G6eEYnxSTRfwjd8EP4kdiHNJftm7Z4iRU7HOVh79/lRWB+gd171s3d/mI9kte3MRy6V8MMEMCAnMboGpaooYwgAmwclI2XZCczNWXfhaWe0ZS5PmytD/GDpXzkX0oEgY9K/uYo5V77NdZbGAjmyi8cE2B2ogvyaN2XfIInrZPgEffJ4AB7kFA2mwesdLOCh0BLD9itmCve3A1FGR4+stO2ANUoiI3w3Tv2yQSg4bjeDlJ08lXaaFCLW2peEXMXjQUk7fmpb5MNuOUTW6BE=" SubTotal="100.00" Moneda="MXN" Total="116.00" TipoDeComprobante="I" Exportacion="01" MetodoPago="PUE" LugarExpedicion="26015" xsi:schemaLocation="http://www.sat.gob.mx/cfd/4 http://www.sat.gob.mx/sitio_internet/cfd/4/cfdv40.xsd"><cfdi:Emisor Rfc="EKU9003173C9" Nombre="ESCUELA KEMPER URGATE" RegimenFiscal="601"/><cfdi:Receptor Rfc="XIA190128J61" Nombre="XENON INDUSTRIAL ARTICLES" DomicilioFiscalReceptor="76343" RegimenFiscalReceptor="601" UsoCFDI="G03"/><cfdi:Conceptos><cfdi:Concepto ClaveProdServ="50202306" NoIdentificacion="SKU-001" Cantidad="1" ClaveUnidad="H87" Unidad="Pieza" Descripcion="Refresco de cola 600 ml (envase no retornable) — edición “Año Nuevo” &amp; más" ValorUnitario="100.00" Importe="100.00" ObjetoImp="02"><cfdi:Impuestos><cfdi:Traslados><cfdi:Traslado Base="100.00" Impuesto="002" TipoFactor="Tasa" TasaOCuota="0.160000" Importe="16.00"/></cfdi:Traslados></cfdi:Impuestos></cfdi:Concepto></cfdi:Conceptos><cfdi:Impuestos TotalImpuestosTrasladados="16.00"><cfdi:Traslados><cfdi:Traslado Base="100.00" Impuesto="002" TipoFactor="Tasa" TasaOCuota="0.160000" Importe="16.00"/></cfdi:Traslados></cfdi:Impuestos></cfdi:Comprobante>"##;

/// `Sello` of `SEALED`.
pub fn sello(xml: &str) -> String {
    let doc = roxmltree::Document::parse(xml).expect("fixture parses");
    doc.root_element()
        .attribute("Sello")
        .expect("fixture is sealed")
        .to_owned()
}

/// A TFD 1.1 as a PAC writes it.
pub struct Tfd<'a> {
    pub uuid: &'a str,
    pub fecha: &'a str,
    pub rfc_prov_certif: &'a str,
    pub sello_cfd: String,
    pub no_certificado_sat: &'a str,
    pub sello_sat: &'a str,
}

impl<'a> Tfd<'a> {
    /// A stamp of `sealed` like Finkok's demo host returns (SAT test certificate).
    pub fn for_sealed(sealed: &str, uuid: &'a str) -> Tfd<'a> {
        Tfd {
            uuid,
            fecha: "2026-11-20T10:30:14",
            rfc_prov_certif: "CVD110412TF6",
            sello_cfd: sello(sealed),
            no_certificado_sat: "30001000000500003456",
            sello_sat: "T/p8LJjDW638NrIyF90SwxdYaIUqNNOvYE4hkots+3OADeIguLcxkMnHICIMuw6D9ugI48j0Brex7D0q+THvh6o7RgzJmfsMayJOEbfftLWdubKTqdP9HQ5+MYd3zNL6cBW6u31K0hT8W6kUufi2TI1Ma6jKToXQVpPKjpdMMiXtmXuSRYoKwO+Gk9rjy1zlr6/1ZBq8c7HjZJ7oEJiJwDpP5GWNm9ID2emDj4BO4EzsVpIw31B4yNc031FMi0JOuvhZudVCjAFlakvRQOVf2YflWQNMT+iTexGWRC2XkozqzcoqvjCwyyLIEkrFO1IG9q8yA6JHxPGcRL1QJcfdAw==",
        }
    }

    /// `sealed` with this TFD in a new `cfdi:Complemento`, as PACs return the stamped CFDI.
    pub fn stamp(&self, sealed: &str) -> String {
        let tfd = format!(
            "<cfdi:Complemento><tfd:TimbreFiscalDigital xmlns:tfd=\"http://www.sat.gob.mx/TimbreFiscalDigital\" \
             xsi:schemaLocation=\"http://www.sat.gob.mx/TimbreFiscalDigital http://www.sat.gob.mx/sitio_internet/cfd/TimbreFiscalDigital/TimbreFiscalDigitalv11.xsd\" \
             Version=\"1.1\" SelloCFD=\"{}\" NoCertificadoSAT=\"{}\" RfcProvCertif=\"{}\" UUID=\"{}\" FechaTimbrado=\"{}\" SelloSAT=\"{}\"/></cfdi:Complemento>",
            self.sello_cfd, self.no_certificado_sat, self.rfc_prov_certif, self.uuid, self.fecha, self.sello_sat
        );
        let at = sealed.rfind("</cfdi:Comprobante>").expect("closing tag");
        format!("{}{tfd}{}", &sealed[..at], &sealed[at..])
    }
}

/// Text escaped as XML character data (how SOAP carries the stamped CFDI).
pub fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// Finkok's answer to `stamp`/`stamped`, in the envelope its Spyne service writes (namespaces and
/// element order as in the responses captured in SAT-CFDI/python-satcfdi's Finkok tests).
pub fn finkok_stamp_answer(
    op: &str,
    stamped: Option<&str>,
    uuid: Option<&str>,
    incidencias: &[(&str, &str)],
) -> String {
    let xml = stamped.map(escape).unwrap_or_default();
    let uuid_el = uuid
        .map(|u| format!("<s0:UUID>{u}</s0:UUID>"))
        .unwrap_or_default();
    let (estatus, fecha, seal, nocert) = if stamped.is_some() {
        (
            "<s0:CodEstatus>Comprobante timbrado satisfactoriamente</s0:CodEstatus>",
            "<s0:Fecha>2026-11-20T10:30:14</s0:Fecha>",
            "<s0:SatSeal>T/p8LJjDW638NrIyF90SwxdYaIUqNNOvYE4hkots</s0:SatSeal>",
            "<s0:NoCertificadoSAT>30001000000500003456</s0:NoCertificadoSAT>",
        )
    } else {
        ("", "", "", "")
    };
    let incidencias = if incidencias.is_empty() {
        "<s0:Incidencias/>".to_owned()
    } else {
        let items: String = incidencias
            .iter()
            .map(|(code, message)| {
                format!(
                    "<s0:Incidencia><s0:IdIncidencia>ID_incidencia</s0:IdIncidencia><s0:Uuid></s0:Uuid>\
                     <s0:CodigoError>{code}</s0:CodigoError><s0:WorkProcessId>WorkProcessId</s0:WorkProcessId>\
                     <s0:MensajeIncidencia>{}</s0:MensajeIncidencia><s0:ExtraInfo></s0:ExtraInfo>\
                     <s0:NoCertificadoPac></s0:NoCertificadoPac><s0:FechaRegistro>2026-11-20T10:30:14</s0:FechaRegistro></s0:Incidencia>",
                    escape(message)
                )
            })
            .collect();
        format!("<s0:Incidencias>{items}</s0:Incidencias>")
    };
    format!(
        "<?xml version='1.0' encoding='UTF-8'?>\n<senv:Envelope xmlns:plink=\"http://schemas.xmlsoap.org/ws/2003/05/partner-link/\" \
         xmlns:s0=\"apps.services.soap.core.views\" xmlns:s1=\"https://facturacion.finkok.com/servicios/async\" \
         xmlns:senc=\"http://schemas.xmlsoap.org/soap/encoding/\" xmlns:senv=\"http://schemas.xmlsoap.org/soap/envelope/\" \
         xmlns:tns=\"http://facturacion.finkok.com/stamp\" xmlns:xs=\"http://www.w3.org/2001/XMLSchema\" \
         xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\"><senv:Body><tns:{op}Response><tns:{op}Result>\
         <s0:xml>{xml}</s0:xml>{uuid_el}{fecha}{estatus}{seal}{incidencias}{nocert}</tns:{op}Result></tns:{op}Response></senv:Body></senv:Envelope>"
    )
}

/// Finkok's answer to `cancel` with one folio.
pub fn finkok_cancel_answer(uuid: &str, estatus_uuid: &str, estatus_cancelacion: &str) -> String {
    format!(
        "<?xml version='1.0' encoding='UTF-8'?>\n<senv:Envelope xmlns:s0=\"apps.services.soap.core.views\" \
         xmlns:senv=\"http://schemas.xmlsoap.org/soap/envelope/\" xmlns:tns=\"http://facturacion.finkok.com/cancel\">\
         <senv:Body><tns:cancelResponse><tns:cancelResult><s0:Folios><s0:Folio><s0:UUID>{uuid}</s0:UUID>\
         <s0:EstatusUUID>{estatus_uuid}</s0:EstatusUUID><s0:EstatusCancelacion>{estatus_cancelacion}</s0:EstatusCancelacion>\
         </s0:Folio></s0:Folios><s0:Acuse>&lt;s:Envelope xmlns:s=\"http://schemas.xmlsoap.org/soap/envelope/\"&gt;&lt;s:Body&gt;\
         &lt;CancelaCFDResponse xmlns=\"http://cancelacfd.sat.gob.mx\"&gt;&lt;CancelaCFDResult Fecha=\"2026-11-21T11:19:37\" RfcEmisor=\"EKU9003173C9\"&gt;\
         &lt;Folios&gt;&lt;UUID&gt;{uuid}&lt;/UUID&gt;&lt;EstatusUUID&gt;{estatus_uuid}&lt;/EstatusUUID&gt;&lt;/Folios&gt;\
         &lt;/CancelaCFDResult&gt;&lt;/CancelaCFDResponse&gt;&lt;/s:Body&gt;&lt;/s:Envelope&gt;</s0:Acuse>\
         <s0:Fecha>2026-11-21T11:19:37</s0:Fecha><s0:RfcEmisor>EKU9003173C9</s0:RfcEmisor></tns:cancelResult></tns:cancelResponse></senv:Body></senv:Envelope>"
    )
}

/// The base64 text of the `<…:xml>` element of a Finkok request, decoded.
pub fn finkok_request_xml(body: &[u8]) -> String {
    let text = String::from_utf8(body.to_vec()).expect("utf-8 request");
    let doc = roxmltree::Document::parse(&text).expect("request is XML");
    let b64 = doc
        .descendants()
        .find(|n| n.is_element() && n.tag_name().name() == "xml")
        .and_then(|n| n.text())
        .expect("xml element");
    String::from_utf8(BASE64.decode(b64).expect("base64")).expect("utf-8 cfdi")
}
