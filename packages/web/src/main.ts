// The dashboard's entry: a hash router (`#/` the list, `#/s/NAME` one sandbox) behind the login.
import { Api } from './api';
import { h, replace } from './dom';
import './style.css';
import { clearNotice } from './ui';
import { renderLogin } from './views/login';
import { renderSandboxList } from './views/sandbox-list';
import { renderSandboxPage } from './views/sandbox-page';

const api = new Api();
const app = document.getElementById('app')!;
const nav = document.getElementById('nav')!;
let leave: () => void = () => {};

const go = (hash: string) => {
  if (location.hash === hash) route();
  else location.hash = hash;
};

function route(): void {
  leave();
  leave = () => {};
  clearNotice();
  const match = /^#\/s\/([^/]+)$/.exec(location.hash);
  if (match) leave = renderSandboxPage(app, api, decodeURIComponent(match[1]!), go);
  else leave = renderSandboxList(app, api);
}

function showLogin(): void {
  leave();
  leave = () => {};
  replace(nav);
  renderLogin(app, api, () => {
    loggedIn = true;
    start();
  });
}

function start(): void {
  replace(nav, h('button', {
    type: 'button',
    class: 'link',
    onclick: async () => {
      await api.logout().catch(() => {});
      showLogin();
    },
  }, 'Log out'));
  route();
}

let loggedIn = false;
api.onUnauthorized = () => {
  if (!loggedIn) return;
  loggedIn = false;
  showLogin();
};
window.addEventListener('hashchange', () => loggedIn && route());

// Whether the cookie still holds a valid token decides the first screen (403: a valid token
// that may not list every sandbox, e.g. one limited to a single sandbox).
fetch('/v1/sprites?max_results=1', { credentials: 'same-origin' }).then(
  (r) => {
    if (r.ok || r.status === 403) {
      loggedIn = true;
      start();
    } else showLogin();
  },
  () => showLogin(),
);
