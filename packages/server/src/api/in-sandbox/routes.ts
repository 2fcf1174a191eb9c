// The in-sandbox API's own routes (see sandbox-api.ts): keep-alive tasks, and checkpoints of
// the calling sandbox. Every route acts on the sandbox that is calling and on no other: there
// is no sandbox name anywhere in these paths or bodies.
import type { FastifyPluginAsync, FastifyRequest } from 'fastify';
import type { Checkpoints } from '../../core/checkpoints.js';
import type { Tasks } from '../../core/tasks.js';
import type { TaskRecord } from '../../db/tasks.js';
import { createCheckpointBody, createTaskBody, extendTaskBody } from '@burrow/protocol';
import { checkpointView } from '../checkpoint-view.js';

export interface InSandboxDeps {
  tasks: Tasks;
  checkpoints: Checkpoints;
  /** The calling sandbox: its id and name. */
  caller(req: FastifyRequest): { id: string; name: string };
}

const taskView = (t: TaskRecord) => ({ id: t.id, name: t.name, expires_at: t.expiresAt, created_at: t.createdAt });

export function inSandboxRoutes(deps: InSandboxDeps): FastifyPluginAsync {
  const { tasks, checkpoints, caller } = deps;
  return async (app) => {
    app.get('/v1/self', async (req) => caller(req));

    app.get('/v1/tasks', async (req) => tasks.list(caller(req).id).map(taskView));

    app.post('/v1/tasks', async (req, reply) => {
      const body = createTaskBody.parse(req.body ?? {});
      const task = tasks.hold(caller(req).id, body.name ?? 'task', body.expire);
      return reply.code(201).send(taskView(task));
    });

    app.put<{ Params: { id: string } }>('/v1/tasks/:id', async (req) => {
      const body = extendTaskBody.parse(req.body ?? {});
      return taskView(tasks.extend(caller(req).id, req.params.id, body.expire));
    });

    app.delete<{ Params: { id: string } }>('/v1/tasks/:id', async (req, reply) => {
      tasks.release(caller(req).id, req.params.id);
      return reply.code(204).send();
    });

    app.get('/v1/checkpoints', async (req) => (await checkpoints.list(caller(req).name)).map(checkpointView));

    app.post('/v1/checkpoints', async (req, reply) => {
      const body = createCheckpointBody.parse(req.body ?? {});
      const { name } = caller(req);
      const created = await checkpoints.create(name, { comment: body.comment, memory: body.memory });
      return reply.code(201).send(checkpointView(await checkpoints.get(name, created.id)));
    });
  };
}
