// Helpers for the console's browser tests: agents made with the CLI on
// the server's data directory, a customer speaking the Amazon Connect API
// with plain fetches (SigV4 for StartChatContact, bearer tokens for the
// participant calls), and a TCP proxy whose connections a test can cut.
import { execFileSync } from 'node:child_process';
import crypto from 'node:crypto';
import net from 'node:net';
import { helplineBinary, testKeys } from '../../../compat/lib/harness.js';

export const agentPassword = 'a long passphrase for tests';

/**
 * `helpline agents add` on the server's data directory, with the server's
 * signing keys in the environment as the server has them (the command
 * saves the default instance as its environment describes it).
 */
export function addAgent(server, { email, name, role = 'agent', queues = [], capacity = 3 }) {
  const args = ['agents', 'add', '-data', server.tmpDataDir, '-email', email, '-name', name, '-role', role, '-capacity', String(capacity)];
  if (queues.length) args.push('-queues', queues.join(','));
  execFileSync(helplineBinary(), args, { env: {
    ...process.env, HELPLINE_AGENT_PASSWORD: agentPassword,
    HELPLINE_ACCESS_KEY_ID: testKeys.accessKeyId, HELPLINE_SECRET_ACCESS_KEY: testKeys.secretAccessKey,
  }, stdio: 'pipe' });
}

const sha256 = (data) => crypto.createHash('sha256').update(data).digest('hex');
const hmac = (key, data) => crypto.createHmac('sha256', key).update(data).digest();

/** A SigV4-signed request to the Connect API (service connect). */
async function signedFetch(server, method, path, body) {
  const url = new URL(path, server.endpoint);
  const date = new Date().toISOString().replace(/[-:]|\.\d{3}/g, '');
  const day = date.slice(0, 8);
  const payload = JSON.stringify(body);
  const canonical = [method, url.pathname, '', `host:${url.host}`, `x-amz-date:${date}`, '', 'host;x-amz-date', sha256(payload)].join('\n');
  const scope = `${day}/${server.region}/connect/aws4_request`;
  const toSign = ['AWS4-HMAC-SHA256', date, scope, sha256(canonical)].join('\n');
  let key = hmac(`AWS4${server.secretAccessKey}`, day);
  for (const part of [server.region, 'connect', 'aws4_request']) key = hmac(key, part);
  const signature = crypto.createHmac('sha256', key).update(toSign).digest('hex');
  const resp = await fetch(url, {
    method, body: payload,
    headers: {
      'Content-Type': 'application/json', 'X-Amz-Date': date,
      Authorization: `AWS4-HMAC-SHA256 Credential=${server.accessKeyId}/${scope}, SignedHeaders=host;x-amz-date, Signature=${signature}`,
    },
  });
  const out = await resp.json();
  if (!resp.ok) throw new Error(`${method} ${path}: ${resp.status} ${JSON.stringify(out)}`);
  return out;
}

/** A customer of a Connect chat, through the participant API. */
export class Customer {
  static async start(server, { name = 'Customer', attributes = {} } = {}) {
    const chat = await signedFetch(server, 'PUT', '/contact/chat', {
      InstanceId: server.instanceId, ContactFlowId: server.contactFlowId,
      ParticipantDetails: { DisplayName: name }, Attributes: attributes,
    });
    const c = new Customer(server, chat.ContactId);
    const conn = await c.call('/participant/connection', { Type: ['CONNECTION_CREDENTIALS'], ConnectParticipant: true }, chat.ParticipantToken);
    c.token = conn.ConnectionCredentials.ConnectionToken;
    return c;
  }

  constructor(server, contactId) {
    this.server = server;
    this.contactId = contactId;
  }

  async call(path, body, bearer = this.token) {
    const resp = await fetch(new URL(path, this.server.endpoint), {
      method: 'POST', body: JSON.stringify(body),
      headers: { 'Content-Type': 'application/json', 'X-Amz-Bearer': bearer },
    });
    const text = await resp.text();
    const out = text ? JSON.parse(text) : {};
    if (!resp.ok) throw new Error(`${path}: ${resp.status} ${text}`);
    return out;
  }

  send(content) {
    return this.call('/participant/message', { ContentType: 'text/plain', Content: content, ClientToken: crypto.randomUUID() });
  }

  typing() {
    return this.call('/participant/event', { ContentType: 'application/vnd.amazonaws.connect.event.typing', ClientToken: crypto.randomUUID() });
  }

  read(messageId) {
    return this.call('/participant/event', {
      ContentType: 'application/vnd.amazonaws.connect.event.message.read',
      Content: JSON.stringify({ messageId }), ClientToken: crypto.randomUUID(),
    });
  }

  /** Every item of the transcript, oldest first (pages read newest first). */
  async transcript() {
    const items = [];
    let next;
    do {
      const page = await this.call('/participant/transcript', { ScanDirection: 'BACKWARD', SortOrder: 'ASCENDING', MaxResults: 100, NextToken: next });
      items.unshift(...page.Transcript);
      next = page.NextToken;
    } while (next);
    return items;
  }

  /** Sends a file as an attachment. */
  async attach(name, contentType, bytes) {
    const start = await this.call('/participant/start-attachment-upload', {
      ContentType: contentType, AttachmentSizeInBytes: bytes.length, AttachmentName: name, ClientToken: crypto.randomUUID(),
    });
    const up = await fetch(start.UploadMetadata.Url, { method: 'PUT', body: bytes, headers: start.UploadMetadata.HeadersToInclude });
    if (!up.ok) throw new Error(`upload: ${up.status} ${await up.text()}`);
    await this.call('/participant/complete-attachment-upload', { AttachmentIds: [start.AttachmentId], ClientToken: crypto.randomUUID() });
    return start.AttachmentId;
  }

  /** The bytes of an attachment of the chat. */
  async download(attachmentId) {
    const { Url } = await this.call('/participant/attachment', { AttachmentId: attachmentId });
    const resp = await fetch(Url);
    return Buffer.from(await resp.arrayBuffer());
  }
}

/**
 * A TCP proxy to target (host:port) on a free loopback port. cut() ends
 * every connection through it and refuses new ones until heal().
 */
export async function startProxy(target) {
  const { hostname, port } = new URL(target);
  const sockets = new Set();
  let down = false;
  const srv = net.createServer((client) => {
    if (down) {
      client.destroy();
      return;
    }
    const upstream = net.connect(Number(port), hostname);
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.on('close', () => sockets.delete(s));
      s.on('error', () => {});
    }
    client.pipe(upstream);
    upstream.pipe(client);
    client.on('close', () => upstream.destroy());
    upstream.on('close', () => client.destroy());
  });
  await new Promise((resolve) => srv.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${srv.address().port}`,
    cut() {
      down = true;
      for (const s of sockets) s.destroy();
    },
    heal() {
      down = false;
    },
    close() {
      for (const s of sockets) s.destroy();
      return new Promise((resolve) => srv.close(resolve));
    },
  };
}

/** Records the page's requests answered 400 or more, as "METHOD path status". */
export function failedRequests(page) {
  const failed = [];
  page.on('response', (r) => {
    if (r.status() >= 400) failed.push(`${r.request().method()} ${new URL(r.url()).pathname} ${r.status()}`);
  });
  return failed;
}
