// The code interpreter's message mapping (sandbox-tools/code-interpreter/messages.py): Jupyter
// kernel messages in, the NDJSON lines `@e2b/code-interpreter` reads out. Run with the host's
// python3 (the module needs nothing beyond the standard library).
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

const MODULE_DIR = fileURLToPath(new URL('../sandbox-tools/code-interpreter/', import.meta.url));

/** Python's output; asynchronous, as a blocked test worker misses vitest's own messages. */
const python = async (program: string, ...args: string[]) => (await promisify(execFile)('python3', ['-B', '-c', program, ...args], { encoding: 'utf8' })).stdout;

/** Calls `messages.<fn>(*args)` in python3 and returns what it returned. */
async function call(fn: string, ...args: unknown[]): Promise<unknown> {
  const program = [
    'import json, sys',
    `sys.path.insert(0, ${JSON.stringify(MODULE_DIR)})`,
    'import messages',
    'out = getattr(messages, sys.argv[1])(*json.loads(sys.argv[2]))',
    'sys.stdout.write(json.dumps(out))',
  ].join('\n');
  return JSON.parse(await python(program, fn, JSON.stringify(args)));
}

const message = (msg_type: string, content: Record<string, unknown>) => ({
  header: { msg_type, date: '2026-12-02T10:00:00.000000Z' },
  parent_header: { msg_id: 'm1' },
  content,
});

describe('results', async () => {
  it('renames MIME types as E2B names them, the value of the cell being the main result', async () => {
    const bundle = {
      'text/plain': '2',
      'text/html': '<b>2</b>',
      'text/markdown': '**2**',
      'image/svg+xml': '<svg/>',
      'image/png': 'iVBORw0KGgo=',
      'image/jpeg': '/9j/4AAQ',
      'application/pdf': 'JVBERi0=',
      'text/latex': '$2$',
      'application/json': { a: 1 },
      'application/javascript': 'x()',
      'e2b/data': { rows: [] },
    };
    expect(await call('line_for', message('execute_result', { data: bundle, execution_count: 1 }))).toEqual({
      type: 'result',
      text: '2',
      html: '<b>2</b>',
      markdown: '**2**',
      svg: '<svg/>',
      png: 'iVBORw0KGgo=',
      jpeg: '/9j/4AAQ',
      pdf: 'JVBERi0=',
      latex: '$2$',
      json: { a: 1 },
      javascript: 'x()',
      data: { rows: [] },
      is_main_result: true,
    });
  });

  it('reports display data (a chart) as a result that is not the main one, its PNG as sent', async () => {
    const line = await call('line_for', message('display_data', { data: { 'image/png': 'iVBORw0KGgo=', 'text/plain': '<Figure size 640x480 with 1 Axes>' } }));
    expect(line).toEqual({ type: 'result', png: 'iVBORw0KGgo=', text: '<Figure size 640x480 with 1 Axes>', is_main_result: false });
  });

  it('strips one pair of single quotes from a string repr, as E2B does', async () => {
    expect(await call('line_for', message('execute_result', { data: { 'text/plain': "'/tmp'" } }))).toMatchObject({ text: '/tmp' });
    expect(await call('line_for', message('execute_result', { data: { 'text/plain': "''quoted''" } }))).toMatchObject({ text: "'quoted'" });
    expect(await call('line_for', message('execute_result', { data: { 'text/plain': "'" } }))).toMatchObject({ text: "'" });
  });

  it('keeps other MIME types under their own name, and never lets one overwrite the line type', async () => {
    const line = await call('line_for', message('display_data', { data: { 'application/vnd.plotly.v1+json': { x: 1 }, type: 'x', extra: 'y' } }));
    expect(line).toEqual({ type: 'result', 'application/vnd.plotly.v1+json': { x: 1 }, is_main_result: false });
  });
});

describe('other messages', async () => {
  it('stream output is a stdout or stderr line', async () => {
    expect(await call('line_for', message('stream', { name: 'stdout', text: 'hi\n' }))).toEqual({ type: 'stdout', text: 'hi\n', timestamp: '2026-12-02T10:00:00.000000Z' });
    expect(await call('line_for', message('stream', { name: 'stderr', text: 'oops\n' }))).toMatchObject({ type: 'stderr', text: 'oops\n' });
  });

  it('an exception is an error line with its traceback as one string', async () => {
    const content = { ename: 'ZeroDivisionError', evalue: 'division by zero', traceback: ['Traceback', 'Cell In[1], line 1', 'ZeroDivisionError: division by zero'] };
    expect(await call('line_for', message('error', content))).toEqual({
      type: 'error',
      name: 'ZeroDivisionError',
      value: 'division by zero',
      traceback: 'Traceback\nCell In[1], line 1\nZeroDivisionError: division by zero',
    });
  });

  it('execute_input gives the execution count; status and the rest give no line', async () => {
    expect(await call('line_for', message('execute_input', { code: '1+1', execution_count: 3 }))).toEqual({ type: 'number_of_executions', execution_count: 3 });
    expect(await call('line_for', message('status', { execution_state: 'busy' }))).toBeNull();
    expect(await call('line_for', message('clear_output', { wait: false }))).toBeNull();
  });
});

describe('NDJSON', async () => {
  it('is one line of strict JSON: NaN and infinities become null, other characters are escaped', async () => {
    const out = await call('ndjson', { type: 'result', json: { values: [1.5, 'NaN'] }, text: 'a\nb\u2028ü' }) as string;
    expect(out.endsWith('\n')).toBe(true);
    expect(out.slice(0, -1)).not.toContain('\n');
    expect(JSON.parse(out)).toEqual({ type: 'result', json: { values: [1.5, 'NaN'] }, text: 'a\nb\u2028ü' });
    expect(/^[\x20-\x7e]*\n$/.test(out)).toBe(true);
  });

  it('replaces values JSON cannot spell', async () => {
    const program = `import sys; sys.path.insert(0, ${JSON.stringify(MODULE_DIR)}); import messages; sys.stdout.write(messages.ndjson({'json': [float('nan'), float('inf'), 1.0]}))`;
    const out = await python(program);
    expect(JSON.parse(out)).toEqual({ json: [null, null, 1.0] });
  });
});

describe('per-execution environment variables', async () => {
  it('are set by code that binds nothing and displays nothing, and put back afterwards', async () => {
    const set = await call('environment_code', { A: "it's" }, {}) as string;
    const back = await call('environment_code', {}, { A: null, B: 'global' }) as string;
    const program = [
      'import os',
      "os.environ['B'] = 'changed'",
      'before = set(globals())',
      `exec(${JSON.stringify(set)})`,
      "print(os.environ['A'])",
      `exec(${JSON.stringify(back)})`,
      "print('A' in os.environ, os.environ['B'], set(globals()) - before - {'before'})",
    ].join('\n');
    expect(await python(program)).toBe("it's\nFalse global set()\n");
    expect(set.trimEnd().endsWith(';')).toBe(true);
  });

  it('refuses names and values an environment cannot hold', async () => {
    expect(await call('environment_problem', { A: '1' })).toBeNull();
    expect(await call('environment_problem', { 'A=B': '1' })).toMatch(/cannot be an environment variable/);
    expect(await call('environment_problem', { '': '1' })).toMatch(/cannot be an environment variable/);
    expect(await call('environment_problem', { A: 1 })).toMatch(/must be a string/);
    expect(await call('environment_problem', ['A'])).toMatch(/must be an object/);
  });
});
