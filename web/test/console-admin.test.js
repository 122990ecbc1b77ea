// The console's supervisor and admin pages in Chromium: who sees them,
// what they change, and the login's throttling message.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, launchChromium, collectErrors } from './lib/browser.js';
import { addAgent, agentPassword, Customer, failedRequests } from './lib/console.js';

let server;
let browser;

before(async () => {
  server = await startServer();
  addAgent(server, { email: 'root@example.com', name: 'Root', role: 'admin' });
  addAgent(server, { email: 'sue@example.com', name: 'Sue', role: 'supervisor' });
  addAgent(server, { email: 'ada@example.com', name: 'Ada', queues: ['default'] });
  addAgent(server, { email: 'carol@example.com', name: 'Carol' });
  browser = await launchChromium();
});

after(async () => {
  await browser?.close();
  await server?.stop();
});

async function signIn(email) {
  const page = await (await browser.newContext({ viewport: { width: 1440, height: 900 } })).newPage();
  const errors = collectErrors(page);
  const failed = failedRequests(page);
  await page.goto(`${server.endpoint}/console/`);
  await page.fill('#email', email);
  await page.fill('#password', agentPassword);
  await page.click('button[type=submit]');
  await page.waitForSelector('header.top');
  return { page, errors, failed };
}

test('repeated wrong passwords get the throttling message, even with the right one', async () => {
  const page = await browser.newPage();
  await page.goto(`${server.endpoint}/console/`);
  await page.fill('#email', 'carol@example.com');
  for (let i = 0; i < 5; i++) {
    await page.fill('#password', `wrong ${i}`);
    await page.click('button[type=submit]');
    await page.waitForSelector('[role=alert]:has-text("Wrong email or password.")');
    await page.evaluate(() => document.querySelector('[role=alert]').remove());
  }
  await page.fill('#password', agentPassword);
  await page.click('button[type=submit]');
  assert.match(await page.textContent('[role=alert]'), /Too many failed logins\. Try again in \d+ minute/);
  await page.close();
});

test('an agent sees neither the supervisor nor the admin pages', async () => {
  const { page, errors } = await signIn('ada@example.com');
  assert.deepEqual(await page.$$eval('header nav button', (bs) => bs.map((b) => b.textContent)), ['Inbox']);
  assert.deepEqual(errors, []);
  await page.context().close();
});

test('a supervisor sees every live chat and reassigns one', async () => {
  const { page, errors, failed } = await signIn('sue@example.com');
  assert.deepEqual(await page.$$eval('header nav button', (bs) => bs.map((b) => b.textContent)), ['Inbox', 'Supervise']);
  const customer = await Customer.start(server, { name: 'Waiting Walter' });
  await page.click('header nav button:has-text("Supervise")');
  const row = page.locator('table.grid tbody tr', { hasText: 'queue:default' });
  await row.waitFor({ timeout: 15000 });
  assert.match(await page.textContent('.cards'), /1\s*waiting/);
  // Ada, online, takes the chat by reassignment.
  const ada = await signIn('ada@example.com');
  await ada.page.click('button.pres.online');
  await ada.page.waitForSelector('button.pres.online.on');
  await row.locator('input').fill('ada');
  await row.getByRole('button', { name: 'Reassign' }).click();
  await page.locator('table.grid tbody tr', { hasText: 'agent:ada' }).waitFor({ timeout: 15000 });
  await ada.page.waitForSelector('.convhead h2:has-text("Waiting Walter")');
  await customer.send('thanks');
  await ada.page.waitForSelector('li.msg.customer:has-text("thanks")');
  assert.deepEqual(errors, []);
  assert.deepEqual(failed, []);
  await page.context().close();
  await ada.page.context().close();
});

