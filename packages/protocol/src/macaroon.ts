/**
 * Macaroons (HMAC-SHA256 chains) in the libmacaroons v2 binary format, first-party caveats
 * only. Lives in the protocol (and so in the SDK) so that a token holder can attenuate a token offline (add caveats,
 * which only ever narrow what it allows) without the server and without the root key; the
 * server verifies the chain with the root key it keeps.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';

export interface Macaroon {
  location: string;
  identifier: Buffer;
  /** First-party caveat predicates, oldest first, e.g. `sandbox = dev`. */
  caveats: string[];
  signature: Buffer;
}

export class MacaroonFormatError extends Error {
  override name = 'MacaroonFormatError';
}

const VERSION = 2;
const FIELD = { eos: 0, location: 1, identifier: 2, verificationId: 4, signature: 6 } as const;
const KEY_GENERATOR = Buffer.from('macaroons-key-generator');

function hmac(key: Buffer, data: Buffer | string): Buffer {
  return createHmac('sha256', key).update(data).digest();
}

/** libmacaroons derives the HMAC key from the root key so that any length of root key works. */
function derivedKey(rootKey: Buffer): Buffer {
  return hmac(KEY_GENERATOR, rootKey);
}

export function mintMacaroon(rootKey: Buffer, identifier: Buffer | string, location = '', caveats: string[] = []): Macaroon {
  const id = Buffer.from(identifier);
  let m: Macaroon = { location, identifier: id, caveats: [], signature: hmac(derivedKey(rootKey), id) };
  for (const caveat of caveats) m = attenuate(m, caveat);
  return m;
}

/** Adds a caveat: the new signature chains from the old one, so no key is needed. */
export function attenuate(m: Macaroon, caveat: string): Macaroon {
  if (!caveat.trim()) throw new MacaroonFormatError('a caveat cannot be empty');
  return { ...m, caveats: [...m.caveats, caveat], signature: hmac(m.signature, Buffer.from(caveat, 'utf8')) };
}

/** True when the chain of signatures is the one the root key produces (caveats are not judged). */
export function signatureValid(m: Macaroon, rootKey: Buffer): boolean {
  const expected = mintMacaroon(rootKey, m.identifier, m.location, m.caveats).signature;
  return expected.length === m.signature.length && timingSafeEqual(expected, m.signature);
}

/** The base64url (unpadded) text of the v2 binary form: what travels in `Authorization`. */
export function serializeMacaroon(m: Macaroon): string {
  const parts: Buffer[] = [Buffer.from([VERSION])];
  if (m.location) parts.push(field(FIELD.location, Buffer.from(m.location, 'utf8')));
  parts.push(field(FIELD.identifier, m.identifier), Buffer.from([FIELD.eos]));
  for (const caveat of m.caveats) {
    parts.push(field(FIELD.identifier, Buffer.from(caveat, 'utf8')), Buffer.from([FIELD.eos]));
  }
  parts.push(Buffer.from([FIELD.eos]), field(FIELD.signature, m.signature));
  return Buffer.concat(parts).toString('base64url');
}

/** Accepts standard or URL-safe base64, padded or not. Third-party caveats are refused. */
export function parseMacaroon(text: string): Macaroon {
  const trimmed = text.trim();
  if (!/^[A-Za-z0-9+/_-]+={0,2}$/.test(trimmed)) throw new MacaroonFormatError('not base64');
  const bytes = Buffer.from(trimmed.replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, ''), 'base64url');
  const reader = new FieldReader(bytes);
  if (reader.byte() !== VERSION) throw new MacaroonFormatError('not a version 2 macaroon');

  let location = '';
  let next = reader.field();
  if (next.type === FIELD.location) {
    location = next.data.toString('utf8');
    next = reader.field();
  }
  if (next.type !== FIELD.identifier) throw new MacaroonFormatError('the macaroon has no identifier');
  const identifier = next.data;
  if (reader.field().type !== FIELD.eos) throw new MacaroonFormatError('unexpected field after the identifier');

  const caveats: string[] = [];
  for (;;) {
    next = reader.field();
    if (next.type === FIELD.eos) break;
    if (next.type === FIELD.location) next = reader.field();
    if (next.type !== FIELD.identifier) throw new MacaroonFormatError('a caveat has no identifier');
    const caveat = next.data.toString('utf8');
    const end = reader.field();
    if (end.type === FIELD.verificationId) throw new MacaroonFormatError('third-party caveats are not supported');
    if (end.type !== FIELD.eos) throw new MacaroonFormatError('unexpected field in a caveat');
    caveats.push(caveat);
  }
  const signature = reader.field();
  if (signature.type !== FIELD.signature || signature.data.length !== 32) {
    throw new MacaroonFormatError('the macaroon has no valid signature');
  }
  if (!reader.done()) throw new MacaroonFormatError('trailing bytes after the signature');
  return { location, identifier, caveats, signature: signature.data };
}

function field(type: number, data: Buffer): Buffer {
  return Buffer.concat([Buffer.from([type]), uvarint(data.length), data]);
}

function uvarint(n: number): Buffer {
  const out: number[] = [];
  while (n >= 0x80) {
    out.push((n & 0x7f) | 0x80);
    n = Math.floor(n / 128);
  }
  out.push(n);
  return Buffer.from(out);
}

class FieldReader {
  private at = 0;
  constructor(private readonly bytes: Buffer) {}

  done(): boolean {
    return this.at === this.bytes.length;
  }

  byte(): number {
    if (this.at >= this.bytes.length) throw new MacaroonFormatError('the macaroon is truncated');
    return this.bytes[this.at++]!;
  }

  field(): { type: number; data: Buffer } {
    const type = this.byte();
    if (type === FIELD.eos) return { type, data: Buffer.alloc(0) };
    let length = 0;
    for (let shift = 0, b = 0x80; b & 0x80; shift += 7) {
      if (shift > 28) throw new MacaroonFormatError('a field length is too large');
      b = this.byte();
      length += (b & 0x7f) * 2 ** shift;
    }
    if (this.at + length > this.bytes.length) throw new MacaroonFormatError('the macaroon is truncated');
    const data = this.bytes.subarray(this.at, this.at + length);
    this.at += length;
    return { type, data: Buffer.from(data) };
  }
}
