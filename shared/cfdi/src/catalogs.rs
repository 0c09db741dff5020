//! SAT catalogs of CFDI 4.0 (catCFDI) that our invoices use, parsed into types that only hold codes
//! SAT accepts today.
//!
//! Sources: the catalog XSD bundled with satcfdi (`catCFDI.xsd`, the one the test oracle validates
//! against) and SAT's catCFDI spreadsheet for what the XSD cannot say: which persona (física/moral)
//! may use a régimen or uso, and which régimen fiscal each uso de CFDI admits (columns "Aplica para
//! tipo persona" and "Régimen Fiscal Receptor" of c_UsoCFDI). Only codes in force for CFDI 4.0 are
//! accepted: 609, 628, 629 and 630 (still in the XSD) and uso P01 are rejected.

use crate::model::FiscalError;
use crate::rfc::TipoPersona;
use mostrador_core::catalog::CLAVES_UNIDAD;
use std::fmt;

/// A régimen fiscal (c_RegimenFiscal) in force for CFDI 4.0.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RegimenFiscal {
    /// 601 General de Ley Personas Morales.
    GeneralDeLeyPersonasMorales,
    /// 603 Personas Morales con Fines no Lucrativos.
    PersonasMoralesSinFinesDeLucro,
    /// 605 Sueldos y Salarios e Ingresos Asimilados a Salarios.
    SueldosYSalarios,
    /// 606 Arrendamiento.
    Arrendamiento,
    /// 607 Régimen de Enajenación o Adquisición de Bienes.
    EnajenacionDeBienes,
    /// 608 Demás ingresos.
    DemasIngresos,
    /// 610 Residentes en el Extranjero sin Establecimiento Permanente en México.
    ResidentesEnElExtranjero,
    /// 611 Ingresos por Dividendos (socios y accionistas).
    Dividendos,
    /// 612 Personas Físicas con Actividades Empresariales y Profesionales.
    ActividadesEmpresarialesYProfesionales,
    /// 614 Ingresos por intereses.
    Intereses,
    /// 615 Régimen de los ingresos por obtención de premios.
    Premios,
    /// 616 Sin obligaciones fiscales.
    SinObligacionesFiscales,
    /// 620 Sociedades Cooperativas de Producción que optan por diferir sus ingresos.
    SociedadesCooperativas,
    /// 621 Incorporación Fiscal.
    IncorporacionFiscal,
    /// 622 Actividades Agrícolas, Ganaderas, Silvícolas y Pesqueras.
    ActividadesAgricolas,
    /// 623 Opcional para Grupos de Sociedades.
    GruposDeSociedades,
    /// 624 Coordinados.
    Coordinados,
    /// 625 Actividades Empresariales con ingresos a través de Plataformas Tecnológicas.
    PlataformasTecnologicas,
    /// 626 Régimen Simplificado de Confianza (RESICO).
    SimplificadoDeConfianza,
}

use RegimenFiscal as R;

/// (régimen, code, description, física may use it, moral may use it), in enum order.
const REGIMENES: [(RegimenFiscal, &str, &str, bool, bool); 19] = [
    (R::GeneralDeLeyPersonasMorales, "601", "General de Ley Personas Morales", false, true),
    (R::PersonasMoralesSinFinesDeLucro, "603", "Personas Morales con Fines no Lucrativos", false, true),
    (R::SueldosYSalarios, "605", "Sueldos y Salarios e Ingresos Asimilados a Salarios", true, false),
    (R::Arrendamiento, "606", "Arrendamiento", true, false),
    (R::EnajenacionDeBienes, "607", "Régimen de Enajenación o Adquisición de Bienes", true, false),
    (R::DemasIngresos, "608", "Demás ingresos", true, false),
    (R::ResidentesEnElExtranjero, "610", "Residentes en el Extranjero sin Establecimiento Permanente en México", true, true),
    (R::Dividendos, "611", "Ingresos por Dividendos (socios y accionistas)", true, false),
    (R::ActividadesEmpresarialesYProfesionales, "612", "Personas Físicas con Actividades Empresariales y Profesionales", true, false),
    (R::Intereses, "614", "Ingresos por intereses", true, false),
    (R::Premios, "615", "Régimen de los ingresos por obtención de premios", true, false),
    (R::SinObligacionesFiscales, "616", "Sin obligaciones fiscales", true, false),
    (R::SociedadesCooperativas, "620", "Sociedades Cooperativas de Producción que optan por diferir sus ingresos", false, true),
    (R::IncorporacionFiscal, "621", "Incorporación Fiscal", true, false),
    (R::ActividadesAgricolas, "622", "Actividades Agrícolas, Ganaderas, Silvícolas y Pesqueras", false, true),
    (R::GruposDeSociedades, "623", "Opcional para Grupos de Sociedades", false, true),
    (R::Coordinados, "624", "Coordinados", false, true),
    (R::PlataformasTecnologicas, "625", "Régimen de las Actividades Empresariales con ingresos a través de Plataformas Tecnológicas", true, false),
    (R::SimplificadoDeConfianza, "626", "Régimen Simplificado de Confianza", true, true),
];

impl RegimenFiscal {
    /// Every régimen in force, in catalog order.
    pub fn all() -> impl Iterator<Item = RegimenFiscal> {
        REGIMENES.iter().map(|r| r.0)
    }

