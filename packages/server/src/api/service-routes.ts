// Services (spec §7): list, get, create/update, delete, start, stop, restart, logs and signal,
// with NDJSON event streams. The same routes serve the public API (the sandbox named in the
// path) and the in-sandbox API (the sandbox that is calling), so `at` gives the path prefix and
// how a request names its sandbox.
import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import type { ServiceRecord } from '../db/services.js';
import { ApiError } from './errors.js';
import { normalizeSignal } from '../core/exit-codes.js';
import type { ServiceEvent, ServiceProcess } from '../core/service-process.js';
import { definitionOf, logFileOf, type Services } from '../core/services.js';
import { NdjsonStream } from './ndjson.js';
import {
  serviceBody,
  serviceLogsQuery,
  serviceName,
  serviceSignalBody,
  serviceStopQuery,
  serviceStreamQuery,
} from '@burrow/protocol';

export interface ServiceRoutesAt {
  /** `/v1/sprites/:name` (public) or `/v1` (in-sandbox). */
  prefix: string;
  sandboxOf(req: FastifyRequest): string;
}

/** How long start, create and restart stream the new process's output when no `duration` is given. */
const DEFAULT_STREAM_MS = 1_000;
const DEFAULT_LOG_LINES = 100;

export function serviceView(record: ServiceRecord, proc: ServiceProcess | undefined) {
  const iso = (d: Date | null | undefined) => (d ? d.toISOString() : null);
  return {
    name: record.name,
    cmd: record.cmd,
    args: record.args,
    env: record.env,
    dir: record.dir ?? '',
    needs: record.needs,
    http_port: record.httpPort,
    state: {
      name: record.name,
      status: proc?.status ?? 'stopped',
      pid: proc?.pid ?? null,
      started_at: iso(proc?.startedAt),
      error: proc?.error ?? null,
      restart_count: proc?.restartCount ?? 0,
      next_restart_at: iso(proc?.nextRestartAt),
    },
  };
}

type SvcReq = FastifyRequest<{ Params: { svc: string } }>;

