// @aws-sdk/client-connect against helpline: the SigV4-signed contact API.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import {
  StartChatContactCommand,
  CreateParticipantCommand,
  StopContactCommand,
  DescribeContactCommand,
  GetContactAttributesCommand,
  UpdateContactAttributesCommand,
} from '@aws-sdk/client-connect';
import { GetTranscriptCommand, SendMessageCommand } from '@aws-sdk/client-connectparticipant';
import { startServer } from '../lib/harness.js';
import {
  connectClient, participantClient, startChat, addParticipant, connectParticipant, ChatSocket, rejectsWith, eventType,
} from '../lib/clients.js';

let server;
before(async () => {
  server = await startServer();
});
after(async () => {
  await server?.stop();
});

test('StartChatContact returns a contact and a participant token that connects', async () => {
  const out = await startChat(server, {
    InitialMessage: { ContentType: 'text/plain', Content: 'Hello from the first message' },
  });
  assert.match(out.ContactId, /^.{1,256}$/);
  assert.match(out.ParticipantId, /^.{1,256}$/);
  assert.ok(out.ParticipantToken?.length >= 1 && out.ParticipantToken.length <= 1000);

  const pc = participantClient(server);
  const conn = await connectParticipant(pc, out.ParticipantToken);
  const tr = await pc.send(new GetTranscriptCommand({
    ConnectionToken: conn.ConnectionCredentials.ConnectionToken, MaxResults: 100, ScanDirection: 'FORWARD', SortOrder: 'ASCENDING',
  }));
  assert.equal(tr.InitialContactId, out.ContactId);
  const first = tr.Transcript.find((i) => i.Type === 'MESSAGE' && i.Content === 'Hello from the first message');
  assert.ok(first, `initial message missing from transcript: ${JSON.stringify(tr.Transcript)}`);
  assert.equal(first.ParticipantRole, 'CUSTOMER');
});

test('StartChatContact is idempotent on ClientToken', async () => {
  const ClientToken = randomUUID();
  const a = await startChat(server, { ClientToken });
  const b = await startChat(server, { ClientToken });
  assert.equal(b.ContactId, a.ContactId);
  assert.equal(b.ParticipantId, a.ParticipantId);
});

test('StartChatContact refuses an unknown flow, an unknown instance and invalid fields', async () => {
  await rejectsWith(startChat(server, { ContactFlowId: randomUUID() }), 'ResourceNotFoundException', { status: 404 });
  // Signing keys belong to an instance, so an unknown instance may also fail as an unknown key.
  await rejectsWith(startChat(server, { InstanceId: randomUUID() }), ['ResourceNotFoundException', 'UnrecognizedClientException']);
  const bad = ['InvalidParameterException', 'InvalidRequestException'];
  await rejectsWith(startChat(server, { ParticipantDetails: { DisplayName: 'x'.repeat(257) } }), bad, { status: 400 });
  await rejectsWith(startChat(server, { ChatDurationInMinutes: 30 }), bad, { status: 400 });
  await rejectsWith(startChat(server, { SupportedMessagingContentTypes: ['text/markdown'] }), bad, { status: 400 });
  await rejectsWith(startChat(server, { InitialMessage: { ContentType: 'text/plain', Content: 'x'.repeat(16385) } }), bad, { status: 400 });
});

test('a wrong secret or an unknown access key is refused', async () => {
  const input = { InstanceId: server.instanceId, ContactFlowId: server.contactFlowId, ParticipantDetails: { DisplayName: 'Mallory' } };
  const wrongSecret = connectClient(server, { accessKeyId: server.accessKeyId, secretAccessKey: 'not-the-secret' });
  const err = await rejectsWith(wrongSecret.send(new StartChatContactCommand(input)), ['InvalidSignatureException', 'UnrecognizedClientException'], { status: 403 });
  assert.equal(err.$fault, 'client');
  const unknownKey = connectClient(server, { accessKeyId: 'AKIAUNKNOWNKEY000000', secretAccessKey: server.secretAccessKey });
  await rejectsWith(unknownKey.send(new StartChatContactCommand(input)), ['UnrecognizedClientException', 'InvalidSignatureException'], { status: 403 });
});

test('the server starts with the keys given in its environment', () => {
  assert.equal(server.accessKeyId, 'AKIAHELPLINECOMPAT01');
  assert.equal(server.secretAccessKey, 'compat-secret-0123456789abcdefghijklmnopqrstuv');
});

test('contact attributes: set at start, read, updated', async () => {
  const chat = await startChat(server, { Attributes: { orderId: 'A-1001', tier: 'gold' } });
  const connect = connectClient(server);
  const read = () => connect.send(new GetContactAttributesCommand({ InstanceId: server.instanceId, InitialContactId: chat.ContactId }));
  assert.deepEqual((await read()).Attributes, { orderId: 'A-1001', tier: 'gold' });
  await connect.send(new UpdateContactAttributesCommand({
    InstanceId: server.instanceId, InitialContactId: chat.ContactId, Attributes: { tier: 'platinum', topic: 'refund' },
  }));
  assert.deepEqual((await read()).Attributes, { orderId: 'A-1001', tier: 'platinum', topic: 'refund' });
  await rejectsWith(connect.send(new GetContactAttributesCommand({ InstanceId: server.instanceId, InitialContactId: randomUUID() })), 'ResourceNotFoundException', { status: 404 });
  await rejectsWith(connect.send(new UpdateContactAttributesCommand({
    InstanceId: server.instanceId, InitialContactId: chat.ContactId, Attributes: { 'bad key!': 'v' },
  })), ['InvalidParameterException', 'InvalidRequestException'], { status: 400 });
});

