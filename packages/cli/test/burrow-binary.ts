/**
 * Running the built `burrow` binary from tests: build it once, then spawn it with pipes (never
 * synchronously: the fake server lives in the test process and must keep answering).
 */
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const root = fileURLToPath(new URL('../../../', import.meta.url));
export const bin = fileURLToPath(new URL('../bin/burrow.js', import.meta.url));

export interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

export interface RunOptions {
  input?: string | Buffer;
  env?: NodeJS.ProcessEnv;
  /** Write the input but leave stdin open, as a person at a terminal would. */
  keepStdinOpen?: boolean;
}

/** An empty home, so no admin token is found unless a test passes one. */
export function emptyHome(): string {
  return mkdtempSync(join(tmpdir(), 'burrow-cli-test-'));
}

/** The binary runs dist/, so build it: a stale build would test old code. */
export function buildCli(): void {
  execFileSync(process.execPath, [join(root, 'node_modules/typescript/bin/tsc'), '-b', 'packages/cli'], { cwd: root, stdio: 'inherit' });
}

export function runBurrow(args: string[], home: string, options: RunOptions = {}): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [bin, ...args], {
      env: { PATH: process.env.PATH, BURROW_HOME: home, ...options.env },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    const stdout: Buffer[] = [];
    const stderr: Buffer[] = [];
    child.stdout.on('data', (chunk: Buffer) => stdout.push(chunk));
    child.stderr.on('data', (chunk: Buffer) => stderr.push(chunk));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout: Buffer.concat(stdout).toString(), stderr: Buffer.concat(stderr).toString() }));
    if (options.keepStdinOpen) child.stdin.write(options.input ?? '');
    else child.stdin.end(options.input ?? '');
    child.on('exit', () => child.stdin.destroy());
  });
}

/** A running binary a test talks to step by step, as a person at a keyboard would. */
export interface Session {
  type(text: string): void;
  /** Resolves once stdout has shown `text` (5 s at most). */
  waitFor(text: string): Promise<void>;
  /** Stdin stays open until the binary exits. */
  result: Promise<Run>;
}

export function startBurrow(args: string[], home: string): Session {
  const child = spawn(process.execPath, [bin, ...args], {
    env: { PATH: process.env.PATH, BURROW_HOME: home },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  const stdout: Buffer[] = [];
  const stderr: Buffer[] = [];
  child.stdout.on('data', (chunk: Buffer) => stdout.push(chunk));
  child.stderr.on('data', (chunk: Buffer) => stderr.push(chunk));
  child.on('exit', () => child.stdin.destroy());
  const shown = (): string => Buffer.concat(stdout).toString();
  return {
    type: (text) => child.stdin.write(text),
    waitFor: async (text) => {
      const deadline = Date.now() + 5000;
      while (!shown().includes(text)) {
        if (Date.now() > deadline) throw new Error(`the binary never showed ${JSON.stringify(text)}; it showed ${JSON.stringify(shown())}`);
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
    },
    result: new Promise((resolve, reject) => {
      child.on('error', reject);
      child.on('close', (code) => resolve({ code, stdout: shown(), stderr: Buffer.concat(stderr).toString() }));
    }),
  };
}
