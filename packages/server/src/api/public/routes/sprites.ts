// Sandbox lifecycle: POST/GET /v1/sprites, GET/PUT/DELETE /v1/sprites/{name}, restart and check
// (spec section 2), and burrow's sleep and wake.
import type { KillResult, RestartResult, SandboxCheck as SandboxCheckWire } from '@burrow/protocol';
import type { FastifyPluginAsync } from 'fastify';
import type { SandboxLimits } from '../../../core/sandbox-limits.js';
import type { SandboxDefaults, SandboxManager } from '../../../core/sandbox-manager.js';
import type { SessionRegistry } from '../../../core/sessions.js';
import { validName } from '../../../core/names.js';
import { checkSandbox } from '../../../core/sandbox-check.js';
import { createSpriteBody, listSpritesQuery, sleepQuery, updateSpriteBody } from '@burrow/protocol';
import { ORGANIZATION, spriteView, type ViewContext } from '../sprite-view.js';
import { watchSprites } from '../sprite-watch.js';

const PAGE_MAX = 100;

export interface SpriteRouteDeps {
  manager: SandboxManager;
  view: ViewContext;
  defaults: SandboxDefaults;
  limits: SandboxLimits;
  sessions: SessionRegistry;
}

export function spriteRoutes(deps: SpriteRouteDeps): FastifyPluginAsync {
  const { manager, view } = deps;
  return async (app) => {
    app.post('/v1/sprites', async (req, reply) => {
      const body = createSpriteBody.parse(req.body ?? {});
      const runtime = body.runtime === 'default' || body.runtime === 'dev' || !body.runtime ? deps.defaults.runtime : body.runtime;
      const record = await manager.create({
        name: body.name,
        runtime,
        image: body.image ?? deps.defaults.image,
        cpus: body.config?.cpus ?? deps.defaults.cpus,
        ramMb: body.config?.ram_mb ?? deps.defaults.ramMb,
        storageGb: body.config?.storage_gb ?? deps.defaults.storageGb,
        pidsLimit: body.config?.pids_limit ?? deps.defaults.pidsLimit,
        waitForCapacity: body.wait_for_capacity ?? false,
        environment: body.environment ?? {},
        labels: body.labels ?? [],
        urlSettings: { auth: body.url_settings?.auth ?? 'sprite', private_access: body.url_settings?.private_access },
        sleep: body.sleep && { warmAfterMs: body.sleep.warm_after ?? null, coldAfterMs: body.sleep.cold_after ?? null },
      });
      return reply.code(201).send(spriteView(record, view));
    });

    app.get('/v1/sprites', async (req, reply) => {
      const q = listSpritesQuery.parse(req.query);
      // The live list: same path, chosen by Accept (spec section 2).
      if (req.headers.accept?.includes('application/x-ndjson')) return watchSprites(reply, manager, q.prefix ?? '');
      const limit = Math.min(q.max_results ?? 50, PAGE_MAX);
      const after = q.continuation_token ? Buffer.from(q.continuation_token, 'base64url').toString() : '';
      const rows = manager.page({ prefix: q.prefix ?? '', after, limit: limit + 1 });
      const page = rows.slice(0, limit);
      const hasMore = rows.length > limit;
      const counts = manager.counts();
      const org = { name: ORGANIZATION, ...counts };
      return {
        sprites: page.map((r) => spriteView(r, view)),
        has_more: hasMore,
        next_continuation_token: hasMore ? Buffer.from(page[page.length - 1]!.name).toString('base64url') : '',
        ...org,
        org,
      };
    });

    app.get<{ Params: { name: string } }>('/v1/sprites/:name', async (req) => {
      return spriteView(manager.get(validName(req.params.name)), view);
    });

    app.put<{ Params: { name: string } }>('/v1/sprites/:name', async (req) => {
      const body = updateSpriteBody.parse(req.body ?? {});
      const name = validName(req.params.name);
      manager.get(name);
      const limits = body.config;
      if (limits && Object.keys(limits).length > 0) {
        await deps.limits.update(name, {
          cpus: limits.cpus,
          ramMb: limits.ram_mb,
          storageGb: limits.storage_gb,
          pidsLimit: limits.pids_limit,
        });
      }
      const record = manager.update(name, {
        urlSettings: body.url_settings,
        labels: body.clear_labels ? [] : body.labels,
        environment: body.environment,
        sleep: body.sleep && { warmAfterMs: body.sleep.warm_after, coldAfterMs: body.sleep.cold_after },
      });
      return spriteView(record, view);
    });

    // burrow's extras: sleep now (`?cold=true` to stop it, not just freeze it), wake now.
    app.post<{ Params: { name: string } }>('/v1/sprites/:name/sleep', async (req) => {
      const q = sleepQuery.parse(req.query);
      const name = validName(req.params.name);
      if (q.cold) deps.sessions.closeAll(name, 'the sandbox is going cold');
      return spriteView(await manager.sleep(name, q.cold ? 'cold' : 'warm'), view);
    });

    app.post<{ Params: { name: string } }>('/v1/sprites/:name/wake', async (req) => {
      return spriteView(await manager.ensureRunning(validName(req.params.name)), view);
    });

    // Sprites' restart (spec section 2): a new boot on the same disk; every process and session ends.
    app.post<{ Params: { name: string } }>('/v1/sprites/:name/restart', async (req): Promise<RestartResult> => {
      const name = validName(req.params.name);
      const before = manager.get(name).status;
      deps.sessions.closeAll(name, 'the sandbox is restarting');
      const started = performance.now();
      const record = await manager.restart(name);
      const ms = Math.round(performance.now() - started);
      return { sprite_name: record.name, machine_id: record.containerId, message: `restarted from ${before} in ${ms} ms; disk kept, processes started again` };
    });

    // Ends every process but init, without starting anything inside: what stops a fork bomb.
    app.post<{ Params: { name: string } }>('/v1/sprites/:name/kill', async (req): Promise<KillResult> => {
      const name = validName(req.params.name);
      const killed = await manager.killProcesses(name);
      return { sprite_name: name, killed, message: `ended ${killed} processes; services start again` };
    });

    // Sprites' check (spec section 2): probes a running sandbox, never wakes a sleeping one.
    app.get<{ Params: { name: string } }>('/v1/sprites/:name/check', async (req): Promise<SandboxCheckWire> => {
      const check = await checkSandbox(manager, validName(req.params.name));
      return {
        sprite_name: check.sandbox.name,
        sprite_id: check.sandbox.id,
        status: check.status,
        ...(check.reason === undefined ? {} : { reason: check.reason }),
        checked_at: check.checkedAt.toISOString(),
        ...(check.elapsedMs === undefined ? {} : { elapsed: check.elapsedMs }),
      };
    });

    app.delete<{ Params: { name: string } }>('/v1/sprites/:name', async (req, reply) => {
      const name = validName(req.params.name);
      deps.sessions.closeAll(name, 'the sandbox is being destroyed');
      await manager.destroy(name);
      return reply.code(204).send();
    });
  };
}
