// The agent console in Chromium against a real server: login, an offer
// with its countdown, accept, messages, typing, receipts and attachments
// both ways, a canned response, a cut socket caught up with nothing
// missed or doubled, transfer to a second agent who closes, inert XSS
// payloads, CSRF, CSP and accessibility.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { startServer, launchChromium, collectErrors } from './lib/browser.js';
import { addAgent, agentPassword, Customer, startProxy, failedRequests } from './lib/console.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const shots = path.join(here, 'screenshots');
const axePath = path.join(here, '..', 'node_modules', 'axe-core', 'axe.min.js');

// Payloads that would run script if rendered as HTML: each sets a flag.
const xss = (n) => `<img src=x onerror="window.__xss=${n}"><script>window.__xss=${n}</script>`;

let server;
let browser;
let proxy;
let ada; // ada's page, through the proxy
let adaErrors;
let adaFailed;
let customer;

async function login(page, base, email) {
  await page.goto(`${base}/console/`);
  await page.fill('#email', email);
  await page.fill('#password', agentPassword);
  await page.click('button[type=submit]');
  await page.waitForSelector('header.top');
}

// An API session for the test itself (node's fetch, cookie and CSRF by hand).
async function apiSession(email) {
  const resp = await fetch(`${server.endpoint}/api/agent/login`, {
    method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ email, password: agentPassword }),
  });
  assert.equal(resp.status, 200);
  const cookie = resp.headers.get('set-cookie').split(';')[0];
  const { csrf_token: csrf } = await resp.json();
  return (method, p, body, { withCsrf = true } = {}) => fetch(`${server.endpoint}${p}`, {
    method, body: body && JSON.stringify(body),
    headers: { Cookie: cookie, 'Content-Type': 'application/json', ...(withCsrf ? { 'X-CSRF-Token': csrf } : {}) },
  });
}

async function noXss(page) {
  assert.equal(await page.evaluate(() => window.__xss), undefined, 'an injected script ran');
  assert.equal(await page.locator('img[src="x"], script:not([src])').count(), 0, 'injected markup became elements');
}

before(async () => {
  server = await startServer();
  addAgent(server, { email: 'ada@example.com', name: 'Ada', queues: ['default'] });
  addAgent(server, { email: 'bob@example.com', name: xss(1) });
  addAgent(server, { email: 'root@example.com', name: 'Root', role: 'admin' });
  browser = await launchChromium();
  proxy = await startProxy(server.endpoint);
});

after(async () => {
  await browser?.close();
  await proxy?.close();
  await server?.stop();
});

test('login: a wrong password is refused plainly, the right one gets in; CSP is strict', async () => {
  const ctx = await browser.newContext({ viewport: { width: 1440, height: 900 } });
  ada = await ctx.newPage();
  adaErrors = collectErrors(ada);
  adaFailed = failedRequests(ada);
  const resp = await ada.goto(`${proxy.url}/console/`);
  const csp = resp.headers()['content-security-policy'];
  assert.match(csp, /script-src 'self'/);
  assert.match(csp, /style-src 'self'/);
  assert.doesNotMatch(csp, /unsafe-inline|unsafe-eval/);
  await ada.fill('#email', 'ada@example.com');
  await ada.fill('#password', 'not the password');
  await ada.click('button[type=submit]');
  assert.equal((await ada.textContent('[role=alert]')).trim(), 'Wrong email or password.');
  await ada.fill('#password', agentPassword);
  await ada.click('button[type=submit]');
  await ada.waitForSelector('header.top');
  assert.match(await ada.textContent('.who'), /Ada/);
});

test('a change without the CSRF token is refused, from the page and from outside', async () => {
  const status = await ada.evaluate(async () => (await fetch('/api/agent/presence', {
    method: 'PUT', headers: { 'Content-Type': 'application/json' }, body: '{"status":"online"}',
  })).status);
  assert.equal(status, 403);
  const root = await apiSession('root@example.com');
  const refused = await root('POST', '/api/admin/canned', { shortcut: 'thanks', text: 'x' }, { withCsrf: false });
  assert.equal(refused.status, 403);
  const made = await root('POST', '/api/admin/canned', { shortcut: 'thanks', text: 'Thanks for waiting — I am looking into it now.' });
  assert.equal(made.status, 201);
});

