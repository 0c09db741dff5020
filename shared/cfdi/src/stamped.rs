//! A stamped CFDI 4.0 read back from its XML: what the printed representation, the QR code and the
//! app show. Amounts stay the exact decimal text of the XML (never floats).

use crate::pac::{is_decimal_text, normalize_uuid};
use roxmltree::{Document, Node, ParsingOptions};
use serde::{Deserialize, Serialize};

/// Namespace of CFDI 4.0 (Anexo 20, cfdv40.xsd).
pub const CFDI_NS: &str = "http://www.sat.gob.mx/cfd/4";
/// Namespace of the TimbreFiscalDigital 1.1 complement (TimbreFiscalDigitalv11.xsd).
pub const TFD_NS: &str = "http://www.sat.gob.mx/TimbreFiscalDigital";
/// SAT's public verification page, the target of the QR code (Anexo 20, apartado D).
pub const VERIFICATION_BASE_URL: &str =
    "https://verificacfdi.facturaelectronica.sat.gob.mx/default.aspx";
/// `NoCertificadoSAT` of stamps made by [`crate::pac::sandbox`] (no SAT certificate has it).
pub const SANDBOX_NO_CERTIFICADO_SAT: &str = "00000000000000000000";

/// Why an XML cannot be read as a stamped CFDI 4.0.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StampedError {
    #[error("not well-formed XML: {0}")]
    Xml(String),
    #[error("not a CFDI 4.0 (root must be cfdi:Comprobante Version=\"4.0\" in {CFDI_NS})")]
    NotCfdi40,
    #[error("missing {0}")]
    Missing(String),
    #[error("{field} has an invalid value {value:?}")]
    Invalid { field: String, value: String },
    #[error("the CFDI is not stamped (no tfd:TimbreFiscalDigital in cfdi:Complemento)")]
    NotStamped,
}

/// A stamped CFDI 4.0, as printed and shown.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StampedCfdi {
    pub serie: Option<String>,
    pub folio: Option<String>,
    /// `Fecha` of issue, local time of `LugarExpedicion` (`AAAA-MM-DDThh:mm:ss`).
    pub fecha: String,
    /// `I`, `E`, `T`, `N` or `P`.
    pub tipo_de_comprobante: String,
    /// Postal code of issue.
    pub lugar_expedicion: String,
    pub exportacion: String,
    pub forma_pago: Option<String>,
    pub metodo_pago: Option<String>,
    pub condiciones_de_pago: Option<String>,
    pub moneda: String,
    pub tipo_cambio: Option<String>,
    pub subtotal: String,
    pub descuento: Option<String>,
    pub total: String,
    /// `Sello` of the issuer (base64).
    pub sello: String,
    /// `NoCertificado` of the issuer's CSD.
    pub no_certificado: String,
    pub informacion_global: Option<InformacionGlobal>,
    pub cfdi_relacionados: Vec<CfdiRelacionados>,
    pub emisor: Emisor,
    pub receptor: Receptor,
    pub conceptos: Vec<Concepto>,
    /// The comprobante-level taxes summary, when present.
    pub impuestos: Option<Impuestos>,
    pub timbre: Timbre,
}

/// `cfdi:InformacionGlobal` of a global invoice.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InformacionGlobal {
    /// c_Periodicidad: `01` daily … `05` bimonthly.
    pub periodicidad: String,
    /// c_Meses: `01`…`18`.
    pub meses: String,
    /// Año.
    pub anio: String,
}

/// One `cfdi:CfdiRelacionados` group.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CfdiRelacionados {
    /// c_TipoRelacion.
    pub tipo_relacion: String,
    pub uuids: Vec<String>,
}

/// `cfdi:Emisor`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Emisor {
    pub rfc: String,
    pub nombre: String,
    /// c_RegimenFiscal.
    pub regimen_fiscal: String,
}

