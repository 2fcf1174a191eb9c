/**
 * Sandboxes as OCI images: what the export and import routes take, and the headers an export
 * answers with before its bytes (what the client must know but the archive cannot say).
 */
import { z } from 'zod';
import { SERVICE_NAME, serviceBody } from './request-schemas.js';
import { RUNTIMES } from './runtimes.js';

export const IMAGE_ARCHIVE_FORMATS = ['oci', 'docker'] as const;
export type ImageArchiveFormat = (typeof IMAGE_ARCHIVE_FORMATS)[number];

/** `GET /v1/sprites/{name}/export`. Without `checkpoint`, an automatic checkpoint is taken first. */
export const exportQuery = z.object({
  checkpoint: z.string().max(64).optional(),
  format: z.enum(IMAGE_ARCHIVE_FORMATS).optional(),
  /** The name Docker gives the image on load (`app:1`); default `NAME:CHECKPOINT`. */
  tag: z.string().max(255).optional(),
});

/** `POST /v1/sprites/{name}/import`: the body is the archive (application/x-tar), streamed. */
export const importQuery = z.object({
  runtime: z.enum(RUNTIMES).optional(),
});

/** Response headers of an export. */
export const EXPORT_HEADERS = {
  /** The checkpoint exported (one taken for the export when none was named). */
  checkpoint: 'burrow-checkpoint',
  /** The image manifest's digest: the same for the same checkpoint, every time. */
  digest: 'burrow-image-digest',
  /** `hit` when the image's base layer came from the cache, `built` when it was made now. */
  baseLayer: 'burrow-base-layer',
  /** URI-encoded JSON ExportNotes. */
  notes: 'burrow-export-notes',
} as const;

/** What an export tells its user besides the bytes. */
export interface ExportNotes {
  /** Secrets granted to the sandbox: the image has no placeholder; give the app real values. */
  secrets: Array<{ secret: string; env: string | null }>;
  /** Files left out of the image, and why (device nodes, files past the sandbox's storage size). */
  skipped: Array<{ path: string; reason: string }>;
  /** How many were left out in all (`skipped` lists the first ones). */
  skippedCount: number;
}

/**
 * The image config label of a burrow export that describes its services (JSON, in start order),
 * so that an import makes the same services again; the image's init reads its own copy.
 */
export const SERVICES_LABEL = 'dev.burrow.services';
export const exportedServices = z.array(serviceBody.extend({ name: z.string().regex(SERVICE_NAME) })).max(64);
export type ExportedService = z.infer<typeof exportedServices>[number];
