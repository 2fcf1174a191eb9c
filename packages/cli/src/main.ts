/**
 * The `burrow` command: global options, the command list, and one place where failures turn
 * into `burrow: <message>` and exit code 1.
 */
import { createRequire } from 'node:module';
import { Command, Option } from 'commander';
import { registerAgent } from './commands/agent.js';
import { registerCheckpoint } from './commands/checkpoint.js';
import { registerConsole } from './commands/console.js';
import { registerCp } from './commands/cp.js';
import { registerCreate } from './commands/create.js';
import { registerDestroy } from './commands/destroy.js';
import { registerDoctor } from './commands/doctor.js';
import { registerEvents } from './commands/events.js';
import { registerExport } from './commands/export.js';
import { registerImport } from './commands/import.js';
import { registerExec } from './commands/exec.js';
import { registerImage } from './commands/image.js';
import { registerInfo } from './commands/info.js';
import { registerLimits } from './commands/limits.js';
import { registerList } from './commands/list.js';
import { registerPolicy } from './commands/policy.js';
import { registerPrivileges } from './commands/privileges.js';
import { registerProxy } from './commands/proxy.js';
import { registerRestart } from './commands/restart.js';
import { registerServe } from './commands/serve.js';
import { registerSecret } from './commands/secret.js';
import { registerSessions } from './commands/sessions.js';
import { registerToken } from './commands/token.js';
import { registerService } from './commands/service.js';
import { registerSleep } from './commands/sleep.js';
import { registerUrl } from './commands/url.js';
import { registerUsage } from './commands/usage.js';
import { reportFailure } from './failure.js';

const { version } = createRequire(import.meta.url)('../package.json') as { version: string };

const program = new Command('burrow')
  .description('persistent Linux sandboxes on your own machine')
  .version(version)
  .addOption(new Option('--api <url>', 'burrow API URL (default http://127.0.0.1:7070)').env('BURROW_API'))
  .addOption(new Option('--token <token>', 'API token (default: $BURROW_HOME/admin.token)').env('BURROW_TOKEN'))
  .configureOutput({ outputError: (message, write) => write(message.replace(/^error: /, 'burrow: ')) })
  .showSuggestionAfterError();

registerCreate(program);
registerList(program);
registerInfo(program);
registerDestroy(program);
registerExec(program);
registerCp(program);
registerConsole(program);
registerAgent(program);
registerSessions(program);
registerSleep(program);
registerRestart(program);
registerService(program);
registerCheckpoint(program);
registerExport(program);
registerImport(program);
registerToken(program);
registerPolicy(program);
registerPrivileges(program);
registerUrl(program);
registerProxy(program);
registerLimits(program);
registerEvents(program);
registerUsage(program);
registerSecret(program);
registerServe(program);
registerDoctor(program);
registerImage(program);

try {
  await program.parseAsync(process.argv);
} catch (err) {
  reportFailure(err);
  process.exitCode = 1;
}
