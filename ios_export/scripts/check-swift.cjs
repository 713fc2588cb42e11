#!/usr/bin/env node
// Swift syntax check with tree-sitter's Swift grammar (no Swift toolchain exists for this machine's Debian).
// Syntax only, not types: every file must parse with no ERROR or MISSING node, `#if canImport(...)` blocks
// included. Prints each problem as FILE:LINE:COLUMN, then one line `N passed, N failed` (files).
//   usage: node check-swift.cjs FILE.swift...   (tools: scripts/app-tools, installed by `make setup`)
const fs = require("fs");
const path = require("path");

const tools = path.resolve(__dirname, "../../scripts/app-tools/node_modules");
const Parser = require(path.join(tools, "web-tree-sitter"));
const grammar = path.join(tools, "tree-sitter-wasms/out/tree-sitter-swift.wasm");

function problems(tree) {
  const found = [];
  const walk = (node) => {
    if (node.type === "ERROR" || node.isMissing) {
      const what = node.isMissing ? `missing ${node.type}` : `cannot parse ${JSON.stringify(node.text.slice(0, 60))}`;
      found.push(`${node.startPosition.row + 1}:${node.startPosition.column + 1}: ${what}`);
      return; // its children are part of the same problem
    }
    if (node.hasError) for (const child of node.children) walk(child);
  };
  walk(tree.rootNode);
  return found;
}

(async () => {
  const files = process.argv.slice(2);
  if (files.length === 0) {
    console.error("usage: check-swift.cjs FILE.swift...");
    process.exit(2);
  }
  await Parser.init();
  const parser = new Parser();
  parser.setLanguage(await Parser.Language.load(grammar));
  let failed = 0;
  for (const file of files) {
    const found = problems(parser.parse(fs.readFileSync(file, "utf8")));
    if (found.length) {
      failed += 1;
      for (const p of found) console.log(`${file}:${p}`);
    }
  }
  console.log(`${files.length - failed} passed, ${failed} failed`);
  process.exit(failed ? 1 : 0);
})();
