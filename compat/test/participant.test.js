// @aws-sdk/client-connectparticipant against helpline: every participant
// operation, its documented errors, and what the sockets receive.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID, randomBytes } from 'node:crypto';
import {
  SendMessageCommand,
  SendEventCommand,
  GetTranscriptCommand,
  DisconnectParticipantCommand,
  StartAttachmentUploadCommand,
  CompleteAttachmentUploadCommand,
  GetAttachmentCommand,
  DescribeViewCommand,
  GetAuthenticationUrlCommand,
  CancelParticipantAuthenticationCommand,
} from '@aws-sdk/client-connectparticipant';
import { startServer } from '../lib/harness.js';
import {
  participantClient, startChat, addParticipant, connectParticipant, ChatSocket, rejectsWith, eventType, isoMillis,
  messageContentTypes,
} from '../lib/clients.js';

let server;
let pc;
before(async () => {
  server = await startServer();
  pc = participantClient(server);
});
after(async () => {
  await server?.stop();
});

// A chat with a connected customer and agent, each with an open socket.
async function setupChat(input) {
  const chat = await startChat(server, input);
  const customerConn = await connectParticipant(pc, chat.ParticipantToken);
  const agentP = await addParticipant(server, chat.ContactId);
  const agentConn = await connectParticipant(pc, agentP.ParticipantToken);
  const customer = {
    id: chat.ParticipantId, token: chat.ParticipantToken, ct: customerConn.ConnectionCredentials.ConnectionToken,
    socket: await ChatSocket.open(customerConn.Websocket.Url),
  };
  const agent = {
    id: agentP.ParticipantId, token: agentP.ParticipantToken, ct: agentConn.ConnectionCredentials.ConnectionToken,
    socket: await ChatSocket.open(agentConn.Websocket.Url),
  };
  return { contactId: chat.ContactId, customer, agent, close: () => [customer, agent].forEach((p) => p.socket.close()) };
}

const send = (ct, Content, ContentType = 'text/plain', extra = {}) =>
  pc.send(new SendMessageCommand({ ConnectionToken: ct, ContentType, Content, ...extra }));

// Every transcript item, oldest first, by paging FORWARD until NextToken is absent.
async function fullTranscript(ct, pageSize = 100) {
  const items = [];
  let NextToken;
  do {
    const out = await pc.send(new GetTranscriptCommand({
      ConnectionToken: ct, MaxResults: pageSize, ScanDirection: 'FORWARD', SortOrder: 'ASCENDING', NextToken,
    }));
    items.push(...out.Transcript);
    NextToken = out.NextToken;
  } while (NextToken);
  return items;
}

test('CreateParticipantConnection: websocket and credentials, repeatable, documented errors', async () => {
  const chat = await startChat(server);
  const out = await connectParticipant(pc, chat.ParticipantToken);
  assert.match(out.Websocket.Url, /^(wss:\/\/\w|ws:\/\/127\.0\.0\.1:)/, 'chatjs accepts only wss:// or ws://127.0.0.1: URLs');
  assert.ok(out.Websocket.Url.length <= 2000);
  assert.match(out.Websocket.ConnectionExpiry, isoMillis);
  assert.ok(Date.parse(out.Websocket.ConnectionExpiry) > Date.now(), 'websocket URL not yet expired');
  assert.ok(out.ConnectionCredentials.ConnectionToken.length >= 1 && out.ConnectionCredentials.ConnectionToken.length <= 1000);
  assert.match(out.ConnectionCredentials.Expiry, isoMillis);
  assert.ok(Date.parse(out.ConnectionCredentials.Expiry) > Date.now() + 5 * 60000, 'connection token valid for minutes at least');
  assert.ok(Date.parse(out.ConnectionCredentials.Expiry) < Date.now() + 24.8 * 86400000, 'connection expiry fits a JS timer');

  const again = await connectParticipant(pc, chat.ParticipantToken);
  assert.match(again.Websocket.Url, /^(wss:\/\/|ws:\/\/127\.0\.0\.1:)/);
  const credsOnly = await connectParticipant(pc, chat.ParticipantToken, { Type: ['CONNECTION_CREDENTIALS'] });
  assert.equal(credsOnly.Websocket, undefined);
  assert.ok(credsOnly.ConnectionCredentials.ConnectionToken);
  await connectParticipant(pc, chat.ParticipantToken, { Type: undefined, ConnectParticipant: true });

  await rejectsWith(connectParticipant(pc, chat.ParticipantToken, { Type: ['WEBRTC_CONNECTION'] }), 'ValidationException', { status: 400 });
  await rejectsWith(connectParticipant(pc, 'not-a-token'), 'AccessDeniedException', { status: 403 });
  // A connection token is not a participant token.
  await rejectsWith(connectParticipant(pc, out.ConnectionCredentials.ConnectionToken), 'AccessDeniedException', { status: 403 });
});

