/**
 * `burrow token create|attenuate|inspect|list|revoke`: API tokens are macaroons. `attenuate`
 * runs offline: anyone holding a token can make a weaker one and hand it on.
 */
import {
  attenuateToken,
  durationMs,
  inspectToken,
  TOKEN_OPS,
  type ApiToken,
  type TokenOp,
  type TokenRestrictions,
} from '@burrow/protocol';
import { resolveCredentials } from '@burrow/sdk';
import { Option, type Command } from 'commander';
import { clientFor, type GlobalOptions } from '../client.js';
import { formatAge, renderJson, renderTable } from '../output.js';

interface RestrictionOptions {
  sandbox?: string;
  sandboxPrefix?: string;
  ops?: string;
  ttl?: string;
  notBefore?: string;
  caveat?: string[];
}

function withRestrictions(command: Command): Command {
  return command
    .option('--sandbox <name>', 'only this sandbox')
    .option('--sandbox-prefix <prefix>', 'only sandboxes whose names start with this')
    .addOption(new Option('--ops <list>', `only these operations, comma-separated: ${TOKEN_OPS.join(',')}`))
    .option('--ttl <duration>', 'valid for this long, e.g. 30m, 1h, 24h')
    .option('--not-before <time>', 'valid from this RFC 3339 time')
    .option('--caveat <predicate>', "a raw caveat such as 'sandbox = dev' (repeatable)", collect, []);
}

function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}

/** The caveats the options ask for; bad values fail here, before any token is made. */
export function caveatsFromOptions(options: RestrictionOptions, now = Date.now()): { restrictions: TokenRestrictions; raw: string[] } {
  const restrictions: TokenRestrictions = {};
  if (options.sandbox) restrictions.sandbox = options.sandbox;
  if (options.sandboxPrefix !== undefined) restrictions.sandboxPrefix = options.sandboxPrefix;
  if (options.ops !== undefined) {
    const ops = options.ops.split(',').map((op) => op.trim()).filter(Boolean);
    const unknown = ops.filter((op) => !(TOKEN_OPS as readonly string[]).includes(op));
    if (unknown.length || !ops.length) throw new Error(`--ops takes a comma-separated list of ${TOKEN_OPS.join(', ')}`);
    restrictions.ops = ops as TokenOp[];
  }
  if (options.ttl !== undefined) {
    const ms = durationMs(options.ttl);
    if (ms === undefined || ms <= 0) throw new Error(`--ttl '${options.ttl}' is not a duration like 30m or 1h`);
    restrictions.expires = new Date(now + ms);
  }
  if (options.notBefore !== undefined) {
    const at = new Date(options.notBefore);
    if (Number.isNaN(at.getTime())) throw new Error(`--not-before '${options.notBefore}' is not a time like 2030-01-01T00:00:00Z`);
    restrictions.notBefore = at;
  }
  return { restrictions, raw: options.caveat ?? [] };
}

export function registerToken(program: Command): void {
  const token = program.command('token').description('API tokens (macaroons): create, attenuate offline, inspect, list, revoke');

  withRestrictions(
    token
      .command('create')
      .description('mint a new API token on the server (it keeps the caveats of the token you use)')
      .option('-d, --description <text>', 'what the token is for'),
  )
    .option('--json', 'print id, caveats and token as JSON')
    .action(async (options: RestrictionOptions & { description?: string; json?: boolean }, command: Command) => {
      const { restrictions, raw } = caveatsFromOptions(options);
      const created = await clientFor(command).createToken({
        restrictions,
        caveats: raw,
        ...(options.description ? { description: options.description } : {}),
      });
      if (options.json) {
        process.stdout.write(renderJson(created));
        return;
      }
      process.stdout.write(`${created.token}\n`);
      process.stderr.write(`token ${created.id}${created.caveats.length ? `: ${created.caveats.join('; ')}` : ' (no caveats)'}\n`);
    });

  withRestrictions(
    token
      .command('attenuate')
      .description('make a weaker token from one you hold, offline (no server call)')
      .argument('[token]', 'the token to attenuate (default: --token, BURROW_TOKEN or the admin token)'),
  ).action((given: string | undefined, options: RestrictionOptions, command: Command) => {
    const source = given ?? resolveCredentials({ ...tokenOption(command) }).token;
    const { restrictions, raw } = caveatsFromOptions(options);
    process.stdout.write(`${attenuateToken(attenuateToken(source, restrictions), raw)}\n`);
  });

  token
    .command('inspect')
    .description('show the id and caveats of a token, offline')
    .argument('<token>')
    .action((given: string) => {
      const { id, caveats } = inspectToken(given);
      process.stdout.write(`id  ${id}\n${caveats.map((c) => `    ${c}\n`).join('') || '    (no caveats)\n'}`);
    });

  token
    .command('list')
    .alias('ls')
    .description('list the tokens this server minted')
    .option('--json', 'print a JSON array')
    .action(async (options: { json?: boolean }, command: Command) => {
      const list = await clientFor(command).listTokens();
      if (options.json) {
        process.stdout.write(renderJson(list));
        return;
      }
      process.stdout.write(
        renderTable(
          ['ID', 'CREATED', 'STATE', 'DESCRIPTION', 'CAVEATS'],
          asTree(list).map(({ token: t, depth }) => [
            depth ? `${'   '.repeat(depth - 1)}└─ ${t.id}` : t.id,
            formatAge(t.created_at),
            t.revoked_at ? 'revoked' : t.admin ? 'admin' : 'active',
            t.description || '-',
            t.caveats.join('; ') || '-',
          ]),
        ),
      );
    });

  token
    .command('revoke')
    .description('revoke a token and every token made from it (attenuated, or minted with it, however deep)')
    .argument('<id>', 'the token id (see `burrow token list` or `burrow token inspect`)')
    .action(async (id: string, _options: object, command: Command) => {
      await clientFor(command).revokeToken(id);
      process.stdout.write(`revoked ${id}\n`);
    });
}

/** Tokens in tree order: each one followed by the tokens minted with it, one level deeper. */
export function asTree(tokens: ApiToken[]): Array<{ token: ApiToken; depth: number }> {
  const ids = new Set(tokens.map((t) => t.id));
  const children = new Map<string | null, ApiToken[]>();
  for (const t of tokens) {
    const parent = t.parent_id !== null && ids.has(t.parent_id) ? t.parent_id : null;
    children.set(parent, [...(children.get(parent) ?? []), t]);
  }
  const out: Array<{ token: ApiToken; depth: number }> = [];
  const visit = (parent: string | null, depth: number) => {
    for (const token of children.get(parent) ?? []) {
      out.push({ token, depth });
      visit(token.id, depth + 1);
    }
  };
  visit(null, 0);
  return out;
}

function tokenOption(command: Command): { token?: string } {
  const { token } = command.optsWithGlobals<GlobalOptions>();
  return token ? { token } : {};
}
