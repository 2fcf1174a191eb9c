// The daemon of an integration test file: one call instead of a beforeAll and an afterAll in
// every file.
import { afterAll, beforeAll } from 'vitest';
import { BurrowInstance } from './instance.js';

/**
 * A real `burrow serve`, started before the file's first test and destroyed (with all it made
 * on the host) after its last. The object is usable at once: `url`, `client()` and the rest hold
 * once it has started. Hooks the file registers after this call run after the start and before
 * the destroy, so they can create the sandboxes the tests share. `startTimeoutMs` is for a first
 * start that builds a large image (the default is the hook timeout).
 */
export function useInstance(env: Record<string, string> = {}, options: { startTimeoutMs?: number } = {}): BurrowInstance {
  const burrow = BurrowInstance.prepare(env);
  beforeAll(() => burrow.start(), options.startTimeoutMs);
  afterAll(() => burrow.destroy());
  return burrow;
}
