// Compiles contracts/src and contracts/test with the npm `solc` (WebAssembly, offline) into
// contracts/artifacts/<Contract>.json = {contractName, abi, bytecode}. Artifacts are
// generated, never edited by hand.
const fs = require("fs");
const path = require("path");
const solc = require("solc");

const here = __dirname;
const sources = {};
for (const dir of ["src", "test"]) {
  for (const f of fs.readdirSync(path.join(here, dir)).filter((f) => f.endsWith(".sol"))) {
    sources[f] = { content: fs.readFileSync(path.join(here, dir, f), "utf8") };
  }
}
const input = {
  language: "Solidity",
  sources,
  settings: {
    optimizer: { enabled: true, runs: 200 },
    evmVersion: "cancun",
    outputSelection: { "*": { "*": ["abi", "evm.bytecode.object"] } },
  },
};
const findImports = (p) => {
  for (const dir of ["src", "test"]) {
    const full = path.join(here, dir, p.replace(/^\.\//, ""));
    if (fs.existsSync(full)) return { contents: fs.readFileSync(full, "utf8") };
  }
  return { error: `not found: ${p}` };
};
const out = JSON.parse(solc.compile(JSON.stringify(input), { import: findImports }));
const errors = (out.errors || []).filter((e) => e.severity === "error");
for (const e of out.errors || []) console.error(e.formattedMessage);
if (errors.length) process.exit(1);

const dest = path.join(here, "artifacts");
fs.mkdirSync(dest, { recursive: true });
let n = 0;
for (const [file, contracts] of Object.entries(out.contracts)) {
  for (const [name, c] of Object.entries(contracts)) {
    const artifact = { contractName: name, sourceFile: file, compiler: solc.version(), abi: c.abi,
      bytecode: "0x" + c.evm.bytecode.object };
    fs.writeFileSync(path.join(dest, `${name}.json`), JSON.stringify(artifact, null, 2) + "\n");
    n++;
  }
}
console.log(`compiled ${n} contracts with solc ${solc.version()} into ${dest}`);
