// What the widget and console tests share with the compatibility tests:
// headless Chromium (Debian's package, driven by playwright-core) and the
// helpline server harness (it builds the binary once, starts `helpline
// serve` on a free port with a fresh data directory and reads its banner).
export { startServer, repoRoot } from '../../../compat/lib/harness.js';
export { chromiumPath, launchChromium } from '../../../compat/lib/browser.js';

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
