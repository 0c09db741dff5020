// The merchant's console: a client of the same /v1 API integrators use, signed in with a session
// cookie (HttpOnly) and a CSRF token sent on every request that changes something. No framework,
// no CDN: this file and app.css are served by the merchant API itself.
'use strict';

const S = {
  user: null, csrf: null, merchant: null, branches: [],
  handoffs: new Set(), firstPoll: true, poll: null, lastRoute: null,
};

const STATUS = {
  awaiting_payment: 'Esperando pago', paid: 'Pagado', ready_for_pickup: 'Listo para recoger',
  shipped: 'En camino', delivered: 'Entregado', cancelled: 'Cancelado', expired: 'Vencido',
  refunded: 'Reembolsado',
};
const INVOICE_STATUS = {
  retrying: 'Timbrando', blocked: 'Bloqueada', rejected: 'Rechazada', stamped: 'Timbrada',
  cancelled: 'Cancelada',
};

const KEPT = { order: 'ventas', invoice: 'facturas', privacy_log: 'registros de protección de datos', customer: 'registros del cliente', other: 'otros registros' };

// ---- small helpers ----

/** An element with attributes and children; text is always set as text (never parsed as HTML). */
function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
    else if (k === 'class') el.className = v;
    else el.setAttribute(k, v === true ? '' : String(v));
  }
  for (const c of children.flat()) {
    if (c === null || c === undefined || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

const money = (centavos) => new Intl.NumberFormat('es-MX', { style: 'currency', currency: 'MXN' })
  .format((Number(centavos) || 0) / 100);

function branchOf(id) { return S.branches.find((b) => b.id === id); }
function zoneOf(branchId) { return (branchOf(branchId) || {}).timezone || 'America/Mexico_City'; }

function when(value, branchId) {
  if (value === null || value === undefined || value === '') return '';
  const date = typeof value === 'number' ? new Date(value * 1000) : new Date(value);
  if (Number.isNaN(date.getTime())) return String(value);
  return new Intl.DateTimeFormat('es-MX', {
    dateStyle: 'medium', timeStyle: 'short', timeZone: zoneOf(branchId),
  }).format(date);
}

/** Today's date (YYYY-MM-DD) in Mexico City, as the reports count days. */
function today() {
  const parts = new Intl.DateTimeFormat('en-CA', {
    timeZone: 'America/Mexico_City', year: 'numeric', month: '2-digit', day: '2-digit',
  }).format(new Date());
  return parts;
}

const orderNumber = (id) => String(id || '').slice(-6).toUpperCase();
const phone = (wa) => (wa ? `+${wa}` : '');

class ApiError extends Error {
  constructor(status, message, fields, body) { super(message); this.status = status; this.fields = fields || []; this.body = body; }
}

/** A dry run's preview: in the answer, or under `preview` when the real call would apply nothing (422). */
async function preview(path, bytes) {
  try { return await api('POST', path, bytes, true); } catch (e) {
    if (e instanceof ApiError && e.status === 422 && e.body && e.body.preview) return e.body.preview;
    throw e;
  }
}

const MESSAGES = {
  400: 'La solicitud no es válida.', 401: 'Tu sesión terminó; vuelve a entrar.',
  403: 'No tienes permiso para esto.', 404: 'No se encontró.', 409: 'No se puede en el estado actual.',
  422: 'Revisa los datos.', 429: 'Demasiados intentos; espera un momento.',
  503: 'El servicio no está disponible ahora; intenta de nuevo.',
};

async function api(method, path, body, raw, extra) {
  const headers = { ...(extra || {}) };
  if (body !== undefined) headers['content-type'] = raw ? 'application/octet-stream' : 'application/json';
  if (method !== 'GET' && S.csrf) headers['x-csrf-token'] = S.csrf;
  const response = await fetch(path, {
    method, headers, credentials: 'same-origin',
    body: body === undefined ? undefined : (raw ? body : JSON.stringify(body)),
  });
  const text = await response.text();
  let data = null;
  try { data = text ? JSON.parse(text) : null; } catch (_) { data = null; }
  if (!response.ok) {
    const error = (data && data.error) || {};
    const fields = error.fields || [];
    const detail = fields.map((f) => `${f.field}: ${f.reason}`).join(' · ');
    // With fields, each field's reason says it all (the API's summary line is for integrators).
    const message = [MESSAGES[response.status] || 'Algo salió mal.', fields.length ? null : error.message, detail]
      .filter(Boolean).join(' ');
    if (response.status === 401 && path !== '/v1/session') {
      S.user = null; S.csrf = null; stopPolling(); render();
    }
    throw new ApiError(response.status, message, fields, data);
  }
  return data;
}

/** Runs `fn` after `ms` unless the person moved to another page meanwhile. */
function later(ms, fn) {
  const route = location.hash;
  setTimeout(() => { if (location.hash === route && S.user) fn(); }, ms);
}

/** Replaces `target`'s children, skipping empty ones as `h` does (a `cond ? node : null`). */
function put(target, ...children) {
  target.replaceChildren(...children.flat().filter((c) => c !== null && c !== undefined && c !== false));
}

function notice(target, error) {
  const text = error instanceof Error ? error.message : String(error);
  target.replaceChildren(h('p', { class: 'msg error', role: 'alert' }, text));
}

function ok(target, text) {
  target.replaceChildren(h('p', { class: 'msg ok' }, text));
}

// ---- the frame ----

const NAV = [
  ['#/hoy', 'Hoy'], ['#/pedidos', 'Pedidos'], ['#/conversaciones', 'Conversaciones'],
  ['#/clientes', 'Clientes'], ['#/productos', 'Productos'], ['#/catalogo', 'Inventario'], ['#/promociones', 'Promociones'], ['#/facturas', 'Facturas'], ['#/reportes', 'Reportes'],
  ['#/notificaciones', 'Notificaciones'], ['#/plantillas', 'Plantillas'],
  ['#/configuracion', 'Configuración'], ['#/cuenta', 'Mi cuenta'],
];

function frame(active, ...content) {
  const who = S.user ? `${S.user.name} · ${S.user.role_label}` : '';
  const nav = h('nav', { class: 'main', 'aria-label': 'Secciones' },
    NAV.filter(([href]) => !['#/configuracion', '#/plantillas', '#/notificaciones'].includes(href) || (S.user && S.user.role !== 'staff'))
      .concat(S.user && S.user.role === 'owner' ? [['#/equipo', 'Equipo']] : [])
      .map(([href, label]) => h('a', {
        href, 'aria-current': active === href ? 'page' : null,
      }, label, href === '#/conversaciones' && S.handoffs.size
        ? h('span', { class: 'badge', 'aria-label': `${S.handoffs.size} esperando` }, S.handoffs.size) : null)));
  return [
    h('header', { class: 'top' },
      h('h1', {}, (S.merchant && S.merchant.name) || 'Mostrador'),
      h('span', { class: 'who' }, who),
      h('button', { class: 'secondary', type: 'button', onclick: signOut }, 'Salir')),
    nav,
    h('main', { id: 'main', tabindex: '-1' }, ...content),
  ];
}

function mount(nodes) {
  const app = document.getElementById('app');
  app.replaceChildren(...nodes);
}

async function signOut() {
  try { await api('DELETE', '/v1/session'); } catch (_) { /* signed out anyway */ }
  S.user = null; S.csrf = null; stopPolling();
  location.hash = '#/hoy';
  render();
}

// ---- sign in ----

function loginPage() {
  const status = h('div');
  const code = h('label', { hidden: true }, 'Código de tu app de autenticación',
    h('input', { name: 'code', inputmode: 'numeric', autocomplete: 'one-time-code', maxlength: '6', pattern: '\\d{6}' }));
  const form = h('form', { class: 'stack', novalidate: true },
    h('label', {}, 'Correo', h('input', { name: 'email', type: 'email', autocomplete: 'username', required: true })),
    h('label', {}, 'Contraseña', h('input', { name: 'password', type: 'password', autocomplete: 'current-password', required: true })),
    code,
    h('button', { type: 'submit' }, 'Entrar'),
    status);
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    const data = new FormData(form);
    try {
      const session = await api('POST', '/v1/session', {
        email: data.get('email'), password: data.get('password'), code: code.hidden ? null : String(data.get('code') || '').trim(),
      });
      await start(session);
    } catch (err) {
      // The password was right and the account has a second factor: ask for the app's code.
      if (err instanceof ApiError && err.body && err.body.error && err.body.error.code === 'code_required') {
        code.hidden = false;
        code.querySelector('input').focus();
      }
      notice(status, err);
    }
  });
  mount([h('main', { id: 'main' }, h('section', { class: 'login' },
    h('h2', {}, 'Entrar al panel'),
    h('p', { class: 'muted' }, 'Pedidos, conversaciones, inventario y facturas de tu tienda.'),
    form))]);
  const email = form.querySelector('input[name=email]');
  if (email) email.focus();
}

async function start(session) {
  S.user = session.user; S.csrf = session.csrf_token;
  const [me, branches] = await Promise.all([api('GET', '/v1/merchant'), api('GET', '/v1/branches')]);
  S.merchant = me.merchant; S.branches = branches.branches || [];
  startPolling();
  if (!location.hash || location.hash === '#/' || location.hash.startsWith('#/invitacion')) location.hash = '#/hoy';
  render();
}

// ---- hand-off alerts ----

function beep() {
  try {
    const ctx = new (window.AudioContext || window.webkitAudioContext)();
    const osc = ctx.createOscillator();
    const gain = ctx.createGain();
    osc.frequency.value = 880; gain.gain.value = 0.08;
    osc.connect(gain); gain.connect(ctx.destination);
    osc.start(); osc.stop(ctx.currentTime + 0.25);
  } catch (_) { /* no audio */ }
}

async function pollHandoffs() {
  if (!S.user) return;
  let list;
  try { list = await api('GET', '/v1/conversations'); } catch (_) { return; }
  const now = new Set((list.conversations || []).map((c) => c.wa_id));
  const fresh = [...now].filter((w) => !S.handoffs.has(w));
  const changed = fresh.length || now.size !== S.handoffs.size;
  S.handoffs = now;
  if (fresh.length && !S.firstPoll) {
    beep();
    const who = (list.conversations || []).find((c) => c.wa_id === fresh[0]);
    const name = (who && (who.name || phone(who.wa_id))) || 'Un cliente';
    if ('Notification' in window && Notification.permission === 'granted') {
      try { new Notification('Un cliente pide una persona', { body: name }); } catch (_) { /* ignore */ }
    }
    const banner = document.getElementById('handoff-banner');
    if (banner) banner.textContent = `${name} pide hablar con una persona.`;
  }
  S.firstPoll = false;
  if (changed) {
    const route = location.hash;
    if (route === '#/conversaciones' || route === '#/hoy') render();
    else refreshNav();
  }
}

function refreshNav() {
  const nav = document.querySelector('nav.main');
  if (!nav) return;
  const fresh = frame(currentNav())[1];
  nav.replaceWith(fresh);
}

function currentNav() {
  const route = location.hash.split('/').slice(0, 2).join('/');
  return route || '#/hoy';
}

function startPolling() {
  stopPolling();
  S.firstPoll = true;
  pollHandoffs();
  S.poll = setInterval(pollHandoffs, 4000);
}

function stopPolling() { if (S.poll) clearInterval(S.poll); S.poll = null; S.handoffs = new Set(); }

// ---- Hoy ----

async function todayPage() {
  const body = h('div', {}, h('p', { class: 'loading' }, 'Cargando…'));
  mount(frame('#/hoy', h('h2', {}, 'Hoy'), h('p', { id: 'handoff-banner', class: 'muted', role: 'status' }), body));
  const day = today();
  const [report, orders, invoices, issues] = await Promise.all([
    api('GET', `/v1/reports/commerce?from=${day}&to=${day}`).catch(() => ({ rows: [] })),
    api('GET', '/v1/orders?limit=200').catch(() => ({ orders: [] })),
    api('GET', '/v1/invoices?limit=200').catch(() => ({ invoices: [] })),
    S.user.role === 'staff' ? { issues: [] } : api('GET', '/v1/payments/issues').catch(() => ({ issues: [] })),
  ]);
  const list = orders.orders || [];
  const count = (statuses) => list.filter((o) => statuses.includes(o.status)).length;
  const blocked = (invoices.invoices || []).filter((i) => i.status === 'blocked' || i.status === 'rejected');
  const stockLow = [];
  for (const branch of S.branches) {
    try {
      const stock = await api('GET', `/v1/branches/${encodeURIComponent(branch.id)}/stock`);
      for (const row of stock.stock || []) {
        if (row.low) stockLow.push({ branch: branch.name, ...row });
      }
    } catch (_) { /* a branch this user cannot see */ }
  }
  const sales = (report.rows || []).map((r) => h('div', { class: 'card' },
    h('h3', {}, `Ventas hoy · ${r.branch}`),
    h('div', { class: 'big' }, money(r.revenue_centavos)),
    h('div', { class: 'sub' }, `${r.paid_orders} pedido(s) pagado(s) · ${r.orders} pedido(s) · ${r.conversations} conversación(es)`)));
  if (!sales.length) {
    sales.push(h('div', { class: 'card' }, h('h3', {}, 'Ventas hoy'), h('div', { class: 'big' }, money(0)),
      h('div', { class: 'sub' }, 'Aún no hay ventas pagadas hoy.')));
  }
  const card = (title, n, href, alert) => h('a', { href, class: `card${alert && n ? ' alert' : ''}`, style: 'text-decoration:none;color:inherit' },
    h('h3', {}, title), h('div', { class: 'big' }, n));
  body.replaceChildren(
    h('div', { class: 'cards' }, sales),
    h('div', { class: 'cards' },
      card('Esperando pago', count(['awaiting_payment']), '#/pedidos?status=awaiting_payment'),
      card('Por preparar', count(['paid']), '#/pedidos?status=paid', true),
      card('Por entregar', count(['ready_for_pickup', 'shipped']), '#/pedidos?status=ready_for_pickup'),
      card('Clientes esperando a una persona', S.handoffs.size, '#/conversaciones', true),
      card('Facturas bloqueadas', blocked.length, '#/facturas', true),
      S.user.role === 'staff' ? null : card('Pagos por revisar', (issues.issues || []).length, '#/pagos', true)),
    h('h3', {}, 'Poco inventario'),
    stockLow.length
      ? table(['Sucursal', 'Producto', 'Disponible', 'Mínimo', 'Apartado'], stockLow.slice(0, 30).map((r) => [r.branch,
        h('a', { href: `#/productos/${encodeURIComponent(r.sku)}` }, r.name || r.sku), r.available, r.min_stock, r.reserved]), [2, 3, 4])
      : h('p', { class: 'muted' }, 'Todo con existencias suficientes.'));
}

function table(headers, rows, numeric) {
  const nums = new Set(numeric || []);
  return h('table', { class: 'responsive' },
    h('thead', {}, h('tr', {}, headers.map((t, i) => h('th', { class: nums.has(i) ? 'num' : null, scope: 'col' }, t)))),
    h('tbody', {}, rows.map((r) => h('tr', {}, r.map((cell, i) => h('td', {
      'data-label': headers[i], class: nums.has(i) ? 'num' : null,
    }, cell))))));
}

// ---- Pedidos ----

function query() {
  const q = location.hash.split('?')[1] || '';
  return new URLSearchParams(q);
}

async function ordersPage() {
  const params = query();
  const status = params.get('status') || '';
  const branch = params.get('branch') || '';
  const search = (params.get('q') || '').trim().toUpperCase();
  const body = h('div', {}, h('p', { class: 'loading' }, 'Cargando…'));
  const filters = h('form', { class: 'row', role: 'search' },
    h('label', {}, 'Estado', h('select', { name: 'status' },
      h('option', { value: '' }, 'Todos'),
      Object.entries(STATUS).map(([v, t]) => h('option', { value: v, selected: v === status }, t)))),
    h('label', {}, 'Sucursal', h('select', { name: 'branch' },
      h('option', { value: '' }, 'Todas'),
      S.branches.map((b) => h('option', { value: b.id, selected: b.id === branch }, b.name)))),
    h('label', {}, 'Número o teléfono', h('input', { name: 'q', value: search, inputmode: 'search' })),
    h('button', { type: 'submit' }, 'Filtrar'));
  filters.addEventListener('submit', (e) => {
    e.preventDefault();
    const d = new FormData(filters);
    const p = new URLSearchParams();
    for (const k of ['status', 'branch', 'q']) if (d.get(k)) p.set(k, d.get(k));
    location.hash = `#/pedidos?${p}`;
  });
  mount(frame('#/pedidos', h('h2', {}, 'Pedidos'), filters, body));
  const p = new URLSearchParams({ limit: '200' });
  if (status) p.set('status', status);
  if (branch) p.set('branch_id', branch);
  let list;
  try { list = (await api('GET', `/v1/orders?${p}`)).orders || []; } catch (e) { notice(body, e); return; }
  if (search) list = list.filter((o) => orderNumber(o.id).includes(search) || (o.wa_id || '').includes(search.replace(/\D/g, '') || '@'));
  if (!list.length) { body.replaceChildren(h('p', { class: 'muted' }, 'No hay pedidos con esos filtros.')); return; }
  body.replaceChildren(table(['Pedido', 'Fecha', 'Cliente', 'Sucursal', 'Estado', 'Total'],
    list.map((o) => [
      h('a', { href: `#/pedidos/${encodeURIComponent(o.id)}` }, orderNumber(o.id)),
      when(o.created_at, o.branch_id), o.customer_name ? `${o.customer_name} · ${phone(o.wa_id)}` : phone(o.wa_id),
      `${(branchOf(o.branch_id) || {}).name || ''}${(o.fulfilment || {}).kind === 'delivery' ? ' · 🛵' : ''}`,
      h('span', { class: `pill ${o.status}` }, STATUS[o.status] || o.status), money(o.total),
    ]), [5]));
}