    fn row(self) -> &'static (RegimenFiscal, &'static str, &'static str, bool, bool) {
        &REGIMENES[self as usize]
    }

    /// Parses a c_RegimenFiscal code (`"612"`).
    pub fn parse(code: &str) -> Result<RegimenFiscal, FiscalError> {
        let code = code.trim();
        REGIMENES
            .iter()
            .find(|r| r.1 == code)
            .map(|r| r.0)
            .ok_or_else(|| match code {
                "609" | "628" | "629" | "630" => FiscalError::new(
                    "regimen_fiscal",
                    format!("El régimen fiscal {code} ya no se puede usar en facturas CFDI 4.0. Revisa tu Constancia de Situación Fiscal."),
                ),
                _ => FiscalError::new(
                    "regimen_fiscal",
                    format!("El régimen fiscal {code:?} no existe en el catálogo del SAT: son 3 dígitos, por ejemplo 612 o 626, y aparecen en tu Constancia de Situación Fiscal."),
                ),
            })
    }

    /// The three-digit code.
    pub fn code(self) -> &'static str {
        self.row().1
    }

    /// SAT's description.
    pub fn descripcion(self) -> &'static str {
        self.row().2
    }

    /// Whether a persona of this kind may be registered in the régimen.
    pub fn admite(self, persona: TipoPersona) -> bool {
        match persona {
            TipoPersona::Fisica => self.row().3,
            TipoPersona::Moral => self.row().4,
        }
    }

    /// "616 (Sin obligaciones fiscales)", as messages name it.
    pub(crate) fn named(self) -> String {
        format!("{} ({})", self.code(), self.descripcion())
    }
}

impl fmt::Display for RegimenFiscal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

/// A uso de CFDI (c_UsoCFDI) in force for CFDI 4.0: what the receptor will use the invoice for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum UsoCfdi {
    /// Adquisición de mercancías.
    G01,
    /// Devoluciones, descuentos o bonificaciones.
    G02,
    /// Gastos en general.
    G03,
    /// Construcciones.
    I01,
    /// Mobiliario y equipo de oficina por inversiones.
    I02,
    /// Equipo de transporte.
    I03,
    /// Equipo de cómputo y accesorios.
    I04,
    /// Dados, troqueles, moldes, matrices y herramental.
    I05,
    /// Comunicaciones telefónicas.
    I06,
    /// Comunicaciones satelitales.
    I07,
    /// Otra maquinaria y equipo.
    I08,
    /// Honorarios médicos, dentales y gastos hospitalarios.
    D01,
    /// Gastos médicos por incapacidad o discapacidad.
    D02,
    /// Gastos funerales.
    D03,
    /// Donativos.
    D04,
    /// Intereses reales efectivamente pagados por créditos hipotecarios (casa habitación).
    D05,
    /// Aportaciones voluntarias al SAR.
    D06,
    /// Primas por seguros de gastos médicos.
    D07,
    /// Gastos de transportación escolar obligatoria.
    D08,
    /// Depósitos en cuentas para el ahorro, primas que tengan como base planes de pensiones.
    D09,
    /// Pagos por servicios educativos (colegiaturas).
    D10,
    /// Sin efectos fiscales.
    S01,
    /// Pagos (only on CFDI de pago).
    CP01,
    /// Nómina (only on CFDI de nómina).
    CN01,
}

const EMPRESAS: &[RegimenFiscal] = &[
    R::GeneralDeLeyPersonasMorales,
    R::PersonasMoralesSinFinesDeLucro,
    R::Arrendamiento,
    R::ActividadesEmpresarialesYProfesionales,
    R::SociedadesCooperativas,
    R::IncorporacionFiscal,
    R::ActividadesAgricolas,
    R::GruposDeSociedades,
    R::Coordinados,
    R::PlataformasTecnologicas,
    R::SimplificadoDeConfianza,
];
const EMPRESAS_Y_616: &[RegimenFiscal] = &[
    R::GeneralDeLeyPersonasMorales,
    R::PersonasMoralesSinFinesDeLucro,
    R::Arrendamiento,
    R::ActividadesEmpresarialesYProfesionales,
    R::SinObligacionesFiscales,
    R::SociedadesCooperativas,
    R::IncorporacionFiscal,
    R::ActividadesAgricolas,
    R::GruposDeSociedades,
    R::Coordinados,
    R::PlataformasTecnologicas,
    R::SimplificadoDeConfianza,
];
const DEDUCCIONES_PERSONALES: &[RegimenFiscal] = &[
    R::SueldosYSalarios,
    R::Arrendamiento,
    R::DemasIngresos,
    R::Dividendos,
    R::ActividadesEmpresarialesYProfesionales,
    R::Intereses,
    R::EnajenacionDeBienes,
    R::Premios,
    R::PlataformasTecnologicas,
];
const TODOS_LOS_REGIMENES: &[RegimenFiscal] = &[
    R::GeneralDeLeyPersonasMorales,
    R::PersonasMoralesSinFinesDeLucro,
    R::SueldosYSalarios,
    R::Arrendamiento,
    R::DemasIngresos,
    R::ResidentesEnElExtranjero,
    R::Dividendos,
    R::ActividadesEmpresarialesYProfesionales,
    R::Intereses,
    R::SinObligacionesFiscales,
    R::SociedadesCooperativas,
    R::IncorporacionFiscal,
    R::ActividadesAgricolas,
    R::GruposDeSociedades,
    R::Coordinados,
    R::EnajenacionDeBienes,
    R::Premios,
    R::PlataformasTecnologicas,
    R::SimplificadoDeConfianza,
];

/// (uso, code, description, física, moral, régimenes of the receptor that admit it), in enum order.
type UsoRow = (
    UsoCfdi,
    &'static str,
    &'static str,
    bool,
    bool,
    &'static [RegimenFiscal],
);

