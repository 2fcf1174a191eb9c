// Charts of CPU, memory and disk over the last hours, from the usage API when the server meters.
import { Api, enc } from '../api';
import { h, replace } from '../dom';
import { usageSeries, type Series } from '../usage-series';
import { featurePanel } from './panel';

const WINDOW_MS = 6 * 3600 * 1000;
const W = 320;
const H = 80;
const SVG = 'http://www.w3.org/2000/svg';

export function mountUsage(api: Api, sandbox: string): HTMLElement {
  const panel = featurePanel('Usage', 'usage', async (body) => {
    const to = new Date();
    const from = new Date(to.getTime() - WINDOW_MS);
    const q = new URLSearchParams({ sprite: sandbox, from: from.toISOString(), to: to.toISOString() });
    const answer = await api.json<unknown>('GET', `/v1/usage?${q}`);
    const series = usageSeries(answer);
    if (!series.length) {
      replace(body, h('p', { class: 'hint' }, 'No samples for the last 6 hours yet.'));
      return;
    }
    const cost = costOf(answer);
    replace(body, ...series.map(chart), cost ? h('p', { class: 'hint' }, cost) : null);
  });
  return panel.element;
}

function chart(s: Series): HTMLElement {
  const ts = s.points.map((p) => p.t);
  const vs = s.points.map((p) => p.v);
  const [t0, t1] = [Math.min(...ts), Math.max(...ts)];
  const top = Math.max(...vs) || 1;
  const x = (t: number) => (t1 === t0 ? W : ((t - t0) / (t1 - t0)) * W);
  const y = (v: number) => H - (v / top) * (H - 4);
  const svg = document.createElementNS(SVG, 'svg');
  svg.setAttribute('viewBox', `0 0 ${W} ${H}`);
  svg.setAttribute('class', 'chart');
  const line = document.createElementNS(SVG, 'polyline');
  line.setAttribute('points', s.points.map((p) => `${x(p.t).toFixed(1)},${y(p.v).toFixed(1)}`).join(' '));
  svg.append(line);
  const last = vs[vs.length - 1]!;
  return h('figure', {}, h('figcaption', {}, `${s.label} (${s.unit})`, h('span', { class: 'hint' }, ` last ${round(last)} · peak ${round(top)}`)), svg);
}

/** The estimated cost of the window, when the server prices usage. */
function costOf(answer: unknown): string | null {
  const total = (answer as { total?: { cost?: { total?: unknown } }; currency?: unknown } | null)?.total?.cost?.total;
  if (typeof total !== 'number') return null;
  const currency = (answer as { currency?: unknown }).currency;
  return `Estimated cost of the last 6 hours: ${total.toFixed(4)} ${typeof currency === 'string' ? currency : ''}`.trim();
}

function round(v: number): string {
  return Math.abs(v) >= 100 ? v.toFixed(0) : v.toPrecision(3);
}