async function orderPage(id) {
  const body = h('div', {}, h('p', { class: 'loading' }, 'Cargando…'));
  mount(frame('#/pedidos', h('p', {}, h('a', { href: '#/pedidos' }, '← Pedidos')), body));
  let order;
  try { order = await api('GET', `/v1/orders/${encodeURIComponent(id)}`); } catch (e) { notice(body, e); return; }
  const invoice = order.invoice || null;
  const status = h('div', { role: 'status' });
  const act = (label, fn, cls) => h('button', {
    type: 'button', class: cls || null,
    onclick: async (e) => {
      e.target.disabled = true;
      try { await fn(); ok(status, 'Listo.'); later(600, () => orderPage(id)); } catch (err) { notice(status, err); e.target.disabled = false; }
    },
  }, label);
  const actions = [];
  if (order.status === 'paid') {
    actions.push(act('Listo para recoger', () => api('POST', `/v1/orders/${id}/status`, { status: 'ready_for_pickup' })));
    actions.push(act('Enviado', () => api('POST', `/v1/orders/${id}/status`, { status: 'shipped' })));
  }
  if (order.status === 'ready_for_pickup' || order.status === 'shipped') {
    actions.push(act('Entregado', () => api('POST', `/v1/orders/${id}/status`, { status: 'delivered' })));
  }
  if (order.status === 'awaiting_payment') {
    actions.push(act('Cancelar pedido', () => {
      if (!confirm(`¿Cancelar el pedido ${orderNumber(id)}? Se libera el inventario apartado.`)) throw new Error('Sin cambios.');
      return api('POST', `/v1/orders/${id}/cancel`);
    }, 'danger'));
  }
  const refunds = order.refunds || [];
  const refunded = refunds.reduce((sum, r) => sum + r.amount, 0);
  const left = order.total - refunded;
  if (['paid', 'ready_for_pickup', 'shipped', 'delivered'].includes(order.status)) {
    actions.push(act(refunded ? `Reembolsar el resto (${money(left)})` : 'Reembolsar', () => {
      if (!confirm(`¿Reembolsar ${money(left)} del pedido ${orderNumber(id)}?`)) throw new Error('Sin cambios.');
      return api('POST', `/v1/orders/${id}/refund`);
    }, 'danger'));
    actions.push(h('button', { type: 'button', onclick: () => { partial.hidden = !partial.hidden; if (!partial.hidden) partial.querySelector('input').focus(); } }, 'Reembolsar una parte'));
    if (!invoice || invoice.status === 'cancelled') {
      actions.push(h('button', { type: 'button', onclick: () => { form.hidden = !form.hidden; if (!form.hidden) form.querySelector('input').focus(); } }, 'Facturar'));
    } else if (invoice.status === 'stamped' && !invoice.replaced_by) {
      // Other fiscal data for an invoiced sale: SAT's substitution (the new invoice relates the old
      // one, which is then cancelled with motivo 01).
      actions.push(h('button', { type: 'button', class: 'secondary', onclick: () => {
        form.hidden = !form.hidden;
        form.querySelector('h3').textContent = 'Corregir los datos fiscales: se emite una factura nueva que sustituye a la anterior';
        if (!form.hidden) form.querySelector('input').focus();
      } }, 'Corregir datos y sustituir la factura'));
    }
  }
  const branch = branchOf(order.branch_id) || {};
  const form = invoiceForm(id, status);
  form.hidden = true;
  const partial = partialRefundForm(order, left, status);
  partial.hidden = true;
  put(body,
    h('h2', {}, `Pedido ${orderNumber(order.id)} `, h('span', { class: `pill ${order.status}` }, STATUS[order.status] || order.status)),
    h('div', { class: 'cards' },
      h('div', { class: 'card' }, h('h3', {}, 'Cliente'), order.customer_name ? h('div', {}, h('strong', {}, order.customer_name)) : null, h('div', {}, phone(order.wa_id)),
        h('a', { href: `#/conversaciones/${encodeURIComponent(order.wa_id)}` }, 'Ver conversación')),
      h('div', { class: 'card' }, h('h3', {}, 'Sucursal'), h('div', {}, branch.name || order.branch_id),
        h('div', { class: 'sub' }, when(order.created_at, order.branch_id))),
      h('div', { class: 'card' }, h('h3', {}, 'Entrega'), ...fulfilmentOf(order)),
      h('div', { class: 'card' }, h('h3', {}, 'Pago'), h('div', { class: 'big' }, money(order.total)),
        order.payment_url && order.status === 'awaiting_payment' ? h('a', { href: order.payment_url, target: '_blank', rel: 'noopener' }, 'Liga de pago') : null),
      h('div', { class: 'card' }, h('h3', {}, 'Factura'),
        invoice ? h('div', {}, INVOICE_STATUS[invoice.status] || invoice.status,
          invoice.status === 'stamped' ? h('div', {},
            h('a', { href: `/v1/invoices/${encodeURIComponent(invoice.id)}/pdf` }, 'PDF'), ' · ',
            h('a', { href: `/v1/invoices/${encodeURIComponent(invoice.id)}/xml` }, 'XML')) : null,
          invoice.error ? h('div', { class: 'sub' }, invoice.error) : null)
          : h('div', { class: 'sub' }, 'Sin factura individual (entra en la global).'))),
    table(['Producto', 'Cantidad', 'Precio', 'Descuento', 'Importe'],
      order.lines.map((l) => [l.name, l.qty, money(l.unit), l.discount ? `-${money(l.discount)}` : '', money(l.amounts.total)]), [1, 2, 3, 4]),
    (order.promotions || []).length ? h('p', { class: 'muted', 'aria-label': 'Promociones' }, '🏷️ ',
      order.promotions.map((p) => `${p.name}${p.code ? ` (${p.code})` : ''}: -${money(p.discount)}`).join(' · ')) : null,
    h('p', { class: 'num' }, `Subtotal ${money(order.subtotal)} · IVA ${money(order.iva)} · `, h('strong', {}, `Total ${money(order.total)}`)),
    refunds.length ? h('section', { 'aria-label': 'Reembolsos' }, h('h3', {}, `Reembolsos (${money(refunded)})`),
      table(['#', 'Fecha', 'Qué', 'Monto'], refunds.map((r) => [
        r.number, when(r.at, order.branch_id),
        [(r.lines || []).map((l) => `${l.qty} × ${(order.lines.find((x) => x.sku === l.sku) || {}).name || l.sku}`).join(', '), r.reason].filter(Boolean).join(' · ') || 'Monto',
        money(r.amount),
      ]), [3])) : null,
    h('div', { class: 'row' }, actions), form, partial, status);
}

/** A refund of part of an order: an amount in pesos, or units of one product. */
function partialRefundForm(order, left, status) {
  const amount = h('input', { id: 'refund-amount', name: 'amount', inputmode: 'decimal', placeholder: '0.00' });
  const product = h('select', { id: 'refund-sku', name: 'sku' }, h('option', { value: '' }, 'Un monto (se reparte entre los productos)'),
    order.lines.map((l) => h('option', { value: l.sku }, `${l.name} (${l.qty})`)));
  const qty = h('input', { id: 'refund-qty', name: 'qty', type: 'number', min: '1', value: '1' });
  const reason = h('input', { id: 'refund-reason', name: 'reason', placeholder: 'Producto dañado, faltante…' });
  const byLine = () => product.value !== '';
  const sync = () => { amount.disabled = byLine(); qty.disabled = !byLine(); };
  product.addEventListener('change', sync);
  sync();
  return h('form', {
    class: 'stack', 'aria-label': 'Reembolsar una parte',
    onsubmit: async (e) => {
      e.preventDefault();
      const body = { reason: reason.value.trim() || undefined };
      if (byLine()) body.lines = [{ sku: product.value, qty: Number(qty.value) }];
      else {
        const pesos = Number(String(amount.value).replace(/[$,\s]/g, ''));
        if (!(pesos > 0)) { notice(status, 'Escribe el monto en pesos, por ejemplo 45.50.'); return; }
        body.amount = Math.round(pesos * 100);
      }
      try {
        await api('POST', `/v1/orders/${order.id}/refund`, body);
        ok(status, 'Reembolso hecho; el cliente recibe un aviso y, si tenía factura, su nota de crédito.');
        later(600, () => orderPage(order.id));
      } catch (err) { notice(status, err); }
    },
  },
  h('p', { class: 'muted' }, `Queda ${money(left)} por reembolsar.`),
  h('label', { for: 'refund-sku' }, 'Qué se devuelve'), product,
  h('label', { for: 'refund-amount' }, 'Monto en pesos'), amount,
  h('label', { for: 'refund-qty' }, 'Piezas'), qty,
  h('label', { for: 'refund-reason' }, 'Motivo (opcional)'), reason,
  h('button', { type: 'submit', class: 'danger' }, 'Reembolsar esta parte'));
}

// ---- Clientes ----

async function customersPage() {
  const q = query().get('q') || '';
  const body = h('div', {}, h('p', { class: 'loading' }, 'Cargando…'));
  const search = h('input', { id: 'customer-search', type: 'search', value: q, placeholder: 'Nombre o número' });
  const form = h('form', {
    class: 'row', role: 'search',
    onsubmit: (e) => { e.preventDefault(); location.hash = `#/clientes?q=${encodeURIComponent(search.value.trim())}`; },
  }, h('label', { for: 'customer-search' }, 'Buscar'), search, h('button', { type: 'submit' }, 'Buscar'));
  mount(frame('#/clientes', h('h2', {}, 'Clientes'), form, body));
  const p = new URLSearchParams({ limit: '100' });
  if (q) p.set('q', q);
  let list;
  try { list = (await api('GET', `/v1/customers?${p}`)).customers || []; } catch (e) { notice(body, e); return; }
  if (!list.length) { body.replaceChildren(h('p', { class: 'muted' }, q ? 'Nadie coincide con la búsqueda.' : 'Aún no hay clientes: aparecen cuando escriben por WhatsApp.')); return; }
  body.replaceChildren(table(['Cliente', 'Número', 'Sucursal', 'Último mensaje', 'Pedidos pagados', 'Compras'],
    list.map((c) => [
      h('a', { href: `#/clientes/${encodeURIComponent(c.wa_id)}` }, c.name || phone(c.wa_id)),
      phone(c.wa_id), c.branch || '', when(c.last_inbound_at, c.branch_id),
      c.orders_paid, money(c.spent),
    ]), [4, 5]));
}

async function customerPage(wa) {
  const body = h('div', {}, h('p', { class: 'loading' }, 'Cargando…'));
  mount(frame('#/clientes', h('p', {}, h('a', { href: '#/clientes' }, '← Clientes')), body));
  let c;
  try { c = await api('GET', `/v1/customers/${encodeURIComponent(wa)}`); } catch (e) { notice(body, e); return; }
  const owner = S.user && S.user.role === 'owner';
  const [consent, requests] = await Promise.all([
    api('GET', `/v1/customers/${encodeURIComponent(wa)}/consent`).catch(() => null),
    owner ? api('GET', '/v1/privacy/requests').catch(() => null) : Promise.resolve(null),
  ]);
  const status = h('div', { role: 'status' });
  const mine = ((requests && requests.items) || []).filter((r) => r.wa_id === wa);
  const consentNow = consent && consent.consent;
  const rename = h('form', {
    class: 'row', 'aria-label': 'Corregir el nombre',
    onsubmit: async (e) => {
      e.preventDefault();
      const name = e.target.querySelector('input').value.trim();
      if (!name) { notice(status, 'Escribe el nombre correcto.'); return; }
      try { await api('PATCH', `/v1/customers/${encodeURIComponent(wa)}`, { profile_name: name }); ok(status, 'Nombre corregido (queda registrada la solicitud de rectificación).'); later(600, () => customerPage(wa)); } catch (err) { notice(status, err); }
    },
  }, h('label', { for: 'customer-name' }, 'Nombre correcto'), h('input', { id: 'customer-name', value: c.name || '' }), h('button', { type: 'submit' }, 'Corregir'));
  const erase = h('button', {
    type: 'button', class: 'danger',
    onclick: async (e) => {
      if (!confirm(`¿Borrar los datos personales de ${c.name || phone(wa)}? Sus ventas y facturas se conservan sin su nombre, como exige el SAT. No se puede deshacer.`)) return;
      e.target.disabled = true;
      try {
        const done = await api('DELETE', `/v1/customers/${encodeURIComponent(wa)}`);
        body.replaceChildren(h('h2', {}, 'Datos borrados'), h('p', {}, `Se borraron ${done.deleted} registros; la solicitud queda atendida y registrada.`),
          h('ul', {}, (done.kept || []).map((k) => h('li', {}, `${k.count} ${KEPT[k.records] || k.records}: ${k.why}`))),
          h('p', {}, h('a', { href: '#/clientes' }, '← Clientes')));
      } catch (err) { notice(status, err); e.target.disabled = false; }
    },
  }, 'Borrar sus datos (cancelación)');
  const mayGroup = S.user && S.user.role !== 'staff';
  const groups = h('form', {
    class: 'row', 'aria-label': 'Grupos del cliente',
    onsubmit: async (e) => {
      e.preventDefault();
      const list = e.target.querySelector('input').value.split(',').map((g) => g.trim()).filter(Boolean);
      try {
        const saved = await api('PUT', `/v1/customers/${encodeURIComponent(wa)}/groups`, { groups: list });
        ok(status, saved.groups.length ? `Grupos guardados: ${saved.groups.join(', ')}. Sus promociones de grupo ya aplican en el chat.` : 'Ya no está en ningún grupo.');
      } catch (err) { notice(status, err); }
    },
  }, h('label', { for: 'customer-groups' }, 'Grupos (separados por comas: mayoreo, empleados)'),
  h('input', { id: 'customer-groups', value: (c.groups || []).join(', ') }), h('button', { type: 'submit' }, 'Guardar grupos'));
  put(body,
    h('h2', {}, c.name || phone(wa)),
    h('div', { class: 'cards' },
      h('div', { class: 'card' }, h('h3', {}, 'Contacto'), h('div', {}, phone(wa)), h('div', { class: 'sub' }, c.branch || ''),
        h('a', { href: `#/conversaciones/${encodeURIComponent(wa)}` }, 'Ver conversación')),
      h('div', { class: 'card' }, h('h3', {}, 'Compras'), h('div', { class: 'big' }, money(c.spent)), h('div', { class: 'sub' }, `${c.orders_paid} pedidos pagados`)),
      h('div', { class: 'card' }, h('h3', {}, 'Desde'), h('div', {}, when(c.first_seen_at, c.branch_id)), h('div', { class: 'sub' }, `Último mensaje: ${when(c.last_inbound_at, c.branch_id)}`)),
      h('div', { class: 'card' }, h('h3', {}, 'Avisos'), h('div', {}, c.opted_out ? 'Pidió no recibir mensajes' : (consentNow ? (consentNow.marketing ? 'Acepta avisos y promociones' : 'Acepta avisos de sus pedidos') : 'Sin consentimiento registrado')))),
    mayGroup ? groups : null,
    h('h3', {}, 'Pedidos'),
    (c.orders || []).length ? table(['Pedido', 'Fecha', 'Estado', 'Total', 'Reembolsado'], c.orders.map((o) => [
      h('a', { href: `#/pedidos/${encodeURIComponent(o.id)}` }, orderNumber(o.id)), when(o.created_at, o.branch_id),
      h('span', { class: `pill ${o.status}` }, STATUS[o.status] || o.status), money(o.total), o.refunded ? money(o.refunded) : '',
    ]), [3, 4]) : h('p', { class: 'muted' }, 'Sin pedidos.'),
    owner ? h('section', { 'aria-label': 'Protección de datos' },
      h('h3', {}, 'Protección de datos (LFPDPPP)'),
      h('p', {}, h('a', { href: `/v1/customers/${encodeURIComponent(wa)}/data?format=zip`, download: `datos-${wa}.zip` }, 'Descargar todos sus datos (acceso)')),
      rename,
      h('div', { class: 'row' }, erase),
      mine.length ? table(['Derecho', 'Recibida', 'Responder a más tardar', 'Estado'], mine.map((r) => [r.right, when(r.received_at), r.due_by, r.status])) : h('p', { class: 'muted' }, 'Sin solicitudes ARCO.')) : null,
    status);
}

/** How an order reaches the customer, with a map link for the driver. */
function fulfilmentOf(order) {
  const f = order.fulfilment || { kind: 'pickup' };
  if (f.kind !== 'delivery') return [h('div', {}, 'Recoge en la sucursal')];
  const query = f.latitude && f.longitude ? `${f.latitude},${f.longitude}` : f.address;
  return [
    h('div', {}, 'Envío a domicilio'),
    h('div', { class: 'sub' }, f.address),
    h('a', { href: `https://www.google.com/maps/search/?api=1&query=${encodeURIComponent(query)}`, target: '_blank', rel: 'noopener' }, 'Ver en el mapa'),
  ];
}

const REGIMENES = [
  ['616', 'Sin obligaciones fiscales'], ['605', 'Sueldos y salarios'], ['612', 'Actividades empresariales y profesionales'],
  ['626', 'Régimen Simplificado de Confianza (RESICO)'], ['606', 'Arrendamiento'], ['621', 'Incorporación fiscal'],
  ['625', 'Plataformas tecnológicas'], ['601', 'General de Ley Personas Morales'], ['603', 'Personas Morales sin fines de lucro'],
];
const USOS = [['G03', 'Gastos en general'], ['G01', 'Adquisición de mercancías'], ['D01', 'Honorarios médicos y gastos hospitalarios'], ['S01', 'Sin efectos fiscales']];

