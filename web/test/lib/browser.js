// Headless Chromium (Debian's package, driven by playwright-core) for the
// widget and console tests, and the helpline server harness the
// compatibility tests use (it builds the binary once, starts `helpline
// serve` on a free port with a fresh data directory and reads its banner).
import { chromium } from 'playwright-core';

export { startServer, repoRoot } from '../../../compat/lib/harness.js';

/** Debian's chromium, or $CHROMIUM_PATH. */
export const chromiumPath = process.env.CHROMIUM_PATH || '/usr/bin/chromium';

export function launchChromium() {
  return chromium.launch({
    executablePath: chromiumPath,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
}

/**
 * Collects what the page reports as errors: uncaught exceptions, console
 * errors and Content-Security-Policy violations (Chromium logs those as
 * console errors). A test asserts the list is empty at its end.
 */
export function collectErrors(page) {
  const errors = [];
  page.on('pageerror', (e) => errors.push(`pageerror: ${e.message}`));
  page.on('console', (m) => {
    if (m.type() === 'error') errors.push(`console: ${m.text()}`);
  });
  return errors;
}
