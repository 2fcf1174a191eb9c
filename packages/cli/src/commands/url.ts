/** `burrow url`: a sandbox's URL (and a login link when it is private); `url update --auth`. */
import type { Command } from 'commander';
import { clientFor } from '../client.js';

export function registerUrl(program: Command): void {
  const url = program
    .command('url')
    .description("print a sandbox's URL (port 8080 inside); private URLs also get a browser login link")
    .argument('<name>')
    .action(async (name: string, _options: object, command: Command) => {
      const sandbox = clientFor(command).sandbox(name);
      const sprite = await sandbox.refresh();
      process.stdout.write(`${sprite.url}\n`);
      if (sprite.url_settings?.auth !== 'public') {
        const login = await sandbox.urlLogin();
        process.stdout.write(
          `private (auth: sprite): send the API token as a Bearer header, or open this login link in a browser (valid until ${login.expires_at}):\n${login.login_url}\n`,
        );
      }
    });

  url
    .command('update')
    .description('change who may open the URL')
    .argument('<name>')
    .requiredOption('--auth <mode>', 'sprite (token or login link) or public (anyone who can reach burrow)')
    .action(async (name: string, options: { auth: string }, command: Command) => {
      if (options.auth !== 'sprite' && options.auth !== 'public') throw new Error(`--auth must be sprite or public, got '${options.auth}'`);
      const sprite = await clientFor(command).sandbox(name).setUrlAuth(options.auth);
      process.stdout.write(`${sprite.url} is now ${options.auth === 'public' ? 'public' : 'private (auth: sprite)'}\n`);
    });
}
