// Egress policy (spec §8): which names a sandbox may resolve. A policy is a list of rules, each a
// domain pattern with `allow` or `deny`, or `{"include":"defaults"}` for the preset below. A name
// is decided by the most specific rule matching it (an exact name, then the longest `*.suffix`,
// then `*`; on a tie deny wins); a name no rule matches is denied. No policy at all means every
// public name and address may be reached.
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

const PRESETS: Record<string, string[]> = { defaults: DEFAULT_ALLOWED };

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
    include: z.string().refine((name) => Object.hasOwn(PRESETS, name), `the only preset is "defaults"`),
  })
  .strict();

export const networkPolicySchema = z
  .object({ rules: z.array(z.union([domainRule, includeRule])).max(1000) })
  .strict();
export type NetworkPolicy = z.infer<typeof networkPolicySchema>;

interface FlatRule {
  pattern: string;
  action: 'allow' | 'deny';
}

/** Decides names for one policy; build once per policy change. */
export class PolicyMatcher {
  private readonly rules: FlatRule[];

  constructor(policy: NetworkPolicy) {
    this.rules = policy.rules.flatMap((r): FlatRule[] =>
      'include' in r ? PRESETS[r.include]!.map((pattern) => ({ pattern, action: 'allow' as const })) : [{ pattern: r.domain, action: r.action }],
    );
  }

  allows(name: string): boolean {
    const n = name.toLowerCase().replace(/\.$/, '');
    let best = -1;
    let allowed = false;
    for (const rule of this.rules) {
      const score = specificity(rule.pattern, n);
      if (score < 0) continue;
      if (score > best || (score === best && rule.action === 'deny')) {
        best = score;
        allowed = rule.action === 'allow';
      }
    }
    return best >= 0 && allowed;
  }
}

/** -1 when `pattern` does not match `name`; otherwise higher is more specific. */
function specificity(pattern: string, name: string): number {
  if (pattern === '*') return 0;
  if (pattern.startsWith('*.')) {
    const suffix = pattern.slice(1);
    return name.endsWith(suffix) && name.length > suffix.length ? suffix.length : -1;
  }
  return pattern === name ? 10_000 : -1;
}
