// The Watson Assistant web chat service desk (/servicedesk.js) in
// Chromium against a real server: a stub web chat page on another origin
// creates the service desk as web chat's serviceDeskFactory would, with a
// callback object that records every call, and drives it while agents
// answer through the agent API.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { startServer, launchChromium, collectErrors } from './lib/browser.js';
import { addAgent, agentPassword } from './lib/console.js';

let server;
let browser;
let pages; // the stub web chat page's server

before(async () => {
  server = await startServer();
  addAgent(server, { email: 'ada@example.com', name: 'Ada Lovelace', queues: ['default'] });
  addAgent(server, { email: 'bob@example.com', name: 'Bob', queues: ['default'] });
  addAgent(server, { email: 'root@example.com', name: 'Root', role: 'admin' });
  browser = await launchChromium();
  // The company's page that runs web chat: it loads /servicedesk.js from
  // Helpline and makes the service desk as serviceDeskFactory(parameters)
  // would, parameters.callback recording what the desk tells web chat.
  const html = `<!doctype html><html><head><title>Web chat</title>
<script src="${server.endpoint}/servicedesk.js"></script>
<script>
  window.calls = [];
  const callback = new Proxy({}, {
    get: (_, name) => (...args) => {
      window.calls.push({ name, args: JSON.parse(JSON.stringify(args)) });
      return Promise.resolve();
    },
  });
  const serviceDeskFactory = (parameters) => HelplineServiceDesk.create(parameters, { instance: 'default' });
  window.desk = serviceDeskFactory({ callback, instance: undefined });
</script></head><body></body></html>`;
  pages = http.createServer((req, res) => {
    res.writeHead(200, { 'Content-Type': 'text/html' });
    res.end(html);
  });
  await new Promise((resolve) => pages.listen(0, '0.0.0.0', resolve));
});

after(async () => {
  await browser?.close();
  await server?.stop();
  pages?.close();
});

// An agent's API session (cookie and CSRF by hand).
async function agent(email) {
  const resp = await fetch(`${server.endpoint}/api/agent/login`, {
    method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ email, password: agentPassword }),
  });
  assert.equal(resp.status, 200);
  const cookie = resp.headers.get('set-cookie').split(';')[0];
  const me = await resp.json();
  const call = async (method, p, body) => {
    const r = await fetch(`${server.endpoint}${p}`, {
      method, body: body && JSON.stringify(body),
      headers: { Cookie: cookie, 'Content-Type': 'application/json', 'X-CSRF-Token': me.csrf_token },
    });
    const text = await r.text();
    if (!r.ok) throw new Error(`${method} ${p}: ${r.status} ${text}`);
    return text ? JSON.parse(text) : {};
  };
  call.id = me.agent.id;
  return call;
}

const connectMessage = {
  output: { generic: [{
    response_type: 'connect_to_agent', topic: 'Late parcel', message_to_human_agent: 'The customer asks about order A-100.',
    transfer_info: { session_history_key: 'from-the-message', summary_message_to_agent: [{ response_type: 'text', text: 'Parcel A-100 is late.' }] },
  }] },
};
const historyKey = 'us-south::v1::one-time-code::session-1::integration-1::instance-1::subscription-1';

async function stubPage(host, init) {
  const page = await browser.newPage();
  const errors = collectErrors(page);
  if (init) await page.addInitScript(init);
  await page.goto(`http://${host}:${pages.address().port}/`);
  return { page, errors };
}

/** Waits until the desk has called back name (the nth time), and returns the call. */
async function called(page, name, nth = 1, timeout = 15000) {
  await page.waitForFunction(([n, k]) => window.calls.filter((c) => c.name === n).length >= k, [name, nth], { timeout });
  return (await page.evaluate(() => window.calls)).filter((c) => c.name === name)[nth - 1];
}

