// Port watch (spec §10): a WebSocket on /v1/sprites/{name}/ports/watch that first lists the
// ports the sandbox listens on, then reports each one opened or closed.
import type { FastifyPluginAsync, FastifyRequest } from 'fastify';
import { ApiError } from '../../errors.js';
import { validName } from '../../../core/names.js';
import type { SandboxManager } from '../../../core/sandbox-manager.js';
import type { PortWatchers } from '../../../network/port-watcher.js';

type NameParams = { Params: { name: string } };

export interface PortRouteDeps {
  manager: SandboxManager;
  ports: PortWatchers;
}

export function portRoutes(deps: PortRouteDeps): FastifyPluginAsync {
  const { manager } = deps;
  return async (app) => {
    app.route<NameParams>({
      method: 'GET',
      url: '/v1/sprites/:name/ports/watch',
      preHandler: async (req: FastifyRequest<NameParams>) => {
        validName(req.params.name);
        if (req.headers.upgrade?.toLowerCase() !== 'websocket') {
          manager.get(req.params.name);
          throw new ApiError('invalid_request', 'the port watch is a WebSocket: send Upgrade: websocket');
        }
        await manager.ensureRunning(req.params.name);
      },
      handler: async () => ({}),
      wsHandler: (socket, req) => {
        const record = manager.get(req.params.name);
        let stop = () => {};
        let closed = false;
        socket.on('close', () => {
          closed = true;
          stop();
        });
        deps.ports
          .watch(record.id, (e) => {
            if (socket.readyState === socket.OPEN) socket.send(JSON.stringify({ type: e.event, port: e.port, address: e.address, pid: e.pid }));
          })
          .then(
            (w) => {
              stop = w.stop;
              if (closed) return stop();
              socket.send(JSON.stringify({ type: 'port_list', ports: w.ports }));
            },
            (e: Error) => socket.close(1011, e.message.slice(0, 120)),
          );
      },
    });
  };
}
