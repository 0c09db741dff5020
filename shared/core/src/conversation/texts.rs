//! What the assistant says, per merchant. Defaults are es-MX; a merchant overrides only some.
//!
//! Templates take `{placeholders}`; unknown ones are left as written. `{s}` is "s" when the number
//! next to it is not 1 ("hay 2 disponible{s}").

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The merchant's texts; every field has an es-MX default.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Texts {
    /// Greeting with the customer's first name: `{customer}`, `{merchant}`, `{branch}`, `{store}`.
    pub greeting: String,
    /// Greeting when the profile name is unknown: `{merchant}`, `{branch}`, `{store}`.
    pub greeting_anonymous: String,
    /// Added to the menu when a cart is open: `{count}`, `{s}`.
    pub cart_kept: String,
    /// Menu button to browse.
    pub button_catalog: String,
    /// Menu button for order status.
    pub button_order_status: String,
    /// Menu button for help.
    pub button_help: String,
    /// Body above buttons when the message before them was long.
    pub choose_option: String,
    /// Not understood (followed by the menu).
    pub fallback: String,
    /// Not understood while the cart summary is open.
    pub fallback_cart: String,
    /// Answer to media.
    pub media: String,
    /// Answer to unsupported messages (location, contacts…).
    pub unsupported: String,
    /// Answer to "gracias".
    pub thanks: String,
    /// No active products at all.
    pub empty_catalog: String,
    /// Body of the categories list.
    pub categories_body: String,
    /// Button that opens the categories list.
    pub categories_button: String,
    /// Section title of the categories list.
    pub categories_section: String,
    /// Row description of a category: `{count}`, `{s}`.
    pub category_row: String,
    /// Name for products without a category.
    pub uncategorized: String,
    /// Body of a category's products list: `{category}`.
    pub products_body: String,
    /// Button that opens a products list.
    pub products_button: String,
    /// Title of the row or button that shows the next page.
    pub more_title: String,
    /// Description of the "Ver más" row: `{count}` (items left).
    pub more_description: String,
    /// Body above the "Ver más" button after a product list: `{category}`.
    pub more_products_body: String,
    /// Body of a product list message: `{category}`.
    pub product_list_body: String,
    /// Header of the whole-catalog product list: `{merchant}`, `{store}`.
    pub product_list_header: String,
    /// Row description of a product in stock: `{available}`, `{s}`.
    pub in_stock: String,
    /// Row description of a sold-out product.
    pub sold_out: String,
    /// A category that no longer has products.
    pub category_gone: String,
    /// Body of search results: `{query}`, `{count}`.
    pub search_results: String,
    /// Section title of search results.
    pub search_section: String,
    /// Quantity question: `{product}`, `{price}`, `{max}`.
    pub ask_quantity: String,
    /// The product chosen is sold out: `{product}`.
    pub product_sold_out: String,
    /// The product chosen is no longer offered.
    pub product_unavailable: String,
    /// Quantity zero, negative, fractional or above the limit: `{max}`.
    pub quantity_invalid: String,
    /// Text that is not a quantity while one was asked: `{product}`.
    pub quantity_not_understood: String,
    /// Title of the cart summary.
    pub cart_title: String,
    /// A summary line: `{qty}`, `{product}`, `{unit}`, `{amount}`.
    pub cart_line: String,
    /// Subtotal (before IVA): `{amount}`.
    pub cart_subtotal: String,
    /// IVA: `{amount}`.
    pub cart_iva: String,
    /// Total: `{amount}`.
    pub cart_total: String,
    /// Under a line, its promotion: `{promotion}`, `{amount}`.
    pub cart_line_discount: String,
    /// The whole-order promotion: `{promotion}`, `{amount}`.
    pub cart_order_discount: String,
    /// What promotions saved: `{amount}`.
    pub cart_savings: String,
    /// A code accepted: `{code}`, `{promotion}` (what it gives).
    pub code_applied: String,
    /// Added when the cart is empty: the code waits for the order.
    pub code_waits: String,
    /// A code we do not know: `{code}`.
    pub code_unknown: String,
    /// A code that exists but cannot be used: `{code}`, `{reason}`.
    pub code_refused: String,
    /// "Tengo un código": ask for it.
    pub code_ask: String,
    /// Heading of the promotions running.
    pub promotions_list: String,
    /// No promotion running.
    pub promotions_none: String,
    /// A promotion of the order ended before it was placed: `{promotion}`.
    pub promotion_unavailable: String,
    /// Question under the summary.
    pub cart_question: String,
    /// Heading above the lines that could not be kept as asked.
    pub cart_adjusted: String,
    /// Unknown SKU: `{sku}`.
    pub problem_unknown: String,
    /// Inactive product: `{product}`.
    pub problem_inactive: String,
    /// Sold out: `{product}`, `{requested}`.
    pub problem_sold_out: String,
    /// Short stock: `{product}`, `{requested}`, `{available}`, `{s}`.
    pub problem_short: String,
    /// Above the per-line limit: `{product}`, `{requested}`, `{max}`.
    pub problem_too_many: String,
    /// Zero units: `{product}`.
    pub problem_invalid_qty: String,
    /// More distinct products than a cart holds: `{max}`.
    pub problem_too_many_lines: String,
    /// Prices changed since the summary.
    pub prices_changed: String,
    /// The cart is empty.
    pub cart_empty: String,
    /// Nothing of the cart could be kept.
    pub cart_emptied: String,
    /// A catalog order was added to an open cart.
    pub cart_replaced: String,
    /// Cart button: browse more.
    pub button_add_more: String,
    /// Cart button: confirm.
    pub button_confirm: String,
    /// Cart button: cancel.
    pub button_cancel: String,
    /// The cart was cancelled.
    pub cart_cancelled: String,
    /// "Cancelar" without a cart.
    pub nothing_to_cancel: String,
    /// The order was created: `{order_id}`, `{total}`, `{payment_url}`, `{minutes}`.
    pub order_placed: String,
    /// Heading of the shortages when the order could not be reserved.
    pub order_rejected: String,
    /// The payment link again: `{order_id}`, `{payment_url}`, `{minutes}`.
    pub payment_link: String,
    /// The reservation ended: `{order_id}`.
    pub payment_expired: String,
    /// Asked for a payment link without a pending order.
    pub no_pending_payment: String,
    /// Heading of the order status list.
    pub orders_title: String,
    /// An order in the status list: `{order_id}`, `{date}`, `{total}`, `{status}`.
    pub order_line: String,
    /// The customer has no orders.
    pub no_orders: String,
    /// Labels of order statuses, overriding the defaults of [`Texts::status_label`].
    pub status_labels: BTreeMap<String, String>,
    /// Body of the help list.
    pub help_body: String,
    /// Button that opens the help list.
    pub help_button: String,
    /// Section title of the questions in the help list.
    pub help_questions: String,
    /// Section title of the other options in the help list.
    pub help_more: String,
    /// Help row: talk to a person.
    pub row_agent: String,
    /// Help row: main menu.
    pub row_menu: String,
    /// Sent when handing the conversation to a person.
    pub handed_off: String,
    /// Sent when the agent releases the conversation; empty sends nothing.
    pub released: String,
    /// Sent after "baja".
    pub opted_out: String,
    /// Added to [`Texts::opted_out`] when security alerts still reach the customer.
    pub opted_out_alerts: String,
    /// Promotions stopped; notices go on.
    pub opted_out_marketing: String,
    /// Promotions resumed.
    pub opted_in_marketing: String,
    /// Sent after "alta".
    pub opted_in: String,
    /// Sent after "adiós".
    pub goodbye: String,
    /// A product the catalog does not have: `{query}`.
    pub not_carried: String,
    /// Several products matched one part of a message: `{query}`.
    pub which_one: String,
    /// The branch's hours: `{store}`, `{hours}`.
    pub hours: String,
    /// The branch has no hours on file: `{store}`.
    pub hours_unknown: String,
    /// The branch's address: `{store}`, `{address}`, `{map}` (a map link).
    pub location: String,
    /// The branch has no address on file: `{store}`.
    pub location_unknown: String,
    /// How orders are delivered: `{store}`, `{address}`.
    pub delivery: String,
    /// Answer to a location pin: `{store}`, `{address}`.
    pub location_received: String,
    /// How customers pay.
    pub payment_methods: String,
    /// "ya pagué" and the payment arrived: `{order_id}`, `{status}`.
    pub paid_received: String,
    /// "ya pagué" and it has not arrived: `{order_id}`, `{total}`.
    pub paid_not_seen: String,
    /// "ya pagué" about an order that was cancelled or expired: `{order_id}`, `{status}`.
    pub paid_closed: String,
    /// The customer cancelled an unpaid order: `{order_id}`.
    pub order_cancelled: String,
    /// The customer asked to cancel a paid order: `{order_id}`, `{status}`.
    pub cancel_paid: String,
    /// A product was taken out of the cart: `{product}`.
    pub removed: String,
    /// "quita…" without saying what, with several products in the cart.
    pub remove_which: String,
    /// A product named for removal or change is not in the cart: `{query}`.
    pub not_in_cart: String,
    /// A line's quantity changed: `{product}`, `{qty}`.
    pub quantity_changed: String,
    /// Answer to a voice note.
    pub voice: String,
    /// Answer to a photo.
    pub image: String,
    /// Answer to a sticker.
    pub sticker: String,
    /// Button: talk to a person.
    pub button_agent: String,
    /// Button: main menu.
    pub button_menu: String,
    /// The latest order, first line of "mi pedido": `{order_id}`, `{detail}`.
    pub order_latest: String,
    /// Pickup or delivery?: `{store}`, `{fee}`, `{zone}`, `{eta}`.
    pub ask_fulfilment: String,
    /// Button: pick up at the branch.
    pub button_pickup: String,
    /// Button: delivery.
    pub button_delivery: String,
    /// The delivery address question: `{fee}`.
    pub ask_address: String,
    /// A text that does not look like an address.
    pub address_unclear: String,
    /// The address has no postal code and the branch delivers to some only.
    pub ask_postal_code: String,
    /// The postal code is outside the delivery area: `{cp}`, `{zone}`, `{store}`.
    pub no_delivery_there: String,
    /// After the order, for pickup: `{store}`, `{address}`.
    pub pickup_note: String,
    /// After the order, for delivery: `{address}`, `{eta}`.
    pub delivery_note: String,
    /// The delivery fee's line on the order and the invoice.
    pub delivery_line: String,
    /// "gratis".
    pub free: String,
    /// How a branch that delivers does it: `{fee}`, `{zone}`, `{eta}`, `{free_from}`.
    pub delivery_offer: String,
    /// The free-delivery threshold in [`Texts::delivery_offer`]: `{amount}`.
    pub free_from: String,
    /// Only the closest product was found for what was asked: `{query}`.
    pub not_exactly: String,
    /// The address of a shared location pin without a place name.
    pub pin_address: String,
}

