// The checkpoint timeline of one sandbox: newest first, with create, restore (confirmed: the
// current disk is kept as an automatic checkpoint, and running sessions end), fork, and export as
// an OCI image (a plain download of the export route: the session cookie goes with it, and the
// browser saves the stream without holding it).
import type { Api, Checkpoint, StreamEvent } from '../api';
import { enc } from '../api';
import { ago, h, replace } from '../dom';
import { askText, confirmAction, showProblem } from '../ui';

export function mountCheckpoints(api: Api, sandbox: string, opts: { onRestored: () => void; onForked: (name: string) => void }): HTMLElement {
  const list = h('ol', { class: 'timeline' });
  const progress = h('pre', { class: 'progress', hidden: true });
  const showAuto = h('input', { type: 'checkbox', onchange: () => void load() });
  const base = `/v1/sprites/${enc(sandbox)}`;

  const log = (e: StreamEvent) => {
    progress.hidden = false;
    progress.textContent += `${e.type === 'error' ? 'error: ' : ''}${e.data ?? e.error ?? ''}\n`;
  };

  const run = async (work: () => Promise<unknown>) => {
    progress.textContent = '';
    for (const b of root.querySelectorAll('button')) b.disabled = true;
    try {
      await work();
    } catch (err) {
      showProblem(err);
    } finally {
      for (const b of root.querySelectorAll('button')) b.disabled = false;
      await load();
    }
  };

  const create = () =>
    run(async () => {
      const comment = (root.querySelector('input[name=comment]') as HTMLInputElement).value.trim();
      await api.events('POST', `${base}/checkpoint`, comment ? { comment } : {}, log);
      (root.querySelector('input[name=comment]') as HTMLInputElement).value = '';
    });

  const restore = async (c: Checkpoint) => {
    const sure = await confirmAction(
      `Restore ${c.id}?`,
      'The disk goes back to this checkpoint and the sandbox restarts, so running shells and programs end. The current disk is kept as an automatic checkpoint, so you can undo this.',
      'Restore',
    );
    if (!sure) return;
    await run(async () => {
      await api.events('POST', `${base}/checkpoints/${enc(c.id)}/restore`, undefined, log);
      opts.onRestored();
    });
  };

  const fork = async (c: Checkpoint) => {
    const name = await askText(`Fork ${c.id}`, 'Name of the new sandbox', `${sandbox}-${c.id}`.slice(0, 63), 'Fork');
    if (!name) return;
    await run(async () => {
      const sprite = await api.json<{ name: string }>('POST', `${base}/checkpoints/${enc(c.id)}/fork`, { name });
      opts.onForked(sprite.name);
    });
  };

  const load = async () => {
    try {
      const all = await api.json<Checkpoint[]>('GET', `${base}/checkpoints${showAuto.checked ? '?includeAuto=true' : ''}`);
      const sorted = [...all].sort((a, b) => b.create_time.localeCompare(a.create_time));
      replace(list, ...sorted.map((c) =>
        h('li', { class: c.is_auto ? 'auto' : '', 'data-checkpoint': c.id },
          h('div', { class: 'dot' }),
          h('div', { class: 'what' },
            h('strong', {}, c.id), ' ',
            h('span', { class: 'when', title: c.create_time }, ago(c.create_time)),
            c.is_auto ? h('span', { class: 'tag' }, 'auto') : null,
            c.comment ? h('div', { class: 'comment' }, c.comment) : null,
            c.size_bytes != null ? h('div', { class: 'hint' }, `${formatBytes(c.size_bytes)} of its own`) : null,
          ),
          h('div', { class: 'row-actions' },
            h('button', { type: 'button', onclick: () => void restore(c) }, 'Restore'),
            h('button', { type: 'button', onclick: () => void fork(c) }, 'Fork'),
            exportLink(`${base}/export?checkpoint=${enc(c.id)}`, `${sandbox}-${c.id}.tar`, `Download ${c.id} as an OCI image (docker load, podman load, skopeo)`),
          ),
        ),
      ));
      if (!sorted.length) replace(list, h('li', { class: 'empty' }, 'No checkpoints yet. A checkpoint takes milliseconds; make one before a risky step.'));
    } catch (err) {
      showProblem(err);
    }
  };

  const root = h('section', { class: 'card checkpoints' },
    h('div', { class: 'section-head' }, h('h2', {}, 'Checkpoints'), h('label', { class: 'inline' }, showAuto, 'show automatic')),
    h('form', { class: 'create', onsubmit: (e: Event) => (e.preventDefault(), void create()) },
      h('input', { name: 'comment', placeholder: 'comment (optional)', autocomplete: 'off', maxlength: 1024 }),
      h('button', { type: 'submit', class: 'primary' }, 'Create checkpoint'),
      exportLink(`${base}/export`, `${sandbox}.tar`, 'Download the sandbox as it is now as an OCI image (an automatic checkpoint is taken; it keeps running)'),
    ),
    progress,
    list,
  );
  void load();
  return root;
}

function exportLink(href: string, file: string, title: string): HTMLAnchorElement {
  return h('a', { class: 'button export', href, download: file, title }, 'Export');
}

export function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  const units = ['KiB', 'MiB', 'GiB', 'TiB'];
  let v = n / 1024;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i += 1;
  }
  return `${v.toFixed(v < 10 ? 1 : 0)} ${units[i]}`;
}
