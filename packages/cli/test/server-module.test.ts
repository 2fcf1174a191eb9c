import { describe, expect, it } from 'vitest';
import { loadServer, SERVER_NOT_INSTALLED } from '../src/server-module.js';

/** What Node's import() throws for a package that is not installed. */
function notFound(specifier: string): Error {
  return Object.assign(new Error(`Cannot find package '${specifier}' imported from /usr/lib/node_modules/burrow-cli/dist/server-module.js`), {
    code: 'ERR_MODULE_NOT_FOUND',
  });
}

describe('loading the server package for host-local commands', () => {
  it('says the server package is not installed, and what to do, when it is absent', async () => {
    await expect(loadServer(async (s) => Promise.reject(notFound(s)))).rejects.toThrow(SERVER_NOT_INSTALLED);
  });

  it('reports a server package that is present but broken as it is (a dependency of it missing)', async () => {
    const err = loadServer(async () => Promise.reject(notFound('better-sqlite3')));
    await expect(err).rejects.toThrow(/could not be loaded: Cannot find package 'better-sqlite3'/);
  });

  it('refuses a server package that lacks a command it needs', async () => {
    await expect(loadServer(async () => ({ loadConfig: () => ({}) }))).rejects.toThrow(/does not export serve, doctor, buildImage, listImages/);
  });

  it('answers the installed package', async () => {
    const server = await loadServer((s) => import(s));
    expect(typeof server.serve).toBe('function');
  });
});
