// The sandbox's egress policy (spec section 8), shown and edited as one rule per line:
// `allow *.github.com`, `deny example.com`, `include defaults`. No rules: any public address.
import { Api, enc } from '../api';
import { h, replace } from '../dom';
import { Problem } from '../problem';
import { showProblem } from '../ui';
import { featurePanel } from './panel';

interface Rule {
  domain?: string;
  action?: 'allow' | 'deny';
  include?: string;
}

export function mountPolicy(api: Api, sandbox: string): HTMLElement {
  const path = `/v1/sprites/${enc(sandbox)}/policy/network`;
  const panel = featurePanel('Network policy', 'policy', async (body) => {
    const { rules = [] } = await api.json<{ rules?: Rule[] }>('GET', path);
    const text = h('textarea', { rows: Math.max(4, rules.length + 1), spellcheck: false, 'aria-label': 'policy rules' });
    text.value = rules.map(ruleToLine).join('\n');
    const save = async () => {
      try {
        await api.json('POST', path, { rules: parseRules(text.value) });
        await panel.reload();
      } catch (err) {
        showProblem(err);
      }
    };
    replace(body,
      h('p', { class: 'hint' }, rules.length ? 'Only what these rules allow is reachable; private ranges are always blocked.' : 'No policy: the sandbox may reach any public address (private ranges are always blocked).'),
      text,
      h('p', { class: 'hint' }, 'One rule per line: ', h('code', {}, 'allow *.github.com'), ', ', h('code', {}, 'deny example.com'), ', ', h('code', {}, 'include defaults'), '.'),
      h('button', { type: 'button', class: 'primary', onclick: () => void save() }, 'Save policy'),
    );
  });
  return panel.element;
}

function ruleToLine(r: Rule): string {
  if (r.include) return `include ${r.include}`;
  return `${r.action ?? 'allow'} ${r.domain ?? ''}`.trim();
}

export function parseRules(text: string): Rule[] {
  return text
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith('#'))
    .map((line, i) => {
      const [verb, target, extra] = line.split(/\s+/);
      if (!target || extra !== undefined || !['allow', 'deny', 'include'].includes(verb!)) {
        throw new Problem(`Line ${i + 1} ("${line}") is not a rule.`, 'Write one rule per line: allow NAME, deny NAME or include defaults.');
      }
      return verb === 'include' ? { include: target } : { domain: target, action: verb as 'allow' | 'deny' };
    });
}
