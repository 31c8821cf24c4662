import { existsSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Browser, chromium, type Page } from 'playwright-core';
import type { TestContext } from 'vitest';

/** Debian's Chromium; browser tests skip (with this reason) where it is missing. */
export const CHROMIUM = '/usr/bin/chromium';
export const hasChromium = existsSync(CHROMIUM);
export const NO_CHROMIUM = `needs Chromium at ${CHROMIUM} (Debian package \`chromium\`)`;

/** Where failed steps leave their screenshots (outside the checkout, kept after the run). */
export const SCREENSHOT_DIR = join(tmpdir(), 'agentwork-test-artifacts');

export function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-component-update',
      '--no-first-run',
      '--disable-sync',
      '--disable-quic',
    ],
  });
}

const slug = (text: string) =>
  text
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-|-$/g, '')
    .slice(0, 60);

/**
 * Named steps for one browser test: `await step('shows the agent', async () => { ... })`. When a
 * step fails, every open page of `page`'s browser context (the page, and any tab it opened) is
 * saved as a full-page screenshot in SCREENSHOT_DIR; the paths are printed, added to the test's
 * annotations and appended to the error message, so the test output always says where to look.
 */
export function browserSteps(context: Pick<TestContext, 'task' | 'annotate'>, page: Page) {
  let count = 0;
  return async <T>(title: string, run: () => Promise<T>): Promise<T> => {
    const number = ++count;
    try {
      return await run();
    } catch (error) {
      mkdirSync(SCREENSHOT_DIR, { recursive: true });
      const base = `${slug(context.task.name)}-${Date.now()}-${number}-${slug(title)}`;
      const pages = page.isClosed()
        ? page.context().pages()
        : [
            page,
            ...page
              .context()
              .pages()
              .filter((p) => p !== page),
          ];
      const notes: string[] = [];
      for (const [index, target] of pages.entries()) {
        const path = join(SCREENSHOT_DIR, `${base}${index ? `-tab${index}` : ''}.png`);
        notes.push(
          await target
            .screenshot({ path, fullPage: true, timeout: 10_000 })
            .then(() => `screenshot of failed step ${number} "${title}"${index ? ` (tab ${index})` : ''}: ${path}`)
            .catch(
              (shotError: unknown) =>
                `step ${number} "${title}": no screenshot of ${target.url()} (${String(shotError)})`,
            ),
        );
      }
      if (!notes.length) notes.push(`step ${number} "${title}" failed; no page left open to screenshot`);
      for (const note of notes) {
        console.error(note);
        await context.annotate(note, 'screenshot').catch(() => {});
      }
      if (error instanceof Error) error.message = `${error.message}\n${notes.join('\n')}`;
      throw error;
    }
  };
}
