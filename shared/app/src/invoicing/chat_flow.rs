//! "factura" in the chat: the customer's fiscal data collected step by step (RFC, name, postal code,
//! régimen and uso del CFDI from lists that only offer what SAT allows), each answer checked with a
//! specific Spanish explanation, kept sealed and reused next time; then the invoice of their last
//! paid order is queued (or issued when they pay, if the order is still awaiting payment).
//!
//! The form's progress is itself personal data: it is sealed like the final record and forgotten after
//! a day.

use super::fiscal;
use crate::commerce::orders::{self, OrderStatus};
use crate::parties::conversation;
use crate::parties::messages::InboundEnvelope;
use crate::platform::error::AppError;
use crate::platform::sealed;
use crate::platform::tenant::{MerchantId, TenantTable};
use crate::platform::Deps;
use mostrador_cfdi::catalogs::{RegimenFiscal, UsoCfdi};
use mostrador_cfdi::rfc::Rfc;
use mostrador_core::conversation::{Button, Input, Reply, Row, Section, State};
use mostrador_store::{Item, Key, Table, Value};

const FORM_TTL_SECS: i64 = 24 * 3600;

use super::dialogue::{Ask, Form, Step, Then};

fn form_key(table: &crate::platform::tenant::TenantTable, wa_id: &str) -> Key {
    crate::platform::schema::invoice_form(&table.customer(wa_id))
}

fn context(merchant: &MerchantId, table: &TenantTable, wa_id: &str) -> String {
    sealed::Sealing::InvoiceForm {
        customer: table.customer(wa_id).as_str(),
    }
    .context(merchant)
}

fn normalized(text: &str) -> String {
    text.trim()
        .to_lowercase()
        .replace(['á', 'à'], "a")
        .replace('é', "e")
        .replace('í', "i")
        .replace('ó', "o")
        .replace('ú', "u")
}

/// Whether a message asks for an invoice, in any phrasing ("me das factura porfa?", "no me ha
/// llegado mi factura", "ocupo mi cfdi").
pub(crate) fn asks_for_invoice(input: &Input) -> bool {
    match input {
        Input::Text(t) => mostrador_core::conversation::asks_for_invoice(t),
        Input::ButtonReply { id, .. } | Input::ListReply { id, .. } => id == "factura",
        _ => false,
    }
}

async fn load_form(
    deps: &Deps,
    merchant: &MerchantId,
    table: &TenantTable,
    wa_id: &str,
) -> Result<Option<Form>, AppError> {
    let Some(item) = table.get(&form_key(table, wa_id)).await? else {
        return Ok(None);
    };
    if item.get_n("updated_at").unwrap_or(0) + FORM_TTL_SECS < deps.clock.now_secs() {
        return Ok(None);
    }
    match item.get("sealed") {
        Some(Value::B(b)) => Ok(Some(
            sealed::open_json(deps, b, &context(merchant, table, wa_id)).await?,
        )),
        _ => Ok(None),
    }
}

async fn save_form(
    deps: &Deps,
    merchant: &MerchantId,
    table: &TenantTable,
    wa_id: &str,
    form: &Form,
) -> Result<(), AppError> {
    let sealed = sealed::seal_json(deps, form, &context(merchant, table, wa_id)).await?;
    table
        .put(
            Item::new(&form_key(table, wa_id))
                .with("sealed", Value::B(sealed))
                .with("updated_at", deps.clock.now_secs())
                .with("expires_at", deps.clock.now_secs() + FORM_TTL_SECS),
            None,
        )
        .await?;
    Ok(())
}

async fn clear_form(table: &TenantTable, wa_id: &str) -> Result<(), AppError> {
    table.delete(&form_key(table, wa_id), None).await?;
    Ok(())
}

struct Replier<'a> {
    deps: &'a Deps,
    merchant: &'a MerchantId,
    msg: &'a InboundEnvelope,
    n: u32,
}

impl Replier<'_> {
    async fn send(&mut self, reply: Reply) -> Result<(), AppError> {
        self.n += 1;
        let id = format!("{}-f{}", conversation::reply_id(&self.msg.wamid), self.n);
        conversation::send_reply(self.deps, self.merchant, self.msg, &id, &reply).await
    }

    async fn text(&mut self, text: impl Into<String>) -> Result<(), AppError> {
        self.send(Reply::Text(text.into())).await
    }
}