const USOS: [UsoRow; 24] = [
    (
        UsoCfdi::G01,
        "G01",
        "Adquisición de mercancías",
        true,
        true,
        EMPRESAS,
    ),
    (
        UsoCfdi::G02,
        "G02",
        "Devoluciones, descuentos o bonificaciones",
        true,
        true,
        EMPRESAS_Y_616,
    ),
    (
        UsoCfdi::G03,
        "G03",
        "Gastos en general",
        true,
        true,
        EMPRESAS,
    ),
    (UsoCfdi::I01, "I01", "Construcciones", true, true, EMPRESAS),
    (
        UsoCfdi::I02,
        "I02",
        "Mobiliario y equipo de oficina por inversiones",
        true,
        true,
        EMPRESAS,
    ),
    (
        UsoCfdi::I03,
        "I03",
        "Equipo de transporte",
        true,
        true,
        EMPRESAS,
    ),
    (
        UsoCfdi::I04,
        "I04",
        "Equipo de cómputo y accesorios",
        true,
        true,
        EMPRESAS,
    ),
    (
        UsoCfdi::I05,
        "I05",
        "Dados, troqueles, moldes, matrices y herramental",
        true,
        true,
        EMPRESAS,
    ),
    (
        UsoCfdi::I06,
        "I06",
        "Comunicaciones telefónicas",
        true,
        true,
        EMPRESAS,
    ),
    (
        UsoCfdi::I07,
        "I07",
        "Comunicaciones satelitales",
        true,
        true,
        EMPRESAS,
    ),
    (
        UsoCfdi::I08,
        "I08",
        "Otra maquinaria y equipo",
        true,
        true,
        EMPRESAS,
    ),
    (
        UsoCfdi::D01,
        "D01",
        "Honorarios médicos, dentales y gastos hospitalarios",
        true,
        false,
        DEDUCCIONES_PERSONALES,
    ),
    (
        UsoCfdi::D02,
        "D02",
        "Gastos médicos por incapacidad o discapacidad",
        true,
        false,
        DEDUCCIONES_PERSONALES,
    ),
    (
        UsoCfdi::D03,
        "D03",
        "Gastos funerales",
        true,
        false,
        DEDUCCIONES_PERSONALES,
    ),
    (
        UsoCfdi::D04,
        "D04",
        "Donativos",
        true,
        false,
        DEDUCCIONES_PERSONALES,
    ),
    (
        UsoCfdi::D05,
        "D05",
        "Intereses reales efectivamente pagados por créditos hipotecarios (casa habitación)",
        true,
        false,
        DEDUCCIONES_PERSONALES,
    ),
    (
        UsoCfdi::D06,
        "D06",
        "Aportaciones voluntarias al SAR",
        true,
        false,
        DEDUCCIONES_PERSONALES,
    ),
    (
        UsoCfdi::D07,
        "D07",
        "Primas por seguros de gastos médicos",
        true,
        false,
        DEDUCCIONES_PERSONALES,
    ),
    (
        UsoCfdi::D08,
        "D08",
        "Gastos de transportación escolar obligatoria",
        true,
        false,
        DEDUCCIONES_PERSONALES,
    ),
    (
        UsoCfdi::D09,
        "D09",
        "Depósitos en cuentas para el ahorro, primas que tengan como base planes de pensiones",
        true,
        false,
        DEDUCCIONES_PERSONALES,
    ),
    (
        UsoCfdi::D10,
        "D10",
        "Pagos por servicios educativos (colegiaturas)",
        true,
        false,
        DEDUCCIONES_PERSONALES,
    ),
    (
        UsoCfdi::S01,
        "S01",
        "Sin efectos fiscales",
        true,
        true,
        TODOS_LOS_REGIMENES,
    ),
    (
        UsoCfdi::CP01,
        "CP01",
        "Pagos",
        true,
        true,
        TODOS_LOS_REGIMENES,
    ),
    (
        UsoCfdi::CN01,
        "CN01",
        "Nómina",
        true,
        false,
        &[R::SueldosYSalarios],
    ),
];

impl UsoCfdi {
    fn row(self) -> &'static UsoRow {
        &USOS[self as usize]
    }

    /// Every uso in force, in catalog order.
    pub fn all() -> impl Iterator<Item = UsoCfdi> {
        USOS.iter().map(|u| u.0)
    }

    /// Parses a c_UsoCFDI code (`"G03"`, case-insensitive).
    pub fn parse(code: &str) -> Result<UsoCfdi, FiscalError> {
        let code = code.trim().to_ascii_uppercase();
        USOS.iter()
            .find(|u| u.1 == code)
            .map(|u| u.0)
            .ok_or_else(|| match code.as_str() {
                "P01" => FiscalError::new(
                    "uso_cfdi",
                    "El uso P01 (Por definir) ya no existe en CFDI 4.0: elige el uso que darás a la factura, por ejemplo G03 (Gastos en general).",
                ),
                _ => FiscalError::new(
                    "uso_cfdi",
                    format!("El uso de CFDI {code:?} no existe en el catálogo del SAT: por ejemplo G01, G03, D01 o S01."),
                ),
            })
    }

    /// The code (`"G03"`).
    pub fn code(self) -> &'static str {
        self.row().1
    }

    /// SAT's description.
    pub fn descripcion(self) -> &'static str {
        self.row().2
    }

    /// Whether a persona of this kind may use it.
    pub fn admite_persona(self, persona: TipoPersona) -> bool {
        match persona {
            TipoPersona::Fisica => self.row().3,
            TipoPersona::Moral => self.row().4,
        }
    }

    /// Whether a receptor in `regimen` may use it.
    pub fn admite_regimen(self, regimen: RegimenFiscal) -> bool {
        self.row().5.contains(&regimen)
    }

    /// The regímenes of the receptor that admit it.
    pub fn regimenes(self) -> &'static [RegimenFiscal] {
        self.row().5
    }

    /// The usos a receptor may choose on an invoice for a sale (never CP01/CN01, which belong to
    /// payment and payroll CFDI).
    pub fn para_factura(persona: TipoPersona, regimen: RegimenFiscal) -> Vec<UsoCfdi> {
        UsoCfdi::all()
            .filter(|u| !matches!(u, UsoCfdi::CP01 | UsoCfdi::CN01))
            .filter(|u| u.admite_persona(persona) && u.admite_regimen(regimen))
            .collect()
    }

    /// "G03 (Gastos en general)", as messages name it.
    pub(crate) fn named(self) -> String {
        format!("{} ({})", self.code(), self.descripcion())
    }
}

