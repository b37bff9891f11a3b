import { X509Certificate, createPrivateKey, type KeyObject } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';

/**
 * Checks the TLS files before uWS sees them. uWS's SSLApp only says "App construction
 * failed" for a missing, unreadable or invalid certificate or key (issue 16 point 9), so the
 * same checks run here first, with the file's path and what is wrong with it in the message.
 * The files are read once at start; uWS reads them again itself (it wants paths).
 */
export class TlsFileError extends Error {
  constructor(
    readonly file: string,
    message: string,
  ) {
    super(message);
    this.name = 'TlsFileError';
  }
}

export interface TlsFiles {
  certificate: string;
  privateKey: string;
}

function readPem(role: string, path: string): string {
  const file = resolve(path);
  try {
    return readFileSync(file, 'utf8');
  } catch (error) {
    const code = error instanceof Error && 'code' in error ? String(error.code) : 'unreadable';
    const why = code === 'ENOENT' ? 'does not exist' : code === 'EACCES' ? 'is not readable by this user' : code === 'EISDIR' ? 'is a directory' : `cannot be read (${code})`;
    throw new TlsFileError(file, `TLS ${role} file ${file} ${why}`);
  }
}

/** Throws a TlsFileError naming the file when either file cannot serve TLS. */
export function checkTlsFiles(files: TlsFiles): void {
  const certificateFile = resolve(files.certificate);
  const keyFile = resolve(files.privateKey);
  const certificatePem = readPem('certificate', certificateFile);
  const keyPem = readPem('private key', keyFile);
  let certificate: X509Certificate;
  try {
    certificate = new X509Certificate(certificatePem);
  } catch {
    throw new TlsFileError(certificateFile, `TLS certificate file ${certificateFile} holds no valid PEM certificate`);
  }
  let key: KeyObject;
  try {
    key = createPrivateKey(keyPem);
  } catch {
    throw new TlsFileError(keyFile, `TLS private key file ${keyFile} holds no valid unencrypted PEM private key`);
  }
  if (!certificate.checkPrivateKey(key)) {
    throw new TlsFileError(keyFile, `TLS private key file ${keyFile} does not match the certificate in ${certificateFile}`);
  }
}
