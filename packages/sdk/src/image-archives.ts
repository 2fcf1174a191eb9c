/**
 * A sandbox as an OCI image archive, streamed: `sandbox.export()` resolves once burrow has
 * measured the image (the checkpoint, the digest, what the app will need) and gives the bytes
 * as a Readable to pipe to a file, `docker load` or a registry tool. `client.importSandbox()`
 * goes the other way: an image archive (from any tool) becomes a new sandbox.
 */
import { Readable } from 'node:stream';
import type { ReadableStream as WebReadableStream } from 'node:stream/web';
import { EXPORT_HEADERS, type ExportNotes, type ImageArchiveFormat, type Runtime, type Sprite } from '@burrow/protocol';
import { BurrowError } from './errors.js';
import type { HttpApi } from './http.js';

/** Transfers have no timeout of their own; this only bounds a server that hangs (a large disk takes long). */
const EXPORT_TIMEOUT_MS = 6 * 60 * 60_000;

export interface ExportOptions {
  /** The checkpoint to export; without it, burrow takes an automatic checkpoint first. */
  checkpoint?: string;
  /** `docker` adds Docker's manifest.json for `docker load` of engines older than 25. */
  format?: ImageArchiveFormat;
  /** The name the image loads as (`app:1`); default `NAME:CHECKPOINT`. */
  tag?: string;
  signal?: AbortSignal;
}

export interface SandboxExport {
  /** The archive's bytes (an OCI image layout as a tar). */
  stream: Readable;
  /** The checkpoint exported. */
  checkpoint: string;
  /** The manifest's digest: the same for the same checkpoint, every time. */
  digest: string;
  /** Whether the image's base layer came from burrow's cache. */
  baseLayerCached: boolean;
  /** Secrets the app used through burrow (give it real values in production), files left out. */
  notes: ExportNotes;
}

export async function exportSandbox(api: HttpApi, path: string, options: ExportOptions = {}): Promise<SandboxExport> {
  const query = new URLSearchParams();
  if (options.checkpoint) query.set('checkpoint', options.checkpoint);
  if (options.format) query.set('format', options.format);
  if (options.tag) query.set('tag', options.tag);
  const response = await exportResponse(api, `${path}/export`, query, options.signal);
  const notesHeader = response.headers.get(EXPORT_HEADERS.notes);
  const notes: ExportNotes = notesHeader ? (JSON.parse(decodeURIComponent(notesHeader)) as ExportNotes) : { secrets: [], skipped: [], skippedCount: 0 };
  return {
    stream: Readable.fromWeb(response.body as WebReadableStream<Uint8Array>),
    checkpoint: response.headers.get(EXPORT_HEADERS.checkpoint) ?? '',
    digest: response.headers.get(EXPORT_HEADERS.digest) ?? '',
    baseLayerCached: response.headers.get(EXPORT_HEADERS.baseLayer) === 'hit',
    notes,
  };
}

/**
 * The export's answer. The first export of an image waits for its base layer to be built
 * (minutes for a large image, once per machine): burrow answers 503 with a time to come back
 * meanwhile, and this comes back then, as often as it takes.
 */
async function exportResponse(api: HttpApi, path: string, query: URLSearchParams, signal?: AbortSignal): Promise<Response> {
  const deadline = Date.now() + EXPORT_TIMEOUT_MS;
  for (;;) {
    try {
      return await api.send('GET', path, { query, expect: [200], timeoutMs: EXPORT_TIMEOUT_MS, signal });
    } catch (e) {
      const wait = e instanceof BurrowError && e.status === 503 ? e.retryAfterSeconds : undefined;
      if (wait === undefined || Date.now() + wait * 1000 > deadline || signal?.aborted) throw e;
      await new Promise((resolve) => setTimeout(resolve, wait * 1000));
    }
  }
}

export interface ImportOptions {
  runtime?: Runtime;
}

/** Sends an image archive as it is read; resolves with the new sandbox's record. */
export async function importArchive(api: HttpApi, name: string, archive: AsyncIterable<Uint8Array>, options: ImportOptions = {}): Promise<Sprite> {
  const query = new URLSearchParams();
  if (options.runtime) query.set('runtime', options.runtime);
  const search = query.toString();
  const url = `${api.baseURL}/v1/sprites/${encodeURIComponent(name)}/import${search ? `?${search}` : ''}`;
  let response: Response;
  try {
    response = await fetch(url, {
      method: 'POST',
      headers: { ...api.authHeaders(), 'Content-Type': 'application/x-tar', Accept: 'application/json' },
      body: archive,
      duplex: 'half',
      signal: AbortSignal.timeout(EXPORT_TIMEOUT_MS),
    } as RequestInit);
  } catch (err) {
    throw api.connectionError(err, EXPORT_TIMEOUT_MS);
  }
  const text = await response.text();
  if (response.status !== 201) throw BurrowError.fromResponse(response.status, text, response.headers.get('retry-after'));
  return JSON.parse(text) as Sprite;
}