impl fmt::Display for UsoCfdi {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

/// How the money was paid (c_FormaPago, codes in force for CFDI 4.0).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FormaPago {
    /// 01 Efectivo.
    Efectivo,
    /// 02 Cheque nominativo.
    Cheque,
    /// 03 Transferencia electrónica de fondos (SPEI, CoDi).
    Transferencia,
    /// 04 Tarjeta de crédito.
    TarjetaDeCredito,
    /// 05 Monedero electrónico.
    MonederoElectronico,
    /// 06 Dinero electrónico.
    DineroElectronico,
    /// 08 Vales de despensa.
    ValesDeDespensa,
    /// 12 Dación en pago.
    DacionEnPago,
    /// 13 Pago por subrogación.
    Subrogacion,
    /// 14 Pago por consignación.
    Consignacion,
    /// 15 Condonación.
    Condonacion,
    /// 17 Compensación.
    Compensacion,
    /// 23 Novación.
    Novacion,
    /// 24 Confusión.
    Confusion,
    /// 25 Remisión de deuda.
    RemisionDeDeuda,
    /// 26 Prescripción o caducidad.
    Prescripcion,
    /// 27 A satisfacción del acreedor.
    SatisfaccionDelAcreedor,
    /// 28 Tarjeta de débito.
    TarjetaDeDebito,
    /// 29 Tarjeta de servicios.
    TarjetaDeServicios,
    /// 30 Aplicación de anticipos.
    AplicacionDeAnticipos,
    /// 31 Intermediario pagos (e.g. a payment platform that collects for the merchant).
    IntermediarioPagos,
    /// 99 Por definir (only with método PPD).
    PorDefinir,
}

const FORMAS: [(FormaPago, &str, &str); 22] = [
    (FormaPago::Efectivo, "01", "Efectivo"),
    (FormaPago::Cheque, "02", "Cheque nominativo"),
    (
        FormaPago::Transferencia,
        "03",
        "Transferencia electrónica de fondos",
    ),
    (FormaPago::TarjetaDeCredito, "04", "Tarjeta de crédito"),
    (FormaPago::MonederoElectronico, "05", "Monedero electrónico"),
    (FormaPago::DineroElectronico, "06", "Dinero electrónico"),
    (FormaPago::ValesDeDespensa, "08", "Vales de despensa"),
    (FormaPago::DacionEnPago, "12", "Dación en pago"),
    (FormaPago::Subrogacion, "13", "Pago por subrogación"),
    (FormaPago::Consignacion, "14", "Pago por consignación"),
    (FormaPago::Condonacion, "15", "Condonación"),
    (FormaPago::Compensacion, "17", "Compensación"),
    (FormaPago::Novacion, "23", "Novación"),
    (FormaPago::Confusion, "24", "Confusión"),
    (FormaPago::RemisionDeDeuda, "25", "Remisión de deuda"),
    (FormaPago::Prescripcion, "26", "Prescripción o caducidad"),
    (
        FormaPago::SatisfaccionDelAcreedor,
        "27",
        "A satisfacción del acreedor",
    ),
    (FormaPago::TarjetaDeDebito, "28", "Tarjeta de débito"),
    (FormaPago::TarjetaDeServicios, "29", "Tarjeta de servicios"),
    (
        FormaPago::AplicacionDeAnticipos,
        "30",
        "Aplicación de anticipos",
    ),
    (FormaPago::IntermediarioPagos, "31", "Intermediario pagos"),
    (FormaPago::PorDefinir, "99", "Por definir"),
];

impl FormaPago {
    /// Parses a c_FormaPago code (`"03"`).
    pub fn parse(code: &str) -> Result<FormaPago, FiscalError> {
        let code = code.trim();
        FORMAS.iter().find(|f| f.1 == code).map(|f| f.0).ok_or_else(|| {
            FiscalError::new(
                "forma_pago",
                format!("La forma de pago {code:?} no existe en el catálogo del SAT: por ejemplo 01 (efectivo), 03 (transferencia), 04 (tarjeta de crédito) o 28 (tarjeta de débito)."),
            )
        })
    }

    /// The two-digit code.
    pub fn code(self) -> &'static str {
        FORMAS[self as usize].1
    }

    /// SAT's description.
    pub fn descripcion(self) -> &'static str {
        FORMAS[self as usize].2
    }
}

impl fmt::Display for FormaPago {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

/// c_MetodoPago: paid at once (PUE) or in installments / later (PPD).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MetodoPago {
    /// PUE, Pago en una sola exhibición.
    Pue,
    /// PPD, Pago en parcialidades o diferido (needs Complemento de Pagos later).
    Ppd,
}

impl MetodoPago {
    /// The code (`"PUE"`).
    pub fn code(self) -> &'static str {
        match self {
            MetodoPago::Pue => "PUE",
            MetodoPago::Ppd => "PPD",
        }
    }
}

/// c_Periodicidad of a factura global.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Periodicidad {
    /// 01 Diario.
    Diario,
    /// 02 Semanal.
    Semanal,
    /// 03 Quincenal.
    Quincenal,
    /// 04 Mensual.
    Mensual,
    /// 05 Bimestral (only emisores in régimen 621).
    Bimestral,
}

