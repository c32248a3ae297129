/**
 * Debian's Chromium driven by playwright-core (never a downloaded browser). Under CI the browser
 * must exist (`.ci/run` installs it); elsewhere browser tests are skipped with a message when it
 * is missing.
 */
import { existsSync } from 'node:fs';
import { type Browser, chromium } from 'playwright-core';

export const CHROMIUM_PATH = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

/** True when browser tests can run here. @throws under CI when Chromium is missing. */
export function chromiumAvailable(): boolean {
  if (existsSync(CHROMIUM_PATH)) return true;
  if (process.env.CI === 'true') throw new Error(`CI=true but ${CHROMIUM_PATH} is missing: install Debian's chromium.`);
  console.warn(`browser tests skipped: ${CHROMIUM_PATH} not found (apt-get install chromium)`);
  return false;
}

/** Launches headless Chromium with the flags this sandboxed, offline machine needs. */
export function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM_PATH,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--no-first-run',
      '--disable-quic',
    ],
  });
}
