// Checkpoints (spec section 5): create and restore answer with an NDJSON stream of progress
// events; list, get and delete are plain JSON; fork (a burrow extra) answers with the new Sprite.
import type { CheckpointEvent } from '@burrow/protocol';
import type { FastifyPluginAsync, FastifyReply } from 'fastify';
import type { Checkpoints } from '../../../core/checkpoints.js';
import { DomainError } from '../../../core/errors.js';
import { validName } from '../../../core/names.js';
import { checkpointView } from '../../checkpoint-view.js';
import { createCheckpointBody, forkBody, listCheckpointsQuery } from '@burrow/protocol';
import { spriteView, type ViewContext } from '../sprite-view.js';

type NameParams = { Params: { name: string } };
type IdParams = { Params: { name: string; id: string } };

export interface CheckpointRouteDeps {
  checkpoints: Checkpoints;
  view: ViewContext;
}

export function checkpointRoutes(deps: CheckpointRouteDeps): FastifyPluginAsync {
  const { checkpoints, view } = deps;
  return async (app) => {
    app.post<NameParams>('/v1/sprites/:name/checkpoint', async (req, reply) => {
      const name = validName(req.params.name);
      const body = createCheckpointBody.parse(req.body ?? {});
      await checkpoints.precheck(name, undefined, { memory: body.memory });
      await streamEvents(reply, async (info) => {
        const started = performance.now();
        const checkpoint = await checkpoints.create(name, { comment: body.comment, memory: body.memory }, info);
        info(`checkpoint ${checkpoint.id} of '${name}' is on disk (${Math.round(performance.now() - started)} ms in all)`);
        return `Checkpoint ${checkpoint.id} created`;
      });
    });

    app.get<NameParams>('/v1/sprites/:name/checkpoints', async (req) => {
      const name = validName(req.params.name);
      const q = listCheckpointsQuery.parse(req.query);
      const list = await checkpoints.list(name, { includeAuto: q.includeAuto ?? false, history: q.history });
      return list.map(checkpointView);
    });

    app.get<IdParams>('/v1/sprites/:name/checkpoints/:id', async (req) => {
      return checkpointView(await checkpoints.get(validName(req.params.name), req.params.id));
    });

    app.post<IdParams>('/v1/sprites/:name/checkpoints/:id/restore', async (req, reply) => {
      const { id } = req.params;
      const name = validName(req.params.name);
      await checkpoints.precheck(name, id);
      await streamEvents(reply, async (info) => {
        const started = performance.now();
        const { autoId } = await checkpoints.restore(name, id, info);
        info(`restored in ${Math.round(performance.now() - started)} ms; to undo, restore ${autoId}`);
        return `Restored ${id}`;
      });
    });

    app.delete<IdParams>('/v1/sprites/:name/checkpoints/:id', async (req, reply) => {
      await checkpoints.delete(validName(req.params.name), req.params.id);
      return reply.code(204).send();
    });

    app.post<IdParams>('/v1/sprites/:name/checkpoints/:id/fork', async (req, reply) => {
      const name = validName(req.params.name);
      const body = forkBody.parse(req.body ?? {});
      const record = await checkpoints.fork(name, req.params.id, body.name);
      return reply.code(201).send(spriteView(record, view));
    });
  };
}

/**
 * Answers 200 with `application/x-ndjson` and one flushed line per event: `info` lines while
 * `work` runs, then `complete` with what `work` returns, or `error` if it throws. Checks that can
 * fail with a proper status must happen before this is called.
 */
async function streamEvents(reply: FastifyReply, work: (info: (line: string) => void) => Promise<string>): Promise<void> {
  reply.hijack();
  const res = reply.raw;
  res.writeHead(200, { 'Content-Type': 'application/x-ndjson', 'Cache-Control': 'no-cache', 'Sprite-Version': '1.0.0' });
  const send = (event: CheckpointEvent) => {
    if (!res.writableEnded && !res.destroyed) res.write(`${JSON.stringify(event)}\n`);
  };
  const time = () => new Date().toISOString();
  try {
    const done = await work((data) => send({ type: 'info', data, time: time() }));
    send({ type: 'complete', data: done, time: time() });
  } catch (e) {
    send({ type: 'error', error: (e as Error).message, ...(e instanceof DomainError ? { code: e.code } : {}), time: time() });
  } finally {
    res.end();
  }
}