test('WebSocket: subscribe ack, ping and heartbeat replies, garbage tolerated', async () => {
  const chat = await startChat(server);
  const conn = await connectParticipant(pc, chat.ParticipantToken);
  const s = await ChatSocket.open(conn.Websocket.Url, { heartbeat: false });
  try {
    assert.equal(s.subscribeAck.content.status, 'success');
    assert.ok(Array.isArray(s.subscribeAck.content.topics));
    assert.ok(s.subscribeAck.content.topics.includes('aws/chat'));
    let reply = s.nextFrame((f) => f.topic === 'aws/ping');
    s.send({ topic: 'aws/ping' });
    const ping = await reply;
    assert.equal(ping.statusCode, 200);
    assert.equal(ping.statusContent, 'OK');
    reply = s.nextFrame((f) => f.topic === 'aws/heartbeat');
    s.send({ topic: 'aws/heartbeat' });
    await reply;
    s.send('this is not json');
    s.send('{"topic": "aws/subscribe", "content": {"topics": ["aws/chat"]}})');
    reply = s.nextFrame((f) => f.topic === 'aws/heartbeat');
    s.send({ topic: 'aws/heartbeat' });
    await reply;
    assert.equal(s.ws.readyState, 1, 'socket still open after garbage');
    assert.deepEqual(s.badFrames, [], 'every frame the server sends is JSON');
  } finally {
    s.close();
  }
});

test('SendMessage: every content type, pushed to both sockets, idempotent, limits enforced', async () => {
  const c = await setupChat();
  try {
    const bodies = {
      'text/plain': 'plain hello',
      'text/markdown': '**bold** hello',
      'application/json': JSON.stringify({ hello: 'world' }),
      'application/vnd.amazonaws.connect.message.interactive.response': JSON.stringify({ templateType: 'QuickReply', data: { content: { title: 'Yes' } } }),
    };
    for (const type of messageContentTypes) {
      const out = await send(c.customer.ct, bodies[type], type);
      assert.ok(out.Id, `${type}: Id`);
      assert.match(out.AbsoluteTime, isoMillis, `${type}: AbsoluteTime format`);
      for (const [who, s] of [['agent', c.agent.socket], ['customer (sender)', c.customer.socket]]) {
        const item = await s.waitItem((i) => i.Id === out.Id, `${type} on the ${who} socket`);
        assert.equal(item.Type, 'MESSAGE');
        assert.equal(item.ContentType, type);
        assert.equal(item.Content, bodies[type]);
        assert.equal(item.ParticipantId, c.customer.id);
        assert.equal(item.ParticipantRole, 'CUSTOMER');
        assert.equal(item.DisplayName, 'Customer');
        assert.equal(item.ContactId, c.contactId);
        assert.equal(item.InitialContactId, c.contactId);
        assert.match(item.AbsoluteTime, isoMillis);
      }
    }

    const ClientToken = randomUUID();
    const first = await send(c.customer.ct, 'only once', 'text/plain', { ClientToken });
    const retry = await send(c.customer.ct, 'only once', 'text/plain', { ClientToken });
    assert.equal(retry.Id, first.Id, 'a replayed ClientToken returns the original message');

    const tooLong = { 'text/plain': 1025, 'text/markdown': 1025, 'application/json': 12001, 'application/vnd.amazonaws.connect.message.interactive.response': 12289 };
    for (const [type, n] of Object.entries(tooLong)) {
      const err = await rejectsWith(send(c.customer.ct, 'x'.repeat(n), type), 'ValidationException', { status: 400 });
      assert.ok(err.message.length > 3, `${type}: message explains the limit: ${err.message}`);
    }
    await rejectsWith(send(c.customer.ct, 'hi', 'application/x-unknown'), 'ValidationException', { status: 400 });
    await rejectsWith(send('not-a-token', 'hi'), 'AccessDeniedException', { status: 403 });

    const transcript = await fullTranscript(c.customer.ct);
    assert.equal(transcript.filter((i) => i.Content === 'only once').length, 1, 'replay stored once');
    assert.ok(!transcript.some((i) => (i.Content ?? '').length > 1024 && i.ContentType === 'text/plain'), 'rejected content not stored');
  } finally {
    c.close();
  }
});

