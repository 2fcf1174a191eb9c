// Log in with an API token: the server checks it and keeps it in an HttpOnly cookie, so this page
// forgets it as soon as the request is sent.
import type { Api } from '../api';
import { h, replace } from '../dom';
import { asProblem } from '../problem';

export function renderLogin(root: HTMLElement, api: Api, done: () => void): void {
  const token = h('input', { type: 'password', name: 'token', autocomplete: 'current-password', placeholder: 'burrow_…', required: true });
  const error = h('p', { class: 'form-error', role: 'alert' });
  const submit = h('button', { type: 'submit', class: 'primary' }, 'Log in');
  const form = h('form', {
    class: 'card login',
    onsubmit: async (e: Event) => {
      e.preventDefault();
      submit.disabled = true;
      replace(error);
      try {
        await api.login(token.value);
        token.value = '';
        done();
      } catch (err) {
        const p = asProblem(err);
        // A refused token's message already says where to find a good one.
        replace(error, p.message, p.status === 401 ? null : h('span', { class: 'next' }, ` ${p.next}`));
      } finally {
        submit.disabled = false;
      }
    },
  },
    h('h1', {}, 'Log in to burrow'),
    h('label', {}, 'API token', token),
    h('p', { class: 'hint' }, 'On the host, the admin token is in ', h('code', {}, '$BURROW_HOME/admin.token'), ' (', h('code', {}, '/var/lib/burrow/admin.token'), ' by default).'),
    submit,
    error,
  );
  replace(root, form);
  token.focus();
}
