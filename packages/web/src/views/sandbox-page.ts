// One sandbox: its state, a terminal, the checkpoint timeline, and the panels for services,
// network policy, URL and usage.
import { Api, enc, type Sprite } from '../api';
import { h, replace } from '../dom';
import { watchLive } from '../live';
import { Problem } from '../problem';
import { showProblem, confirmAction } from '../ui';
import { mountCheckpoints } from './checkpoints';
import { mountPolicy } from './policy';
import { mountServices } from './services';
import { AGENT_NAMES, AGENTS, type AgentName } from '@burrow/protocol/agents';
import { mountTerminal, SHELL } from './terminal';
import { mountUrl } from './url';
import { mountUsage } from './usage';

const FALLBACK_POLL_MS = 5000;
/** Where agents start, as with `burrow agent`. */
const AGENT_HOME = '/home/user';

export function renderSandboxPage(root: HTMLElement, api: Api, name: string, go: (hash: string) => void): () => void {
  const state = h('span', { class: 'state' }, '…');
  const facts = h('p', { class: 'hint' });
  let stopped = false;
  let current: Sprite | null = null;

  const showSprite = (s: Sprite) => {
    state.textContent = s.status;
    state.className = `state state-${s.status}`;
    state.dataset.state = s.status;
    facts.title = s.isolation ?? '';
    replace(facts, `${s.runtime ?? ''} · image ${s.image ?? ''} · ${s.config.cpus} CPU · ${s.config.ram_mb} MB RAM · ${s.config.storage_gb} GB disk`,
      s.failure_reason ? h('div', { class: 'form-error' }, s.failure_reason) : null);
  };

  const destroy = async () => {
    if (!(await confirmAction(`Destroy ${name}?`, 'Its disk, checkpoints and sessions are deleted. This cannot be undone.', 'Destroy'))) return;
    try {
      await api.json('DELETE', `/v1/sprites/${enc(name)}`);
      go('#/');
    } catch (err) {
      showProblem(err);
    }
  };

  let terminal = mountTerminal(api, name);
  const terminalSlot = h('div', {}, terminal.element);
  /** The terminal runs the shell or an agent in YOLO mode (as `burrow agent` starts it, in the home). */
  const runInTerminal = (agent: AgentName | null) => {
    terminal.dispose();
    terminal = agent ? mountTerminal(api, name, AGENTS[agent].command, AGENT_HOME, AGENTS[agent].label) : mountTerminal(api, name, SHELL);
    replace(terminalSlot, terminal.element);
    for (const button of picker.querySelectorAll('button')) button.classList.toggle('active', button.dataset.run === (agent ?? 'shell'));
  };
  const picker = h('div', { class: 'terminal-picker' },
    h('button', { type: 'button', class: 'active', 'data-run': 'shell', onclick: () => runInTerminal(null) }, 'Shell'),
    ...AGENT_NAMES.map((agent) => h('button', { type: 'button', 'data-run': agent, title: `${agent}: ${AGENTS[agent].label} in YOLO mode`, onclick: () => runInTerminal(agent) }, AGENTS[agent].label)),
  );
  replace(root, h('p', { class: 'hint' }, 'loading…'));

  void (async () => {
    let sprite: Sprite;
    try {
      sprite = await api.json<Sprite>('GET', `/v1/sprites/${enc(name)}`);
    } catch (err) {
      showProblem(err);
      replace(root, h('p', {}, h('a', { href: '#/' }, '← back to the sandboxes')));
      terminal.dispose();
      return;
    }
    if (stopped) return;
    current = sprite;
    showSprite(sprite);
    replace(root,
      h('div', { class: 'page-head' },
        h('a', { href: '#/' }, '← Sandboxes'),
        h('h1', {}, name, ' ', state),
        h('button', { type: 'button', class: 'danger', onclick: () => void destroy() }, 'Destroy'),
      ),
      facts,
      h('div', { class: 'sandbox-grid' },
        h('div', { class: 'main-col' }, h('section', { class: 'card' }, h('div', { class: 'terminal-head' }, h('h2', {}, 'Terminal'), picker), terminalSlot), mountServices(api, name)),
        h('div', { class: 'side-col' },
          mountCheckpoints(api, name, { onRestored: () => {}, onForked: (forked) => go(`#/s/${enc(forked)}`) }),
          mountUrl(api, sprite, showSprite),
          mountPolicy(api, name),
          mountUsage(api, name),
        ),
      ),
    );
  })();

  // The state follows the live list (the prefix narrows it; other names sharing it are skipped).
  const controller = new AbortController();
  let poll: ReturnType<typeof setInterval> | undefined;
  void watchLive(api, name, controller.signal, {
    // A token limited to this sandbox may not list: ask for the sandbox itself now and then.
    refused: () => {
      poll = setInterval(() => void api.json<Sprite>('GET', `/v1/sprites/${enc(name)}`).then(showSprite, () => {}), FALLBACK_POLL_MS);
    },
    line: (line) => {
      if (line.name !== name || !line.status || !current) return;
      if (line.status === 'destroyed') {
        showProblem(new Problem(`Sandbox ${name} was destroyed.`, 'Go back to the list.'));
        return;
      }
      showSprite(Object.assign(current, { status: line.status, failure_reason: line.failure_reason ?? null }));
    },
  });

  return () => {
    stopped = true;
    controller.abort();
    clearInterval(poll);
    terminal.dispose();
  };
}
