/**
 * `burrow agent`: a coding agent in YOLO mode on this terminal, in a detachable session of its
 * own. The sandbox is created (on the dev image, which carries the agents) when it does not
 * exist yet; running the command again re-attaches to the agent that is still running.
 */
import { AGENT_NAMES, AGENTS, DEFAULT_AGENT, isBurrowError, type AgentName, type Sandbox } from '@burrow/sdk';
import { Argument, type Command } from 'commander';
import { leave } from '../attachment.js';
import { clientFor } from '../client.js';
import { bridgeTerminal, isInteractive, localTerminal } from '../terminal.js';

/** Where the agent starts: the user's home, which persists with the sandbox's disk. */
const AGENT_DIR = '/home/user';

export function registerAgent(program: Command): void {
  program
    .command('agent')
    .description('run a coding agent in YOLO mode in a sandbox (created if missing); Ctrl+\\ detaches, running it again re-attaches')
    .argument('<name>', 'the sandbox')
    .addArgument(new Argument('[agent]', 'which agent').choices(AGENT_NAMES).default(DEFAULT_AGENT))
    .argument('[args...]', "more arguments for the agent; put `--` before them")
    .showHelpAfterError('(put `--` before the agent\'s own options: burrow agent <name> claude -- --model opus)')
    .action(async (name: string, agent: AgentName, args: string[], _options: object, command: Command) => {
      const client = clientFor(command);
      const sandbox = await existingOrCreated(command, name);
      const [cmd, ...yolo] = AGENTS[agent].command;
      const local = localTerminal();
      const line = AGENTS[agent].command.join(' ');
      const running = (await sandbox.listSessions()).find((s) => s.is_active && s.tty && (s.command === line || s.command.startsWith(`${line} `)));
      if (running) {
        if (args.length) process.stderr.write(`${agent} is already running in ${name}; re-attaching to it (the new arguments are not used)\n`);
        const handle = await client.sandbox(name).attachSession(running.id);
        if (!handle.tty) throw new Error(`session ${running.id} in ${name} has no terminal`);
        const outcome = await bridgeTerminal(handle, { detachKey: true, sendSize: true, ctrlDAtEnd: false, hangupOnLeave: false }, local);
        await leave(outcome, { sandbox: name, sessionId: handle.sessionId, detachable: true, interactive: isInteractive(local) });
      }
      await warnWithoutKey(command, name, agent);
      const size = local.sized ? { rows: local.sized.rows, cols: local.sized.columns } : {};
      const handle = await sandbox.createSession(cmd!, [...yolo, ...args], { cwd: AGENT_DIR, ...size });
      const outcome = await bridgeTerminal(handle, { detachKey: true, sendSize: false, ctrlDAtEnd: true, hangupOnLeave: false }, local);
      await leave(outcome, { sandbox: name, sessionId: handle.sessionId, detachable: true, interactive: isInteractive(local) });
    });
}

async function existingOrCreated(command: Command, name: string): Promise<Sandbox> {
  const client = clientFor(command);
  try {
    return await client.getSandbox(name);
  } catch (e) {
    if (!isBurrowError(e) || e.status !== 404) throw e;
  }
  process.stderr.write(`creating sandbox ${name} (dev image)\n`);
  return client.createSandbox(name, { image: 'dev' });
}

/** Says how to give the agent a key when no secret of its preset is granted to the sandbox. */
async function warnWithoutKey(command: Command, name: string, agent: AgentName): Promise<void> {
  const { preset } = AGENTS[agent];
  // Only an admin token may list secrets; with another there is nothing to check against.
  const secrets = await clientFor(command).listSecrets().catch(() => undefined);
  if (!secrets || secrets.some((s) => s.preset === preset && s.grants.some((g) => g.sandbox === name))) return;
  const secret = secrets.find((s) => s.preset === preset)?.name;
  const add = secret ? '' : `\`echo "$KEY" | burrow secret add ${preset} --preset ${preset}\` and `;
  process.stderr.write(`note: ${name} holds no ${preset} key placeholder; give it one with ${add}\`burrow secret grant ${secret ?? preset} ${name}\`\n`);
}
