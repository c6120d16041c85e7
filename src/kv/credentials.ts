/**
 * The KV service's secrets on disk: API token files and the HTTPS certificate, key and CA. They
 * are hostile input like anything else: each is read with a size limit and checked (a token of
 * sane length and characters; a key that belongs to its certificate) before the service uses it,
 * and a problem is one CredentialError naming the file and what to do.
 */
import { createPrivateKey, X509Certificate } from 'node:crypto';
import { closeSync, fstatSync, openSync, readSync } from 'node:fs';

/** A token or certificate file that cannot be used. */
export class CredentialError extends Error {
  override name = 'CredentialError';
}

/** Tokens shorter than this are refused: guessable tokens are no authentication. */
export const MIN_TOKEN_BYTES = 16;
const MAX_TOKEN_BYTES = 1024;
const MAX_TOKEN_FILE_BYTES = 4096;
const MAX_PEM_FILE_BYTES = 1024 * 1024;
/** RFC 6750's b64token: what may follow `Bearer ` in a header (hex and base64 tokens fit). */
const TOKEN_CHARS = /^[A-Za-z0-9\-._~+/]+=*$/;

/** A file's bytes and mode, refusing more than `limit` bytes and anything but a regular file. */
function readLimited(path: string, limit: number, what: string): { bytes: Buffer; mode: number } {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch (error) {
    throw new CredentialError(`${what} ${path} cannot be read: ${(error as Error).message}`);
  }
  try {
    const stat = fstatSync(fd);
    if (!stat.isFile()) throw new CredentialError(`${what} ${path} is not a regular file`);
    const buffer = Buffer.alloc(limit + 1);
    let length = 0;
    for (;;) {
      const read = readSync(fd, buffer, length, buffer.length - length, null);
      if (read === 0) break;
      length += read;
      if (length > limit) throw new CredentialError(`${what} ${path} is larger than ${limit} bytes`);
    }
    return { bytes: buffer.subarray(0, length), mode: stat.mode };
  } finally {
    closeSync(fd);
  }
}

/** What a token file holds, and whether other users can read it. */
export interface TokenFile {
  token: string;
  /** A warning to log (the file is readable by group or others), or null. */
  warning: string | null;
}

/**
 * Reads one API token: the file's content without surrounding whitespace. `what` names the file
 * in messages (e.g. "--auth-token-file").
 */
export function readTokenFile(path: string, what: string): TokenFile {
  const { bytes, mode } = readLimited(path, MAX_TOKEN_FILE_BYTES, what);
  const token = bytes.toString('utf8').trim();
  const hint = 'make one with `openssl rand -hex 32 > FILE`';
  if (token.length === 0) throw new CredentialError(`${what} ${path} is empty; ${hint}`);
  if (Buffer.byteLength(token) < MIN_TOKEN_BYTES) {
    throw new CredentialError(
      `${what} ${path} holds a token shorter than ${MIN_TOKEN_BYTES} bytes, too easy to guess; ${hint}`,
    );
  }
  if (token.length > MAX_TOKEN_BYTES) {
    throw new CredentialError(`${what} ${path} holds a token longer than ${MAX_TOKEN_BYTES} bytes`);
  }
  if (!TOKEN_CHARS.test(token)) {
    throw new CredentialError(
      `${what} ${path} must hold one token of letters, digits and -._~+/ (base64 or hex), nothing else`,
    );
  }
  const warning = (mode & 0o077) === 0 ? null : `${what} ${path} is readable by other users: chmod 600 it`;
  return { token, warning };
}

/** The paths of the HTTPS flags; `ca` asks for client certificates signed by it. */
export interface HttpsFiles {
  cert: string;
  key: string;
  ca?: string;
}

/** The checked contents of the HTTPS files, as node:tls takes them. */
export interface HttpsCredentials {
  cert: Buffer;
  key: Buffer;
  /** Client certificates must chain to it; null: no client certificates asked for. */
  ca: Buffer | null;
}

/**
 * Reads and checks the HTTPS certificate (chain), key and optional client CA: each parses, the key
 * belongs to the certificate, and neither certificate has expired at `nowMs` (wall time).
 */
export function loadHttpsCredentials(files: HttpsFiles, nowMs: number): HttpsCredentials {
  const cert = readLimited(files.cert, MAX_PEM_FILE_BYTES, 'certificate').bytes;
  const key = readLimited(files.key, MAX_PEM_FILE_BYTES, 'key').bytes;
  const leaf = parseCertificate(cert, files.cert, nowMs);
  let privateKey;
  try {
    privateKey = createPrivateKey(key);
  } catch (error) {
    throw new CredentialError(
      `key ${files.key} is not a readable private key (encrypted keys are not supported): ${(error as Error).message}`,
    );
  }
  if (!leaf.checkPrivateKey(privateKey)) {
    throw new CredentialError(`key ${files.key} does not belong to certificate ${files.cert}`);
  }
  if (files.ca === undefined) return { cert, key, ca: null };
  const ca = readLimited(files.ca, MAX_PEM_FILE_BYTES, 'CA certificate').bytes;
  if (!parseCertificate(ca, files.ca, nowMs).ca) {
    throw new CredentialError(`${files.ca} is not a CA certificate (its basicConstraints say CA:FALSE)`);
  }
  return { cert, key, ca };
}

/** The first certificate of a PEM file, refused when unreadable or expired. */
function parseCertificate(pem: Buffer, path: string, nowMs: number): X509Certificate {
  let certificate: X509Certificate;
  try {
    certificate = new X509Certificate(pem);
  } catch (error) {
    throw new CredentialError(`${path} is not a PEM certificate: ${(error as Error).message}`);
  }
  if (Date.parse(certificate.validTo) < nowMs) {
    throw new CredentialError(`certificate ${path} expired on ${certificate.validTo}`);
  }
  return certificate;
}
