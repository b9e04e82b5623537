#!/usr/bin/env node
// A native-compatible front end for solc-js (the official compiler built to WebAssembly).
//
// Native solc is on no package registry our users can reach; solc-js is on npm. Tools such as
// py-solc-x (brownie), forge and slither expect a native binary, so this script answers the
// parts of the native command line they use:
//   --version                      in the native format ("Version: 0.8.37+commit.<hash>...")
//   --standard-json                standard JSON on stdin, standard JSON on stdout
//   --combined-json KEYS FILES...  py-solc-x's compile_source / compile_files ("-" reads stdin)
// and the path options that go with them (--base-path, --include-path, --allow-paths, remappings).
// Imports are read from disk, only below the base path, include paths and allowed paths.
"use strict";

const fs = require("fs");
const path = require("path");

function fail(message, code = 1) {
  fs.writeSync(2, `solc shim: ${message}\n`);
  process.exit(code);
}

let solc;
try {
  solc = require("solc");
} catch (err) {
  fail("the npm package 'solc' is not installed next to this shim; run `make setup` (npm ci).");
}

// Large outputs must be written synchronously: process.stdout on a pipe is asynchronous and
// process.exit() would cut them.
function writeOut(text) {
  const buffer = Buffer.from(text, "utf8");
  let offset = 0;
  while (offset < buffer.length) {
    try {
      offset += fs.writeSync(1, buffer, offset, buffer.length - offset);
    } catch (err) {
      if (err.code !== "EAGAIN") throw err;
    }
  }
}

function readStdin() {
  const chunks = [];
  const buffer = Buffer.alloc(1 << 16);
  for (;;) {
    let n;
    try {
      n = fs.readSync(0, buffer, 0, buffer.length, null);
    } catch (err) {
      if (err.code === "EAGAIN") continue;
      if (err.code === "EOF") break;
      throw err;
    }
    if (n === 0) break;
    chunks.push(Buffer.from(buffer.subarray(0, n)));
  }
  return Buffer.concat(chunks).toString("utf8");
}

function nativeVersion() {
  // solc-js reports e.g. "0.8.37+commit.abcdef12.Emscripten.clang"; tools parse the part up to
  // the commit hash, so keep it and name the platform honestly.
  return solc.version();
}

function parseArgs(argv) {
  const opts = {
    mode: null,
    combined: null,
    files: [],
    remappings: [],
    basePath: null,
    includePaths: [],
    allowPaths: [],
    optimize: false,
    optimizeRuns: 200,
    evmVersion: null,
    viaIR: false,
    outputDir: null,
  };
  const valueOf = (i, name) => {
    if (i + 1 >= argv.length) fail(`option ${name} needs a value`);
    return argv[i + 1];
  };
  for (let i = 0; i < argv.length; i++) {
    let arg = argv[i];
    let inline = null;
    if (arg.startsWith("--") && arg.includes("=")) {
      inline = arg.slice(arg.indexOf("=") + 1);
      arg = arg.slice(0, arg.indexOf("="));
    }
    const take = (name) => {
      if (inline !== null) return inline;
      const v = valueOf(i, name);
      i += 1;
      return v;
    };
    switch (arg) {
      case "--version":
      case "-v":
        opts.mode = opts.mode || "version";
        break;
      case "--help":
      case "-h":
        opts.mode = "help";
        break;
      case "--standard-json":
        opts.mode = "standard-json";
        break;
      case "--combined-json":
        opts.mode = "combined-json";
        opts.combined = take(arg).split(",").filter(Boolean);
        break;
      case "--base-path":
        opts.basePath = take(arg);
        break;
      case "--include-path":
        opts.includePaths.push(take(arg));
        break;
      case "--allow-paths":
        opts.allowPaths.push(...take(arg).split(",").filter(Boolean));
        break;
      case "--optimize":
        opts.optimize = true;
        break;
      case "--optimize-runs":
        opts.optimizeRuns = Number(take(arg));
        break;
      case "--evm-version":
        opts.evmVersion = take(arg);
        break;
      case "--via-ir":
      case "--experimental-via-ir":
        opts.viaIR = true;
        break;
      case "--output-dir":
      case "-o":
        opts.outputDir = take(arg);
        break;
      case "--overwrite":
      case "--pretty-json":
      case "--json-indent":
      case "--no-color":
      case "--color":
        break;
      default:
        if (arg.startsWith("--")) {
          fail(`option ${arg} is not supported by the solc-js shim`);
        }
        if (arg !== "-" && arg.includes("=") && !fs.existsSync(arg)) {
          opts.remappings.push(arg);
        } else {
          opts.files.push(arg);
        }
    }
  }
  return opts;
}

function makeImportReader(opts) {
  const base = path.resolve(opts.basePath || process.cwd());
  const roots = [base, ...opts.includePaths.map((p) => path.resolve(p))];
  const allowed = [...roots, ...opts.allowPaths.map((p) => path.resolve(p))].map((p) => {
    try {
      return fs.realpathSync(p);
    } catch (err) {
      return p;
    }
  });
  const isAllowed = (file) => allowed.some((root) => file === root || file.startsWith(root + path.sep));
  return (importPath) => {
    const candidates = path.isAbsolute(importPath)
      ? [importPath]
      : roots.map((root) => path.join(root, importPath));
    for (const candidate of candidates) {
      let real;
      try {
        real = fs.realpathSync(candidate);
      } catch (err) {
        continue;
      }
      if (!isAllowed(real)) {
        return { error: `${importPath} is outside the allowed paths (${allowed.join(", ")})` };
      }
      return { contents: fs.readFileSync(real, "utf8") };
    }
    return { error: `file ${importPath} not found below ${roots.join(", ")}` };
  };
}

