// amazon-connect-chatjs in headless Chromium against helpline. The customer is
// chatjs in a page served from another origin; the agent is node, with
// @aws-sdk/client-connectparticipant and a `ws` socket.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { SendEventCommand, SendMessageCommand, GetAttachmentCommand, GetTranscriptCommand } from '@aws-sdk/client-connectparticipant';
import { startServer } from '../lib/harness.js';
import { launchChromium, servePage, trackWebSockets, chromiumPath } from '../lib/browser.js';
import { participantClient, startChat, addParticipant, connectParticipant, ChatSocket, eventType } from '../lib/clients.js';

let server;
let site;
let browser;
before(async () => {
  if (!existsSync(chromiumPath)) throw new Error(`${chromiumPath} is missing: run scripts/test-deps.sh (apt-get install chromium)`);
  server = await startServer();
  site = await servePage();
  browser = await launchChromium();
});
after(async () => {
  await browser?.close();
  await site?.close();
  await server?.stop();
});

// In the page: set chatjs up against helpline and record what its callbacks see.
async function startCustomer({ endpoint, region, chatDetails }) {
  window.events = { message: [], typing: [], read: [], delivered: [], ended: [], established: [], lost: [], broken: [] };
  connect.ChatSession.setGlobalConfig({ endpoint, region, loggerConfig: { useDefaultLogger: true, level: connect.LogLevel.INFO } });
  const session = connect.ChatSession.create({ chatDetails, type: 'CUSTOMER', options: { region }, disableCSM: true });
  window.session = session;
  session.onMessage((e) => window.events.message.push(e.data));
  session.onTyping((e) => window.events.typing.push(e.data));
  session.onReadReceipt((e) => window.events.read.push(e.data));
  session.onDeliveredReceipt((e) => window.events.delivered.push(e.data));
  session.onEnded((e) => window.events.ended.push(e.data));
  session.onConnectionEstablished(() => window.events.established.push(Date.now()));
  session.onConnectionLost(() => window.events.lost.push(Date.now()));
  session.onConnectionBroken(() => window.events.broken.push(Date.now()));
  try {
    await session.connect();
  } catch (e) {
    throw new Error(`chatjs connect failed: ${JSON.stringify(e)}`);
  }
}