impl Default for Texts {
    fn default() -> Self {
        let s = |t: &str| t.to_string();
        Texts {
            greeting: s("¡Hola, {customer}! 👋 Soy el asistente de {store}. ¿En qué te ayudo hoy?"),
            greeting_anonymous: s("¡Hola! 👋 Soy el asistente de {store}. ¿En qué te ayudo hoy?"),
            cart_kept: s("🛒 Tu carrito sigue guardado ({count} producto{s}). Escribe *carrito* para verlo."),
            button_catalog: s("Ver catálogo"),
            button_order_status: s("Mi pedido"),
            button_help: s("Ayuda"),
            choose_option: s("Elige una opción 👇"),
            fallback: s("Perdón, no entendí tu mensaje 🤔. Elige una opción o escribe *asesor* para hablar con una persona."),
            fallback_cart: s("Perdón, no entendí 🤔. ¿Qué hacemos con tu carrito?"),
            media: s("Recibí tu archivo 📎, pero solo puedo leer texto. Si es una receta o una foto de un producto, escribe *asesor* y una persona te atiende."),
            unsupported: s("Ese tipo de mensaje todavía no lo puedo leer 🙈. Elige una opción o escríbeme."),
            thanks: s("¡Con gusto! 😊 ¿Te ayudo con algo más?"),
            empty_catalog: s("Por ahora no tenemos productos disponibles por aquí 😕. Escribe *asesor* y una persona te ayuda."),
            categories_body: s("Estas son nuestras categorías. Elige una 👇"),
            categories_button: s("Ver categorías"),
            categories_section: s("Categorías"),
            category_row: s("{count} producto{s}"),
            uncategorized: s("Otros"),
            products_body: s("*{category}*: elige un producto 👇"),
            products_button: s("Ver productos"),
            more_title: s("Ver más"),
            more_description: s("{count} más"),
            more_products_body: s("Hay más productos en *{category}*."),
            product_list_body: s("Agrega productos a tu carrito y envíamelo para armar tu pedido 🛒"),
            product_list_header: s("{merchant}"),
            in_stock: s("{available} disponible{s}"),
            sold_out: s("Agotado por ahora"),
            category_gone: s("Esa categoría ya no tiene productos."),
            search_results: s("Encontré esto para «{query}» 👇"),
            search_section: s("Resultados"),
            ask_quantity: s("¿Cuántos quieres de *{product}*? ({price} c/u)\nElige o escribe la cantidad."),
            product_sold_out: s("Lo siento, *{product}* está agotado por ahora 😕."),
            product_unavailable: s("Ese producto ya no está disponible 😕."),
            quantity_invalid: s("La cantidad debe ser un número entero del 1 al {max} 🙂."),
            quantity_not_understood: s("No entendí la cantidad de *{product}*. Escribe un número, por ejemplo *2*."),
            cart_title: s("🛒 *Tu pedido*"),
            cart_line: s("• {qty} × {product} ({unit} c/u): {amount}"),
            cart_subtotal: s("Subtotal: {amount}"),
            cart_iva: s("IVA: {amount}"),
            cart_total: s("*Total: {amount}*"),
            cart_line_discount: s("   🏷️ {promotion}: -{amount}"),
            cart_order_discount: s("🏷️ {promotion}: -{amount}"),
            cart_savings: s("Ahorras {amount} 🎉"),
            code_applied: s("✅ Apliqué el código *{code}*: {promotion}."),
            code_waits: s("Se aplicará a tu pedido: dime qué productos quieres o toca *Ver catálogo*."),
            code_unknown: s("No encontré el código *{code}*. Revisa que esté bien escrito (sin espacios)."),
            code_refused: s("El código *{code}* {reason} 😕."),
            code_ask: s("¡Claro! Escríbeme tu código (por ejemplo *BIENVENIDA*) y lo aplico a tu pedido."),
            promotions_list: s("🏷️ *Promociones vigentes*"),
            promotions_none: s("Por ahora no tenemos promociones, pero nuestros precios ya son de los mejores 😉."),
            promotion_unavailable: s("⚠️ La promoción *{promotion}* se acaba de agotar. Te muestro tu pedido sin ella:"),
            cart_question: s("¿Confirmamos tu pedido?"),
            cart_adjusted: s("Ajusté tu carrito:"),
            problem_unknown: s("• Producto {sku}: no está en nuestro catálogo"),
            problem_inactive: s("• {product}: ya no está disponible"),
            problem_sold_out: s("• {product}: pediste {requested}, está agotado"),
            problem_short: s("• {product}: pediste {requested}, hay {available} disponible{s}"),
            problem_too_many: s("• {product}: pediste {requested}, el máximo es {max} por producto"),
            problem_invalid_qty: s("• {product}: la cantidad no es válida"),
            problem_too_many_lines: s("• Un pedido puede tener hasta {max} productos distintos; dejé los primeros {max}"),
            prices_changed: s("⚠️ Algunos precios cambiaron. Revisa tu pedido antes de confirmar."),
            cart_empty: s("Tu carrito está vacío. ¿Vemos el catálogo? 🛍️"),
            cart_emptied: s("No quedó nada disponible de lo que pediste 😕."),
            cart_replaced: s("Agregué lo que enviaste a tu carrito 🛒"),
            button_add_more: s("Agregar más"),
            button_confirm: s("Confirmar"),
            button_cancel: s("Cancelar"),
            cart_cancelled: s("Listo, cancelé tu carrito. Aquí estoy cuando quieras 🙂"),
            nothing_to_cancel: s("No tienes un carrito abierto. Para cancelar un pedido ya registrado, escribe *asesor*."),
            order_placed: s("✅ ¡Listo! Registramos tu pedido {order_id}.\nTotal: *{total}*\nPaga aquí: {payment_url}\nApartamos tus productos por {minutes} minuto{s}."),
            order_rejected: s("😕 Mientras confirmabas cambió la existencia:"),
            payment_link: s("Tu pedido {order_id} te espera 🙂\nPaga aquí: {payment_url}\nTus productos siguen apartados {minutes} minuto{s} más."),
            payment_expired: s("La reserva de tu pedido {order_id} ya venció ⌛. Si aún lo quieres, arma tu carrito de nuevo."),
            no_pending_payment: s("No tienes pagos pendientes 🙂."),
            orders_title: s("📦 *Tus pedidos recientes*"),
            order_line: s("• {order_id} · {date} · {total} · {status}"),
            no_orders: s("Aún no tienes pedidos con nosotros. ¿Vemos el catálogo? 🛍️"),
            status_labels: BTreeMap::new(),
            help_body: s("¿En qué te ayudo? Elige una pregunta o habla con una persona 👇"),
            help_button: s("Ver opciones"),
            help_questions: s("Preguntas frecuentes"),
            help_more: s("Más opciones"),
            row_agent: s("Hablar con un asesor"),
            row_menu: s("Menú principal"),
            handed_off: s("Listo, le pedí a una persona de nuestro equipo que te atienda 🙋. Te responde por aquí en breve."),
            released: s("Gracias por tu paciencia 🙌. Si necesitas algo más, escribe *menú*."),
            opted_out: s("Listo, ya no te enviaremos mensajes. Si cambias de opinión, escribe *alta*."),
            opted_out_alerts: s("Solo te escribiremos si vemos algo sospechoso en tu cuenta (alertas de seguridad), para protegerte."),
            opted_out_marketing: s("Listo, ya no te enviaremos promociones. Seguirás recibiendo los avisos de tus pedidos y de tu cuenta. Si quieres volver a recibirlas, escribe *alta promociones*."),
            opted_in_marketing: s("¡Listo! Volverás a recibir nuestras promociones. Para dejarlas, escribe *baja promociones* cuando quieras."),
            opted_in: s("¡Qué gusto! 🎉 Volverás a recibir nuestros mensajes."),
            goodbye: s("¡Hasta pronto! 👋 Aquí estamos cuando nos necesites."),
            not_carried: s("No manejamos *{query}* por ahora 😕."),
            which_one: s("Para «{query}» tengo varias opciones; dime cuál te llevas."),
            hours: s("🕗 Horario de {store}: {hours}"),
            hours_unknown: s("No tengo a la mano el horario de {store}. Escribe *asesor* y una persona te lo confirma."),
            location: s("📍 Estamos en {address}\n{map}"),
            location_unknown: s("No tengo a la mano la dirección de {store}. Escribe *asesor* y una persona te la comparte."),
            delivery: s("Por ahora entregamos en la sucursal: {store}, {address}. Si necesitas envío a domicilio, escribe *asesor* y lo vemos con una persona."),
            location_received: s("Gracias por tu ubicación 📍."),
            payment_methods: s("💳 Puedes pagar con tarjeta de crédito o débito, transferencia SPEI o en efectivo en OXXO, desde el enlace de pago que te llega al confirmar tu pedido."),
            paid_received: s("✅ ¡Sí! Ya tenemos el pago de tu pedido {order_id}. Estado: {status}."),
            paid_not_seen: s("Todavía no vemos el pago de tu pedido {order_id} ({total}). Con tarjeta se refleja al momento, con SPEI en unos minutos y en OXXO puede tardar hasta una hora. En cuanto llegue te aviso por aquí ✅"),
            paid_closed: s("Tu pedido {order_id} está {status}. Si ya pagaste, una persona del equipo lo revisa contigo."),
            order_cancelled: s("Listo, cancelé tu pedido {order_id} y liberé los productos. Si cambias de opinión, escríbeme y lo armamos de nuevo 🙂"),
            cancel_paid: s("Tu pedido {order_id} ya está {status}, así que lo cancela una persona del equipo junto con tu reembolso. Ya le avisé 🙋"),
            removed: s("Quité *{product}* de tu carrito."),
            remove_which: s("¿Cuál producto quito? Dime su nombre, por ejemplo «quita el {product}»."),
            not_in_cart: s("No tienes «{query}» en tu carrito."),
            quantity_changed: s("Cambié *{product}* a {qty}."),
            voice: s("Recibí tu nota de voz 🎙️, pero todavía no puedo escucharlas. Escríbeme lo que necesitas o habla con una persona del equipo."),
            image: s("Recibí tu imagen 📷. Si es una receta o la foto de un producto, una persona del equipo puede revisarla contigo."),
            sticker: s("😊"),
            button_agent: s("Hablar con persona"),
            button_menu: s("Menú"),
            order_latest: s("Tu pedido {order_id} {detail}"),
            ask_fulfilment: s("¿Cómo lo quieres?\n🏪 Recoger en {store}\n🛵 Envío a domicilio: {fee}{zone}{eta}"),
            button_pickup: s("Recoger en tienda"),
            button_delivery: s("Envío a domicilio"),
            ask_address: s("📍 Mándame tu ubicación o escribe tu dirección: calle, número, colonia y código postal. Envío: {fee}."),
            address_unclear: s("No alcancé a leer una dirección 🤔."),
            ask_postal_code: s("Me falta tu código postal (5 números)."),
            no_delivery_there: s("Por ahora no llegamos al código postal {cp} 😕 (entregamos en {zone}). Puedes recoger en {store}."),
            pickup_note: s("🏪 Recoges en {store}: {address}"),
            delivery_note: s("🛵 Lo enviamos a: {address}{eta}"),
            delivery_line: s("Envío a domicilio"),
            free: s("gratis"),
            delivery_offer: s("🛵 Sí, enviamos a domicilio: {fee}{zone}{eta}{free_from}. Arma tu pedido y al confirmar elige *Envío a domicilio*."),
            free_from: s(" · gratis desde {amount}"),
            not_exactly: s("No manejamos *{query}* tal cual 😕. Lo más parecido que tengo:"),
            pin_address: s("Ubicación compartida en el chat"),
        }
    }
}

