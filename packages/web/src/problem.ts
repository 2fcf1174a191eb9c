// Turns a failed call into what the user should do next. The server's messages already say what
// happened and how to proceed; this adds the step that depends on where the user is (the browser).

export class Problem extends Error {
  override name = 'Problem';
  constructor(
    /** What went wrong, in one sentence. */
    message: string,
    /** What to do about it. */
    readonly next: string,
    readonly status = 0,
    readonly code = '',
  ) {
    super(message);
  }

  /** The endpoint does not exist on this server (a feature it does not have yet). */
  get unsupported(): boolean {
    return this.status === 404 && this.code === 'not_found' && /^no such endpoint/i.test(this.message);
  }
}

const NEXT_BY_CODE: Record<string, string> = {
  unauthorized: 'Log in again with a token the server accepts.',
  forbidden: 'Your token does not allow this: log out and log in with one that does (the admin token allows everything).',
  invalid_name: 'Use lowercase letters, digits and dashes (up to 63 characters).',
  sandbox_exists: 'Pick another name, or open the existing sandbox.',
  sandbox_not_found: 'It may have been destroyed; go back to the list.',
  checkpoint_not_found: 'Refresh the timeline; the checkpoint may have been pruned.',
  sandbox_busy: 'Wait for the current operation to finish, then try again.',
  checkpoint_in_use: 'Restore or fork from another checkpoint, or wait and retry.',
  rate_limited: 'Wait a moment, then try again.',
  gone: 'Start a new session.',
  runtime_failed: 'Try again; if it keeps failing, check the `burrow serve` log on the host.',
  unavailable: 'Try again in a moment.',
  internal: 'Check the `burrow serve` log on the host, then try again.',
};

/** A Problem from an HTTP error response (the flat `{error, message}` body, or anything else). */
export async function problemFrom(response: Response): Promise<Problem> {
  const text = await response.text().catch(() => '');
  let code = '';
  let message = '';
  try {
    const body = JSON.parse(text) as { error?: unknown; message?: unknown; code?: unknown };
    code = typeof body.error === 'string' && typeof body.message === 'string' ? body.error : typeof body.code === 'string' ? body.code : '';
    message = typeof body.message === 'string' ? body.message : typeof body.error === 'string' ? body.error : '';
  } catch {
    message = text.trim().split('\n')[0]?.slice(0, 300) ?? '';
  }
  if (!message) message = `the server answered ${response.status} ${response.statusText}`;
  const next = NEXT_BY_CODE[code] ?? (response.status >= 500 ? NEXT_BY_CODE.internal! : 'Check the values you entered and try again.');
  return new Problem(sentence(message), next, response.status, code);
}

export function offline(): Problem {
  return new Problem('The burrow server cannot be reached.', 'Check that `burrow serve` is running on the host, then retry.');
}

export function asProblem(e: unknown): Problem {
  if (e instanceof Problem) return e;
  return new Problem(sentence(e instanceof Error ? e.message : String(e)), 'Try again; reload the page if it keeps happening.');
}

function sentence(s: string): string {
  const t = s.trim();
  return t ? t[0]!.toUpperCase() + t.slice(1) : t;
}
