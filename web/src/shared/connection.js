// The chat's connection to Helpline: the widget API (start, offline,
// availability) and the Amazon Connect participant API and WebSocket,
// with reconnects that refill the transcript so that nothing said while
// the socket was down is lost, and nothing is shown twice (items are kept
// by Id). The customer widget (served by Helpline) calls its own origin;
// the Watson service desk (running on the company's page) calls Helpline's
// base URL, cross-origin.

const EVENT = 'application/vnd.amazonaws.connect.event.';
export const CT = {
  plain: 'text/plain',
  markdown: 'text/markdown',
  interactive: 'application/vnd.amazonaws.connect.message.interactive',
  response: 'application/vnd.amazonaws.connect.message.interactive.response',
  typing: EVENT + 'typing',
  read: EVENT + 'message.read',
  delivered: EVENT + 'message.delivered',
  joined: EVENT + 'participant.joined',
  left: EVENT + 'participant.left',
  ended: EVENT + 'chat.ended',
};

/** An error with the server's code and message. */
export class APIError extends Error {
  constructor(status, code, message) {
    super(message || code || `HTTP ${status}`);
    this.status = status;
    this.code = code;
  }
}

export function newToken() {
  return crypto.randomUUID ? crypto.randomUUID() : String(Date.now()) + Math.random().toString(16).slice(2);
}

async function call(url, { method = 'POST', body, bearer } = {}) {
  const headers = {};
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  if (bearer) headers['X-Amz-Bearer'] = bearer;
  const res = await fetch(url, { method, headers, body: body === undefined ? undefined : JSON.stringify(body), credentials: 'omit' });
  let data = null;
  try {
    data = await res.json();
  } catch {
    data = null;
  }
  if (!res.ok) {
    const e = data?.error;
    throw new APIError(res.status, e?.code || data?.__type, e?.message || data?.Message || data?.message);
  }
  return data;
}

/** The widget API of the Helpline at base ('' for the page's own origin). */
export function newWidgetAPI(base = '') {
  const url = (instance, op) => `${base}/api/widget/${encodeURIComponent(instance)}/${op}`;
  return {
    settings: (instance) => call(url(instance, 'settings'), { method: 'GET' }),
    start: (instance, body) => call(url(instance, 'start'), { body }),
    offline: (instance, body) => call(url(instance, 'offline'), { body }),
    availability: (instance) => call(url(instance, 'availability'), { method: 'GET' }),
  };
}

export const widgetAPI = newWidgetAPI();

const storageKey = (instance) => `helpline.chat.${instance}`;

/** The chat this browser holds for instance, shared by its tabs. */
export const saved = {
  load(instance) {
    try {
      return JSON.parse(localStorage.getItem(storageKey(instance)) || 'null');
    } catch {
      return null;
    }
  },
  save(instance, chat) {
    try {
      localStorage.setItem(storageKey(instance), JSON.stringify(chat));
    } catch {
      /* private mode: the chat lasts as long as the page */
    }
  },
  clear(instance) {
    try {
      localStorage.removeItem(storageKey(instance));
    } catch {
      /* nothing kept */
    }
  },
  key: storageKey,
};

/**
 * Connection is one chat's participant connection. It calls
 * onItems(items) with items from the socket or transcript (possibly ones
 * seen before: the caller keeps them by Id), onStatus(status) with
 * 'connecting' | 'online' | 'offline' | 'ended', and onTyping(item).
 * base is the Helpline the participant API is at ('' for the page's own
 * origin); the WebSocket URL is the one the API answers.
 */
export class Connection {
  constructor(chat, { onItems, onStatus, onTyping, base = '' }) {
    this.chat = chat; // {contactId, participantId, participantToken, connectionToken}
    this.base = base;
    this.onItems = onItems;
    this.onStatus = onStatus;
    this.onTyping = onTyping;
    this.attempt = 0;
    this.closed = false;
    this.status = '';
    this.known = new Set();
    this.onOnline = () => this.reconnectSoon(0);
    window.addEventListener('online', this.onOnline);
  }

  setStatus(s) {
    if (this.status !== s) {
      this.status = s;
      this.onStatus(s);
    }
  }

  /** Opens (or reopens) the socket, then refills the transcript. */
  async connect() {
    if (this.closed) return;
    clearTimeout(this.retryTimer);
    this.setStatus(this.status === 'offline' ? 'offline' : 'connecting');
    let conn;
    try {
      conn = await call(this.base + '/participant/connection', {
        bearer: this.chat.participantToken,
        body: { Type: ['WEBSOCKET', 'CONNECTION_CREDENTIALS'], ConnectParticipant: true },
      });
    } catch (e) {
      if (e.status === 403 || e.status === 404) return this.end();
      return this.reconnectSoon();
    }
    if (this.closed) return;
    this.chat.connectionToken = conn.ConnectionCredentials.ConnectionToken;
    this.openSocket(conn.Websocket.Url);
  }

