// Page-wide pieces: the notice bar that shows a problem and what to do next, and the modal
// dialogs used to confirm destructive actions and ask for a name.
import { h, replace } from './dom';
import { asProblem } from './problem';

export function showProblem(e: unknown): void {
  const problem = asProblem(e);
  const bar = document.getElementById('notice')!;
  bar.className = 'notice problem';
  replace(bar, h('strong', {}, problem.message), ' ', h('span', { class: 'next' }, problem.next), h('button', { class: 'link', onclick: () => (bar.hidden = true) }, 'Dismiss'));
  bar.hidden = false;
}

export function clearNotice(): void {
  document.getElementById('notice')!.hidden = true;
}

/** Asks before something that cannot be undone; resolves true when the user confirms. */
export function confirmAction(title: string, detail: string, action: string): Promise<boolean> {
  return modal<boolean>((close) => [
    h('h2', {}, title),
    h('p', {}, detail),
    h('div', { class: 'actions' },
      h('button', { type: 'button', onclick: () => close(false) }, 'Cancel'),
      h('button', { type: 'button', class: 'danger', 'data-confirm': true, onclick: () => close(true) }, action),
    ),
  ], false);
}

/** Asks for one line of text; resolves null when cancelled. */
export function askText(title: string, label: string, initial = '', action = 'OK'): Promise<string | null> {
  return modal<string | null>((close) => {
    const input = h('input', { type: 'text', value: initial, 'aria-label': label, autocomplete: 'off' });
    const form = h('form', { onsubmit: (e: Event) => (e.preventDefault(), close(input.value.trim() || null)) },
      h('h2', {}, title),
      h('label', {}, label, input),
      h('div', { class: 'actions' },
        h('button', { type: 'button', onclick: () => close(null) }, 'Cancel'),
        h('button', { type: 'submit', class: 'primary' }, action),
      ),
    );
    queueMicrotask(() => input.focus());
    return [form];
  }, null);
}

function modal<T>(build: (close: (value: T) => void) => Node[], cancelled: T): Promise<T> {
  return new Promise((resolve) => {
    const dialog = h('dialog', { class: 'modal' });
    const close = (value: T) => {
      dialog.close();
      dialog.remove();
      resolve(value);
    };
    dialog.addEventListener('cancel', (e) => (e.preventDefault(), close(cancelled)));
    replace(dialog, ...build(close));
    document.body.append(dialog);
    dialog.showModal();
  });
}
