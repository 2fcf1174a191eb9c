/**
 * Where the API lives and which token to present: explicit options first, then the
 * environment, then the admin token that `burrow serve` leaves on its own host.
 */
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { BurrowError } from './errors.js';

export const DEFAULT_BASE_URL = 'http://127.0.0.1:7070';
export const DEFAULT_BURROW_HOME = '/var/lib/burrow';

export interface CredentialOptions {
  baseURL?: string;
  token?: string;
}

export interface Credentials {
  /** Without a trailing slash. */
  baseURL: string;
  token: string;
}

/** The admin token file written by `burrow serve`. */
export function adminTokenPath(env: NodeJS.ProcessEnv = process.env): string {
  return join(resolve(env.BURROW_HOME || DEFAULT_BURROW_HOME), 'admin.token');
}

export function resolveCredentials(
  options: CredentialOptions = {},
  env: NodeJS.ProcessEnv = process.env,
): Credentials {
  return { baseURL: resolveBaseURL(options.baseURL || env.BURROW_API), token: resolveToken(options.token, env) };
}

function resolveBaseURL(given: string | undefined): string {
  const baseURL = (given || DEFAULT_BASE_URL).replace(/\/+$/, '');
  let url: URL;
  try {
    url = new URL(baseURL);
  } catch {
    throw new BurrowError('invalid_request', `the burrow API URL '${baseURL}' is not a URL (expected e.g. ${DEFAULT_BASE_URL})`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new BurrowError('invalid_request', `the burrow API URL '${baseURL}' must start with http:// or https://`);
  }
  return baseURL;
}

function resolveToken(given: string | undefined, env: NodeJS.ProcessEnv): string {
  const explicit = given || env.BURROW_TOKEN;
  if (explicit) return explicit.trim();

  const path = adminTokenPath(env);
  let whyNot: string;
  try {
    const token = readFileSync(path, 'utf8').trim();
    if (token) return token;
    whyNot = 'it is empty';
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    whyNot = code === 'ENOENT' ? 'it does not exist' : code === 'EACCES' ? 'permission denied' : String(err);
  }
  throw new BurrowError(
    'unauthorized',
    `no burrow API token: set BURROW_TOKEN or pass one (--token, or the \`token\` option); ` +
      `the admin token ${path} cannot be used (${whyNot})`,
  );
}