async function waitFor(fn, what, timeout = 15000) {
  const end = Date.now() + timeout;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

test('a chat escalated from web chat reaches Helpline agents, and their replies, typing, transfer and close reach web chat', async () => {
  const ada = await agent('ada@example.com');
  const bob = await agent('bob@example.com');
  const root = await agent('root@example.com');
  const { page, errors } = await stubPage('127.0.0.1');
  const desk = (method, ...args) => page.evaluate(([m, a]) => window.desk[m](...a), [method, args]);

  assert.equal(await desk('getName'), 'Helpline');
  // Nobody online: web chat shows its "no agents" message.
  assert.equal(await desk('areAnyAgentsOnline', connectMessage), false);
  await ada('PUT', '/api/agent/presence', { status: 'online' });
  assert.equal(await desk('areAnyAgentsOnline', connectMessage), true);
  await ada('PUT', '/api/agent/presence', { status: 'offline' });

  // The chat waits in the queue: web chat is told its place.
  await desk('startChat', connectMessage, { agentAppInfo: { sessionHistoryKey: historyKey } });
  const contactId = await page.evaluate(() => window.desk.chat.conn.chat.contactId);
  const availability = await called(page, 'updateAgentAvailability');
  const positions = (await page.evaluate(() => window.calls)).filter((c) => c.name === 'updateAgentAvailability' && c.args[0].position_in_queue);
  assert.deepEqual(positions[0]?.args, [{ position_in_queue: 1 }], `availability updates: ${JSON.stringify(availability)}`);

  // The escalation's context reached the contact.
  const detail = await root('GET', `/api/agent/chats/${contactId}`);
  assert.equal(detail.attributes.session_history_key, historyKey);
  assert.equal(detail.attributes.topic, 'Late parcel');
  assert.equal(detail.attributes.message_to_human_agent, 'The customer asks about order A-100.');
  assert.equal(detail.attributes.summary_message_to_agent, 'Parcel A-100 is late.');

  // Ada comes online and takes it.
  await ada('PUT', '/api/agent/presence', { status: 'online' });
  const offer = await waitFor(async () => (await ada('GET', '/api/agent/offers')).offers.find((o) => o.contact_id === contactId), 'the offer');
  await ada('POST', `/api/agent/offers/${offer.id}/accept`);
  const joined = await called(page, 'agentJoined');
  assert.equal(joined.args[0].nickname, 'Ada Lovelace');
  const adaParticipant = joined.args[0].id;

  // The user writes and types; Ada reads it, and sees the typing on her
  // live connection (the agent WebSocket, from a page of Helpline's).
  const adaCtx = await browser.newContext();
  const adaPage = await adaCtx.newPage();
  await adaPage.goto(`${server.endpoint}/`);
  await adaPage.evaluate(async ([email, password]) => {
    const r = await fetch('/api/agent/login', { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ email, password }) });
    if (!r.ok) throw new Error(`login: ${r.status}`);
    window.frames_ = [];
    await new Promise((resolve, reject) => {
      const ws = new WebSocket(`${location.origin.replace(/^http/, 'ws')}/api/agent/ws`);
      ws.onmessage = (ev) => {
        const f = JSON.parse(ev.data);
        window.frames_.push(f);
        if (f.type === 'resumed') resolve();
      };
      ws.onopen = () => ws.send(JSON.stringify({ type: 'resume', chats: {} }));
      ws.onerror = reject;
    });
  }, ['ada@example.com', agentPassword]);
  await desk('sendMessageToAgent', { input: { text: 'Where is my parcel?' } }, 'web-chat-message-1', {});
  await desk('userTyping', true);
  await waitFor(async () => (await ada('GET', `/api/agent/chats/${contactId}/transcript`)).items?.some((it) => it.content === 'Where is my parcel?'), 'the message at the agent');
  await adaPage.waitForFunction((id) => window.frames_.some((f) => f.type === 'typing' && f.contact === id && f.role === 'CUSTOMER'), contactId);
  await adaCtx.close();

  // Ada types, then answers.
  await ada('POST', `/api/agent/chats/${contactId}/typing`);
  assert.deepEqual((await called(page, 'agentTyping')).args, [true]);
  await ada('POST', `/api/agent/chats/${contactId}/messages`, { content: 'It left the depot this morning.', content_type: 'text/plain', client_token: 'ada-1' });
  const reply = await called(page, 'sendMessageToUser');
  assert.deepEqual(reply.args, ['It left the depot this morning.', adaParticipant]);
  assert.deepEqual((await called(page, 'agentTyping', 2)).args, [false]);

  // Read receipts, both ways.
  await desk('userReadMessages');
  const items = async () => (await ada('GET', `/api/agent/chats/${contactId}/transcript`)).items;
  await waitFor(async () => (await items()).some((it) => it.type === 'MESSAGEMETADATA' &&
    it.metadata?.Receipts?.some((r) => r.RecipientParticipantID !== adaParticipant && !r.ReadAt.startsWith('0001'))), 'the user\'s read receipt at the agent');
  const question = (await items()).find((it) => it.content === 'Where is my parcel?');
  await ada('POST', `/api/agent/chats/${contactId}/read`, { message_id: question.id });
  await called(page, 'agentReadMessages');

  // Ada transfers the chat to Bob.
  await bob('PUT', '/api/agent/presence', { status: 'online' });
  await ada('POST', `/api/agent/chats/${contactId}/transfer`, { agent_id: bob.id });
  const transfer = await called(page, 'beginTransferToAnotherAgent');
  assert.equal(transfer.args[0]?.nickname, 'Bob');
  const bobJoined = await called(page, 'agentJoined', 2);
  assert.equal(bobJoined.args[0].nickname, 'Bob');
  await bob('POST', `/api/agent/chats/${contactId}/messages`, { content: 'Bob here: it arrives tomorrow.', content_type: 'text/plain', client_token: 'bob-1' });
  assert.deepEqual((await called(page, 'sendMessageToUser', 2)).args, ['Bob here: it arrives tomorrow.', bobJoined.args[0].id]);

  // Bob closes it.
  await bob('POST', `/api/agent/chats/${contactId}/close`);
  await called(page, 'agentEndedChat');

  const names = (await page.evaluate(() => window.calls)).map((c) => c.name);
  const order = ['updateAgentAvailability', 'agentJoined', 'sendMessageToUser', 'beginTransferToAnotherAgent', 'agentEndedChat'].map((n) => names.indexOf(n));
  assert.deepEqual([...order].sort((a, b) => a - b), order, `callbacks out of order: ${names.join(', ')}`);
  assert.ok(!names.includes('agentLeftChat'), `a transfer and a close are no mere departures: ${names.join(', ')}`);
  assert.ok(!names.includes('setErrorStatus'), `errors: ${names.join(', ')}`);
  assert.equal(names.filter((n) => n === 'agentEndedChat').length, 1);

  // A second chat the user ends: the contact ends, and web chat hears
  // nothing of an agent ending it.
  await ada('PUT', '/api/agent/presence', { status: 'offline' });
  await bob('PUT', '/api/agent/presence', { status: 'offline' });
  await desk('startChat', connectMessage, { agentAppInfo: { sessionHistoryKey: historyKey } });
  const second = await page.evaluate(() => window.desk.chat.conn.chat.contactId);
  assert.notEqual(second, contactId);
  await waitFor(async () => (await root('GET', `/api/agent/chats/${second}`)).state !== undefined, 'the second contact');
  // The user ends it once web chat is connected: a transcript read still
  // in flight when the participant leaves is refused (403), which
  // Chromium logs as a failed resource.
  await waitFor(async () => (await page.evaluate(() => window.desk.chat.conn.status)) === 'online', 'the second chat online');
  await desk('endChat', {});
  await waitFor(async () => (await root('GET', `/api/agent/chats/${second}`)).state === 'DISCONNECTED', 'the second contact to end');
  await new Promise((r) => setTimeout(r, 500));
  const after = (await page.evaluate(() => window.calls)).map((c) => c.name);
  assert.equal(after.filter((n) => n === 'agentEndedChat').length, 1, `after the user ended: ${after.join(', ')}`);
  // Up to here nothing went wrong in the page. The send below is refused
  // on purpose: by the desk itself once it has heard the chat end, or by
  // the server (403, which Chromium logs as a failed resource) if not yet.
  assert.deepEqual(errors, []);
  await assert.rejects(desk('sendMessageToAgent', { input: { text: 'still there?' } }, 'web-chat-message-2', {}));
  await page.close();
});

