// The console's live state: one agent WebSocket, its events applied to
// the state, and on a dropped socket a stale flag, reconnection with
// backoff and a resume from the last Seq held per chat, so that nothing
// is missed and nothing shown twice (items are kept by Seq).
import { api } from './api.js';

// How many items a chat first shows; older ones load on demand.
export const PAGE = 50;

export function newState() {
  return {
    me: null,
    presence: { status: 'offline', set: 'offline' },
    queues: new Map(), // id -> {id, name, waiting, longest_wait_seconds, oldest_since}
    offers: new Map(), // id -> offer
    chats: new Map(), // contact id -> chat (newChat)
    active: '', // the contact id of the open tab
    socket: 'connecting', // connecting | open | stale
    canned: [],
    notice: '',
    ended: false, // the session ended under the console
  };
}

function newChat(contact, queue, since, lastSeq) {
  return {
    contact, queue, since, serverLastSeq: lastSeq || 0,
    items: new Map(), // seq -> item
    firstSeq: 0, // the lowest Seq held (0: none)
    lastSeq: 0, // the highest Seq held
    from: 0, // the Seq items were asked after
    detail: null,
    typing: null, // {name, until}
    read: new Set(), // ids of my messages the customer read
    readSent: '', // the last customer message I sent a receipt for
    gone: false, // no longer mine (closed, transferred, handed back)
    unread: 0,
    draft: '',
    uploads: [], // {name, progress, error}
  };
}

export class Live {
  constructor(state, changed, hooks) {
    this.s = state;
    this.changed = changed;
    this.hooks = hooks; // {offer(offer)}
    this.ws = null;
    this.backoff = 1000;
    this.timer = 0;
    this.lastFrame = 0;
    this.stopped = false;
  }

  start() {
    this.stopped = false;
    this.connect();
    this.pinger = setInterval(() => this.ping(), 20000);
  }

  stop() {
    this.stopped = true;
    clearInterval(this.pinger);
    clearTimeout(this.timer);
    if (this.ws) this.ws.close(1000);
    this.ws = null;
  }

  connect() {
    // After a failed reconnect, ask whether the session still stands: a
    // 401 ends the console's sign-in (api's onUnauthorized).
    if (this.backoff > 1000) api('GET', '/api/agent/me').catch(() => {});
    const url = `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/api/agent/ws`;
    const ws = new WebSocket(url);
    this.ws = ws;
    ws.onmessage = (e) => {
      this.lastFrame = Date.now();
      let ev;
      try {
        ev = JSON.parse(e.data);
      } catch (err) {
        return;
      }
      this.apply(ev);
      this.changed();
    };
    ws.onclose = () => {
      if (this.ws !== ws) return;
      this.ws = null;
      if (this.stopped) return;
      this.s.socket = 'stale';
      this.changed();
      clearTimeout(this.timer);
      this.timer = setTimeout(() => this.connect(), this.backoff);
      this.backoff = Math.min(this.backoff * 2, 30000);
    };
  }

  // A socket that has said nothing for a minute is presumed dead.
  ping() {
    if (!this.ws || this.ws.readyState !== WebSocket.OPEN) return;
    if (this.lastFrame && Date.now() - this.lastFrame > 60000) {
      this.ws.close();
      return;
    }
    this.ws.send(JSON.stringify({ type: 'ping' }));
  }

  send(frame) {
    if (this.ws && this.ws.readyState === WebSocket.OPEN) this.ws.send(JSON.stringify(frame));
  }

  apply(ev) {
    const s = this.s;
    switch (ev.type) {
      case 'hello': return this.hello(ev);
      case 'resumed':
        s.socket = 'open';
        this.backoff = 1000;
        return;
      case 'offer': {
        // The same offer comes again when its preview gained the bot's
        // handoff: it is updated, and notified once.
        const known = s.offers.has(ev.offer.id);
        s.offers.set(ev.offer.id, ev.offer);
        if (!known) this.hooks.offer(ev.offer);
        return;
      }
      case 'offer.closed':
        s.offers.delete(ev.offer.id);
        return;
      case 'assigned': {
        const c = ev.chat;
        let ch = s.chats.get(c.contact);
        if (!ch || ch.gone) {
          // The socket sends every item of a chat assigned; the console
          // shows its last page and loads older ones on demand.
          ch = newChat(c.contact, c.queue, c.since, c.last_seq);
          ch.from = Math.max(0, c.last_seq - PAGE);
          s.chats.set(c.contact, ch);
        }
        if (!s.active) s.active = c.contact;
        this.loadDetail(ch);
        return;
      }
      case 'unassigned': {
        const ch = s.chats.get(ev.contact);
        if (ch) ch.gone = true;
        return;
      }
      case 'item': return this.item(ev.contact, ev.seq, ev.item);
      case 'typing': {
        const ch = s.chats.get(ev.contact);
        if (ch && ev.role !== 'AGENT') {
          ch.typing = { name: ev.display_name || 'Customer', until: Date.now() + 4000 };
          setTimeout(() => this.changed(), 4100);
        }
        return;
      }
      case 'queue': {
        const q = s.queues.get(ev.queue) || { id: ev.queue, name: ev.queue };
        q.waiting = ev.waiting;
        s.queues.set(ev.queue, q);
        this.refreshQueues();
        return;
      }
      case 'presence':
        s.presence = ev.presence;
        return;
      default:
    }
  }