/** The invoice of an order: the customer's fiscal data as on their Constancia de Situación Fiscal. */
function invoiceForm(id, status) {
  const form = h('form', { class: 'stack card', style: 'max-width:520px;margin:.8rem 0' },
    h('h3', {}, 'Datos fiscales del cliente'),
    h('p', { class: 'muted' }, 'Como aparecen en su Constancia de Situación Fiscal.'),
    h('label', {}, 'RFC', h('input', { name: 'rfc', required: true, autocomplete: 'off', style: 'text-transform:uppercase' })),
    h('label', {}, 'Nombre o razón social (sin "S.A. de C.V.")', h('input', { name: 'nombre', required: true })),
    h('label', {}, 'Código postal fiscal', h('input', { name: 'codigo_postal', required: true, inputmode: 'numeric', maxlength: '5' })),
    h('label', {}, 'Régimen fiscal', h('select', { name: 'regimen_fiscal' }, REGIMENES.map(([v, t]) => h('option', { value: v }, `${v} · ${t}`)))),
    h('label', {}, 'Uso del CFDI', h('select', { name: 'uso_cfdi' }, USOS.map(([v, t]) => h('option', { value: v }, `${v} · ${t}`)))),
    h('fieldset', { class: 'stack', 'data-foreign': '', hidden: true },
      h('legend', {}, 'Cliente extranjero (RFC XEXX010101000)'),
      h('label', {}, 'País de residencia fiscal', h('input', { name: 'residencia_fiscal', placeholder: 'Estados Unidos, USA, Canadá…' })),
      h('label', {}, 'Número de identificación fiscal en su país (opcional)', h('input', { name: 'num_reg_id_trib', autocomplete: 'off', maxlength: '40' }))),
    h('div', { class: 'row' },
      h('button', { type: 'submit' }, 'Emitir factura'),
      h('button', { type: 'button', class: 'secondary', onclick: async () => {
        try { await api('POST', `/v1/orders/${encodeURIComponent(id)}/invoice`); ok(status, 'Factura en proceso con los datos guardados del cliente.'); later(1500, () => orderPage(id)); } catch (e) { notice(status, e); }
      } }, 'Usar los datos guardados del cliente')));
  // A generic RFC takes the branch's postal code; a foreign customer also gives a country.
  const rfcInput = form.querySelector('[name=rfc]');
  rfcInput.addEventListener('input', () => {
    const rfc = rfcInput.value.trim().toUpperCase();
    form.querySelector('[data-foreign]').hidden = rfc !== 'XEXX010101000';
    form.querySelector('[name=codigo_postal]').required = !['XAXX010101000', 'XEXX010101000'].includes(rfc);
  });
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    const d = new FormData(form);
    const data = {};
    for (const k of ['rfc', 'nombre', 'codigo_postal', 'regimen_fiscal', 'uso_cfdi']) data[k] = String(d.get(k) || '').trim();
    data.rfc = data.rfc.toUpperCase();
    if (data.rfc === 'XEXX010101000') {
      data.residencia_fiscal = String(d.get('residencia_fiscal') || '').trim();
      const num = String(d.get('num_reg_id_trib') || '').trim();
      if (num) data.num_reg_id_trib = num;
    }
    try {
      await api('POST', `/v1/orders/${encodeURIComponent(id)}/invoice`, data);
      ok(status, 'Factura en proceso: se timbra en unos segundos y le llega al cliente por WhatsApp.');
      later(1500, () => orderPage(id));
    } catch (err) { notice(status, err); }
  });
  return form;
}

// ---- Conversaciones ----

function textOf(message) {
  if (!message || typeof message !== 'object') return '';
  switch (message.type) {
    case 'text': return (message.text && message.text.body) || '';
    case 'interactive': {
      const i = message.interactive || {};
      if (i.button_reply) return i.button_reply.title;
      if (i.list_reply) return i.list_reply.title;
      const body = (i.body && i.body.text) || '';
      const buttons = ((i.action && i.action.buttons) || []).map((b) => `[${(b.reply || {}).title}]`).join(' ');
      return [body, buttons].filter(Boolean).join('\n');
    }
    case 'button': return (message.button && message.button.text) || '';
    case 'template': return `Plantilla: ${(message.template || {}).name || ''}`;
    case 'image': return '📷 Imagen';
    case 'audio': return '🎙️ Nota de voz';
    case 'document': return `📄 ${(message.document || {}).filename || 'Documento'}`;
    case 'location': return `📍 Ubicación ${(message.location || {}).address || ''}`;
    case 'sticker': return 'Sticker';
    case 'order': return '🛒 Pedido del catálogo';
    default: return `(${message.type || 'mensaje'})`;
  }
}

async function inboxPage() {
  const body = h('div', {}, h('p', { class: 'loading' }, 'Cargando…'));
  const enable = ('Notification' in window && Notification.permission === 'default')
    ? h('button', { type: 'button', class: 'secondary', onclick: () => Notification.requestPermission().then(() => render()) }, 'Activar avisos del navegador')
    : null;
  mount(frame('#/conversaciones', h('h2', {}, 'Clientes esperando a una persona'),
    h('p', { id: 'handoff-banner', class: 'muted', role: 'status' }), enable, body));
  let list;
  try { list = (await api('GET', '/v1/conversations')).conversations || []; } catch (e) { notice(body, e); return; }
  if (!list.length) { body.replaceChildren(h('p', { class: 'muted' }, 'Nadie espera por ahora. Cuando un cliente pida una persona aparecerá aquí con un sonido.')); return; }
  body.replaceChildren(h('div', { class: 'list' }, list.map((c) => h('a', {
    class: 'item', href: `#/conversaciones/${encodeURIComponent(c.wa_id)}`,
  }, h('strong', {}, c.name || phone(c.wa_id)),
  h('span', { class: 'muted' }, `${phone(c.wa_id)} · ${c.branch || 'sin sucursal'} · esperando desde ${when(c.since, c.branch_id)}`)))));
}

/** Staff notes on a conversation: the customer never sees them. */
async function notesBox(wa) {
  const list = h('div', { class: 'list' });
  const status = h('div', { role: 'status' });
  const show = (notes) => list.replaceChildren(...(notes.length ? notes.map((n) => h('div', { class: 'card note' },
    h('div', {}, n.text), h('div', { class: 'sub' }, `${n.author || ''} · ${when(n.at)}`))) : [h('p', { class: 'muted' }, 'Sin notas.')]));
  try { show((await api('GET', `/v1/conversations/${encodeURIComponent(wa)}/notes`)).notes || []); } catch (e) { notice(status, e); }
  const text = h('textarea', { name: 'note', rows: '2', maxlength: '2000' });
  const form = h('form', { class: 'stack', style: 'max-width:620px' },
    h('label', {}, 'Nueva nota', text), h('button', { type: 'submit', class: 'secondary' }, 'Guardar nota'), status);
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    try {
      await api('POST', `/v1/conversations/${encodeURIComponent(wa)}/notes`, { text: text.value });
      text.value = '';
      show((await api('GET', `/v1/conversations/${encodeURIComponent(wa)}/notes`)).notes || []);
    } catch (err) { notice(status, err); }
  });
  return h('section', { 'aria-label': 'Notas internas', style: 'margin-top:1rem' },
    h('h3', {}, 'Notas internas (el cliente no las ve)'), list, form);
}

/** Outside the 24-hour window only an approved template may be sent: pick one and fill its values. */
async function templateForm(wa, branchId) {
  const status = h('div', { role: 'status' });
  let templates = [];
  // Only what can go out: no media header, and approved in Meta when it went through Meta.
  const sendable = (t) => !t.header && (!Object.keys(t.meta || {}).length || (t.meta[t.language] || {}).status === 'approved');
  try { templates = ((await api('GET', '/v1/templates')).templates || []).filter(sendable); } catch (_) { templates = []; }
  if (!templates.length) {
    return h('p', { class: 'muted' }, 'No hay plantillas registradas: regístralas en Meta y con POST /v1/templates para escribir fuera de la ventana.');
  }
  const values = h('div', { class: 'stack' });
  const select = h('select', { name: 'template' }, templates.map((t) => h('option', { value: t.name }, `${t.name} (${t.category})`)));
  const branch = h('select', { name: 'branch' }, S.branches.filter((b) => b.phone_number_id).map((b) => h('option', { value: b.id, selected: b.id === branchId }, b.name)));
  const fill = () => {
    const t = templates.find((x) => x.name === select.value);
    values.replaceChildren(...(t ? t.body : []).map((p) => h('label', {}, `${p.name}`, h('input', { name: `p:${p.name}`, required: true }))));
  };
  select.addEventListener('change', fill);
  fill();
  const form = h('form', { class: 'stack card', style: 'max-width:620px' },
    h('h3', {}, 'Enviar una plantilla'),
    h('label', {}, 'Plantilla', select), h('label', {}, 'Desde la sucursal', branch), values,
    h('button', { type: 'submit' }, 'Enviar plantilla'), status);
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    const t = templates.find((x) => x.name === select.value);
    if (!t) return;
    const parameters = (t.body || []).map((p) => ({ type: 'text', text: String(form.querySelector(`[name="p:${p.name}"]`).value || '').trim() }));
    const message = { type: 'template', template: { name: t.name, language: { code: t.language || 'es_MX' }, components: parameters.length ? [{ type: 'body', parameters }] : [] } };
    try {
      await api('POST', '/v1/messages', { branch_id: branch.value, to: wa, category: t.category === 'marketing' ? 'marketing' : 'utility', message });
      ok(status, 'Plantilla enviada.');
      later(800, () => threadPage(wa));
    } catch (err) { notice(status, err); }
  });
  return form;
}

function windowLeft(lastInbound) {
  if (!lastInbound) return 0;
  return lastInbound + 24 * 3600 - Math.floor(Date.now() / 1000);
}

async function threadPage(wa) {
  const body = h('div', {}, h('p', { class: 'loading' }, 'Cargando…'));
  mount(frame('#/conversaciones', h('p', {}, h('a', { href: '#/conversaciones' }, '← Conversaciones')), body));
  let data;
  try { data = await api('GET', `/v1/conversations/${encodeURIComponent(wa)}/messages?limit=100`); } catch (e) { notice(body, e); return; }
  const messages = (data.messages || []).slice().reverse();
  const thread = h('div', { class: 'thread', role: 'log', 'aria-label': 'Conversación' },
    messages.map((m) => h('div', { class: `bubble ${m.direction === 'out' ? 'out' : 'in'}` },
      textOf(m.message), h('span', { class: 'meta' }, `${m.direction === 'out' ? 'Tienda' : 'Cliente'} · ${when(m.at, data.branch_id)}`))));
  const status = h('div', { role: 'status' });
  const left = windowLeft(data.last_inbound_at);
  const countdown = h('p', { class: `countdown${left <= 0 ? ' closed' : ''}` });
  const tick = () => {
    const s = windowLeft(data.last_inbound_at);
    if (s <= 0) { countdown.textContent = 'La ventana de 24 horas se cerró: solo puedes enviar una plantilla aprobada.'; countdown.className = 'countdown closed'; return; }
    const hh = Math.floor(s / 3600); const mm = Math.floor((s % 3600) / 60);
    countdown.textContent = `Puedes responder con texto libre ${hh} h ${mm} min más.`;
  };
  tick();
  const timer = setInterval(() => { if (!document.body.contains(countdown)) clearInterval(timer); else tick(); }, 30000);
  const chatSettings = await api('GET', '/v1/settings/chat').catch(() => ({}));
  const quick = (chatSettings.quick_replies || []).map((text) => h('button', {
    type: 'button', class: 'secondary', disabled: left <= 0,
    onclick: () => { const box = form.querySelector('textarea'); box.value = text; box.focus(); },
  }, text.length > 40 ? `${text.slice(0, 40)}…` : text));
  const form = h('form', { class: 'stack', style: 'max-width:none' },
    quick.length ? h('div', { class: 'row', 'aria-label': 'Respuestas rápidas' }, quick) : null,
    h('label', {}, 'Tu respuesta', h('textarea', { name: 'text', rows: '3', maxlength: '4096', required: true, disabled: left <= 0 })),
    h('div', { class: 'row' },
      h('button', { type: 'submit', disabled: left <= 0 || !data.branch_id }, 'Enviar'),
      data.handed_off ? h('button', { type: 'button', class: 'secondary', onclick: async () => {
        try { await api('POST', `/v1/conversations/${encodeURIComponent(wa)}/release`); ok(status, 'El asistente retoma la conversación.'); later(600, () => threadPage(wa)); } catch (e) { notice(status, e); }
      } }, 'Devolver al asistente') : null),
    status);
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    const text = String(new FormData(form).get('text') || '').trim();
    if (!text) return;
    try {
      await api('POST', '/v1/messages', { branch_id: data.branch_id, to: wa, category: 'service', message: { type: 'text', text: { body: text } } });
      form.reset(); ok(status, 'Enviado.');
      later(500, () => threadPage(wa));
    } catch (err) { notice(status, err); }
  });
  put(body,
    h('h2', {}, data.name || phone(wa), ' ', data.handed_off ? h('span', { class: 'pill awaiting_payment' }, 'Espera a una persona') : h('span', { class: 'pill' }, 'Con el asistente')),
    h('p', { class: 'muted' }, `${phone(wa)} · ${(branchOf(data.branch_id) || {}).name || ''}`),
    thread, countdown, form, left <= 0 ? await templateForm(wa, data.branch_id) : null, await notesBox(wa));
  thread.scrollTop = thread.scrollHeight;
}

// ---- Productos ----

const TAX = { iva16: 'IVA 16 %', iva8: 'IVA 8 % (frontera)', iva0: 'IVA 0 %', exempt: 'Exento' };

async function productsPage() {
  const params = query();
  const search = (params.get('q') || '').trim();
  const body = h('div', {}, h('p', { class: 'loading' }, 'Cargando…'));
  const canEdit = S.user.role !== 'staff';
  const box = h('input', { type: 'search', name: 'q', value: search, placeholder: 'Nombre o SKU', 'aria-label': 'Buscar producto' });
  const filter = h('form', { class: 'row', role: 'search' },
    h('label', {}, 'Buscar', box), h('button', { type: 'submit', class: 'secondary' }, 'Buscar'),
    canEdit ? h('a', { class: 'button', href: '#/nuevo-producto' }, 'Nuevo producto') : null);
  filter.addEventListener('submit', (e) => { e.preventDefault(); location.hash = `#/productos?q=${encodeURIComponent(box.value.trim())}`; });
  mount(frame('#/productos', h('h2', {}, 'Productos'), filter, body));
  let list;
  try { list = await allProducts(); } catch (e) { notice(body, e); return; }
  const fold = (t) => String(t || '').normalize('NFD').replace(/[\u0300-\u036f]/g, '').toLowerCase();
  const words = fold(search).split(/\s+/).filter(Boolean);
  const shown = list.filter((p) => words.every((w) => fold(`${p.name} ${p.sku} ${(p.categories || []).join(' ')}`).includes(w)));
  const rows = shown.map((p) => [
    h('a', { href: `#/productos/${encodeURIComponent(p.sku)}` }, p.name), p.sku, money(p.price), TAX[p.tax] || p.tax,
    p.clave_prod_serv, p.active === false ? h('span', { class: 'pill cancelled' }, 'Oculto') : h('span', { class: 'pill paid' }, 'A la venta'),
  ]);
  put(body,
    canEdit ? productImportBox() : null,
    h('p', { class: 'muted' }, search ? `${shown.length} de ${list.length} productos.` : `${list.length} productos.`),
    rows.length ? table(['Producto', 'SKU', 'Precio', 'IVA', 'Clave SAT', 'Estado'], rows, [2])
      : h('p', { class: 'muted' }, list.length ? 'Ningún producto coincide con la búsqueda.' : 'Aún no hay productos: crea el primero o importa tu catálogo.'));
}

/** Every product, page by page. */
async function allProducts() {
  const out = [];
  let cursor = null;
  do {
    const page = await api('GET', `/v1/products?limit=500${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`);
    out.push(...(page.products || []));
    cursor = page.cursor;
  } while (cursor);
  return out;
}

/**
 * A spreadsheet import (CSV in UTF-8 or Windows-1252, or .xlsx): the file is checked first with a
 * dry run and every row's fate shown — the problems, and what each valid row changes — before
 * anything applies; then all of it, or only the valid rows.
 */
