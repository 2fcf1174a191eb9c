/**
 * `burrow secret add|list|rm|grant|revoke|log|tokenizer-key`: credentials that sandboxes use
 * through the egress proxy without ever holding them.
 */
import type { Command } from 'commander';
import { clientFor } from '../client.js';
import { formatAge, renderJson, renderTable } from '../output.js';

function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}

/** The value from a pipe, or typed at a prompt that does not echo it. */
async function readValue(name: string): Promise<string> {
  const stdin = process.stdin;
  if (!stdin.isTTY) {
    const chunks: Buffer[] = [];
    for await (const chunk of stdin) chunks.push(chunk as Buffer);
    return Buffer.concat(chunks).toString('utf8').replace(/\r?\n$/, '');
  }
  process.stderr.write(`value of ${name}: `);
  stdin.setRawMode(true);
  let value = '';
  try {
    for await (const chunk of stdin) {
      for (const ch of (chunk as Buffer).toString('utf8')) {
        if (ch === '\r' || ch === '\n') return value;
        if (ch === '\u0003') throw new Error('cancelled');
        if (ch === '\u007f') value = value.slice(0, -1);
        else value += ch;
      }
    }
    return value;
  } finally {
    stdin.setRawMode(false);
    stdin.pause();
    process.stderr.write('\n');
  }
}

export function registerSecret(program: Command): void {
  const secret = program.command('secret').description('credentials injected by the egress proxy: sandboxes only ever hold placeholders');

  secret
    .command('add')
    .description('store a secret (value from stdin or a prompt; sealed at rest)')
    .argument('<name>')
    .requiredOption('--host <host>', 'a host the secret may be sent to, e.g. api.github.com or *.example.com (repeatable)', collect, [])
    .option('--inject <header>', "the header the proxy sets, {} standing for the value", 'Authorization: Bearer {}')
    .action(async (name: string, options: { host: string[]; inject: string }, command: Command) => {
      const value = await readValue(name);
      if (!value) throw new Error('the secret value is empty');
      const added = await clientFor(command).addSecret(name, { hosts: options.host, inject: options.inject, value });
      process.stdout.write(`added secret ${added.name} for ${added.hosts.join(', ')} (${added.inject})\n`);
    });

  secret
    .command('list')
    .alias('ls')
    .description('list secrets and the sandboxes they are granted to (never the values)')
    .option('--json', 'print JSON')
    .action(async (options: { json?: boolean }, command: Command) => {
      const list = await clientFor(command).listSecrets();
      if (options.json) {
        process.stdout.write(renderJson(list));
        return;
      }
      process.stdout.write(
        renderTable(
          ['NAME', 'HOSTS', 'INJECT', 'GRANTED TO'],
          list.map((s) => [s.name, s.hosts.join(','), s.inject, s.grants.map((g) => (g.env ? `${g.sandbox} ($${g.env})` : g.sandbox)).join(', ') || '-']),
        ),
      );
    });

  secret
    .command('rm')
    .description('delete a secret and every grant of it')
    .argument('<name>')
    .action(async (name: string, _options: object, command: Command) => {
      await clientFor(command).removeSecret(name);
      process.stdout.write(`removed secret ${name}\n`);
    });

  secret
    .command('grant')
    .description('give a sandbox a placeholder for the secret, in /.burrow/secrets/NAME (and $VAR with --env)')
    .argument('<name>', 'the secret')
    .argument('<sandbox>')
    .option('--env <var>', 'also set this environment variable to the placeholder in every command')
    .option('--ttl <duration>', 'the placeholder stops working after this long, e.g. 1h')
    .option('--json', 'print the grant as JSON')
    .action(async (name: string, sandbox: string, options: { env?: string; ttl?: string; json?: boolean }, command: Command) => {
      const grant = await clientFor(command).grantSecret(name, sandbox, {
        ...(options.env ? { env: options.env } : {}),
        ...(options.ttl ? { ttl: options.ttl } : {}),
      });
      if (options.json) {
        process.stdout.write(renderJson(grant));
        return;
      }
      const where = grant.env ? `$${grant.env} and /.burrow/secrets/${name}` : `/.burrow/secrets/${name}`;
      process.stdout.write(`granted ${name} to ${sandbox}: a placeholder is in ${where}\n`);
    });

  secret
    .command('revoke')
    .description("revoke a sandbox's grant: its placeholder stops working at once")
    .argument('<name>', 'the secret')
    .argument('<sandbox>')
    .action(async (name: string, sandbox: string, _options: object, command: Command) => {
      const count = await clientFor(command).revokeSecret(name, sandbox);
      process.stdout.write(count ? `revoked ${name} for ${sandbox}\n` : `${sandbox} had no grant of ${name}\n`);
    });

  secret
    .command('log')
    .description('every use of a secret by the egress proxy: injected, refused or failed')
    .option('--secret <name>')
    .option('--sandbox <name>')
    .option('-n, --limit <n>', 'the newest N entries', '100')
    .option('--json', 'print JSON')
    .action(async (options: { secret?: string; sandbox?: string; limit: string; json?: boolean }, command: Command) => {
      const entries = await clientFor(command).egressLog({
        ...(options.secret ? { secret: options.secret } : {}),
        ...(options.sandbox ? { sandbox: options.sandbox } : {}),
        limit: Number(options.limit),
      });
      if (options.json) {
        process.stdout.write(renderJson(entries));
        return;
      }
      process.stdout.write(
        renderTable(
          ['WHEN', 'SANDBOX', 'SECRET', 'REQUEST', 'STATUS', 'OUTCOME'],
          entries.map((e) => [formatAge(e.at), e.sandbox ?? '-', e.secret ?? '-', `${e.method} ${e.host}${e.path}`, String(e.status ?? '-'), e.outcome]),
        ),
      );
    });

  secret
    .command('tokenizer-key')
    .description('the public key superfly/tokenizer clients seal secrets to (hex)')
    .action(async (_options: object, command: Command) => {
      process.stdout.write(`${await clientFor(command).tokenizerPublicKey()}\n`);
    });
}