/// `cfdi:Receptor`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Receptor {
    pub rfc: String,
    pub nombre: String,
    /// Postal code of the receiver's fiscal address.
    pub domicilio_fiscal: String,
    /// c_RegimenFiscal.
    pub regimen_fiscal: String,
    /// c_UsoCFDI.
    pub uso_cfdi: String,
    /// A foreign receiver's country of tax residence (c_Pais).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub residencia_fiscal: Option<String>,
    /// A foreign receiver's tax identification number.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub num_reg_id_trib: Option<String>,
}

/// One `cfdi:Concepto`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Concepto {
    pub clave_prod_serv: String,
    pub no_identificacion: Option<String>,
    pub cantidad: String,
    pub clave_unidad: String,
    pub unidad: Option<String>,
    pub descripcion: String,
    pub valor_unitario: String,
    pub importe: String,
    pub descuento: Option<String>,
    /// c_ObjetoImp.
    pub objeto_imp: String,
    pub traslados: Vec<Tax>,
    pub retenciones: Vec<Tax>,
}

impl Concepto {
    /// The IVA (impuesto 002) transferred on this line: as written when there is one traslado, the
    /// sum of all of them (to the most decimals written) when a line carries several rates, as a
    /// global invoice's ticket with 16 % and 0 % products does. `None` when exempt or absent.
    pub fn iva_trasladado(&self) -> Option<String> {
        let written: Vec<&str> = self
            .traslados
            .iter()
            .filter(|t| t.impuesto == "002")
            .filter_map(|t| t.importe.as_deref())
            .collect();
        match written.as_slice() {
            [] => None,
            [one] => Some((*one).to_owned()),
            many => {
                let mut sum = rust_decimal::Decimal::ZERO;
                let mut scale = 0;
                for amount in many {
                    let value: rust_decimal::Decimal = amount.parse().ok()?;
                    scale = scale.max(value.scale());
                    sum = sum.checked_add(value)?;
                }
                sum.rescale(scale);
                Some(sum.to_string())
            }
        }
    }
}

/// A transferred or withheld tax line, at concept or comprobante level.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tax {
    /// Absent on comprobante-level retenciones.
    pub base: Option<String>,
    /// c_Impuesto: `001` ISR, `002` IVA, `003` IEPS.
    pub impuesto: String,
    /// `Tasa`, `Cuota` or `Exento`; absent on comprobante-level retenciones.
    pub tipo_factor: Option<String>,
    pub tasa_o_cuota: Option<String>,
    /// Absent when `Exento`.
    pub importe: Option<String>,
}

/// The comprobante-level `cfdi:Impuestos`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Impuestos {
    pub total_impuestos_trasladados: Option<String>,
    pub total_impuestos_retenidos: Option<String>,
    pub traslados: Vec<Tax>,
    pub retenciones: Vec<Tax>,
}

/// `tfd:TimbreFiscalDigital` 1.1.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Timbre {
    pub version: String,
    pub uuid: String,
    pub fecha_timbrado: String,
    pub rfc_prov_certif: String,
    pub leyenda: Option<String>,
    pub sello_cfd: String,
    pub no_certificado_sat: String,
    pub sello_sat: String,
}

impl Timbre {
    /// Reads only the TFD of a stamped CFDI (what the PAC adapters check).
    pub fn from_stamped_xml(xml: &str) -> Result<Timbre, StampedError> {
        let doc = parse_document(xml)?;
        let root = comprobante_root(&doc)?;
        let tfd = find_tfd(root).ok_or(StampedError::NotStamped)?;
        read_timbre(tfd)
    }

    /// The cadena original del complemento de certificación digital del SAT, as
    /// `cadenaoriginal_TFD_1_1.xslt` builds it: `||1.1|UUID|FechaTimbrado|RfcProvCertif|[Leyenda|]
    /// SelloCFD|NoCertificadoSAT||`, each value whitespace-normalized.
    pub fn cadena_original(&self) -> String {
        let mut fields = vec![
            normalize_space(&self.version),
            normalize_space(&self.uuid),
            normalize_space(&self.fecha_timbrado),
            normalize_space(&self.rfc_prov_certif),
        ];
        if let Some(leyenda) = self.leyenda.as_deref().filter(|l| !l.is_empty()) {
            fields.push(normalize_space(leyenda));
        }
        fields.push(normalize_space(&self.sello_cfd));
        fields.push(normalize_space(&self.no_certificado_sat));
        format!("||{}||", fields.join("|"))
    }