function sheetImport({ summary, help, path, headers, numeric, row, applyLabel, done, reload }) {
  const result = h('div', { role: 'status' });
  const input = h('input', { type: 'file', name: 'file', accept: '.csv,.txt,.xlsx,.xls,.ods' });
  const check = async () => {
    const file = input.files && input.files[0];
    if (!file) { notice(result, 'Elige un archivo CSV o de Excel.'); return; }
    const bytes = await file.arrayBuffer();
    let checked;
    try { checked = await preview(`${path}?dry_run=true`, bytes); } catch (e) { notice(result, e); return; }
    const problems = checked.rejected || [];
    const changes = checked.changes || [];
    const apply = async (partial) => {
      try {
        const applied = await api('POST', `${path}${partial ? '?partial=true' : ''}`, bytes, true);
        ok(result, `Listo: ${applied.applied} ${done}${(applied.rejected || []).length ? `; ${applied.rejected.length} fila(s) sin aplicar` : ''}.`);
        later(900, reload);
      } catch (e) { notice(result, e); }
    };
    put(result,
      h('h3', {}, `Revisión: ${changes.length} fila(s) listas, ${problems.length} con problemas`),
      problems.length ? h('div', { class: 'msg error', role: 'alert' }, h('strong', {}, 'Filas con problemas (no se aplican):'),
        h('ul', {}, problems.map((p) => h('li', {}, `Fila ${p.row}${p.sku ? ` (${p.sku})` : ''}: ${p.errors.map((e) => e.reason).join('; ')}`)))) : null,
      changes.length ? table(headers, changes.map(row), numeric) : null,
      h('div', { class: 'row', style: 'margin-top:.6rem' },
        changes.length && !problems.length ? h('button', { type: 'button', onclick: () => apply(false) }, applyLabel) : null,
        changes.length && problems.length ? h('button', { type: 'button', onclick: () => apply(true) }, `Aplicar las ${changes.length} filas válidas`) : null));
  };
  return h('details', { class: 'card', style: 'margin-bottom:1rem' },
    h('summary', {}, summary),
    h('p', { class: 'muted' }, `${help} CSV en UTF-8 o como lo guarda Excel (Windows-1252), o un libro .xlsx.`),
    h('div', { class: 'row' }, h('label', {}, 'Archivo', input), h('button', { type: 'button', class: 'secondary', onclick: check }, 'Revisar archivo')),
    result);
}

/** Import of products from CSV or Excel. */
function productImportBox() {
  const ACTION = { create: 'Nuevo', update: 'Cambia', same: 'Sin cambios' };
  return sheetImport({
    summary: 'Importar productos desde CSV o Excel',
    help: 'Columnas: sku, name, price (pesos), tax (iva16, iva8, iva0, exento), clave_prod_serv, clave_unidad; opcionales: description, image_url, categories (separadas por |), active, min_stock.',
    path: '/v1/products/import',
    headers: ['Fila', 'SKU', 'Producto', 'Qué pasa', 'Precio ahora', 'Precio nuevo'],
    numeric: [0, 4, 5],
    row: (c) => [c.row, c.sku, c.name, ACTION[c.action] || c.action,
      c.price_before === null || c.price_before === undefined ? '—' : money(c.price_before), money(c.price)],
    applyLabel: 'Aplicar catálogo',
    done: 'producto(s) guardados',
    reload: () => productsPage(),
  });
}

/** The search over SAT's c_ClaveProdServ catalog that fills `clave` and shows its description. */
function satPicker(clave, described) {
  const results = h('div', { class: 'list', 'aria-live': 'polite' });
  const words = h('input', { type: 'search', name: 'sat_q', placeholder: 'vitaminas, paracetamol, pañales…', 'aria-label': 'Buscar en el catálogo del SAT' });
  let asked = 0;
  const describe = async () => {
    const code = clave.value.trim();
    if (!/^\d{8}$/.test(code)) { described.textContent = code ? 'La clave lleva 8 dígitos.' : ''; return; }
    try {
      const found = (await api('GET', `/v1/sat/claves-prod-serv?q=${code}&limit=1`)).results || [];
      described.textContent = found.length ? found[0].name : 'Esta clave no está en el catálogo vigente del SAT.';
    } catch (_) { described.textContent = ''; }
  };
  const search = async () => {
    const q = words.value.trim();
    const mine = ++asked;
    if (q.length < 2) { results.replaceChildren(); return; }
    let found;
    try { found = (await api('GET', `/v1/sat/claves-prod-serv?q=${encodeURIComponent(q)}&limit=12`)).results || []; } catch (e) { notice(results, e); return; }
    if (mine !== asked) return;
    results.replaceChildren(...(found.length ? found.map((c) => h('button', {
      type: 'button', class: 'secondary sat-option',
      onclick: () => { clave.value = c.code; described.textContent = c.name; results.replaceChildren(); words.value = ''; clave.focus(); },
    }, `${c.code} · ${c.name}`)) : [h('p', { class: 'muted' }, 'Sin resultados en el catálogo del SAT; prueba con otra palabra.')]));
  };
  let timer = null;
  words.addEventListener('input', () => { clearTimeout(timer); timer = setTimeout(search, 250); });
  words.addEventListener('keydown', (e) => { if (e.key === 'Enter') { e.preventDefault(); clearTimeout(timer); search(); } });
  clave.addEventListener('change', describe);
  describe();
  return h('div', { class: 'field' }, h('label', {}, 'Buscar la clave en el catálogo del SAT', words), results);
}

async function productPage(sku) {
  const creating = sku === null;
  const body = h('div', {}, h('p', { class: 'loading' }, 'Cargando…'));
  mount(frame('#/productos', h('p', {}, h('a', { href: '#/productos' }, '← Productos')),
    h('h2', {}, creating ? 'Nuevo producto' : 'Producto'), body));
  let product; let units;
  try {
    [product, units] = await Promise.all([
      creating ? Promise.resolve({ tax: 'iva16', clave_unidad: 'H87', active: true, categories: [] })
        : api('GET', `/v1/products/${encodeURIComponent(sku)}`),
      api('GET', '/v1/sat/claves-unidad'),
    ]);
  } catch (e) { notice(body, e); return; }
  const canEdit = S.user.role !== 'staff';
  const status = h('div', { role: 'status' });
  const input = (name, value, attrs) => h('input', { name, value: value === null || value === undefined ? '' : value, ...(attrs || {}) });
  const clave = input('clave_prod_serv', product.clave_prod_serv, { inputmode: 'numeric', pattern: '\\d{8}', maxlength: '8', required: true });
  const described = h('span', { class: 'muted', 'aria-live': 'polite' });
  const image = input('image_url', product.image_url, { type: 'url', placeholder: 'https://…', maxlength: '2000' });
  const photo = h('img', { alt: 'Vista previa de la imagen', referrerpolicy: 'no-referrer', style: 'max-width:160px;max-height:160px;display:none;border-radius:.4rem' });
  const showImage = () => {
    const url = image.value.trim();
    photo.style.display = url.startsWith('https://') ? 'block' : 'none';
    if (url.startsWith('https://')) photo.src = url; else photo.removeAttribute('src');
  };
  image.addEventListener('change', showImage);
  showImage();
  const form = h('form', { class: 'stack card', style: 'max-width:620px' },
    h('label', {}, 'SKU o código de barras', input('sku', product.sku, { required: true, maxlength: '64', readonly: !creating, pattern: '[A-Za-z0-9._\\-]{1,64}' })),
    h('label', {}, 'Nombre (como lo ve el cliente)', input('name', product.name, { required: true, maxlength: '120' })),
    h('label', {}, 'Descripción', h('textarea', { name: 'description', rows: '3', maxlength: '1000' }, product.description || '')),
    h('label', {}, 'Precio en pesos (con IVA)', input('price', pesos(product.price), { inputmode: 'decimal', required: true, placeholder: '45.50' })),
    h('label', {}, 'IVA', h('select', { name: 'tax' }, Object.entries(TAX).map(([v, t]) => h('option', { value: v, selected: product.tax === v }, t)))),
    h('label', {}, 'Clave de producto o servicio del SAT', clave), described,
    satPicker(clave, described),
    h('label', {}, 'Unidad del SAT', h('select', { name: 'clave_unidad' },
      (units.units || []).map((u) => h('option', { value: u.code, selected: product.clave_unidad === u.code }, `${u.name} (${u.code})`)))),
    h('label', {}, 'Imagen (dirección https)', image), photo,
    h('label', {}, 'Categorías (separadas por comas)', input('categories', (product.categories || []).join(', '), { placeholder: 'Analgésicos, Infantil' })),
    h('label', {}, 'Mínimo de inventario (avisa con esta cantidad o menos; 5 si lo dejas vacío)',
      input('min_stock', product.min_stock, { type: 'number', min: '0', step: '1', inputmode: 'numeric' })),
    h('label', { style: 'display:flex;gap:.5rem;align-items:center' },
      h('input', { type: 'checkbox', name: 'active', checked: product.active !== false, style: 'width:auto' }), 'A la venta en el chat y el catálogo de WhatsApp'),
    canEdit ? h('button', { type: 'submit' }, creating ? 'Crear producto' : 'Guardar producto')
      : h('p', { class: 'muted' }, 'Solo la dueña o un gerente cambian productos.'),
    status);
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    const v = new FormData(form);
    const price = centavos(v.get('price'));
    if (price === null || Number.isNaN(price) || price <= 0) { notice(status, 'Escribe el precio en pesos, por ejemplo 45 o 45.50.'); return; }
    const min = String(v.get('min_stock') || '').trim();
    const body = {
      sku: String(v.get('sku') || '').trim(), name: String(v.get('name') || '').trim(),
      description: String(v.get('description') || '').trim(), price, tax: v.get('tax'),
      clave_prod_serv: String(v.get('clave_prod_serv') || '').trim(), clave_unidad: v.get('clave_unidad'),
      image_url: String(v.get('image_url') || '').trim() || null,
      categories: String(v.get('categories') || '').split(',').map((c) => c.trim()).filter(Boolean),
      active: !!v.get('active'), min_stock: min === '' ? null : Number(min),
    };
    try {
      // A new product never replaces one with the same SKU (If-None-Match: *).
      await api('PUT', `/v1/products/${encodeURIComponent(body.sku)}`, body, false, creating ? { 'if-none-match': '*' } : null);
      if (creating) { location.hash = `#/productos/${encodeURIComponent(body.sku)}`; return; }
      ok(status, 'Producto guardado. El chat y el catálogo de WhatsApp ya lo muestran así.');
    } catch (err) { notice(status, err); }
  });
  put(body, form);
}

// ---- Inventario ----

async function stockPage() {
  const params = query();
  const branchId = params.get('branch') || (S.user.branch_id || (S.branches[0] || {}).id);
  const body = h('div', {}, h('p', { class: 'loading' }, 'Cargando…'));
  const picker = h('label', {}, 'Sucursal', h('select', {
    onchange: (e) => { location.hash = `#/catalogo?branch=${encodeURIComponent(e.target.value)}`; },
  }, S.branches.map((b) => h('option', { value: b.id, selected: b.id === branchId }, b.name))));
  mount(frame('#/catalogo', h('h2', {}, 'Inventario'), h('div', { class: 'row' }, picker), body));
  if (!branchId) { body.replaceChildren(h('p', { class: 'muted' }, 'No hay sucursales.')); return; }
  let products; let stock;
  try {
    [products, stock] = await Promise.all([
      allProducts(),
      api('GET', `/v1/branches/${encodeURIComponent(branchId)}/stock`),
    ]);
  } catch (e) { notice(body, e); return; }
  const bySku = new Map((stock.stock || []).map((s) => [s.sku, s]));
  const status = h('div', { role: 'status' });
  const rows = products.map((p) => {
    const s = bySku.get(p.sku) || { available: 0, reserved: 0 };
    const input = h('input', {
      class: 'qty', type: 'number', min: '0', step: '1', value: String(s.available + s.reserved),
      'aria-label': `Conteo de ${p.name}`,
    });
    const save = h('button', { type: 'button', class: 'secondary', onclick: async () => {
      const quantity = Number(input.value);
      if (!Number.isInteger(quantity) || quantity < 0) { notice(status, 'El conteo debe ser un número entero, 0 o más.'); return; }
      try {
        await api('PUT', `/v1/branches/${encodeURIComponent(branchId)}/stock`, [{ sku: p.sku, quantity }]);
        ok(status, `Guardado: ${p.name}, ${quantity} en anaquel.`);
      } catch (err) { notice(status, err); }
    } }, 'Guardar');
    const min = s.min_stock === undefined ? (p.min_stock === undefined || p.min_stock === null ? 5 : p.min_stock) : s.min_stock;
    return [h('a', { href: `#/productos/${encodeURIComponent(p.sku)}` }, p.name), p.sku, money(p.price), h('span', {}, input, ' ', save), s.reserved,
      h('span', {}, String(s.available), s.low ? h('span', { class: 'pill awaiting_payment', style: 'margin-left:.4rem' }, 'Poco') : null), min];
  });
  body.replaceChildren(importBox(branchId), status,
    table(['Producto', 'SKU', 'Precio', 'En anaquel', 'Apartado', 'Disponible', 'Mínimo'], rows, [2, 4, 5, 6]),
    h('p', { class: 'muted' }, 'El mínimo de cada producto se cambia en su ficha (Productos); con esa cantidad o menos aparece en «Poco inventario».'));
}

/** Import of a stock count from CSV or Excel. */
function importBox(branchId) {
  return sheetImport({
    summary: 'Importar un conteo desde CSV o Excel',
    help: 'Columnas: SKU (o código) y cantidad (o conteo, existencia).',
    path: `/v1/branches/${encodeURIComponent(branchId)}/stock/import`,
    headers: ['Fila', 'SKU', 'Producto', 'En anaquel ahora', 'Conteo nuevo'],
    numeric: [0, 3, 4],
    row: (c) => [c.row, c.sku, c.name || '', c.on_shelf_now, c.counted],
    applyLabel: 'Aplicar conteo',
    done: 'producto(s) actualizados',
    reload: () => stockPage(),
  });
}

// ---- Facturas ----

/** What the merchant does about an invoice that could not be stamped. */
function invoiceFix(i) {
  const why = String(i.error || '');
  const hint = /CSD|certificado|sello/i.test(why) ? 'Carga o renueva tu CSD en Configuración → Facturación y reintenta.'
    : /RFC|receptor|r[ée]gimen|c[óo]digo postal|nombre/i.test(why) ? 'Corrige los datos fiscales del cliente en el pedido («Facturar» o «Corregir datos») y reintenta.'
      : /clave|producto|unidad/i.test(why) ? 'Corrige la clave del SAT del producto en Productos y reintenta.'
        : /PAC|timbr|servicio|disponible/i.test(why) ? 'El servicio de timbrado no respondió; reintenta en unos minutos.'
          : 'Revisa el motivo y reintenta.';
  return h('div', {}, h('div', {}, why), h('div', { class: 'muted' }, hint));
}

async function invoicesPage() {
  const body = h('div', {}, h('p', { class: 'loading' }, 'Cargando…'));
  const status = h('div', { role: 'status' });
  const canManage = S.user.role !== 'staff';
  const month = h('input', { type: 'month', name: 'month', value: today().slice(0, 7), 'aria-label': 'Mes' });
  const exportResult = h('div', { role: 'status' });
  const exporter = canManage ? h('form', { class: 'row card', style: 'margin-bottom:1rem' },
    h('label', {}, 'Mes para tu contador (XML, PDF y resumen en un ZIP)', month),
    h('button', { type: 'submit', class: 'secondary' }, 'Preparar descarga'), exportResult) : null;
  if (exporter) {
    exporter.addEventListener('submit', async (e) => {
      e.preventDefault();
      try {
        const x = await api('GET', `/v1/invoices/export?month=${encodeURIComponent(month.value)}`);
        put(exportResult, h('p', { class: 'msg ok' }, `${x.invoices} factura(s), ${x.files} archivo(s). `,
          h('a', { href: x.url, download: `facturas-${x.month}.zip` }, 'Descargar ZIP'), ` (el enlace vence ${when(x.expires_at)}).`));
      } catch (err) { notice(exportResult, err); }
    });
  }
  mount(frame('#/facturas', h('h2', {}, 'Facturas'), exporter, status, body));
  let list;
  try { list = (await api('GET', '/v1/invoices?limit=200')).invoices || []; } catch (e) { notice(body, e); return; }
  if (!list.length) { body.replaceChildren(h('p', { class: 'muted' }, 'Aún no hay facturas.')); return; }
  const act = (label, run, cls) => h('button', { type: 'button', class: cls || 'secondary', onclick: async () => {
    try { const done = await run(); if (done === false) return; ok(status, 'Listo.'); later(1200, () => invoicesPage()); } catch (err) { notice(status, err); }
  } }, label);
  const cancelBox = (i) => {
    const motivo = h('select', { 'aria-label': `Motivo para cancelar ${i.serie || ''}${i.folio || ''}` },
      h('option', { value: '02' }, '02 · Con errores, sin relación (no se reemplaza)'),
      h('option', { value: '03' }, '03 · No se llevó a cabo la operación'),
      h('option', { value: '04' }, '04 · Operación nominativa en una factura global'));
    return h('span', { class: 'row', style: 'margin:0' }, motivo, act('Cancelar', () => {
      if (!confirm(`¿Cancelar ante el SAT la factura ${i.serie || ''}${i.folio || ''}? Para corregir datos del cliente usa «Corregir datos y sustituir» en el pedido.`)) return false;
      return api('POST', `/v1/invoices/${encodeURIComponent(i.id)}/cancel`, { motivo: motivo.value });
    }, 'danger'));
  };
  const actions = (i) => {
    if (!canManage) return '';
    if (i.status === 'stamped' && i.kind !== 'global' && !i.cancel_status) return cancelBox(i);
    if (['blocked', 'rejected'].includes(i.status) && i.kind === 'individual') {
      return act('Reintentar', () => api('POST', `/v1/invoices/${encodeURIComponent(i.id)}/retry`));
    }
    return i.cancel_status ? h('span', { class: 'muted' }, `Cancelación: ${i.cancel_status}`) : '';
  };
  body.replaceChildren(table(['Folio', 'Tipo', 'Estado', 'Receptor', 'Total', 'Archivos', 'Detalle', ''],
    list.map((i) => [
      `${i.serie || ''}${i.folio || ''}`, i.kind, h('span', { class: `pill ${i.status}` }, INVOICE_STATUS[i.status] || i.status),
      i.receptor_rfc || '', i.total ? `$${i.total}` : '',
      i.status === 'stamped' || i.status === 'cancelled' ? h('span', {}, h('a', { href: `/v1/invoices/${encodeURIComponent(i.id)}/pdf` }, 'PDF'), ' · ',
        h('a', { href: `/v1/invoices/${encodeURIComponent(i.id)}/xml` }, 'XML')) : '',
      ['blocked', 'rejected'].includes(i.status) && i.error ? invoiceFix(i)
        : h('span', {}, i.order_id ? h('a', { href: `#/pedidos/${encodeURIComponent(i.order_id)}` }, `Pedido ${orderNumber(i.order_id)}`) : '',
          i.replaces ? h('div', { class: 'muted' }, `Sustituye a ${i.replaces}`) : null, i.replaced_by ? h('div', { class: 'muted' }, `Sustituida por ${i.replaced_by}`) : null),
      actions(i),
    ])));
}

