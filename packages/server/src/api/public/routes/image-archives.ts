// Sandboxes as OCI image archives: export (streamed out) and import (streamed in). Everything
// that can fail with a proper status
// in an export (no such sandbox or checkpoint, no room for the automatic checkpoint, a layer that
// cannot be packed) fails before the first byte; after it, a failure can only cut the stream
// short, which the client sees as a truncated archive (its length and digests do not match).
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { EXPORT_HEADERS, exportQuery, importQuery, type ExportNotes } from '@burrow/protocol';
import type { FastifyPluginAsync } from 'fastify';
import type { ImageExports } from '../../../core/image-exports.js';
import type { ImageImports } from '../../../core/image-imports.js';
import { validName } from '../../../core/names.js';
import type { ViewContext } from '../sprite-view.js';
import { spriteView } from '../sprite-view.js';

type NameParams = { Params: { name: string } };

/** Files left out that the notes header names one by one; a header must stay well under 16 KiB. */
const NAMED_SKIPPED = 20;

export interface ImageArchiveDeps {
  exports: ImageExports;
  imports: ImageImports;
  view: ViewContext;
  logError?: (message: string) => void;
}

export function imageArchiveRoutes({ exports, imports, view, logError = () => {} }: ImageArchiveDeps): FastifyPluginAsync {
  return async (app) => {
    // The archive is streamed to the unpacker, never held: any content type, no body limit here
    // (the pool's room is what bounds it).
    app.addContentTypeParser('*', (_req, payload, done) => done(null, payload));

    app.post<NameParams>('/v1/sprites/:name/import', async (req, reply) => {
      const name = validName(req.params.name);
      const q = importQuery.parse(req.query);
      const record = await imports.import(name, req.body as Readable, { runtime: q.runtime });
      return reply.code(201).send(spriteView(record, view));
    });

    app.get<NameParams>('/v1/sprites/:name/export', async (req, reply) => {
      const name = validName(req.params.name);
      const q = exportQuery.parse(req.query);
      const prepared = await exports.prepare(name, q);
      const notes: ExportNotes = {
        secrets: prepared.secrets,
        skipped: prepared.skipped.slice(0, NAMED_SKIPPED).map((s) => ({ path: s.path.slice(0, 256), reason: s.reason })),
        skippedCount: prepared.skipped.length,
      };
      reply.hijack();
      const res = reply.raw;
      res.writeHead(200, {
        'Content-Type': 'application/x-tar',
        'Content-Disposition': `attachment; filename="${name}-${prepared.checkpoint}.tar"`,
        [EXPORT_HEADERS.checkpoint]: prepared.checkpoint,
        [EXPORT_HEADERS.digest]: prepared.manifestDigest,
        [EXPORT_HEADERS.baseLayer]: prepared.baseLayerCached ? 'hit' : 'built',
        [EXPORT_HEADERS.notes]: encodeURIComponent(JSON.stringify(notes)),
      });
      try {
        await pipeline(Readable.from(prepared.chunks()), res);
      } catch (e) {
        if (!res.destroyed) logError(`export of '${name}' at ${prepared.checkpoint} broke off: ${(e as Error).message}`);
        res.destroy();
      }
    });
  };
}