    /// Whether this stamp came from the offline sandbox (no fiscal value).
    pub fn is_sandbox(&self) -> bool {
        self.no_certificado_sat == SANDBOX_NO_CERTIFICADO_SAT
    }
}

impl StampedCfdi {
    /// Reads a stamped CFDI 4.0. Fails on malformed XML, another version, missing required data or
    /// a missing TFD.
    pub fn parse(xml: &str) -> Result<StampedCfdi, StampedError> {
        let doc = parse_document(xml)?;
        let root = comprobante_root(&doc)?;
        let emisor = child(root, "Emisor").ok_or_else(|| missing("cfdi:Emisor"))?;
        let receptor = child(root, "Receptor").ok_or_else(|| missing("cfdi:Receptor"))?;
        let conceptos = child(root, "Conceptos").ok_or_else(|| missing("cfdi:Conceptos"))?;
        let tfd = find_tfd(root).ok_or(StampedError::NotStamped)?;

        let conceptos = children(conceptos, "Concepto")
            .map(read_concepto)
            .collect::<Result<Vec<_>, _>>()?;
        if conceptos.is_empty() {
            return Err(missing("cfdi:Concepto"));
        }
        let informacion_global = match child(root, "InformacionGlobal") {
            Some(node) => Some(InformacionGlobal {
                periodicidad: required(node, "Periodicidad", "InformacionGlobal")?,
                meses: required(node, "Meses", "InformacionGlobal")?,
                anio: required(node, "Año", "InformacionGlobal")?,
            }),
            None => None,
        };
        let cfdi_relacionados = children(root, "CfdiRelacionados")
            .map(|group| {
                Ok(CfdiRelacionados {
                    tipo_relacion: required(group, "TipoRelacion", "CfdiRelacionados")?,
                    uuids: children(group, "CfdiRelacionado")
                        .map(|r| required(r, "UUID", "CfdiRelacionado"))
                        .collect::<Result<Vec<_>, _>>()?,
                })
            })
            .collect::<Result<Vec<_>, StampedError>>()?;
        let impuestos = child(root, "Impuestos").map(read_impuestos).transpose()?;

        Ok(StampedCfdi {
            serie: optional(root, "Serie"),
            folio: optional(root, "Folio"),
            fecha: required(root, "Fecha", "Comprobante")?,
            tipo_de_comprobante: required(root, "TipoDeComprobante", "Comprobante")?,
            lugar_expedicion: required(root, "LugarExpedicion", "Comprobante")?,
            exportacion: required(root, "Exportacion", "Comprobante")?,
            forma_pago: optional(root, "FormaPago"),
            metodo_pago: optional(root, "MetodoPago"),
            condiciones_de_pago: optional(root, "CondicionesDePago"),
            moneda: required(root, "Moneda", "Comprobante")?,
            tipo_cambio: optional_decimal(root, "TipoCambio", "Comprobante")?,
            subtotal: decimal(root, "SubTotal", "Comprobante")?,
            descuento: optional_decimal(root, "Descuento", "Comprobante")?,
            total: decimal(root, "Total", "Comprobante")?,
            sello: required(root, "Sello", "Comprobante")?,
            no_certificado: required(root, "NoCertificado", "Comprobante")?,
            informacion_global,
            cfdi_relacionados,
            emisor: Emisor {
                rfc: required(emisor, "Rfc", "Emisor")?,
                nombre: required(emisor, "Nombre", "Emisor")?,
                regimen_fiscal: required(emisor, "RegimenFiscal", "Emisor")?,
            },
            receptor: Receptor {
                rfc: required(receptor, "Rfc", "Receptor")?,
                nombre: required(receptor, "Nombre", "Receptor")?,
                domicilio_fiscal: required(receptor, "DomicilioFiscalReceptor", "Receptor")?,
                regimen_fiscal: required(receptor, "RegimenFiscalReceptor", "Receptor")?,
                uso_cfdi: required(receptor, "UsoCFDI", "Receptor")?,
                residencia_fiscal: optional(receptor, "ResidenciaFiscal"),
                num_reg_id_trib: optional(receptor, "NumRegIdTrib"),
            },
            conceptos,
            impuestos,
            timbre: read_timbre(tfd)?,
        })
    }

