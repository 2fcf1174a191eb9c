// The per-install certificate authority of the egress proxy: it signs, on the fly, a leaf
// certificate for every host a sandbox talks TLS to, and sandboxes trust it (see ca-bundle.ts).
// The CA key never leaves BURROW_HOME (0600). Leaves share one key pair and are cached per host.
import { constants, createPrivateKey, generateKeyPairSync, privateEncrypt, randomBytes, type KeyObject } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { isIP } from 'node:net';
import { join } from 'node:path';
import forge from 'node-forge';

const CA_SUBJECT = [
  { name: 'commonName', value: 'burrow egress CA' },
  { name: 'organizationName', value: 'burrow' },
];
const DAY_MS = 86_400_000;
/** Leaves kept in memory; the oldest go first (a sandbox may ask for any number of names). */
const MAX_LEAVES = 4096;
/** DER prefix of a PKCS#1 v1.5 DigestInfo for SHA-256. */
const SHA256_DIGEST_INFO = Buffer.from('3031300d060960864801650304020105000420', 'hex');

export interface Leaf {
  key: string;
  cert: string;
}

export class CertificateAuthority {
  private readonly leaves = new Map<string, Promise<Leaf>>();
  private readonly leafKey = generateKeyPairSync('rsa', { modulusLength: 2048 });

  private constructor(
    /** PEM of the CA certificate: what sandboxes trust. */
    readonly certPem: string,
    private readonly cert: forge.pki.Certificate,
    private readonly key: KeyObject,
  ) {}

  /** Loads the CA from `dir` (ca.crt, ca.key), making it on first use. */
  static async open(dir: string): Promise<CertificateAuthority> {
    await mkdir(dir, { recursive: true, mode: 0o700 });
    const certFile = join(dir, 'ca.crt');
    const keyFile = join(dir, 'ca.key');
    const existing = await Promise.all([readFile(certFile, 'utf8'), readFile(keyFile, 'utf8')]).catch(() => null);
    if (existing) {
      const [certPem, keyPem] = existing;
      return new CertificateAuthority(certPem, forge.pki.certificateFromPem(certPem), createPrivateKey(keyPem));
    }
    const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const cert = forge.pki.createCertificate();
    cert.publicKey = forge.pki.publicKeyFromPem(publicKey.export({ type: 'spki', format: 'pem' }).toString());
    cert.serialNumber = serial();
    cert.validity.notBefore = new Date(Date.now() - DAY_MS);
    cert.validity.notAfter = new Date(Date.now() + 3650 * DAY_MS);
    cert.setSubject(CA_SUBJECT);
    cert.setIssuer(CA_SUBJECT);
    cert.setExtensions([
      { name: 'basicConstraints', cA: true, pathLenConstraint: 0, critical: true },
      { name: 'keyUsage', keyCertSign: true, cRLSign: true, critical: true },
      { name: 'subjectKeyIdentifier' },
    ]);
    signWith(cert, privateKey);
    const certPem = forge.pki.certificateToPem(cert);
    // Key first: a crash in between leaves no certificate without its key.
    await writeFile(keyFile, privateKey.export({ type: 'pkcs8', format: 'pem' }), { mode: 0o600 });
    await writeFile(certFile, certPem, { mode: 0o644 });
    return new CertificateAuthority(certPem, cert, privateKey);
  }

  /** A certificate for `host` (a name or an IP address), signed by this CA. */
  leafFor(host: string): Promise<Leaf> {
    const name = host.toLowerCase();
    let leaf = this.leaves.get(name);
    if (!leaf) {
      leaf = Promise.resolve().then(() => this.makeLeaf(name));
      if (this.leaves.size >= MAX_LEAVES) this.leaves.delete(this.leaves.keys().next().value!);
      this.leaves.set(name, leaf);
    }
    return leaf;
  }

  private makeLeaf(host: string): Leaf {
    const cert = forge.pki.createCertificate();
    cert.publicKey = forge.pki.publicKeyFromPem(this.leafKey.publicKey.export({ type: 'spki', format: 'pem' }).toString());
    cert.serialNumber = serial();
    // Backdated an hour for clocks that lag; a year is well within what clients accept.
    cert.validity.notBefore = new Date(Date.now() - 3600_000);
    cert.validity.notAfter = new Date(Date.now() + 365 * DAY_MS);
    cert.setSubject([{ name: 'commonName', value: host.slice(0, 64) }]);
    cert.setIssuer(this.cert.subject.attributes);
    const altName = isIP(host) ? { type: 7, ip: host } : { type: 2, value: host };
    cert.setExtensions([
      { name: 'basicConstraints', cA: false },
      { name: 'keyUsage', digitalSignature: true, keyEncipherment: true, critical: true },
      { name: 'extKeyUsage', serverAuth: true },
      { name: 'subjectAltName', altNames: [altName] },
      { name: 'authorityKeyIdentifier', keyIdentifier: this.cert.generateSubjectKeyIdentifier().getBytes() },
    ]);
    signWith(cert, this.key);
    return {
      cert: forge.pki.certificateToPem(cert),
      key: this.leafKey.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
    };
  }
}

/**
 * forge signs in pure JavaScript (~80 ms per certificate); this hands it a key whose sign() is
 * Node's native RSA (PKCS#1 v1.5 over the SHA-256 DigestInfo), about 1 ms.
 */
function signWith(cert: forge.pki.Certificate, key: KeyObject): void {
  const nativeKey = {
    sign(md: forge.md.MessageDigest): string {
      const digest = Buffer.from(md.digest().getBytes(), 'binary');
      const signature = privateEncrypt({ key, padding: constants.RSA_PKCS1_PADDING }, Buffer.concat([SHA256_DIGEST_INFO, digest]));
      return signature.toString('binary');
    },
  };
  cert.sign(nativeKey as unknown as forge.pki.rsa.PrivateKey, forge.md.sha256.create());
}

/** Positive 128-bit serials (the top bit clear keeps DER from reading them as negative). */
function serial(): string {
  const bytes = randomBytes(16);
  bytes[0]! &= 0x7f;
  return bytes.toString('hex');
}
