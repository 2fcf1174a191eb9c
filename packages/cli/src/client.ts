/**
 * The one place a command gets its API client: from the global --api and --token options,
 * which themselves fall back to BURROW_API, BURROW_TOKEN and the local admin token.
 */
import { BurrowClient } from '@burrow/sdk';
import type { Command } from 'commander';

export interface GlobalOptions {
  api?: string;
  token?: string;
}

export function clientFor(command: Command): BurrowClient {
  const { api, token } = command.optsWithGlobals<GlobalOptions>();
  return new BurrowClient({ ...(api ? { baseURL: api } : {}), ...(token ? { token } : {}) });
}
