// A panel for a feature the server may not have yet: if its endpoint answers "no such endpoint",
// the panel says so calmly instead of showing an error.
import { h, replace } from '../dom';
import { asProblem } from '../problem';

export function featurePanel(
  title: string,
  cls: string,
  load: (body: HTMLElement) => Promise<void>,
  opts: { refreshMs?: number } = {},
): { element: HTMLElement; reload: () => Promise<void> } {
  const body = h('div', { class: 'panel-body' }, 'loading…');
  const element = h('section', { class: `card panel ${cls}` }, h('h2', {}, title), body);
  const reload = async () => {
    try {
      await load(body);
    } catch (err) {
      const p = asProblem(err);
      if (p.unsupported) replace(body, h('p', { class: 'unavailable' }, 'Not available on this server.'));
      else if (p.status === 403) replace(body, h('p', { class: 'unavailable', title: p.message }, 'Your token does not allow this.'));
      else replace(body, h('p', { class: 'form-error' }, p.message, ' ', h('span', { class: 'next' }, p.next)));
    }
  };
  void reload();
  if (opts.refreshMs) {
    // Refreshes while the panel is on the page; stops for good once the page has dropped it.
    let shown = false;
    const timer = setInterval(() => {
      if (element.isConnected) shown = true;
      else if (shown) clearInterval(timer);
      if (element.isConnected && !document.hidden && !busy(element)) void reload();
    }, opts.refreshMs);
  }
  return { element, reload };
}

/** Whether the user is typing or choosing in the panel: a refresh would throw that away. */
function busy(element: HTMLElement): boolean {
  const active = document.activeElement;
  const editing = active instanceof HTMLInputElement || active instanceof HTMLTextAreaElement || active instanceof HTMLSelectElement;
  return editing && element.contains(active);
}