  openSocket(url) {
    this.dropSocket();
    const ws = new WebSocket(url);
    this.ws = ws;
    let subscribed = false;
    ws.onopen = () => {
      ws.send(JSON.stringify({ topic: 'aws/subscribe', content: { topics: ['aws/chat'] } }));
      this.awaitingBeat = false;
      this.beat = setInterval(() => {
        if (this.awaitingBeat) {
          ws.close();
          return;
        }
        this.awaitingBeat = true;
        try {
          ws.send(JSON.stringify({ topic: 'aws/heartbeat' }));
        } catch {
          ws.close();
        }
      }, 10000);
    };
    ws.onmessage = (ev) => {
      let msg;
      try {
        msg = JSON.parse(ev.data);
      } catch {
        return;
      }
      if (msg.topic === 'aws/heartbeat') {
        this.awaitingBeat = false;
      } else if (msg.topic === 'aws/subscribe' && msg.content?.status === 'success' && !subscribed) {
        subscribed = true;
        this.attempt = 0;
        this.refill().then(() => {
          if (this.ws === ws && !this.closed && this.status !== 'ended') this.setStatus('online');
        }, () => ws.close());
      } else if (msg.topic === 'aws/chat') {
        let item;
        try {
          item = JSON.parse(msg.content);
        } catch {
          return;
        }
        this.deliver([item]);
      }
    };
    ws.onclose = () => {
      clearInterval(this.beat);
      if (this.ws !== ws) return;
      this.ws = null;
      if (!this.closed) {
        this.setStatus('offline');
        this.reconnectSoon();
      }
    };
  }

  deliver(items) {
    const fresh = [];
    for (const it of items) {
      if (it.ContentType === CT.typing) {
        if (it.ParticipantId !== this.chat.participantId) this.onTyping(it);
        continue;
      }
      fresh.push(it);
      if (it.Id) this.known.add(it.Id);
    }
    if (fresh.length) this.onItems(fresh);
    if (fresh.some((it) => it.ContentType === CT.ended)) this.end();
  }

  /** Fetches the transcript backward until it reaches known items. */
  async refill() {
    let next;
    for (let page = 0; page < 20; page++) {
      const body = { MaxResults: 100, ScanDirection: 'BACKWARD', SortOrder: 'ASCENDING' };
      if (next) body.NextToken = next;
      const out = await this.participant('/participant/transcript', body);
      const items = out.Transcript || [];
      const reachedKnown = items.some((it) => this.known.has(it.Id));
      this.deliver(items);
      next = out.NextToken;
      if (!next || reachedKnown) return;
    }
  }

  reconnectSoon(delay) {
    if (this.closed) return;
    clearTimeout(this.retryTimer);
    const d = delay ?? Math.min(30000, 1000 * 2 ** this.attempt) * (0.7 + Math.random() * 0.6);
    this.attempt++;
    this.retryTimer = setTimeout(() => this.connect(), d);
  }

  /** Calls a participant operation with the connection token. */
  async participant(path, body) {
    try {
      return await call(this.base + path, { bearer: this.chat.connectionToken, body });
    } catch (e) {
      if (e.status === 403 && !this.closed) {
        // The connection token may have run out: get a new one once.
        const conn = await call(this.base + '/participant/connection', {
          bearer: this.chat.participantToken,
          body: { Type: ['CONNECTION_CREDENTIALS'] },
        }).catch(() => null);
        if (!conn) {
          this.end();
          throw e;
        }
        this.chat.connectionToken = conn.ConnectionCredentials.ConnectionToken;
        return call(this.base + path, { bearer: this.chat.connectionToken, body });
      }
      throw e;
    }
  }

  send(contentType, content, clientToken) {
    return this.participant('/participant/message', { ContentType: contentType, Content: content, ClientToken: clientToken });
  }

  event(contentType, content) {
    const body = { ContentType: contentType, ClientToken: newToken() };
    if (content !== undefined) body.Content = JSON.stringify(content);
    return this.participant('/participant/event', body);
  }

  /** Uploads file, calling progress(fraction) as it goes. */
  async upload(file, progress) {
    const start = await this.participant('/participant/start-attachment-upload', {
      ContentType: file.type, AttachmentSizeInBytes: file.size, AttachmentName: file.name, ClientToken: newToken(),
    });
    await new Promise((resolve, reject) => {
      const xhr = new XMLHttpRequest();
      xhr.open('PUT', start.UploadMetadata.Url);
      for (const [k, v] of Object.entries(start.UploadMetadata.HeadersToInclude || {})) xhr.setRequestHeader(k, v);
      xhr.upload.onprogress = (e) => e.lengthComputable && progress(e.loaded / e.total);
      xhr.onload = () => (xhr.status < 300 ? resolve() : reject(new APIError(xhr.status, '', `upload failed (${xhr.status})`)));
      xhr.onerror = () => reject(new APIError(0, '', 'network error'));
      xhr.send(file);
    });
    await this.participant('/participant/complete-attachment-upload', { AttachmentIds: [start.AttachmentId], ClientToken: newToken() });
  }

  async attachmentURL(id) {
    const out = await this.participant('/participant/attachment', { AttachmentId: id });
    return out.Url;
  }

  disconnect() {
    return this.participant('/participant/disconnect', { ClientToken: newToken() });
  }

  /** Closes the socket, if any, without reconnecting. */
  dropSocket() {
    if (this.ws) {
      const ws = this.ws;
      this.ws = null;
      clearInterval(this.beat);
      ws.onclose = null;
      ws.close();
    }
  }

  end() {
    if (this.closed) return;
    this.close();
    this.setStatus('ended');
  }

  close() {
    this.closed = true;
    clearTimeout(this.retryTimer);
    window.removeEventListener('online', this.onOnline);
    this.dropSocket();
  }
}
