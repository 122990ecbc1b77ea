// The pages the binary serves open in Chromium with their strict CSP and no
// errors: the landing page with the widget, and the console.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, launchChromium, collectErrors } from './lib/browser.js';

let server;
let browser;

before(async () => {
  server = await startServer();
  browser = await launchChromium();
});

after(async () => {
  await browser?.close();
  await server?.stop();
});

test('the landing page loads the widget in its frame, under a strict CSP', async () => {
  const page = await browser.newPage();
  const errors = collectErrors(page);
  const resp = await page.goto(`${server.endpoint}/`);
  assert.equal(resp.status(), 200);
  const csp = resp.headers()['content-security-policy'];
  assert.match(csp, /script-src 'self'/);
  assert.doesNotMatch(csp, /unsafe-inline|unsafe-eval/);
  const frame = await page.waitForSelector('iframe[src*="/widget/"]');
  assert.ok(await frame.contentFrame(), 'the widget frame has a document');
  assert.deepEqual(errors, []);
  await page.close();
});

test('the console page loads with no errors', async () => {
  const page = await browser.newPage();
  const errors = collectErrors(page);
  const resp = await page.goto(`${server.endpoint}/console/`);
  assert.equal(resp.status(), 200);
  assert.equal(resp.headers()['x-frame-options'], 'DENY');
  await page.waitForSelector('#app *');
  assert.deepEqual(errors, []);
  await page.close();
});
