import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { chromium, type BrowserContext } from 'playwright-core';

/**
 * Debian's chromium (dev/setup/chromium.sh), headless, driven by playwright-core. A closed network refuses
 * Chromium's own background connections (updates, sync, QUIC probes), so they are switched off, and each launch
 * starts from a fresh profile.
 */
const FLAGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

export interface LocalBrowser {
  context: BrowserContext;
  close(): Promise<void>;
}

export async function launchChromium(executablePath = '/usr/bin/chromium'): Promise<LocalBrowser> {
  const profile = mkdtempSync(path.join(os.tmpdir(), 'quel-chromium-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath,
    headless: true,
    args: FLAGS,
    viewport: { width: 1200, height: 1000 },
  });
  return {
    context,
    async close() {
      await context.close();
      rmSync(profile, { recursive: true, force: true });
    },
  };
}