    /// The URL SAT's QR code must carry (Anexo 20, apartado D: `id`, `re`, `rr`, `tt`, `fe`).
    pub fn verification_url(&self) -> String {
        verification_url(
            &self.timbre.uuid,
            &self.emisor.rfc,
            &self.receptor.rfc,
            &self.total,
            &self.sello,
        )
    }

    /// Whether the stamp is the sandbox's (the printed copy must say it has no fiscal value).
    pub fn is_sandbox(&self) -> bool {
        self.timbre.is_sandbox()
    }

    /// `Serie-Folio`, `Folio` or `Serie`, when any is present.
    pub fn serie_folio(&self) -> Option<String> {
        match (self.serie.as_deref(), self.folio.as_deref()) {
            (Some(s), Some(f)) => Some(format!("{s}-{f}")),
            (Some(s), None) => Some(s.to_owned()),
            (None, Some(f)) => Some(f.to_owned()),
            (None, None) => None,
        }
    }
}

/// SAT's verification URL for a CFDI (Anexo 20 4.0, apartado D "Especificación técnica del código
/// de barras bidimensional"): `id` the UUID, `re`/`rr` the RFCs with `&` written `&amp;`, `tt` the
/// total without non-significant zeros (at least one decimal, at most six), `fe` the last 8
/// characters of the issuer's `Sello`. Formatting follows phpcfdi/cfdi-expresiones (Comprobante40).
pub fn verification_url(
    uuid: &str,
    rfc_emisor: &str,
    rfc_receptor: &str,
    total: &str,
    sello: &str,
) -> String {
    let fe: String = {
        let chars: Vec<char> = sello.trim().chars().collect();
        chars[chars.len().saturating_sub(8)..].iter().collect()
    };
    format!(
        "{VERIFICATION_BASE_URL}?id={}&re={}&rr={}&tt={}&fe={}",
        uuid.trim(),
        rfc_emisor.trim().replace('&', "&amp;"),
        rfc_receptor.trim().replace('&', "&amp;"),
        qr_total(total),
        fe
    )
}

/// The total as the QR carries it: no leading zeros, trailing zeros removed but one decimal kept,
/// rounded half-up to six decimals (`1000.00` → `1000.0`, `0.1234565` → `0.123457`). Text that is
/// not a decimal is kept as written after trimming (the QR is then as wrong as the XML).
pub fn qr_total(total: &str) -> String {
    let total = total.trim();
    let (int, frac) = match total.split_once('.') {
        Some((i, f)) => (i, f),
        None => (total, ""),
    };
    if int.is_empty() && frac.is_empty()
        || !int.bytes().all(|b| b.is_ascii_digit())
        || !frac.bytes().all(|b| b.is_ascii_digit())
    {
        return total.to_owned();
    }
    // Digits of int + six decimals, rounded half-up on the seventh.
    let mut digits: Vec<u8> = int.bytes().map(|b| b - b'0').collect();
    let frac_bytes: Vec<u8> = frac.bytes().map(|b| b - b'0').collect();
    for i in 0..6 {
        digits.push(frac_bytes.get(i).copied().unwrap_or(0));
    }
    if frac_bytes.get(6).copied().unwrap_or(0) >= 5 {
        let mut i = digits.len();
        loop {
            if i == 0 {
                digits.insert(0, 1);
                break;
            }
            i -= 1;
            if digits[i] == 9 {
                digits[i] = 0;
            } else {
                digits[i] += 1;
                break;
            }
        }
    }
    let split = digits.len() - 6;
    let int_text: String = digits[..split]
        .iter()
        .map(|d| char::from(b'0' + d))
        .collect();
    let int_text = int_text.trim_start_matches('0');
    let int_text = if int_text.is_empty() { "0" } else { int_text };
    let frac_text: String = digits[split..]
        .iter()
        .map(|d| char::from(b'0' + d))
        .collect();
    let frac_text = frac_text.trim_end_matches('0');
    let frac_text = if frac_text.is_empty() { "0" } else { frac_text };
    format!("{int_text}.{frac_text}")
}