impl Periodicidad {
    /// Parses a c_Periodicidad code (`"01"`).
    pub fn parse(code: &str) -> Result<Periodicidad, FiscalError> {
        match code.trim() {
            "01" => Ok(Periodicidad::Diario),
            "02" => Ok(Periodicidad::Semanal),
            "03" => Ok(Periodicidad::Quincenal),
            "04" => Ok(Periodicidad::Mensual),
            "05" => Ok(Periodicidad::Bimestral),
            other => Err(FiscalError::new(
                "periodicidad",
                format!("La periodicidad {other:?} no existe: 01 diaria, 02 semanal, 03 quincenal, 04 mensual o 05 bimestral."),
            )),
        }
    }

    /// The two-digit code.
    pub fn code(self) -> &'static str {
        match self {
            Periodicidad::Diario => "01",
            Periodicidad::Semanal => "02",
            Periodicidad::Quincenal => "03",
            Periodicidad::Mensual => "04",
            Periodicidad::Bimestral => "05",
        }
    }
}

/// c_Meses of a factura global: 01–12 a month, 13–18 a bimester (13 = enero-febrero).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Meses(u8);

impl Meses {
    /// A month 1–12 or a bimester 13–18.
    pub fn new(value: u8) -> Result<Meses, FiscalError> {
        if (1..=18).contains(&value) {
            Ok(Meses(value))
        } else {
            Err(FiscalError::new(
                "meses",
                format!("El mes {value} no existe: 01 a 12 para un mes, 13 a 18 para un bimestre (13 = enero-febrero)."),
            ))
        }
    }

    /// The bimester (13–18) that contains month 1–12.
    pub fn bimestre_de(mes: u8) -> Result<Meses, FiscalError> {
        if (1..=12).contains(&mes) {
            Ok(Meses(12 + mes.div_ceil(2)))
        } else {
            Err(FiscalError::new(
                "meses",
                format!("El mes {mes} no existe: los meses van del 1 al 12."),
            ))
        }
    }

    /// Whether it names a bimester (13–18).
    pub fn es_bimestre(self) -> bool {
        self.0 > 12
    }

    /// The number (1–18).
    pub fn value(self) -> u8 {
        self.0
    }

    /// The two-digit code.
    pub fn code(self) -> String {
        format!("{:02}", self.0)
    }
}

/// c_Exportacion. Our invoices are domestic sales: always 01.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Exportacion {
    /// 01 No aplica.
    NoAplica,
}

impl Exportacion {
    /// The two-digit code.
    pub fn code(self) -> &'static str {
        "01"
    }
}

/// c_ObjetoImp of a concepto. Our conceptos always carry their IVA (16, 8, 0 % or exento): 02.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ObjetoImp {
    /// 02 Sí objeto de impuesto (the Impuestos node must be present).
    Si,
}

impl ObjetoImp {
    /// The two-digit code.
    pub fn code(self) -> &'static str {
        "02"
    }
}

/// c_TipoRelacion of related CFDI.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TipoRelacion {
    /// 01 Nota de crédito de los documentos relacionados.
    NotaDeCredito,
    /// 02 Nota de débito de los documentos relacionados.
    NotaDeDebito,
    /// 03 Devolución de mercancía sobre facturas o traslados previos.
    Devolucion,
    /// 04 Sustitución de los CFDI previos.
    Sustitucion,
    /// 05 Traslados de mercancías facturados previamente.
    TrasladosPrevios,
    /// 06 Factura generada por los traslados previos.
    FacturaDeTraslados,
    /// 07 CFDI por aplicación de anticipo.
    AplicacionDeAnticipo,
}

impl TipoRelacion {
    /// Parses a c_TipoRelacion code (`"01"`).
    pub fn parse(code: &str) -> Result<TipoRelacion, FiscalError> {
        Ok(match code.trim() {
            "01" => TipoRelacion::NotaDeCredito,
            "02" => TipoRelacion::NotaDeDebito,
            "03" => TipoRelacion::Devolucion,
            "04" => TipoRelacion::Sustitucion,
            "05" => TipoRelacion::TrasladosPrevios,
            "06" => TipoRelacion::FacturaDeTraslados,
            "07" => TipoRelacion::AplicacionDeAnticipo,
            other => {
                return Err(FiscalError::new(
                    "tipo_relacion",
                    format!("El tipo de relación {other:?} no está soportado: 01 nota de crédito, 03 devolución o 04 sustitución."),
                ))
            }
        })
    }

    /// The two-digit code.
    pub fn code(self) -> &'static str {
        match self {
            TipoRelacion::NotaDeCredito => "01",
            TipoRelacion::NotaDeDebito => "02",
            TipoRelacion::Devolucion => "03",
            TipoRelacion::Sustitucion => "04",
            TipoRelacion::TrasladosPrevios => "05",
            TipoRelacion::FacturaDeTraslados => "06",
            TipoRelacion::AplicacionDeAnticipo => "07",
        }
    }
}

/// c_TipoDeComprobante of the invoices this crate builds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TipoDeComprobante {
    /// I, Ingreso: a sale.
    Ingreso,
    /// E, Egreso: a refund, discount or bonus on earlier sales (nota de crédito).
    Egreso,
}

impl TipoDeComprobante {
    /// The one-letter code.
    pub fn code(self) -> &'static str {
        match self {
            TipoDeComprobante::Ingreso => "I",
            TipoDeComprobante::Egreso => "E",
        }
    }
}

/// c_Moneda. Merchants sell in pesos: always MXN.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Moneda {
    /// MXN, peso mexicano (2 decimals).
    Mxn,
}