// ---- Promociones ----

const PROMO_STATUS = { running: 'Vigente', scheduled: 'Programada', paused: 'Pausada', ended: 'Terminada' };

/** What a promotion gives, as the customer reads it (`names`: product names by SKU). */
function promoText(p, names) {
  const b = p.benefit || {};
  const t = p.applies_to || {};
  const what = {
    percent_off: () => `${b.percent} % de descuento`,
    amount_off: () => (t.scope === 'order' ? `${money(b.amount)} de descuento` : `${money(b.amount)} menos por pieza`),
    take_pay: () => `${b.take}×${b.pay}`,
    volume: () => `${b.min_qty} o más a ${money(b.unit_price)} c/u`,
    free_delivery: () => (b.from ? `envío gratis desde ${money(b.from)}` : 'envío gratis'),
  }[b.kind];
  const skus = t.skus || [];
  const named = skus.slice(0, 3).map((sku) => (names && names.get(sku)) || sku).join(', ') + (skus.length > 3 ? ` y ${skus.length - 3} más` : '');
  const on = t.scope === 'category' ? ` en ${t.category}` : t.scope === 'products' ? ` en ${named}` : (b.kind === 'free_delivery' ? '' : ' en el pedido');
  return `${what ? what() : b.kind}${on}`;
}

function validity(p) {
  const day = (v) => new Intl.DateTimeFormat('es-MX', { dateStyle: 'medium', timeZone: zoneOf((S.branches[0] || {}).id) }).format(new Date(v));
  if (p.starts_at && p.ends_at) return `${day(p.starts_at)} – ${day(p.ends_at)}`;
  if (p.ends_at) return `hasta ${day(p.ends_at)}`;
  if (p.starts_at) return `desde ${day(p.starts_at)}`;
  return 'sin fecha de fin';
}

/** A datetime-local value (the person's local time) as RFC 3339, or null when empty. */
function instant(value) {
  if (!value) return null;
  const d = new Date(value);
  return Number.isNaN(d.getTime()) ? null : d.toISOString();
}

function promotionForm(products, status, done) {
  // A label tied to its control by id, so the control's name is the label alone.
  const field = (label, input) => h('div', { class: 'field' }, h('label', { for: input.id }, label), input);
  const kind = h('select', { name: 'kind', id: 'promo-kind' },
    h('option', { value: 'percent_off' }, 'Porcentaje de descuento'),
    h('option', { value: 'amount_off' }, 'Monto de descuento'),
    h('option', { value: 'take_pay' }, 'N×M (2×1, 3×2)'),
    h('option', { value: 'volume' }, 'Precio por volumen'),
    h('option', { value: 'free_delivery' }, 'Envío gratis'));
  const scope = h('select', { name: 'scope', id: 'promo-scope' },
    h('option', { value: 'products' }, 'Productos'),
    h('option', { value: 'category' }, 'Una categoría'),
    h('option', { value: 'order' }, 'Todo el pedido'));
  const categories = [...new Set(products.flatMap((p) => p.categories || []))].sort();
  const skus = h('select', { name: 'skus', id: 'promo-skus', multiple: true, size: '6' },
    products.map((p) => h('option', { value: p.sku }, `${p.name} · ${money(p.price)}`)));
  const category = h('select', { name: 'category', id: 'promo-category' }, categories.map((c) => h('option', { value: c }, c)));
  const inputs = {
    percent: h('input', { name: 'percent', id: 'promo-percent', type: 'number', min: '1', max: '99', value: '10' }),
    amount: h('input', { name: 'amount', id: 'promo-amount', inputmode: 'decimal', placeholder: '20.00' }),
    take: h('input', { name: 'take', id: 'promo-take', type: 'number', min: '2', max: '20', value: '2' }),
    pay: h('input', { name: 'pay', id: 'promo-pay', type: 'number', min: '1', value: '1' }),
    min_qty: h('input', { name: 'min_qty', id: 'promo-min-qty', type: 'number', min: '2', max: '99', value: '3' }),
    unit_price: h('input', { name: 'unit_price', id: 'promo-unit-price', inputmode: 'decimal', placeholder: '33.00' }),
    from: h('input', { name: 'from', id: 'promo-from', inputmode: 'decimal', placeholder: '300.00' }),
  };
  const groups = {
    percent_off: [field('Porcentaje (1 a 99)', inputs.percent)],
    amount_off: [field('Monto en pesos (por pieza; en todo el pedido, una vez)', inputs.amount)],
    take_pay: [field('Se lleva', inputs.take), field('Paga', inputs.pay)],
    volume: [field('Desde (piezas)', inputs.min_qty), field('Precio por pieza (pesos)', inputs.unit_price)],
    free_delivery: [field('Pedidos desde (pesos; 0: todos)', inputs.from)],
  };
  const benefitBox = h('div', { class: 'row' });
  const targetBox = h('div', {});
  const sync = () => {
    benefitBox.replaceChildren(...groups[kind.value]);
    if (kind.value === 'free_delivery') scope.value = 'order';
    if (['take_pay', 'volume'].includes(kind.value) && scope.value === 'order') scope.value = 'products';
    put(targetBox,
      scope.value === 'products' ? field('Productos (Ctrl o ⌘ para elegir varios)', skus) : null,
      scope.value === 'category' ? field('Categoría', category) : null);
  };
  kind.addEventListener('change', sync);
  scope.addEventListener('change', sync);
  sync();
  const name = h('input', { name: 'name', id: 'promo-name', maxlength: '60', required: true, placeholder: '2x1 en vitaminas' });
  const code = h('input', { name: 'code', id: 'promo-code', maxlength: '20', placeholder: 'BIENVENIDA (opcional)', autocapitalize: 'characters' });
  const starts = h('input', { name: 'starts_at', id: 'promo-starts', type: 'datetime-local' });
  const ends = h('input', { name: 'ends_at', id: 'promo-ends', type: 'datetime-local' });
  const total = h('input', { name: 'total_uses', id: 'promo-total', type: 'number', min: '1', placeholder: 'sin límite' });
  const perCustomer = h('input', { name: 'per_customer', id: 'promo-per-customer', type: 'number', min: '1', placeholder: 'sin límite' });
  const first = h('input', { type: 'checkbox', name: 'first_purchase_only', style: 'width:auto' });
  const exclusive = h('input', { type: 'checkbox', name: 'exclusive', style: 'width:auto' });
  const minOrder = h('input', { name: 'min_order', id: 'promo-min-order', inputmode: 'decimal', placeholder: 'opcional' });
  const forGroups = h('input', { name: 'customer_groups', id: 'promo-groups', placeholder: 'todos (o: mayoreo, empleados)' });
  const branches = S.branches.map((b) => h('label', { style: 'display:flex;gap:.4rem;align-items:center' },
    h('input', { type: 'checkbox', name: 'branch', value: b.id, style: 'width:auto' }), b.name));
  const form = h('form', { class: 'stack card', style: 'max-width:720px', 'aria-label': 'Nueva promoción' },
    h('h3', {}, 'Nueva promoción'),
    field('Nombre, como lo leerá el cliente', name),
    field('Tipo', kind), benefitBox,
    field('Aplica a', scope), targetBox,
    field('Código', code),
    h('div', { class: 'row' }, field('Empieza', starts), field('Termina', ends)),
    h('div', { class: 'row' }, field('Usos en total', total), field('Usos por cliente', perCustomer), field('Compra mínima (pesos)', minOrder)),
    field('Solo para grupos de clientes (separados por comas)', forGroups),
    h('label', { style: 'display:flex;gap:.5rem;align-items:center' }, first, 'Solo primera compra'),
    h('label', { style: 'display:flex;gap:.5rem;align-items:center' }, exclusive, 'Exclusiva (no se combina con otras)'),
    h('fieldset', {}, h('legend', {}, 'Sucursales (ninguna marcada: todas)'), ...branches),
    h('button', { type: 'submit' }, 'Crear promoción'));
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    const money100 = (input, label) => {
      const c = centavos(input.value);
      if (c === null || Number.isNaN(c)) throw new Error(`${label}: escribe pesos, por ejemplo 45 o 45.50.`);
      return c;
    };
    let body;
    try {
      const benefit = { kind: kind.value };
      if (kind.value === 'percent_off') benefit.percent = Number(inputs.percent.value);
      if (kind.value === 'amount_off') benefit.amount = money100(inputs.amount, 'Monto');
      if (kind.value === 'take_pay') { benefit.take = Number(inputs.take.value); benefit.pay = Number(inputs.pay.value); }
      if (kind.value === 'volume') { benefit.min_qty = Number(inputs.min_qty.value); benefit.unit_price = money100(inputs.unit_price, 'Precio por pieza'); }
      if (kind.value === 'free_delivery') benefit.from = inputs.from.value.trim() ? money100(inputs.from, 'Pedidos desde') : 0;
      const applies = { scope: scope.value };
      if (scope.value === 'products') applies.skus = [...skus.selectedOptions].map((o) => o.value);
      if (scope.value === 'category') applies.category = category.value;
      const limits = {};
      if (total.value) limits.total_uses = Number(total.value);
      if (perCustomer.value) limits.per_customer = Number(perCustomer.value);
      if (first.checked) limits.first_purchase_only = true;
      body = {
        name: name.value.trim(), benefit, applies_to: applies,
        branches: [...form.querySelectorAll('input[name=branch]:checked')].map((i) => i.value),
        starts_at: instant(starts.value), ends_at: instant(ends.value),
        code: code.value.trim() || null, limits, exclusive: exclusive.checked,
        min_order: minOrder.value.trim() ? money100(minOrder, 'Compra mínima') : null,
        customer_groups: forGroups.value.split(',').map((g) => g.trim()).filter(Boolean),
      };
    } catch (err) { notice(status, err); return; }
    try {
      const created = await api('POST', '/v1/promotions', body);
      ok(status, `Promoción «${created.name}» creada: ya aplica en el chat.`);
      done();
    } catch (err) { notice(status, err); }
  });
  return form;
}

async function promotionsPage() {
  const body = h('div', {}, h('p', { class: 'loading' }, 'Cargando…'));
  const status = h('div', { role: 'status' });
  mount(frame('#/promociones', h('h2', {}, 'Promociones'),
    h('p', {}, h('a', { href: '/v1/promotions/report?format=csv', download: 'promociones.csv' }, 'Descargar reporte CSV')), status, body));
  let list; let products;
  try {
    [list, products] = await Promise.all([api('GET', '/v1/promotions'), api('GET', '/v1/products?limit=1000')]);
  } catch (e) { notice(body, e); return; }
  const mayChange = S.user && S.user.role !== 'staff';
  const names = new Map((products.products || []).map((p) => [p.sku, p.name]));
  const rows = (list.promotions || []).map((p) => {
    const toggle = p.status === 'paused' ? 'resume' : 'pause';
    const action = mayChange && p.status !== 'ended' ? h('button', {
      type: 'button', class: 'secondary',
      onclick: async (e) => {
        e.target.disabled = true;
        try {
          await api('POST', `/v1/promotions/${encodeURIComponent(p.id)}/${toggle}`);
          ok(status, toggle === 'pause' ? `«${p.name}» pausada.` : `«${p.name}» reanudada.`);
          later(300, promotionsPage);
        } catch (err) { notice(status, err); e.target.disabled = false; }
      },
    }, toggle === 'pause' ? 'Pausar' : 'Reanudar') : '';
    const who = (p.customer_groups || []).length ? ` · solo ${p.customer_groups.join(', ')}` : '';
    return [p.name, promoText(p, names) + who, p.code || (p.issued_codes ? 'uno por cliente' : ''), validity(p), h('span', { class: `pill ${p.status}` }, PROMO_STATUS[p.status] || p.status),
      p.uses, p.paid_orders, money(p.revenue), money(p.discount_given), action];
  });
  const listing = rows.length
    ? table(['Promoción', 'Qué da', 'Código', 'Vigencia', 'Estado', 'Usos', 'Pagados', 'Ventas', 'Descuento', ''], rows, [5, 6, 7, 8])
    : h('p', { class: 'muted' }, 'Aún no hay promociones. Crea la primera: un 2×1, un código de bienvenida o envío gratis.');
  put(body, listing, mayChange ? promotionForm(products.products || [], status, () => later(300, promotionsPage)) : null);
}

// ---- Reportes ----

