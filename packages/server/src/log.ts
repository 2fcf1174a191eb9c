// The daemon's log: structured JSON lines (pino) for machines, or the same records made
// readable when a person watches the terminal. Built once by the CLI or serve and passed down.
import { pino, type Logger } from 'pino';
import pretty from 'pino-pretty';

export type { Logger } from 'pino';

export function createLogger(opts: { level?: string; pretty?: boolean } = {}): Logger {
  const level = opts.level ?? 'info';
  const human = opts.pretty ?? Boolean(process.stdout.isTTY);
  const base = { level, base: { pid: process.pid }, timestamp: pino.stdTimeFunctions.isoTime };
  if (human) {
    return pino(base, pretty({ colorize: true, translateTime: 'SYS:HH:MM:ss.l', ignore: 'pid,hostname', sync: true }));
  }
  // Synchronous writes: a line logged just before a crash (or a test's SIGKILL) is not lost.
  return pino(base, pino.destination({ dest: 1, sync: true }));
}

/** The plain `(line) => void` many collaborators take, writing info records to `logger`. */
export function lineLogger(logger: Logger): (line: string) => void {
  return (line) => logger.info(line);
}
