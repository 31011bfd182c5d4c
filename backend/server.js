// Reference Node.js backend: the socket.io peer that pads-stream's sink pushes to.
//
// - Namespace /listener accepts only clients whose handshake carries
//   auth.token equal to BACKEND_SOCKET_TOKEN (compared in constant time); others get a connect_error
//   "unauthorized". Frames are limited to BACKEND_MAX_FRAME_BYTES (4 MB; the largest the worker sends is ~1.5 MB).
// - Events "candle", "trade" and "market" carry an array of messages (a single message is accepted too).
// - It keeps the last BACKEND_KEEP_EVENTS to 1.25x that many of each event it receives and relays it to browsers on the default namespace,
//   room "candles:<token>:<interval>" / "trades:<token>" / "market:<token>".
// - Browsers (default namespace) emit "subscribe"/"unsubscribe" with a room name. Only
//   "candles:<0x address>:<interval>" with an interval of OHLCV_INTERVALS, "trades:<0x address>" and "market:<0x address>"
//   (lower-case hex, as the worker sends) are accepted, at most BACKEND_MAX_ROOMS per connection;
//   anything else is refused with a "subscribe_error" event (and the ack, if one is given).
// - Events "alert" and "alert_retracted" carry alert events (docs/alerts-design.md, a single event or an
//   array) and are relayed to room "alerts:<data.owner>". A browser joins that room by subscribing to
//   "alerts:<owner>:<token>", token = hex HMAC-SHA256(ALERT_ROOM_SECRET, owner) (the API issues it); the
//   socket joins "alerts:<owner>", the token is never a room name. Without ALERT_ROOM_SECRET every
//   alert room is refused.
// - HTTP: GET /health, GET /stats. Only with BACKEND_TEST_ENDPOINTS=1 (the tests and benchmarks):
//   GET /received?event=candle|trade|market&token=&interval=&limit= and POST /reset.
const crypto = require("crypto");
const http = require("http");
const { Server } = require("socket.io");

const PORT = Number(process.env.PORT || 3001);
const HOST = process.env.HOST || "127.0.0.1";
const TOKEN = process.env.BACKEND_SOCKET_TOKEN || "";
const KEEP = Number(process.env.BACKEND_KEEP_EVENTS || 200000);
const MAX_ROOMS = Number(process.env.BACKEND_MAX_ROOMS || 20);
const TEST_ENDPOINTS = process.env.BACKEND_TEST_ENDPOINTS === "1";
// The worker sends at most 500 messages per event; 500 market snapshots of ~3 KB are the
// largest frame, about 1.5 MB. Browsers send only room joins.
const MAX_FRAME = Number(process.env.BACKEND_MAX_FRAME_BYTES || 4e6);
// Alert rooms carry one user's alerts: only a browser holding HMAC(ALERT_ROOM_SECRET, owner) joins.
const ALERT_SECRET = process.env.ALERT_ROOM_SECRET || "";
// Owners are user names from the launchpad backend; no ":" so "alerts:<owner>:<token>" splits one way.
const ALERT_ROOM = /^alerts:([A-Za-z0-9_.@-]{1,64})(?::([0-9a-f]{64}))?$/;

// Interval labels as the worker writes them: "60m" -> "1h", "24h" -> "1d" (see candles/intervals.py).
const UNITS = { s: 1, m: 60, h: 3600, d: 86400 };
function intervalLabel(text) {
  const m = /^([0-9]+)([smhd])$/.exec(text.trim());
  if (!m) return null;
  const seconds = Number(m[1]) * UNITS[m[2]];
  for (const [unit, size] of [["d", 86400], ["h", 3600], ["m", 60]]) {
    if (seconds % size === 0) return `${seconds / size}${unit}`;
  }
  return `${seconds}s`;
}
// Unset: every interval the worker folds by default (a superset does no harm: rooms nobody feeds stay quiet).
const INTERVALS = new Set(
  (process.env.OHLCV_INTERVALS || "1s,15s,30s,1m,5m,15m,1h,4h,1d").split(",").map(intervalLabel).filter(Boolean),
);
const ROOM = /^(?:candles:0x[0-9a-f]{40}:([0-9]+[smhd])|trades:0x[0-9a-f]{40}|market:0x[0-9a-f]{40})$/;