test('SendMessage: a content type the contact does not support is refused', async () => {
  const chat = await startChat(server, { SupportedMessagingContentTypes: ['text/plain'] });
  const conn = await connectParticipant(pc, chat.ParticipantToken);
  await rejectsWith(send(conn.ConnectionCredentials.ConnectionToken, '**no**', 'text/markdown'), 'ValidationException', { status: 400 });
});

test('SendEvent: typing pushed and not stored; read and delivered receipts as MESSAGEMETADATA', async () => {
  const c = await setupChat();
  try {
    const typing = await pc.send(new SendEventCommand({ ConnectionToken: c.customer.ct, ContentType: eventType('typing') }));
    assert.ok(typing.Id);
    assert.match(typing.AbsoluteTime, isoMillis);
    const seen = await c.agent.socket.waitItem((i) => i.ContentType === eventType('typing'), 'typing on the agent socket');
    assert.equal(seen.Type, 'EVENT');
    assert.equal(seen.ParticipantId, c.customer.id);
    assert.equal(seen.ParticipantRole, 'CUSTOMER');
    assert.equal(seen.InitialContactId, c.contactId);

    const agentMsg = await send(c.agent.ct, 'How can I help?');
    await c.customer.socket.waitItem((i) => i.Id === agentMsg.Id, 'agent message on the customer socket');
    for (const [suffix, field] of [['message.delivered', 'DeliveredTimestamp'], ['message.read', 'ReadTimestamp']]) {
      await pc.send(new SendEventCommand({
        ConnectionToken: c.customer.ct, ContentType: eventType(suffix), Content: JSON.stringify({ messageId: agentMsg.Id }),
      }));
      const meta = await c.agent.socket.waitItem(
        (i) => i.Type === 'MESSAGEMETADATA' && i.MessageMetadata?.MessageId === agentMsg.Id && i.MessageMetadata.Receipts?.[0]?.[field],
        `${suffix} receipt on the agent socket`,
      );
      const receipt = meta.MessageMetadata.Receipts[0];
      assert.equal(receipt.RecipientParticipantId, c.customer.id);
      assert.match(receipt[field], isoMillis);
    }

    await rejectsWith(pc.send(new SendEventCommand({ ConnectionToken: c.customer.ct, ContentType: 'application/x-nope' })), 'ValidationException', { status: 400 });
    await rejectsWith(pc.send(new SendEventCommand({
      ConnectionToken: c.customer.ct, ContentType: eventType('message.read'), Content: 'not json',
    })), 'ValidationException', { status: 400 });

    const transcript = await fullTranscript(c.agent.ct);
    assert.ok(!transcript.some((i) => i.ContentType === eventType('typing')), 'typing is not stored');
    assert.ok(transcript.some((i) => i.Type === 'MESSAGEMETADATA' && i.MessageMetadata?.MessageId === agentMsg.Id), 'receipt stored as MESSAGEMETADATA');
  } finally {
    c.close();
  }
});

