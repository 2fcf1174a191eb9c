/**
 * `burrow secret add|list|rm|grant|revoke|log|tokenizer-key`: credentials that sandboxes use
 * through the egress proxy without ever holding them.
 */
import { SECRET_PRESET_NAMES, type SecretPreset } from '@burrow/sdk';
import { Option, type Command } from 'commander';
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
    .addOption(new Option('--preset <api>', 'the hosts and header of a known API; a grant then sets the variable its tool reads').choices(SECRET_PRESET_NAMES))
    .option('--host <host>', 'a host the secret may be sent to, e.g. api.github.com or *.example.com (repeatable)', collect, [])
    .option(
      '--inject <header>',
      "the header the proxy sets, {} standing for the value (default 'Authorization: Bearer {}'); repeat with 'HOST=Header: ...' for a host of its own; {base64:user:{}} encodes Basic credentials",
      collect,
      [],
    )
    .action(async (name: string, options: { preset?: SecretPreset; host: string[]; inject: string[] }, command: Command) => {
      if (!options.preset && !options.host.length) throw new Error('give --host (repeatable) or --preset');
      const value = await readValue(name);
      if (!value) throw new Error('the secret value is empty');
      const added = await clientFor(command).addSecret(name, {
        value,
        ...(options.preset ? { preset: options.preset } : {}),
        ...(options.host.length ? { hosts: options.host } : {}),
        ...(options.inject.length || !options.preset ? { inject: options.inject.length ? options.inject.join('\n') : 'Authorization: Bearer {}' } : {}),
      });
      process.stdout.write(`added secret ${added.name} for ${added.hosts.join(', ')} (${added.inject.split('\n').join('; ')})\n`);
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
          list.map((s) => [s.name, s.hosts.join(','), s.preset ?? s.inject.split('\n').join('; '), s.grants.map((g) => (g.env ? `${g.sandbox} ($${g.env})` : g.sandbox)).join(', ') || '-']),
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
    .option('--env <var>', "also set this environment variable to the placeholder in every command (a preset's secret: the variable its tool reads)")
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
