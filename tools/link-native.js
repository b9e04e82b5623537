#!/usr/bin/env node
// Links the native binaries that the npm packages of Foundry ship (anvil, forge) into .tools/bin.
//
// node_modules/.bin/anvil is a Node wrapper that spawns the real binary: a signal sent to the
// wrapper (kill -9 in particular) leaves anvil running and holding its port. Brownie and our own
// launchers start the binary itself, found first on PATH in .tools/bin.
"use strict";
const fs = require("fs");
const path = require("path");

const ARCH = { x64: "amd64", arm64: "arm64" };
const root = path.resolve(__dirname, "..");
const binDir = path.join(root, ".tools", "bin");
fs.mkdirSync(binDir, { recursive: true });

for (const tool of ["anvil", "forge"]) {
  const arch = ARCH[process.arch];
  const pkg = `@foundry-rs/${tool}-${process.platform}-${arch}`;
  let pkgJson;
  try {
    pkgJson = require.resolve(`${pkg}/package.json`, { paths: [root] });
  } catch (err) {
    console.error(`link-native: ${pkg} is not installed (platform ${process.platform}/${process.arch}); run npm ci`);
    process.exit(1);
  }
  const binary = path.join(path.dirname(pkgJson), "bin", tool);
  if (!fs.existsSync(binary)) {
    console.error(`link-native: ${binary} is missing from ${pkg}`);
    process.exit(1);
  }
  const link = path.join(binDir, tool);
  fs.rmSync(link, { force: true });
  fs.symlinkSync(binary, link);
  console.log(`link-native: ${path.relative(root, link)} -> ${path.relative(root, binary)}`);
}