// Constant time, over digests of equal length whatever was sent.
function alertTokenMatches(owner, given) {
  const expected = crypto.createHmac("sha256", ALERT_SECRET).update(owner).digest("hex");
  const a = crypto.createHash("sha256").update(String(given ?? "")).digest();
  const b = crypto.createHash("sha256").update(expected).digest();
  return crypto.timingSafeEqual(a, b);
}

// The room an "alerts:<owner>:<token>" subscription joins, or why it may not.
function alertRoom(socket, room) {
  if (!ALERT_SECRET) return { error: "alert rooms are off (ALERT_ROOM_SECRET is not set)" };
  const m = ALERT_ROOM.exec(room);
  if (!m) return { error: "room must be alerts:<owner>:<token>" };
  if (!m[2] || !alertTokenMatches(m[1], m[2])) return { error: "bad token for alerts:" + m[1] };
  const joined = `alerts:${m[1]}`;
  if (!socket.rooms.has(joined) && socket.rooms.size - 1 >= MAX_ROOMS) return { error: `at most ${MAX_ROOMS} rooms` };
  return { room: joined };
}

// Why a browser may not join `room`, or null when it may.
function roomRefusal(socket, room) {
  if (typeof room !== "string" || room.length > 100) return "not a room name";
  const m = ROOM.exec(room);
  if (!m) return "room must be candles:<0x address>:<interval>, trades:<0x address> or market:<0x address>";
  if (m[1] !== undefined && !INTERVALS.has(m[1])) return `unknown interval ${m[1]}`;
  if (!socket.rooms.has(room) && socket.rooms.size - 1 >= MAX_ROOMS) return `at most ${MAX_ROOMS} rooms`;
  return null;
}

if (!TOKEN) {
  console.error("BACKEND_SOCKET_TOKEN is required");
  process.exit(2);
}

const received = { candle: [], trade: [], market: [], alert: [], alert_retracted: [] };
const counts = { candle: 0, trade: 0, market: 0, alert: 0, alert_retracted: 0, corrections: 0, listenerConnects: 0,
  refused: 0 };

// Trimmed in steps of a quarter: trimming to KEEP at every push moved the whole array once
// per message, and past KEEP events the backend took the push slower than a worker sent it.
const TRIM_AT = KEEP + Math.max(1, Math.floor(KEEP / 4));

function keep(kind, payload) {
  const list = received[kind];
  list.push({ at: Date.now(), payload });
  if (list.length > TRIM_AT) list.splice(0, list.length - KEEP);
  counts[kind] += 1;
}

const server = http.createServer((req, res) => {
  const url = new URL(req.url, `http://${req.headers.host}`);
  const send = (code, body) => {
    res.writeHead(code, { "Content-Type": "application/json" });
    res.end(JSON.stringify(body));
  };
  if (url.pathname === "/health") return send(200, { ok: true });
  if (url.pathname === "/stats") {
    return send(200, { ...counts, listeners: listener.sockets.size });
  }
  if (url.pathname === "/reset" && req.method === "POST" && TEST_ENDPOINTS) {
    for (const list of Object.values(received)) list.length = 0;
    for (const k of Object.keys(counts)) counts[k] = 0;
    return send(200, { ok: true });
  }
  if (url.pathname === "/received" && TEST_ENDPOINTS) {
    const kind = url.searchParams.get("event") || "candle";
    const token = url.searchParams.get("token");
    const interval = url.searchParams.get("interval");
    const limit = Number(url.searchParams.get("limit") || 100000);
    let items = received[kind] || [];
    if (token) items = items.filter((e) => e.payload.token === token);
    if (interval) items = items.filter((e) => e.payload.interval === interval);
    return send(200, items.slice(-limit));
  }
  send(404, { error: "not found" });
});

