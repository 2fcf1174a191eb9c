/** `burrow policy get|set`: a sandbox's egress policy (which names it may reach), applied live. */
import { readFile } from 'node:fs/promises';
import type { NetworkPolicy, NetworkPolicyRule } from '@burrow/protocol';
import type { Command } from 'commander';
import { clientFor } from '../client.js';
import { renderJson } from '../output.js';

interface SetOptions {
  allow: string[];
  deny: string[];
  defaults?: boolean;
  file?: string;
  clear?: boolean;
}

const collect = (value: string, previous: string[]) => [...previous, value];

export function registerPolicy(program: Command): void {
  const policy = program.command('policy').description("a sandbox's egress policy (DNS allow-list)");

  policy
    .command('get')
    .description('print the policy as JSON ({"rules":[]} when there is none)')
    .argument('<name>')
    .action(async (name: string, _options: object, command: Command) => {
      process.stdout.write(renderJson(await clientFor(command).sandbox(name).getNetworkPolicy()));
    });

  policy
    .command('set')
    .description('replace the policy; names no rule allows get REFUSED, and raw IPs are dropped')
    .argument('<name>')
    .option('--allow <domain>', 'allow a name or *.suffix (repeatable)', collect, [])
    .option('--deny <domain>', 'deny a name or *.suffix (repeatable)', collect, [])
    .option('--defaults', 'include the preset of package registries and code hosts')
    .option('--file <path>', 'read the whole policy as JSON from a file (- for stdin)')
    .option('--clear', 'remove the policy: the public internet is open again')
    .action(async (name: string, options: SetOptions, command: Command) => {
      const next = await policyFrom(options);
      await clientFor(command).sandbox(name).setNetworkPolicy(next);
      const count = next.rules.length;
      process.stdout.write(count ? `policy of ${name}: ${count} rule${count === 1 ? '' : 's'}\n` : `policy of ${name} removed\n`);
    });
}

async function policyFrom(options: SetOptions): Promise<NetworkPolicy> {
  const fromFlags = options.allow.length > 0 || options.deny.length > 0 || options.defaults;
  if ([fromFlags, options.file !== undefined, options.clear].filter(Boolean).length !== 1) {
    throw new Error('give exactly one of: --allow/--deny/--defaults, --file, --clear');
  }
  if (options.clear) return { rules: [] };
  if (options.file !== undefined) {
    const text = options.file === '-' ? await readStdin() : await readFile(options.file, 'utf8');
    try {
      return JSON.parse(text) as NetworkPolicy;
    } catch (e) {
      throw new Error(`${options.file} is not JSON: ${(e as Error).message}`);
    }
  }
  const rules: NetworkPolicyRule[] = [];
  if (options.defaults) rules.push({ include: 'defaults' });
  for (const domain of options.allow) rules.push({ domain, action: 'allow' });
  for (const domain of options.deny) rules.push({ domain, action: 'deny' });
  return { rules };
}

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}
