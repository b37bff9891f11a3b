import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, renameSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROOT } from '../helpers/child-gateway.js';

/**
 * `npm pack` of packages/client makes a package an app can install: the tarball holds the
 * built files (and nothing of the sources or tests), its types resolve and check in a project
 * of its own, and Node imports both entry points. `npm test` builds the SDK first
 * (`npm run build:sdk`); run that before this file when running vitest directly.
 */

const run = promisify(execFile);
const PACKAGE = join(ROOT, 'packages', 'client');
const NPM = process.platform === 'win32' ? 'npm.cmd' : 'npm';

interface PackResult {
  filename: string;
  size: number;
  unpackedSize: number;
  files: { path: string; size: number }[];
}

describe('@switchyard/client as an npm package', { timeout: 120_000 }, () => {
  let scratch: string;

  beforeAll(() => {
    if (!existsSync(join(PACKAGE, 'dist', 'index.js'))) throw new Error('packages/client/dist is missing: run "npm run build:sdk" first');
    scratch = mkdtempSync(join(tmpdir(), 'switchyard-sdk-pack-'));
  });
  afterAll(() => {
    if (scratch) rmSync(scratch, { recursive: true, force: true });
  });

  it('npm pack --dry-run lists the built files, the README and package.json, and nothing else', async () => {
    // --ignore-scripts: prepack would rebuild dist/ under tests that read it.
    const { stdout } = await run(NPM, ['pack', '--dry-run', '--json', '--ignore-scripts'], { cwd: PACKAGE });
    const [packed] = JSON.parse(stdout) as PackResult[];
    const paths = packed!.files.map((file) => file.path).sort();
    expect(packed!.filename).toBe('switchyard-client-0.1.0.tgz');
    for (const path of ['package.json', 'README.md', 'dist/index.js', 'dist/switchyard-client.browser.js', 'dist/types/packages/client/src/index.d.ts', 'dist/types/src/protocol/topics/rooms.d.ts']) {
      expect(paths).toContain(path);
    }
    expect(paths.filter((path) => !path.startsWith('dist/') && path !== 'package.json' && path !== 'README.md')).toEqual([]);
  });

  it('installed from the tarball: its types check in a project of their own and Node imports both entry points', async () => {
    const { stdout } = await run(NPM, ['pack', '--json', '--ignore-scripts', '--pack-destination', scratch], { cwd: PACKAGE });
    const [packed] = JSON.parse(stdout) as PackResult[];
    const app = join(scratch, 'app');
    const modules = join(app, 'node_modules');
    mkdirSync(join(modules, '@switchyard'), { recursive: true });
    await run('tar', ['-xzf', join(scratch, packed!.filename), '-C', scratch]);
    renameSync(join(scratch, 'package'), join(modules, '@switchyard', 'client'));
    // Its dependency, its optional peer (the request types are zod's), and `ws` for Node 20.
    mkdirSync(join(modules, '@msgpack'));
    symlinkSync(join(ROOT, 'node_modules', '@msgpack', 'msgpack'), join(modules, '@msgpack', 'msgpack'));
    for (const name of ['zod', 'ws', '@types']) symlinkSync(join(ROOT, 'node_modules', name), join(modules, name));

    writeFileSync(join(app, 'package.json'), JSON.stringify({ name: 'app', type: 'module', private: true }));
    writeFileSync(
      join(app, 'tsconfig.json'),
      JSON.stringify({ compilerOptions: { target: 'ES2022', module: 'NodeNext', moduleResolution: 'NodeNext', strict: true, noEmit: true, skipLibCheck: true, types: ['ws'] }, files: ['app.ts'] }),
    );
    writeFileSync(
      join(app, 'app.ts'),
      [
        "import WebSocket from 'ws';",
        "import { SwitchyardClient, type CommandResult, type EventListingView } from '@switchyard/client';",
        "const client = new SwitchyardClient({ url: 'ws://127.0.0.1:7000/ws', WebSocket });",
        "export const created: Promise<CommandResult<EventListingView>> = client.command('admin_event_create', { data: { organisation: 'o', name: 'Launch', start_date: '2026-05-04 09:00:00', end_date: '2026-05-04 18:00:00' } });",
        '// @ts-expect-error the types resolved: a wrong field is an error',
        "client.command('admin_event_create', { data: { organisation: 'o', title: 'Launch', start_date: '2026-05-04 09:00:00', end_date: '2026-05-04 18:00:00' } });",
        "client.on('room-user-join', (data) => console.log(data.peer_id));",
      ].join('\n'),
    );
    await run(process.execPath, [join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', app], { cwd: app });

    writeFileSync(
      join(app, 'imports.mjs'),
      [
        "import * as node from '@switchyard/client';",
        "import * as browser from '@switchyard/client/browser';",
        'console.log(JSON.stringify({ node: Object.keys(node).sort(), browser: Object.keys(browser).sort(), subprotocol: browser.SUBPROTOCOLS.msgpack }));',
      ].join('\n'),
    );
    const imported = JSON.parse((await run(process.execPath, ['imports.mjs'], { cwd: app })).stdout) as { node: string[]; browser: string[]; subprotocol: string };
    expect(imported.node).toEqual(['SUBPROTOCOLS', 'SwitchyardClient', 'SwitchyardError', 'backoffDelay', 'isSwitchyardError']);
    expect(imported.browser).toEqual(imported.node);
    expect(imported.subprotocol).toBe('switchyard.v1.msgpack');
  });
});