async function reportsPage() {
  const params = query();
  const days = ['7', '30', '90'].includes(params.get('dias')) ? Number(params.get('dias')) : 7;
  const staff = S.user.role === 'staff';
  const branchId = staff ? (S.user.branch_id || '') : (params.get('branch') || '');
  const to = today();
  const from = new Date(new Date(`${to}T12:00:00Z`).getTime() - (days - 1) * 86400000).toISOString().slice(0, 10);
  const q = `from=${from}&to=${to}${branchId ? `&branch_id=${encodeURIComponent(branchId)}` : ''}`;
  const go = (d, b) => { location.hash = `#/reportes?dias=${d}${b ? `&branch=${encodeURIComponent(b)}` : ''}`; };
  const filters = h('div', { class: 'row' },
    h('label', {}, 'Periodo', h('select', { onchange: (e) => go(e.target.value, branchId) },
      [7, 30, 90].map((d) => h('option', { value: d, selected: d === days }, `Últimos ${d} días`)))),
    staff ? null : h('label', {}, 'Sucursal', h('select', { onchange: (e) => go(days, e.target.value) },
      h('option', { value: '' }, 'Todas'), S.branches.map((b) => h('option', { value: b.id, selected: b.id === branchId }, b.name)))),
    h('a', { class: 'button secondary', href: `/v1/reports/commerce?${q}&format=csv`, download: `ventas-${from}-a-${to}.csv` }, 'Descargar CSV'));
  const body = h('div', {}, h('p', { class: 'loading' }, 'Cargando…'));
  mount(frame('#/reportes', h('h2', {}, 'Reportes'), filters, body));
  let report;
  try {
    [report] = await Promise.all([api('GET', `/v1/reports/commerce?${q}`), loadCharts()]);
  } catch (e) { notice(body, e); return; }
  const rows = report.rows || [];
  const sum = report.summary || {};
  const seconds = (s) => (s === null || s === undefined ? '—' : s < 90 ? `${s} s` : s < 5400 ? `${Math.round(s / 60)} min` : `${(s / 3600).toFixed(1)} h`);
  const pct = (x) => (x === null || x === undefined ? '—' : `${Math.round(x * 100)} %`);
  const card = (title, big, sub) => h('div', { class: 'card' }, h('h3', {}, title), h('div', { class: 'big' }, big), sub ? h('div', { class: 'sub' }, sub) : null);
  const dayList = [];
  for (let t = new Date(`${from}T12:00:00Z`).getTime(); t <= new Date(`${to}T12:00:00Z`).getTime(); t += 86400000) dayList.push(new Date(t).toISOString().slice(0, 10));
  const shortDay = (d) => new Intl.DateTimeFormat('es-MX', { day: 'numeric', month: 'short', timeZone: 'UTC' }).format(new Date(`${d}T12:00:00Z`));
  const branchNames = [...new Set(rows.map((r) => r.branch))];
  const colors = ['#0b6b4f', '#1a56db', '#b45309', '#7e22ce', '#be123c', '#0e7490', '#4d7c0f', '#57534e'];
  // Charts plot pesos (a display of the report's whole centavos), so an empty axis reads $0–$1.
  const pesosTick = (v) => money(Math.round(v * 100));
  const inPesos = (c) => (Number(c) || 0) / 100;
  const chartBox = (title, label, height, empty) => {
    const canvas = h('canvas', { role: 'img', 'aria-label': label });
    return [h('div', { class: 'card chart' }, h('h3', {}, title),
      empty ? h('p', { class: 'muted' }, empty) : null,
      h('div', { style: `position:relative;height:${height || 260}px` }, canvas)), canvas];
  };
  const METHODS = { card: 'Tarjeta', spei: 'SPEI', cash: 'Efectivo (OXXO)', codi: 'CoDi', unknown: 'Sin dato' };
  const methods = Object.entries(sum.payment_methods || {});
  const top = sum.top_products || [];
  const noSales = sum.revenue_centavos ? null : 'Sin ventas en el periodo.';
  const [salesCard, salesCanvas] = chartBox('Ventas por día y sucursal', 'Ventas por día', 260, noSales);
  const [mixCard, mixCanvas] = chartBox('Formas de pago', 'Formas de pago', 240, methods.length ? null : 'Sin pagos en el periodo.');
  const [funnelCard, funnelCanvas] = chartBox('De conversación a venta', 'De conversación a venta', 240);
  const [topCard, topCanvas] = chartBox('Productos más vendidos', 'Productos más vendidos', 300, top.length ? null : 'Sin ventas en el periodo.');
  const [responseCard, responseCanvas] = chartBox('Primera respuesta (mediana por día)', 'Primera respuesta por día', 220,
    rows.some((r) => r.median_first_response_seconds !== null && r.median_first_response_seconds !== undefined) ? null : 'Sin conversaciones respondidas en el periodo.');
  put(body,
    h('div', { class: 'cards' },
      card('Ventas', money(sum.revenue_centavos), `${sum.paid_orders || 0} pagado(s)${sum.refunded_orders ? `, ${sum.refunded_orders} reembolsado(s)` : ''}`),
      card('Ticket promedio', sum.average_ticket_centavos === null || sum.average_ticket_centavos === undefined ? '—' : money(sum.average_ticket_centavos)),
      card('Conversaciones que compraron', pct(sum.conversion_rate), `${sum.ordering_conversations || 0} de ${sum.conversations || 0} conversación(es)`),
      card('Primera respuesta', seconds(sum.median_first_response_seconds), 'mediana del periodo')),
    h('div', { class: 'charts' }, salesCard, mixCard, funnelCard, topCard, responseCard),
    h('h3', {}, 'Por día y sucursal'),
    rows.length
      ? table(['Día', 'Sucursal', 'Conversaciones', 'Pedidos', 'Pagados', 'Ventas', 'Ticket promedio'],
        rows.map((r) => [r.day, r.branch, r.conversations, r.orders, r.paid_orders, money(r.revenue_centavos),
          r.average_ticket_centavos === null || r.average_ticket_centavos === undefined ? '—' : money(r.average_ticket_centavos)]), [2, 3, 4, 5, 6])
      : h('p', { class: 'muted' }, 'Sin actividad en estos días.'),
    top.length ? h('h3', {}, 'Productos más vendidos') : null,
    top.length ? table(['Producto', 'Piezas', 'Ventas'], top.map((p) => [p.name, p.units, money(p.revenue_centavos)]), [1, 2]) : null);
  const Chart = window.Chart;
  const legend = { labels: { boxWidth: 12 } };
  new Chart(salesCanvas, {
    type: 'bar',
    data: {
      labels: dayList.map(shortDay),
      datasets: branchNames.map((name, i) => ({
        label: name, backgroundColor: colors[i % colors.length], stack: 'ventas',
        data: dayList.map((d) => inPesos(rows.filter((r) => r.day === d && r.branch === name).reduce((s, r) => s + r.revenue_centavos, 0))),
      })),
    },
    options: {
      maintainAspectRatio: false, animation: false,
      scales: { x: { stacked: true }, y: { stacked: true, beginAtZero: true, ticks: { callback: pesosTick, precision: 0 } } },
      plugins: { legend, tooltip: { callbacks: { label: (c) => `${c.dataset.label}: ${pesosTick(c.parsed.y)}` } } },
    },
  });
  new Chart(mixCanvas, {
    type: 'doughnut',
    data: {
      labels: methods.map(([m]) => METHODS[m] || m),
      datasets: [{ data: methods.map(([, v]) => v.revenue_centavos), backgroundColor: methods.map((_, i) => colors[i % colors.length]) }],
    },
    options: {
      maintainAspectRatio: false, animation: false,
      plugins: { legend, tooltip: { callbacks: { label: (c) => `${c.label}: ${money(c.parsed)} (${methods[c.dataIndex][1].orders} venta(s))` } } },
    },
  });
  new Chart(funnelCanvas, {
    type: 'bar',
    data: {
      labels: ['Conversaciones', 'Con pedido', 'Pedidos', 'Pagados'],
      datasets: [{ label: 'Cantidad', data: [sum.conversations || 0, sum.ordering_conversations || 0, sum.orders || 0, sum.paid_orders || 0], backgroundColor: colors[0] }],
    },
    options: { indexAxis: 'y', maintainAspectRatio: false, animation: false, plugins: { legend: { display: false } }, scales: { x: { beginAtZero: true, ticks: { precision: 0 } } } },
  });
  new Chart(topCanvas, {
    type: 'bar',
    data: { labels: top.map((p) => (p.name.length > 24 ? `${p.name.slice(0, 23)}…` : p.name)), datasets: [{ label: 'Ventas', data: top.map((p) => inPesos(p.revenue_centavos)), backgroundColor: colors[1] }] },
    options: {
      indexAxis: 'y', maintainAspectRatio: false, animation: false,
      scales: { x: { beginAtZero: true, ticks: { callback: pesosTick, precision: 0 } } },
      plugins: { legend: { display: false }, tooltip: { callbacks: { title: (c) => top[c[0].dataIndex].name, label: (c) => `${money(top[c.dataIndex].revenue_centavos)} · ${top[c.dataIndex].units} pieza(s)` } } },
    },
  });
  new Chart(responseCanvas, {
    type: 'line',
    data: {
      labels: dayList.map(shortDay),
      datasets: branchNames.map((name, i) => ({
        label: name, borderColor: colors[i % colors.length], backgroundColor: colors[i % colors.length], spanGaps: true,
        data: dayList.map((d) => { const r = rows.find((x) => x.day === d && x.branch === name); return r ? r.median_first_response_seconds : null; }),
      })),
    },
    options: {
      maintainAspectRatio: false, animation: false,
      scales: { y: { beginAtZero: true, ticks: { callback: (v) => (v < 90 ? `${v} s` : `${Number((v / 60).toFixed(1))} min`) } } },
      plugins: { legend, tooltip: { callbacks: { label: (c) => `${c.dataset.label}: ${seconds(c.parsed.y)}` } } },
    },
  });
  if (staff) return;
  let notes;
  try { notes = await api('GET', `/v1/reports/notifications?from=${from}&to=${to}`); } catch (_) { return; }
  const totals = notes.totals || [];
  const cost = (r) => `${r.estimated_cost} ${r.cost_currency}`;
  const [notesCard, notesCanvas] = chartBox('Embudo de notificaciones por plantilla', 'Embudo de notificaciones', 260);
  body.append(h('h3', {}, `Notificaciones (últimos ${days} días)`));
  if (!totals.length) { body.append(h('p', { class: 'muted' }, 'No se enviaron notificaciones en estos días.')); return; }
  body.append(notesCard,
    table(['Plantilla', 'Enviadas', 'Entregadas', 'Leídas', 'Clics', 'Conversiones', 'Costo estimado'],
      totals.map((r) => [r.template, r.sent, pct(r.delivery_rate), pct(r.read_rate), r.clicked, r.converted, cost(r)])
        .concat([[h('strong', {}, 'Total'), notes.overall.sent, pct(notes.overall.delivery_rate), pct(notes.overall.read_rate),
          notes.overall.clicked, notes.overall.converted, cost(notes.overall)]]), [1, 2, 3, 4, 5, 6]));
  const steps = [['sent', 'Enviadas'], ['delivered', 'Entregadas'], ['read', 'Leídas'], ['clicked', 'Clics'], ['converted', 'Conversiones']];
  new Chart(notesCanvas, {
    type: 'bar',
    data: {
      labels: totals.map((r) => r.template),
      datasets: steps.map(([k, label], i) => ({ label, data: totals.map((r) => r[k] || 0), backgroundColor: colors[i % colors.length] })),
    },
    options: { maintainAspectRatio: false, animation: false, plugins: { legend }, scales: { y: { beginAtZero: true, ticks: { precision: 0 } } } },
  });
}

/** Chart.js, served by the merchant API itself (no CDN), loaded the first time a report is shown. */
function loadCharts() {
  if (window.Chart) return Promise.resolve();
  if (!S.charts) {
    S.charts = new Promise((resolve, reject) => {
      const script = h('script', { src: '/panel/vendor/chart-4.6.2.umd.min.js' });
      script.addEventListener('load', () => resolve());
      script.addEventListener('error', () => { S.charts = null; reject(new Error('No se pudieron cargar las gráficas; recarga la página.')); });
      document.head.append(script);
    });
  }
  return S.charts;
}

// ---- Notificaciones ----

const FUNNEL_STEPS = [['sent', 'Enviadas'], ['delivered', 'Entregadas'], ['read', 'Leídas'], ['replied', 'Respondieron'], ['clicked', 'Clics'], ['converted', 'Conversiones']];
const NOTE_STATUS = { accepted: 'Aceptada', queued: 'En cola', sent: 'Enviada', delivered: 'Entregada', read: 'Leída', failed: 'Falló', refused: 'Rechazada', scheduled: 'Programada' };

/** Fintechs' notifications: the funnel per template or campaign, and the people behind each figure. */
async function notificationsPage() {
  const params = query();
  const days = ['7', '30', '90'].includes(params.get('dias')) ? Number(params.get('dias')) : 7;
  const by = params.get('por') === 'campaign' ? 'campaign' : 'template';
  const to = today();
  const from = new Date(new Date(`${to}T12:00:00Z`).getTime() - (days - 1) * 86400000).toISOString().slice(0, 10);
  const go = (d, b) => { location.hash = `#/notificaciones?dias=${d}&por=${b}`; };
  const filters = h('div', { class: 'row' },
    h('label', {}, 'Periodo', h('select', { onchange: (e) => go(e.target.value, by) },
      [7, 30, 90].map((d) => h('option', { value: d, selected: d === days }, `Últimos ${d} días`)))),
    h('label', {}, 'Agrupar por', h('select', { onchange: (e) => go(days, e.target.value) },
      h('option', { value: 'template', selected: by === 'template' }, 'Plantilla'),
      h('option', { value: 'campaign', selected: by === 'campaign' }, 'Campaña'))),
    h('a', { class: 'button secondary', href: `/v1/reports/notifications?from=${from}&to=${to}&group_by=${by}&format=csv`, download: `notificaciones-${from}-a-${to}.csv` }, 'Descargar CSV'));
  const body = h('div', {}, h('p', { class: 'loading' }, 'Cargando…'));
  const people = h('div', { id: 'destinatarios' });
  mount(frame('#/notificaciones', h('h2', {}, 'Notificaciones'), filters, body, people));
  let report;
  try { [report] = await Promise.all([api('GET', `/v1/reports/notifications?from=${from}&to=${to}&group_by=${by}`), loadCharts()]); } catch (e) { notice(body, e); return; }
  const totals = report.totals || [];
  const rows = report.rows || [];
  const name = (r) => r[by] || (by === 'campaign' ? '(sin campaña)' : '');
  if (!totals.length) { put(body, h('p', { class: 'muted' }, 'No se enviaron notificaciones en estos días.')); return; }
  const pct = (x) => (x === null || x === undefined ? '—' : `${Math.round(x * 100)} %`);
  const canvas = h('canvas', { role: 'img', 'aria-label': 'Embudo de notificaciones' });
  const o = report.overall || {};
  const card = (title, big, sub) => h('div', { class: 'card' }, h('h3', {}, title), h('div', { class: 'big' }, big), sub ? h('div', { class: 'sub' }, sub) : null);
  /** A figure that opens the recipients behind it (per template and day, as the API lists them). */
  const figure = (r, metric) => {
    const n = r[metric] || 0;
    if (by !== 'template' || !n || !r.day) return String(n);
    return h('button', { type: 'button', class: 'link', 'aria-label': `${n} ${metric} de ${r.template} el ${r.day}: ver destinatarios`,
      onclick: () => recipientsBox(people, r.template, r.day, metric) }, String(n));
  };
  put(body,
    h('div', { class: 'cards' },
      card('Enviadas', o.sent || 0, `${pct(o.delivery_rate)} entregadas · ${pct(o.read_rate)} leídas`),
      card('Respondieron', o.replied || 0, pct(o.reply_rate)),
      card('Clics', o.clicked || 0, pct(o.click_rate)),
      card('Conversiones', o.converted || 0, `${pct(o.conversion_rate)}${o.conversion_value_centavos ? ` · ${money(o.conversion_value_centavos)}` : ''}`),
      card('Costo estimado', `${o.estimated_cost} ${o.cost_currency}`, 'según las tarifas de Meta para México')),
    h('div', { class: 'card chart' }, h('h3', {}, by === 'template' ? 'Embudo por plantilla' : 'Embudo por campaña'),
      h('div', { style: 'position:relative;height:280px' }, canvas)),
    h('h3', {}, 'Por día'),
    by === 'template' ? h('p', { class: 'muted' }, 'Toca una cifra para ver quiénes están detrás.') : h('p', { class: 'muted' }, 'Para ver los destinatarios detrás de una cifra, agrupa por plantilla.'),
    table(['Día', by === 'template' ? 'Plantilla' : 'Campaña', ...FUNNEL_STEPS.map(([, t]) => t), 'Rechazadas', 'Fallidas'],
      rows.map((r) => [r.day, name(r), ...FUNNEL_STEPS.map(([k]) => figure(r, k)), figure(r, 'refused'), figure(r, 'failed')]), [2, 3, 4, 5, 6, 7, 8, 9]),
    h('h3', {}, 'En el periodo'),
    table([by === 'template' ? 'Plantilla' : 'Campaña', 'Enviadas', 'Entregadas', 'Leídas', 'Clics', 'Conversiones', 'Costo estimado'],
      totals.map((r) => [name(r), r.sent, pct(r.delivery_rate), pct(r.read_rate), r.clicked, r.converted, `${r.estimated_cost} ${r.cost_currency}`]), [1, 2, 3, 4, 5, 6]));
  const colors = ['#0b6b4f', '#1a56db', '#b45309', '#7e22ce', '#be123c', '#0e7490'];
  new window.Chart(canvas, {
    type: 'bar',
    data: {
      labels: totals.map(name),
      datasets: FUNNEL_STEPS.map(([k, label], i) => ({ label, data: totals.map((r) => r[k] || 0), backgroundColor: colors[i % colors.length] })),
    },
    options: { maintainAspectRatio: false, animation: false, plugins: { legend: { labels: { boxWidth: 12 } } }, scales: { y: { beginAtZero: true, ticks: { precision: 0 } } } },
  });
}

async function recipientsBox(target, template, day, metric) {
  const label = (FUNNEL_STEPS.find(([k]) => k === metric) || [metric, metric])[1].toLowerCase();
  const base = `/v1/reports/notifications/recipients?template=${encodeURIComponent(template)}&day=${day}&metric=${metric}`;
  put(target, h('p', { class: 'loading' }, 'Cargando…'));
  let page;
  try { page = await api('GET', `${base}&limit=200`); } catch (e) { notice(target, e); return; }
  const list = page.recipients || [];
  put(target,
    h('h3', { tabindex: '-1' }, `Destinatarios: ${template}, ${day}, ${label} (${list.length}${page.cursor ? '+' : ''})`),
    h('p', {}, h('a', { href: `${base}&format=csv`, download: `destinatarios-${template}-${day}-${metric}.csv` }, 'Descargar CSV de todos')),
    list.length
      ? table(['Número', 'Campaña', 'Estado', 'Error', 'Enviada', 'Leída'], list.map((r) => [
        phone(r.to), r.campaign || '—', NOTE_STATUS[r.status] || r.status || '', r.error ? (r.error.title || r.error.reason || r.error.code || '') : '',
        when((r.timeline || {}).sent_at), when((r.timeline || {}).read_at)]))
      : h('p', { class: 'muted' }, 'Nadie en esta cifra.'));
  const heading = target.querySelector('h3');
  if (heading) { heading.focus(); heading.scrollIntoView({ block: 'start' }); }
}

// ---- Plantillas ----

const META_STATUS = {
  pending: 'En revisión', approved: 'Aprobada', rejected: 'Rechazada', paused: 'Pausada', disabled: 'Desactivada',
  in_appeal: 'En apelación', pending_deletion: 'Por borrarse', flagged: 'Señalada', limit_exceeded: 'Límite excedido',
};
const QUALITY = { GREEN: 'alta', YELLOW: 'media', RED: 'baja', UNKNOWN: 'sin calificar' };
const CATEGORY = { utility: 'Servicio', marketing: 'Marketing', authentication: 'Autenticación' };

/** What Meta says about each language of a template, as pills. */
function metaPills(t) {
  const meta = t.meta || {};
  const languages = [t.language].concat((t.translations || []).map((x) => x.language));
  return h('div', { class: 'stack' }, languages.map((l) => {
    const m = meta[l];
    if (!m) {
      return h('span', {}, `${l}: `, h('span', { class: 'pill' }, Object.keys(meta).length ? 'Sin enviar a Meta' : 'Registrada aquí'));
    }
    const why = m.reason ? ` (${m.reason})` : '';
    const quality = m.quality ? ` · calidad ${QUALITY[m.quality] || m.quality}` : '';
    return h('span', {}, `${l}: `, h('span', { class: `pill meta-${m.status}` }, META_STATUS[m.status] || m.status), `${why}${quality}`);
  }));
}