/// Handles the message when it belongs to the invoice form; `Ok(false)` lets the conversation answer.
pub async fn handle(deps: &Deps, msg: &InboundEnvelope, input: &Input) -> Result<bool, AppError> {
    let merchant = MerchantId::try_from(msg.merchant_id.clone()).map_err(AppError::BadRequest)?;
    let table = TenantTable::of(deps, &merchant);
    let form = load_form(deps, &merchant, &table, &msg.wa_id).await?;
    let starting = asks_for_invoice(input);
    if form.is_none() && !starting {
        return Ok(false);
    }
    // A person has the conversation: they handle invoices too.
    if matches!(
        conversation::load_state(&table, &msg.wa_id).await?,
        State::HandedOff
    ) {
        return Ok(false);
    }
    let mut out = Replier {
        deps,
        merchant: &merchant,
        msg,
        n: 0,
    };
    if starting {
        start(deps, &merchant, &table, msg, &mut out).await?;
        return Ok(true);
    }
    let Some(mut form) = form else {
        return Ok(false);
    };
    let answer = match input {
        Input::Text(t) => t.trim().to_owned(),
        Input::ButtonReply { id, .. } | Input::ListReply { id, .. } => id.clone(),
        _ => {
            out.text("Para tu factura necesito que me lo escribas como texto 🙂")
                .await?;
            return Ok(true);
        }
    };
    if matches!(
        normalized(&answer).as_str(),
        "cancelar" | "salir" | "fac:cancelar"
    ) {
        clear_form(&table, &msg.wa_id).await?;
        out.text(
            "Listo, dejamos la factura para después. Escribe *factura* cuando quieras retomarla.",
        )
        .await?;
        return Ok(true);
    }
    step(deps, &merchant, &table, msg, &mut form, &answer, &mut out).await?;
    Ok(true)
}

/// The order to invoice: the newest paid one without an invoice, or one awaiting payment.
async fn target_order(
    table: &TenantTable,
    wa_id: &str,
) -> Result<Option<(String, OrderStatus)>, AppError> {
    for summary in orders::recent_orders(table, wa_id).await? {
        let Some(item) = table
            .get(&crate::platform::schema::order(&summary.order_id))
            .await?
        else {
            continue;
        };
        if item.get("invoice_uuid").is_some() {
            continue;
        }
        // Already asked for: its record says where it stands.
        if super::issue::current_for_order(table, &summary.order_id)
            .await?
            .is_some()
        {
            continue;
        }
        if let Some(order) = orders::get(table, &summary.order_id).await? {
            if matches!(
                order.status,
                OrderStatus::Paid
                    | OrderStatus::ReadyForPickup
                    | OrderStatus::Shipped
                    | OrderStatus::Delivered
                    | OrderStatus::AwaitingPayment
            ) {
                return Ok(Some((order.id, order.status)));
            }
        }
    }
    Ok(None)
}

/// Where the newest invoice the customer asked for stands, in words, with its files when stamped
/// ("no me ha llegado mi factura").
async fn requested_invoice(
    deps: &Deps,
    merchant: &MerchantId,
    table: &TenantTable,
    wa_id: &str,
) -> Result<Option<String>, AppError> {
    use super::issue::InvoiceStatus;
    for summary in orders::recent_orders(table, wa_id).await? {
        let Some(record) = super::issue::current_for_order(table, &summary.order_id).await? else {
            continue;
        };
        let number = mostrador_core::conversation::order_number(&summary.order_id);
        let text = match record.status {
            InvoiceStatus::Stamped => {
                let pdf = super::documents::link(
                    deps,
                    &super::issue::blob_key(merchant, &record.id, "cfdi.pdf"),
                    &super::documents::filename(&record, "pdf"),
                )?;
                let xml = super::documents::link(
                    deps,
                    &super::issue::blob_key(merchant, &record.id, "cfdi.xml"),
                    &super::documents::filename(&record, "xml"),
                )?;
                format!("🧾 Tu factura del pedido {number} ya está lista:\nPDF: {pdf}\nXML: {xml}")
            }
            InvoiceStatus::Retrying => format!("Tu factura del pedido {number} se está timbrando ante el SAT ⏳. En cuanto quede te llega aquí mismo en PDF y XML."),
            InvoiceStatus::Blocked | InvoiceStatus::Rejected => format!("Tu factura del pedido {number} necesita una revisión de la tienda antes de emitirse. Ya está avisada; si quieres, escribe *asesor* y una persona te atiende."),
            InvoiceStatus::Cancelled => format!("La factura de tu pedido {number} fue cancelada. Escribe *asesor* si necesitas que se emita de nuevo."),
        };
        return Ok(Some(text));
    }
    Ok(None)
}

