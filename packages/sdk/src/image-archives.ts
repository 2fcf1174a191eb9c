/**
 * A sandbox as an OCI image archive, streamed: `sandbox.export()` resolves once burrow has
 * measured the image (the checkpoint, the digest, what the app will need) and gives the bytes
 * as a Readable to pipe to a file, `docker load` or a registry tool.
 */
import { Readable } from 'node:stream';
import type { ReadableStream as WebReadableStream } from 'node:stream/web';
import { EXPORT_HEADERS, type ExportNotes, type ImageArchiveFormat } from '@burrow/protocol';
import type { HttpApi } from './http.js';

/** Export has no timeout of its own; this only bounds a server that hangs (a large disk takes long). */
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
  const response = await api.send('GET', `${path}/export`, { query, expect: [200], timeoutMs: EXPORT_TIMEOUT_MS, signal: options.signal });
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
