// Check a pads-stream webhook's X-Pads-Signature (Node 18+, no dependencies).
//
//   t=<unix s>,v1=<hex HMAC-SHA256(secret, "<t>.<raw body>")>
//
// Verify the raw request body (a Buffer, e.g. express.raw({type: "application/json"})), not
// re-serialized JSON. Then drop the event if you have seen its X-Pads-Event-Id already
// (deliveries are at-least-once). From the command line:
//   WEBHOOK_SECRET=... node verify_webhook.js "<header>" < body
"use strict";
const crypto = require("crypto");

function verify(secret, header, body, now = Date.now() / 1000, tolerance = 300) {
  const fields = header.split(",").map((part) => part.trim().split("="));
  const ts = fields.filter(([k]) => k === "t").map(([, v]) => v);
  const sigs = fields.filter(([k]) => k === "v1").map(([, v]) => v || "");
  if (ts.length !== 1 || !/^\d+$/.test(ts[0]) || sigs.length === 0) return false;
  if (Math.abs(now - Number(ts[0])) > tolerance) return false;  // too old (or from the future): a replayed capture
  const expected = crypto.createHmac("sha256", secret).update(`${ts[0]}.`).update(body).digest();
  return sigs.some((s) => {
    const given = Buffer.from(s, "hex");
    return given.length === expected.length && crypto.timingSafeEqual(given, expected);
  });
}

module.exports = { verify };

if (require.main === module) {
  const chunks = [];
  process.stdin.on("data", (c) => chunks.push(c));
  process.stdin.on("end", () => {
    const ok = verify(process.env.WEBHOOK_SECRET, process.argv[2], Buffer.concat(chunks));
    console.log(ok ? "ok" : "bad signature");
    process.exit(ok ? 0 : 1);
  });
}