test('an offer comes with its countdown; accepted, the chat opens with the customer and context', async () => {
  await ada.click('button.pres.online');
  await ada.waitForSelector('button.pres.online.on');
  customer = await Customer.start(server, {
    name: xss(2),
    attributes: { helpline_identity_verified: 'true', bot_summary: 'Wants a refund for order 10023', plan: xss(3) },
  });
  const offer = ada.locator('.offer');
  await offer.waitFor();
  const first = Number((await offer.locator('.countdown').textContent()).replace('s', ''));
  assert.ok(first > 0 && first <= 30, `countdown ${first}`);
  await ada.waitForFunction((n) => Number(document.querySelector('.offer .countdown')?.textContent.replace('s', '')) < n, first);
  await offer.getByRole('button', { name: 'Accept' }).click();
  await ada.waitForSelector('.convhead h2');
  assert.equal(await ada.textContent('.convhead h2'), xss(2));
  await ada.waitForSelector('.label.ok');
  assert.equal(await ada.textContent('.label.ok'), 'verified');
  assert.match(await ada.textContent('.handoff'), /Wants a refund for order 10023/);
  assert.match(await ada.textContent('.attrs'), /window\.__xss=3/);
  await noXss(ada);
});

test('messages, typing and read receipts both ways', async () => {
  await customer.typing();
  await ada.waitForSelector('.typing:has-text("is typing")');
  await customer.send(`Hello ${xss(4)}`);
  await ada.waitForSelector('li.msg.customer:has-text("Hello")');
  assert.equal(await ada.locator('li.msg.customer .text').last().textContent(), `Hello ${xss(4)}`);

  await ada.fill('#composer-text', 'Hi, Ada here. How can I help?');
  await ada.press('#composer-text', 'Enter');
  await ada.waitForSelector('li.msg.agent:has-text("Ada here")');
  let items = await customer.transcript();
  const mine = items.find((it) => it.Type === 'MESSAGE' && it.Content === 'Hi, Ada here. How can I help?');
  assert.ok(mine, 'the customer has the agent message');
  assert.ok(items.some((it) => it.Type === 'MESSAGE' && it.ParticipantRole === 'CUSTOMER' && it.Content.startsWith('Hello')));
  // The console sent a read receipt for the customer's message.
  const hello = items.find((it) => it.ParticipantRole === 'CUSTOMER' && it.Type === 'MESSAGE');
  await waitFor(async () => (await customer.transcript()).some((it) => it.Type === 'MESSAGEMETADATA' && it.MessageMetadata?.MessageId === hello.Id));
  // The customer reads the agent's message: the console shows it.
  await customer.read(mine.Id);
  await ada.waitForSelector('li.msg.agent .receipt.read');
  await noXss(ada);
});

test('attachments both ways: upload with progress, download', async () => {
  const name = `"><img src=x onerror="window.__xss=5">.txt`;
  const attId = await customer.attach(name, 'text/plain', Buffer.from('from the customer'));
  const link = ada.locator('li.msg.customer a.file').last();
  await link.waitFor();
  assert.equal((await link.textContent()).trim(), name);
  const [download] = await Promise.all([ada.waitForEvent('download'), link.click()]);
  const got = fs.readFileSync(await download.path(), 'utf8');
  assert.equal(got, 'from the customer');
  assert.ok(attId);

  await ada.setInputFiles('#composer-file', { name: 'receipt.txt', mimeType: 'text/plain', buffer: Buffer.from('from the agent') });
  await ada.waitForSelector('li.msg.agent a.file:has-text("receipt.txt")');
  const items = await customer.transcript();
  const att = items.find((it) => it.Type === 'ATTACHMENT' && it.ParticipantRole === 'AGENT');
  assert.equal((await customer.download(att.Attachments[0].AttachmentId)).toString(), 'from the agent');
  await noXss(ada);
});

test('a canned response is found with / and inserted', async () => {
  await ada.fill('#composer-text', '/tha');
  await ada.waitForSelector('.canned li');
  assert.match(await ada.textContent('.canned li.on'), /\/thanks/);
  await ada.press('#composer-text', 'Enter');
  assert.equal(await ada.inputValue('#composer-text'), 'Thanks for waiting — I am looking into it now.');
  await ada.press('#composer-text', 'Enter');
  await waitFor(async () => (await customer.transcript()).some((it) => it.Content === 'Thanks for waiting — I am looking into it now.'));
});

