// The sandbox's URL and who may open it (`sprite`: with a token; `public`: anyone).
import { Api, enc, type Sprite } from '../api';
import { h, replace } from '../dom';
import { showProblem } from '../ui';

export function mountUrl(api: Api, sprite: Sprite, onChange: (s: Sprite) => void): HTMLElement {
  const body = h('div', { class: 'panel-body' });
  const draw = (s: Sprite) => {
    const isPublic = s.url_settings?.auth === 'public';
    const toggle = async () => {
      try {
        const updated = await api.json<Sprite>('PUT', `/v1/sprites/${enc(s.name)}`, { url_settings: { auth: isPublic ? 'sprite' : 'public' } });
        onChange(updated);
        draw(updated);
      } catch (err) {
        showProblem(err);
      }
    };
    replace(body,
      h('p', {}, h('a', { href: s.url, target: '_blank', rel: 'noopener noreferrer' }, s.url)),
      h('p', { class: 'hint' }, 'Forwards to port 8080 inside the sandbox (or the service with an HTTP port), waking it if needed. ',
        isPublic ? 'Anyone who can reach this host may open it.' : 'Opening it needs a token.'),
      h('button', { type: 'button', onclick: () => void toggle() }, isPublic ? 'Require a token' : 'Make public'),
    );
  };
  draw(sprite);
  return h('section', { class: 'card panel url' }, h('h2', {}, 'URL'), body);
}
