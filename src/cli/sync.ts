import { randomBytes } from 'node:crypto';
import { request as httpRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { Duplex } from 'node:stream';
import { parseArgs } from 'node:util';
import QRCode from 'qrcode';
import type { Config } from '../app/config.js';
import { systemClock } from '../core/clock.js';
import { AppError } from '../core/errors.js';
import { connectOperatorContext, operatorFailure } from './context.js';
import type { Output } from './output.js';

export const SYNC_USAGE = `  sync qr <userId> [--url http://host:port]             -> shows the user's rotating sync QR codes until a device verifies`;

/** The operator token's lifetime: only the one GET below uses it. */
const OPERATOR_TOKEN_SECONDS = 60;

/**
 * `switchyard sync qr <userId>`: plays the web page of device sync (PROTOCOL.md section 7)
 * in the terminal. It asks the running gateway for a session with an organisation token of
 * the user's organisation (the operator path of GET /v2/sync/users/<userId>), opens the
 * page's socket and prints each QR code as it arrives, until the device verifies (exit 0) or
 * the session ends otherwise (exit 1).
 */
export async function syncCommand(args: readonly string[], config: Config, output: Output): Promise<number> {
  let parsed: { values: { url?: string | undefined }; positionals: string[] };
  try {
    parsed = parseArgs({
      args: [...args],
      options: { url: { type: 'string' }, data: { type: 'string' }, config: { type: 'string' }, json: { type: 'boolean' } },
      allowPositionals: true,
    });
  } catch (error) {
    // An unknown flag is a usage error (exit 2), as for the other commands.
    output.err(`${error instanceof Error ? error.message : String(error)}\nusage:\n${SYNC_USAGE}`);
    return 2;
  }
  const { values, positionals } = parsed;
  const [action, userId] = positionals;
  if (action !== 'qr' || userId === undefined) {
    output.err(`usage:\n${SYNC_USAGE}`);
    return 2;
  }
  const base = (values.url ?? defaultUrl(config)).replace(/\/+$/, '');
  let token: string;
  try {
    token = await operatorToken(config, userId);
  } catch (error) {
    return operatorFailure(error, output);
  }
  let socketUrl: string;
  try {
    const response = await fetch(`${base}/v2/sync/users/${encodeURIComponent(userId)}`, { headers: { authorization: `Bearer ${token}` } });
    const body = await response.text();
    if (response.status !== 200) {
      output.err(`sync: the gateway at ${base} answered ${response.status}: ${body}`);
      return 1;
    }
    socketUrl = body.trim();
  } catch (error) {
    output.err(`sync: cannot reach the gateway at ${base} (is it running? --url): ${error instanceof Error ? error.message : String(error)}`);
    return 1;
  }
  return new Promise<number>((resolve) => {
    let verified = false;
    openTextSocket(socketUrl, {
      text: (message) => {
        if (message === '201- pause') output.out('a device made the handshake; waiting for it to prove the password...');
        else if (message === '200- ack') {
          verified = true;
          output.out('verified: the device is synced');
        } else if (message === '401- failed') output.err('sync failed: too many wrong passwords');
        else {
          let urls: { qr_url?: unknown; mobile_url?: unknown };
          try {
            urls = JSON.parse(message) as typeof urls;
          } catch {
            return;
          }
          if (typeof urls.qr_url !== 'string') return;
          const qrUrl = urls.qr_url;
          void QRCode.toString(qrUrl, { type: 'terminal', small: true }).then((art) => {
            output.out(art);
            output.out(`scan with the app, or open: ${String(urls.mobile_url)}\n  (${qrUrl})`);
          });
        }
      },
      closed: (code, reason) => {
        if (!verified) output.err(`sync session ended: ${code} ${reason}`);
        resolve(verified ? 0 : 1);
      },
      failed: (why) => {
        output.err(`sync: the page socket failed: ${why}`);
        resolve(1);
      },
    });
  });
}

function defaultUrl(config: Config): string {
  const host = config.host === '0.0.0.0' || config.host === '::' ? '127.0.0.1' : config.host.includes(':') ? `[${config.host}]` : config.host;
  return `${config.ssl ? 'https' : 'http'}://${host}:${config.port}`;
}

/** An organisation token of the user's first organisation, signed with the data dir's key. */
async function operatorToken(config: Config, userId: string): Promise<string> {
  const context = await connectOperatorContext(config);
  try {
    const organisation = context.identity.directory.organisationsOf(userId)[0];
    if (organisation === undefined) throw new AppError('NOT_FOUND', `no user ${userId} in any organisation`);
    const issued = await context.identity.tokens.issue('organisation', {
      subject: 'switchyard-cli',
      ttlSeconds: OPERATOR_TOKEN_SECONDS,
      claims: { org: organisation },
      now: systemClock.now(),
    });
    return issued.token;
  } finally {
    await context.close();
  }
}

interface TextSocketHandlers {
  text(message: string): void;
  closed(code: number, reason: string): void;
  failed(why: string): void;
}

/**
 * A minimal RFC 6455 client for text frames: Node 20 has no WebSocket without a flag, and
 * `ws` is only a development dependency. It reads unmasked server frames (text, close,
 * ping) and writes masked pongs and the closing handshake; nothing else is needed here.
 */
function openTextSocket(url: string, handlers: TextSocketHandlers): void {
  const target = new URL(url);
  const request = (target.protocol === 'wss:' ? httpsRequest : httpRequest)({
    host: target.hostname.replace(/^\[|\]$/g, ''),
    port: target.port || (target.protocol === 'wss:' ? 443 : 80),
    path: target.pathname,
    headers: { connection: 'Upgrade', upgrade: 'websocket', 'sec-websocket-version': '13', 'sec-websocket-key': randomBytes(16).toString('base64') },
  });
  request.on('response', (response: IncomingMessage) => {
    let body = '';
    response.on('data', (chunk: Buffer) => (body += chunk.toString()));
    response.on('end', () => handlers.failed(`${response.statusCode}: ${body}`));
  });
  request.on('error', (error) => handlers.failed(error.message));
  request.on('upgrade', (_response: IncomingMessage, socket: Duplex, head: Buffer) => {
    let buffer = head;
    let done = false;
    const finish = (code: number, reason: string) => {
      if (done) return;
      done = true;
      socket.end();
      handlers.closed(code, reason);
    };
    // Frames already read with the upgrade's response (the first URLs come at once) are in `head`.
    const pump = (): void => {
      for (;;) {
        if (buffer.length < 2) return;
        const opcode = buffer[0]! & 0x0f;
        let length = buffer[1]! & 0x7f;
        let offset = 2;
        if (length === 126) {
          if (buffer.length < 4) return;
          length = buffer.readUInt16BE(2);
          offset = 4;
        } else if (length === 127) {
          if (buffer.length < 10) return;
          length = Number(buffer.readBigUInt64BE(2));
          offset = 10;
        }
        if (buffer.length < offset + length) return;
        const payload = buffer.subarray(offset, offset + length);
        buffer = buffer.subarray(offset + length);
        if (opcode === 1) handlers.text(payload.toString('utf8'));
        else if (opcode === 9) socket.write(maskedFrame(0xa, payload));
        else if (opcode === 8) {
          const code = payload.length >= 2 ? payload.readUInt16BE(0) : 1005;
          socket.write(maskedFrame(0x8, payload.subarray(0, 2)));
          finish(code, payload.subarray(2).toString('utf8'));
          return;
        }
      }
    };
    socket.on('data', (chunk: Buffer) => {
      buffer = Buffer.concat([buffer, chunk]);
      pump();
    });
    pump();
    socket.on('close', () => finish(1006, 'connection lost'));
    socket.on('error', () => finish(1006, 'connection lost'));
  });
  request.end();
}

/** A client frame (clients must mask, RFC 6455 5.3) with a payload under 126 bytes. */
function maskedFrame(opcode: number, payload: Buffer): Buffer {
  const mask = randomBytes(4);
  const masked = Buffer.from(payload.subarray(0, 125));
  for (let index = 0; index < masked.length; index++) masked[index]! ^= mask[index % 4]!;
  return Buffer.concat([Buffer.from([0x80 | opcode, 0x80 | masked.length]), mask, masked]);
}
