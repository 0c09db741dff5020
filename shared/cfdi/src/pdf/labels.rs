//! Descriptions of the SAT catalog keys a printed CFDI shows next to each code (catálogos del
//! CFDI 4.0, as bundled in satcfdi's catalogs). Unknown keys print as the bare code.

/// `601 - General de Ley Personas Morales`, or the code alone when unknown.
pub(crate) fn with_label(code: &str, label: Option<&str>) -> String {
    match label {
        Some(label) => format!("{code} - {label}"),
        None => code.to_owned(),
    }
}

/// c_RegimenFiscal.
pub(crate) fn regimen_fiscal(code: &str) -> Option<&'static str> {
    Some(match code {
        "601" => "General de Ley Personas Morales",
        "603" => "Personas Morales con Fines no Lucrativos",
        "605" => "Sueldos y Salarios e Ingresos Asimilados a Salarios",
        "606" => "Arrendamiento",
        "607" => "Régimen de Enajenación o Adquisición de Bienes",
        "608" => "Demás ingresos",
        "610" => "Residentes en el Extranjero sin Establecimiento Permanente en México",
        "611" => "Ingresos por Dividendos (socios y accionistas)",
        "612" => "Personas Físicas con Actividades Empresariales y Profesionales",
        "614" => "Ingresos por intereses",
        "615" => "Régimen de los ingresos por obtención de premios",
        "616" => "Sin obligaciones fiscales",
        "620" => "Sociedades Cooperativas de Producción que optan por diferir sus ingresos",
        "621" => "Incorporación Fiscal",
        "622" => "Actividades Agrícolas, Ganaderas, Silvícolas y Pesqueras",
        "623" => "Opcional para Grupos de Sociedades",
        "624" => "Coordinados",
        "625" => "Régimen de las Actividades Empresariales con ingresos a través de Plataformas Tecnológicas",
        "626" => "Régimen Simplificado de Confianza",
        _ => return None,
    })
}

/// c_UsoCFDI.
pub(crate) fn uso_cfdi(code: &str) -> Option<&'static str> {
    Some(match code {
        "G01" => "Adquisición de mercancías",
        "G02" => "Devoluciones, descuentos o bonificaciones",
        "G03" => "Gastos en general",
        "I01" => "Construcciones",
        "I02" => "Mobiliario y equipo de oficina por inversiones",
        "I03" => "Equipo de transporte",
        "I04" => "Equipo de computo y accesorios",
        "I05" => "Dados, troqueles, moldes, matrices y herramental",
        "I06" => "Comunicaciones telefónicas",
        "I07" => "Comunicaciones satelitales",
        "I08" => "Otra maquinaria y equipo",
        "D01" => "Honorarios médicos, dentales y gastos hospitalarios",
        "D02" => "Gastos médicos por incapacidad o discapacidad",
        "D03" => "Gastos funerales",
        "D04" => "Donativos",
        "D05" => {
            "Intereses reales efectivamente pagados por créditos hipotecarios (casa habitación)"
        }
        "D06" => "Aportaciones voluntarias al SAR",
        "D07" => "Primas por seguros de gastos médicos",
        "D08" => "Gastos de transportación escolar obligatoria",
        "D09" => {
            "Depósitos en cuentas para el ahorro, primas que tengan como base planes de pensiones"
        }
        "D10" => "Pagos por servicios educativos (colegiaturas)",
        "S01" => "Sin efectos fiscales",
        "CP01" => "Pagos",
        "CN01" => "Nómina",
        _ => return None,
    })
}

