/**
 * Headless Chromium for the browser tests: Debian's `chromium` package (scripts/services.sh tools
 * installs it; these machines cannot download a browser) driven by playwright-core. Screenshots go
 * to `.tmp/artifacts/` (gitignored), where CI keeps them as artifacts.
 */
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';

/** Debian's Chromium. */
export const CHROMIUM_PATH = '/usr/bin/chromium';

/** Where screenshots and other artifacts of the browser tests go. */
export const ARTIFACTS_DIR = join(process.cwd(), '.tmp', 'artifacts');

/**
 * Launches headless Chromium without a sandbox (containers have no user namespaces) or any
 * background network of its own, so a test's only traffic is the page's.
 */
export async function launchBrowser(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM_PATH,
    headless: true,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
}

/** Saves a full-page screenshot as `.tmp/artifacts/<name>.png` and returns its path. */
export async function saveScreenshot(page: Page, name: string): Promise<string> {
  await mkdir(ARTIFACTS_DIR, { recursive: true });
  const path = join(ARTIFACTS_DIR, `${name}.png`);
  await page.screenshot({ path, fullPage: true });
  return path;
}

/**
 * Collects the page's console errors and uncaught exceptions, so a test can assert that none
 * happened (a chart that threw draws nothing and says nothing otherwise).
 */
export function pageErrors(page: Page): string[] {
  const errors: string[] = [];
  page.on('pageerror', (err) => errors.push(`pageerror: ${err.message}`));
  page.on('console', (msg) => {
    if (msg.type() === 'error') errors.push(`console: ${msg.text()}`);
  });
  return errors;
}
