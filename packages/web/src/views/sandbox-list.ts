// Every sandbox at a glance, kept current by the API's live list (NDJSON) without reloading;
// create and destroy (with confirmation) from here.
import { Api, enc, type ListSpritesResponse, type Sprite } from '../api';
import { ago, h, replace } from '../dom';
import { watchLive, type LiveLine } from '../live';
import { clearNotice, confirmAction, showProblem } from '../ui';

/** Renders the list into `root`; returns a function that stops its live updates. */
export function renderSandboxList(root: HTMLElement, api: Api): () => void {
  const sprites = new Map<string, Sprite>();
  const controller = new AbortController();
  const counts = h('p', { class: 'counts' });
  const tbody = h('tbody');
  const live = h('span', { class: 'live', title: 'live updates' }, 'connecting…');

  const name = h('input', { name: 'name', placeholder: 'name, e.g. dev', pattern: '[a-z0-9][a-z0-9-]{0,62}', required: true, autocomplete: 'off' });
  const runtime = h('select', { name: 'runtime', 'aria-label': 'runtime' },
    h('option', { value: 'gvisor' }, 'gVisor (strong isolation)'),
    h('option', { value: 'runc' }, 'runc (faster, weaker)'),
  );
  const createButton = h('button', { type: 'submit', class: 'primary' }, 'Create sandbox');
  const createForm = h('form', {
    class: 'create',
    onsubmit: async (e: Event) => {
      e.preventDefault();
      createButton.disabled = true;
      createButton.textContent = 'Creating…';
      try {
        const sprite = await api.json<Sprite>('POST', '/v1/sprites', { name: name.value.trim(), runtime: runtime.value });
        sprites.set(sprite.name, sprite);
        name.value = '';
        clearNotice();
        draw();
      } catch (err) {
        showProblem(err);
      } finally {
        createButton.disabled = false;
        createButton.textContent = 'Create sandbox';
      }
    },
  }, name, runtime, createButton);

  const destroy = async (sprite: Sprite) => {
    const sure = await confirmAction(`Destroy ${sprite.name}?`, 'Its disk, checkpoints and sessions are deleted. This cannot be undone.', 'Destroy');
    if (!sure) return;
    try {
      sprite.status = 'destroying';
      draw();
      await api.json('DELETE', `/v1/sprites/${enc(sprite.name)}`);
      sprites.delete(sprite.name);
      draw();
    } catch (err) {
      showProblem(err);
    }
  };

  const draw = () => {
    const rows = [...sprites.values()].sort((a, b) => a.name.localeCompare(b.name));
    replace(tbody, ...rows.map((s) =>
      h('tr', { 'data-sandbox': s.name },
        h('td', {}, h('a', { href: `#/s/${enc(s.name)}` }, s.name)),
        h('td', {}, h('span', { class: `state state-${s.status}`, 'data-state': s.status }, s.status), s.failure_reason ? h('div', { class: 'hint' }, s.failure_reason) : null),
        h('td', {}, s.runtime ?? ''),
        h('td', { title: s.last_running_at ?? '' }, s.status === 'running' ? 'now' : ago(s.last_running_at)),
        h('td', {}, `${s.config.cpus} CPU · ${s.config.ram_mb} MB`),
        h('td', {}, h('div', { class: 'row-actions' },
          h('a', { class: 'button', href: `#/s/${enc(s.name)}` }, 'Open'),
          h('button', { type: 'button', class: 'danger', onclick: () => void destroy(s) }, 'Destroy'),
        )),
      ),
    ));
    if (!rows.length) replace(tbody, h('tr', {}, h('td', { colspan: 6, class: 'empty' }, 'No sandboxes yet. Create one above.')));
  };

  const apply = async (line: LiveLine) => {
    if (line.org) replace(counts, `${line.org.running ?? 0} running · ${line.org.warm ?? 0} warm · ${line.org.cold ?? 0} cold`);
    if (line.type === 'heartbeat' || !line.name) return;
    if (line.status === 'destroyed') {
      sprites.delete(line.name);
    } else {
      const known = sprites.get(line.name);
      if (known) Object.assign(known, { status: line.status ?? known.status, last_running_at: line.last_running_at, failure_reason: line.failure_reason ?? null });
      else {
        // A sandbox made elsewhere (the CLI, a fork): fetch its full description once.
        const sprite = await api.json<Sprite>('GET', `/v1/sprites/${enc(line.name)}`).catch(() => null);
        if (sprite) sprites.set(sprite.name, sprite);
      }
    }
    draw();
  };

  const watch = () =>
    watchLive(api, '', controller.signal, {
      connecting: async () => {
        const all: Sprite[] = [];
        let token = '';
        do {
          const page = await api.json<ListSpritesResponse>(
            'GET',
            `/v1/sprites?max_results=100${token ? `&continuation_token=${enc(token)}` : ''}`,
          );
          all.push(...page.sprites);
          token = page.has_more ? (page.next_continuation_token ?? '') : '';
        } while (token);
        sprites.clear();
        for (const s of all) sprites.set(s.name, s);
        draw();
      },
      line: apply,
      refused: (problem) => {
        // A token limited to some sandboxes cannot list them all: let its holder open one by name.
        live.textContent = '';
        const target = h('input', { name: 'open', placeholder: 'sandbox name', required: true, autocomplete: 'off' });
        replace(tbody, h('tr', {}, h('td', { colspan: 6 },
          h('p', { class: 'form-error' }, problem.message),
          h('form', { class: 'create', onsubmit: (e: Event) => (e.preventDefault(), void (location.hash = `#/s/${enc(target.value.trim())}`)) },
            target, h('button', { type: 'submit', class: 'primary' }, 'Open sandbox')),
        )));
      },
      connected: (on) => {
        live.textContent = on ? 'live' : 'reconnecting…';
        live.className = on ? 'live on' : 'live';
      },
    });

  replace(root,
    h('section', { class: 'card' },
      h('div', { class: 'section-head' }, h('h1', {}, 'Sandboxes'), live),
      counts,
      createForm,
      h('table', { class: 'sandboxes' },
        h('thead', {}, h('tr', {}, h('th', {}, 'Name'), h('th', {}, 'State'), h('th', {}, 'Runtime'), h('th', {}, 'Last running'), h('th', {}, 'Size'), h('th', {}))),
        tbody,
      ),
    ),
  );
  void watch();
  return () => controller.abort();
}
