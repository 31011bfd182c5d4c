// Price text as launchpad traders read it: a price with four or more zeros after the point
// shows them as a subscript count, 0.0₇28431 for 0.000000028431 (DexScreener, GeckoTerminal);
// others keep six significant digits, never an exponent. Loaded by the page and by a node test.
(function (root) {
  "use strict";
  const SUB = "₀₁₂₃₄₅₆₇₈₉";
  const sub = (n) => String(n).split("").map((d) => SUB[Number(d)]).join("");
  const plain = new Intl.NumberFormat("en-US", { maximumSignificantDigits: 6, useGrouping: false });

  function price(value) {
    const p = Number(value);
    if (!Number.isFinite(p)) return String(value);
    if (p === 0) return "0";
    if (p < 0) return "-" + price(-p);
    if (p >= 0.001) return plain.format(p);
    let zeros = -Math.floor(Math.log10(p)) - 1;  // zeros right after the point
    let mantissa = Number((p * 10 ** (zeros + 1)).toPrecision(5));  // in [1, 10]
    if (mantissa >= 10) {  // 9.99999e-9 rounds up to 1.0000e-8: one zero less
      zeros -= 1;
      mantissa /= 10;
    }
    if (zeros < 4) return plain.format(p);
    const digits = mantissa.toFixed(4).replace(".", "").replace(/0+$/, "");
    return `0.0${sub(zeros)}${digits}`;
  }

  const api = { price };
  if (typeof module !== "undefined" && module.exports) module.exports = api;
  else root.padsFormat = api;
})(typeof window !== "undefined" ? window : globalThis);