test('an admin manages canned responses, agents and tokens; connectors and the widget say what they have', async () => {
  const { page, errors, failed } = await signIn('root@example.com');
  await page.click('header nav button:has-text("Admin")');

  await page.click('.subnav button:has-text("Canned responses")');
  await page.fill('#nc-s', 'hello');
  await page.fill('#nc-t', 'Hello! How can I help?');
  await page.click('form.form button[type=submit]');
  await page.waitForSelector('code:has-text("/hello")');
  await page.fill('#nc-s', 'Bad Shortcut!');
  await page.fill('#nc-t', 'x');
  await page.click('form.form button[type=submit]');
  assert.match(await page.textContent('[role=alert]'), /shortcut/i);

  await page.click('.subnav button:has-text("Agents")');
  await page.fill('#na-email', 'dan@example.com');
  await page.fill('#na-name', 'Dan');
  await page.fill('#na-queues', 'default');
  await page.click('form.form button[type=submit]');
  await page.waitForSelector('td:has-text("dan@example.com")');
  await page.selectOption('#role-dan', 'supervisor');
  await page.waitForFunction(() => document.querySelector('#role-dan')?.value === 'supervisor');

  await page.click('.subnav button:has-text("API tokens")');
  await page.fill('#nt-name', 'deploy bot');
  await page.click('form.form button[type=submit]');
  assert.match(await page.textContent('.secret code'), /^hlt_/);

  await page.click('.subnav button:has-text("Connectors")');
  await page.waitForSelector('text=No mirroring connector is configured.');
  await page.click('.subnav button:has-text("Widget")');
  await page.waitForSelector('.page p');
  const widget = await page.textContent('.page');
  assert.ok(/not available/.test(widget) || /Signing secret/.test(widget), widget);

  // Only what the page asked for and the refused shortcut failed.
  assert.deepEqual(failed.filter((f) => !/^GET \/api\/admin\/widget 404$/.test(f)), ['POST /api/admin/canned 400']);
  assert.deepEqual(errors.filter((e) => !/status of (400|404)/.test(e)), []);
  const list = await page.evaluate(async () => (await fetch('/api/admin/agents')).json());
  const dan = list.agents.find((a) => a.id === 'dan');
  assert.equal(dan.role, 'supervisor');
  await page.context().close();
});

test('a long chat shows its last page and loads the earlier ones, each item once', async () => {
  // Ada, who also serves the default queue, is away: the chat is offered to Pat.
  const ada = await apiLogin('ada@example.com');
  assert.equal((await fetch(`${server.endpoint}/api/agent/presence`, {
    method: 'PUT', headers: { ...ada, 'Content-Type': 'application/json' }, body: '{"status":"offline"}',
  })).status, 200);
  addAgent(server, { email: 'pat@example.com', name: 'Pat', queues: ['default'] });
  const { page, errors } = await signIn('pat@example.com');
  await page.click('button.pres.online');
  await page.waitForSelector('button.pres.online.on');
  const customer = await Customer.start(server, { name: 'Long Talker' });
  const accept = page.locator('.offer').getByRole('button', { name: 'Accept' });
  await accept.waitFor({ timeout: 15000 });
  for (let i = 1; i <= 70; i++) await sendRetrying(customer, `line ${i}`);
  await accept.click();
  await page.waitForSelector('li.msg.customer:has-text("line 70")');
  assert.equal(await page.locator('li.msg.customer .text', { hasText: /^line 1$/ }).count(), 0, 'the first lines wait for "Load earlier messages"');
  while (await page.locator('.older button').count()) {
    await page.click('.older button');
    await page.waitForTimeout(200);
  }
  let lines = await page.$$eval('li.msg.customer .text', (els) => els.map((e) => e.textContent));
  assert.deepEqual(lines, Array.from({ length: 70 }, (_, i) => `line ${i + 1}`));
  // Reloaded, the console signs in again by itself and pages the same way.
  await page.reload();
  await page.waitForSelector('li.msg.customer:has-text("line 70")');
  assert.equal(await page.locator('li.msg.customer .text', { hasText: /^line 1$/ }).count(), 0);
  while (await page.locator('.older button').count()) {
    await page.click('.older button');
    await page.waitForTimeout(200);
  }
  lines = await page.$$eval('li.msg.customer .text', (els) => els.map((e) => e.textContent));
  assert.deepEqual(lines, Array.from({ length: 70 }, (_, i) => `line ${i + 1}`));
  const seqs = await page.$$eval('.transcript li[data-seq]', (lis) => lis.map((li) => Number(li.dataset.seq)));
  assert.deepEqual(seqs, [...new Set(seqs)].sort((a, b) => a - b));
  assert.deepEqual(errors, []);
  await page.context().close();
});

test('a console whose session ends goes back to sign-in and says so', async () => {
  const { page } = await signIn('sue@example.com');
  const off = await fetch(`${server.endpoint}/api/admin/agents/sue/disable`, { method: 'POST', headers: await apiLogin('root@example.com') });
  assert.equal(off.status, 200);
  await page.waitForSelector('[role=alert]:has-text("Your session has ended")', { timeout: 30000 });
  assert.equal(await page.locator('#email').count(), 1);
  await page.context().close();
});

// sendRetrying sends, waiting out the participant API's rate limit.
async function sendRetrying(customer, text) {
  for (;;) {
    try {
      return await customer.send(text);
    } catch (e) {
      if (!/ 429 /.test(e.message)) throw e;
      await new Promise((r) => setTimeout(r, 300));
    }
  }
}

// apiLogin signs in from the test and returns the headers of its session.
async function apiLogin(email) {
  const resp = await fetch(`${server.endpoint}/api/agent/login`, {
    method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ email, password: agentPassword }),
  });
  assert.equal(resp.status, 200);
  const { csrf_token: csrf } = await resp.json();
  return { Cookie: resp.headers.get('set-cookie').split(';')[0], 'X-CSRF-Token': csrf };
}
