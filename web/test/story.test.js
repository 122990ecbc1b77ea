// The whole story in Chromium, a customer and two agents each in a
// browser context of their own, against a real server that mirrors into
// the Zendesk fake: the customer opens the demo page, the bot answers,
// the customer asks for a person; Ada sees the offer with the bot's
// handoff context, accepts, and they chat both ways with typing
// indicators and read receipts; a file goes each way; Ada transfers the
// chat to Bob, who closes it; the customer rates it; and the Zendesk
// ticket holds the whole conversation in order.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { startServer, launchChromium, collectErrors } from './lib/browser.js';
import { agentPassword } from './lib/console.js';
import { startZendeskFake } from './lib/zendesk.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const shots = path.join(here, 'screenshots');

let server;
let desk;
let browser;
let dir;

before(async () => {
  desk = await startZendeskFake();
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'helpline-story-'));
  fs.writeFileSync(path.join(dir, 'helpline.yaml'), `
instances:
  - id: default
    name: Demo shop
    flows:
      - id: shop-bot
        name: Shop bot
        queue: support
        bot:
          kind: ecommerce
        csat: {}
queues:
  - id: support
    instance: default
    name: Support
agents:
  - { id: ada, instance: default, name: Ada, email: ada@example.com, queues: [support], password_env: STORY_PASSWORD }
  - { id: bob, instance: default, name: Bob, email: bob@example.com, queues: [support], password_env: STORY_PASSWORD }
connectors:
  - { name: zendesk, kind: zendesk, base_url: ${desk.url}, email: bot@example.com, token_env: STORY_ZENDESK_TOKEN }
mirror:
  poll_interval: 20ms
limits:
  disable_rate_limits: true
`);
  server = await startServer({
    args: ['--config', path.join(dir, 'helpline.yaml')],
    env: { STORY_PASSWORD: agentPassword, STORY_ZENDESK_TOKEN: 'zd-token' },
  });
  browser = await launchChromium();
  fs.mkdirSync(shots, { recursive: true });
});

after(async () => {
  await browser?.close();
  await server?.stop();
  await desk?.stop();
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
});

/** A console signed in as email, in a browser context of its own. */
async function agentConsole(email) {
  const ctx = await browser.newContext({ viewport: { width: 1440, height: 900 }, acceptDownloads: true });
  const page = await ctx.newPage();
  const errors = collectErrors(page);
  page.on('response', (r) => { if (r.status() >= 400) errors.push(`${r.status()} ${r.request().method()} ${r.url()}`); });
  await page.goto(`${server.endpoint}/console/?instance=default`);
  await page.fill('#email', email);
  await page.fill('#password', agentPassword);
  await page.click('button[type=submit]');
  await page.waitForSelector('header.top');
  return { ctx, page, errors };
}

async function goOnline(page) {
  await page.click('button.pres.online');
  await page.waitForSelector('button.pres.online.on');
}

/** The console's composer: types text (the customer sees typing), then sends it. */
async function agentSays(page, text) {
  await page.fill('#composer-text', '');
  await page.type('#composer-text', text, { delay: 5 });
  await page.press('#composer-text', 'Enter');
  await page.waitForSelector(`li.msg.agent:has-text(${JSON.stringify(text)})`);
}

const png = Buffer.from(
  'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==', 'base64');