export function serviceRoutes(services: Services, at: ServiceRoutesAt): FastifyPluginAsync {
  const svcOf = (req: SvcReq) => serviceName.parse(req.params.svc);
  return async (app) => {
    app.get(`${at.prefix}/services`, async (req) =>
      services.list(at.sandboxOf(req)).map(({ record, proc }) => serviceView(record, proc)),
    );

    app.get(`${at.prefix}/services/:svc`, async (req: SvcReq) => {
      const { record, proc } = services.get(at.sandboxOf(req), svcOf(req));
      return serviceView(record, proc);
    });

    app.put(`${at.prefix}/services/:svc`, async (req: SvcReq, reply) => {
      const name = at.sandboxOf(req);
      const svc = svcOf(req);
      const body = serviceBody.parse(req.body ?? {});
      const q = serviceStreamQuery.parse(req.query);
      const def = definitionOf(svc, body);
      await streamWhile(reply, svc, q.duration ?? DEFAULT_STREAM_MS, (listen) => services.put(name, def).then(listen));
    });

    app.delete(`${at.prefix}/services/:svc`, async (req: SvcReq, reply) => {
      await services.delete(at.sandboxOf(req), svcOf(req));
      return reply.code(204).send();
    });

    app.post(`${at.prefix}/services/:svc/start`, async (req: SvcReq, reply) => {
      const name = at.sandboxOf(req);
      const svc = svcOf(req);
      const q = serviceStreamQuery.parse(req.query);
      services.get(name, svc); // 404 before the stream starts
      await streamWhile(reply, svc, q.duration ?? DEFAULT_STREAM_MS, (listen) => services.start(name, svc).then(listen));
    });

    app.post(`${at.prefix}/services/:svc/stop`, async (req: SvcReq, reply) => {
      const name = at.sandboxOf(req);
      const svc = svcOf(req);
      const q = serviceStopQuery.parse(req.query);
      const { proc } = services.get(name, svc);
      if (!proc?.live) throw new ApiError('conflict', `service '${svc}' is not running`);
      const ndjson = open(reply);
      const forward = (e: ServiceEvent) => ndjson.send(e);
      proc.on('event', forward);
      try {
        await services.stop(name, svc, q.timeout);
      } finally {
        proc.off('event', forward);
      }
      ndjson.end(complete(svc));
    });

    app.post(`${at.prefix}/services/:svc/restart`, async (req: SvcReq, reply) => {
      const name = at.sandboxOf(req);
      const svc = svcOf(req);
      const q = serviceStreamQuery.parse(req.query);
      services.get(name, svc);
      await streamWhile(reply, svc, q.duration ?? DEFAULT_STREAM_MS, async (listen) => {
        const { proc } = services.get(name, svc);
        if (proc) listen(proc);
        await services.stop(name, svc);
        listen(await services.start(name, svc));
      });
    });

    app.get(`${at.prefix}/services/:svc/logs`, async (req: SvcReq, reply) => {
      const name = at.sandboxOf(req);
      const svc = svcOf(req);
      const q = serviceLogsQuery.parse(req.query);
      const text = await services.tail(name, svc, q.lines ?? DEFAULT_LOG_LINES);
      const ndjson = open(reply);
      for (const line of text.split(/(?<=\n)/)) if (line) ndjson.send({ type: 'stdout', data: line, timestamp: Date.now() });
      const { proc } = services.get(name, svc);
      if (q.duration && proc) {
        const forward = (e: ServiceEvent) => ndjson.send(e);
        proc.on('event', forward);
        await new Promise((r) => setTimeout(r, q.duration));
        proc.off('event', forward);
      }
      ndjson.end(complete(svc));
    });

    app.post(`${at.prefix}/services/signal`, async (req, reply) => {
      const body = serviceSignalBody.parse(req.body ?? {});
      const signal = normalizeSignal(body.signal);
      if (!signal) throw new ApiError('invalid_request', `signal: '${body.signal}' is not a signal name`);
      await services.signal(at.sandboxOf(req), body.name, signal);
      return reply.code(204).send();
    });
  };
}

function open(reply: FastifyReply): NdjsonStream {
  reply.hijack();
  return new NdjsonStream(reply.raw);
}

function complete(svc: string): ServiceEvent {
  return { type: 'complete', timestamp: Date.now(), log_files: [logFileOf(svc)] };
}

/**
 * Runs `act` (which calls `listen` with the process as soon as there is one) and streams that
 * process's events for `ms`, or until it exits, then `complete`. Errors before the stream opens
 * are ordinary HTTP errors; after, an `error` event.
 */
async function streamWhile(
  reply: FastifyReply,
  svc: string,
  ms: number,
  act: (listen: (proc: ServiceProcess) => void) => Promise<unknown>,
): Promise<void> {
  const events: ServiceEvent[] = [];
  let ndjson: NdjsonStream | undefined;
  let exited: () => void = () => {};
  const exit = new Promise<void>((r) => (exited = r));
  let proc: ServiceProcess | undefined;
  const forward = (e: ServiceEvent) => {
    if (ndjson) ndjson.send(e);
    else events.push(e);
    if (e.type === 'exit') exited();
  };
  const listen = (p: ServiceProcess) => {
    if (proc === p) return;
    proc?.off('event', forward);
    proc = p;
    p.on('event', forward);
  };
  try {
    await act(listen);
  } catch (e) {
    proc?.off('event', forward);
    throw e;
  }
  // A first start hands over the process once launched: its `started` went by just before.
  if (proc?.startedAt && !events.some((e) => e.type === 'started')) {
    events.unshift({ type: 'started', timestamp: proc.startedAt.getTime() });
  }
  ndjson = open(reply);
  for (const e of events) ndjson.send(e);
  if (!events.some((e) => e.type === 'exit')) {
    await Promise.race([exit, new Promise((r) => setTimeout(r, ms))]);
  }
  proc?.off('event', forward);
  ndjson.end(complete(svc));
}