/// c_FormaPago.
pub(crate) fn forma_pago(code: &str) -> Option<&'static str> {
    Some(match code {
        "01" => "Efectivo",
        "02" => "Cheque nominativo",
        "03" => "Transferencia electrónica de fondos",
        "04" => "Tarjeta de crédito",
        "05" => "Monedero electrónico",
        "06" => "Dinero electrónico",
        "08" => "Vales de despensa",
        "12" => "Dación en pago",
        "13" => "Pago por subrogación",
        "14" => "Pago por consignación",
        "15" => "Condonación",
        "17" => "Compensación",
        "23" => "Novación",
        "24" => "Confusión",
        "25" => "Remisión de deuda",
        "26" => "Prescripción o caducidad",
        "27" => "A satisfacción del acreedor",
        "28" => "Tarjeta de débito",
        "29" => "Tarjeta de servicios",
        "30" => "Aplicación de anticipos",
        "31" => "Intermediario pagos",
        "99" => "Por definir",
        _ => return None,
    })
}

/// c_MetodoPago.
pub(crate) fn metodo_pago(code: &str) -> Option<&'static str> {
    Some(match code {
        "PUE" => "Pago en una sola exhibición",
        "PPD" => "Pago en parcialidades o diferido",
        _ => return None,
    })
}

/// c_TipoDeComprobante.
pub(crate) fn tipo_de_comprobante(code: &str) -> Option<&'static str> {
    Some(match code {
        "I" => "Ingreso",
        "E" => "Egreso",
        "T" => "Traslado",
        "N" => "Nómina",
        "P" => "Pago",
        _ => return None,
    })
}

/// c_Exportacion.
pub(crate) fn exportacion(code: &str) -> Option<&'static str> {
    Some(match code {
        "01" => "No aplica",
        "02" => "Definitiva con clave A1",
        "03" => "Temporal",
        "04" => "Definitiva con clave distinta a A1",
        _ => return None,
    })
}

/// c_ObjetoImp.
pub(crate) fn objeto_imp(code: &str) -> Option<&'static str> {
    Some(match code {
        "01" => "No objeto de impuesto",
        "02" => "Sí objeto de impuesto",
        "03" => "Sí objeto del impuesto y no obligado al desglose",
        "04" => "Sí objeto del impuesto y no causa impuesto",
        "05" => "Sí objeto del impuesto, IVA crédito PODEBI",
        "06" => "Sí objeto del IVA, No traslado IVA",
        "07" => "No traslado del IVA, Sí desglose IEPS",
        "08" => "No traslado del IVA, No desglose IEPS",
        _ => return None,
    })
}

/// c_Impuesto, short.
pub(crate) fn impuesto(code: &str) -> &str {
    match code {
        "001" => "ISR",
        "002" => "IVA",
        "003" => "IEPS",
        other => other,
    }
}

/// c_Periodicidad.
pub(crate) fn periodicidad(code: &str) -> Option<&'static str> {
    Some(match code {
        "01" => "Diario",
        "02" => "Semanal",
        "03" => "Quincenal",
        "04" => "Mensual",
        "05" => "Bimestral",
        _ => return None,
    })
}

/// c_Meses.
pub(crate) fn meses(code: &str) -> Option<&'static str> {
    Some(match code {
        "01" => "Enero",
        "02" => "Febrero",
        "03" => "Marzo",
        "04" => "Abril",
        "05" => "Mayo",
        "06" => "Junio",
        "07" => "Julio",
        "08" => "Agosto",
        "09" => "Septiembre",
        "10" => "Octubre",
        "11" => "Noviembre",
        "12" => "Diciembre",
        "13" => "Enero-Febrero",
        "14" => "Marzo-Abril",
        "15" => "Mayo-Junio",
        "16" => "Julio-Agosto",
        "17" => "Septiembre-Octubre",
        "18" => "Noviembre-Diciembre",
        _ => return None,
    })
}

/// c_TipoRelacion.
pub(crate) fn tipo_relacion(code: &str) -> Option<&'static str> {
    Some(match code {
        "01" => "Nota de crédito de los documentos relacionados",
        "02" => "Nota de débito de los documentos relacionados",
        "03" => "Devolución de mercancía sobre facturas o traslados previos",
        "04" => "Sustitución de los CFDI previos",
        "05" => "Traslados de mercancías facturados previamente",
        "06" => "Factura generada por los traslados previos",
        "07" => "CFDI por aplicación de anticipo",
        _ => return None,
    })
}