test('DescribeContact before and after StopContact', async () => {
  const chat = await startChat(server);
  const connect = connectClient(server);
  const describe = () => connect.send(new DescribeContactCommand({ InstanceId: server.instanceId, ContactId: chat.ContactId }));
  const before = (await describe()).Contact;
  assert.equal(before.Id, chat.ContactId);
  assert.equal(before.InitialContactId ?? chat.ContactId, chat.ContactId);
  assert.equal(before.Channel, 'CHAT');
  assert.equal(before.InitiationMethod, 'API');
  assert.ok(before.InitiationTimestamp instanceof Date, 'InitiationTimestamp is a Date');
  assert.ok(Math.abs(before.InitiationTimestamp.getTime() - Date.now()) < 5 * 60000, `InitiationTimestamp ${before.InitiationTimestamp} is not now`);
  assert.equal(before.DisconnectTimestamp, undefined);

  await connect.send(new StopContactCommand({ InstanceId: server.instanceId, ContactId: chat.ContactId }));
  const after = (await describe()).Contact;
  assert.ok(after.DisconnectTimestamp instanceof Date, 'DisconnectTimestamp set after StopContact');
  assert.ok(after.DisconnectTimestamp >= after.InitiationTimestamp);

  await rejectsWith(connect.send(new DescribeContactCommand({ InstanceId: server.instanceId, ContactId: randomUUID() })), 'ResourceNotFoundException', { status: 404 });
});

test('CreateParticipant adds an agent and a bot that can chat; bad roles are refused', async () => {
  const chat = await startChat(server);
  const pc = participantClient(server);
  const customer = await connectParticipant(pc, chat.ParticipantToken);
  const customerSocket = await ChatSocket.open(customer.Websocket.Url);
  try {
    for (const role of ['AGENT', 'CUSTOM_BOT']) {
      const p = await addParticipant(server, chat.ContactId, { role, displayName: `The ${role}` });
      assert.ok(p.ParticipantId && p.ParticipantToken, `${role}: participant id and token returned`);
      const conn = await connectParticipant(pc, p.ParticipantToken);
      const sent = await pc.send(new SendMessageCommand({
        ConnectionToken: conn.ConnectionCredentials.ConnectionToken, ContentType: 'text/plain', Content: `hi from ${role}`,
      }));
      const item = await customerSocket.waitItem((i) => i.Id === sent.Id, `${role} message on the customer socket`);
      assert.equal(item.ParticipantRole, role);
      assert.equal(item.ParticipantId, p.ParticipantId);
      assert.equal(item.DisplayName, `The ${role}`);
    }
  } finally {
    customerSocket.close();
  }
  const connect = connectClient(server);
  const bad = ['InvalidRequestException', 'InvalidParameterException'];
  await rejectsWith(connect.send(new CreateParticipantCommand({
    InstanceId: server.instanceId, ContactId: chat.ContactId, ParticipantDetails: { ParticipantRole: 'NOT_A_ROLE', DisplayName: 'x' },
  })), bad, { status: 400 });
  await rejectsWith(connect.send(new CreateParticipantCommand({
    InstanceId: server.instanceId, ContactId: randomUUID(), ParticipantDetails: { ParticipantRole: 'AGENT', DisplayName: 'x' },
  })), 'ResourceNotFoundException', { status: 404 });
});

test('StopContact ends the chat for every participant', async () => {
  const chat = await startChat(server);
  const pc = participantClient(server);
  const customer = await connectParticipant(pc, chat.ParticipantToken);
  const agent = await addParticipant(server, chat.ContactId);
  const agentConn = await connectParticipant(pc, agent.ParticipantToken);
  const sockets = [await ChatSocket.open(customer.Websocket.Url), await ChatSocket.open(agentConn.Websocket.Url)];
  await connectClient(server).send(new StopContactCommand({ InstanceId: server.instanceId, ContactId: chat.ContactId }));
  for (const s of sockets) {
    const ended = await s.waitItem((i) => i.ContentType === eventType('chat.ended'), 'chat.ended');
    assert.equal(ended.InitialContactId, chat.ContactId);
    assert.equal((await s.closed).code, 1000);
  }
  await rejectsWith(connectParticipant(pc, chat.ParticipantToken), 'AccessDeniedException', { status: 403 });
  await rejectsWith(pc.send(new SendMessageCommand({
    ConnectionToken: agentConn.ConnectionCredentials.ConnectionToken, ContentType: 'text/plain', Content: 'too late',
  })), 'AccessDeniedException', { status: 403 });
});
