// Builds @switchyard/client into dist/:
//   index.js                       ESM for Node and bundlers (dependencies left as imports)
//   switchyard-client.browser.js   one minified ESM file for a <script type="module">, dependencies inside
//   types/                         declarations (tsc)
// esbuild's browser build fails on any Node built-in an import would pull in: the bundle can
// only hold what a browser has.
import { execFileSync } from 'node:child_process';
import { rmSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const dist = join(root, 'dist');
const entry = join(root, 'src', 'index.ts');
rmSync(dist, { recursive: true, force: true });

const common = { entryPoints: [entry], bundle: true, format: 'esm', target: 'es2022', legalComments: 'none', logLevel: 'warning' };
await build({ ...common, platform: 'neutral', outfile: join(dist, 'index.js'), packages: 'external', sourcemap: true });
await build({ ...common, platform: 'browser', outfile: join(dist, 'switchyard-client.browser.js'), minify: true, sourcemap: 'linked' });

const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
execFileSync(process.execPath, [tsc, '-p', join(root, 'tsconfig.build.json')], { stdio: 'inherit' });

const size = statSync(join(dist, 'switchyard-client.browser.js')).size;
console.log(`dist/switchyard-client.browser.js: ${size} bytes`);