test('a customer, the bot, two agents, a rating, and the Zendesk ticket', { timeout: 300000 }, async () => {
  const ada = await agentConsole('ada@example.com');
  const bob = await agentConsole('bob@example.com');
  await goOnline(ada.page);

  // The customer opens the demo page and asks the bot.
  const cctx = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  const page = await cctx.newPage();
  const customerErrors = collectErrors(page);
  page.on('response', async (r) => { if (r.status() >= 400) customerErrors.push(`${r.status()} ${r.request().method()} ${r.url()} ${r.request().postData()} ${await r.text().catch(() => '')}`); });
  await page.goto(`${server.endpoint}/`);
  const frame = await (await page.waitForSelector('iframe[src*="/widget/"]')).contentFrame();
  await frame.click('.launcher');
  await frame.waitForSelector('.window textarea');
  await frame.fill('textarea', 'hi');
  await frame.press('textarea', 'Enter');
  await frame.waitForSelector('.choice:not([disabled])');
  await frame.fill('textarea', 'I want to talk to a human please');
  const customerTyped = Date.now();
  await frame.press('textarea', 'Enter');
  await frame.waitForFunction(() => /passing you to a person|connecting you|person/i.test(
    [...document.querySelectorAll('.msg.them .bubble')].pop()?.textContent || ''), null, { timeout: 20000 });
  await page.screenshot({ path: path.join(shots, 'story-1-widget-bot.png') });

  // Ada is offered the chat, with the bot's handoff context before she
  // accepts it.
  const offer = ada.page.locator('.offer');
  await offer.waitFor({ timeout: 20000 });
  await ada.page.waitForSelector('.offer .offer-reason');
  const card = await offer.textContent();
  assert.match(card, /customer request/, `the offer card: ${card}`);
  assert.match(card, /I want to talk to a human please/, 'the customer\'s last question');
  assert.match(card, /unverified/, 'the identity label');
  await ada.page.screenshot({ path: path.join(shots, 'story-2-console-offer.png') });
  await offer.getByRole('button', { name: 'Accept' }).click();
  await ada.page.waitForSelector('.convhead h2');
  const { chats } = await ada.page.evaluate(async () => (await fetch('/api/agent/chats')).json());
  assert.equal(chats.length, 1);
  const contactId = chats[0].contact_id;

  // Typing and messages both ways, with read receipts.
  await ada.page.fill('#composer-text', '');
  await ada.page.type('#composer-text', 'Hello, Ada here', { delay: 5 });
  await frame.waitForSelector('.typing:has-text("typing")');
  await ada.page.press('#composer-text', 'Enter');
  await frame.waitForSelector('.msg.them:has-text("Hello, Ada here")');
  // The customer's window is open: the widget sends a read receipt,
  // which the console shows on Ada's message.
  await ada.page.waitForSelector('li.msg.agent:has-text("Hello, Ada here") .receipt.read', { timeout: 15000 });

  // The widget sends a typing event at most every 10 s.
  await new Promise((r) => setTimeout(r, Math.max(0, customerTyped + 10500 - Date.now())));
  await frame.type('textarea', 'My blender arrived broken', { delay: 5 });
  await ada.page.waitForSelector('.typing:has-text("is typing")');
  await frame.press('textarea', 'Enter');
  await ada.page.waitForSelector('li.msg.customer:has-text("My blender arrived broken")');
  // Ada has the chat on screen: the console reads it, the widget says so.
  await frame.waitForSelector('.receipt:has-text("Read")', { timeout: 15000 });

  // A file each way.
  await frame.setInputFiles('input[type=file]', { name: 'blender.png', mimeType: 'image/png', buffer: png });
  const link = ada.page.locator('li.msg.customer a.file:has-text("blender.png")');
  await link.waitFor({ timeout: 15000 });
  const [download] = await Promise.all([ada.page.waitForEvent('download'), link.click()]);
  assert.deepEqual(fs.readFileSync(await download.path()), png);
  await ada.page.setInputFiles('#composer-file', { name: 'return-label.txt', mimeType: 'text/plain', buffer: Buffer.from('RMA 4711') });
  await ada.page.waitForSelector('li.msg.agent a.file:has-text("return-label.txt")');
  await frame.waitForSelector('.msg.them .bubble.file:has-text("return-label.txt")', { timeout: 15000 });
  await ada.page.screenshot({ path: path.join(shots, 'story-3-console-chat.png') });
  await page.screenshot({ path: path.join(shots, 'story-4-widget-agent.png') });

  // Ada transfers the chat to Bob.
  await goOnline(bob.page);
  await agentSays(ada.page, 'I am passing you to Bob, who handles returns.');
  await ada.page.click('.actions button:has-text("Transfer")');
  await ada.page.selectOption('#tr-kind', 'agent');
  await ada.page.fill('#tr-target', 'bob');
  await ada.page.click('form.transfer button[type=submit]');
  await bob.page.waitForSelector('.chatitem', { timeout: 15000 });
  await bob.page.click('.chatitem');
  await bob.page.waitForSelector('li.msg.customer:has-text("My blender arrived broken")');
  await agentSays(bob.page, 'Bob here: a replacement is on its way.');
  await frame.waitForSelector('.msg.them:has-text("Bob here")');
  await bob.page.screenshot({ path: path.join(shots, 'story-5-console-transfer.png') });
  await bob.page.click('.actions button:has-text("Close chat")');

  // The customer rates the chat.
  await frame.waitForSelector('.choice:not([disabled]):has-text("4")', { timeout: 20000 });
  await frame.click('.choice:not([disabled]):has-text("4")');
  await frame.waitForSelector('.ended', { timeout: 20000 });
  await page.screenshot({ path: path.join(shots, 'story-6-widget-rated.png') });

  // The ticket holds the whole conversation, in the order it happened.
  // The connector writes the customer's and the agents' lines as public
  // comments and the bot's and the chat's events as internal notes, each
  // in order, every line stamped with its time.
  const publicWant = ['(customer): hi', 'I want to talk to a human please', 'Ada (agent): Hello, Ada here',
    'My blender arrived broken', 'Customer (customer) sent blender.png', 'Ada (agent) sent return-label.txt',
    'I am passing you to Bob', 'Bob (agent): Bob here: a replacement is on its way.', 'Customer (customer): 4'];
  const noteWant = ['Bot (bot) joined', 'virtual assistant', 'passing you to a person', 'handed the chat to queue support (customer request)',
    'Bot (bot) left', 'Ada (agent) joined', 'Ada (agent) left', 'Bob (agent) joined', 'Bob (agent) left',
    // The bot left at its handoff, and comes back to ask for the rating.
    'Bot (bot) joined', 'How would you rate this chat', 'rated the chat 4 of 5', 'Thank you for your feedback',
    'Bot (bot) left', 'The chat ended'];
  let comments = [];
  const deadline = Date.now() + 120000;
  for (;;) {
    const ticket = await desk.ticketOf(contactId);
    if (ticket) {
      comments = await desk.comments(ticket.id);
      const all = comments.map((c) => c.body).join('\n');
      if (ticket.status === 'solved' && [...publicWant, ...noteWant].every((w) => all.includes(w))) break;
    }
    if (Date.now() > deadline) {
      const mirrorLog = server.logs().split('\n').filter((l) => /mirror|zendesk/i.test(l)).join('\n');
      assert.fail(`the ticket is incomplete after 120 s:\n${comments.map((c) => c.body).join('\n---\n')}\n--- the server's mirror log:\n${mirrorLog}`);
    }
    await new Promise((r) => setTimeout(r, 500));
  }
  const lines = (pub) => comments.filter((c) => c.public === pub).flatMap((c) => c.body.split('\n')).filter((l) => /^\[\d\d:\d\d:\d\d\] /.test(l));
  const inOrder = (got, want, what) => {
    let at = -1;
    for (const w of want) {
      const i = got.findIndex((l, n) => n > at && l.includes(w));
      assert.ok(i > at, `${what}: "${w}" after the lines before it:\n${got.join('\n')}`);
      assert.equal(got.filter((l) => l.includes(w)).length, want.filter((x) => x === w).length,
        `${what}: "${w}" as often as it happened:\n${got.join('\n')}`);
      at = i;
    }
  };
  inOrder(lines(true), publicWant, 'the public comments');
  inOrder(lines(false), noteWant, 'the internal notes');
  // Across the two, the times agree with the story.
  const all = [...lines(true), ...lines(false)];
  const time = (w) => all.find((l) => l.includes(w)).slice(1, 9);
  const story = ['Ada (agent) joined', 'Ada (agent): Hello, Ada here', 'I am passing you to Bob', 'Ada (agent) left',
    'Bob (agent) joined', 'Bob (agent): Bob here', 'Bob (agent) left', 'How would you rate this chat', 'Customer (customer): 4', 'The chat ended'];
  for (let i = 1; i < story.length; i++) {
    assert.ok(time(story[i - 1]) <= time(story[i]), `"${story[i - 1]}" (${time(story[i - 1])}) before "${story[i]}" (${time(story[i])})`);
  }
  console.log(`# the Zendesk ticket of the story:\n${comments.map((c) => `${c.public ? 'public' : 'internal'}:\n${c.body}`).join('\n---\n').replace(/^/gm, '# ')}`);

  assert.deepEqual(customerErrors, []);
  assert.deepEqual(ada.errors, []);
  assert.deepEqual(bob.errors, []);
  await Promise.all([cctx.close(), ada.ctx.close(), bob.ctx.close()]);
});
