// The customer simulator (/sandbox/chat) in headless Debian Chromium, against the real local stack:
// a customer writes "hola" from the page, the merchant answers with reply buttons, a list and a product
// through the merchant API, and the customer's taps go back through the signed webhook.
//
//   MOSTRADOR_BIN=target/debug/mostrador node tests/browser/sandbox_chat.test.mjs
//
// Environment: MOSTRADOR_BIN (required: the local stack binary), MOSTRADOR_CHROMIUM (default
// /usr/bin/chromium). Fails (never skips) when the binary or Chromium is missing or cannot start.
// Writes tests/browser/out/sandbox-chat.png, and on failure the stack's log and a failure screenshot.

import { chromium } from "playwright-core";
import assert from "node:assert/strict";
import { mkdir, mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import {
  ADMIN_KEY, CHROMIUM, CHROMIUM_ARGS, OUT, expectStatus, http, inboundDrained, sleep, startStack, until,
} from "./lib.mjs";

const PHONE_NUMBER_ID = String(100000000000000 + Math.floor(Math.random() * 899999999999999));
const CUSTOMER = "5215512345678";

let step = 0;
const ok = (what) => console.log(`ok ${++step} - ${what}`);

/** Queues a message through the merchant API and waits until the sender put it in the outbox. */
async function reply(stack, merchant, message) {
  const queued = await expectStatus(
    http(stack.url, "POST", "/v1/messages", { key: merchant.key, body: { branch_id: merchant.branchId, to: CUSTOMER, message } }),
    202, "POST /v1/messages");
  const status = await until(`message ${queued.id} to leave the outbound queue`, async () => {
    const r = await http(stack.url, "GET", `/v1/messages/${queued.id}`, { key: merchant.key });
    return r.status === 200 && r.json.status && r.json.status !== "queued" ? r.json.status : null;
  });
  assert.equal(status, "sandbox", `message ${queued.id} ended as ${status}, not in the sandbox outbox`);
}

/** Clicks (or submits) and returns the /sandbox/api/send exchange it caused. */
async function sentBy(page, action) {
  const [response] = await Promise.all([
    page.waitForResponse((r) => r.url().endsWith("/sandbox/api/send") && r.request().method() === "POST"),
    action(),
  ]);
  const request = response.request().postDataJSON();
  const body = await response.json();
  assert.equal(response.status(), 200, `/sandbox/api/send answered ${response.status()}: ${JSON.stringify(body)}`);
  assert.equal(body.webhook.status, 200, `the webhook answered ${JSON.stringify(body.webhook)}`);
  assert.equal(body.webhook.report.enqueued, 1, `the signed delivery was not enqueued: ${JSON.stringify(body.webhook)}`);
  assert.match(body.wamid, /^wamid\.sandbox\./);
  return { request, body };
}

async function main() {
  const work = await mkdtemp(path.join(os.tmpdir(), "mostrador-browser-"));
  await mkdir(OUT, { recursive: true });
  let stack;
  let context;
  let page;
  const pageProblems = [];
  try {
    stack = await startStack(path.join(work, "data"));
    ok(`local stack answers on ${stack.url}`);

    // A merchant with one branch on a WhatsApp number, through the admin and merchant APIs.
    const m = await expectStatus(http(stack.url, "POST", "/v1/admin/merchants", { key: ADMIN_KEY, body: { name: "Farmacia del Navegador" } }), 201, "create merchant");
    const k = await expectStatus(http(stack.url, "POST", `/v1/admin/merchants/${m.id}/api-keys`, { key: ADMIN_KEY, body: { label: "browser test" } }), 201, "issue key");
    const b = await expectStatus(http(stack.url, "POST", "/v1/branches", {
      key: k.api_key, body: { name: "Sucursal Centro", postal_code: "06000", phone_number_id: PHONE_NUMBER_ID },
    }), 201, "create branch");
    const merchant = { id: m.id, key: k.api_key, branchId: b.id };
    await expectStatus(http(stack.url, "PUT", "/v1/products/PARA-500", { key: merchant.key, body: {
      sku: "PARA-500", name: "Paracetamol 500 mg, 10 tabletas", price: 4550, tax: "iva0",
      clave_prod_serv: "51142001", clave_unidad: "XBX", categories: ["Analgésicos"],
    } }), 200, "create product");
    ok(`merchant ${m.id} with branch ${b.id} on number ${PHONE_NUMBER_ID} and one product`);

    // Chromium must start: a missing or broken browser fails the test.
    context = await chromium.launchPersistentContext(path.join(work, "chromium-profile"), {
      executablePath: CHROMIUM,
      headless: true,
      args: CHROMIUM_ARGS,
      viewport: { width: 1100, height: 860 },
      locale: "es-MX",
      timezoneId: "America/Mexico_City",
    });
    page = context.pages()[0] || (await context.newPage());
    page.setDefaultTimeout(15000);
    page.on("pageerror", (e) => pageProblems.push(`page error: ${e.message}`));
    page.on("console", (msg) => { if (msg.type() === "error") pageProblems.push(`console error: ${msg.text()}`); });
    // A poll in flight when the test reloads the page is aborted by the browser, not failed by the server.
    page.on("requestfailed", (r) => {
        const error = r.failure() && r.failure().errorText;
        if (error !== "net::ERR_ABORTED") pageProblems.push(`request failed: ${r.url()} ${error}`);
    });
    page.on("response", (r) => { if (r.status() >= 400) pageProblems.push(`HTTP ${r.status()} for ${r.request().method()} ${r.url()}`); });
    ok(`Chromium (${CHROMIUM}) started headless`);

    await page.goto(`${stack.url}/sandbox/chat`);
    // `cargo run` seeds a demo merchant: its numbers are offered before anything else was used.
    await page.locator("#branch option").first().waitFor({ state: "attached" });
    assert.ok(await page.locator("#branch option").count() >= 1, "the seeded demo branches are listed");
    await page.locator("#new-number").fill(PHONE_NUMBER_ID);
    await page.locator("#add-number").click();
    await page.locator(`#branch option[value="${PHONE_NUMBER_ID}"]`).waitFor({ state: "attached" });
    // Registered numbers may already be listed; wait until adding it has also selected it.
    await page.waitForFunction((id) => document.querySelector("#branch").value === id, PHONE_NUMBER_ID);
    assert.equal(await page.locator("#branch").inputValue(), PHONE_NUMBER_ID);
    const option = await page.locator(`#branch option[value="${PHONE_NUMBER_ID}"]`).textContent();
    assert.match(option, /Farmacia del Navegador — Sucursal Centro/);
    await page.locator("#chat-title").filter({ hasText: "Farmacia del Navegador · Sucursal Centro" }).waitFor();
    // Listed from the server on the next visit, not only in this page's memory.
    await page.reload();
    await page.locator(`#branch option[value="${PHONE_NUMBER_ID}"]`).waitFor({ state: "attached" });
    ok("the branch is chosen from the dropdown, by merchant and branch name");

    await page.locator("#wa-id").fill(CUSTOMER);
    await page.locator("#name").fill("Lupita Navegador");
    await page.locator("#name").dispatchEvent("change");
    await page.locator("#text").fill("hola");
    const hola = await sentBy(page, () => page.locator("#text").press("Enter"));
    assert.deepEqual(
      { phone_number_id: hola.request.phone_number_id, wa_id: hola.request.wa_id, kind: hola.request.kind, text: hola.request.text },
      { phone_number_id: PHONE_NUMBER_ID, wa_id: CUSTOMER, kind: "text", text: "hola" });
    await page.locator('.msg.out .bubble[data-kind="text"][data-status="accepted"]', { hasText: "hola" }).waitFor();
    ok(`"hola" sent from the page: signed webhook accepted it (${hola.body.wamid}) and the bubble shows it`);

    // The customer wrote, so the 24-hour window opens once the inbound consumer has recorded it.
    await inboundDrained(stack);
    await reply(stack, merchant, {
      type: "interactive",
      interactive: {
        type: "button",
        header: { type: "text", text: "Tu pedido" },
        body: { text: "¿Confirmas *2 cajas* de paracetamol 500 mg?\nTotal: $91.00 MXN" },
        footer: { text: "Farmacia del Navegador" },
        action: { buttons: [
          { type: "reply", reply: { id: "confirmar", title: "Confirmar" } },
          { type: "reply", reply: { id: "cancelar", title: "Cancelar" } },
        ] },
      },
    });
    const confirm = page.locator('.msg.in .reply-button[data-id="confirmar"]');
    await confirm.waitFor();
    await page.locator('.msg.in .reply-button[data-id="cancelar"]', { hasText: "Cancelar" }).waitFor();
    assert.equal(await page.locator(".msg.in .bubble strong", { hasText: "2 cajas" }).count(), 1, "*bold* is rendered bold");
    assert.equal(await page.locator(".msg.in .bubble br").count() >= 1, true, "line breaks are kept");
    const buttonsWamid = await page.locator(".msg.in", { has: page.locator('.reply-button[data-id="confirmar"]') }).getAttribute("data-id");
    ok("the reply-buttons message from the outbox renders with its header, bold body and two buttons");

    const tapped = await sentBy(page, () => confirm.click());
    assert.equal(tapped.request.kind, "button_reply");
    assert.equal(tapped.request.id, "confirmar");
    assert.equal(tapped.request.title, "Confirmar");
    assert.equal(tapped.request.context_id, `sandbox.${buttonsWamid}`, "the reply names the message it answers");
    await page.locator('.msg.out .bubble[data-kind="button_reply"][data-status="accepted"]', { hasText: "Confirmar" }).waitFor();
    await inboundDrained(stack);
    ok(`tapping "Confirmar" posted a signed button_reply the webhook accepted (200, enqueued) and the consumer processed`);

    await reply(stack, merchant, {
      type: "interactive",
      interactive: {
        type: "list",
        body: { text: "¿Qué buscas hoy?" },
        action: { button: "Ver categorías", sections: [{ title: "Categorías", rows: [
          { id: "cat-dolor", title: "Dolor y fiebre", description: "Paracetamol, ibuprofeno" },
          { id: "cat-bebe", title: "Bebés" },
        ] }] },
      },
    });
    await page.locator(".msg.in .list-open", { hasText: "Ver categorías" }).click();
    const row = page.locator('.list-row[data-id="cat-dolor"]');
    await row.waitFor();
    const picked = await sentBy(page, () => row.click());
    assert.deepEqual([picked.request.kind, picked.request.id, picked.request.title], ["list_reply", "cat-dolor", "Dolor y fiebre"]);
    await page.locator('.msg.out .bubble[data-kind="list_reply"][data-status="accepted"]', { hasText: "Dolor y fiebre" }).waitFor();
    ok("a list opens its rows; choosing one posts an accepted list_reply");

    await reply(stack, merchant, {
      type: "interactive",
      interactive: {
        type: "product_list",
        header: { type: "text", text: "Dolor y fiebre" },
        body: { text: "Estos tenemos en *Sucursal Centro*:" },
        action: { catalog_id: "cat-navegador", sections: [{ title: "Analgésicos", product_items: [
          { product_retailer_id: "PARA-500" }, { product_retailer_id: "IBU-400" },
        ] }] },
      },
    });
    const card = page.locator('.msg.in .card[data-sku="PARA-500"]');
    await card.waitFor();
    assert.equal(await card.locator(".name").textContent(), "Paracetamol 500 mg, 10 tabletas");
    assert.equal(await card.locator(".price").textContent(), "$45.50 MXN");
    await page.locator('.msg.in .card[data-sku="IBU-400"]', { hasText: "no está en el catálogo" }).waitFor();
    await card.locator("input").fill("2");
    const ordered = await sentBy(page, () => card.locator(".product-add").click());
    assert.equal(ordered.request.kind, "order");
    assert.deepEqual(ordered.request.items, [{ product_retailer_id: "PARA-500", quantity: 2, currency: "MXN", item_price: "45.50" }]);
    await page.locator('.msg.out .bubble[data-kind="order"][data-status="accepted"]', { hasText: "2 × PARA-500" }).waitFor();
    await inboundDrained(stack);
    ok("a product list shows catalog cards (name, price, SKU); Agregar posts an accepted catalog order at that price");

    // Let the page settle (one more poll) before the picture.
    await sleep(1200);
    await page.screenshot({ path: path.join(OUT, "sandbox-chat.png"), fullPage: true });
    await page.locator("#messages").evaluate((box) => { box.scrollTop = 0; });
    await page.screenshot({ path: path.join(OUT, "sandbox-chat-top.png"), fullPage: true });
    ok(`screenshots in ${path.relative(process.cwd(), OUT)}/sandbox-chat.png and sandbox-chat-top.png`);

    assert.deepEqual(pageProblems, [], "the page logged no errors and no request failed");
    ok("no page errors, console errors or failed requests");

    // SIGTERM stops the stack gracefully: in-flight work finishes and it exits 0.
    const exit = await stack.stop();
    assert.deepEqual(exit, { code: 0, signal: null }, `exit after SIGTERM: ${JSON.stringify(exit)}`);
    assert.match(stack.log(), /mostrador: stopped/, "the stack finished its work before exiting");
    ok("SIGTERM stops the local stack gracefully (exit 0, in-flight work finished)");
  } catch (e) {
    if (page) await page.screenshot({ path: path.join(OUT, "sandbox-chat-failure.png"), fullPage: true }).catch(() => {});
    if (pageProblems.length) console.error(`page problems:\n  ${pageProblems.join("\n  ")}`);
    if (stack) console.error(`--- local stack log ---\n${stack.log().slice(-20000)}\n--- end of log ---`);
    throw e;
  } finally {
    if (context) await context.close().catch(() => {});
    if (stack) await stack.stop();
    await rm(work, { recursive: true, force: true }).catch(() => {});
  }
}

main().then(
  () => console.log(`# sandbox chat: all ${step} checks passed`),
  (e) => {
    console.error(`not ok ${step + 1} - ${e.stack || e}`);
    process.exitCode = 1;
  },
);