  // hello says where everything stands: offers, chats and queues are
  // replaced; each chat resumes after the last Seq held (or shows its
  // last page when new to this console).
  hello(ev) {
    const s = this.s;
    s.presence = ev.presence || s.presence;
    s.offers = new Map((ev.offers || []).map((o) => [o.id, o]));
    for (const q of ev.queues || []) {
      const old = s.queues.get(q.queue) || { id: q.queue, name: q.queue };
      old.waiting = q.waiting;
      s.queues.set(q.queue, old);
    }
    const mine = new Set();
    const seqs = {};
    for (const c of ev.chats || []) {
      mine.add(c.contact);
      let ch = s.chats.get(c.contact);
      if (!ch || ch.gone) {
        ch = newChat(c.contact, c.queue, c.since, c.last_seq);
        ch.from = Math.max(0, c.last_seq - PAGE);
        s.chats.set(c.contact, ch);
        this.loadDetail(ch);
      }
      ch.serverLastSeq = c.last_seq;
      seqs[c.contact] = ch.lastSeq || ch.from;
    }
    for (const ch of s.chats.values()) {
      if (!mine.has(ch.contact)) ch.gone = true;
    }
    if (!s.active && mine.size) s.active = [...mine][0];
    this.send({ type: 'resume', chats: seqs });
    this.refreshQueues();
  }

  item(contact, seq, item) {
    const ch = this.s.chats.get(contact);
    if (!ch || ch.items.has(seq) || seq <= ch.from) return;
    item.seq = seq;
    this.addItems(ch, [item]);
    // A socket of an older server sent receipts without their metadata.
    if (item.type === 'MESSAGEMETADATA' && !item.metadata && !ch.gone) this.loadReceipt(ch, seq);
    if (item.role === 'CUSTOMER' && item.type !== 'EVENT' && item.type !== 'MESSAGEMETADATA') {
      ch.typing = null;
      if (this.s.active !== contact || document.hidden) ch.unread++;
    }
    // Items come in Seq order, so the last owner change says whose the
    // chat is: once another's, what follows is not for this agent to read.
    if (item.type === 'EVENT' && item.content_type.endsWith('owner.changed')) {
      try {
        const me = this.s.me.agent && `agent:${this.s.me.agent.id}`;
        ch.gone = JSON.parse(item.content).to !== me;
      } catch (e) { /* unreadable: the socket's unassigned says it */ }
    }
    if (!ch.gone && item.type === 'EVENT' && /participant\.joined|customer\.updated|handoff/.test(item.content_type)) this.loadDetail(ch);
  }

  addItems(ch, items) {
    for (const it of items) {
      ch.items.set(it.seq, it);
      ch.lastSeq = Math.max(ch.lastSeq, it.seq);
      ch.firstSeq = ch.firstSeq ? Math.min(ch.firstSeq, it.seq) : it.seq;
      if (it.metadata && it.metadata.MessageID) {
        if ((it.metadata.Receipts || []).some((r) => r.ReadAt && !r.ReadAt.startsWith('0001'))) ch.read.add(it.metadata.MessageID);
      }
    }
  }

  // A receipt that came without its metadata: the transcript has it.
  async loadReceipt(ch, seq) {
    try {
      const page = await api('GET', `/api/agent/chats/${encodeURIComponent(ch.contact)}/transcript?after=${seq - 1}&limit=1`);
      this.addItems(ch, page.items.filter((it) => it.seq === seq));
      this.changed();
    } catch (e) { /* the receipt shows on the next load */ }
  }

  /** Loads the page of items before the first held. */
  async loadOlder(ch) {
    const first = ch.firstSeq || ch.from + 1;
    if (first <= 1) return;
    const after = Math.max(0, first - 1 - PAGE);
    const page = await api('GET', `/api/agent/chats/${encodeURIComponent(ch.contact)}/transcript?after=${after}&limit=${first - 1 - after}`);
    this.addItems(ch, page.items);
    ch.from = Math.min(ch.from, after);
    this.changed();
  }

  async loadDetail(ch) {
    try {
      ch.detail = await api('GET', `/api/agent/chats/${encodeURIComponent(ch.contact)}`);
      this.changed();
    } catch (e) {
      if (e.status === 403 || e.status === 404) ch.gone = true;
    }
  }

  async refreshQueues() {
    if (this.queueTimer) return;
    this.queueTimer = setTimeout(async () => {
      this.queueTimer = 0;
      try {
        const { queues } = await api('GET', '/api/agent/queues');
        for (const q of queues) this.s.queues.set(q.id, q);
        this.changed();
      } catch (e) { /* counts stay as the socket said */ }
    }, 300);
  }
}