async fn start(
    deps: &Deps,
    merchant: &MerchantId,
    table: &TenantTable,
    msg: &InboundEnvelope,
    out: &mut Replier<'_>,
) -> Result<(), AppError> {
    let Some((order_id, _)) = target_order(table, &msg.wa_id).await? else {
        if let Some(text) = requested_invoice(deps, merchant, table, &msg.wa_id).await? {
            out.text(text).await?;
            return Ok(());
        }
        out.text("No encuentro un pedido tuyo pendiente de facturar. La factura se hace para pedidos pagados; si ya la pediste, te llega aquí mismo en PDF y XML.")
            .await?;
        return Ok(());
    };
    let mut form = Form {
        order_id,
        ..Form::default()
    };
    if let Some(saved) = fiscal::load(deps, merchant, &msg.wa_id).await? {
        form = Form {
            step: Step::Reuse,
            order_id: form.order_id,
            rfc: saved.rfc,
            nombre: saved.nombre,
            codigo_postal: saved.codigo_postal,
            regimen_fiscal: saved.regimen_fiscal,
            uso_cfdi: saved.uso_cfdi,
            residencia_fiscal: saved.residencia_fiscal,
            num_reg_id_trib: saved.num_reg_id_trib,
        };
        save_form(deps, merchant, table, &msg.wa_id, &form).await?;
        out.send(Reply::Buttons {
            body: format!(
                "¿Facturo con tus datos de la vez pasada?\nRFC: {}\nNombre: {}\nC.P.: {} · Régimen {} · Uso {}",
                form.rfc, form.nombre, form.codigo_postal, form.regimen_fiscal, form.uso_cfdi
            ),
            buttons: vec![
                Button {
                    id: "fac:ok".into(),
                    title: "Sí, facturar".into(),
                },
                Button {
                    id: "fac:cambiar".into(),
                    title: "Cambiar datos".into(),
                },
            ],
        })
        .await?;
        return Ok(());
    }
    save_form(deps, merchant, table, &msg.wa_id, &form).await?;
    out.text("Con gusto te facturo 🧾 Te pido tus datos tal como aparecen en tu Constancia de Situación Fiscal (puedes escribir *cancelar* en cualquier momento).\n\n1/5 ¿Cuál es tu RFC?")
        .await
}

async fn step(
    deps: &Deps,
    merchant: &MerchantId,
    table: &TenantTable,
    msg: &InboundEnvelope,
    form: &mut Form,
    answer: &str,
    out: &mut Replier<'_>,
) -> Result<(), AppError> {
    let (then, asks) = super::dialogue::answer(form, answer);
    match then {
        Then::Finish => return finish(deps, merchant, table, msg, form, out).await,
        Then::Save => save_form(deps, merchant, table, &msg.wa_id, form).await?,
        Then::Keep => {}
    }
    for ask in asks {
        match ask {
            Ask::Text(text) => out.text(text).await?,
            Ask::Confirm => ask_confirm(form, out).await?,
            Ask::Regimen => ask_regimen(form, out).await?,
            Ask::Uso { regimen, tipo } => ask_uso(form, regimen, tipo, out).await?,
        }
    }
    Ok(())
}

/// Shows the data collected and asks to invoice or correct it.
async fn ask_confirm(form: &Form, out: &mut Replier<'_>) -> Result<(), AppError> {
    let cp = if form.codigo_postal.is_empty() {
        "el de la sucursal"
    } else {
        form.codigo_postal.as_str()
    };
    let mut body = format!(
        "¿Están bien tus datos?\nRFC: {}\nNombre: {}\nC.P.: {cp}\nRégimen: {}\nUso del CFDI: {}",
        form.rfc, form.nombre, form.regimen_fiscal, form.uso_cfdi
    );
    if let Some(p) = &form.residencia_fiscal {
        let nombre = mostrador_cfdi::Pais::parse(p).map_or("", |p| p.nombre());
        body.push_str(&format!("\nPaís de residencia fiscal: {nombre} ({p})"));
        body.push_str(&format!(
            "\nNúm. de identificación fiscal: {}",
            form.num_reg_id_trib.as_deref().unwrap_or("no lo diste")
        ));
    }
    out.send(Reply::Buttons {
        body,
        buttons: vec![
            Button {
                id: "fac:ok".into(),
                title: "Sí, facturar".into(),
            },
            Button {
                id: "fac:cambiar".into(),
                title: "Corregir".into(),
            },
        ],
    })
    .await
}