async function templatesPage() {
  const body = h('div', {}, h('p', { class: 'loading' }, 'Cargando…'));
  const status = h('div', { role: 'status' });
  const importButton = h('button', {
    type: 'button', class: 'secondary',
    onclick: async (e) => {
      e.target.disabled = true;
      try {
        const r = await api('POST', '/v1/templates/import');
        ok(status, `Importadas de Meta: ${r.created.length} nuevas, ${r.updated.length} actualizadas${r.skipped.length ? `, ${r.skipped.length} sin importar` : ''}.`);
        later(300, templatesPage);
      } catch (err) { notice(status, err); e.target.disabled = false; }
    },
  }, 'Importar de Meta');
  mount(frame('#/plantillas', h('h2', {}, 'Plantillas'),
    h('p', { class: 'muted' }, 'Los mensajes que se envían fuera de la ventana de 24 horas. Meta revisa cada idioma; solo las aprobadas se envían.'),
    h('div', { class: 'row' }, importButton), status, body));
  let list;
  try { list = (await api('GET', '/v1/templates')).templates || []; } catch (e) { notice(body, e); return; }
  if (!list.length) {
    put(body, h('p', { class: 'muted' }, 'Aún no hay plantillas. Impórtalas de tu cuenta de WhatsApp Business o regístralas con POST /v1/templates.'));
    return;
  }
  const rows = list.map((t) => {
    const meta = t.meta || {};
    const languages = [t.language].concat((t.translations || []).map((x) => x.language));
    const due = languages.some((l) => !meta[l] || meta[l].status === 'rejected');
    const submit = due && t.text ? h('button', {
      type: 'button', class: 'secondary',
      onclick: async (e) => {
        e.target.disabled = true;
        try {
          await api('POST', `/v1/templates/${encodeURIComponent(t.name)}/submit`);
          ok(status, `«${t.name}» enviada a revisión de Meta.`);
          later(300, templatesPage);
        } catch (err) { notice(status, err); e.target.disabled = false; }
      },
    }, 'Enviar a revisión') : '';
    return [t.name, CATEGORY[t.category] || t.category, t.text || h('span', { class: 'muted' }, '—'), metaPills(t), submit];
  });
  put(body, table(['Plantilla', 'Categoría', 'Texto', 'Estado en Meta', ''], rows, []));
}

// ---- Equipo y cuenta ----

async function staffPage() {
  const body = h('div', {}, h('p', { class: 'loading' }, 'Cargando…'));
  const status = h('div', { role: 'status' });
  const form = h('form', { class: 'stack' },
    h('label', {}, 'Correo', h('input', { name: 'email', type: 'email', required: true })),
    h('label', {}, 'Nombre', h('input', { name: 'name' })),
    h('label', {}, 'Rol', h('select', { name: 'role' },
      h('option', { value: 'manager' }, 'Encargado (todas las sucursales)'),
      h('option', { value: 'staff' }, 'Mostrador (una sucursal)'))),
    h('label', {}, 'Sucursal (para mostrador)', h('select', { name: 'branch_id' },
      h('option', { value: '' }, '—'), S.branches.map((b) => h('option', { value: b.id }, b.name)))),
    h('button', { type: 'submit' }, 'Crear invitación'), status);
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    const d = new FormData(form);
    try {
      const r = await api('POST', '/v1/staff', {
        email: d.get('email'), name: d.get('name') || '', role: d.get('role'), branch_id: d.get('branch_id') || null,
      });
      status.replaceChildren(h('p', { class: 'msg ok' }, 'Comparte esta liga (vale 7 días): ', h('code', {}, r.invitation_url)));
    } catch (err) { notice(status, err); }
  });
  mount(frame('#/equipo', h('h2', {}, 'Equipo'), body, h('h3', {}, 'Invitar a alguien'), form));
  try {
    const list = (await api('GET', '/v1/staff')).staff || [];
    body.replaceChildren(table(['Nombre', 'Correo', 'Rol', 'Sucursal'],
      list.map((m) => [m.name, m.email, m.role_label, (branchOf(m.branch_id) || {}).name || 'Todas'])));
  } catch (e) { notice(body, e); }
}

function accountPage() {
  const status = h('div', { role: 'status' });
  const form = h('form', { class: 'stack' },
    h('label', {}, 'Contraseña actual', h('input', { name: 'current', type: 'password', autocomplete: 'current-password', required: true })),
    h('label', {}, 'Nueva contraseña (10 caracteres o más)', h('input', { name: 'new', type: 'password', autocomplete: 'new-password', minlength: '10', required: true })),
    h('button', { type: 'submit' }, 'Cambiar contraseña'), status);
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    const d = new FormData(form);
    try {
      const session = await api('PUT', '/v1/me/password', { current_password: d.get('current'), new_password: d.get('new') });
      S.csrf = session.csrf_token; form.reset(); ok(status, 'Contraseña cambiada. Las demás sesiones se cerraron.');
    } catch (err) { notice(status, err); }
  });
  mount(frame('#/cuenta', h('h2', {}, 'Mi cuenta'),
    h('p', {}, `${S.user.name} · ${S.user.email} · ${S.user.role_label}`), form,
    h('h3', { style: 'margin-top:1.5rem' }, 'Verificación en dos pasos'), twoFactorBox(),
    h('h3', { style: 'margin-top:1.5rem' }, 'Sesiones'),
    h('button', { type: 'button', class: 'secondary', onclick: async () => {
      try { await api('POST', '/v1/session/everywhere'); } catch (_) { /* signed out */ }
      S.user = null; S.csrf = null; stopPolling(); render();
    } }, 'Cerrar sesión en todos los dispositivos')));
}

/** The optional second factor: a code from an authenticator app after the password. */
function twoFactorBox() {
  const box = h('div', { class: 'stack', style: 'max-width:520px' });
  const status = h('div', { role: 'status' });
  const codeInput = (label) => h('label', {}, label, h('input', { name: 'code', inputmode: 'numeric', autocomplete: 'one-time-code', maxlength: '6', required: true }));
  const draw = () => {
    if (S.user.two_factor) {
      const off = h('form', { class: 'stack' }, codeInput('Código actual de tu app, para desactivarla'),
        h('button', { type: 'submit', class: 'secondary' }, 'Desactivar la verificación en dos pasos'));
      off.addEventListener('submit', async (e) => {
        e.preventDefault();
        try {
          S.user = await api('POST', '/v1/me/two-factor/disable', { code: String(new FormData(off).get('code') || '').trim() });
          draw(); ok(status, 'Verificación en dos pasos desactivada.');
        } catch (err) { notice(status, err); }
      });
      put(box, h('p', {}, h('span', { class: 'pill paid' }, 'Activada'), ' Al entrar se pide también un código de tu app.'), off, status);
      return;
    }
    const begin = h('button', { type: 'button', onclick: async () => {
      let enrollment;
      try { enrollment = await api('POST', '/v1/me/two-factor'); } catch (err) { notice(status, err); return; }
      const confirm = h('form', { class: 'stack' }, codeInput('Código que muestra tu app'), h('button', { type: 'submit' }, 'Activar'));
      confirm.addEventListener('submit', async (e) => {
        e.preventDefault();
        try {
          const session = await api('POST', '/v1/me/two-factor/confirm', { code: String(new FormData(confirm).get('code') || '').trim() });
          S.user = session.user; S.csrf = session.csrf_token;
          draw(); ok(status, 'Verificación en dos pasos activada. Las demás sesiones se cerraron.');
        } catch (err) { notice(status, err); }
      });
      put(box,
        h('p', {}, 'Escanea el código con tu app de autenticación (Google Authenticator, Microsoft Authenticator, 1Password…), o en este teléfono ',
          h('a', { href: enrollment.otpauth_url }, 'ábrela aquí'), '.'),
        h('img', { src: `data:image/svg+xml;base64,${btoa(enrollment.qr_svg)}`, alt: 'Código QR para tu app de autenticación', width: '200', height: '200' }),
        h('p', {}, 'O escribe esta clave en la app: ', h('code', { class: 'secret' }, enrollment.secret)),
        confirm, status);
      confirm.querySelector('input').focus();
    } }, 'Activar la verificación en dos pasos');
    put(box, h('p', { class: 'muted' }, 'Además de tu contraseña, al entrar se pide un código de 6 dígitos de una app en tu teléfono.'), begin, status);
  };
  draw();
  return box;
}

async function paymentsPage() {
  const body = h('div', {}, h('p', { class: 'loading' }, 'Cargando…'));
  mount(frame('#/hoy', h('h2', {}, 'Pagos por revisar'), body));
  try {
    const list = (await api('GET', '/v1/payments/issues')).issues || [];
    body.replaceChildren(list.length ? table(['Proveedor', 'Motivo', 'Pedido', 'Cuándo'],
      list.map((i) => [i.provider || '', i.reason || i.kind || '', i.order_id ? orderNumber(i.order_id) : '', when(i.at || i.created_at)]))
      : h('p', { class: 'muted' }, 'Nada por revisar.'));
  } catch (e) { notice(body, e); }
}

// ---- Configuración ----

/** Centavos from what a person types as pesos ("45", "45.5", "1,250.00"); null when it is not money. */
function centavos(text) {
  const t = String(text || '').trim().replace(/,/g, '');
  if (!t) return null;
  const m = /^(\d{1,7})(?:\.(\d{1,2}))?$/.exec(t);
  if (!m) return NaN;
  return Number(m[1]) * 100 + Number((m[2] || '0').padEnd(2, '0'));
}

const pesos = (c) => (c === null || c === undefined ? '' : (Number(c) / 100).toFixed(2));

function branchForm(branch) {
  const d = branch.delivery || null;
  const status = h('div', { role: 'status' });
  const field = (label, name, value, attrs) => h('label', {}, label, h('input', { name, value: value || '', ...(attrs || {}) }));
  const form = h('form', { class: 'stack card', style: 'max-width:620px;margin-bottom:1rem' },
    h('h3', {}, `Sucursal ${branch.name}`),
    field('Número de WhatsApp de la sucursal (phone_number_id de Meta)', 'phone_number_id', branch.phone_number_id, { inputmode: 'numeric', maxlength: '32' }),
    field('Dirección', 'address', branch.address, { maxlength: '300' }),
    field('Horario', 'hours', branch.hours, { maxlength: '200', placeholder: 'Lun a sáb 8:00–22:00, dom 9:00–15:00' }),
    h('label', { style: 'display:flex;gap:.5rem;align-items:center;font-weight:600' },
      h('input', { type: 'checkbox', name: 'delivers', checked: !!d, style: 'width:auto' }), 'Hace envíos a domicilio'),
    field('Costo del envío (pesos)', 'fee', d ? pesos(d.fee) : '', { inputmode: 'decimal' }),
    field('Envío gratis desde (pesos, opcional)', 'free_from', d && d.free_from ? pesos(d.free_from) : '', { inputmode: 'decimal' }),
    field('Zona de entrega', 'zone', d ? d.zone : '', { maxlength: '200' }),
    field('Códigos postales (separados por comas; vacío: cualquiera)', 'postal_codes', d ? (d.postal_codes || []).join(', ') : ''),
    field('Tiempo de llegada', 'eta', d ? d.eta : '', { maxlength: '100', placeholder: 'llega en 30 a 60 minutos' }),
    h('button', { type: 'submit' }, 'Guardar sucursal'), status);
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    const v = new FormData(form);
    let delivery = null;
    if (v.get('delivers')) {
      const fee = centavos(v.get('fee'));
      const free = centavos(v.get('free_from'));
      if (fee === null || Number.isNaN(fee) || Number.isNaN(free)) { notice(status, 'Escribe los montos en pesos, por ejemplo 45 o 45.50.'); return; }
      delivery = {
        fee, free_from: free, zone: String(v.get('zone') || '').trim(), eta: String(v.get('eta') || '').trim(),
        postal_codes: String(v.get('postal_codes') || '').split(/[\s,]+/).filter(Boolean),
      };
    }
    try {
      const saved = await api('PUT', `/v1/branches/${encodeURIComponent(branch.id)}`, {
        name: branch.name, phone_number_id: String(v.get('phone_number_id') || '').trim() || null, postal_code: branch.postal_code,
        timezone: branch.timezone, address: String(v.get('address') || '').trim(), hours: String(v.get('hours') || '').trim(), delivery,
      });
      S.branches = S.branches.map((b) => (b.id === saved.id ? saved : b));
      ok(status, 'Sucursal guardada. El asistente ya responde con estos datos.');
    } catch (err) { notice(status, err); }
  });
  return form;
}

function chatForm(settings) {
  const status = h('div', { role: 'status' });
  const rows = h('div', { class: 'list' });
  const faqRow = (faq) => {
    const row = h('div', { class: 'card faq' },
      h('label', {}, 'Pregunta', h('input', { name: 'question', value: faq.question || '', maxlength: '200' })),
      h('label', {}, 'Respuesta', h('textarea', { name: 'answer', rows: '2', maxlength: '4096' }, faq.answer || '')),
      h('label', {}, 'Palabras clave (separadas por comas)', h('input', { name: 'keywords', value: (faq.keywords || []).join(', ') })),
      h('button', { type: 'button', class: 'secondary', onclick: () => row.remove() }, 'Quitar'));
    row.dataset.branches = JSON.stringify(faq.branches || []);
    return row;
  };
  for (const faq of settings.faqs || []) rows.append(faqRow(faq));
  const quick = h('textarea', { name: 'quick_replies', rows: '4' }, (settings.quick_replies || []).join('\n'));
  const synonyms = h('textarea', { name: 'synonyms', rows: '4' },
    (settings.synonyms || []).map((g) => g.join(', ')).join('\n'));
  const form = h('form', { class: 'stack', style: 'max-width:720px' },
    h('h3', {}, 'Preguntas frecuentes'),
    rows,
    h('button', { type: 'button', class: 'secondary', onclick: () => rows.append(faqRow({})) }, 'Agregar pregunta'),
    h('label', {}, 'Nombres que usan tus clientes (un grupo por línea: "tylenol, tempra, paracetamol")', synonyms),
    h('label', {}, 'Respuestas rápidas del equipo (una por línea)', quick),
    h('button', { type: 'submit' }, 'Guardar asistente'), status);
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    const faqs = [...rows.querySelectorAll('.faq')].map((r) => ({
      question: r.querySelector('[name=question]').value.trim(),
      answer: r.querySelector('[name=answer]').value.trim(),
      keywords: r.querySelector('[name=keywords]').value.split(',').map((k) => k.trim()).filter(Boolean),
      branches: JSON.parse(r.dataset.branches || '[]'),
    })).filter((f) => f.question || f.answer);
    const groups = synonyms.value.split('\n').map((line) => line.split(',').map((w) => w.trim()).filter(Boolean)).filter((g) => g.length > 1);
    try {
      const quickReplies = quick.value.split('\n').map((l) => l.trim()).filter(Boolean);
      const saved = await api('PUT', '/v1/settings/chat', { ...settings, faqs, synonyms: groups, quick_replies: quickReplies });
      Object.assign(settings, saved);
      ok(status, 'Guardado. El asistente ya usa estas respuestas.');
    } catch (err) { notice(status, err); }
  });
  return form;
}

// ---- Configuración: what only the owner sets (payments, invoicing, WhatsApp, events, API keys) ----

const PROVIDERS = {
  sandbox: { name: 'Simulado (pruebas, sin dinero real)', fields: [] },
  stripe: { name: 'Stripe', fields: [['secret_key', 'Llave secreta (sk_live_…)', true], ['webhook_secret', 'Secreto del webhook (whsec_…)', true]] },
  mercadopago: { name: 'Mercado Pago', fields: [['access_token', 'Access token (APP_USR-…)', true], ['webhook_secret', 'Clave secreta del webhook', true]] },
  conekta: { name: 'Conekta', fields: [['private_key', 'Llave privada (key_…)', true], ['webhook_public_key', 'Llave pública del webhook (PEM)', false, 'textarea'],
    ['customer.name', 'Nombre para los recibos', false], ['customer.email', 'Correo para los recibos', false], ['customer.phone', 'Teléfono para los recibos', false]] },
  openpay: { name: 'Openpay', fields: [['merchant_id', 'ID de comercio', false], ['private_key', 'Llave privada (sk_…)', true], ['webhook_user', 'Usuario del webhook', false],
    ['webhook_password', 'Contraseña del webhook (12 caracteres o más)', true], ['customer.name', 'Nombre del cliente genérico', false], ['redirect_url', 'Regreso tras pagar con tarjeta (https)', false]] },
};
const METHOD_NAMES = [['card', 'Tarjeta'], ['cash', 'Efectivo (OXXO)'], ['spei', 'SPEI'], ['codi', 'CoDi']];

function section(title, intro, ...content) {
  return h('section', { class: 'card stack', style: 'max-width:720px;margin-bottom:1rem' }, h('h3', {}, title), intro ? h('p', { class: 'muted' }, intro) : null, ...content);
}

function paymentsForm(current) {
  const status = h('div', { role: 'status' });
  const fields = h('div', { class: 'stack' });
  const provider = h('select', { name: 'provider' }, Object.entries(PROVIDERS).map(([v, p]) => h('option', { value: v, selected: current.provider === v }, p.name)));
  const methods = h('fieldset', { class: 'row' }, h('legend', {}, 'Formas de pago que se ofrecen (vacío: las del proveedor)'),
    METHOD_NAMES.map(([v, t]) => h('label', { style: 'display:flex;gap:.4rem;align-items:center;font-weight:400' }, h('input', { type: 'checkbox', name: 'methods', value: v, style: 'width:auto' }), t)));
  const draw = () => {
    put(fields, PROVIDERS[provider.value].fields.map(([name, label, secret, kind]) => h('label', {}, label,
      kind === 'textarea' ? h('textarea', { name, rows: '3' }) : h('input', { name, type: secret ? 'password' : 'text', autocomplete: 'off', required: !name.startsWith('customer.') && name !== 'redirect_url' }))));
  };
  provider.addEventListener('change', draw);
  draw();
  const form = h('form', { class: 'stack' },
    h('p', {}, current.configured ? `Hoy cobras con ${(PROVIDERS[current.provider] || { name: current.provider }).name}.` : 'Aún no hay un proveedor de pagos configurado.'),
    h('label', {}, 'Proveedor', provider), fields, methods,
    h('button', { type: 'submit' }, 'Guardar proveedor de pagos'), status);
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    const v = new FormData(form);
    const body = { provider: provider.value };
    for (const [name] of PROVIDERS[provider.value].fields) {
      const value = String(v.get(name) || '').trim();
      if (!value) continue;
      if (name.startsWith('customer.')) { body.customer = body.customer || {}; body.customer[name.slice(9)] = value; } else body[name] = value;
    }
    const chosen = v.getAll('methods');
    if (chosen.length) body.methods = chosen;
    try {
      const saved = await api('PUT', '/v1/settings/payments', body);
      put(status, h('div', { class: 'msg ok' }, h('p', {}, 'Proveedor guardado; las credenciales se guardan cifradas y no se vuelven a mostrar.'),
        h('p', {}, 'Registra esta dirección como webhook en tu proveedor: ', h('code', {}, saved.callback_url))));
      form.querySelectorAll('input[type=password]').forEach((i) => { i.value = ''; });
    } catch (err) { notice(status, err); }
  });
  return section('Pagos', 'El proveedor con el que tus clientes pagan (tarjeta, OXXO, SPEI, CoDi).', form);
}

