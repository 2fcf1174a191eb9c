// The first stage of `burrow serve`: the host is ready and burrow's home exists.
import { mkdir } from 'node:fs/promises';
import { homePaths, type BurrowConfig } from '../config.js';
import { lineLogger, type Logger } from '../log.js';
import { doctor } from '../host/doctor.js';

export interface Host {
  log: (line: string) => void;
  logger: Logger;
  paths: ReturnType<typeof homePaths>;
  /** Tests name a step (`config.crashAt`) at which the daemon kills itself, to prove recovery. */
  crashPoint: (step: string) => void;
}

/** The host is ready (doctor, which fixes what it can) and burrow's home exists. */
export async function prepareHost(config: BurrowConfig, logger: Logger): Promise<Host> {
  const log = lineLogger(logger);
  const report = await doctor(config, { fix: true, log });
  if (!report.ok) throw new Error(`the host is not ready:\n  ${report.problems.join('\n  ')}`);
  const paths = homePaths(config);
  await mkdir(config.home, { recursive: true, mode: 0o700 });
  await mkdir(paths.sandboxes, { recursive: true });
  const crashPoint = (step: string) => {
    if (config.crashAt === step) process.kill(process.pid, 'SIGKILL');
  };
  return { log, logger, paths, crashPoint };
}
