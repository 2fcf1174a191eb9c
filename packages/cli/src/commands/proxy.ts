/**
 * `burrow proxy NAME 5432 [3001:3000 ...]`: listens on local ports and relays each connection
 * to the port inside the sandbox (its localhost) over the proxy WebSocket, until Ctrl-C.
 */
import { createServer, type Server } from 'node:net';
import type { Command } from 'commander';
import { clientFor } from '../client.js';

interface Mapping {
  local: number;
  remote: number;
}

export function parseMapping(spec: string): Mapping {
  const m = /^(?:(\d{1,5}):)?(\d{1,5})$/.exec(spec);
  const remote = m ? Number(m[2]) : NaN;
  const local = m?.[1] ? Number(m[1]) : remote;
  if (!m || !(remote >= 1 && remote <= 65535) || !(local >= 0 && local <= 65535)) {
    throw new Error(`'${spec}' is not a port mapping: use PORT or LOCAL:REMOTE, like 5432 or 3001:3000`);
  }
  return { local, remote };
}

export function registerProxy(program: Command): void {
  program
    .command('proxy')
    .description('forward local ports to ports inside a sandbox (PORT or LOCAL:REMOTE)')
    .argument('<name>')
    .argument('<ports...>')
    .option('--bind <address>', 'local address to listen on', '127.0.0.1')
    .action(async (name: string, specs: string[], options: { bind: string }, command: Command) => {
      const mappings = specs.map(parseMapping);
      const sandbox = clientFor(command).sandbox(name);
      await sandbox.refresh(); // an unknown sandbox fails here, before anything listens
      const servers: Server[] = [];
      for (const { local, remote } of mappings) {
        const server = createServer((conn) => {
          conn.pause();
          sandbox.openTcpProxy(remote).then(
            (stream) => {
              stream.on('error', () => conn.destroy());
              conn.on('error', () => stream.destroy());
              conn.pipe(stream).pipe(conn);
              conn.resume();
            },
            (err: Error) => {
              process.stderr.write(`burrow: ${name}:${remote}: ${err.message}\n`);
              conn.destroy();
            },
          );
        });
        await new Promise<void>((resolve, reject) => {
          server.once('error', reject);
          server.listen(local, options.bind, () => resolve());
        });
        const bound = (server.address() as { port: number }).port;
        process.stdout.write(`${options.bind}:${bound} -> ${name}:${remote}\n`);
        servers.push(server);
      }
      await new Promise<void>((resolve) => {
        process.once('SIGINT', resolve);
        process.once('SIGTERM', resolve);
      });
      for (const s of servers) s.close();
    });
}