test('GetTranscript: paging both ways until NextToken is absent, every StartPosition form', async () => {
  const c = await setupChat();
  c.close();
  const ct = c.customer.ct;
  const sent = [];
  for (let i = 0; i < 23; i++) {
    const out = await send(i % 2 ? c.agent.ct : ct, `message ${i}`);
    sent.push(out.Id);
  }
  const all = await fullTranscript(ct);
  const ids = all.map((i) => i.Id);
  assert.equal(new Set(ids).size, ids.length, 'no duplicates');
  assert.deepEqual(all.filter((i) => sent.includes(i.Id)).map((i) => i.Id), sent, 'every message, in order');
  for (let i = 1; i < all.length; i++) assert.ok(all[i - 1].AbsoluteTime <= all[i].AbsoluteTime, 'ascending by time');
  assert.ok(all.every((i) => i.ContactId === c.contactId || i.ContactId === undefined));

  const page = (input) => pc.send(new GetTranscriptCommand({ ConnectionToken: ct, ...input }));
  const walk = async (input) => {
    const got = [];
    let NextToken;
    let pages = 0;
    do {
      const out = await page({ ...input, NextToken });
      assert.ok(out.Transcript.length <= input.MaxResults, 'page size honoured');
      assert.notEqual(out.NextToken, '', 'NextToken is omitted, never empty');
      got.push(out.Transcript);
      NextToken = out.NextToken;
      assert.ok(++pages < 100, 'paging terminates');
    } while (NextToken);
    return got;
  };

  const fwd = await walk({ MaxResults: 5, ScanDirection: 'FORWARD', SortOrder: 'ASCENDING' });
  assert.ok(fwd.length >= 5, `forward paging took ${fwd.length} pages`);
  assert.deepEqual(fwd.flat().map((i) => i.Id), ids, 'FORWARD pages cover the transcript in order');

  const back = await walk({ MaxResults: 5, ScanDirection: 'BACKWARD', SortOrder: 'ASCENDING' });
  assert.deepEqual(back[0].map((i) => i.Id), ids.slice(-back[0].length), 'first BACKWARD page is the newest');
  assert.deepEqual(back.reverse().flat().map((i) => i.Id), ids, 'BACKWARD pages cover the transcript');

  const desc = await page({ MaxResults: 5, ScanDirection: 'BACKWARD', SortOrder: 'DESCENDING' });
  assert.deepEqual(desc.Transcript.map((i) => i.Id), ids.slice(-5).reverse(), 'DESCENDING sorts newest first');

  const defaults = await page({});
  assert.ok(defaults.Transcript.length === Math.min(10, ids.length), `default MaxResults is 10, got ${defaults.Transcript.length}`);
  const emptyStart = await page({ MaxResults: 15, ScanDirection: 'BACKWARD', SortOrder: 'ASCENDING', StartPosition: {} });
  assert.deepEqual(emptyStart.Transcript.map((i) => i.Id), ids.slice(-15), 'StartPosition {} is treated as absent (chatjs defaults)');

  const anchor = ids.indexOf(sent[10]);
  const byId = await page({ MaxResults: 100, ScanDirection: 'FORWARD', SortOrder: 'ASCENDING', StartPosition: { Id: sent[10] } });
  const byIdIds = byId.Transcript.map((i) => i.Id);
  assert.ok([ids.slice(anchor), ids.slice(anchor + 1)].some((want) => JSON.stringify(want) === JSON.stringify(byIdIds)),
    `StartPosition.Id FORWARD returns the items from the anchor on: ${byIdIds.length} items`);
  const byIdBack = await page({ MaxResults: 3, ScanDirection: 'BACKWARD', SortOrder: 'ASCENDING', StartPosition: { Id: sent[10] } });
  const backIds = byIdBack.Transcript.map((i) => i.Id);
  assert.ok([ids.slice(anchor - 2, anchor + 1), ids.slice(anchor - 3, anchor)].some((want) => JSON.stringify(want) === JSON.stringify(backIds)),
    'StartPosition.Id BACKWARD returns the items before the anchor');

  const t = all[anchor].AbsoluteTime;
  const byTime = await page({ MaxResults: 100, ScanDirection: 'FORWARD', SortOrder: 'ASCENDING', StartPosition: { AbsoluteTime: t } });
  assert.ok(byTime.Transcript.length > 0 && byTime.Transcript.every((i) => i.AbsoluteTime >= t), 'AbsoluteTime FORWARD: items at or after the time');
  assert.equal(byTime.Transcript.at(-1).Id, ids.at(-1));

  const recent = await page({ MaxResults: 100, ScanDirection: 'FORWARD', SortOrder: 'ASCENDING', StartPosition: { MostRecent: 3 } });
  const recentIds = recent.Transcript.map((i) => i.Id);
  assert.ok([ids.slice(-3), ids.slice(-2), ids.slice(-4)].some((want) => JSON.stringify(want) === JSON.stringify(recentIds)),
    `MostRecent 3 FORWARD returns the newest items: got ${recentIds.length}`);

  const withContact = await page({ ContactId: c.contactId, MaxResults: 100, ScanDirection: 'FORWARD', SortOrder: 'ASCENDING' });
  assert.deepEqual(withContact.Transcript.map((i) => i.Id), ids.slice(0, 100));

  await rejectsWith(page({ MaxResults: 101 }), 'ValidationException', { status: 400 });
  await rejectsWith(page({ NextToken: 'garbage-token' }), 'ValidationException', { status: 400 });
  await rejectsWith(page({ StartPosition: { MostRecent: 101 } }), 'ValidationException', { status: 400 });
  await rejectsWith(page({ ScanDirection: 'SIDEWAYS' }), 'ValidationException', { status: 400 });
  const other = await startChat(server);
  await rejectsWith(page({ ContactId: other.ContactId }), ['AccessDeniedException', 'ValidationException', 'ResourceNotFoundException']);
});

