// The live dashboard: health, order form, live orders (WS /api/orders/stream/all), order detail,
// metrics with a hand-drawn chart, and venue prices. Plain JavaScript, no dependencies.
"use strict";

(function () {
  const TOKENS = ["SOL", "USDC", "USDT", "BONK", "JUP", "RAY"]; // pool launches add to it
  const TERMINAL = new Set(["confirmed", "failed", "cancelled", "expired"]);
  const CANCELLABLE = new Set(["pending", "open", "routing", "building"]);
  const FIELDS = ["orderType", "tokenIn", "tokenOut", "amountIn", "slippage", "limitPrice", "expiresInSeconds",
    "minLiquidity", "newToken"];
  const DECIMAL = /^\d+(\.\d+)?$/;
  const BULK_ORDERS = [
    { tokenIn: "SOL", tokenOut: "USDC", amountIn: "0.5" },
    { tokenIn: "USDC", tokenOut: "SOL", amountIn: "75" },
    { tokenIn: "SOL", tokenOut: "BONK", amountIn: "0.2" },
    { tokenIn: "JUP", tokenOut: "USDC", amountIn: "40" },
    { tokenIn: "USDC", tokenOut: "USDT", amountIn: "100" },
  ];
  const MAX_ROWS = 500;
  const CHART_POINTS = 60;

  const $ = (id) => document.getElementById(id);
  const orders = new Map(); // orderId -> row state
  let selectedId = null;
  let lastPosition = null;
  let socket = null;
  let reconnectDelay = 500;
  let held = false; // set by drop(): stay disconnected until resume()
  const chartSeries = [];

  function el(tag, attrs, children) {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (k === "text") node.textContent = v;
      else if (k === "className") node.className = v;
      else node.setAttribute(k, v);
    }
    for (const child of children || []) node.append(child);
    return node;
  }

  // Each cell carries its column's header as data-label: narrow screens show rows as cards of
  // label: value pairs (dashboard.css).
  function labelCells(row, table) {
    const heads = table.tHead.rows[0].cells;
    for (const cell of row.cells) cell.dataset.label = heads[cell.cellIndex].textContent;
    return row;
  }

  // ---- API key (only when the engine has keys on): asked for once, kept for this tab --------
  const KEY_ITEM = "oee-api-key";
  function withKey(headers) {
    const key = sessionStorage.getItem(KEY_ITEM);
    if (key) headers.Authorization = "Bearer " + key;
    return headers;
  }
  function askForKey(rejected) {
    const form = $("key-form");
    $("key-error").textContent = rejected ? "That key was not accepted." : "";
    if (form.hidden) { form.hidden = false; $("api-key").focus(); }
  }
  async function apiFetch(url, options = {}) {
    const response = await fetch(url, { ...options, headers: withKey({ Accept: "application/json", ...(options.headers || {}) }) });
    if (response.status === 401) askForKey(Boolean(sessionStorage.getItem(KEY_ITEM)));
    return response;
  }
  async function getJSON(url) {
    const response = await apiFetch(url);
    return { status: response.status, body: await response.json() };
  }
  // A browser cannot set headers on a WebSocket: a short-lived, single-use ticket goes in the URL.
  async function streamTicket() {
    try {
      const response = await apiFetch("/api/stream-tickets", { method: "POST" });
      if (response.status !== 201) return null;
      return (await response.json()).ticket;
    } catch (err) { return null; }
  }

  function shortId(id) { return id ? id.slice(0, 8) : ""; }
  function fmtTime(iso) { return iso ? new Date(iso).toLocaleTimeString() : ""; }
  function fmtElapsed(ms) {
    if (ms < 0 || !isFinite(ms)) return "";
    return ms < 10000 ? (ms / 1000).toFixed(2) + " s" : (ms / 1000).toFixed(1) + " s";
  }
  function fmtNum(value, digits) {
    if (value === null || value === undefined || value === "") return "—";
    const n = Number(value);
    if (!isFinite(n)) return String(value);
    return n.toLocaleString(undefined, { maximumSignificantDigits: digits || 8 });
  }

  // ---- health ----------------------------------------------------------------------------
  function pill(name, up, detail) {
    const text = `${name}: ${up ? "up" : "down"}${detail ? " · " + detail : ""}`;
    return el("li", { className: "pill " + (up ? "pill-up" : "pill-down"), text });
  }
  async function refreshHealth() {
    const list = $("health");
    try {
      const { body } = await getJSON("/health");
      const checks = body.checks || {};
      const items = [
        pill("Redis", checks.redis && checks.redis.status === "up"),
        pill("PostgreSQL", checks.postgres && checks.postgres.status === "up"),
      ];
      const groups = checks.consumers || {};
      for (const [name, g] of Object.entries(groups)) {
        if (name === "error" || typeof g !== "object") continue;
        const live = g.status ? g.status === "up" || g.status === "healthy" || g.status === "ok" : false;
        const count = Array.isArray(g.consumers) ? g.consumers.length : g.consumers || 0;
        items.push(pill(name, live, `${count} consumer${count === 1 ? "" : "s"}, lag ${g.lag ?? 0}, pending ${g.pending ?? 0}`));
      }
      list.replaceChildren(...items);
    } catch (err) {
      list.replaceChildren(pill("API", false, "unreachable"));
    }
  }

  // ---- form ------------------------------------------------------------------------------
  function fillTokens() {
    for (const [id, chosen] of [["tokenIn", "SOL"], ["tokenOut", "USDC"], ["launchTokenA", "SOL"]]) {
      const select = $(id);
      for (const t of TOKENS) select.append(el("option", { value: t, text: t }));
      select.value = chosen;
    }
  }
  function showLimitFields() {
    const kind = $("orderType").value;
    document.querySelector(".limit-only").hidden = kind !== "limit";
    document.querySelector(".sniper-only").hidden = kind !== "sniper";
    document.querySelector(".resting-only").hidden = kind === "market";
  }
  function addToken(symbol) {
    if (TOKENS.includes(symbol)) return;
    TOKENS.push(symbol);
    for (const id of ["tokenIn", "tokenOut", "launchTokenA"]) $(id).append(el("option", { value: symbol, text: symbol }));
  }
  async function launchPool(event) {
    event.preventDefault();
    const body = { venue: $("launchVenue").value, tokenA: $("launchTokenA").value, tokenB: $("launchTokenB").value.trim(),
      reserveA: $("launchReserveA").value.trim(), reserveB: $("launchReserveB").value.trim() };
    const decimals = $("launchDecimalsB").value.trim();
    if (decimals) body.decimalsB = /^\d+$/.test(decimals) ? Number(decimals) : decimals;
    const button = $("launch");
    button.disabled = true;
    try {
      const response = await apiFetch("/api/venues/pools", { method: "POST",
        headers: { "Content-Type": "application/json" }, body: JSON.stringify(body) });
      const answer = await response.json();
      if (answer.success) {
        $("launch-result").textContent = `Pool ${answer.pair} launched on ${answer.venue}.`;
        addToken(answer.pair.split("/")[1]);
      } else {
        $("launch-result").textContent = answer.error || `Error ${response.status}`;
      }
    } catch (err) {
      $("launch-result").textContent = "The launch did not reach the server; try again.";
    }
    button.disabled = false;
  }
  function setFieldError(field, message) {
    const input = $(field);
    const slot = $(field + "-error");
    if (!slot) return false;
    slot.textContent = message || "";
    if (input) {
      if (message) input.setAttribute("aria-invalid", "true");
      else input.removeAttribute("aria-invalid");
    }
    return true;
  }
  function clearErrors() {
    for (const f of FIELDS) setFieldError(f, "");
    $("form-error").textContent = "";
  }
  // Editing a field clears its error; the pair's error belongs to both tokens, so changing either
  // clears it. Once no field is marked, the "check the highlighted field" verdict goes too.
  function fieldEdited(field) {
    const fixed = field === "tokenIn" || field === "tokenOut" ? ["tokenIn", "tokenOut"] : [field];
    for (const f of fixed) setFieldError(f, "");
    const result = $("place-result");
    if (result.dataset.fieldErrors && !document.querySelector("#order-form [aria-invalid='true']")) {
      result.textContent = "";
      delete result.dataset.fieldErrors;
    }
  }
  function showResult(text, fieldErrors) {
    const result = $("place-result");
    result.textContent = text;
    if (fieldErrors) result.dataset.fieldErrors = "true";
    else delete result.dataset.fieldErrors;
  }
  function formBody() {
    const body = { orderType: $("orderType").value, tokenIn: $("tokenIn").value, tokenOut: $("tokenOut").value,
      amountIn: $("amountIn").value.trim() };
    const slippage = $("slippage").value.trim();
    if (slippage) body.slippage = slippage;
    if (body.orderType !== "market") {
      const expires = $("expiresInSeconds").value.trim();
      if (expires) body.expiresInSeconds = /^\d+$/.test(expires) ? Number(expires) : expires;
    }
    if (body.orderType === "limit") {
      const price = $("limitPrice").value.trim();
      if (price) body.limitPrice = price;
    }
    if (body.orderType === "sniper") {
      const symbol = $("newToken").value.trim();
      const least = $("minLiquidity").value.trim();
      if (symbol) body.tokenOut = symbol.toUpperCase();
      if (least) body.minLiquidity = least;
    }
    return body;
  }
  // Client-side hints catch what is plainly not a number; ranges and decimals are the server's.
  function clientErrors(body) {
    const errors = [];
    if (!body.amountIn) errors.push(["amountIn", "enter an amount"]);
    else if (!DECIMAL.test(body.amountIn)) errors.push(["amountIn", "a decimal number such as 1.5"]);
    if (body.slippage !== undefined && !DECIMAL.test(body.slippage)) errors.push(["slippage", "a fraction such as 0.01"]);
    if (body.tokenIn === body.tokenOut) errors.push(["tokenOut", "choose a token other than the one sold"]);
    return errors;
  }
  async function postOrder(body, idempotencyKey) {
    const headers = { "Content-Type": "application/json", Accept: "application/json" };
    if (idempotencyKey) headers["Idempotency-Key"] = idempotencyKey;
    const response = await apiFetch("/api/orders/execute", { method: "POST", headers, body: JSON.stringify(body) });
    let parsed = null;
    try { parsed = await response.json(); } catch (err) { parsed = { success: false, error: response.statusText }; }
    return { status: response.status, body: parsed };
  }
  async function submitForm(event) {
    event.preventDefault();
    clearErrors();
    const body = formBody();
    const local = clientErrors(body);
    if (local.length) {
      for (const [f, m] of local) setFieldError(f, m);
      $(local[0][0]).focus();
      showResult("Check the highlighted field.", true);
      return;
    }
    const button = $("place");
    button.disabled = true;
    try {
      const { status, body: answer } = await postOrder(body, $("idempotencyKey").value.trim());
      if (answer.success) {
        showResult(`Order ${shortId(answer.orderId)} accepted (${answer.status}).`, false);
        upsertOrder(answer.orderId, { status: answer.status, tokenIn: body.tokenIn, tokenOut: body.tokenOut,
          amountIn: body.amountIn, createdAt: Date.now() });
      } else {
        let placed = false;
        for (const d of answer.details || []) placed = setFieldError(d.field, d.message) || placed;
        if (!placed) $("form-error").textContent = answer.error || `Error ${status}`;
        showResult(`Rejected (${answer.code || status}).`, placed);
        const firstBad = document.querySelector("#order-form [aria-invalid='true']");
        if (firstBad) firstBad.focus();
      }
    } catch (err) {
      $("form-error").textContent = "The API did not answer: " + err;
    } finally {
      button.disabled = false;
    }
  }
  async function placeMany(count, button) {
    button.disabled = true;
    showResult(`Placing ${count} orders…`, false);
    const bodies = Array.from({ length: count }, (_, i) => ({ orderType: "market", ...BULK_ORDERS[i % BULK_ORDERS.length] }));
    const answers = await Promise.allSettled(bodies.map((b) => postOrder(b)));
    let accepted = 0;
    const rejected = {};
    answers.forEach((a, i) => {
      if (a.status === "fulfilled" && a.value.body.success) {
        accepted += 1;
        const b = bodies[i];
        upsertOrder(a.value.body.orderId, { status: a.value.body.status, tokenIn: b.tokenIn, tokenOut: b.tokenOut,
          amountIn: b.amountIn, createdAt: Date.now() });
      } else {
        const code = a.status === "fulfilled" ? a.value.body.code || a.value.status : "NETWORK";
        rejected[code] = (rejected[code] || 0) + 1;
      }
    });
    const extra = Object.entries(rejected).map(([c, n]) => `${n} ${c}`).join(", ");
    showResult(`${accepted} of ${count} accepted${extra ? "; rejected: " + extra : ""}.`, false);
    button.disabled = false;
  }

  // ---- live orders -----------------------------------------------------------------------
  function upsertOrder(id, changes, sequence) {
    let row = orders.get(id);
    if (!row) {
      row = { id, status: "pending", sequence: 0, createdAt: null, endedAt: null, node: null };
      orders.set(id, row);
    }
    if (sequence !== undefined) {
      if (sequence <= row.sequence) return row; // replayed or older: state never moves backwards
      row.sequence = sequence;
    } else if (row.sequence > 0) {
      // A local answer (the POST's) after the stream's events: it only fills gaps.
      for (const k of Object.keys(changes)) if (row[k] !== undefined && row[k] !== null) delete changes[k];
    }
    for (const [k, v] of Object.entries(changes)) if (v !== undefined && v !== null) row[k] = v;
    if (TERMINAL.has(row.status) && !row.endedAt) row.endedAt = changes.updatedAt || Date.now();
    renderRow(row);
    if (id === selectedId) scheduleDetail();
    return row;
  }
  function renderRow(row) {
    const body = $("orders-body");
    if (!row.node) {
      row.node = el("tr", { tabindex: "0", "data-order-id": row.id, "aria-selected": "false" });
      row.node.addEventListener("click", () => openDetail(row.id));
      row.node.addEventListener("keydown", (e) => {
        if (e.key === "Enter" || e.key === " ") { e.preventDefault(); openDetail(row.id); }
        if (e.key === "ArrowDown" && row.node.nextElementSibling) { e.preventDefault(); row.node.nextElementSibling.focus(); }
        if (e.key === "ArrowUp" && row.node.previousElementSibling) { e.preventDefault(); row.node.previousElementSibling.focus(); }
      });
      body.prepend(row.node);
      while (body.children.length > MAX_ROWS) {
        const last = body.lastElementChild;
        orders.delete(last.dataset.orderId);
        last.remove();
      }
      $("orders-empty").hidden = true;
    }
    row.node.dataset.status = row.status;
    row.node.setAttribute("aria-label", `Order ${shortId(row.id)}, ${row.status}`);
    row.node.replaceChildren(
      el("td", { className: "mono", text: shortId(row.id) }),
      el("td", { text: row.tokenIn ? `${row.tokenIn} → ${row.tokenOut}` : "" }),
      el("td", { className: "num hide-phone", text: row.amountIn ? fmtNum(row.amountIn) : "" }),
      el("td", {}, [el("span", { className: `status s-${row.status}`, text: row.status })]),
      el("td", { className: "hide-narrow", text: row.venue || "" }),
      el("td", { className: "num hide-narrow", text: row.amountOut ? fmtNum(row.amountOut) : "" }),
      el("td", { className: "num elapsed", text: elapsedOf(row) }),
    );
    labelCells(row.node, $("orders-table"));
  }
  function elapsedOf(row) {
    if (!row.createdAt) return "";
    return fmtElapsed((row.endedAt || Date.now()) - row.createdAt);
  }
  function tickElapsed() {
    for (const row of orders.values()) {
      if (row.node && !TERMINAL.has(row.status)) row.node.querySelector(".elapsed").textContent = elapsedOf(row);
    }
  }
  function applyMessage(msg) {
    if (msg.position) lastPosition = msg.position;
    if (!msg.orderId || !msg.status) return;
    const data = msg.data || {};
    const at = msg.timestamp ? Date.parse(msg.timestamp) : Date.now();
    const changes = { status: msg.status };
    if (msg.event === "OrderPlaced") {
      Object.assign(changes, { tokenIn: data.tokenIn, tokenOut: data.tokenOut, amountIn: data.amountIn, createdAt: at });
    }
    if (data.chosen) changes.venue = data.chosen.venue;
    if (data.venue) changes.venue = data.venue;
    if (data.amountOut && msg.event === "OrderConfirmed") changes.amountOut = data.amountOut;
    if (TERMINAL.has(msg.status)) changes.endedAt = at;
    upsertOrder(msg.orderId, changes, msg.sequence);
  }
  function setStreamState(text, kind) {
    const node = $("stream-state");
    node.textContent = "Stream: " + text;
    node.className = "pill pill-" + kind;
  }
  async function connect() {
    const scheme = location.protocol === "https:" ? "wss" : "ws";
    const params = new URLSearchParams();
    if (lastPosition) params.set("after", lastPosition);
    const ticket = await streamTicket();
    if (ticket) params.set("ticket", ticket);
    const query = params.toString() ? "?" + params.toString() : "";
    const ws = new WebSocket(`${scheme}://${location.host}/api/orders/stream/all${query}`);
    socket = ws;
    ws.onmessage = (event) => {
      let msg;
      try { msg = JSON.parse(event.data); } catch (err) { return; }
      if (msg.type === "connected") {
        if (!lastPosition && msg.position) lastPosition = msg.position;
        reconnectDelay = 500;
        setStreamState("live", "up");
        return;
      }
      if (msg.type === "status_update" || msg.type === "retry") applyMessage(msg);
    };
    ws.onclose = (event) => {
      if (socket !== ws) return;
      if (held) { setStreamState("paused", "wait"); return; }
      if (event.code === 4401) { setStreamState("needs an API key", "down"); askForKey(true); return; }
      setStreamState(`reconnecting in ${(reconnectDelay / 1000).toFixed(1)} s`, "down");
      setTimeout(connect, reconnectDelay);
      reconnectDelay = Math.min(reconnectDelay * 2, 8000);
    };
  }
  async function loadRecent() {
    try {
      const { body } = await getJSON("/api/orders?limit=50");
      for (const o of (body.orders || []).slice().reverse()) {
        upsertOrder(o.id, { status: o.status, tokenIn: o.tokenIn, tokenOut: o.tokenOut, amountIn: o.amountIn,
          venue: o.selectedDex, amountOut: o.amountOut, createdAt: Date.parse(o.createdAt),
          endedAt: TERMINAL.has(o.status) ? Date.parse(o.confirmedAt || o.updatedAt) : null }, o.sequence);
      }
    } catch (err) { /* the live stream still fills the table */ }
  }

  // ---- detail panel ----------------------------------------------------------------------
  let detailTimer = null;
  function scheduleDetail() {
    clearTimeout(detailTimer);
    detailTimer = setTimeout(() => renderDetail(selectedId), 150);
  }
  function openDetail(id) {
    selectedId = id;
    $("detail-cancel-result").textContent = "";
    for (const row of orders.values()) if (row.node) row.node.setAttribute("aria-selected", String(row.id === id));
    $("detail").hidden = false;
    $("detail-heading").textContent = "Order " + id;
    renderDetail(id).then(() => $("detail-heading").focus());
  }
  async function cancelSelected() {
    const id = selectedId;
    if (!id) return;
    const button = $("detail-cancel");
    button.disabled = true;
    try {
      const response = await apiFetch(`/api/orders/${id}/cancel`, { method: "POST" });
      const body = await response.json();
      $("detail-cancel-result").textContent = body.success ? "Cancelled." : body.error;
    } catch (err) {
      $("detail-cancel-result").textContent = "The cancel did not reach the server; try again.";
    }
    button.disabled = false;
    scheduleDetail();
  }
  function closeDetail() {
    const id = selectedId;
    selectedId = null;
    $("detail").hidden = true;
    const row = orders.get(id);
    if (row && row.node) { row.node.setAttribute("aria-selected", "false"); row.node.focus(); }
  }
  async function renderDetail(id) {
    if (!id) return;
    const [orderAnswer, eventsAnswer] = await Promise.all([
      getJSON(`/api/orders/${id}`).catch(() => null), getJSON(`/api/orders/${id}/events`).catch(() => null)]);
    if (id !== selectedId) return;
    const order = orderAnswer && orderAnswer.body.order;
    const events = (eventsAnswer && eventsAnswer.body.events) || [];
    const summary = $("detail-summary");
    if (order) {
      const items = [["Status", order.status], ["Type", order.orderType], ["Pair", `${order.tokenIn} → ${order.tokenOut}`], ["Amount in", order.amountIn],
        ["Limit price", order.limitPrice], ["Expires", order.expiresAt && fmtTime(order.expiresAt)],
        ["Amount out", order.amountOut], ["Min amount out", order.minAmountOut], ["Venue", order.selectedDex],
        ["Executed price", order.executedPrice], ["Price impact", order.priceImpact], ["Fee", order.fee],
        ["Attempts", order.attempts], ["Tx hash", order.txHash], ["Error", order.errorCode && `${order.errorCode}: ${order.errorMessage}`]];
      summary.replaceChildren(...items.filter(([, v]) => v !== null && v !== undefined && v !== "")
        .map(([k, v]) => {
          const wide = k === "Tx hash" || k === "Error";
          return el("div", { className: wide ? "wide" : "" }, [el("dt", { text: k }), el("dd", { className: k === "Tx hash" ? "mono" : "", text: String(v) })]);
        }));
    } else {
      summary.replaceChildren(el("div", {}, [el("dt", { text: "Status" }), el("dd", { text: "not projected yet" })]));
    }
    $("detail-cancel").hidden = !(order && CANCELLABLE.has(order.status));
    const routed = events.filter((e) => e.type === "RouteSelected").pop();
    const quotes = (routed && routed.data.quotes) || (order && order.quotes) || [];
    const chosen = (routed && routed.data.chosen) || (order && order.route) || null;
    $("detail-reason").textContent = routed ? `Route chosen: ${routed.data.reason}` : quotes.length ? "" : "No quotes yet.";
    $("quotes-body").replaceChildren(...quotes.map((q) => {
      const isChosen = chosen && q.venue === chosen.venue && q.route === chosen.route && q.amountOut === chosen.amountOut;
      return labelCells(el("tr", { className: isChosen ? "chosen" : "" }, [
        el("td", { text: q.venue }), el("td", { text: q.route || "direct" }), el("td", { className: "num", text: q.amountOut }),
        el("td", { className: "num", text: q.fee }), el("td", { className: "num", text: fmtPercent(q.priceImpact) }),
        el("td", { text: isChosen ? "✓ chosen" : "" })]), $("quotes-table"));
    }));
    $("timeline").replaceChildren(...events.map((e) => el("li", {}, [
      el("strong", { text: e.type }), el("span", { text: ` → ${e.status}` }), el("span", { className: "when", text: fmtTime(e.occurredAt) }),
      el("div", { className: "data", text: describeEvent(e) })])));
  }
  function fmtPercent(v) {
    if (v === null || v === undefined) return "—";
    return (Number(v) * 100).toFixed(3) + " %";
  }
  function describeEvent(e) {
    const d = e.data || {};
    switch (e.type) {
      case "OrderPlaced": return `${d.amountIn} ${d.tokenIn} → ${d.tokenOut}, slippage ${d.slippage ?? "default"}`;
      case "RoutingStarted": return `attempt ${d.attempt}`;
      case "RouteSelected": return `${d.chosen ? d.chosen.venue + " (" + d.chosen.route + ")" : ""}, expected ${d.expectedOut}, min ${d.minAmountOut}`;
      case "TransactionBuilt": return (d.steps || []).join(" · ");
      case "TransactionSubmitted": return `tx ${d.txHash}`;
      case "OrderConfirmed": return `${d.amountOut} out on ${d.venue} at ${d.executedPrice}`;
      case "AttemptFailed": return `attempt ${d.attempt}: ${d.errorCode}, retry in ${d.retryDelayMs} ms`;
      case "OrderFailed": return `${d.errorCode}: ${d.errorMessage}`;
      default: return "";
    }
  }

  // ---- metrics and chart -----------------------------------------------------------------
  async function refreshMetrics() {
    try {
      const { body } = await getJSON("/api/metrics");
      const o = body.orders || {};
      const q = body.queue || {};
      const lat = (body.latency && body.latency.acceptToConfirmedMs) || {};
      const perMinute = (body.throughput && body.throughput.ordersPerMinute) || 0;
      const figures = [["Orders", o.total], ["Confirmed", o.confirmed], ["Failed", o.failed], ["In flight", q.active],
        ["Waiting", q.waiting], ["Retrying", q.delayed], ["Confirmed / min", perMinute],
        ["Latency p50", lat.p50 == null ? "—" : Math.round(lat.p50) + " ms"], ["Latency p99", lat.p99 == null ? "—" : Math.round(lat.p99) + " ms"]];
      $("metrics").replaceChildren(...figures.map(([k, v]) => el("div", { "data-metric": k }, [el("dt", { text: k }), el("dd", { text: String(v ?? 0) })])));
      chartSeries.push({ tp: Number(perMinute) || 0, lat: lat.p50 == null ? null : Number(lat.p50) });
      if (chartSeries.length > CHART_POINTS) chartSeries.shift();
      drawChart(perMinute, lat.p50);
    } catch (err) { /* keep the last figures */ }
  }
  let lastReading = [0, null];
  function drawChart(tpNow, latNow) {
    if (tpNow === undefined) [tpNow, latNow] = lastReading;
    lastReading = [tpNow, latNow];
    const canvas = $("chart");
    const ratio = window.devicePixelRatio || 1;
    const width = canvas.clientWidth || 600, height = canvas.clientHeight || 180;
    canvas.width = width * ratio; canvas.height = height * ratio;
    const ctx = canvas.getContext("2d");
    ctx.scale(ratio, ratio);
    const style = getComputedStyle(document.documentElement);
    const pad = { l: 36, r: 44, t: 10, b: 18 };
    const w = width - pad.l - pad.r, h = height - pad.t - pad.b;
    ctx.clearRect(0, 0, width, height);
    ctx.strokeStyle = style.getPropertyValue("--line"); ctx.lineWidth = 1;
    ctx.fillStyle = style.getPropertyValue("--muted"); ctx.font = "11px system-ui, sans-serif";
    for (let i = 0; i <= 4; i++) {
      const y = pad.t + (h * i) / 4;
      ctx.beginPath(); ctx.moveTo(pad.l, y); ctx.lineTo(pad.l + w, y); ctx.stroke();
    }
    const series = [["tp", "--tp", pad.l - 4, "right"], ["lat", "--lat", pad.l + w + 4, "left"]];
    for (const [key, colour, labelX, align] of series) {
      const values = chartSeries.map((p) => p[key]);
      const max = Math.max(1, ...values.filter((v) => v !== null));
      ctx.fillStyle = style.getPropertyValue(colour); ctx.textAlign = align;
      ctx.fillText(String(Math.round(max)), labelX, pad.t + 8); ctx.fillText("0", labelX, pad.t + h);
      ctx.strokeStyle = style.getPropertyValue(colour); ctx.lineWidth = 2; ctx.beginPath();
      let drawing = false;
      values.forEach((v, i) => {
        if (v === null) { drawing = false; return; }
        const x = pad.l + (w * i) / (CHART_POINTS - 1), y = pad.t + h - (h * v) / max;
        if (drawing) ctx.lineTo(x, y); else ctx.moveTo(x, y);
        drawing = true;
      });
      ctx.stroke();
      const lastIndex = values.length - 1;
      if (lastIndex >= 0 && values[lastIndex] !== null) { // the latest reading, as a dot
        const x = pad.l + (w * lastIndex) / (CHART_POINTS - 1), y = pad.t + h - (h * values[lastIndex]) / max;
        ctx.fillStyle = style.getPropertyValue(colour);
        ctx.beginPath(); ctx.arc(x, y, 3, 0, 2 * Math.PI); ctx.fill();
      }
    }
    canvas.setAttribute("aria-label", `Throughput and latency over the last ${chartSeries.length} readings: ` +
      `now ${tpNow || 0} confirmed per minute, latency p50 ${latNow == null ? "not measured" : Math.round(latNow) + " ms"}`);
  }

  // ---- venue prices ----------------------------------------------------------------------
  async function refreshPrices() {
    try {
      const { body } = await getJSON("/api/venues/prices");
      const rows = [];
      for (const pair of body.pairs || []) {
        const best = Math.max(...pair.venues.map((v) => Number(v.price)));
        pair.venues.forEach((v, i) => rows.push(el("tr", { className: Number(v.price) === best && pair.venues.length > 1 ? "best" : "" }, [
          el("td", { text: i === 0 ? pair.pair : "" }), el("td", { text: v.venue }),
          el("td", { className: "num", text: fmtNum(v.price, 8) }), el("td", { className: "num", text: fmtPercent(v.feeRate) })])));
      }
      $("prices-body").replaceChildren(...rows);
      $("prices-updated").textContent = body.updatedAt ? `Updated ${fmtTime(body.updatedAt)} (price of the first token in the second).`
        : "No prices published: no processor is running.";
    } catch (err) { /* keep the last prices */ }
  }

  // ---- start -----------------------------------------------------------------------------
  function start() {
    fillTokens();
    showLimitFields();
    $("orderType").addEventListener("change", showLimitFields);
    $("launch-form").addEventListener("submit", launchPool);
    $("detail-cancel").addEventListener("click", cancelSelected);
    $("order-form").addEventListener("submit", submitForm);
    for (const f of FIELDS) $(f).addEventListener("input", () => fieldEdited(f));
    for (const id of ["bulk-5", "bulk-50"]) {
      const button = $(id);
      button.addEventListener("click", () => placeMany(Number(button.dataset.count), button));
    }
    $("key-form").addEventListener("submit", (event) => {
      event.preventDefault();
      sessionStorage.setItem(KEY_ITEM, $("api-key").value.trim());
      $("key-form").hidden = true;
      const old = socket;
      socket = null;  // its close must not schedule a reconnect of its own
      if (old) old.close();
      connect();
      loadRecent(); refreshHealth(); refreshMetrics(); refreshPrices();
    });
    $("detail-close").addEventListener("click", closeDetail);
    $("detail").addEventListener("keydown", (e) => { if (e.key === "Escape") closeDetail(); });
    connect();
    loadRecent();
    refreshHealth(); refreshMetrics(); refreshPrices();
    setInterval(refreshHealth, 5000);
    setInterval(refreshMetrics, 2000);
    setInterval(refreshPrices, 2000);
    setInterval(tickElapsed, 200);
    window.addEventListener("resize", () => drawChart());
    // For tests and the curious: the live socket and the position it resumes from.
    window.oeeDashboard = {
      get socket() { return socket; },
      get lastPosition() { return lastPosition; },
      drop() { held = true; if (socket) socket.close(); },
      resume() { held = false; connect(); },
    };
  }
  start();
})();
