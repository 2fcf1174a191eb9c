// The Linux user an envd request acts as, and paths as envd resolves them: `Authorization:
// Basic base64("<user>:")` names the user (spec 3.2); without it, the sandbox user. Relative
// paths and `~` are the user's home.
import { Code, ConnectError } from '@connectrpc/connect';
import { SANDBOX_USER } from '../../../core/sandbox-manager.js';
import { sandboxPath } from '../../../core/sandbox-fs.js';

export interface EnvdUser {
  name: string;
  home: string;
  asRoot: boolean;
}

const USERS: Record<string, EnvdUser> = {
  [SANDBOX_USER.name]: { name: SANDBOX_USER.name, home: SANDBOX_USER.home, asRoot: false },
  root: { name: 'root', home: '/root', asRoot: true },
};
export const DEFAULT_USER = USERS[SANDBOX_USER.name]!;

/** The user a username names (from `username=` or Basic auth); undefined for an unknown one. */
export function userNamed(name: string | null | undefined): EnvdUser | undefined {
  if (name === null || name === undefined || name === '') return DEFAULT_USER;
  return Object.hasOwn(USERS, name) ? USERS[name] : undefined;
}

/** The user of an RPC, from its Authorization header; unauthenticated for an unknown user. */
export function rpcUser(authorization: string | null): EnvdUser {
  if (!authorization) return DEFAULT_USER;
  const m = /^Basic\s+(\S+)$/i.exec(authorization);
  const decoded = m ? Buffer.from(m[1]!, 'base64').toString('utf8') : '';
  const name = decoded.includes(':') ? decoded.slice(0, decoded.indexOf(':')) : decoded;
  const user = m ? userNamed(name) : undefined;
  if (!user) throw new ConnectError(`user '${name.slice(0, 64)}' does not exist in this sandbox (use 'user' or 'root')`, Code.Unauthenticated);
  return user;
}

/** `path` as an absolute sandbox path: relative to the user's home, `~` expanded. */
export function resolvePath(path: string, user: EnvdUser): string {
  let p = path;
  if (p === '~') p = user.home;
  else if (p.startsWith('~/')) p = `${user.home}/${p.slice(2)}`;
  return sandboxPath(p, user.home);
}
