// Headless Chromium for end-to-end tests: the distribution's own package (.ci/run installs it),
// driven by playwright-core; no browser is ever downloaded. Screenshots go to test-artifacts/.
import { existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { REPO } from './instance.js';

export const CHROMIUM = '/usr/bin/chromium';
export const ARTIFACTS = join(REPO, 'test-artifacts', 'dashboard');

export async function launchChromium(): Promise<Browser> {
  if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: install Debian's browser with \`apt-get install -y chromium\` (.ci/run does)`);
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    // Chromium's own sandbox refuses to run as root, which tests on this host are.
    args: ['--no-sandbox', '--disable-dev-shm-usage'],
  });
}

export async function screenshot(page: Page, label: string): Promise<void> {
  await mkdir(ARTIFACTS, { recursive: true });
  await page.screenshot({ path: join(ARTIFACTS, `${label}.png`), fullPage: true });
}