async fn ask_regimen(form: &Form, out: &mut Replier<'_>) -> Result<(), AppError> {
    let Ok(rfc) = Rfc::parse(&form.rfc) else {
        return out
            .text("4/5 Escribe la clave de tu régimen fiscal (por ejemplo 626).")
            .await;
    };
    // The régimenes customers of a shop hold most often, first; WhatsApp lists show ten rows.
    let preferred = [
        "626", "612", "605", "601", "616", "606", "625", "621", "603", "611", "614", "620",
    ];
    let mut options: Vec<RegimenFiscal> = RegimenFiscal::all()
        .filter(|r| r.admite(rfc.tipo()))
        .collect();
    options.sort_by_key(|r| preferred.iter().position(|p| *p == r.code()).unwrap_or(99));
    let rows: Vec<Row> = options
        .iter()
        .take(10)
        .map(|r| Row {
            id: format!("reg:{}", r.code()),
            title: r.code().to_owned(),
            description: r.descripcion().chars().take(72).collect(),
        })
        .collect();
    out.send(Reply::List {
        body: "4/5 ¿Cuál es tu régimen fiscal? Elígelo de la lista o escribe su clave.".into(),
        button_label: "Ver regímenes".into(),
        sections: vec![Section {
            title: "Régimen fiscal".into(),
            rows,
        }],
    })
    .await
}

async fn ask_uso(
    _form: &Form,
    regimen: RegimenFiscal,
    tipo: mostrador_cfdi::rfc::TipoPersona,
    out: &mut Replier<'_>,
) -> Result<(), AppError> {
    let preferred = ["G03", "G01", "S01", "D01", "D02", "G02", "I08", "CP01"];
    let mut options = UsoCfdi::para_factura(tipo, regimen);
    options.sort_by_key(|u| preferred.iter().position(|p| *p == u.code()).unwrap_or(99));
    let rows: Vec<Row> = options
        .iter()
        .take(10)
        .map(|u| Row {
            id: format!("uso:{}", u.code()),
            title: u.code().to_owned(),
            description: u.descripcion().chars().take(72).collect(),
        })
        .collect();
    out.send(Reply::List {
        body: "5/5 ¿Para qué usarás la factura (uso del CFDI)? Si no sabes, *G03 Gastos en general* es lo más común.".into(),
        button_label: "Ver usos".into(),
        sections: vec![Section {
            title: "Uso del CFDI".into(),
            rows,
        }],
    })
    .await
}

async fn finish(
    deps: &Deps,
    merchant: &MerchantId,
    table: &TenantTable,
    msg: &InboundEnvelope,
    form: &Form,
    out: &mut Replier<'_>,
) -> Result<(), AppError> {
    match fiscal::save(deps, merchant, &msg.wa_id, &form.fiscal()).await {
        // The invoice goes to exactly this receptor, whatever is saved later.
        Ok(saved) => super::issue::keep_receptor(deps, merchant, &form.order_id, &saved).await?,
        Err(AppError::Validation(problems)) => {
            let reasons: Vec<String> = problems.iter().map(|p| format!("• {}", p.reason)).collect();
            let restart = Form {
                order_id: form.order_id.clone(),
                ..Form::default()
            };
            save_form(deps, merchant, table, &msg.wa_id, &restart).await?;
            return out
                .text(format!(
                    "SAT no aceptaría estos datos:\n{}\nVamos de nuevo. 1/5 ¿Cuál es tu RFC?",
                    reasons.join("\n")
                ))
                .await;
        }
        Err(e) => return Err(e),
    }
    clear_form(table, &msg.wa_id).await?;
    let order = orders::get(table, &form.order_id).await?;
    match order.map(|o| o.status) {
        Some(OrderStatus::AwaitingPayment) => {
            table
                .update(
                    &crate::platform::schema::order(&form.order_id),
                    mostrador_store::Update::new().set("invoice_requested", true),
                    Some(mostrador_store::Condition::Exists),
                )
                .await?;
            out.text("¡Listo! Guardé tus datos. En cuanto se refleje tu pago te envío la factura aquí (PDF y XML).")
                .await
        }
        Some(_) => {
            super::issue::request_individual(deps, merchant, &form.order_id).await?;
            out.text(
                "¡Listo! Estoy generando tu factura; en unos minutos te llega aquí en PDF y XML.",
            )
            .await
        }
        None => {
            out.text(
                "No encontré el pedido a facturar; escribe *factura* para intentarlo de nuevo.",
            )
            .await
        }
    }
}
