// Metered usage and its cost (a burrow extra): `GET /v1/usage?from=&to=&sprite=` for the whole
// server or one sandbox, and `GET /v1/sprites/{name}/usage?from=&to=` for one sandbox.
import type { FastifyPluginAsync } from 'fastify';
import { SandboxNotFound } from '../../../core/errors.js';
import { ApiError } from '../../errors.js';
import { validName } from '../../../core/names.js';
import type { SandboxManager } from '../../../core/sandbox-manager.js';
import type { Usage } from '../../../core/usage.js';
import { usageQuery } from '@burrow/protocol';

const DAY_MS = 86_400_000;
const MAX_RANGE_MS = 400 * DAY_MS;

export interface UsageRouteDeps {
  usage: Usage;
  manager: SandboxManager;
}

export function usageRoutes(deps: UsageRouteDeps): FastifyPluginAsync {
  const { usage, manager } = deps;
  const range = (query: unknown) => {
    const q = usageQuery.parse(query);
    const to = q.to ?? new Date();
    const from = q.from ?? new Date(to.getTime() - DAY_MS);
    if (from.getTime() >= to.getTime()) throw new ApiError('invalid_request', '`from` must be before `to`');
    if (to.getTime() - from.getTime() > MAX_RANGE_MS) throw new ApiError('invalid_request', 'a usage range is at most 400 days');
    return { from, to, sprite: q.sprite };
  };
  return async (app) => {
    app.get('/v1/usage', async (req) => {
      const { from, to, sprite } = range(req.query);
      return usage.report({ from, to }, sprite === undefined ? undefined : validName(sprite));
    });

    app.get<{ Params: { name: string } }>('/v1/sprites/:name/usage', async (req) => {
      const name = validName(req.params.name);
      const { from, to } = range(req.query);
      const report = await usage.report({ from, to }, name);
      if (report.sprites.length === 0 && !manager.list().some((r) => r.name === name)) throw new SandboxNotFound(name);
      return report;
    });
  };
}
