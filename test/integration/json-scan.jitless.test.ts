import { execFileSync } from 'node:child_process';
import { pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';

/**
 * Where Node runs without WebAssembly (`--jitless`), the relay's JSON scanner has no module to
 * run: it must say so by returning undefined for every frame (the relay then takes the generic
 * path), not throw when the gateway loads it. Run on dist/, as the gateway runs.
 */
describe('json-scan without WebAssembly', () => {
  it('loads under node --jitless and leaves every frame to the generic path', () => {
    const scanner = pathToFileURL(`${process.cwd()}/dist/protocol/json-scan.js`).href;
    const script = `
      const { scanFrame, KeySet } = await import(${JSON.stringify(scanner)});
      const frame = Buffer.from(JSON.stringify({ event: 'relay-ice-candidate', data: { room: 'r', to: 'p', ice_candidate: { candidate: 'c' } } }));
      const scanned = scanFrame(frame, 32, new KeySet(['event', 'data', 'id']), 1, new KeySet(['room', 'to', 'ice_candidate']));
      console.log(JSON.stringify({ wasm: typeof WebAssembly, scanned: scanned === undefined ? 'undefined' : 'scanned' }));`;
    const output = execFileSync(process.execPath, ['--jitless', '--input-type=module', '-e', script], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
    expect(JSON.parse(output.trim().split('\n').pop()!)).toEqual({ wasm: 'undefined', scanned: 'undefined' });
  });
});
