// Helpers shared by the compatibility tests: the official SDK clients pointed
// at a running helpline, chat setup, and a WebSocket participant that speaks
// the Amazon Connect chat socket protocol the way chatjs does.
import { ConnectClient, StartChatContactCommand, CreateParticipantCommand } from '@aws-sdk/client-connect';
import { ConnectParticipantClient, CreateParticipantConnectionCommand } from '@aws-sdk/client-connectparticipant';
import WebSocket from 'ws';

/** Every message content type SendMessage accepts. */
export const messageContentTypes = [
  'text/plain',
  'text/markdown',
  'application/json',
  'application/vnd.amazonaws.connect.message.interactive.response',
];

export const eventType = (suffix) => `application/vnd.amazonaws.connect.event.${suffix}`;

// Connect's default throttles apply to the server under test; the SDKs retry
// ThrottlingException with backoff, so give them room.
const maxAttempts = 10;

/** A Connect client signing with the server's keys (or `credentials`). */
export function connectClient(server, credentials) {
  return new ConnectClient({
    endpoint: server.endpoint,
    region: server.region,
    credentials: credentials ?? { accessKeyId: server.accessKeyId, secretAccessKey: server.secretAccessKey },
    maxAttempts,
  });
}

/** A participant client; its SigV4 signature is made with dummy keys and ignored by the server. */
export function participantClient(server) {
  return new ConnectParticipantClient({
    endpoint: server.endpoint,
    region: server.region,
    credentials: { accessKeyId: 'unused', secretAccessKey: 'unused' },
    maxAttempts,
  });
}

/** StartChatContact with sensible defaults; `input` overrides them. */
export async function startChat(server, input = {}) {
  return connectClient(server).send(
    new StartChatContactCommand({
      InstanceId: server.instanceId,
      ContactFlowId: server.contactFlowId,
      ParticipantDetails: { DisplayName: 'Customer' },
      SupportedMessagingContentTypes: ['text/plain', 'text/markdown', 'application/json', 'application/vnd.amazonaws.connect.message.interactive', 'application/vnd.amazonaws.connect.message.interactive.response'],
      ...input,
    }),
  );
}

/** CreateParticipant with the Helpline AGENT role (or `role`); returns {ParticipantId, ParticipantToken}. */
export async function addParticipant(server, contactId, { role = 'AGENT', displayName = 'Agent Smith' } = {}) {
  const out = await connectClient(server).send(
    new CreateParticipantCommand({
      InstanceId: server.instanceId,
      ContactId: contactId,
      ParticipantDetails: { ParticipantRole: role, DisplayName: displayName },
    }),
  );
  return { ParticipantId: out.ParticipantId, ParticipantToken: out.ParticipantCredentials?.ParticipantToken };
}

/** CreateParticipantConnection as chatjs calls it; returns the response. */
export async function connectParticipant(pc, participantToken, input = {}) {
  return pc.send(
    new CreateParticipantConnectionCommand({
      ParticipantToken: participantToken,
      Type: ['WEBSOCKET', 'CONNECTION_CREDENTIALS'],
      ...input,
    }),
  );
}

/** Resolves within `ms` or rejects with `what` in the message. */
export function withTimeout(promise, ms, what) {
  let timer;
  return Promise.race([
    promise.finally(() => clearTimeout(timer)),
    new Promise((_, reject) => {
      timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms);
    }),
  ]);
}

/**
 * A participant's WebSocket: opens the URL, subscribes to aws/chat, sends
 * heartbeats every 10 s like chatjs, and records every pushed chat item.
 */
export class ChatSocket {
  /** Opens `url`, subscribes, and resolves once the subscribe ack arrived. */
  static async open(url, { heartbeat = true } = {}) {
    const s = new ChatSocket(url);
    await withTimeout(new Promise((resolve, reject) => {
      s.ws.once('open', resolve);
      s.ws.once('error', reject);
    }), 10000, `WebSocket open ${url}`);
    const ack = s.nextFrame((f) => f.topic === 'aws/subscribe');
    s.send({ topic: 'aws/subscribe', content: { topics: ['aws/chat'] } });
    s.subscribeAck = await withTimeout(ack, 5000, 'aws/subscribe ack');
    if (heartbeat) {
      s.heartbeat = setInterval(() => s.send({ topic: 'aws/heartbeat' }), 10000);
      s.heartbeat.unref();
    }
    return s;
  }

  constructor(url) {
    this.ws = new WebSocket(url);
    this.frames = []; // every frame received, parsed
    this.items = [];
    this.waiters = [];
    this.closed = new Promise((resolve) => {
      this.ws.on('close', (code, reason) => {
        clearInterval(this.heartbeat);
        resolve({ code, reason: reason.toString() });
      });
    });
    this.ws.on('error', () => {});
    this.badFrames = [];
    this.ws.on('message', (data) => {
      let frame;
      try {
        frame = JSON.parse(data.toString());
      } catch {
        this.badFrames.push(data.toString());
        return;
      }
      this.frames.push(frame);
      if (frame.topic === 'aws/chat') {
        frame.item = JSON.parse(frame.content);
        this.items.push(frame.item);
      }
      this.waiters = this.waiters.filter((w) => !w(frame));
    });
  }

  send(frame) {
    this.ws.send(typeof frame === 'string' ? frame : JSON.stringify(frame));
  }

  /** Resolves with the next frame (after now) matching `pred`. */
  nextFrame(pred) {
    return new Promise((resolve) => {
      this.waiters.push((f) => (pred(f) ? (resolve(f), true) : false));
    });
  }

  /** Resolves with the first chat item, already received or yet to come, matching `pred`. */
  waitItem(pred, what = 'a chat item', ms = 10000) {
    const seen = this.items.find(pred);
    if (seen) return Promise.resolve(seen);
    return withTimeout(this.nextFrame((f) => f.topic === 'aws/chat' && pred(f.item)).then((f) => f.item), ms, what);
  }

  close() {
    clearInterval(this.heartbeat);
    this.ws.close();
  }
}

/** Asserts that `promise` rejects with an SDK exception named `names` (one or several) and a message. */
export async function rejectsWith(promise, names, { status } = {}) {
  const allowed = [].concat(names);
  let err;
  try {
    await promise;
  } catch (e) {
    err = e;
  }
  if (!err) throw new Error(`expected ${allowed.join(' or ')}, but the call succeeded`);
  if (!allowed.includes(err.name)) {
    throw new Error(`expected ${allowed.join(' or ')}, got ${err.name} (HTTP ${err.$metadata?.httpStatusCode}): ${err.message}`);
  }
  if (!err.message || err.message === 'UnknownError' || err.message === err.name) {
    throw new Error(`${err.name} arrived without a Message: ${JSON.stringify(err.message)}`);
  }
  if (status !== undefined && err.$metadata?.httpStatusCode !== status) {
    throw new Error(`${err.name}: expected HTTP ${status}, got ${err.$metadata?.httpStatusCode}`);
  }
  return err;
}

/** The participant API's timestamp format: yyyy-MM-ddThh:mm:ss.SSSZ. */
export const isoMillis = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;
