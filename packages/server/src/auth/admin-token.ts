// The admin token: created on first start, readable only by root, picked up by the CLI and SDK
// on the same host. Requests are authorised by comparing in constant time.
import { randomBytes, timingSafeEqual, createHash } from 'node:crypto';
import { readFile, writeFile, chmod } from 'node:fs/promises';

export async function ensureAdminToken(file: string): Promise<string> {
  const existing = (await readFile(file, 'utf8').catch(() => '')).trim();
  if (existing) {
    await chmod(file, 0o600);
    return existing;
  }
  const token = `burrow_${randomBytes(32).toString('base64url')}`;
  await writeFile(file, `${token}\n`, { mode: 0o600, flag: 'w' });
  return token;
}

export class TokenVerifier {
  private readonly digest: Buffer;

  constructor(token: string) {
    this.digest = sha256(token);
  }

  /** Hashing first makes the comparison constant-time whatever the candidate's length. */
  verify(candidate: string): boolean {
    return timingSafeEqual(this.digest, sha256(candidate));
  }
}

function sha256(s: string): Buffer {
  return createHash('sha256').update(s).digest();
}
