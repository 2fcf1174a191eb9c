/**
 * `burrow service create|list|start|stop|restart|logs|delete`: long-running programs burrow
 * supervises inside a sandbox. They start when the sandbox boots or wakes from cold, restart
 * when they crash, and stay stopped once stopped.
 */
import type { ServiceEvent } from '@burrow/protocol';
import type { Command } from 'commander';
import { clientFor } from '../client.js';
import { collectEnv, positiveInteger } from '../options.js';
import { formatAge, renderJson, renderTable } from '../output.js';

/** Output events as the service wrote them; lifecycle events as notes on stderr. */
function show(event: ServiceEvent): void {
  if (event.type === 'stdout') process.stdout.write(event.data ?? '');
  else if (event.type === 'stderr') process.stderr.write(event.data ?? '');
  else if (event.type === 'exit') process.stderr.write(`  exited with code ${event.exit_code}\n`);
  else if (event.type === 'error') process.stderr.write(`  error: ${event.data ?? ''}\n`);
  else if (event.type !== 'complete') process.stderr.write(`  ${event.type}\n`);
}

const collect = (value: string, previous: string[] = []) => [...previous, value];

export function registerService(program: Command): void {
  const service = program.command('service').description('supervised services inside a sandbox');

  service
    .command('create')
    .description('create (or redefine) a service and start it')
    .argument('<name>', 'the sandbox')
    .argument('<service>', 'the service name')
    .argument('<cmd...>', 'the command and its arguments (put them after --)')
    .option('--env <KEY=VALUE>', 'environment variable (repeatable)', collectEnv)
    .option('--dir <path>', 'working directory (default: the user home)')
    .option('--needs <service>', 'a service to start first (repeatable)', collect)
    .option('--http-port <port>', 'the port the service serves HTTP on', positiveInteger)
    .option('--duration <d>', 'how long to show its first output, e.g. 5s', '2s')
    .action(
      async (
        name: string,
        svc: string,
        cmd: string[],
        options: { env?: Record<string, string>; dir?: string; needs?: string[]; httpPort?: number; duration: string },
        command: Command,
      ) => {
        const [program_, ...args] = cmd;
        await clientFor(command)
          .sandbox(name)
          .services.put(
            svc,
            {
              cmd: program_!,
              args,
              ...(options.env ? { env: options.env } : {}),
              ...(options.dir ? { dir: options.dir } : {}),
              ...(options.needs ? { needs: options.needs } : {}),
              ...(options.httpPort ? { http_port: options.httpPort } : {}),
            },
            { duration: options.duration, onEvent: show },
          );
        process.stderr.write(`service ${svc} of ${name} created; logs: burrow service logs ${name} ${svc}\n`);
      },
    );

  service
    .command('list')
    .alias('ls')
    .description("list a sandbox's services and their state")
    .argument('<name>', 'the sandbox')
    .option('--json', 'print a JSON array for scripts')
    .action(async (name: string, options: { json?: boolean }, command: Command) => {
      const list = await clientFor(command).sandbox(name).services.list();
      if (options.json) return void process.stdout.write(renderJson(list));
      if (list.length === 0) return void process.stdout.write(`no services in ${name}: add one with \`burrow service create ${name} NAME -- CMD\`\n`);
      const now = new Date();
      process.stdout.write(
        renderTable(
          ['NAME', 'STATUS', 'PID', 'STARTED', 'RESTARTS', 'COMMAND'],
          list.map((s) => [
            s.name,
            s.state.error && s.state.status === 'failed' ? `failed (${s.state.error})` : s.state.status,
            s.state.pid === null ? '-' : String(s.state.pid),
            formatAge(s.state.started_at, now),
            String(s.state.restart_count),
            [s.cmd, ...s.args].join(' '),
          ]),
        ),
      );
    });

  for (const verb of ['start', 'restart'] as const) {
    service
      .command(verb)
      .description(verb === 'start' ? 'start a service (and what it needs)' : 'stop and start a service')
      .argument('<name>', 'the sandbox')
      .argument('<service>')
      .option('--duration <d>', 'how long to show its output, e.g. 5s', '2s')
      .action(async (name: string, svc: string, options: { duration: string }, command: Command) => {
        await clientFor(command).sandbox(name).services[verb](svc, { duration: options.duration, onEvent: show });
      });
  }

  service
    .command('stop')
    .description('stop a service; it stays stopped until started again')
    .argument('<name>', 'the sandbox')
    .argument('<service>')
    .option('--timeout <d>', 'how long to wait after SIGTERM before SIGKILL', '10s')
    .action(async (name: string, svc: string, options: { timeout: string }, command: Command) => {
      await clientFor(command).sandbox(name).services.stop(svc, { timeout: options.timeout, onEvent: show });
    });

  service
    .command('logs')
    .description("print a service's log (it lives in /.burrow/logs/services/<service>.log inside)")
    .argument('<name>', 'the sandbox')
    .argument('<service>')
    .option('-n, --lines <n>', 'how many lines from the end', positiveInteger)
    .option('-f, --follow <d>', 'then keep printing new output for this long, e.g. 30s')
    .action(async (name: string, svc: string, options: { lines?: number; follow?: string }, command: Command) => {
      await clientFor(command)
        .sandbox(name)
        .services.logs(svc, {
          ...(options.lines ? { lines: options.lines } : {}),
          ...(options.follow ? { duration: options.follow } : {}),
          onEvent: (e) => (e.type === 'stdout' || e.type === 'stderr' ? show(e) : undefined),
        });
    });

  service
    .command('delete')
    .alias('rm')
    .description('stop a service and delete it')
    .argument('<name>', 'the sandbox')
    .argument('<service>')
    .action(async (name: string, svc: string, _options: object, command: Command) => {
      await clientFor(command).sandbox(name).services.delete(svc);
      process.stdout.write(`deleted service ${svc} of ${name}\n`);
    });
}
