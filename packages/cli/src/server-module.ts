/**
 * The host-local commands (serve, doctor, image) drive the daemon's code directly. It is
 * loaded on demand so that every other command starts without it, and so that a client-only
 * install never needs the server's native dependencies.
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
    opts?: { refresh?: boolean },
  ): Promise<{ name: string; id: string; built: boolean }>;
  listImages(config: BurrowConfig): Promise<ImageInfo[]>;
}

const SERVER_PACKAGE = '@burrow/server';
const EXPORTS = ['loadConfig', 'serve', 'doctor', 'buildImage', 'listImages'] as const;

export async function loadServer(): Promise<ServerModule> {
  let loaded: unknown;
  try {
    // A variable specifier keeps TypeScript from resolving (and requiring) the package at build time.
    const specifier: string = SERVER_PACKAGE;
    loaded = await import(specifier);
  } catch (err) {
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
