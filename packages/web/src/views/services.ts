// Services of a sandbox (spec section 7): their state, start/stop/restart, and recent logs.
import { Api, enc, type StreamEvent } from '../api';
import { h, replace } from '../dom';
import { showProblem } from '../ui';
import { featurePanel } from './panel';

interface Service {
  name: string;
  cmd: string;
  args?: string[];
  http_port?: number | null;
  state?: { status?: string; pid?: number; error?: string; restart_count?: number };
}

const LOG_LINES = 200;
const REFRESH_MS = 5000;

export function mountServices(api: Api, sandbox: string): HTMLElement {
  const base = `/v1/sprites/${enc(sandbox)}/services`;
  const logs = h('pre', { class: 'logs', hidden: true });

  const showLogs = async (svc: string) => {
    logs.hidden = false;
    logs.textContent = `loading the logs of ${svc}…\n`;
    try {
      const lines: string[] = [];
      await api.events('GET', `${base}/${enc(svc)}/logs?lines=${LOG_LINES}`, undefined, (e: StreamEvent) => {
        if (e.type === 'stdout' || e.type === 'stderr') lines.push(String(e.data ?? '').replace(/\n$/, ''));
      });
      logs.textContent = lines.length ? `${lines.join('\n')}\n` : `${svc} has written nothing yet.\n`;
    } catch (err) {
      logs.textContent = '';
      showProblem(err);
    }
  };

  const act = async (svc: string, action: 'start' | 'stop' | 'restart') => {
    try {
      await api.events('POST', `${base}/${enc(svc)}/${action}`, undefined, () => {});
    } catch (err) {
      showProblem(err);
    }
    await panel.reload();
  };

  const panel = featurePanel('Services', 'services', async (body) => {
    const answer = await api.json<Service[] | { services: Service[] }>('GET', base);
    const services = Array.isArray(answer) ? answer : answer.services ?? [];
    if (!services.length) {
      replace(body, h('p', { class: 'hint' }, 'No services. Create one with ', h('code', {}, `burrow service create ${sandbox} SVC -- CMD`), '.'), logs);
      return;
    }
    replace(body,
      h('table', {},
        h('tbody', {}, ...services.map((s) =>
          h('tr', {},
            h('td', {}, h('strong', {}, s.name), h('div', { class: 'hint' }, [s.cmd, ...(s.args ?? [])].join(' '))),
            h('td', {}, h('span', { class: `state state-${s.state?.status ?? 'unknown'}` }, s.state?.status ?? 'unknown'), s.state?.error ? h('div', { class: 'hint' }, s.state.error) : null),
            h('td', {}, s.http_port ? `port ${s.http_port}` : ''),
            h('td', {}, h('div', { class: 'row-actions' },
              s.state?.status === 'running'
                ? h('button', { type: 'button', onclick: () => void act(s.name, 'stop') }, 'Stop')
                : h('button', { type: 'button', onclick: () => void act(s.name, 'start') }, 'Start'),
              h('button', { type: 'button', onclick: () => void act(s.name, 'restart') }, 'Restart'),
              h('button', { type: 'button', onclick: () => void showLogs(s.name) }, 'Logs'),
            )),
          ),
        )),
      ),
      logs,
    );
  }, { refreshMs: REFRESH_MS });
  return panel.element;
}
