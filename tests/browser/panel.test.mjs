// The merchant's console (/panel) in headless Debian Chromium, against the real local stack and the
// demo pharmacy `cargo run` seeds: the owner signs in and sees today; a customer orders and pays in
// the simulator, then asks for a person; the hand-off appears in the console within seconds, staff
// reply and the customer sees it; the order is refunded; a chart is shown; the owner invites counter
// staff for one branch, who cannot see the other branch. Also on a 390 px phone screen.
//
//   MOSTRADOR_BIN=target/debug/mostrador node tests/browser/panel.test.mjs
//
// Fails (never skips) when the binary or Chromium is missing. Writes tests/browser/out/panel-*.png,
// and on failure the stack's log and a failure screenshot.

import { chromium } from "playwright-core";
import assert from "node:assert/strict";
import { createHmac } from "node:crypto";
import { mkdir, mkdtemp, readFile, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import {
  CHROMIUM, CHROMIUM_ARGS, HERE, OUT, expectStatus, http, inboundDrained, sleep, startStack, until,
} from "./lib.mjs";

const CENTRO = "100000000000001";
const CUSTOMER = "5215598765432";
const CUSTOMER_NAME = "Rosa Panel";

let step = 0;
const ok = (what) => console.log(`ok ${++step} - ${what}`);

/** Errors a page logs, except the answers the test provokes on purpose. */
function watch(page, problems, expected) {
  page.on("pageerror", (e) => problems.push(`page error: ${e.message}`));
  page.on("console", (msg) => {
    if (msg.type() === "error" && !expected.some((x) => (x instanceof RegExp ? x.test(msg.text()) : msg.text().includes(x)))) problems.push(`console error: ${msg.text()}`);
  });
  page.on("response", (r) => {
    const what = `${r.status()} ${r.request().method()} ${new URL(r.url()).pathname}`;
    if (r.status() >= 400 && !expected.some((x) => (x instanceof RegExp ? x.test(what) : what.includes(x)))) problems.push(`HTTP ${what}`);
  });
}

/** RFC 6238 written here from the RFC (HMAC-SHA1, 6 digits, 30 s), not from the server's library. */
function totpCode(base32, step) {
  const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
  let bits = "";
  for (const c of base32.replace(/=+$/, "").toUpperCase()) bits += alphabet.indexOf(c).toString(2).padStart(5, "0");
  const key = Buffer.from((bits.match(/.{8}/g) || []).map((b) => parseInt(b, 2)));
  const counter = Buffer.alloc(8);
  counter.writeBigUInt64BE(BigInt(step));
  const mac = createHmac("sha1", key).update(counter).digest();
  const at = mac[mac.length - 1] & 0x0f;
  const number = ((mac[at] & 0x7f) << 24) | (mac[at + 1] << 16) | (mac[at + 2] << 8) | mac[at + 3];
  return String(number % 1_000_000).padStart(6, "0");
}
const totpStep = () => Math.floor(Date.now() / 1000 / 30);

async function customerSays(chat, text) {
  await chat.locator("#text").fill(text);
  const [response] = await Promise.all([
    chat.waitForResponse((r) => r.url().endsWith("/sandbox/api/send") && r.request().method() === "POST"),
    chat.locator("#text").press("Enter"),
  ]);
  assert.equal(response.status(), 200, `the simulator's send answered ${response.status()}`);
}

async function main() {
  const work = await mkdtemp(path.join(os.tmpdir(), "mostrador-panel-"));
  await mkdir(OUT, { recursive: true });
  const dataDir = path.join(work, "data");
  let stack;
  let browser;
  let panel;
  const problems = [];
  try {
    stack = await startStack(dataDir);
    const demo = JSON.parse(await readFile(path.join(dataDir, "demo.json"), "utf8"));
    assert.ok(demo.owner_email && demo.owner_password, "demo.json names the owner's email and password");
    const centro = demo.branches.find((b) => b.phone_number_id === CENTRO);
    const polanco = demo.branches.find((b) => b.phone_number_id !== CENTRO);
    ok(`local stack on ${stack.url}; demo owner ${demo.owner_email}`);

    browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS });
    const owner = await browser.newContext({ viewport: { width: 1100, height: 860 }, locale: "es-MX", timezoneId: "America/Mexico_City", acceptDownloads: true });
    panel = await owner.newPage();
    panel.setDefaultTimeout(15000);
    // Before signing in, the console asks who is there (401 on GET /v1/session is its question), and
    // the test tries a wrong password once.
    watch(panel, problems, ["401 GET /v1/session", "401 POST /v1/session", "status of 401", "422 POST /v1/promotions", "422 POST /v1/templates/aviso_pedido_listo/submit", "status of 422",
      // A dry run of a file with a bad row answers as the real import would (422), with its preview.
      "422 POST /v1/products/import", /^422 POST \/v1\/branches\/[^/]+\/stock\/import$/]);

    // Sign in.
    await panel.goto(`${stack.url}/panel`);
    await panel.getByLabel("Correo").fill(demo.owner_email);
    await panel.getByLabel("Contraseña").fill("una-contraseña-equivocada");
    await panel.getByRole("button", { name: "Entrar" }).click();
    await panel.getByRole("alert").filter({ hasText: "Correo o contraseña incorrectos" }).waitFor();
    await panel.getByLabel("Contraseña").fill(demo.owner_password);
    await panel.getByRole("button", { name: "Entrar" }).click();
    await panel.getByRole("heading", { name: "Hoy", exact: true }).waitFor();
    await panel.getByRole("heading", { name: /Ventas hoy/ }).first().waitFor();
    const cookies = await owner.cookies();
    const session = cookies.find((c) => c.name === "mostrador_session");
    assert.ok(session && session.httpOnly && session.sameSite === "Strict", `session cookie: ${JSON.stringify(session)}`);
    ok("the owner signs in (a wrong password is refused in Spanish) and sees today; the cookie is HttpOnly and SameSite=Strict");

    // A customer orders in the simulator and pays.
    const chatPage = await owner.newPage();
    chatPage.setDefaultTimeout(20000);
    await chatPage.goto(`${stack.url}/sandbox/chat`);
    await chatPage.locator(`#branch option[value="${CENTRO}"]`).waitFor({ state: "attached" });
    await chatPage.locator("#branch").selectOption(CENTRO);
    await chatPage.locator("#wa-id").fill(CUSTOMER);
    await chatPage.locator("#name").fill(CUSTOMER_NAME);
    await chatPage.locator("#name").dispatchEvent("change");
    await customerSays(chatPage, "me vende 2 cajas de paracetamol porfa");
    await chatPage.locator(".msg.in .bubble", { hasText: "2 × Paracetamol" }).waitFor();
    await customerSays(chatPage, "es todo");
    await chatPage.locator(".msg.in .bubble", { hasText: "/sandbox/pay/" }).waitFor();
    await inboundDrained(stack);
    const orders = await expectStatus(http(stack.url, "GET", "/v1/orders", { key: demo.api_key }), 200, "list orders");
    const order = orders.orders.find((o) => o.wa_id.endsWith("5598765432"));
    assert.ok(order, `the chat's order is listed: ${JSON.stringify(orders)}`);
    const paid = await fetch(`${stack.url}/sandbox/pay/${order.id}?m=${demo.merchant_id}`, { method: "POST" });
    assert.ok(paid.status < 400, `the sandbox checkout paid the order (HTTP ${paid.status})`);
    await until("the order to be paid", async () => {
      const o = await http(stack.url, "GET", `/v1/orders/${order.id}`, { key: demo.api_key });
      return o.json && o.json.status === "paid";
    });
    ok(`a customer ordered "2 cajas de paracetamol" in the simulator and paid (order ${order.id.slice(-6)})`);

    // The customer asks for a person: the console shows it within seconds.
    await panel.goto(`${stack.url}/panel/#/conversaciones`);
    await panel.getByRole("heading", { name: "Clientes esperando a una persona" }).waitFor();
    const asked = Date.now();
    await customerSays(chatPage, "quiero hablar con una persona");
    const item = panel.getByRole("link", { name: new RegExp(CUSTOMER_NAME) });
    await item.waitFor({ timeout: 8000 });
    const seconds = (Date.now() - asked) / 1000;
    assert.ok(seconds <= 8, `the hand-off appeared after ${seconds} s`);
    await panel.locator("nav.main .badge", { hasText: "1" }).waitFor();
    ok(`the hand-off appeared in the console after ${seconds.toFixed(1)} s, with the customer's name and a badge`);

    await item.click();
    await panel.getByRole("heading", { name: new RegExp(CUSTOMER_NAME) }).waitFor();
    await panel.locator(".bubble", { hasText: "quiero hablar con una persona" }).waitFor();
    await panel.locator(".countdown", { hasText: "Puedes responder con texto libre" }).waitFor();
    const answer = "Hola Rosa, soy Lucía de la farmacia. ¿En qué te ayudo?";
    await panel.getByLabel("Tu respuesta").fill(answer);
    await panel.getByRole("button", { name: "Enviar" }).click();
    await panel.getByRole("status").filter({ hasText: "Enviado" }).waitFor();
    await chatPage.locator(".msg.in .bubble", { hasText: "soy Lucía de la farmacia" }).waitFor();
    ok("staff read the whole conversation, replied inside the 24-hour window, and the customer saw the reply");

    await panel.locator(".bubble.out", { hasText: "soy Lucía de la farmacia" }).waitFor();
    await panel.getByRole("button", { name: "Devolver al asistente" }).click();
    await chatPage.locator(".msg.in .bubble", { hasText: "Gracias por tu paciencia" }).waitFor();
    ok("the conversation went back to the assistant, which told the customer");

    // The order: detail, invoice (the demo invoices with SAT's test CSD and the sandbox PAC), refund.
    await panel.goto(`${stack.url}/panel/#/pedidos`);
    const number = order.id.slice(-6).toUpperCase();
    await panel.getByRole("link", { name: number }).click();
    await panel.getByRole("heading", { name: new RegExp(`Pedido ${number}`) }).waitFor();
    await panel.getByRole("cell", { name: /Paracetamol 500 mg/ }).waitFor();
    await panel.getByRole("button", { name: "Facturar" }).click();
    await panel.getByLabel("RFC").fill("cacx7605101p8");
    await panel.getByLabel(/Nombre o razón social/).fill("XOCHILT CASAS CHAVEZ");
    await panel.getByLabel("Código postal fiscal").fill("36257");
    await panel.getByLabel("Régimen fiscal").selectOption("626");
    await panel.getByLabel("Uso del CFDI").selectOption("G03");
    await panel.getByRole("button", { name: "Emitir factura" }).click();
    await panel.getByText("Factura en proceso").waitFor();
    const pdf = await until("the invoice to be stamped", async () => {
      await panel.goto(`${stack.url}/panel/#/pedidos/${order.id}`);
      await panel.getByRole("heading", { name: new RegExp(`Pedido ${number}`) }).waitFor();
      const link = panel.getByRole("link", { name: "PDF" });
      return (await link.count()) ? link : null;
    }, 30000, 1500);
    const [download] = await Promise.all([panel.waitForEvent("download"), pdf.click({ modifiers: ["Alt"] })]);
    const file = await download.path();
    const bytes = await readFile(file);
    assert.equal(bytes.subarray(0, 5).toString("latin1"), "%PDF-", "the invoice downloads as a PDF");
    ok(`order ${number} invoiced from the console (RFC CACX7605101P8) and its PDF downloaded (${bytes.length} bytes)`);
    // Part of it first ($10.00: a nota de crédito for that part), then the rest.
    await panel.getByRole("button", { name: "Reembolsar una parte" }).click();
    await panel.getByLabel("Monto en pesos").fill("10.00");
    await panel.getByLabel("Motivo (opcional)").fill("una caja dañada");
    await panel.getByRole("button", { name: "Reembolsar esta parte" }).click();
    await panel.getByRole("heading", { name: /Reembolsos \(\$10\.00\)/ }).waitFor();
    const part = await expectStatus(http(stack.url, "GET", `/v1/orders/${order.id}`, { key: demo.api_key }), 200, "order");
    assert.equal(part.refunds.length, 1);
    assert.equal(part.refunds[0].amount, 1000);
    assert.notEqual(part.status, "refunded");
    panel.once("dialog", (d) => d.accept());
    await panel.getByRole("button", { name: /Reembolsar el resto/ }).click();
    await panel.locator(".pill", { hasText: "Reembolsado" }).waitFor();
    const refunded = await expectStatus(http(stack.url, "GET", `/v1/orders/${order.id}`, { key: demo.api_key }), 200, "order");
    assert.equal(refunded.status, "refunded");
    ok(`order ${number}: lines, total, $10.00 refunded in part and then the rest from the console (the API agrees: refunded)`);

    // The customer: found by name, with the order and the data-protection actions.
    await panel.goto(`${stack.url}/panel/#/clientes`);
    await panel.getByRole("heading", { name: "Clientes" }).waitFor();
    await panel.getByLabel("Buscar").fill("rosa");
    await panel.getByRole("button", { name: "Buscar" }).click();
    await panel.getByRole("link", { name: CUSTOMER_NAME }).click();
    await panel.getByRole("heading", { name: CUSTOMER_NAME }).waitFor();
    await panel.getByRole("link", { name: number }).waitFor();
    await panel.getByRole("link", { name: /Descargar todos sus datos/ }).waitFor();
    await panel.getByRole("button", { name: /Borrar sus datos/ }).waitFor();
    await panel.getByRole("textbox", { name: /^Grupos/ }).fill("Mayoreo, empleados");
    await panel.getByRole("button", { name: "Guardar grupos" }).click();
    await panel.getByText("Grupos guardados: Mayoreo, empleados.").waitFor();
    const grouped = await expectStatus(http(stack.url, "GET", `/v1/customers/${CUSTOMER}`, { key: demo.api_key }), 200, "customer");
    assert.deepEqual(grouped.groups, ["Mayoreo", "empleados"]);
    ok(`the customer ${CUSTOMER_NAME} found by name, with order ${number}, the export, rectify and erase actions, and put in the Mayoreo group`);

    // A stock count from a CSV file (Windows-1252, as Excel saves it) with one bad row.
    await panel.goto(`${stack.url}/panel/#/catalogo?branch=${centro.id}`);
    await panel.getByRole("heading", { name: "Inventario" }).waitFor();
    await panel.getByText("Importar un conteo desde CSV o Excel").click();
    const csv = Buffer.concat([
      Buffer.from("C\xf3digo;Descripci\xf3n;Cantidad\n", "latin1"),
      Buffer.from("7501035911208;Cepillo dental;44\n", "latin1"),
      Buffer.from("7501035911222;Jab\xf3n neutro;61\n", "latin1"),
      Buffer.from("7509999999999;No existe;5\n", "latin1"),
    ]);
    await panel.getByLabel("Archivo").setInputFiles({ name: "conteo.csv", mimeType: "text/csv", buffer: csv });
    await panel.getByRole("button", { name: "Revisar archivo" }).click();
    await panel.getByRole("heading", { name: "Revisión: 2 fila(s) listas, 1 con problemas" }).waitFor();
    await panel.getByRole("alert").filter({ hasText: "Fila 3 (7509999999999): no está en el catálogo" }).waitFor();
    const before = await expectStatus(http(stack.url, "GET", `/v1/branches/${centro.id}/stock`, { key: demo.api_key }), 200, "stock");
    assert.equal(before.stock.find((s) => s.sku === "7501035911208").available, 50, "nothing applied before the merchant says so");
    await panel.getByRole("button", { name: "Aplicar las 2 filas válidas" }).click();
    await panel.getByText("Listo: 2 producto(s) actualizados; 1 fila(s) sin aplicar.").waitFor();
    const after = await expectStatus(http(stack.url, "GET", `/v1/branches/${centro.id}/stock`, { key: demo.api_key }), 200, "stock");
    assert.equal(after.stock.find((s) => s.sku === "7501035911208").available, 44);
    assert.equal(after.stock.find((s) => s.sku === "7501035911222").available, 61);
    ok("a Windows-1252 stock CSV with one unknown SKU: every row checked and shown first, then the 2 valid rows applied");

    // A product's SAT code found by the owner's words, and its low-stock threshold.
    await panel.goto(`${stack.url}/panel/#/productos`);
    await panel.getByRole("heading", { name: "Productos" }).waitFor();
    await panel.getByRole("searchbox", { name: "Buscar producto" }).fill("cepillo");
    await panel.getByRole("button", { name: "Buscar", exact: true }).click();
    await panel.getByRole("link", { name: "Cepillo dental" }).click();
    await panel.getByRole("heading", { name: "Producto", exact: true }).waitFor();
    await panel.getByText("Cepillos de dientes", { exact: true }).waitFor();
    await panel.getByRole("searchbox", { name: "Buscar en el catálogo del SAT" }).fill("cepillos electricos");
    await panel.getByRole("button", { name: /^52141701 · Cepillos de dientes eléctricos/ }).click();
    assert.equal(await panel.getByLabel("Clave de producto o servicio del SAT").inputValue(), "52141701");
    await panel.screenshot({ path: path.join(OUT, "panel-product.png"), fullPage: true });
    // The product form on the owner's phone: no sideways scrolling.
    await panel.setViewportSize({ width: 390, height: 844 });
    const productOverflow = await panel.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    assert.ok(productOverflow <= 1, `the product form fits a 390 px screen (overflow ${productOverflow} px)`);
    await panel.setViewportSize({ width: 1100, height: 860 });
    await panel.getByLabel(/^Mínimo de inventario/).fill("50");
    await panel.getByRole("button", { name: "Guardar producto" }).click();
    await panel.getByText("Producto guardado.", { exact: false }).waitFor();
    const brush = await expectStatus(http(stack.url, "GET", "/v1/products/7501035911208", { key: demo.api_key }), 200, "product");
    assert.deepEqual([brush.clave_prod_serv, brush.min_stock], ["52141701", 50]);
    await panel.goto(`${stack.url}/panel/#/hoy`);
    await panel.getByRole("heading", { name: "Poco inventario" }).waitFor();
    await panel.getByRole("row", { name: /Centro.*Cepillo dental.*44.*50/ }).waitFor();
    // A new product, its clave found by a word SAT does not use.
    await panel.goto(`${stack.url}/panel/#/productos`);
    await panel.getByRole("link", { name: "Nuevo producto" }).click();
    await panel.getByRole("heading", { name: "Nuevo producto" }).waitFor();
    await panel.getByLabel("SKU o código de barras").fill("7501000000017");
    await panel.getByLabel("Nombre (como lo ve el cliente)").fill("Vitamina C 1 g, 10 tabletas efervescentes");
    await panel.getByLabel("Precio en pesos (con IVA)").fill("89.90");
    await panel.getByRole("searchbox", { name: "Buscar en el catálogo del SAT" }).fill("vitaminas");
    await panel.getByRole("button", { name: "51191905 · Suplementos vitamínicos" }).click();
    await panel.getByLabel("Unidad del SAT").selectOption("XBX");
    await panel.getByRole("button", { name: "Crear producto" }).click();
    await panel.getByRole("heading", { name: "Producto", exact: true }).waitFor();
    const vitamin = await expectStatus(http(stack.url, "GET", "/v1/products/7501000000017", { key: demo.api_key }), 200, "product");
    assert.deepEqual([vitamin.price, vitamin.clave_prod_serv, vitamin.clave_unidad, vitamin.tax], [8990, "51191905", "XBX", "iva16"]);
    // A product file with one bad row: checked and shown before anything applies.
    await panel.goto(`${stack.url}/panel/#/productos`);
    await panel.getByText("Importar productos desde CSV o Excel").click();
    const products = Buffer.from([
      "sku,name,price,tax,clave_prod_serv,clave_unidad",
      "7501035911222,Jabón neutro 150 g,31.50,iva16,53131608,H87",
      "7501000000024,Gel antibacterial 500 ml,59.00,iva16,5313,H87",
    ].join("\n"), "utf8");
    await panel.getByLabel("Archivo").setInputFiles({ name: "productos.csv", mimeType: "text/csv", buffer: products });
    await panel.getByRole("button", { name: "Revisar archivo" }).click();
    await panel.getByRole("heading", { name: "Revisión: 1 fila(s) listas, 1 con problemas" }).waitFor();
    await panel.getByRole("alert").filter({ hasText: "Fila 2 (7501000000024): la clave de producto del SAT" }).waitFor();
    await panel.getByRole("row", { name: /Jabón neutro 150 g.*Cambia/ }).waitFor();
    await panel.getByRole("button", { name: "Aplicar las 1 filas válidas" }).click();
    await panel.getByText("Listo: 1 producto(s) guardados; 1 fila(s) sin aplicar.").waitFor();
    const soap = await expectStatus(http(stack.url, "GET", "/v1/products/7501035911222", { key: demo.api_key }), 200, "product");
    assert.equal(soap.price, 3150);
    await expectStatus(http(stack.url, "GET", "/v1/products/7501000000024", { key: demo.api_key }), 404, "the bad row");
    ok("products: a SAT code found by words (\"cepillos electricos\", \"vitaminas\"), a threshold that puts the product in «Poco inventario», a new product, a product file checked row by row before applying");

    // Promotions: a 2×1 made from the console, a bad one refused field by field, a pause.
    await panel.goto(`${stack.url}/panel/#/promociones`);
    await panel.getByText("Aún no hay promociones").waitFor();
    await panel.getByLabel("Nombre, como lo leerá el cliente").fill("2x1 en cepillos");
    await panel.getByLabel("Tipo", { exact: true }).selectOption("take_pay");
    await panel.getByLabel(/^Productos/).selectOption("7501035911208");
    await panel.getByRole("button", { name: "Crear promoción" }).click();
    await panel.getByText("Promoción «2x1 en cepillos» creada").waitFor();
    await panel.getByRole("cell", { name: /^2×1 en Cepillo dental/ }).waitFor();
    await panel.getByLabel("Nombre, como lo leerá el cliente").fill("Bienvenida");
    await panel.getByLabel("Tipo", { exact: true }).selectOption("percent_off");
    await panel.getByLabel(/^Porcentaje/).fill("15");
    await panel.getByLabel("Aplica a").selectOption("order");
    await panel.getByLabel("Código", { exact: true }).fill("BIEN VENIDA");
    await panel.getByLabel("Empieza").fill("2027-01-10T10:00");
    await panel.getByLabel("Termina").fill("2027-01-05T10:00");
    await panel.getByRole("button", { name: "Crear promoción" }).click();
    const refusal = await panel.getByRole("alert").textContent();
    assert.match(refusal, /ends_at: La promoción termina después de empezar/);
    assert.match(refusal, /code: El código lleva de 3 a 20 letras/);
    await panel.getByRole("row", { name: /2x1 en cepillos/ }).getByRole("button", { name: "Pausar" }).click();
    await panel.getByRole("row", { name: /2x1 en cepillos/ }).getByText("Pausada").waitFor();
    const promos = await expectStatus(http(stack.url, "GET", "/v1/promotions", { key: demo.api_key }), 200, "promotions");
    assert.deepEqual(promos.promotions.map((p) => [p.name, p.status]), [["2x1 en cepillos", "paused"]]);
    ok("promotions: a 2×1 created from the console, a code with a space and an end before the start refused with each field's reason, paused");
    await panel.screenshot({ path: path.join(OUT, "panel-promotions.png"), fullPage: true });

    // A chart, and what the notifications did and cost.
    await panel.goto(`${stack.url}/panel/#/reportes`);
    await panel.getByRole("img", { name: "Ventas por día" }).waitFor();
    await panel.getByRole("heading", { name: "Notificaciones (últimos 7 días)" }).waitFor();
    // Charts drawn by Chart.js, served by the stack itself, from the same report the API gives.
    const drawn = await panel.evaluate(() => [...document.querySelectorAll("canvas[aria-label]")]
      .map((c) => [c.getAttribute("aria-label"), !!(window.Chart && window.Chart.getChart(c)), c.width > 0]));
    for (const name of ["Ventas por día", "Formas de pago", "De conversación a venta", "Productos más vendidos", "Primera respuesta por día"]) {
      assert.ok(drawn.some(([label, chart, sized]) => label === name && chart && sized), `${name} in ${JSON.stringify(drawn)}`);
    }
    const sales = await expectStatus(http(stack.url, "GET", "/v1/reports/commerce", { key: demo.api_key }), 200, "report");
    assert.deepEqual([sales.summary.paid_orders, sales.summary.refunded_orders, sales.summary.revenue_centavos], [1, 1, 0],
      "the order paid and then refunded in full is no revenue");
    await panel.locator(".card").filter({ hasText: "Ventas" }).filter({ hasText: "1 pagado(s), 1 reembolsado(s)" }).first().waitFor();
    const csvLink = await panel.getByRole("link", { name: "Descargar CSV" }).getAttribute("href");
    const csvText = await (await fetch(`${stack.url}${csvLink}`, { headers: { authorization: `Bearer ${demo.api_key}` } })).text();
    assert.match(csvText.split("\n")[0], /^branch_id,branch,day,.*refunded_orders,average_ticket_centavos/);
    await panel.screenshot({ path: path.join(OUT, "panel-charts.png"), fullPage: true });
    await panel.setViewportSize({ width: 390, height: 844 });
    await panel.reload();
    await panel.getByRole("img", { name: "Ventas por día" }).waitFor();
    const chartsOverflow = await panel.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    assert.ok(chartsOverflow <= 1, `the reports fit a 390 px screen (overflow ${chartsOverflow} px)`);
    await panel.setViewportSize({ width: 1100, height: 860 });
    await panel.getByLabel("Periodo").selectOption("30");
    await panel.getByRole("heading", { name: "Notificaciones (últimos 30 días)" }).waitFor();
    ok("reports: sales per day and branch, payment mix, conversation-to-sale funnel, best sellers and first response as charts; a refunded sale is not revenue; CSV of the period; 30 days");

    // Invoices: the accountant's month as one ZIP, and SAT's cancellation offered with its motivos.
    await panel.goto(`${stack.url}/panel/#/facturas`);
    await panel.getByRole("heading", { name: "Facturas" }).waitFor();
    await panel.getByRole("button", { name: "Preparar descarga" }).click();
    const zipLink = panel.getByRole("link", { name: "Descargar ZIP" });
    await zipLink.waitFor();
    const zipHref = await zipLink.getAttribute("href");
    const zip = Buffer.from(await (await fetch(new URL(zipHref, stack.url))).arrayBuffer());
    assert.equal(zip.subarray(0, 2).toString("latin1"), "PK", "the month's export is a ZIP");
    assert.ok(await panel.getByRole("combobox", { name: /^Motivo para cancelar/ }).count() > 0, "stamped invoices offer SAT's cancellation");
    ok(`invoices: the month's ZIP for the accountant downloaded (${zip.length} bytes); stamped invoices offer cancellation with SAT's motivos`);

    // A fintech's notification, its funnel and the person behind the figure.
    await expectStatus(http(stack.url, "PUT", "/v1/settings/notifications", { key: demo.api_key, body: {
      privacy_notice_url: "https://farmaciasanjuan.mx/aviso-de-privacidad",
    } }), 200, "notification settings");
    await expectStatus(http(stack.url, "POST", "/v1/templates", { key: demo.api_key, body: {
      name: "movimiento_cuenta", category: "utility",
      body: [{ name: "monto", type: "currency" }, { name: "comercio", type: "text" }],
    } }), 201, "template");
    await expectStatus(http(stack.url, "POST", "/v1/customers/5215598760000/consent", { key: demo.api_key, body: {
      source: "app", wording: "Acepto recibir avisos de mi cuenta por WhatsApp.", marketing: false,
    } }), 201, "consent");
    const sentNote = await expectStatus(http(stack.url, "POST", "/v1/notifications", { key: demo.api_key, body: {
      to: "5215598760000", template: "movimiento_cuenta", kind: "transaction_alert",
      parameters: { monto: 125000, comercio: "OXXO Insurgentes" }, campaign: "alertas",
    } }), 202, "notification");
    await until("the notification sent", async () => {
      const r = await http(stack.url, "GET", `/v1/notifications/${sentNote.id}`, { key: demo.api_key });
      return ["sent", "delivered", "read"].includes(r.json.status);
    });
    await panel.goto(`${stack.url}/panel/#/notificaciones`);
    await panel.getByRole("heading", { name: "Notificaciones" }).waitFor();
    await panel.getByRole("img", { name: "Embudo de notificaciones" }).waitFor();
    await panel.getByRole("button", { name: /^1 sent de movimiento_cuenta el .*: ver destinatarios$/ }).click();
    await panel.getByRole("heading", { name: /^Destinatarios: movimiento_cuenta, .*, enviadas \(1\)$/ }).waitFor();
    await panel.getByRole("row", { name: /\+525598760000.*alertas.*Enviada/ }).waitFor();
    await panel.getByLabel("Agrupar por").selectOption("campaign");
    await panel.getByRole("cell", { name: "alertas" }).first().waitFor();
    ok("notifications: a transaction alert's funnel per template and per campaign, and the recipient behind the figure");

    // Templates: what Meta says about each language; submitting needs the WhatsApp Business Account.
    await expectStatus(http(stack.url, "POST", "/v1/templates", { key: demo.api_key, body: {
      name: "aviso_pedido_listo", category: "utility", body: [{ name: "nombre", type: "text" }],
      text: "Hola {{1}}, tu pedido está listo para recoger.", examples: ["Ana"],
    } }), 201, "template");
    await panel.goto(`${stack.url}/panel/#/plantillas`);
    const row = panel.getByRole("row", { name: /aviso_pedido_listo/ });
    await row.getByText("Registrada aquí").waitFor();
    await row.getByRole("button", { name: "Enviar a revisión" }).click();
    const why = await panel.getByRole("alert").textContent();
    assert.match(why, /cuenta de WhatsApp Business/);
    ok("templates list Meta's status per language; submitting without the WhatsApp Business Account says what is missing, in Spanish");
    await panel.screenshot({ path: path.join(OUT, "panel-templates.png"), fullPage: true });
    // The owner on her phone: the templates page fits without sideways scrolling.
    await panel.setViewportSize({ width: 390, height: 844 });
    await panel.reload();
    await panel.getByRole("row", { name: /aviso_pedido_listo/ }).waitFor();
    const templatesOverflow = await panel.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    assert.ok(templatesOverflow <= 1, `the templates page fits a 390 px screen (overflow ${templatesOverflow} px)`);
    await panel.screenshot({ path: path.join(OUT, "panel-phone-templates.png"), fullPage: true });
    await panel.setViewportSize({ width: 1100, height: 860 });
    ok("the templates page fits a 390 px phone");

    // Counter staff for Centro, invited by the owner.
    await panel.goto(`${stack.url}/panel/#/equipo`);
    await panel.getByLabel("Correo").fill("mostrador.centro@farmaciasanjuan.mx");
    await panel.getByLabel("Nombre").fill("Ana Centro");
    await panel.getByLabel("Rol").selectOption("staff");
    await panel.getByLabel("Sucursal (para mostrador)").selectOption(centro.id);
    await panel.getByRole("button", { name: "Crear invitación" }).click();
    const link = await panel.locator("code").textContent();
    assert.match(link, /\/panel#\/invitacion\/[0-9a-f]{64}$/);
    ok("the owner invited counter staff for Centro and got a link");

    const staffContext = await browser.newContext({ viewport: { width: 390, height: 844 }, locale: "es-MX", timezoneId: "America/Mexico_City", isMobile: true, hasTouch: true });
    const staff = await staffContext.newPage();
    staff.setDefaultTimeout(15000);
    watch(staff, problems, ["401 GET /v1/session", "status of 401", "403 GET /v1/branches/", "status of 403"]);
    await staff.goto(link.replace(/^https?:\/\/[^/]+/, stack.url));
    await staff.getByLabel(/Elige una contraseña/).fill("mostrador-centro-2026");
    await staff.getByRole("button", { name: "Crear mi cuenta" }).click();
    await staff.getByRole("heading", { name: "Hoy", exact: true }).waitFor();
    await staff.goto(`${stack.url}/panel/#/catalogo`);
    await staff.getByRole("heading", { name: "Inventario" }).waitFor();
    const options = await staff.getByLabel("Sucursal").locator("option").allTextContents();
    assert.deepEqual(options, ["Centro"], `counter staff see their branch only: ${options}`);
    const other = await staff.evaluate(async (id) => (await fetch(`/v1/branches/${id}/stock`)).status, polanco.id);
    assert.equal(other, 403, "Polanco's stock is refused to Centro's staff");
    const overflow = await staff.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    assert.ok(overflow <= 1, `the inventory page fits a 390 px screen (overflow ${overflow} px)`);
    await staff.screenshot({ path: path.join(OUT, "panel-phone-inventory.png"), fullPage: true });
    ok("counter staff signed up from the link, see only Centro (Polanco answers 403), on a 390 px phone without sideways scrolling");

    // Promotions on the phone: counter staff read them (what each gives, its status) but get no form.
    await staff.goto(`${stack.url}/panel/#/promociones`);
    await staff.getByRole("heading", { name: "Promociones" }).waitFor();
    await staff.getByText("2x1 en cepillos").first().waitFor();
    assert.equal(await staff.getByRole("button", { name: "Crear promoción" }).count(), 0, "no form for counter staff");
    assert.equal(await staff.getByRole("button", { name: /Pausar|Reanudar/ }).count(), 0, "no pause for counter staff");
    const promoOverflow = await staff.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    assert.ok(promoOverflow <= 1, `the promotions page fits a 390 px screen (overflow ${promoOverflow} px)`);
    assert.ok(!(await staff.locator("main").innerText()).includes("null"), "nothing reads 'null'");
    await staff.screenshot({ path: path.join(OUT, "panel-phone-promotions.png"), fullPage: true });
    ok("counter staff read the promotions on a 390 px phone, without the form or pause buttons and without sideways scrolling");

    // Keyboard: the skip link and the nav are reachable with Tab.
    await staff.goto(`${stack.url}/panel/#/hoy`);
    await staff.getByRole("heading", { name: "Hoy", exact: true }).waitFor();
    await staff.keyboard.press("Tab");
    const focused = await staff.evaluate(() => document.activeElement && document.activeElement.textContent);
    assert.ok(focused && focused.length > 0, "Tab reaches a labelled control");
    await staffContext.close();

    // Settings: the branch's hours and a FAQ, and the assistant answers with them.
    await panel.goto(`${stack.url}/panel#/configuracion`);
    await panel.getByRole("heading", { name: "Configuración" }).waitFor();
    const centroForm = panel.locator("form", { has: panel.getByRole("heading", { name: "Sucursal Centro" }) });
    await centroForm.getByLabel("Horario").fill("Lun a dom 7:00–23:00");
    await centroForm.getByRole("button", { name: "Guardar sucursal" }).click();
    await centroForm.getByText("Sucursal guardada").waitFor();
    await panel.getByRole("button", { name: "Agregar pregunta" }).click();
    const faq = panel.locator(".faq").last();
    await faq.getByLabel("Pregunta").fill("¿Tienen estacionamiento?");
    await faq.getByLabel("Respuesta").fill("Sí, hay estacionamiento gratis frente a la farmacia 🚗");
    await faq.getByLabel(/Palabras clave/).fill("estacionamiento, estacionar");
    await panel.getByLabel(/Respuestas rápidas del equipo/).fill("Tu pedido ya va en camino 🛵\nGracias por esperar, enseguida te atiendo.");
    await panel.getByRole("button", { name: "Guardar asistente" }).click();
    await panel.getByText("Guardado. El asistente ya usa estas respuestas.").waitFor();
    await customerSays(chatPage, "a qué hora abren?");
    await chatPage.locator(".msg.in .bubble", { hasText: "Lun a dom 7:00–23:00" }).waitFor();
    await customerSays(chatPage, "tienen estacionamiento?");
    await chatPage.locator(".msg.in .bubble", { hasText: "estacionamiento gratis" }).waitFor();
    await panel.goto(`${stack.url}/panel#/conversaciones/${CUSTOMER}`);
    await panel.getByRole("button", { name: "Tu pedido ya va en camino 🛵" }).click();
    assert.equal(await panel.getByLabel("Tu respuesta").inputValue(), "Tu pedido ya va en camino 🛵");
    await panel.getByLabel("Nueva nota").fill("Pidió factura a nombre de su empresa; confirmar RFC.");
    await panel.getByRole("button", { name: "Guardar nota" }).click();
    await panel.locator(".note", { hasText: "confirmar RFC" }).filter({ hasText: "Lucía Hernández" }).waitFor();
    const notes = await expectStatus(http(stack.url, "GET", `/v1/conversations/${CUSTOMER}/notes`, { key: demo.api_key }), 200, "notes");
    assert.equal(notes.notes.length, 1);
    ok("the owner changed Centro's hours, added a FAQ and quick replies in Configuración; the assistant answers with them, staff reply with one tap and keep an internal note");

    // The owner's own settings: an API key made and revoked, the events endpoint with its secret shown
    // once, a payment provider, the issuer's serie and the CSD uploaded from its files.
    await panel.goto(`${stack.url}/panel/#/configuracion`);
    await panel.getByRole("heading", { name: "Cuenta y conexiones" }).waitFor();
    await panel.getByLabel("Nombre de la llave").fill("Punto de venta Centro");
    await panel.locator("select[name=branch_id]").selectOption({ label: "Centro" });
    await panel.getByRole("button", { name: "Crear llave" }).click();
    const posKey = (await panel.locator("code.secret").first().textContent()).trim();
    const merchantSeen = await expectStatus(http(stack.url, "GET", `/v1/branches/${centro.id}/stock`, { key: posKey }), 200, "the new key works");
    assert.equal(merchantSeen.branch_id, centro.id);
    panel.once("dialog", (d) => d.accept());
    await panel.getByRole("row", { name: /Punto de venta Centro/ }).getByRole("button", { name: "Revocar" }).click();
    await panel.getByRole("row", { name: /Punto de venta Centro/ }).getByText("Revocada").waitFor();
    await expectStatus(http(stack.url, "GET", "/v1/merchant", { key: posKey }), 401, "a revoked key");
    await panel.getByLabel(/^Dirección que recibe los eventos/).fill("https://eventos.farmaciasanjuan.mx/mostrador");
    await panel.getByRole("button", { name: "Guardar dirección" }).click();
    await panel.getByText("Copia el secreto ahora").waitFor();
    assert.match(await panel.locator("code.secret").last().textContent(), /^whsec_[0-9a-f]{40,}$/);
    await panel.locator("select[name=provider]").selectOption("stripe");
    await panel.getByLabel("Llave secreta (sk_live_…)").fill("sk_test_consola");
    await panel.getByLabel("Secreto del webhook (whsec_…)").fill("whsec_consola");
    await panel.getByRole("button", { name: "Guardar proveedor de pagos" }).click();
    await panel.getByText("/webhooks/payments/stripe?m=").waitFor();
    const payments = await expectStatus(http(stack.url, "GET", "/v1/settings/payments", { key: demo.api_key }), 200, "payments");
    assert.deepEqual([payments.provider, payments.configured], ["stripe", true]);
    await expectStatus(http(stack.url, "PUT", "/v1/settings/payments", { key: demo.api_key, body: { provider: "sandbox" } }), 200, "back to sandbox");
    await panel.getByLabel("Serie de tus facturas").fill("FSJ");
    await panel.getByRole("button", { name: "Guardar datos fiscales" }).click();
    await panel.getByText("Datos fiscales guardados.").waitFor();
    const fixtures = path.join(HERE, "..", "..", "shared", "cfdi", "tests", "fixtures", "csd");
    await panel.getByLabel("Archivo .cer").setInputFiles(path.join(fixtures, "EKU9003173C9.cer"));
    await panel.getByLabel("Archivo .key").setInputFiles(path.join(fixtures, "EKU9003173C9.key"));
    await panel.getByLabel("Contraseña de la llave privada").fill("12345678a");
    await panel.getByRole("button", { name: "Cargar CSD" }).click();
    await panel.getByText(/CSD cargado: certificado 30001000000500003416/).waitFor();
    const issuer = await expectStatus(http(stack.url, "GET", "/v1/settings/invoicing", { key: demo.api_key }), 200, "issuer");
    assert.equal(issuer.issuer.serie, "FSJ");
    await panel.screenshot({ path: path.join(OUT, "panel-settings.png"), fullPage: true });
    ok("the owner's settings: an API key for Centro made, used and revoked; the events endpoint's secret shown once; Stripe set; the serie and the CSD uploaded from its files");

    // Outside the 24-hour window (a customer who never wrote): only a template, with its values.
    await expectStatus(http(stack.url, "POST", "/v1/templates", { key: demo.api_key, body: {
      name: "pedido_listo", category: "utility", body: [{ name: "pedido", type: "text" }],
    } }), 201, "register a template");
    await panel.goto(`${stack.url}/panel#/conversaciones/5215511112222`);
    await panel.locator(".countdown.closed").waitFor();
    assert.equal(await panel.getByLabel("Tu respuesta").isDisabled(), true, "free text is off outside the window");
    await panel.getByLabel("Plantilla").selectOption("pedido_listo");
    await panel.getByLabel("pedido", { exact: true }).fill("A1B2C3");
    await panel.getByRole("button", { name: "Enviar plantilla" }).click();
    await panel.getByText("Plantilla enviada.").waitFor();
    const outbox = await until("the template in the outbox", async () => {
      const r = await http(stack.url, "GET", "/v1/outbox?limit=50", { key: demo.api_key });
      return (r.json.messages || []).find((m) => m.message.type === "template" && m.message.template.name === "pedido_listo");
    });
    assert.equal(outbox.message.template.components[0].parameters[0].text, "A1B2C3");
    ok("outside the 24-hour window the console offers only a template, and sends it with its values");

    await panel.screenshot({ path: path.join(OUT, "panel-team.png"), fullPage: true });

    // The owner turns on the second factor with an authenticator app; signing in then asks for its code.
    await panel.goto(`${stack.url}/panel/#/cuenta`);
    await panel.getByRole("button", { name: "Activar la verificación en dos pasos" }).click();
    await panel.getByRole("img", { name: "Código QR para tu app de autenticación" }).waitFor();
    const totpSecret = (await panel.locator("code.secret").textContent()).trim();
    const enrolledAt = totpStep();
    await panel.getByLabel("Código que muestra tu app").fill(totpCode(totpSecret, enrolledAt));
    await panel.getByRole("button", { name: "Activar", exact: true }).click();
    await panel.getByText("Verificación en dos pasos activada").waitFor();
    await panel.getByRole("button", { name: "Salir" }).click();
    await panel.getByLabel("Correo").fill(demo.owner_email);
    await panel.getByLabel("Contraseña").fill(demo.owner_password);
    await panel.getByRole("button", { name: "Entrar" }).click();
    await panel.getByText("Escribe el código de 6 dígitos de tu app de autenticación.").waitFor();
    // The code that turned it on works once: the next one signs in.
    await panel.getByLabel("Código de tu app de autenticación").fill(totpCode(totpSecret, Math.max(enrolledAt + 1, totpStep())));
    await panel.getByRole("button", { name: "Entrar" }).click();
    await panel.getByRole("heading", { name: /^Hoy/ }).waitFor();
    ok("the owner turned on the second factor from a QR code; signing in then asks for the app's code (RFC 6238, computed independently)");

    assert.deepEqual(problems, [], "no page errors, console errors or unexpected failed requests");
    ok("no page errors, console errors or unexpected failed requests");
  } catch (e) {
    if (panel) await panel.screenshot({ path: path.join(OUT, "panel-failure.png"), fullPage: true }).catch(() => {});
    if (problems.length) console.error(`page problems:\n  ${problems.join("\n  ")}`);
    if (stack) console.error(`--- local stack log ---\n${stack.log().slice(-20000)}\n--- end of log ---`);
    throw e;
  } finally {
    if (browser) await browser.close().catch(() => {});
    if (stack) await stack.stop();
    await rm(work, { recursive: true, force: true }).catch(() => {});
  }
}

main().then(
  () => console.log(`# panel: all ${step} checks passed`),
  (e) => {
    console.error(`not ok ${step + 1} - ${e.stack || e}`);
    process.exitCode = 1;
  },
);