impl Moneda {
    /// The ISO 4217 code.
    pub fn code(self) -> &'static str {
        "MXN"
    }
}

/// A c_ClaveProdServ present in SAT's current catalog (8 digits).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ClaveProdServ([u8; 8]);

/// Every c_ClaveProdServ of catCFDI.xsd with SAT's description, sorted by code, one
/// "CODE<TAB>Descripción" per line; regenerate with `catalogs/generate_clave_prod_serv.py`.
static CLAVES_PROD_SERV: &str = include_str!("catalogs/clave_prod_serv.txt");

/// SAT's c_ClaveProdServ catalog: every current code with its description (empty for the few
/// codes the catalog database does not describe), sorted by code.
pub fn claves_prod_serv() -> &'static [(&'static str, &'static str)] {
    static ENTRIES: std::sync::OnceLock<Vec<(&'static str, &'static str)>> =
        std::sync::OnceLock::new();
    ENTRIES.get_or_init(|| {
        CLAVES_PROD_SERV
            .lines()
            .filter_map(|line| line.split_once('\t'))
            .collect()
    })
}

fn in_prod_serv_catalog(code: &[u8; 8]) -> bool {
    claves_prod_serv()
        .binary_search_by(|(at, _)| at.as_bytes().cmp(code.as_slice()))
        .is_ok()
}

/// SAT's description of a current c_ClaveProdServ ("51142001" → "Acetaminofén").
pub fn clave_prod_serv_name(code: &str) -> Option<&'static str> {
    let entries = claves_prod_serv();
    entries
        .binary_search_by(|(at, _)| (*at).cmp(code.trim()))
        .ok()
        .map(|i| entries[i].1)
}

impl ClaveProdServ {
    /// 01010101 "No existe en el catálogo": the clave SAT prescribes for each ticket of a factura
    /// global.
    pub const VENTA_AL_PUBLICO: ClaveProdServ = ClaveProdServ(*b"01010101");
    /// 84111506 "Servicios de facturación": the clave SAT prescribes for discounts and bonuses on a
    /// nota de crédito.
    pub const SERVICIOS_DE_FACTURACION: ClaveProdServ = ClaveProdServ(*b"84111506");

    /// Parses an 8-digit clave and checks it exists in SAT's catalog.
    pub fn parse(code: &str) -> Result<ClaveProdServ, FiscalError> {
        let code = code.trim();
        let bytes: [u8; 8] = code
            .as_bytes()
            .try_into()
            .ok()
            .filter(|b: &[u8; 8]| b.iter().all(u8::is_ascii_digit))
            .ok_or_else(|| {
                FiscalError::new(
                    "clave_prod_serv",
                    format!("La clave de producto o servicio {code:?} debe tener 8 dígitos (catálogo c_ClaveProdServ del SAT), por ejemplo 51142001."),
                )
            })?;
        if in_prod_serv_catalog(&bytes) {
            Ok(ClaveProdServ(bytes))
        } else {
            Err(FiscalError::new(
                "clave_prod_serv",
                format!("La clave de producto o servicio {code} no existe en el catálogo c_ClaveProdServ vigente del SAT; búscala en el catálogo y actualiza el producto."),
            ))
        }
    }

    /// The 8 digits.
    pub fn as_str(&self) -> &str {
        // Only ASCII digits are ever stored.
        std::str::from_utf8(&self.0).unwrap_or("00000000")
    }
}

/// A c_ClaveUnidad among the units mostrador's catalog offers ([`CLAVES_UNIDAD`] in
/// `mostrador-core`, all of them in SAT's catalog).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ClaveUnidad {
    code: &'static str,
    nombre: &'static str,
}

impl ClaveUnidad {
    /// ACT "Actividad": the unit SAT prescribes for tickets of a factura global and for bonuses.
    pub const ACTIVIDAD: ClaveUnidad = ClaveUnidad {
        code: "ACT",
        nombre: "Actividad",
    };

    /// Parses a clave de unidad that mostrador's product catalog accepts (`"H87"`).
    pub fn parse(code: &str) -> Result<ClaveUnidad, FiscalError> {
        let code = code.trim();
        CLAVES_UNIDAD
            .iter()
            .find(|(c, _)| c.eq_ignore_ascii_case(code))
            .map(|(code, nombre)| ClaveUnidad { code, nombre })
            .ok_or_else(|| {
                FiscalError::new(
                    "clave_unidad",
                    format!("La clave de unidad {code:?} no está entre las que maneja el catálogo: por ejemplo H87 (pieza), KGM (kilogramo), LTR (litro), E48 (servicio)."),
                )
            })
    }

    /// The code (`"H87"`).
    pub fn code(&self) -> &'static str {
        self.code
    }

    /// SAT's name of the unit (`"Pieza"`).
    pub fn nombre(&self) -> &'static str {
        self.nombre
    }
}

/// A Mexican postal code (5 digits), as SAT registers domicilios fiscales and lugares de expedición.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct CodigoPostal([u8; 5]);

impl CodigoPostal {
    /// Parses 5 digits (surrounding spaces ignored). Mexican postal codes start at 01000: the first
    /// two digits name the state, and 00 names none.
    pub fn parse(code: &str) -> Result<CodigoPostal, FiscalError> {
        let code = code.trim();
        if code.len() == 5 && code.starts_with("00") && code.bytes().all(|b| b.is_ascii_digit()) {
            return Err(FiscalError::new(
                "codigo_postal",
                format!("El código postal {code} no existe: los códigos postales de México van del 01000 al 99999. Escríbelo como aparece en tu Constancia de Situación Fiscal."),
            ));
        }
        code.as_bytes()
            .try_into()
            .ok()
            .filter(|b: &[u8; 5]| b.iter().all(u8::is_ascii_digit))
            .map(CodigoPostal)
            .ok_or_else(|| {
                FiscalError::new(
                    "codigo_postal",
                    format!("El código postal {code:?} debe tener 5 dígitos, como aparece en tu Constancia de Situación Fiscal (por ejemplo 06600)."),
                )
            })
    }