function compileStandard(inputText, opts) {
  let input;
  try {
    input = JSON.parse(inputText);
  } catch (err) {
    // Native solc answers a malformed input with a JSON error, not a crash.
    return JSON.stringify({
      errors: [{ component: "general", formattedMessage: `Invalid JSON input: ${err.message}`,
        message: `Invalid JSON input: ${err.message}`, severity: "error", type: "JSONError" }],
    });
  }
  // Sources given by "urls" are read from disk, like native solc does.
  const reader = makeImportReader(opts);
  for (const [name, source] of Object.entries(input.sources || {})) {
    if (source.content === undefined && Array.isArray(source.urls)) {
      for (const url of source.urls) {
        const found = reader(url);
        if (found.contents !== undefined) {
          source.content = found.contents;
          delete source.urls;
          break;
        }
      }
      if (source.content === undefined) {
        source.content = reader(name).contents;
        delete source.urls;
      }
    }
  }
  return solc.compile(JSON.stringify(input), { import: reader });
}

const COMBINED_OUTPUTS = {
  abi: ["abi"],
  bin: ["evm.bytecode.object"],
  "bin-runtime": ["evm.deployedBytecode.object"],
  hashes: ["evm.methodIdentifiers"],
  metadata: ["metadata"],
  userdoc: ["userdoc"],
  devdoc: ["devdoc"],
  opcodes: ["evm.bytecode.opcodes"],
  srcmap: ["evm.bytecode.sourceMap"],
  "srcmap-runtime": ["evm.deployedBytecode.sourceMap"],
  asm: ["evm.legacyAssembly"],
  "storage-layout": ["storageLayout"],
  "generated-sources": ["evm.bytecode.generatedSources"],
  "generated-sources-runtime": ["evm.deployedBytecode.generatedSources"],
};

function pick(object, dotted) {
  return dotted.split(".").reduce((acc, key) => (acc === undefined ? undefined : acc[key]), object);
}

function compileCombined(opts) {
  const sources = {};
  for (const file of opts.files) {
    if (file === "-") {
      sources["<stdin>"] = { content: readStdin() };
    } else {
      if (!fs.existsSync(file)) fail(`"${file}" is not found.`);
      sources[file] = { content: fs.readFileSync(file, "utf8") };
    }
  }
  if (Object.keys(sources).length === 0) fail("no input files given");
  const unknown = opts.combined.filter((key) => key !== "ast" && !(key in COMBINED_OUTPUTS));
  if (unknown.length) fail(`--combined-json output ${unknown.join(", ")} is not supported by the shim`);
  const selection = opts.combined.flatMap((key) => COMBINED_OUTPUTS[key] || []);
  const settings = {
    optimizer: { enabled: opts.optimize, runs: opts.optimizeRuns },
    outputSelection: { "*": { "*": selection, "": opts.combined.includes("ast") ? ["ast"] : [] } },
    remappings: opts.remappings,
  };
  if (opts.evmVersion) settings.evmVersion = opts.evmVersion;
  if (opts.viaIR) settings.viaIR = true;
  const output = JSON.parse(compileStandard(JSON.stringify({ language: "Solidity", sources, settings }), opts));
  const errors = (output.errors || []).filter((e) => e.severity === "error");
  for (const e of output.errors || []) fs.writeSync(2, (e.formattedMessage || e.message) + "\n");
  if (errors.length) process.exit(1);

  const combined = { contracts: {}, version: nativeVersion() };
  for (const [file, contracts] of Object.entries(output.contracts || {})) {
    for (const [name, data] of Object.entries(contracts)) {
      const entry = {};
      for (const key of opts.combined) {
        if (key === "ast") continue;
        const value = pick(data, COMBINED_OUTPUTS[key][0]);
        entry[key] = value === undefined ? "" : value;
      }
      combined.contracts[`${file}:${name}`] = entry;
    }
  }
  if (opts.combined.includes("ast")) {
    combined.sourceList = Object.keys(output.sources || {});
    combined.sources = {};
    for (const [file, data] of Object.entries(output.sources || {})) {
      combined.sources[file] = { AST: data.ast };
    }
  }
  return JSON.stringify(combined);
}

function main() {
  const opts = parseArgs(process.argv.slice(2));
  switch (opts.mode) {
    case "version":
      writeOut(`solc, the solidity compiler commandline interface\nVersion: ${nativeVersion()}\n`);
      return;
    case "help":
      writeOut("solc-js shim: supports --version, --standard-json and --combined-json\n");
      return;
    case "standard-json":
      writeOut(compileStandard(readStdin(), opts) + "\n");
      return;
    case "combined-json":
      writeOut(compileCombined(opts) + "\n");
      return;
    default:
      fail("nothing to do: use --version, --standard-json or --combined-json", 1);
  }
}

main();