/// The `Sello` attribute of a (sealed or stamped) CFDI 4.0's root.
pub(crate) fn comprobante_sello(xml: &str) -> Result<String, StampedError> {
    let doc = parse_document(xml)?;
    let root = comprobante_root(&doc)?;
    root.attribute("Sello")
        .map(str::to_owned)
        .ok_or_else(|| missing("Comprobante@Sello"))
}

fn parse_document(xml: &str) -> Result<Document<'_>, StampedError> {
    let xml = xml.strip_prefix('\u{feff}').unwrap_or(xml);
    // DTDs are refused (roxmltree's default): no entity expansion from untrusted XML.
    let options = ParsingOptions {
        allow_dtd: false,
        ..ParsingOptions::default()
    };
    Document::parse_with_options(xml, options).map_err(|e| StampedError::Xml(e.to_string()))
}

fn comprobante_root<'a, 'input>(
    doc: &'a Document<'input>,
) -> Result<Node<'a, 'input>, StampedError> {
    let root = doc.root_element();
    let is_comprobante =
        root.tag_name().namespace() == Some(CFDI_NS) && root.tag_name().name() == "Comprobante";
    if !is_comprobante || root.attribute("Version") != Some("4.0") {
        return Err(StampedError::NotCfdi40);
    }
    Ok(root)
}

fn find_tfd<'a, 'input>(root: Node<'a, 'input>) -> Option<Node<'a, 'input>> {
    children(root, "Complemento").find_map(|complemento| {
        complemento.children().find(|n| {
            n.is_element()
                && n.tag_name().namespace() == Some(TFD_NS)
                && n.tag_name().name() == "TimbreFiscalDigital"
        })
    })
}

fn read_timbre(tfd: Node<'_, '_>) -> Result<Timbre, StampedError> {
    let uuid = required(tfd, "UUID", "TimbreFiscalDigital")?;
    if normalize_uuid(&uuid).is_none() {
        return Err(StampedError::Invalid {
            field: "TimbreFiscalDigital@UUID".into(),
            value: uuid,
        });
    }
    Ok(Timbre {
        version: required(tfd, "Version", "TimbreFiscalDigital")?,
        uuid,
        fecha_timbrado: required(tfd, "FechaTimbrado", "TimbreFiscalDigital")?,
        rfc_prov_certif: required(tfd, "RfcProvCertif", "TimbreFiscalDigital")?,
        leyenda: optional(tfd, "Leyenda"),
        sello_cfd: required(tfd, "SelloCFD", "TimbreFiscalDigital")?,
        no_certificado_sat: required(tfd, "NoCertificadoSAT", "TimbreFiscalDigital")?,
        sello_sat: required(tfd, "SelloSAT", "TimbreFiscalDigital")?,
    })
}