    /// The 5 digits.
    pub fn as_str(&self) -> &str {
        // Only ASCII digits are ever stored.
        std::str::from_utf8(&self.0).unwrap_or("00000")
    }
}

impl fmt::Display for CodigoPostal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Every c_Pais of catCFDI.xsd with SAT's Spanish name ("USA\tEstados Unidos (los)"), sorted by
/// code; regenerate with `catalogs/generate_pais.py`.
static PAISES: &str = include_str!("catalogs/pais.txt");

/// How customers name the countries a Mexican shop's foreign customers mostly come from, besides
/// SAT's name and the ISO code.
const PAIS_ALIASES: &[(&str, &str)] = &[
    ("estados unidos", "USA"),
    ("estados unidos de america", "USA"),
    ("eua", "USA"),
    ("e u a", "USA"),
    ("eeuu", "USA"),
    ("ee uu", "USA"),
    ("us", "USA"),
    ("united states", "USA"),
    ("united states of america", "USA"),
    ("canada", "CAN"),
    ("inglaterra", "GBR"),
    ("uk", "GBR"),
    ("united kingdom", "GBR"),
    ("reino unido", "GBR"),
    ("corea", "KOR"),
    ("corea del sur", "KOR"),
    ("south korea", "KOR"),
    ("holanda", "NLD"),
    ("paises bajos", "NLD"),
    ("germany", "DEU"),
    ("spain", "ESP"),
    ("france", "FRA"),
    ("italy", "ITA"),
    ("japan", "JPN"),
    ("brasil", "BRA"),
    ("brazil", "BRA"),
    ("china", "CHN"),
];

/// A country of SAT's c_Pais: the ResidenciaFiscal of a foreign customer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Pais([u8; 3]);

impl Pais {
    /// Mexico, which a foreign customer's residencia fiscal can never be.
    pub const MEXICO: Pais = Pais(*b"MEX");

    /// A country by its c_Pais code ("USA"), its name as SAT writes it ("Estados Unidos") or as
    /// customers often do ("EUA", "Canada", "Inglaterra"); case and accents do not matter.
    pub fn parse(text: &str) -> Result<Pais, FiscalError> {
        let folded = mostrador_core::text::fold_text(text);
        let code = folded.to_uppercase();
        if code.len() == 3 {
            if let Some(p) = Pais::by_code(&code) {
                return Ok(p);
            }
        }
        let by_name = PAISES.lines().find_map(|line| {
            let (c, name) = line.split_once('\t')?;
            // SAT writes articles in parentheses: "Estados Unidos (los)".
            let bare = name.split(" (").next().unwrap_or(name);
            (mostrador_core::text::fold_text(bare) == folded).then(|| c.to_owned())
        });
        let alias = PAIS_ALIASES
            .iter()
            .find(|(a, _)| *a == folded)
            .map(|(_, c)| (*c).to_owned());
        by_name
            .or(alias)
            .and_then(|c| Pais::by_code(&c))
            .ok_or_else(|| {
                FiscalError::new(
                    "residencia_fiscal",
                    format!("No reconozco el país {:?}: escríbelo con su nombre (por ejemplo Estados Unidos) o su clave de 3 letras (USA).", text.trim()),
                )
            })
    }

    fn by_code(code: &str) -> Option<Pais> {
        let bytes: [u8; 3] = code.as_bytes().try_into().ok()?;
        PAISES
            .lines()
            .any(|line| {
                line.as_bytes().get(..3) == Some(bytes.as_slice())
                    && line.as_bytes().get(3) == Some(&b'\t')
            })
            .then_some(Pais(bytes))
    }

    /// The c_Pais code ("USA").
    pub fn code(&self) -> &str {
        // Only codes read from the catalog (ASCII) are ever stored.
        std::str::from_utf8(&self.0).unwrap_or("ZZZ")
    }

    /// SAT's name, without the article in parentheses ("Estados Unidos").
    pub fn nombre(&self) -> &'static str {
        PAISES
            .lines()
            .find_map(|line| {
                let (c, name) = line.split_once('\t')?;
                (c == self.code()).then(|| name.split(" (").next().unwrap_or(name))
            })
            .unwrap_or("")
    }
}

impl fmt::Display for Pais {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn countries_are_read_as_customers_write_them() {
        for (text, code) in [
            ("USA", "USA"),
            ("usa", "USA"),
            ("Estados Unidos", "USA"),
            ("EE.UU.", "USA"),
            ("EUA", "USA"),
            ("Canadá", "CAN"),
            ("canada", "CAN"),
            ("España", "ESP"),
            ("Alemania", "DEU"),
            ("Inglaterra", "GBR"),
            ("Colombia", "COL"),
            (" col ", "COL"),
        ] {
            assert_eq!(
                Pais::parse(text).map(|p| p.code().to_owned()),
                Ok(code.to_owned()),
                "{text}"
            );
        }
        assert_eq!(Pais::parse("USA").map(|p| p.nombre()), Ok("Estados Unidos"));
        assert_eq!(Pais::parse("mex"), Ok(Pais::MEXICO));
        for bad in ["", "XYZ", "Narnia", "US A"] {
            assert!(Pais::parse(bad).is_err(), "{bad}");
        }
        assert_eq!(PAISES.lines().count(), 250);
    }

