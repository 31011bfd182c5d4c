// The live chart page: token list, candles + volume (lightweight-charts), interval switcher,
// trades tape. History from this API; live updates from the Node backend's socket.io rooms
// candles:<token>:<interval> and trades:<token>.
//
// lightweight-charts' rules: series.update() only for the last bar or a newer one. A
// correction of an older bar, or a deleted bucket, reloads the series from the API; an older
// bar that only turned final is replaced locally and the series set again. Provisional bars
// (final: false) are drawn hollow in amber. After a reconnect the page refetches from its
// last bar (from its oldest provisional bar, if older). Every name, symbol and address goes into the page as text (textContent), never HTML.
(() => {
  "use strict";
  const LC = window.LightweightCharts;
  const qs = new URLSearchParams(location.search);
  if (qs.get("key")) localStorage.setItem("padsApiKey", qs.get("key"));
  const apiKey = localStorage.getItem("padsApiKey") || "";
  const HISTORY_BARS = 500;
  const TAPE_ROWS = 60;
  const UP = "#26a69a", DOWN = "#ef5350", PROVISIONAL = "#f0b90b";

  const $ = (id) => document.getElementById(id);
  const el = (tag, cls, text) => {
    const e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined) e.textContent = String(text);
    return e;
  };

  const state = {
    config: null, token: qs.get("token"), interval: qs.get("interval"), raw: [], ready: false,
    pending: [], loads: 0, reloads: 0, refetches: 0, updates: 0, setDatas: 0, connects: 0, lastLiveAt: null, errors: [],
    tokens: [], socket: null, rooms: [],
  };

  async function api(path) {
    const r = await fetch(path, { headers: apiKey ? { "X-API-Key": apiKey } : {} });
    const body = await r.json();
    if (!r.ok) throw new Error(body.error || `HTTP ${r.status}`);
    return body;
  }

  function note(err) {
    state.errors.push(String(err));
    $("status").textContent = `error: ${err}`;
  }

  // ---- chart ----
  const chart = LC.createChart($("chart"), {
    autoSize: true,
    layout: { background: { color: "#0f1117" }, textColor: "#d8dbe2" },
    grid: { vertLines: { color: "#1a1d25" }, horzLines: { color: "#1a1d25" } },
    timeScale: { timeVisible: true, secondsVisible: false, barSpacing: 10, rightOffset: 4 },
  });
  const fmtPrice = window.padsFormat.price;  // 0.0₇28431, as traders read launchpad prices
  const candles = chart.addSeries(LC.CandlestickSeries, {
    upColor: UP, downColor: DOWN, borderUpColor: UP, borderDownColor: DOWN, wickUpColor: UP, wickDownColor: DOWN,
    priceFormat: { type: "custom", formatter: fmtPrice, minMove: 1e-12 },
  });
  // An overlay: its last value and price line would sit on the price axis as if they were prices.
  const volume = chart.addSeries(LC.HistogramSeries, { priceFormat: { type: "volume" }, priceScaleId: "",
    lastValueVisible: false, priceLineVisible: false });
  volume.priceScale().applyOptions({ scaleMargins: { top: 0.8, bottom: 0 } });

  function toBar(c) {
    const bar = { time: c.t, open: Number(c.open), high: Number(c.high), low: Number(c.low), close: Number(c.close) };
    if (!c.final) {
      // provisional: hollow amber body, so it reads differently from every final bar
      Object.assign(bar, { color: "rgba(0,0,0,0)", borderColor: PROVISIONAL, wickColor: PROVISIONAL });
    }
    return bar;
  }
  function toVolume(c) {
    const up = Number(c.close) >= Number(c.open);
    const color = !c.final ? "rgba(240,185,11,0.45)" : up ? "rgba(38,166,154,0.5)" : "rgba(239,83,80,0.5)";
    return { time: c.t, value: Number(c.volume_token) / 1e18, color };
  }
  function setAll() {
    candles.setData(state.raw.map(toBar));
    volume.setData(state.raw.map(toVolume));
    state.setDatas += 1;
    const last = state.raw[state.raw.length - 1];
    if (last) {
      const p = Number(last.close);
      const minMove = p > 0 ? Math.pow(10, Math.floor(Math.log10(p)) - 5) : 1e-12;
      candles.applyOptions({ priceFormat: { type: "custom", formatter: fmtPrice, minMove } });
    }
  }
  function appendOrUpdateLast(c) {
    candles.update(toBar(c));
    volume.update(toVolume(c));
  }

  // ---- history ----
  async function load() {
    const token = state.token, interval = state.interval;
    state.ready = false;
    state.loads += 1;
    const n = Math.min(HISTORY_BARS, state.config.max_bars);
    const body = await api(`/v1/tokens/${token}/candles?interval=${interval}&countback=${n}`);
    if (token !== state.token || interval !== state.interval) return; // switched meanwhile
    state.raw = body.candles;
    setAll();
    if (state.raw.length < 60) chart.timeScale().fitContent(); else chart.timeScale().scrollToRealTime();
    state.ready = true;
    const queued = state.pending;
    state.pending = [];
    for (const m of queued) onCandle(m, true);
  }
  function reload(reason) {
    state.reloads += 1;
    console.info(`reloading ${state.token} ${state.interval}: ${reason}`);
    load().catch(note);
  }
  async function refetchFromLast() {
    // After a reconnect: everything from the last bar on, so no bar pushed meanwhile is missed,
    // and from the oldest provisional bar if it is older: only provisional bars can still change
    // (a final bar whose bucket has closed never does), and their pushes were missed too.
    const raw = state.raw;
    if (!raw.length) return reload("reconnected with no bars");
    const from = (raw.find((c) => !c.final) || raw[raw.length - 1]).t;
    const token = state.token, interval = state.interval;
    const body = await api(`/v1/tokens/${token}/candles?interval=${interval}&from=${from}`);
    if (token !== state.token || interval !== state.interval) return;
    // A full page is the newest bars from `from` on, not all of them: after a long outage the
    // bars between would be missing. Load the series again instead.
    if (body.candles.length >= state.config.max_bars) return reload("reconnected after more than a page of bars");
    state.raw = raw.filter((c) => c.t < from).concat(body.candles);
    setAll(); // may change bars before the last one: update() cannot
    state.refetches += 1;
    loadTrades().catch(note);
  }

  // ---- live ----
  function onCandle(m, buffered = false) {
    if (m.token !== state.token || m.interval !== state.interval || !m.candle) return;
    if (!state.ready) { state.pending.push(m); return; }
    const c = m.candle, raw = state.raw, last = raw[raw.length - 1];
    state.lastLiveAt = Date.now();
    if (m.deleted) return reload(`bucket ${c.t} deleted by a reorg`);
    if (!last || c.t > last.t) {
      raw.push(c);
      appendOrUpdateLast(c);
    } else if (c.t === last.t) {
      if (buffered && !m.correction && last.trades > c.trades) return; // older than what the load read
      raw[raw.length - 1] = c;
      appendOrUpdateLast(c);
    } else if (m.correction) {
      return reload(`correction of the older bar ${c.t}`);
    } else {
      // an older bar turning final (or a late push): update() cannot change it, so set the series again
      const i = raw.findIndex((b) => b.t >= c.t);
      if (buffered && raw[i] && raw[i].t === c.t && raw[i].trades > c.trades) return;
      if (raw[i] && raw[i].t === c.t) raw[i] = c; else raw.splice(i, 0, c);
      setAll();
    }
    state.updates += 1;
  }

  function tradeRow(t) {
    const tr = el("tr");
    tr.dataset.key = `${t.block_number}:${t.log_index}`;
    // Block time in UTC; the date too when it is not today's (a tape reopened later reads right).
    const iso = new Date(t.block_timestamp * 1000).toISOString();
    const today = new Date().toISOString().slice(0, 10);
    const when = iso.slice(0, 10) === today ? iso.slice(11, 19) : `${iso.slice(5, 10)} ${iso.slice(11, 19)}`;
    tr.title = iso.replace("T", " ").slice(0, 19) + " UTC";
    tr.append(el("td", "", when),
      el("td", t.is_buy ? "buy" : "sell", t.is_buy ? "buy" : "sell"),
      el("td", "", fmtPrice(t.price)),
      el("td", "", (Number(t.token_amount) / 1e18).toFixed(2)),
      el("td", "", `${String(t.trader).slice(0, 8)}…`));
    return tr;
  }
  function onTrade(t) {
    if (t.token !== state.token) return;
    const body = $("trades");
    if (t.removed) {
      for (const tr of body.querySelectorAll("tr")) {
        if (tr.dataset.key === `${t.block_number}:${t.log_index}`) tr.remove();
      }
      return;
    }
    body.prepend(tradeRow(t));
    while (body.children.length > TAPE_ROWS) body.lastChild.remove();
  }
  async function loadTrades() {
    const token = state.token;
    const body = await api(`/v1/tokens/${token}/trades?limit=${TAPE_ROWS}`);
    if (token !== state.token) return;
    $("trades").replaceChildren(...body.trades.map(tradeRow));
  }

  function subscribe() {
    const s = state.socket;
    if (!s || !s.connected) return;
    for (const room of state.rooms) s.emit("unsubscribe", room);
    state.rooms = [`candles:${state.token}:${state.interval}`, `trades:${state.token}`];
    for (const room of state.rooms) s.emit("subscribe", room);
  }
  function connect() {
    if (!state.config.push_url) { $("status").textContent = "no live updates (API_PUSH_URL unset)"; return; }
    const s = io(state.config.push_url, { transports: ["websocket"] });
    state.socket = s;
    s.on("connect", () => {
      state.connects += 1;
      state.rooms = [];
      subscribe(); // rooms do not survive a reconnect
      $("status").textContent = "live";
      $("status").className = "status live";
      if (state.connects > 1 && state.ready) refetchFromLast().catch(note);
    });
    s.on("disconnect", () => { $("status").textContent = "reconnecting"; $("status").className = "status down"; });
    s.on("candle", (m) => onCandle(m));
    s.on("trade", onTrade);
    s.on("subscribe_error", (e) => note(`subscribe ${e.room}: ${e.error}`));
  }

  // ---- token list and switching ----
  function renderTokens() {
    const ul = $("tokens");
    ul.replaceChildren(...state.tokens.map(({ token, market }) => {
      const li = el("li", token === state.token ? "active" : "");
      li.dataset.token = token;
      li.append(el("span", "sym", market.symbol || token.slice(0, 10)), el("span", "name", market.name || ""),
        el("span", "price", market.price ? `${fmtPrice(market.price)} ETH` : "no trade yet"));
      li.addEventListener("click", () => select(token, state.interval));
      return li;
    }));
  }
  async function loadTokens() {
    const body = await api("/v1/tokens?sort=created&limit=100");
    state.tokens = body.tokens;
    renderTokens();
  }
  function renderTitle() {
    const m = (state.tokens.find((t) => t.token === state.token) || {}).market || {};
    $("title").textContent = `${m.symbol || ""} ${m.name ? `(${m.name})` : ""} ${state.token || ""} · ${state.interval}`;
    for (const b of $("intervals").children) b.classList.toggle("active", b.dataset.interval === state.interval);
  }
  async function select(token, interval) {
    state.token = token;
    state.interval = interval;
    state.pending = [];
    history.replaceState(null, "", `?token=${token}&interval=${interval}`);
    renderTokens();
    renderTitle();
    subscribe();
    await Promise.all([load(), loadTrades()]);
  }

  async function start() {
    state.config = await api("/v1/config");
    if (!state.config.intervals.includes(state.interval)) state.interval = state.config.intervals[0];
    $("intervals").replaceChildren(...state.config.intervals.map((iv) => {
      const b = el("button", "", iv);
      b.dataset.interval = iv;
      b.addEventListener("click", () => select(state.token, iv).catch(note));
      return b;
    }));
    await loadTokens();
    if (!state.token && state.tokens.length) state.token = state.tokens[0].token;
    connect();
    if (state.token) await select(state.token, state.interval);
    setInterval(() => loadTokens().then(renderTitle).catch(note), 5000);
  }

  // What tests (and curious users) read back: the series as drawn, and the page's counters.
  window.padsChart = {
    get token() { return state.token; },
    get interval() { return state.interval; },
    get ready() { return state.ready; },
    get stats() {
      return { loads: state.loads, reloads: state.reloads, refetches: state.refetches, updates: state.updates, setDatas: state.setDatas,
        connects: state.connects, lastLiveAt: state.lastLiveAt, errors: state.errors.slice() };
    },
    bars: () => candles.data().map((b) => ({ ...b })),
    volumes: () => volume.data().map((b) => ({ ...b })),
    raw: () => state.raw.map((c) => ({ ...c })),
    tokens: () => state.tokens.map((t) => t.token),
    select: (token, interval) => select(token, interval || state.interval),
    socket: () => state.socket,
  };

  start().catch(note);
})();
