// Who may do what through the E2B API. `X-API-KEY` carries a burrow token, judged by the same
// caveats as on burrow's own routes; the `envdAccessToken` a create or connect answers is that
// token attenuated (offline, no new record) to the one sandbox, so it can never do more than the
// key that asked for it, and its revocation ends it too.
import type { IncomingMessage } from 'node:http';
import { attenuate, parseMacaroon, sandboxCaveatValue, serializeMacaroon, type TokenOp } from '@burrow/protocol';
import { TokenRefused, type Bearer, type RequestScope, type TokenAuthority } from '../../../auth/api-tokens.js';
import type { SandboxRecord } from '../../../db/sandboxes.js';
import { E2bHttpError } from './http.js';

export class E2bAccess {
  constructor(private readonly tokens: TokenAuthority) {}

  /** The API key's bearer, or 401 in E2B's shape. */
  apiKey(req: IncomingMessage): { bearer: Bearer; token: string } {
    const token = header(req, 'x-api-key');
    if (!token) throw new E2bHttpError(401, 'send a burrow token as X-API-KEY (E2B_API_KEY)');
    return { bearer: this.authenticate(token), token };
  }

  /** The envd access token of the request, checked to allow `op` on `sandbox`; 401 otherwise. */
  envdToken(req: IncomingMessage, sandbox: string, op: TokenOp): void {
    const token = header(req, 'x-access-token');
    if (!token) throw new E2bHttpError(401, `send the sandbox's envdAccessToken as X-Access-Token`);
    const bearer = this.authenticate(token);
    if (!this.allows(bearer, { op, sandbox })) {
      throw new E2bHttpError(401, `the access token does not allow '${op}' on sandbox '${sandbox}'`);
    }
  }

  /** Throws 403 in E2B's shape unless the bearer's caveats allow `scope`. */
  authorize(bearer: Bearer, scope: RequestScope): void {
    try {
      this.tokens.authorize(bearer, scope);
    } catch (e) {
      if (e instanceof TokenRefused) throw new E2bHttpError(403, e.message);
      throw e;
    }
  }

  allows(bearer: Bearer, scope: RequestScope): boolean {
    try {
      this.tokens.authorize(bearer, scope);
      return true;
    } catch (e) {
      if (e instanceof TokenRefused) return false;
      throw e;
    }
  }

  /** The API key attenuated to this one sandbox (this incarnation of its name). */
  envdTokenFor(apiKey: string, record: SandboxRecord): string {
    let macaroon = parseMacaroon(apiKey);
    macaroon = attenuate(macaroon, `sandbox = ${sandboxCaveatValue(record.name, new Date())}`);
    macaroon = attenuate(macaroon, `sandbox-id = ${record.id}`);
    return serializeMacaroon(macaroon);
  }

  private authenticate(token: string): Bearer {
    try {
      return this.tokens.authenticate(token);
    } catch (e) {
      if (e instanceof TokenRefused) throw new E2bHttpError(401, e.message);
      throw e;
    }
  }
}

function header(req: IncomingMessage, name: string): string | undefined {
  const value = req.headers[name];
  return (Array.isArray(value) ? value[0] : value)?.trim() || undefined;
}