test('attachments: upload to the returned URL, complete, pushed, downloaded intact', async () => {
  const c = await setupChat();
  try {
    const bytes = randomBytes(70000);
    const start = await pc.send(new StartAttachmentUploadCommand({
      ConnectionToken: c.customer.ct, ContentType: 'application/pdf', AttachmentSizeInBytes: bytes.length, AttachmentName: 'invoice.pdf', ClientToken: randomUUID(),
    }));
    assert.ok(start.AttachmentId);
    assert.match(start.UploadMetadata.UrlExpiry, isoMillis);
    const put = await fetch(start.UploadMetadata.Url, { method: 'PUT', headers: start.UploadMetadata.HeadersToInclude, body: bytes });
    assert.ok(put.ok, `PUT upload answered ${put.status}: ${await put.text()}`);
    await pc.send(new CompleteAttachmentUploadCommand({ ConnectionToken: c.customer.ct, AttachmentIds: [start.AttachmentId], ClientToken: randomUUID() }));

    const item = await c.agent.socket.waitItem((i) => i.Type === 'ATTACHMENT' && i.Attachments?.[0]?.AttachmentId === start.AttachmentId, 'ATTACHMENT item on the agent socket');
    assert.equal(item.Attachments[0].AttachmentName, 'invoice.pdf');
    assert.equal(item.Attachments[0].ContentType, 'application/pdf');
    assert.equal(item.Attachments[0].Status, 'APPROVED');
    assert.equal(item.ParticipantId, c.customer.id);
    assert.equal(item.InitialContactId, c.contactId);

    const got = await pc.send(new GetAttachmentCommand({ ConnectionToken: c.agent.ct, AttachmentId: start.AttachmentId, UrlExpiryInSeconds: 60 }));
    assert.equal(got.AttachmentSizeInBytes, bytes.length);
    assert.match(got.UrlExpiry, isoMillis);
    const res = await fetch(got.Url);
    assert.equal(res.status, 200);
    assert.ok(Buffer.from(await res.arrayBuffer()).equals(bytes), 'downloaded bytes equal the uploaded ones');

    const transcript = await fullTranscript(c.customer.ct);
    assert.ok(transcript.some((i) => i.Type === 'ATTACHMENT' && i.Attachments?.[0]?.AttachmentId === start.AttachmentId), 'attachment in the transcript');

    const startUpload = (input) => pc.send(new StartAttachmentUploadCommand({
      ConnectionToken: c.customer.ct, ContentType: 'text/plain', AttachmentSizeInBytes: 10, AttachmentName: 'a.txt', ClientToken: randomUUID(), ...input,
    }));
    await rejectsWith(startUpload({ AttachmentSizeInBytes: 20 * 1024 * 1024 + 1 }), ['ValidationException', 'ServiceQuotaExceededException']);
    await rejectsWith(startUpload({ ContentType: 'application/x-msdownload', AttachmentName: 'setup.exe' }), 'ValidationException', { status: 400 });
    await rejectsWith(pc.send(new CompleteAttachmentUploadCommand({
      ConnectionToken: c.customer.ct, AttachmentIds: [start.AttachmentId, randomUUID()], ClientToken: randomUUID(),
    })), 'ValidationException', { status: 400 });
    await rejectsWith(pc.send(new GetAttachmentCommand({ ConnectionToken: c.agent.ct, AttachmentId: start.AttachmentId, UrlExpiryInSeconds: 4 })), 'ValidationException', { status: 400 });

    const small = await startUpload({});
    const over = await fetch(small.UploadMetadata.Url, { method: 'PUT', headers: small.UploadMetadata.HeadersToInclude, body: Buffer.alloc(11, 'x') });
    assert.ok(over.status >= 400 && over.status < 500, `a body larger than declared is refused, got ${over.status}`);
  } finally {
    c.close();
  }
});

