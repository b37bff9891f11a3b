#!/usr/bin/env node
// Compiles the WebAssembly text files of this folder into TypeScript modules holding their
// bytes (base64), so the gateway loads them synchronously from src/ and dist/ alike:
//   npm run build:wasm            (rewrites <name>.wasm.ts next to each <name>.wat)
//   node src/protocol/wasm/build.mjs --check   (exits 1 when a committed module is stale)
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import wabtInit from 'wabt';

const folder = new URL('./', import.meta.url);
const check = process.argv.includes('--check');
const wabt = await wabtInit();

/** The TypeScript module for one .wat file. */
function moduleText(name, source) {
  const parsed = wabt.parseWat(`${name}.wat`, source, { simd: true, bulk_memory: true });
  try {
    parsed.validate();
    const { buffer } = parsed.toBinary({});
    const base64 = Buffer.from(buffer).toString('base64');
    return `// Generated from ${name}.wat by \`npm run build:wasm\`; do not edit.\nexport const WASM_BASE64 =\n  '${base64}';\n`;
  } finally {
    parsed.destroy();
  }
}

let stale = 0;
for (const file of readdirSync(folder).filter((entry) => entry.endsWith('.wat'))) {
  const name = file.slice(0, -'.wat'.length);
  const target = new URL(`${name}.wasm.ts`, folder);
  const text = moduleText(name, readFileSync(new URL(file, folder), 'utf8'));
  let current = '';
  try {
    current = readFileSync(target, 'utf8');
  } catch {}
  if (current === text) continue;
  if (check) {
    console.error(`${name}.wasm.ts is not the build of ${file}: run npm run build:wasm`);
    stale++;
  } else {
    writeFileSync(target, text);
    console.log(`wrote ${name}.wasm.ts`);
  }
}
process.exitCode = stale > 0 ? 1 : 0;