/** A file as base64, for the CSD's .cer and .key. */
async function base64Of(file) {
  const bytes = new Uint8Array(await file.arrayBuffer());
  let text = '';
  for (let i = 0; i < bytes.length; i += 0x8000) text += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(text);
}

function invoicingForm(current) {
  const issuer = current.issuer || {};
  const status = h('div', { role: 'status' });
  const input = (label, name, value, attrs) => h('label', {}, label, h('input', { name, value: value || '', ...(attrs || {}) }));
  const pacFields = h('div', { class: 'stack' });
  const pac = h('select', { name: 'pac' },
    h('option', { value: '' }, `Sin cambio (hoy: ${issuer.pac || 'sandbox'})`), h('option', { value: 'sandbox' }, 'Simulado (pruebas, sin timbrar ante el SAT)'),
    h('option', { value: 'finkok' }, 'Finkok'), h('option', { value: 'sw' }, 'SW Sapien'));
  const drawPac = () => {
    const kind = pac.value;
    put(pacFields,
      kind === 'finkok' ? [input('Usuario de Finkok', 'pac_user', '', { autocomplete: 'off', required: true }), input('Contraseña de Finkok', 'pac_password', '', { type: 'password', autocomplete: 'off', required: true }),
        h('label', { style: 'display:flex;gap:.4rem;align-items:center;font-weight:400' }, h('input', { type: 'checkbox', name: 'pac_test', style: 'width:auto' }), 'Ambiente de pruebas (demo)')] : null,
      kind === 'sw' ? [input('Usuario de SW', 'pac_user', '', { autocomplete: 'off', required: true }), input('Contraseña de SW', 'pac_password', '', { type: 'password', autocomplete: 'off', required: true }),
        h('label', { style: 'display:flex;gap:.4rem;align-items:center;font-weight:400' }, h('input', { type: 'checkbox', name: 'pac_test', style: 'width:auto' }), 'Ambiente de pruebas')] : null);
  };
  pac.addEventListener('change', drawPac);
  const form = h('form', { class: 'stack' },
    input('RFC del emisor', 'rfc', issuer.rfc, { required: true, autocomplete: 'off', style: 'text-transform:uppercase' }),
    input('Nombre o razón social (sin "S.A. de C.V.")', 'nombre', issuer.nombre, { required: true, maxlength: '254' }),
    h('label', {}, 'Régimen fiscal', h('select', { name: 'regimen_fiscal' }, REGIMENES.map(([v, t]) => h('option', { value: v, selected: issuer.regimen_fiscal === v }, `${v} · ${t}`)))),
    input('Serie de tus facturas', 'serie', issuer.serie || 'A', { maxlength: '25' }),
    h('label', {}, 'Factura global de las ventas sin factura', h('select', { name: 'periodicidad' },
      [['01', 'Diaria'], ['02', 'Semanal'], ['03', 'Quincenal'], ['04', 'Mensual']].map(([v, t]) => h('option', { value: v, selected: (issuer.periodicidad || '01') === v }, t)))),
    h('label', {}, 'Proveedor de timbrado (PAC)', pac), pacFields,
    h('button', { type: 'submit' }, 'Guardar datos fiscales'), status);
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    const v = new FormData(form);
    const body = {};
    for (const k of ['rfc', 'nombre', 'regimen_fiscal', 'serie', 'periodicidad']) body[k] = String(v.get(k) || '').trim();
    body.rfc = body.rfc.toUpperCase();
    if (pac.value === 'sandbox') body.pac = { provider: 'sandbox' };
    if (pac.value === 'finkok') body.pac = { provider: 'finkok', username: String(v.get('pac_user') || ''), password: String(v.get('pac_password') || ''), demo: !!v.get('pac_test') };
    if (pac.value === 'sw') body.pac = { provider: 'sw', user: String(v.get('pac_user') || ''), password: String(v.get('pac_password') || ''), test: !!v.get('pac_test') };
    try {
      await api('PUT', '/v1/settings/invoicing', body);
      ok(status, 'Datos fiscales guardados.');
      pac.value = ''; drawPac();
    } catch (err) { notice(status, err); }
  });
  // The CSD: the .cer, the .key and its password; checked (RFC, validity, key) and kept sealed.
  const csdStatus = h('div', { role: 'status' });
  const cer = h('input', { type: 'file', name: 'cer', accept: '.cer' });
  const key = h('input', { type: 'file', name: 'key', accept: '.key' });
  const csd = issuer.csd;
  const csdForm = h('form', { class: 'stack' },
    h('h4', {}, 'Certificado de sello digital (CSD)'),
    h('p', { class: 'muted' }, csd ? `Cargado: certificado ${csd.no_certificado}, vigente hasta ${when(csd.valid_to)}.` : 'Aún no hay CSD: sin él no se timbran facturas.'),
    h('label', {}, 'Archivo .cer', cer), h('label', {}, 'Archivo .key', key),
    h('label', {}, 'Contraseña de la llave privada', h('input', { type: 'password', name: 'password', autocomplete: 'off', required: true })),
    h('button', { type: 'submit', class: 'secondary' }, 'Cargar CSD'), csdStatus);
  csdForm.addEventListener('submit', async (e) => {
    e.preventDefault();
    if (!cer.files[0] || !key.files[0]) { notice(csdStatus, 'Elige el archivo .cer y el .key de tu CSD (no los de la e.firma).'); return; }
    try {
      const saved = await api('PUT', '/v1/settings/invoicing/csd', {
        certificate: await base64Of(cer.files[0]), private_key: await base64Of(key.files[0]), password: String(new FormData(csdForm).get('password') || ''),
      });
      const c = (saved.issuer || {}).csd || {};
      ok(csdStatus, `CSD cargado: certificado ${c.no_certificado}, vigente hasta ${when(c.valid_to)}.`);
      csdForm.reset();
    } catch (err) { notice(csdStatus, err); }
  });
  return section('Facturación', 'Tus datos como emisor, tal como están ante el SAT, y el proveedor que timbra tus facturas.', form, csdForm);
}

function whatsappForm(current) {
  const status = h('div', { role: 'status' });
  const num = (label, name, value, min, max) => h('label', {}, label, h('input', { name, type: 'number', min, max, step: '1', value: value === null || value === undefined ? '' : value }));
  const form = h('form', { class: 'stack' },
    h('p', {}, current.has_token ? 'Conectado a la API de WhatsApp Cloud (el token está guardado cifrado).' : 'Sin token: los mensajes se simulan (modo de pruebas).'),
    h('label', {}, current.has_token ? 'Token de acceso nuevo (déjalo vacío para conservar el actual)' : 'Token de acceso de la API de WhatsApp Cloud',
      h('input', { name: 'access_token', type: 'password', autocomplete: 'off' })),
    h('label', {}, 'ID de la cuenta de WhatsApp Business', h('input', { name: 'business_account_id', value: current.business_account_id || '', inputmode: 'numeric' })),
    h('label', {}, 'ID del catálogo de Meta (opcional)', h('input', { name: 'catalog_id', value: current.catalog_id || '', inputmode: 'numeric' })),
    num('Avisos de marketing por cliente al día', 'daily_cap', current.daily_cap, '0', '100'),
    num('Sin marketing desde las (hora)', 'quiet_hours_start', current.quiet_hours_start, '0', '23'),
    num('hasta las (hora)', 'quiet_hours_end', current.quiet_hours_end, '0', '23'),
    current.has_token ? h('label', { style: 'display:flex;gap:.4rem;align-items:center;font-weight:400' }, h('input', { type: 'checkbox', name: 'remove_access_token', style: 'width:auto' }), 'Quitar el token (volver a modo de pruebas)') : null,
    h('p', { class: 'muted' }, 'El número de WhatsApp de cada sucursal (phone_number_id) se pone en su ficha, arriba.'),
    h('button', { type: 'submit' }, 'Guardar WhatsApp'), status);
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    const v = new FormData(form);
    const text = (k) => String(v.get(k) || '').trim();
    const int = (k) => (text(k) === '' ? null : Number(text(k)));
    const body = {
      business_account_id: text('business_account_id') || null, catalog_id: text('catalog_id') || null,
      daily_cap: int('daily_cap'), quiet_hours_start: int('quiet_hours_start'), quiet_hours_end: int('quiet_hours_end'),
    };
    if (text('access_token')) body.access_token = text('access_token');
    if (v.get('remove_access_token')) body.remove_access_token = true;
    try {
      const saved = await api('PUT', '/v1/settings/whatsapp', body);
      ok(status, saved.has_token ? 'Guardado. WhatsApp conectado.' : 'Guardado. Sin token: los mensajes se simulan.');
      form.querySelector('input[name=access_token]').value = '';
    } catch (err) { notice(status, err); }
  });
  return section('WhatsApp', 'La conexión con la API de WhatsApp Cloud de Meta y los límites de los avisos.', form);
}

function webhookForm(current) {
  const status = h('div', { role: 'status' });
  const url = h('input', { name: 'url', type: 'url', value: current.url || '', placeholder: 'https://mi-sistema.mx/eventos', required: true });
  const form = h('form', { class: 'stack' },
    h('label', {}, 'Dirección que recibe los eventos (pedidos pagados, respuestas, documentos)', url),
    h('div', { class: 'row' }, h('button', { type: 'submit' }, 'Guardar dirección'),
      current.configured ? h('button', { type: 'button', class: 'secondary', onclick: async () => {
        try { await api('DELETE', '/v1/settings/webhook'); ok(status, 'Ya no se envían eventos.'); url.value = ''; } catch (err) { notice(status, err); }
      } }, 'Dejar de enviar eventos') : null),
    status);
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    try {
      const saved = await api('PUT', '/v1/settings/webhook', { url: url.value.trim() });
      put(status, h('div', { class: 'msg ok' }, h('p', {}, 'Guardado. Copia el secreto ahora: no se vuelve a mostrar.'),
        h('p', {}, 'Secreto: ', h('code', { class: 'secret' }, saved.secret)),
        h('p', { class: 'muted' }, `Cada evento llega firmado en ${saved.signature_header}.`)));
    } catch (err) { notice(status, err); }
  });
  return section('Eventos para tu sistema (webhook)', 'mostrador avisa a tu sistema de cada pedido pagado y cada respuesta, firmado con un secreto.', form);
}

function apiKeysBox(list) {
  const status = h('div', { role: 'status' });
  const rows = h('div');
  const draw = (keys) => put(rows, keys.length ? table(['Nombre', 'Empieza con', 'Sucursal', 'Creada', ''], keys.map((k) => [
    k.label || '—', h('code', {}, k.prefix), k.branch_id ? (branchOf(k.branch_id) || {}).name || k.branch_id : 'Todas', when(k.created_at),
    k.revoked ? h('span', { class: 'pill cancelled' }, 'Revocada') : h('button', { type: 'button', class: 'secondary', onclick: async () => {
      if (!confirm(`¿Revocar la llave ${k.label || k.prefix}? Lo que la use deja de funcionar al momento.`)) return;
      try { await api('DELETE', `/v1/api-keys/${encodeURIComponent(k.key_id)}`); await refresh(); ok(status, 'Llave revocada.'); } catch (err) { notice(status, err); }
    } }, 'Revocar'),
  ])) : h('p', { class: 'muted' }, 'No hay llaves.'));
  const refresh = async () => draw((await api('GET', '/v1/api-keys')).api_keys || []);
  draw(list);
  const form = h('form', { class: 'row' },
    h('label', {}, 'Nombre de la llave', h('input', { name: 'label', maxlength: '80', placeholder: 'Punto de venta', required: true })),
    h('label', {}, 'Sucursal', h('select', { name: 'branch_id' }, h('option', { value: '' }, 'Todas'), S.branches.map((b) => h('option', { value: b.id }, b.name)))),
    h('button', { type: 'submit' }, 'Crear llave'));
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    const v = new FormData(form);
    try {
      const issued = await api('POST', '/v1/api-keys', { label: String(v.get('label') || '').trim(), branch_id: v.get('branch_id') || null });
      put(status, h('div', { class: 'msg ok' }, h('p', {}, 'Copia la llave ahora: no se vuelve a mostrar.'), h('p', {}, h('code', { class: 'secret' }, issued.api_key))));
      form.reset();
      await refresh();
    } catch (err) { notice(status, err); }
  });
  return section('Llaves de API', 'Para conectar tu punto de venta u otro sistema con la API de mostrador. Una llave de sucursal solo ve y cambia esa sucursal.', rows, form, status);
}

/** The owner's settings, each loaded on its own so one failing does not hide the others. */
async function ownerSettings() {
  const load = async (path) => { try { return await api('GET', path); } catch (e) { return { failed: e }; } };
  const [payments, invoicing, whatsapp, webhook, keys] = await Promise.all(
    ['/v1/settings/payments', '/v1/settings/invoicing', '/v1/settings/whatsapp', '/v1/settings/webhook', '/v1/api-keys'].map(load));
  const box = (data, make) => (data.failed ? h('p', { class: 'msg error', role: 'alert' }, data.failed.message) : make(data));
  return [
    h('h2', {}, 'Cuenta y conexiones'),
    h('p', { class: 'muted' }, 'Solo la dueña o el dueño de la cuenta ve y cambia esto.'),
    box(payments, paymentsForm), box(invoicing, invoicingForm), box(whatsapp, whatsappForm), box(webhook, webhookForm),
    box(keys, (k) => apiKeysBox(k.api_keys || [])),
  ];
}

async function settingsPage() {
  const body = h('div', {}, h('p', { class: 'loading' }, 'Cargando…'));
  mount(frame('#/configuracion', h('h2', {}, 'Configuración'), body));
  let chat;
  try { chat = await api('GET', '/v1/settings/chat'); } catch (e) { notice(body, e); return; }
  body.replaceChildren(
    h('p', { class: 'muted' }, 'Lo que el asistente de WhatsApp dice de cada sucursal y cómo entrega.'),
    ...S.branches.map(branchForm),
    h('h2', {}, 'Asistente'),
    chatForm(chat));
  if (S.user.role === 'owner') body.append(...await ownerSettings());
}

// ---- invitations ----

function invitationPage(token) {
  const status = h('div');
  const form = h('form', { class: 'stack' },
    h('label', {}, 'Tu nombre', h('input', { name: 'name', autocomplete: 'name' })),
    h('label', {}, 'Elige una contraseña (10 caracteres o más)', h('input', { name: 'password', type: 'password', autocomplete: 'new-password', minlength: '10', required: true })),
    h('button', { type: 'submit' }, 'Crear mi cuenta'), status);
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    const d = new FormData(form);
    try {
      const session = await api('POST', `/v1/invitations/${encodeURIComponent(token)}`, { password: d.get('password'), name: d.get('name') || null });
      await start(session);
    } catch (err) { notice(status, err); }
  });
  mount([h('main', { id: 'main' }, h('section', { class: 'login' }, h('h2', {}, 'Únete al panel'), form))]);
}

// ---- routing ----

async function render() {
  const route = location.hash || '#/hoy';
  if (route.startsWith('#/invitacion/')) { invitationPage(route.slice('#/invitacion/'.length)); return; }
  if (!S.user) { loginPage(); return; }
  const [path] = route.split('?');
  const parts = path.split('/').map(decodeURIComponent);
  try {
    switch (parts[1]) {
      case 'pedidos': await (parts[2] ? orderPage(parts[2]) : ordersPage()); break;
      case 'conversaciones': await (parts[2] ? threadPage(parts[2]) : inboxPage()); break;
      case 'clientes': await (parts[2] ? customerPage(parts[2]) : customersPage()); break;
      case 'catalogo': await stockPage(); break;
      case 'productos': await (parts[2] ? productPage(parts[2]) : productsPage()); break;
      case 'nuevo-producto': await productPage(null); break;
      case 'promociones': await promotionsPage(); break;
      case 'facturas': await invoicesPage(); break;
      case 'reportes': await reportsPage(); break;
      case 'plantillas': await templatesPage(); break;
      case 'notificaciones': await notificationsPage(); break;
      case 'equipo': await staffPage(); break;
      case 'configuracion': await settingsPage(); break;
      case 'cuenta': accountPage(); break;
      case 'pagos': await paymentsPage(); break;
      default: await todayPage();
    }
  } catch (e) {
    const main = document.getElementById('main');
    if (main) notice(main, e);
  }
  const main = document.getElementById('main');
  if (main && S.lastRoute !== route) { S.lastRoute = route; main.focus({ preventScroll: true }); }
}

window.addEventListener('hashchange', render);
window.addEventListener('DOMContentLoaded', async () => {
  if (location.hash.startsWith('#/invitacion/')) { render(); return; }
  try { await start(await api('GET', '/v1/session')); } catch (_) { render(); }
});