const io = new Server(server, { cors: { origin: "*" }, maxHttpBufferSize: MAX_FRAME });

// Constant time: a listener learns nothing of the token from how fast it is refused.
// Digests first: equal lengths whatever was sent, so not even the token's length shows.
const TOKEN_DIGEST = crypto.createHash("sha256").update(TOKEN).digest();
function tokenMatches(given) {
  const digest = crypto.createHash("sha256").update(String(given ?? "")).digest();
  return TOKEN.length > 0 && crypto.timingSafeEqual(digest, TOKEN_DIGEST);
}
const listener = io.of("/listener");

listener.use((socket, next) => {
  const auth = socket.handshake.auth || {};
  if (!tokenMatches(auth.token)) {
    counts.refused += 1;
    console.warn(`refused listener from ${socket.handshake.address}: bad token`);
    return next(new Error("unauthorized"));
  }
  next();
});

listener.on("connection", (socket) => {
  counts.listenerConnects += 1;
  console.log(`listener connected ${socket.id}`);
  socket.on("candle", (msg, ack) => {
    for (const m of Array.isArray(msg) ? msg : [msg]) {
      keep("candle", m);
      if (m.correction) counts.corrections += 1;
      io.to(`candles:${m.token}:${m.interval}`).emit("candle", m);
    }
    if (typeof ack === "function") ack(true);
  });
  socket.on("trade", (msg, ack) => {
    for (const m of Array.isArray(msg) ? msg : [msg]) {
      keep("trade", m);
      io.to(`trades:${m.token}`).emit("trade", m);
    }
    if (typeof ack === "function") ack(true);
  });
  socket.on("market", (msg, ack) => {
    for (const m of Array.isArray(msg) ? msg : [msg]) {
      keep("market", m);
      io.to(`market:${m.token}`).emit("market", m);
    }
    if (typeof ack === "function") ack(true);
  });
  for (const kind of ["alert", "alert_retracted"]) {
    socket.on(kind, (msg, ack) => {
      for (const m of Array.isArray(msg) ? msg : [msg]) {
        const owner = m && m.data && m.data.owner;
        if (typeof owner !== "string" || !ALERT_ROOM.test(`alerts:${owner}`)) continue;  // no room to go to
        keep(kind, m);
        io.to(`alerts:${owner}`).emit(kind, m);
      }
      if (typeof ack === "function") ack(true);
    });
  }
  socket.on("disconnect", (reason) => console.log(`listener ${socket.id} gone: ${reason}`));
});

io.on("connection", (socket) => {
  socket.on("subscribe", (room, ack) => {
    let refusal, joined = room;
    if (typeof room === "string" && room.startsWith("alerts:") && room.length <= 200) {
      ({ error: refusal = null, room: joined } = alertRoom(socket, room));
    } else {
      refusal = roomRefusal(socket, room);
    }
    if (refusal) {
      // Never echo a token back: the room as sent may hold one.
      const shown = typeof room === "string" ? room.replace(/:[0-9a-f]{64}$/, ":***").slice(0, 100) : null;
      socket.emit("subscribe_error", { room: shown, error: refusal });
    } else {
      socket.join(joined);
    }
    if (typeof ack === "function") ack(refusal ? { ok: false, error: refusal } : { ok: true });
  });
  socket.on("unsubscribe", (room) => typeof room === "string" && socket.leave(room.replace(/^(alerts:[^:]+):.*$/, "$1")));
});

server.listen(PORT, HOST, () => console.log(`backend listening on http://${HOST}:${PORT}`));
for (const sig of ["SIGTERM", "SIGINT"]) {
  process.on(sig, () => {
    io.close();
    server.close(() => process.exit(0));
    setTimeout(() => process.exit(0), 2000).unref();
  });
}
