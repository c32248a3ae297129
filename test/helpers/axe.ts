/**
 * Accessibility checks and screenshots for the web app's browser tests.
 * - {@link expectNoSeriousA11yViolations}: axe-core (via @axe-core/playwright) on the current
 *   page, WCAG 2.x A and AA rules; fails on any `serious` or `critical` violation and prints them.
 * - {@link screenshot}: a full-page PNG under test/artifacts/screenshots/ (git-ignored; CI keeps
 *   it as an artifact) to look at the layout.
 */
import { mkdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { AxeBuilder } from '@axe-core/playwright';
import type { Page } from 'playwright-core';
import { expect } from 'vitest';

/** Where {@link screenshot} writes. */
export const SCREENSHOT_DIR = fileURLToPath(new URL('../artifacts/screenshots/', import.meta.url));

/**
 * Runs axe on `page` and fails the test on serious or critical violations. The page must come
 * from `browser.newContext()` then `context.newPage()` (axe refuses `browser.newPage()` pages).
 * @param exclude CSS selectors to leave out (e.g. a third-party widget), default none.
 */
export async function expectNoSeriousA11yViolations(page: Page, exclude: string[] = []): Promise<void> {
  let builder = new AxeBuilder({ page }).withTags(['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa']);
  for (const selector of exclude) builder = builder.exclude(selector);
  const results = await builder.analyze();
  const serious = results.violations.filter((v) => v.impact === 'serious' || v.impact === 'critical');
  const report = serious.map((v) => `${v.impact} ${v.id}: ${v.help}\n  ${v.nodes.map((n) => n.target.join(' ')).join('\n  ')}`).join('\n');
  expect(report, `axe on ${page.url()}`).toBe('');
}

/** Saves a full-page screenshot as test/artifacts/screenshots/{name}.png. */
export async function screenshot(page: Page, name: string): Promise<void> {
  mkdirSync(SCREENSHOT_DIR, { recursive: true });
  await page.screenshot({ path: `${SCREENSHOT_DIR}${name.replace(/[^a-z0-9._-]+/gi, '-')}.png`, fullPage: true });
}
