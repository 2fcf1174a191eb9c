/**
 * The host-local commands (serve, doctor, image) drive the daemon's code directly. It is
 * loaded on demand so that every other command starts without it, and it is an optional
 * dependency so that a client-only install never needs the server's native dependencies.
 *
 * The shape below is the server package's public contract, declared here so the CLI builds
 * on its own; the loader checks it at runtime instead of trusting it.
 */
import type { ImageName } from '@burrow/protocol';

/** Opaque to the CLI: made by loadConfig, handed back unchanged. */
export type BurrowConfig = { readonly __brand?: 'BurrowConfig' } & object;

export type { ImageName };

export interface ImageInfo {
  name: string;
  id: string;
  size_bytes: number | null;
  created_at: string;
  imported: boolean;
}

export interface RunningServer {
  url: string;
  /** Writes a line to the daemon's structured log. */
  log(line: string): void;
  close(): Promise<void>;
}

export interface ServerModule {
  loadConfig(env?: NodeJS.ProcessEnv): BurrowConfig;
  serve(config: BurrowConfig): Promise<RunningServer>;
  doctor(config: BurrowConfig, opts: { fix: boolean; log?: (line: string) => void }): Promise<{ ok: boolean; problems: string[] }>;
  buildImage(
    config: BurrowConfig,
    name: ImageName,
    onProgress?: (line: string) => void,
    opts?: { refresh?: boolean; vm?: boolean },
  ): Promise<{ name: string; id: string; built: boolean; machineDisk?: string }>;
  listImages(config: BurrowConfig): Promise<ImageInfo[]>;
}

const SERVER_PACKAGE = '@burrow/server';
const EXPORTS = ['loadConfig', 'serve', 'doctor', 'buildImage', 'listImages'] as const;

/** What a host-local command says when the server package is not installed at all. */
export const SERVER_NOT_INSTALLED =
  `this command runs burrow on this host and needs the server package (${SERVER_PACKAGE}), which is not installed. ` +
  `Install it beside the CLI (npm install -g ${SERVER_PACKAGE} burrow-cli) on the Linux host that runs the daemon; ` +
  'every other command only talks to a running daemon (--api or BURROW_API).';

/** `importModule` stands in for `import()` in the loader's own test. */
export async function loadServer(importModule: (specifier: string) => Promise<unknown> = (specifier) => import(specifier)): Promise<ServerModule> {
  let loaded: unknown;
  try {
    // A variable specifier keeps TypeScript from resolving (and requiring) the package at build time.
    const specifier: string = SERVER_PACKAGE;
    loaded = await importModule(specifier);
  } catch (err) {
    if (isPackageMissing(err)) throw new Error(SERVER_NOT_INSTALLED, { cause: err });
    const detail = err instanceof Error ? err.message : String(err);
    throw new Error(`this command needs the burrow server (${SERVER_PACKAGE}), which could not be loaded: ${detail}. Build it with \`npm run build\``, {
      cause: err,
    });
  }
  const missing = EXPORTS.filter((name) => typeof (loaded as Record<string, unknown>)[name] !== 'function');
  if (missing.length > 0) {
    throw new Error(`${SERVER_PACKAGE} does not export ${missing.join(', ')}: the CLI and server versions do not match`);
  }
  return loaded as ServerModule;
}

/**
 * The package itself is absent (an install without the optional dependency), as opposed to
 * present but broken (not built, a native module that does not load), which says so as it is.
 */
function isPackageMissing(err: unknown): boolean {
  const { code, message } = (err ?? {}) as { code?: unknown; message?: unknown };
  return code === 'ERR_MODULE_NOT_FOUND' && typeof message === 'string' && message.includes(`'${SERVER_PACKAGE}'`);
}
