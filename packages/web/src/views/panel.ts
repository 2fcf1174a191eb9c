// A panel for a feature the server may not have yet: if its endpoint answers "no such endpoint",
// the panel says so calmly instead of showing an error.
import { h, replace } from '../dom';
import { asProblem } from '../problem';

export function featurePanel(title: string, cls: string, load: (body: HTMLElement) => Promise<void>): { element: HTMLElement; reload: () => Promise<void> } {
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
  return { element, reload };
}
