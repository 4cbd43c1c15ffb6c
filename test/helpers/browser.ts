import { createHash, X509Certificate } from 'node:crypto';
import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { ROOT } from './processes.js';

/** Debian's chromium package (.ci/run installs it when missing); never a downloaded browser. */
export const CHROMIUM = '/usr/bin/chromium';

/** base64 SHA-256 of a certificate's SubjectPublicKeyInfo: what --ignore-certificate-errors-spki-list pins. */
export function spkiPin(certFile: string): string {
  const der = new X509Certificate(readFileSync(certFile)).publicKey.export({ type: 'spki', format: 'der' });
  return createHash('sha256').update(der).digest('base64');
}

/** A headless Chromium that trusts exactly the pinned certificates (playwright gives every launch a fresh, temporary profile). */
export function launchChromium(pins: string[]): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      // Without these Chromium's own outbound connections are refused here and slow it down.
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      `--ignore-certificate-errors-spki-list=${pins.join(',')}`,
    ],
  });
}

/** Saves a full-page screenshot under test-artifacts/ (git-ignored) when run locally; CI keeps none. */
export async function screenshot(page: Page, name: string): Promise<void> {
  if (process.env.CI) return;
  const dir = join(ROOT, 'test-artifacts', 'console');
  mkdirSync(dir, { recursive: true });
  await page.screenshot({ path: join(dir, `${name}.png`), fullPage: true });
}