test('chatjs customer and SDK agent chat through helpline', { timeout: 240000 }, async (t) => {
  const chat = await startChat(server, { ParticipantDetails: { DisplayName: 'Browser Customer' } });
  const pc = participantClient(server);
  const agentP = await addParticipant(server, chat.ContactId, { displayName: 'Agent Ada' });
  const agentConn = await connectParticipant(pc, agentP.ParticipantToken);
  const agentCT = agentConn.ConnectionCredentials.ConnectionToken;
  const agent = await ChatSocket.open(agentConn.Websocket.Url);
  const agentSend = (Content) => pc.send(new SendMessageCommand({ ConnectionToken: agentCT, ContentType: 'text/plain', Content }));

  const context = await browser.newContext();
  await context.addInitScript(trackWebSockets);
  const page = await context.newPage();
  const pageLog = [];
  page.on('console', (m) => pageLog.push(`${m.type()}: ${m.text()}`));
  page.on('pageerror', (e) => pageLog.push(`pageerror: ${e.message}`));
  const pageCall = async (fn, arg) => {
    try {
      return await page.evaluate(fn, arg);
    } catch (err) {
      err.message += `\n--- page console (last 30) ---\n${pageLog.slice(-30).join('\n')}`;
      throw err;
    }
  };
  const waitInPage = (fn, arg, what, timeout = 15000) => page.waitForFunction(fn, arg, { timeout }).catch(async (err) => {
    const events = await page.evaluate(() => JSON.stringify(window.events)).catch(() => '(unavailable)');
    err.message = `waiting for ${what}: ${err.message}\n--- chatjs events ---\n${events}\n--- page console (last 30) ---\n${pageLog.slice(-30).join('\n')}`;
    throw err;
  });
  t.after(() => context.close());

  await page.goto(site.url);
  assert.notEqual(new URL(site.url).origin, new URL(server.endpoint).origin, 'the page has its own origin');

  await t.test('connect', async () => {
    await pageCall(startCustomer, {
      endpoint: server.endpoint,
      region: server.region,
      chatDetails: { contactId: chat.ContactId, participantId: chat.ParticipantId, participantToken: chat.ParticipantToken },
    });
    await waitInPage(() => window.events.established.length >= 1, null, 'onConnectionEstablished');
  });

  await t.test('customer sends, agent receives over its socket', async () => {
    const out = await pageCall(async () => (await window.session.sendMessage({ contentType: 'text/plain', message: 'Where is my parcel?' })).data);
    assert.ok(out.Id);
    const item = await agent.waitItem((i) => i.Id === out.Id, 'customer message on the agent socket');
    assert.equal(item.Content, 'Where is my parcel?');
    assert.equal(item.ParticipantId, chat.ParticipantId);
    assert.equal(item.DisplayName, 'Browser Customer');
  });

  await t.test('agent sends, chatjs onMessage gets it', async () => {
    const out = await agentSend('It ships tomorrow.');
    const got = await waitInPage((id) => window.events.message.find((m) => m.Id === id), out.Id, 'agent message in onMessage');
    const msg = await got.jsonValue();
    assert.equal(msg.Content, 'It ships tomorrow.');
    assert.equal(msg.ParticipantRole, 'AGENT');
    assert.equal(msg.DisplayName, 'Agent Ada');
  });

  await t.test('typing both ways', async () => {
    await pageCall(() => window.session.sendEvent({ contentType: 'application/vnd.amazonaws.connect.event.typing' }).then(() => null));
    await agent.waitItem((i) => i.ContentType === eventType('typing') && i.ParticipantId === chat.ParticipantId, 'customer typing on the agent socket');
    await pc.send(new SendEventCommand({ ConnectionToken: agentCT, ContentType: eventType('typing') }));
    await waitInPage((id) => window.events.typing.some((e) => e.ParticipantId === id), agentP.ParticipantId, 'agent typing in onTyping');
  });

  await t.test('read receipts both ways', async () => {
    const agentMsg = await agentSend('Anything else?');
    await waitInPage((id) => window.events.message.some((m) => m.Id === id), agentMsg.Id, 'agent message before reading it');
    await pageCall((messageId) => window.session.sendEvent({
      contentType: 'application/vnd.amazonaws.connect.event.message.read', content: JSON.stringify({ messageId }),
    }).then(() => null), agentMsg.Id);
    const meta = await agent.waitItem((i) => i.Type === 'MESSAGEMETADATA' && i.MessageMetadata?.MessageId === agentMsg.Id
      && i.MessageMetadata.Receipts?.[0]?.ReadTimestamp, 'MESSAGEMETADATA read receipt on the agent socket');
    assert.equal(meta.MessageMetadata.Receipts[0].RecipientParticipantId, chat.ParticipantId);

    const customerMsg = await pageCall(async () => (await window.session.sendMessage({ contentType: 'text/plain', message: 'No, thanks' })).data);
    await agent.waitItem((i) => i.Id === customerMsg.Id, 'customer message before the agent reads it');
    await pc.send(new SendEventCommand({ ConnectionToken: agentCT, ContentType: eventType('message.read'), Content: JSON.stringify({ messageId: customerMsg.Id }) }));
    await waitInPage((id) => window.events.read.some((e) => e.MessageMetadata?.MessageId === id), customerMsg.Id, 'chatjs onReadReceipt');
  });

  await t.test('getTranscript from chatjs', async () => {
    const tr = await pageCall(async () => (await window.session.getTranscript({ maxResults: 100, sortOrder: 'ASCENDING', scanDirection: 'BACKWARD' })).data);
    assert.equal(tr.InitialContactId, chat.ContactId);
    const contents = tr.Transcript.filter((i) => i.Type === 'MESSAGE').map((i) => i.Content);
    for (const want of ['Where is my parcel?', 'It ships tomorrow.', 'Anything else?', 'No, thanks']) {
      assert.ok(contents.includes(want), `transcript has ${JSON.stringify(want)}: ${JSON.stringify(contents)}`);
    }
    assert.ok(!tr.Transcript.some((i) => i.ContentType === eventType('typing')), 'no typing events in the transcript');
  });

  await t.test('attachment from chatjs reaches the agent intact', async () => {
    const bytes = randomBytes(4096);
    await pageCall(async (b64) => {
      const data = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
      const file = new File([data], 'receipt.pdf', { type: 'application/pdf' });
      try {
        await window.session.sendAttachment({ attachment: file });
      } catch (e) {
        throw new Error(`sendAttachment failed: ${JSON.stringify(e)}`);
      }
    }, bytes.toString('base64'));
    const item = await agent.waitItem((i) => i.Type === 'ATTACHMENT' && i.Attachments?.[0]?.AttachmentName === 'receipt.pdf', 'ATTACHMENT on the agent socket');
    assert.equal(item.ParticipantId, chat.ParticipantId);
    const got = await pc.send(new GetAttachmentCommand({ ConnectionToken: agentCT, AttachmentId: item.Attachments[0].AttachmentId }));
    assert.equal(got.AttachmentSizeInBytes, bytes.length);
    const res = await fetch(got.Url);
    assert.ok(Buffer.from(await res.arrayBuffer()).equals(bytes), 'agent downloads the same bytes');
  });

  await t.test('a dropped socket reconnects and the customer misses nothing', async () => {
    // Offline, then close the live socket from the page: chatjs sees a lost
    // connection and cannot reconnect until the network is back.
    const establishedBefore = await pageCall(() => window.events.established.length);
    const socketsBefore = await pageCall(() => window.__sockets.length);
    await context.setOffline(true);
    const dropped = await pageCall(() => {
      const live = window.__sockets.filter((s) => s.readyState === WebSocket.OPEN);
      live.forEach((s) => s.close());
      return live.length;
    });
    assert.ok(dropped >= 1, 'a live WebSocket was dropped');
    await waitInPage(() => window.events.lost.length >= 1, null, 'onConnectionLost');
    const missed = [];
    for (const text of ['sent while you were away 1', 'sent while you were away 2', 'sent while you were away 3']) {
      missed.push((await agentSend(text)).Id);
    }
    await context.setOffline(false);
    await waitInPage((n) => window.events.established.length > n, establishedBefore, 'onConnectionEstablished after the reconnect', 60000);
    const fresh = await pageCall((n) => window.__sockets.slice(n).filter((s) => s.readyState === WebSocket.OPEN).length, socketsBefore);
    assert.ok(fresh >= 1, 'chatjs opened a new WebSocket');

    const seen = await pageCall(async () => {
      const tr = (await window.session.getTranscript({ maxResults: 100, sortOrder: 'ASCENDING', scanDirection: 'BACKWARD' })).data;
      return [...window.events.message.map((m) => m.Id), ...tr.Transcript.map((i) => i.Id)];
    });
    for (const id of missed) assert.ok(seen.includes(id), `customer sees message ${id} sent during the drop`);

    const after = await agentSend('welcome back');
    await waitInPage((id) => window.events.message.some((m) => m.Id === id), after.Id, 'a live message on the new socket');
    const reply = await pageCall(async () => (await window.session.sendMessage({ contentType: 'text/plain', message: 'thanks, back online' })).data);
    await agent.waitItem((i) => i.Id === reply.Id, 'customer message after the reconnect');
  });

  await t.test('customer ends the chat', async () => {
    await pageCall(() => window.session.disconnectParticipant().then(() => null));
    await waitInPage(() => window.events.ended.length === 1, null, 'chatjs onEnded');
    const ended = await agent.waitItem((i) => i.ContentType === eventType('chat.ended'), 'chat.ended on the agent socket');
    assert.equal(ended.InitialContactId, chat.ContactId);
    assert.equal((await agent.closed).code, 1000);
    await assert.rejects(pc.send(new GetTranscriptCommand({ ConnectionToken: agentCT })), { name: 'AccessDeniedException' });
  });
});
