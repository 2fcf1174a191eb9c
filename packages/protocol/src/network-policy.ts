/**
 * Egress policy (spec §8) as it travels: a list of rules, each a domain pattern with `allow` or
 * `deny`, or `{"include":"defaults"}` for the preset below. How names are decided is the
 * server's (network/dns-policy.ts).
 */
import { z } from 'zod';

const DOMAIN_PATTERN = /^(\*|(\*\.)?([a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?)(\.[a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?)*)$/;

/** What `{"include":"defaults"}` stands for: package registries and code hosts agents need. */
export const DEFAULT_ALLOWED = [
  'github.com', '*.github.com', '*.githubusercontent.com', 'gitlab.com', '*.gitlab.com', 'bitbucket.org',
  'registry.npmjs.org', '*.npmjs.org', 'registry.yarnpkg.com', '*.yarnpkg.com',
  'pypi.org', '*.pypi.org', 'files.pythonhosted.org',
  'crates.io', '*.crates.io', 'proxy.golang.org', 'sum.golang.org', 'rubygems.org', '*.rubygems.org',
  'deb.debian.org', 'security.debian.org', '*.debian.org', 'archive.ubuntu.com', 'security.ubuntu.com',
  'repo.maven.apache.org', 'repo1.maven.org', 'registry-1.docker.io', 'auth.docker.io', 'production.cloudflare.docker.com',
];

/** What an `include` rule may name. */
export const NETWORK_POLICY_PRESETS: Record<string, string[]> = { defaults: DEFAULT_ALLOWED };

const domainRule = z
  .object({
    domain: z
      .string()
      .max(253)
      .transform((d) => d.trim().toLowerCase().replace(/\.$/, ''))
      .refine((d) => DOMAIN_PATTERN.test(d), 'a domain is a name like example.com, a wildcard like *.example.com, or *'),
    action: z.enum(['allow', 'deny']),
  })
  .strict();
const includeRule = z
  .object({
    include: z.string().refine((name) => Object.hasOwn(NETWORK_POLICY_PRESETS, name), `the only preset is "defaults"`),
  })
  .strict();

export const networkPolicySchema = z
  .object({ rules: z.array(z.union([domainRule, includeRule])).max(1000) })
  .strict();
export type NetworkPolicy = z.infer<typeof networkPolicySchema>;
/** One egress rule: a domain pattern with an action, or a preset (`{ include: 'defaults' }`). */
export type NetworkPolicyRule = NetworkPolicy['rules'][number];
