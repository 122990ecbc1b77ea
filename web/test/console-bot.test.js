// A chat the built-in bot hands to a person: the console of an instance
// declared in the configuration shows the handoff's summary, reason and
// intents, and the bot's part of the transcript apart from the rest.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startServer, launchChromium, collectErrors } from './lib/browser.js';
import { agentPassword, Customer } from './lib/console.js';

const shopSecret = 'shop-secret-0123456789abcdefghijklmnopqrstuv';
const config = `
queues:
  - id: support
    instance: shop
    name: Support
agents:
  - id: ada
    instance: shop
    name: Ada
    email: ada@shop.example
    queues: [support]
    password_env: ADA_PASSWORD
instances:
  - id: shop
    name: Shop
    flows:
      - id: shop-bot
        greeting: Hi! Ask me about an order, returns or shipping.
        queue: support
        bot:
          kind: ecommerce
    access_keys:
      - { id: AKIDSHOP0001, secret_env: SHOP_SECRET }
`;

let server;
let browser;
let dir;

before(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'helpline-console-bot-'));
  fs.writeFileSync(path.join(dir, 'helpline.yaml'), config);
  server = await startServer({ args: ['--config', path.join(dir, 'helpline.yaml')], env: { SHOP_SECRET: shopSecret, ADA_PASSWORD: agentPassword } });
  browser = await launchChromium();
});

after(async () => {
  await browser?.close();
  await server?.stop();
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
});

test('the handoff context reaches the agent; the bot\'s lines are set apart', async () => {
  const page = await browser.newPage({ viewport: { width: 1440, height: 900 } });
  const errors = collectErrors(page);
  await page.goto(`${server.endpoint}/console/?instance=shop`);
  await page.fill('#email', 'ada@shop.example');
  await page.fill('#password', agentPassword);
  await page.click('button[type=submit]');
  await page.click('button.pres.online');
  await page.waitForSelector('button.pres.online.on');

  const shop = { ...server, instanceId: 'shop', contactFlowId: 'shop-bot', accessKeyId: 'AKIDSHOP0001', secretAccessKey: shopSecret };
  const customer = await Customer.start(shop, { name: 'Cat' });
  await customer.send('I want to talk to a human');
  const offer = page.locator('.offer');
  await offer.waitFor({ timeout: 20000 });
  assert.match(await offer.textContent(), /support/);
  await offer.getByRole('button', { name: 'Accept' }).click();
  await page.waitForSelector('.handoff .chip');
  const handoff = await page.textContent('.handoff');
  assert.match(handoff, /human_agent/);
  assert.match(handoff, /Reason/);
  assert.ok(await page.locator('li.msg.bot .badge').count() > 0, 'the bot\'s lines carry the Bot badge');
  assert.ok(await page.locator('li.msg.customer:has-text("I want to talk to a human")').count() === 1);
  assert.deepEqual(errors, []);
});
