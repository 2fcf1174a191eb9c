/**
 * `burrow privileges get|set|reset`: what processes in a sandbox may gain (no new privileges
 * means no sudo). A change applies from the sandbox's next boot; `burrow restart` applies it now.
 */
import { refusesNewPrivileges, type PrivilegesPolicy, type PrivilegesProfile } from '@burrow/protocol';
import type { Command } from 'commander';
import { clientFor } from '../client.js';
import { renderJson } from '../output.js';

interface SetOptions {
  profile?: PrivilegesProfile;
  device: string[];
  newPrivileges?: boolean;
}

const collect = (value: string, previous: string[]) => [...previous, value];

export function registerPrivileges(program: Command): void {
  const privileges = program.command('privileges').description("a sandbox's privileges policy (whether sudo works)");

  privileges
    .command('get')
    .description('print the policy as JSON')
    .argument('<name>')
    .action(async (name: string, _options: object, command: Command) => {
      process.stdout.write(renderJson(await clientFor(command).sandbox(name).getPrivileges()));
    });

  privileges
    .command('set')
    .description('change the policy (what is not given keeps its value); applies from the next boot')
    .argument('<name>')
    .option('--profile <profile>', 'standard (sudo works) or minimal (no new privileges)')
    .option('--no-new-privileges', 'no process may gain privileges: sudo is refused')
    .option('--new-privileges', 'processes may gain privileges again (sudo works)')
    .option('--device <name>', 'a device node the sandbox needs (repeatable; only those every sandbox has)', collect, [])
    .action(async (name: string, options: SetOptions, command: Command) => {
      const change: PrivilegesPolicy = {
        ...(options.profile === undefined ? {} : { profile: options.profile }),
        ...(options.device.length ? { devices: options.device } : {}),
        ...(options.newPrivileges === undefined ? {} : { noNewPrivileges: !options.newPrivileges }),
      };
      if (Object.keys(change).length === 0) throw new Error('give --profile, --no-new-privileges, --new-privileges or --device');
      const policy = await clientFor(command).sandbox(name).setPrivileges(change);
      process.stdout.write(`${describe(name, policy)}; applies from its next boot (\`burrow restart ${name}\` applies it now)\n`);
    });

  privileges
    .command('reset')
    .description('back to the defaults (sudo works) from the next boot')
    .argument('<name>')
    .action(async (name: string, _options: object, command: Command) => {
      const policy = await clientFor(command).sandbox(name).resetPrivileges();
      process.stdout.write(`${describe(name, policy)}; applies from its next boot (\`burrow restart ${name}\` applies it now)\n`);
    });
}

function describe(name: string, policy: Required<PrivilegesPolicy>): string {
  const sudo = refusesNewPrivileges(policy) ? 'no new privileges, sudo refused' : 'sudo works';
  return `privileges of ${name}: profile ${policy.profile || 'standard'} (${sudo})`;
}
