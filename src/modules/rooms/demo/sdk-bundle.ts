import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * The client SDK's browser bundle, as the demo page loads it from the gateway.
 *
 * `npm run build:sdk` (packages/client/scripts/build.mjs; `npm test` and `prepare` run it)
 * writes it to packages/client/dist/switchyard-client.browser.js, inside the gateway's
 * package: the folder holding the nearest package.json above this file. That is the repo
 * root whether this file runs as src/ (vitest), dist/ (`npm start`) or .fixtures-build/src/
 * (the Socket.IO fixture), so no fixed number of `../` has to fit every layout.
 */

export const SDK_BUILD_COMMAND = 'npm run build:sdk';

/** Where the build puts the bundle, relative to the gateway's package root (also what error texts name). */
export const SDK_BUNDLE_RELATIVE_PATH = 'packages/client/dist/switchyard-client.browser.js';

/** The nearest folder at or above `from` that holds a package.json; undefined when there is none. */
export function packageRootOf(from: string): string | undefined {
  for (let folder = from; ; folder = dirname(folder)) {
    if (existsSync(join(folder, 'package.json'))) return folder;
    if (dirname(folder) === folder) return undefined;
  }
}

/** The bundle's path in this gateway's package (it may not exist: the build writes it). */
export function defaultSdkBundlePath(): string {
  const here = dirname(fileURLToPath(import.meta.url));
  return join(packageRootOf(here) ?? here, SDK_BUNDLE_RELATIVE_PATH);
}

export interface SdkBundle {
  readonly body: Buffer;
  /** A strong ETag: the content's sha256, so equal bytes give equal tags across restarts and nodes. */
  readonly etag: string;
  /** A short content hash for the page's `?v=` (the URL changes with the content, so it may be cached for good). */
  readonly version: string;
}

/** Why there is no bundle to serve: not built (the file is absent), or present but unreadable. */
export type SdkBundleMissing = { readonly reason: 'not-built' } | { readonly reason: 'unreadable'; readonly code: string };

const FILE_ABSENT: ReadonlySet<string> = new Set(['ENOENT', 'ENOTDIR']);

const errorCode = (error: unknown): string =>
  error instanceof Error && 'code' in error && typeof error.code === 'string' ? error.code : 'EIO';

/**
 * The bundle file, read once: at the first request that needs it, then kept in memory for the
 * process's life (it changes only with a deploy, which restarts the gateway). While it cannot
 * be read nothing is kept, so each request looks again: a `npm run build:sdk` run after the
 * gateway started is served without a restart, and a broken state costs one failed read per
 * request rather than being cached.
 */
export class SdkBundleFile {
  private loading: Promise<SdkBundle | SdkBundleMissing> | undefined;

  constructor(readonly path: string = defaultSdkBundlePath()) {}

  /** The bundle, or why there is none. Concurrent first requests share one read. */
  load(): Promise<SdkBundle | SdkBundleMissing> {
    this.loading ??= this.read().then((result) => {
      if (!('body' in result)) this.loading = undefined;
      return result;
    });
    return this.loading;
  }

  private async read(): Promise<SdkBundle | SdkBundleMissing> {
    let body: Buffer;
    try {
      body = await readFile(this.path);
    } catch (error) {
      const code = errorCode(error);
      return FILE_ABSENT.has(code) ? { reason: 'not-built' } : { reason: 'unreadable', code };
    }
    const hex = createHash('sha256').update(body).digest('hex');
    return { body, etag: `"sha256-${hex}"`, version: hex.slice(0, 16) };
  }
}

export const isSdkBundle = (value: SdkBundle | SdkBundleMissing): value is SdkBundle => 'body' in value;