test('screenshots at desktop and narrow widths; axe finds nothing serious', async () => {
  // A second chat, as a support team sees most of them, for the pictures.
  const maria = await Customer.start(server, {
    name: 'Maria López',
    attributes: { helpline_identity_verified: 'false', email: 'maria@example.com', order: '10023', plan: 'Pro' },
  });
  await ada.locator('.offer').getByRole('button', { name: 'Accept' }).click();
  await ada.waitForSelector('.convhead h2:has-text("Maria López")');
  await maria.send('Hi! My blender arrived with a cracked jug. Order 10023.');
  await ada.waitForSelector('li.msg.customer:has-text("cracked jug")');
  await ada.fill('#composer-text', "I'm sorry about that, Maria. I'll send a replacement jug today — no need to return the old one.");
  await ada.press('#composer-text', 'Enter');
  await maria.send('Oh that would be wonderful, thank you!');
  await ada.waitForSelector('li.msg.customer:has-text("wonderful")');
  await maria.typing();
  await ada.waitForSelector('.typing:has-text("is typing")');
  assert.equal(await ada.textContent('.label'), 'unverified');
  await ada.screenshot({ path: path.join(shots, 'console-desktop.png') });
  await ada.setViewportSize({ width: 390, height: 844 });
  await ada.screenshot({ path: path.join(shots, 'console-narrow.png'), fullPage: true });
  await ada.setViewportSize({ width: 1440, height: 900 });
  // The page's CSP refuses inline scripts, axe's too: it is evaluated
  // through the DevTools protocol instead.
  await ada.evaluate(fs.readFileSync(axePath, 'utf8'));
  const result = await ada.evaluate(() => window.axe.run(document, { resultTypes: ['violations'] }));
  const bad = result.violations.filter((v) => v.impact === 'serious' || v.impact === 'critical')
    .map((v) => `${v.id}: ${v.nodes.map((n) => n.target.join(' ')).join(', ')}`);
  assert.deepEqual(bad, []);
  // Back to the first chat for what follows.
  await ada.locator('.chatitem', { hasText: 'window.__xss=2' }).click();
  await ada.waitForSelector('li.msg.customer:has-text("Hello")');
});

test('a cut socket shows a banner, reconnects and catches up: nothing missed, nothing twice', async () => {
  const before = await ada.locator('li.msg').count();
  proxy.cut();
  await ada.waitForSelector('.banner');
  for (const n of [1, 2, 3]) await customer.send(`while cut ${n}`);
  proxy.heal();
  await ada.waitForSelector('.banner', { state: 'detached', timeout: 45000 });
  for (const n of [1, 2, 3]) {
    await ada.waitForSelector(`li.msg.customer:has-text("while cut ${n}")`);
  }
  await customer.send('after the cut');
  await ada.waitForSelector('li.msg.customer:has-text("after the cut")');
  for (const n of [1, 2, 3]) assert.equal(await ada.locator(`li.msg:has-text("while cut ${n}")`).count(), 1);
  assert.equal(await ada.locator('li.msg').count(), before + 4);
  const seqs = await ada.$$eval('.transcript li[data-seq]', (lis) => lis.map((li) => Number(li.dataset.seq)));
  assert.deepEqual(seqs, [...new Set(seqs)].sort((a, b) => a - b), 'each Seq once, in order');
});

test('transfer to a second agent, who sees the history and closes', async () => {
  const bobCtx = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  const bob = await bobCtx.newPage();
  const bobErrors = collectErrors(bob);
  const bobFailed = failedRequests(bob);
  await login(bob, server.endpoint, 'bob@example.com');
  assert.equal(await bob.textContent('.who'), xss(1));
  await bob.click('button.pres.online');
  await bob.waitForSelector('button.pres.online.on');

  await ada.getByRole('button', { name: 'Transfer' }).first().click();
  await ada.selectOption('#tr-kind', 'agent');
  await ada.fill('#tr-target', 'bob');
  await ada.locator('form.transfer button[type=submit]').click();
  await ada.waitForSelector('.ended');

  await bob.waitForSelector('li.msg.customer:has-text("after the cut")');
  assert.equal(await bob.textContent('.convhead h2'), xss(2));
  await customer.send('hello bob');
  await bob.waitForSelector('li.msg.customer:has-text("hello bob")');
  assert.equal(await ada.locator('li.msg:has-text("hello bob")').count(), 0, 'the former agent sees no more of the chat');
  await bob.getByRole('button', { name: 'Close chat' }).click();
  await bob.waitForSelector('.ended');
  const root = await apiSession('root@example.com');
  const chat = await (await root('GET', `/api/agent/chats/${customer.contactId}`)).json();
  assert.equal(chat.state, 'DISCONNECTED');
  assert.equal(chat.end_reason, 'AGENT_DISCONNECT');
  await noXss(bob);
  await noXss(ada);
  assert.deepEqual(bobFailed, []);
  assert.deepEqual(bobErrors, []);
  // What ada's page logged: the wrong password, the request without its
  // CSRF token, and the refused connections while the proxy was down.
  assert.deepEqual(adaFailed, ['POST /api/agent/login 401', 'PUT /api/agent/presence 403']);
  assert.deepEqual(adaErrors.filter((e) => !/ERR_CONNECTION_(RESET|REFUSED|CLOSED)|WebSocket connection to .* failed|status of (401|403)/.test(e)), []);
  await bobCtx.close();
});

async function waitFor(check, timeoutMs = 15000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check()) return;
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 200));
  }
}