    #[test]
    fn tables_follow_enum_order() {
        for (i, r) in REGIMENES.iter().enumerate() {
            assert_eq!(r.0 as usize, i, "{}", r.1);
        }
        for (i, u) in USOS.iter().enumerate() {
            assert_eq!(u.0 as usize, i, "{}", u.1);
        }
        for (i, f) in FORMAS.iter().enumerate() {
            assert_eq!(f.0 as usize, i, "{}", f.1);
        }
    }

    #[test]
    fn codes_round_trip() {
        for r in RegimenFiscal::all() {
            assert_eq!(RegimenFiscal::parse(r.code()), Ok(r));
        }
        for u in UsoCfdi::all() {
            assert_eq!(UsoCfdi::parse(&u.code().to_lowercase()), Ok(u));
        }
        for f in FORMAS.iter().map(|f| f.0) {
            assert_eq!(FormaPago::parse(f.code()), Ok(f));
        }
        for p in ["01", "02", "03", "04", "05"] {
            assert_eq!(Periodicidad::parse(p).map(|p| p.code()), Ok(p));
        }
    }

    #[test]
    fn retired_codes_are_rejected_with_a_reason() {
        let e = RegimenFiscal::parse("609").unwrap_err();
        assert_eq!(e.field, "regimen_fiscal");
        assert!(e.message.contains("ya no se puede usar"), "{}", e.message);
        let e = UsoCfdi::parse("P01").unwrap_err();
        assert!(e.message.contains("ya no existe"), "{}", e.message);
        assert!(FormaPago::parse("07").is_err());
    }

    #[test]
    fn persona_rules_follow_the_sat_catalog() {
        use TipoPersona::{Fisica, Moral};
        let r601 = RegimenFiscal::GeneralDeLeyPersonasMorales;
        assert!(r601.admite(Moral) && !r601.admite(Fisica));
        let r626 = RegimenFiscal::SimplificadoDeConfianza;
        assert!(r626.admite(Moral) && r626.admite(Fisica));
        assert!(!UsoCfdi::D01.admite_persona(Moral));
        assert!(UsoCfdi::G03.admite_regimen(r626));
        assert!(!UsoCfdi::G03.admite_regimen(RegimenFiscal::SinObligacionesFiscales));
        assert!(UsoCfdi::G02.admite_regimen(RegimenFiscal::SinObligacionesFiscales));
        assert!(!UsoCfdi::G01.admite_regimen(RegimenFiscal::SueldosYSalarios));
        assert!(UsoCfdi::D01.admite_regimen(RegimenFiscal::SueldosYSalarios));
        assert_eq!(
            UsoCfdi::para_factura(Fisica, RegimenFiscal::SinObligacionesFiscales),
            vec![UsoCfdi::G02, UsoCfdi::S01]
        );
    }

    #[test]
    fn clave_prod_serv_must_exist_in_the_catalog() {
        assert_eq!(
            ClaveProdServ::parse("51142001").map(|c| c.as_str().to_owned()),
            Ok("51142001".to_owned())
        );
        assert!(ClaveProdServ::parse("01010101").is_ok());
        assert!(ClaveProdServ::parse("84111506").is_ok());
        // The first and last codes of the catalog are found too.
        let all = claves_prod_serv();
        let (first, last) = (all[0].0, all[all.len() - 1].0);
        assert!(ClaveProdServ::parse(first).is_ok() && ClaveProdServ::parse(last).is_ok());
        let e = ClaveProdServ::parse("50501500").unwrap_err();
        assert!(e.message.contains("no existe"), "{}", e.message);
        assert!(ClaveProdServ::parse("5114200").is_err());
        assert!(ClaveProdServ::parse("5114200a").is_err());
        assert!(ClaveProdServ::parse("00000000").is_err());
    }

    #[test]
    fn catalog_file_is_sorted_codes_with_descriptions() {
        let lines = CLAVES_PROD_SERV.lines().count();
        let all = claves_prod_serv();
        assert_eq!(all.len(), lines, "every line is CODE<TAB>description");
        assert!(all.len() > 50_000);
        for pair in all.windows(2) {
            assert!(pair[0].0 < pair[1].0);
        }
        assert!(all.iter().all(|(c, n)| c.len() == 8
            && c.bytes().all(|b| b.is_ascii_digit())
            && !n.contains('\t')));
        // Nearly every code is described (the console searches by description).
        assert!(all.iter().filter(|(_, n)| !n.is_empty()).count() > 52_000);
        assert_eq!(clave_prod_serv_name("51142001"), Some("Acetaminofén"));
        assert_eq!(clave_prod_serv_name("50501500"), None);
    }

    #[test]
    fn units_come_from_the_product_catalog() {
        assert_eq!(ClaveUnidad::parse("h87").map(|u| u.nombre()), Ok("Pieza"));
        assert_eq!(ClaveUnidad::parse("ACT"), Ok(ClaveUnidad::ACTIVIDAD));
        assert_eq!(ClaveUnidad::parse("BOX").unwrap_err().field, "clave_unidad");
    }

    #[test]
    fn postal_codes_are_five_digits() {
        assert_eq!(
            CodigoPostal::parse(" 06600 ").map(|c| c.to_string()),
            Ok("06600".into())
        );
        for bad in ["6600", "066000", "06a00", "", "00000", "00999"] {
            assert_eq!(CodigoPostal::parse(bad).unwrap_err().field, "codigo_postal");
        }
    }

    #[test]
    fn meses_and_bimestres() {
        assert_eq!(Meses::bimestre_de(1).map(Meses::value), Ok(13));
        assert_eq!(Meses::bimestre_de(12).map(Meses::value), Ok(18));
        assert_eq!(Meses::new(7).map(|m| m.code()), Ok("07".into()));
        assert!(Meses::new(0).is_err() && Meses::new(19).is_err());
    }
}