fn read_concepto(node: Node<'_, '_>) -> Result<Concepto, StampedError> {
    let (traslados, retenciones) = match child(node, "Impuestos") {
        Some(impuestos) => (
            read_taxes(impuestos, "Traslados", "Traslado")?,
            read_taxes(impuestos, "Retenciones", "Retencion")?,
        ),
        None => (Vec::new(), Vec::new()),
    };
    Ok(Concepto {
        clave_prod_serv: required(node, "ClaveProdServ", "Concepto")?,
        no_identificacion: optional(node, "NoIdentificacion"),
        cantidad: decimal(node, "Cantidad", "Concepto")?,
        clave_unidad: required(node, "ClaveUnidad", "Concepto")?,
        unidad: optional(node, "Unidad"),
        descripcion: required(node, "Descripcion", "Concepto")?,
        valor_unitario: decimal(node, "ValorUnitario", "Concepto")?,
        importe: decimal(node, "Importe", "Concepto")?,
        descuento: optional_decimal(node, "Descuento", "Concepto")?,
        objeto_imp: required(node, "ObjetoImp", "Concepto")?,
        traslados,
        retenciones,
    })
}

fn read_impuestos(node: Node<'_, '_>) -> Result<Impuestos, StampedError> {
    Ok(Impuestos {
        total_impuestos_trasladados: optional_decimal(
            node,
            "TotalImpuestosTrasladados",
            "Impuestos",
        )?,
        total_impuestos_retenidos: optional_decimal(node, "TotalImpuestosRetenidos", "Impuestos")?,
        traslados: read_taxes(node, "Traslados", "Traslado")?,
        retenciones: read_taxes(node, "Retenciones", "Retencion")?,
    })
}

fn read_taxes(impuestos: Node<'_, '_>, group: &str, item: &str) -> Result<Vec<Tax>, StampedError> {
    let Some(group) = child(impuestos, group) else {
        return Ok(Vec::new());
    };
    children(group, item)
        .map(|tax| {
            Ok(Tax {
                base: optional_decimal(tax, "Base", item)?,
                impuesto: required(tax, "Impuesto", item)?,
                tipo_factor: optional(tax, "TipoFactor"),
                tasa_o_cuota: optional_decimal(tax, "TasaOCuota", item)?,
                importe: optional_decimal(tax, "Importe", item)?,
            })
        })
        .collect()
}

fn child<'a, 'input>(node: Node<'a, 'input>, name: &str) -> Option<Node<'a, 'input>> {
    children(node, name).next()
}

fn children<'a, 'input, 'n>(
    node: Node<'a, 'input>,
    name: &'n str,
) -> impl Iterator<Item = Node<'a, 'input>> + 'n
where
    'a: 'n,
    'input: 'n,
{
    node.children().filter(move |n| {
        n.is_element() && n.tag_name().namespace() == Some(CFDI_NS) && n.tag_name().name() == name
    })
}

fn optional(node: Node<'_, '_>, name: &str) -> Option<String> {
    node.attribute(name)
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .map(str::to_owned)
}

fn required(node: Node<'_, '_>, name: &str, element: &str) -> Result<String, StampedError> {
    optional(node, name).ok_or_else(|| missing(&format!("{element}@{name}")))
}

fn decimal(node: Node<'_, '_>, name: &str, element: &str) -> Result<String, StampedError> {
    let value = required(node, name, element)?;
    check_decimal(value, name, element)
}

fn optional_decimal(
    node: Node<'_, '_>,
    name: &str,
    element: &str,
) -> Result<Option<String>, StampedError> {
    optional(node, name)
        .map(|v| check_decimal(v, name, element))
        .transpose()
}

fn check_decimal(value: String, name: &str, element: &str) -> Result<String, StampedError> {
    if is_decimal_text(&value) {
        Ok(value)
    } else {
        Err(StampedError::Invalid {
            field: format!("{element}@{name}"),
            value,
        })
    }
}

fn missing(what: &str) -> StampedError {
    StampedError::Missing(what.to_owned())
}