test('DescribeView, GetAuthenticationUrl and CancelParticipantAuthentication answer with documented errors', async () => {
  const chat = await startChat(server);
  const ct = (await connectParticipant(pc, chat.ParticipantToken)).ConnectionCredentials.ConnectionToken;
  await rejectsWith(pc.send(new DescribeViewCommand({ ConnectionToken: ct, ViewToken: 'no-such-view' })), 'ResourceNotFoundException', { status: 404 });
  await rejectsWith(pc.send(new DescribeViewCommand({ ConnectionToken: 'not-a-token', ViewToken: 'x' })), 'AccessDeniedException', { status: 403 });
  const documented = ['AccessDeniedException', 'ValidationException'];
  await rejectsWith(pc.send(new GetAuthenticationUrlCommand({ ConnectionToken: ct, SessionId: randomUUID(), RedirectUri: 'https://shop.example.com/back' })), documented);
  await rejectsWith(pc.send(new GetAuthenticationUrlCommand({ ConnectionToken: ct, SessionId: 'short', RedirectUri: 'https://shop.example.com/back' })), 'ValidationException', { status: 400 });
  await rejectsWith(pc.send(new CancelParticipantAuthenticationCommand({ ConnectionToken: ct, SessionId: randomUUID() })), documented);
  await rejectsWith(pc.send(new CancelParticipantAuthenticationCommand({ ConnectionToken: ct, SessionId: 'short' })), 'ValidationException', { status: 400 });
});

test('DisconnectParticipant ends the chat: chat.ended to everyone, sockets closed, tokens refused', async () => {
  const c = await setupChat();
  const kept = await send(c.customer.ct, 'before leaving');
  await pc.send(new DisconnectParticipantCommand({ ConnectionToken: c.customer.ct }));
  for (const [who, p] of [['customer', c.customer], ['agent', c.agent]]) {
    const ended = await p.socket.waitItem((i) => i.ContentType === eventType('chat.ended'), `chat.ended on the ${who} socket`);
    assert.equal(ended.Type, 'EVENT');
    assert.equal(ended.InitialContactId, c.contactId);
    const closed = await p.socket.closed;
    assert.equal(closed.code, 1000, `${who} socket closed with 1000`);
    assert.ok(p.socket.items.some((i) => i.Id === kept.Id), `${who} got the last message`);
  }
  for (const p of [c.customer, c.agent]) {
    await rejectsWith(send(p.ct, 'after the end'), 'AccessDeniedException', { status: 403 });
    await rejectsWith(connectParticipant(pc, p.token), 'AccessDeniedException', { status: 403 });
    await rejectsWith(pc.send(new GetTranscriptCommand({ ConnectionToken: p.ct })), 'AccessDeniedException', { status: 403 });
  }
});
