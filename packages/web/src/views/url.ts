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
    const link = h('p', {}, h('a', { href: s.url, target: '_blank', rel: 'noopener noreferrer' }, s.url));
    // A private URL needs the browser to log in to that sandbox's host: a one-time link does it.
    const getLoginLink = async () => {
      try {
        const { login_url } = await api.json<{ login_url: string }>('POST', `/v1/sprites/${enc(s.name)}/url/login`);
        replace(link, h('a', { href: login_url, target: '_blank', rel: 'noopener noreferrer', 'data-login-link': true }, `Open ${s.url}`), h('span', { class: 'hint' }, ' (this link logs you in; valid 10 minutes)'));
      } catch (err) {
        showProblem(err);
      }
    };
    replace(body,
      link,
      h('p', { class: 'hint' }, 'Forwards to port 8080 inside the sandbox (or the service with an HTTP port), waking it if needed. ',
        isPublic ? 'Anyone who can reach this host may open it.' : 'Opening it needs a token.'),
      h('div', { class: 'row-actions start' },
        isPublic ? null : h('button', { type: 'button', onclick: () => void getLoginLink() }, 'Get a login link'),
        h('button', { type: 'button', onclick: () => void toggle() }, isPublic ? 'Require a token' : 'Make public'),
      ),
    );
  };
  draw(sprite);
  return h('section', { class: 'card panel url' }, h('h2', {}, 'URL'), body);
}