impl Texts {
    /// How an order status reads to the customer: the merchant's label, ours, or the status itself.
    pub fn status_label(&self, status: &str) -> String {
        if let Some(label) = self.status_labels.get(status) {
            return label.clone();
        }
        let label = match status {
            "cart" => "En preparación",
            "awaiting_payment" => "Pendiente de pago",
            "paid" => "Pagado",
            "invoiced" => "Pagado y facturado",
            "ready_for_pickup" => "Listo para recoger",
            "shipped" => "En camino",
            "delivered" | "fulfilled" => "Entregado",
            "cancelled" => "Cancelado",
            "expired" => "Vencido",
            "refunded" => "Reembolsado",
            other => other,
        };
        label.to_string()
    }

    /// What an order's status means for the customer, as a sentence's end ("va en camino 🛵").
    pub fn status_detail(&self, status: &str) -> String {
        if let Some(label) = self.status_labels.get(status) {
            return format!("— {label}");
        }
        match status {
            "awaiting_payment" => "está esperando tu pago.".into(),
            "paid" | "invoiced" => "ya está pagado ✅ y lo estamos preparando.".into(),
            "ready_for_pickup" => "está listo para recoger 🛍️.".into(),
            "shipped" => "va en camino 🛵.".into(),
            "delivered" | "fulfilled" => "ya fue entregado ✅.".into(),
            "cancelled" => "fue cancelado.".into(),
            "expired" => "venció porque no recibimos el pago a tiempo.".into(),
            "refunded" => "fue reembolsado.".into(),
            other => format!("está en estado: {}.", self.status_label(other)),
        }
    }
}

/// Fills `{name}` placeholders of a template; unknown placeholders stay as written.
pub(crate) fn fill(template: &str, vars: &[(&str, &str)]) -> String {
    let mut out = String::with_capacity(template.len() + 32);
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        let after = &rest[open + 1..];
        let found = after.find('}').and_then(|close| {
            vars.iter()
                .find(|(k, _)| *k == &after[..close])
                .map(|(_, v)| (close, *v))
        });
        match found {
            Some((close, value)) => {
                out.push_str(value);
                rest = &after[close + 1..];
            }
            None => {
                out.push('{');
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

/// "s" unless `n` is 1, for `{s}`.
pub(crate) fn plural(n: u64) -> &'static str {
    if n == 1 {
        ""
    } else {
        "s"
    }
}
