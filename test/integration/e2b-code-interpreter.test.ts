// The real, unmodified `@e2b/code-interpreter` SDK against a real `burrow serve`: its default
// template makes a code-interpreter sandbox, and runCode, its callbacks, errors, charts and code
// contexts reach the sandbox's kernels through the E2B routing (E2b-Sandbox-Port 49999). The
// first run on a machine builds the code-interpreter image (a few minutes).
import { Sandbox } from '@e2b/code-interpreter';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { useInstance } from '../support/use-instance.js';

// The default image of this daemon, so that its first start on a machine builds it: the SDK's
// create would not wait that long.
const burrow = useInstance({ BURROW_IMAGE: 'code-interpreter' }, { startTimeoutMs: 1_800_000 });
let sbx: Sandbox;

beforeAll(async () => {
  sbx = await Sandbox.create({ apiUrl: burrow.url, sandboxUrl: burrow.url, apiKey: burrow.token, timeoutMs: 600_000 });
}, 300_000);

afterAll(async () => {
  await sbx?.kill();
});

describe('the code interpreter SDK', () => {
  it('runs Python and returns the value of the last expression as the main result', async () => {
    const execution = await sbx.runCode('1 + 1');
    expect(execution.text).toBe('2');
    expect(execution.error).toBeUndefined();
  });

  it('streams stdout and stderr to the callbacks and the logs', async () => {
    const out: string[] = [];
    const execution = await sbx.runCode('import sys\nprint("to out")\nprint("to err", file=sys.stderr)', {
      onStdout: (message) => void out.push(message.line),
    });
    expect(out.join('')).toBe('to out\n');
    expect(execution.logs.stdout.join('')).toBe('to out\n');
    expect(execution.logs.stderr.join('')).toBe('to err\n');
  });

  it('keeps variables between runs, as a notebook does', async () => {
    await sbx.runCode('answer = 41');
    expect((await sbx.runCode('answer + 1')).text).toBe('42');
  });

  it('reports an exception as the execution’s error, with its traceback', async () => {
    const execution = await sbx.runCode('1 / 0');
    expect(execution.error?.name).toBe('ZeroDivisionError');
    expect(execution.error?.value).toBe('division by zero');
    expect(execution.error?.traceback).toMatch(/ZeroDivisionError/);
  });

  it('returns a matplotlib chart as a PNG result', async () => {
    const execution = await sbx.runCode('import matplotlib.pyplot as plt\nplt.plot([1, 2, 3], [1, 4, 9])\nplt.show()');
    const png = execution.results.find((result) => result.png)?.png;
    expect(png).toBeDefined();
    expect(Buffer.from(png!, 'base64').subarray(1, 4).toString()).toBe('PNG');
  });

  it('returns a pandas DataFrame as an HTML table beside its text', async () => {
    const execution = await sbx.runCode('import pandas as pd\npd.DataFrame({"a": [1, 2], "b": [3, 4]})');
    expect(execution.results.find((result) => result.isMainResult)?.html).toContain('<table');
    expect(execution.text).toContain('a  b');
  });

  it('gives a run the environment variables it is passed', async () => {
    expect((await sbx.runCode('import os\nos.environ["RUN_ONLY"]', { envs: { RUN_ONLY: 'yes' } })).text).toBe('yes');
  });

  it('creates, lists, uses and removes a code context with its own working directory', async () => {
    const context = await sbx.createCodeContext({ cwd: '/tmp' });
    expect(context.cwd).toBe('/tmp');
    expect((await sbx.listCodeContexts()).map((c) => c.id)).toContain(context.id);
    expect((await sbx.runCode('import os\nos.getcwd()', { context })).text).toBe('/tmp');
    expect((await sbx.runCode('answer', { context })).error?.name).toBe('NameError');
    await sbx.removeCodeContext(context);
    expect((await sbx.listCodeContexts()).map((c) => c.id)).not.toContain(context.id);
  });

  it('runs shell commands through envd in the same sandbox', async () => {
    await sbx.runCode('open("/home/user/from-python.txt", "w").write("written by the kernel")');
    expect((await sbx.commands.run('cat /home/user/from-python.txt')).stdout).toBe('written by the kernel');
  });
});
