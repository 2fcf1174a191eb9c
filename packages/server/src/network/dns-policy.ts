// Egress policy (spec §8): which names a sandbox may resolve. A policy is a list of rules, each a
// domain pattern with `allow` or `deny`, or `{"include":"defaults"}` for a preset (the wire shape is @burrow/protocol's network-policy.ts). A name
// is decided by the most specific rule matching it (an exact name, then the longest `*.suffix`,
// then `*`; on a tie deny wins); a name no rule matches is denied. No policy at all means every
// public name and address may be reached.
import { NETWORK_POLICY_PRESETS as PRESETS, type NetworkPolicy } from '@burrow/protocol';

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
