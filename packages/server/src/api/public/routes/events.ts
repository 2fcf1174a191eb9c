// The event log of a sandbox (a burrow extra): `GET /v1/sprites/{name}/events` answers a JSON
// array, oldest first; with `follow=true` it answers NDJSON: the same events, then each new one
// as it happens, until the client goes away.
import type { SandboxEventWire } from '@burrow/protocol';
import type { FastifyPluginAsync } from 'fastify';
import type { EventLog, SandboxEvent } from '../../../core/events.js';
import { SandboxNotFound } from '../../../core/errors.js';
import { validName } from '../../../core/names.js';
import type { SandboxManager } from '../../../core/sandbox-manager.js';
import { eventsQuery } from '@burrow/protocol';

/** A line every so often keeps proxies and idle timeouts from closing a quiet follow. */
const HEARTBEAT_MS = 15_000;

export interface EventRouteDeps {
  events: EventLog;
  manager: SandboxManager;
}

export function eventRoutes(deps: EventRouteDeps): FastifyPluginAsync {
  const { events, manager } = deps;
  return async (app) => {
    app.get<{ Params: { name: string } }>('/v1/sprites/:name/events', async (req, reply) => {
      const name = validName(req.params.name);
      const q = eventsQuery.parse(req.query);
      const past = events.list(name, { afterSeq: q.after ?? 0, limit: q.limit ?? 100 });
      // Events outlive their sandbox; a name that never had one is unknown.
      if (past.length === 0 && !manager.list().some((r) => r.name === name)) throw new SandboxNotFound(name);
      if (!q.follow) return past.map(toWire);

      reply.hijack();
      const res = reply.raw;
      res.writeHead(200, { 'Content-Type': 'application/x-ndjson', 'Cache-Control': 'no-cache' });
      const send = (line: object) => {
        if (!res.writableEnded && !res.destroyed) res.write(`${JSON.stringify(line)}\n`);
      };
      let lastSeq = 0;
      const deliver = (e: SandboxEvent) => {
        if (e.seq <= lastSeq) return;
        lastSeq = e.seq;
        send(toWire(e));
      };
      // Subscribe before replaying, so nothing recorded in between is lost (seq dedups).
      const unfollow = events.follow(name, deliver);
      past.forEach(deliver);
      const heartbeat = setInterval(() => send({ type: 'heartbeat', time: new Date().toISOString() }), HEARTBEAT_MS);
      res.on('close', () => {
        clearInterval(heartbeat);
        unfollow();
      });
    });
  };
}

export function toWire(e: SandboxEvent): SandboxEventWire {
  return {
    id: e.seq,
    sprite: e.sandboxName,
    sprite_id: e.sandboxId,
    type: e.type,
    message: e.message,
    time: e.createdAt,
    ...(e.detail ? { detail: e.detail } : {}),
  };
}