test('a page of an origin the widget does not allow can neither ask nor start', async () => {
  const { page } = await stubPage('127.0.0.2');
  const desk = (method, ...args) => page.evaluate(([m, a]) => window.desk[m](...a), [method, args]);
  assert.equal(await desk('areAnyAgentsOnline', connectMessage), null);
  await assert.rejects(desk('startChat', connectMessage, { agentAppInfo: { sessionHistoryKey: historyKey } }));
  assert.deepEqual(await page.evaluate(() => window.calls), []);
  await page.close();
});

// Replaces the page's WebSocket with one the test can cut: __cutSockets()
// closes the live ones and, until __cut is cleared, new ones close at once,
// as on a dead network.
function cuttableSockets() {
  const Native = window.WebSocket;
  const live = [];
  window.__cut = false;
  window.__cutSockets = () => {
    window.__cut = true;
    live.splice(0).forEach((s) => s.close());
  };
  window.WebSocket = function (url) {
    const ws = new Native(window.__cut ? 'ws://127.0.0.1:9/' : url);
    live.push(ws);
    return ws;
  };
}

test('files reach the agent, a dropped connection is reported and loses nothing, and a transfer to a queue is a transfer', async () => {
  const ada = await agent('ada@example.com');
  const bob = await agent('bob@example.com');
  await bob('PUT', '/api/agent/presence', { status: 'offline' });
  const { page } = await stubPage('127.0.0.1', cuttableSockets);
  const desk = (method, ...args) => page.evaluate(([m, a]) => window.desk[m](...a), [method, args]);
  const calls = async (name) => (await page.evaluate(() => window.calls)).filter((c) => c.name === name);

  await ada('PUT', '/api/agent/presence', { status: 'online' });
  await desk('startChat', connectMessage, { agentAppInfo: { sessionHistoryKey: historyKey } });
  const contactId = await page.evaluate(() => window.desk.chat.conn.chat.contactId);
  const offer = await waitFor(async () => (await ada('GET', '/api/agent/offers')).offers.find((o) => o.contact_id === contactId), 'the offer');
  await ada('POST', `/api/agent/offers/${offer.id}/accept`);
  await called(page, 'agentJoined');
  const caps = await called(page, 'updateCapabilities');
  assert.equal(caps.args[0].allowFileUploads, true);

  // A file Helpline takes, and one it refuses: each has its status.
  await page.evaluate(() => window.desk.sendMessageToAgent({ input: { text: '' } }, 'm-files', { filesToUpload: [
    { id: 'good', file: new File(['the receipt'], 'receipt.txt', { type: 'text/plain' }) },
    { id: 'bad', file: new File(['MZ'], 'tool.exe', { type: 'application/x-msdownload' }) },
  ] }));
  const statuses = await calls('setFileUploadStatus');
  assert.deepEqual(statuses[0].args, ['good']);
  assert.equal(statuses[1].args[0], 'bad');
  assert.equal(statuses[1].args[1], true);
  assert.ok(statuses[1].args[2], 'the refused file has a message');
  await waitFor(async () => (await ada('GET', `/api/agent/chats/${contactId}/transcript`)).items
    .some((it) => it.type === 'ATTACHMENT' && it.attachments?.[0]?.Name === 'receipt.txt'), 'the file at the agent');

  // The connection drops: web chat is told, and told again when it is back;
  // what Ada wrote meanwhile arrives once.
  await page.evaluate(() => window.__cutSockets());
  assert.deepEqual((await called(page, 'setErrorStatus')).args, [{ type: 2, isDisconnected: true, logInfo: 'Helpline: the connection was lost; reconnecting.' }]);
  await ada('POST', `/api/agent/chats/${contactId}/messages`, { content: 'Said while you were away.', content_type: 'text/plain', client_token: 'ada-away' });
  await page.evaluate(() => { window.__cut = false; });
  assert.deepEqual((await called(page, 'setErrorStatus', 2, 30000)).args, [{ type: 2, isDisconnected: false }]);
  await called(page, 'sendMessageToUser');
  await new Promise((r) => setTimeout(r, 300));
  assert.deepEqual((await calls('sendMessageToUser')).map((c) => c.args[0]), ['Said while you were away.']);

  // Ada hands the chat back to the queue, where nobody is online: a
  // transfer, with the user's new place.
  await ada('PUT', '/api/agent/presence', { status: 'offline' });
  await ada('POST', `/api/agent/chats/${contactId}/transfer`, { queue_id: 'default' });
  const transfer = await called(page, 'beginTransferToAnotherAgent');
  assert.deepEqual(transfer.args, []);
  await page.waitForFunction(() => window.calls.slice(window.calls.findIndex((c) => c.name === 'beginTransferToAnotherAgent'))
    .some((c) => c.name === 'updateAgentAvailability' && c.args[0].position_in_queue === 1));
  assert.deepEqual(await calls('agentLeftChat'), []);

  await desk('endChat', {});
  assert.deepEqual(await calls('agentEndedChat'), []);
  await page.close();
});
