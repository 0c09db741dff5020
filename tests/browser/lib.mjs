// Helpers the browser tests share: the local stack as a child process, HTTP calls, waiting.
//
// Environment: MOSTRADOR_BIN (required: the local stack binary), MOSTRADOR_CHROMIUM (default
// /usr/bin/chromium).

import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import net from "node:net";
import path from "node:path";
import { fileURLToPath } from "node:url";

export const HERE = path.dirname(fileURLToPath(import.meta.url));
export const OUT = path.join(HERE, "out");
export const BIN = process.env.MOSTRADOR_BIN;
export const CHROMIUM = process.env.MOSTRADOR_CHROMIUM || "/usr/bin/chromium";
export const ADMIN_KEY = "browser-test-admin-key-0123456789";
export const APP_SECRET = "browser-test-app-secret";
// Flags that keep Chromium off the network this machine does not have (see the machine notes).
export const CHROMIUM_ARGS = [
  "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
  "--disable-background-networking", "--disable-component-update", "--disable-sync",
];

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

export async function freePort() {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.unref();
    server.on("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

export async function until(what, fn, timeoutMs = 20000, everyMs = 200) {
  const deadline = Date.now() + timeoutMs;
  let last;
  while (Date.now() < deadline) {
    try {
      const value = await fn();
      if (value) return value;
    } catch (e) {
      last = e;
    }
    await sleep(everyMs);
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last ? `: ${last.message}` : ""}`);
}

/** The local stack as a child process, with its log kept for failures. */
export async function startStack(dataDir) {
  assert.ok(BIN, "MOSTRADOR_BIN must name the local stack binary (target/debug/mostrador)");
  assert.ok(existsSync(BIN), `MOSTRADOR_BIN=${BIN} does not exist: build it with cargo build -p mostrador-local`);
  const port = await freePort();
  const log = [];
  const child = spawn(BIN, [], {
    env: {
      PATH: process.env.PATH,
      HOME: process.env.HOME,
      MOSTRADOR_ADDR: `127.0.0.1:${port}`,
      MOSTRADOR_DATA_DIR: dataDir,
      MOSTRADOR_ENGINE: "embedded",
      MOSTRADOR_ADMIN_KEY: ADMIN_KEY,
      MOSTRADOR_WHATSAPP_APP_SECRET: APP_SECRET,
      MOSTRADOR_WHATSAPP_VERIFY_TOKEN: "browser-test-verify-token",
      MOSTRADOR_LOG: process.env.MOSTRADOR_LOG || "info",
      MOSTRADOR_LOG_FORMAT: "text",
    },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let exited = null;
  child.on("exit", (code, signal) => { exited = { code, signal }; });
  for (const stream of [child.stdout, child.stderr]) {
    stream.setEncoding("utf8");
    stream.on("data", (chunk) => log.push(chunk));
  }
  const url = `http://127.0.0.1:${port}`;
  await until("the stack to answer /healthz", async () => {
    if (exited) throw new Error(`the stack exited during start-up (${JSON.stringify(exited)})`);
    const r = await fetch(`${url}/healthz`);
    return r.ok;
  }, 60000);
  return {
    url,
    log: () => log.join(""),
    /** SIGTERM, as docker, systemd and deploys stop a process; resolves to how it exited. */
    async stop() {
      if (exited) return exited;
      child.kill("SIGTERM");
      const done = new Promise((r) => child.once("exit", () => r()));
      const timeout = sleep(10000).then(() => { if (!exited) child.kill("SIGKILL"); });
      await Promise.race([done, timeout]);
      await done;
      return exited;
    },
  };
}

export async function http(url, method, pathname, { key, body } = {}) {
  const response = await fetch(url + pathname, {
    method,
    headers: { "content-type": "application/json", ...(key ? { authorization: `Bearer ${key}` } : {}) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  let json = null;
  try { json = JSON.parse(text); } catch { /* not JSON */ }
  return { status: response.status, json, text };
}

export async function expectStatus(promise, want, what) {
  const r = await promise;
  assert.equal(r.status, want, `${what}: HTTP ${r.status} ${r.text}`);
  return r.json;
}

/** Waits until the inbound queue has nothing left to process, and nothing went to its DLQ. */
export async function inboundDrained(stack) {
  await until("the inbound queue to drain", async () => {
    const { json } = await http(stack.url, "GET", "/v1/admin/queues", { key: ADMIN_KEY });
    const inbound = json && json.queues && json.queues.inbound;
    assert.ok(inbound, `no inbound queue in ${JSON.stringify(json)}`);
    assert.equal(inbound.dead, 0, `a customer message went to the inbound DLQ: ${JSON.stringify(json)}`);
    return inbound.visible === 0 && inbound.in_flight === 0;
  });
}

