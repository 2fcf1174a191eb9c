// Charts of CPU, memory and disk over the last hours, from the usage API when the server meters.
import { Api, enc } from '../api';
import { h, replace } from '../dom';
import { usageSeries, type Series } from '../usage-series';
import { featurePanel } from './panel';

const WINDOWS: Array<[string, number]> = [
  ['10 min', 600_000],
  ['1 hour', 3_600_000],
  ['6 hours', 6 * 3_600_000],
  ['1 day', 86_400_000],
];
const W = 320;
const H = 80;
const SVG = 'http://www.w3.org/2000/svg';

export function mountUsage(api: Api, sandbox: string): HTMLElement {
  const range = h('select', { 'aria-label': 'time range', onchange: () => void panel.reload() },
    ...WINDOWS.map(([label, ms]) => h('option', { value: ms, selected: ms === 3_600_000 }, label)));
  const panel = featurePanel('Usage', 'usage', async (body) => {
    const to = new Date();
    const from = new Date(to.getTime() - Number(range.value));
    const q = new URLSearchParams({ sprite: sandbox, from: from.toISOString(), to: to.toISOString() });
    const answer = await api.json<unknown>('GET', `/v1/usage?${q}`);
    const series = usageSeries(answer);
    if (!series.length) {
      replace(body, range, h('p', { class: 'hint' }, `Nothing metered in the last ${range.selectedOptions[0]?.text ?? 'hour'}.`));
      return;
    }
    const cost = costOf(answer, range.selectedOptions[0]?.text ?? '');
    replace(body, range, ...series.map(chart), cost ? h('p', { class: 'hint' }, cost) : null);
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
  const show = (v: number) => format(v, s.unit);
  return h('figure', {}, h('figcaption', {}, s.label, h('span', { class: 'hint' }, ` last ${show(last)} · peak ${show(top)}`)), svg);
}

/** The estimated cost of the window, when the server prices usage. */
function costOf(answer: unknown, window: string): string | null {
  const total = (answer as { total?: { cost?: { total?: unknown } }; currency?: unknown } | null)?.total?.cost?.total;
  if (typeof total !== 'number') return null;
  const currency = (answer as { currency?: unknown }).currency;
  return `Estimated cost of the last ${window}: ${total.toFixed(4)} ${typeof currency === 'string' ? currency : ''}`.trim();
}

/** Rates in readable units: GB below 1 as MB, CPUs below 0.1 as a percentage of one CPU. */
function format(v: number, unit: string): string {
  if (unit === 'GB' && v < 1) return `${round(v * 1024)} MB`;
  if (unit === 'CPUs' && v < 0.1) return `${round(v * 100)}% of a CPU`;
  return `${round(v)} ${unit}`;
}

function round(v: number): string {
  return Math.abs(v) >= 100 || v === 0 ? v.toFixed(0) : v.toPrecision(3);
}