/// XPath's normalize-space: trimmed, inner whitespace runs as one space.
fn normalize_space(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn iva(importe: Option<&str>, tasa: &str) -> Tax {
        Tax {
            base: Some("100.00".into()),
            impuesto: "002".into(),
            tipo_factor: Some(if importe.is_some() { "Tasa" } else { "Exento" }.into()),
            tasa_o_cuota: importe.map(|_| tasa.into()),
            importe: importe.map(str::to_owned),
        }
    }

    fn concepto(traslados: Vec<Tax>) -> Concepto {
        Concepto {
            clave_prod_serv: "01010101".into(),
            no_identificacion: Some("T1".into()),
            cantidad: "1".into(),
            clave_unidad: "ACT".into(),
            unidad: None,
            descripcion: "Venta".into(),
            valor_unitario: "200.00".into(),
            importe: "200.00".into(),
            descuento: None,
            objeto_imp: "02".into(),
            traslados,
            retenciones: Vec::new(),
        }
    }

    #[test]
    fn a_ticket_with_several_rates_shows_all_its_iva() {
        let one = concepto(vec![iva(Some("16.00"), "0.160000")]);
        assert_eq!(one.iva_trasladado().as_deref(), Some("16.00"));
        let mixed = concepto(vec![
            iva(Some("16.00"), "0.160000"),
            iva(Some("0.00"), "0.000000"),
            iva(Some("7.999999"), "0.080000"),
        ]);
        assert_eq!(mixed.iva_trasladado().as_deref(), Some("23.999999"));
        let exempt = concepto(vec![iva(None, "")]);
        assert_eq!(exempt.iva_trasladado(), None);
        let with_exempt = concepto(vec![iva(None, ""), iva(Some("4.80"), "0.160000")]);
        assert_eq!(with_exempt.iva_trasladado().as_deref(), Some("4.80"));
    }

    #[test]
    fn qr_total_drops_non_significant_zeros_but_keeps_one_decimal() {
        assert_eq!(qr_total("123.45"), "123.45");
        assert_eq!(qr_total("0.123456"), "0.123456");
        assert_eq!(qr_total("0.1234561"), "0.123456");
        assert_eq!(qr_total("0.1234565"), "0.123457");
        assert_eq!(qr_total("1000.00000"), "1000.0");
        assert_eq!(qr_total("0"), "0.0");
        assert_eq!(qr_total("0.00"), "0.0");
        assert_eq!(qr_total("000116.00"), "116.0");
        assert_eq!(qr_total("9.9999999"), "10.0");
    }

    #[test]
    fn ampersands_in_rfcs_are_written_as_entities_in_the_url() {
        let url = verification_url(
            "CEE4BE01-ADFA-4DEB-8421-ADD60F0BEDAC",
            "Ñ&A010101AAA",
            "Ñ&A991231AA0",
            "1234.5678",
            "xxxxxxxx23456789",
        );
        assert_eq!(
            url,
            "https://verificacfdi.facturaelectronica.sat.gob.mx/default.aspx\
             ?id=CEE4BE01-ADFA-4DEB-8421-ADD60F0BEDAC&re=Ñ&amp;A010101AAA&rr=Ñ&amp;A991231AA0\
             &tt=1234.5678&fe=23456789"
        );
    }

    #[test]
    fn tfd_cadena_includes_the_leyenda_only_when_present() {
        let mut timbre = Timbre {
            version: "1.1".into(),
            uuid: "AF124DC7-BD75-5EFF-8EDF-28C1E7D43B1D".into(),
            fecha_timbrado: "2024-06-12T00:50:43".into(),
            rfc_prov_certif: "CVD110412TF6".into(),
            leyenda: None,
            sello_cfd: "SELLO".into(),
            no_certificado_sat: "30001000000500003456".into(),
            sello_sat: "SAT".into(),
        };
        assert_eq!(
            timbre.cadena_original(),
            "||1.1|AF124DC7-BD75-5EFF-8EDF-28C1E7D43B1D|2024-06-12T00:50:43|CVD110412TF6|SELLO|30001000000500003456||"
        );
        timbre.leyenda = Some("Timbre  de prueba".into());
        assert!(timbre
            .cadena_original()
            .contains("|CVD110412TF6|Timbre de prueba|SELLO|"));
    }
}
