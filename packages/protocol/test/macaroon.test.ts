import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';
import {
  attenuate,
  MacaroonFormatError,
  mintMacaroon,
  parseMacaroon,
  serializeMacaroon,
  signatureValid,
} from '../src/macaroon.js';
import { attenuateToken, caveatsFor, inspectToken } from '../src/tokens.js';

// The reference implementation (libmacaroons' JavaScript port), used only to cross-check.
interface RefMacaroon {
  addFirstPartyCaveat(id: string): void;
  exportBinary(): Uint8Array;
  verify(rootKey: Uint8Array, check: (caveat: string) => string | null): void;
}
const ref = createRequire(import.meta.url)('macaroon') as {
  newMacaroon(o: { rootKey: Uint8Array | string; identifier: string; location: string }): RefMacaroon;
  importMacaroon(b: Uint8Array | string): RefMacaroon;
};

const KEY = Buffer.from('this is the key');

// Vectors from the reference package's own serialization tests.
const VECTORS = [
  { caveats: [], text: 'AgETaHR0cDovL2V4YW1wbGUub3JnLwIFa2V5aWQAAAYgfN7nklEcW8b1KEhYBd_psk54XijiqZMB-dcRxgnjjvc' },
  {
    caveats: ['account = 3735928559'],
    text: 'AgETaHR0cDovL2V4YW1wbGUub3JnLwIFa2V5aWQAAhRhY2NvdW50ID0gMzczNTkyODU1OQAABiD1SAf23G7fiL8PcwazgiVio2JTPb9zObphdl2kvSWdhw',
  },
  {
    caveats: ['account = 3735928559', 'user = alice'],
    text: 'AgETaHR0cDovL2V4YW1wbGUub3JnLwIFa2V5aWQAAhRhY2NvdW50ID0gMzczNTkyODU1OQACDHVzZXIgPSBhbGljZQAABiBL6WfNHqDGsmuvakqU7psFsViG2guoXoxCqTyNDhJe_A',
  },
];

describe('macaroons (libmacaroons v2)', () => {
  it.each(VECTORS)('serializes the reference vector with $caveats.length caveat(s)', ({ caveats, text }) => {
    const m = mintMacaroon(KEY, 'keyid', 'http://example.org/', caveats);
    expect(serializeMacaroon(m)).toBe(text);
  });

  it.each(VECTORS)('parses the reference vector with $caveats.length caveat(s), padded or not', ({ caveats, text }) => {
    const padded = Buffer.from(text, 'base64url').toString('base64');
    for (const form of [text, padded]) {
      const m = parseMacaroon(form);
      expect(m.location).toBe('http://example.org/');
      expect(m.identifier.toString()).toBe('keyid');
      expect(m.caveats).toEqual(caveats);
      expect(signatureValid(m, KEY)).toBe(true);
    }
  });

  it('attenuates offline so that the reference implementation verifies the chain', () => {
    const root = Buffer.from('0123456789abcdef0123456789abcdef');
    const base = mintMacaroon(root, 'tok_1', 'burrow', ['sandbox = dev']);
    const weaker = attenuate(base, 'ops = read');
    const seen: string[] = [];
    ref.importMacaroon(serializeMacaroon(weaker)).verify(new Uint8Array(root), (c) => {
      seen.push(c);
      return null;
    });
    expect(seen).toEqual(['sandbox = dev', 'ops = read']);
  });

  it('verifies macaroons made by the reference implementation', () => {
    const made = ref.newMacaroon({ rootKey: new Uint8Array(KEY), identifier: 'abc', location: 'x' });
    made.addFirstPartyCaveat('expires = 2030-01-01T00:00:00Z');
    const m = parseMacaroon(Buffer.from(made.exportBinary()).toString('base64url'));
    expect(m.caveats).toEqual(['expires = 2030-01-01T00:00:00Z']);
    expect(signatureValid(m, KEY)).toBe(true);
  });

  it('detects a tampered caveat, a dropped caveat and a wrong root key', () => {
    const m = mintMacaroon(KEY, 'id', '', ['sandbox = dev', 'ops = read']);
    expect(signatureValid({ ...m, caveats: ['sandbox = prod', 'ops = read'] }, KEY)).toBe(false);
    expect(signatureValid({ ...m, caveats: ['sandbox = dev'] }, KEY)).toBe(false);
    expect(signatureValid(m, Buffer.from('another key'))).toBe(false);
  });

  it('refuses malformed input with MacaroonFormatError', () => {
    const good = serializeMacaroon(mintMacaroon(KEY, 'id', '', ['a = b']));
    const bytes = Buffer.from(good, 'base64url');
    for (const bad of [
      '',
      'not base64!',
      Buffer.from([1, 2, 3]).toString('base64url'),
      bytes.subarray(0, bytes.length - 5).toString('base64url'),
      Buffer.concat([bytes, Buffer.from([0])]).toString('base64url'),
    ]) {
      expect(() => parseMacaroon(bad)).toThrow(MacaroonFormatError);
    }
  });

  it('refuses third-party caveats', () => {
    // identifier, then a caveat with a verification id (field 4).
    const withVid = Buffer.concat([
      Buffer.from([2, 2, 2]),
      Buffer.from('id'),
      Buffer.from([0, 2, 1]),
      Buffer.from('c'),
      Buffer.from([4, 1]),
      Buffer.from('v'),
      Buffer.from([0, 0, 6, 32]),
      Buffer.alloc(32),
    ]);
    expect(() => parseMacaroon(withVid.toString('base64url'))).toThrow(/third-party/);
  });
});

describe('API token restrictions', () => {
  it('builds caveats in the server vocabulary', () => {
    expect(
      caveatsFor({
        sandbox: 'dev',
        sandboxPrefix: 'agent-',
        ops: ['read', 'exec'],
        expires: new Date('2030-01-01T00:00:00.000Z'),
        notBefore: new Date('2029-01-01T00:00:00Z'),
      }),
    ).toEqual([
      'sandbox = dev',
      'sandbox-prefix = agent-',
      'ops = read,exec',
      'expires = 2030-01-01T00:00:00Z',
      'not-before = 2029-01-01T00:00:00Z',
    ]);
  });

  it('attenuates a token text and keeps its id', () => {
    const token = serializeMacaroon(mintMacaroon(KEY, 'tok_x', 'burrow'));
    const weaker = attenuateToken(token, { sandbox: 'dev' }, new Date('2030-01-02T03:04:05.678Z'));
    // Offline, the sandbox is named with the time: a sandbox re-created under the name later is another.
    expect(inspectToken(weaker)).toEqual({ id: 'tok_x', caveats: ['sandbox = dev @ 2030-01-02T03:04:05.678Z'] });
    expect(signatureValid(parseMacaroon(weaker), KEY)).toBe(true);
  });
});
