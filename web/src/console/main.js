// The agent console: a browser client of the agent API only. Everything
// shown from the server is rendered as text by Preact (no innerHTML).
import { h, render } from 'preact';
import { useEffect, useRef, useState } from 'preact/hooks';
import htm from 'htm';
import { api, setCsrf, ApiError, upload, clientToken, onUnauthorized } from './api.js';
import { Live, newState } from './live.js';
import { SupervisorView } from './supervisor.js';
import { AdminView } from './admin.js';

const html = htm.bind(h);

const state = newState();
let live = null;
let rerender = () => {};
const changed = () => rerender();
const signedIn = 'helpline.console.signedIn';

// ---------------------------------------------------------------- alerts

let audio = null;
function beep() {
  try {
    audio = audio || new AudioContext();
    const osc = audio.createOscillator();
    const gain = audio.createGain();
    osc.frequency.value = 880;
    gain.gain.setValueAtTime(0.15, audio.currentTime);
    gain.gain.exponentialRampToValueAtTime(0.001, audio.currentTime + 0.35);
    osc.connect(gain).connect(audio.destination);
    osc.start();
    osc.stop(audio.currentTime + 0.35);
  } catch (e) { /* no sound where audio is unavailable */ }
}

function notifyOffer(offer) {
  beep();
  if (typeof Notification !== 'undefined' && Notification.permission === 'granted' && document.hidden) {
    try {
      new Notification('New chat offered', { body: `Queue ${offer.queue}`, tag: offer.id });
    } catch (e) { /* some browsers only notify from a service worker */ }
  }
}

// ----------------------------------------------------------------- helpers

// A paperclip, drawn rather than an emoji, which not every system has.
const Clip = () => html`<svg class="icon" viewBox="0 0 24 24" width="16" height="16" aria-hidden="true" focusable="false"><path d="M21 11.5l-8.6 8.6a5.5 5.5 0 01-7.8-7.8l8.6-8.6a3.7 3.7 0 015.2 5.2l-8.6 8.6a1.8 1.8 0 01-2.6-2.6l7.9-7.9" fill="none" stroke="currentColor" stroke-width="2" stroke-linecap="round" stroke-linejoin="round"/></svg>`;

// loadCanned reads the canned responses again: at sign-in and whenever
// "/" starts a reply, so that an admin's new ones show without a reload.
function loadCanned() {
  api('GET', '/api/agent/canned').then((d) => { state.canned = d.canned; changed(); }).catch(() => {});
}

function secondsLeft(iso) {
  return Math.max(0, Math.round((Date.parse(iso) - Date.now()) / 1000));
}

function waitText(seconds) {
  if (!seconds) return '—';
  const s = Math.round(seconds);
  return s < 60 ? `${s}s` : `${Math.floor(s / 60)}m ${s % 60}s`;
}

function timeText(iso) {
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? '' : d.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' });
}

function customerName(ch) {
  return (ch.detail && ch.detail.customer && ch.detail.customer.display_name) || 'Customer';
}

function handoffOf(ch) {
  for (const it of [...ch.items.values()].reverse()) {
    if (it.type === 'EVENT' && it.content_type === 'application/vnd.helpline.event.handoff') {
      try {
        return JSON.parse(it.content);
      } catch (e) {
        return null;
      }
    }
  }
  return null;
}

function useTick(ms) {
  const [, set] = useState(0);
  useEffect(() => {
    const t = setInterval(() => set((n) => n + 1), ms);
    return () => clearInterval(t);
  }, [ms]);
}

// ------------------------------------------------------------------- login

function Login({ onIn, ended }) {
  const [email, setEmail] = useState('');
  const [password, setPassword] = useState('');
  const [error, setError] = useState(ended ? 'Your session has ended; sign in again.' : '');
  const [busy, setBusy] = useState(false);
  const submit = async (e) => {
    e.preventDefault();
    setBusy(true);
    setError('');
    try {
      // A console for an instance other than the default one is opened
      // as /console/?instance=<id>.
      const instance = new URLSearchParams(location.search).get('instance') || undefined;
      const me = await api('POST', '/api/agent/login', { email, password, instance });
      onIn(me);
    } catch (err) {
      if (err.code === 'throttled') setError(`Too many failed logins. Try again in ${Math.ceil((err.retryAfter || 60) / 60)} minute(s).`);
      else if (err.code === 'unauthorized') setError('Wrong email or password.');
      else setError(err.message);
    } finally {
      setBusy(false);
    }
  };
  return html`<main class="login">
    <form class="login-card" onSubmit=${submit} aria-labelledby="login-title">
      <div class="brand"><span class="logo" aria-hidden="true">H</span> Helpline</div>
      <h1 id="login-title">Sign in to the agent console</h1>
      <label for="email">Email</label>
      <input id="email" type="email" autocomplete="username" required value=${email} onInput=${(e) => setEmail(e.target.value)} />
      <label for="password">Password</label>
      <input id="password" type="password" autocomplete="current-password" required value=${password} onInput=${(e) => setPassword(e.target.value)} />
      ${error && html`<p class="error" role="alert">${error}</p>`}
      <button class="primary" type="submit" disabled=${busy}>${busy ? 'Signing in…' : 'Sign in'}</button>
    </form>
  </main>`;
}

// ------------------------------------------------------------------ header

function Header({ view, setView, onLogout }) {
  const me = state.me;
  const setPresence = async (status) => {
    try {
      const p = await api('PUT', '/api/agent/presence', { status });
      state.presence = { status: p.status, set: p.status };
      changed();
    } catch (e) {
      state.notice = e.message;
      changed();
    }
  };
  const role = me.role;
  const status = state.presence.set || state.presence.status;
  const canNotify = typeof Notification !== 'undefined' && Notification.permission === 'default';
  return html`<header class="top">
    <div class="brand"><span class="logo" aria-hidden="true">H</span> Helpline</div>
    <nav aria-label="Views">
      <button class=${view === 'inbox' ? 'tab on' : 'tab'} aria-current=${view === 'inbox' ? 'page' : undefined} onClick=${() => setView('inbox')}>Inbox</button>
      ${role !== 'agent' && html`<button class=${view === 'supervise' ? 'tab on' : 'tab'} aria-current=${view === 'supervise' ? 'page' : undefined} onClick=${() => setView('supervise')}>Supervise</button>`}
      ${role === 'admin' && html`<button class=${view === 'admin' ? 'tab on' : 'tab'} aria-current=${view === 'admin' ? 'page' : undefined} onClick=${() => setView('admin')}>Admin</button>`}
    </nav>
    <div class="spacer"></div>
    ${canNotify && html`<button class="ghost small" onClick=${() => Notification.requestPermission().then(changed)}>Enable notifications</button>`}
    <div class="presence" role="group" aria-label="Your status">
      ${['online', 'away', 'offline'].map((s) => html`<button class=${`pres ${s}${status === s ? ' on' : ''}`} aria-pressed=${status === s} onClick=${() => setPresence(s)}>${s[0].toUpperCase() + s.slice(1)}</button>`)}
    </div>
    <span class="who">${me.agent ? me.agent.name : 'API token'}</span>
    <button class="ghost small" onClick=${onLogout}>Sign out</button>
  </header>`;
}

// --------------------------------------------------------------- left pane

// OfferPreview is what an offered chat shows before it is accepted: who
// the customer is, why the bot handed over, what they last asked.
function OfferPreview({ p }) {
  if (!p) return null;
  const attrs = Object.entries(p.attributes || {});
  return html`<div class="offer-preview">
    <p class="custname">${p.customer_name || 'Customer'}
      ${p.identity && html` <span class=${p.identity === 'verified' ? 'label ok' : 'label'}>${p.identity}</span>`}</p>
    ${p.reason && html`<p class="small"><span class="muted">Reason</span> <span class="offer-reason">${p.reason.replace(/_/g, ' ')}</span></p>`}
    ${p.summary && html`<p class="small offer-summary">${p.summary}</p>`}
    ${p.last_question && html`<blockquote class="small offer-question">${p.last_question}</blockquote>`}
    ${p.intents && p.intents.length > 0 && html`<p class="chips">${p.intents.map((i) => html`<span class="chip">${i}</span>`)}</p>`}
    ${attrs.length > 0 && html`<dl class="attrs small">${attrs.map(([k, v]) => html`<dt>${k.replace(/_/g, ' ')}</dt><dd>${v}</dd>`)}</dl>`}
  </div>`;
}

function Sidebar() {
  useTick(1000);
  const accept = async (o) => {
    try {
      await api('POST', `/api/agent/offers/${encodeURIComponent(o.id)}/accept`);
      state.offers.delete(o.id);
      state.active = o.contact || o.contact_id;
    } catch (e) {
      state.notice = e.code === 'quota' ? 'You are at capacity: close a chat first.' : e.message;
      state.offers.delete(o.id);
    }
    changed();
  };
  const decline = async (o) => {
    try {
      await api('POST', `/api/agent/offers/${encodeURIComponent(o.id)}/decline`);
    } catch (e) { /* gone already */ }
    state.offers.delete(o.id);
    changed();
  };
  const offers = [...state.offers.values()].filter((o) => secondsLeft(o.expires_at) > 0);
  const chats = [...state.chats.values()];
  return html`<aside class="left" aria-label="Queues and chats">
    <section aria-labelledby="queues-h">
      <h2 id="queues-h">Queues</h2>
      <ul class="queues">
        ${[...state.queues.values()].map((q) => html`<li>
          <span class="qname">${q.name || q.id}</span>
          <span class=${q.waiting ? 'count busy' : 'count'} aria-label=${`${q.waiting || 0} waiting`}>${q.waiting || 0}</span>
          <span class="muted small">${q.waiting ? `longest ${waitText(q.oldest_since ? (Date.now() - Date.parse(q.oldest_since)) / 1000 : q.longest_wait_seconds)}` : 'no one waiting'}</span>
        </li>`)}
      </ul>
    </section>
    ${offers.length > 0 && html`<section aria-labelledby="offers-h" class="offers">
      <h2 id="offers-h">Offers</h2>
      ${offers.map((o) => {
        const left = secondsLeft(o.expires_at);
        const total = Math.max(1, (Date.parse(o.expires_at) - Date.parse(o.created_at)) / 1000);
        return html`<div class="offer" role="alert" data-offer=${o.id}>
          <div class="offer-head"><strong>New chat</strong> <span class="muted">in ${o.queue}</span>
            <span class="countdown" aria-label=${`${left} seconds left`}>${left}s</span></div>
          <div class="bar"><span style=${{ width: `${Math.round((100 * left) / total)}%` }}></span></div>
          <${OfferPreview} p=${o.preview} />
          <div class="row"><button class="primary" onClick=${() => accept(o)}>Accept</button><button class="ghost" onClick=${() => decline(o)}>Decline</button></div>
        </div>`;
      })}
    </section>`}
    <section aria-labelledby="chats-h">
      <h2 id="chats-h">My chats <span class="muted">${chats.filter((c) => !c.gone).length}/${state.me.agent ? state.me.agent.capacity : '–'}</span></h2>
      ${chats.length === 0 && html`<p class="muted empty">No chats yet. Go online to receive offers.</p>`}
      <ul class="chatlist">
        ${chats.map((ch) => {
          const last = [...ch.items.values()].filter((it) => it.type === 'MESSAGE' || it.type === 'ATTACHMENT').pop();
          return html`<li>
            <button class=${`chatitem${state.active === ch.contact ? ' on' : ''}${ch.gone ? ' gone' : ''}`} onClick=${() => { state.active = ch.contact; ch.unread = 0; changed(); }}>
              <span class="avatar" aria-hidden="true">${customerName(ch).slice(0, 1).toUpperCase()}</span>
              <span class="chatmeta"><span class="name">${customerName(ch)}</span>
                <span class="preview">${ch.gone ? 'Ended or moved' : last ? (last.type === 'ATTACHMENT' ? `Attachment: ${(last.attachments && last.attachments[0] && last.attachments[0].Name) || 'file'}` : last.content) : '…'}</span></span>
              ${ch.unread > 0 && html`<span class="unread" aria-label=${`${ch.unread} unread`}>${ch.unread}</span>`}
            </button>
          </li>`;
        })}
      </ul>
    </section>
  </aside>`;
}

// ------------------------------------------------------------ conversation

function systemText(it) {
  const ct = it.content_type || '';
  const who = it.display_name || it.role;
  if (ct.endsWith('participant.joined')) return `${who} joined`;
  if (ct.endsWith('participant.left')) return `${who} left`;
  if (ct.endsWith('chat.ended')) return 'The chat ended';
  if (ct.endsWith('handoff')) return 'The bot handed the chat to a person';
  if (ct.endsWith('handback')) return 'Handed back to the bot';
  if (ct.endsWith('customer.updated')) return 'Customer details updated';
  if (ct.endsWith('owner.changed')) {
    try {
      const c = JSON.parse(it.content);
      const [kind, id] = (c.to || '').split(/:(.*)/);
      if (kind === 'queue') return `Waiting in queue ${id}`;
      if (kind === 'agent') return c.reason === 'accepted' ? `Accepted by ${id}` : `Assigned to ${id}${c.reason ? ` (${c.reason})` : ''}`;
      if (kind === 'bot') return 'With the bot';
      return 'No one holds the chat';
    } catch (e) {
      return 'The chat changed hands';
    }
  }
  return null;
}

function Item({ ch, it }) {
  if (it.type === 'MESSAGEMETADATA' || it.type === 'CONNECTION_ACK') return null;
  if (it.type === 'EVENT') {
    const text = systemText(it);
    return text && html`<li class="sys" data-seq=${it.seq}><span>${text} · ${timeText(it.time)}</span></li>`;
  }
  const mine = it.role === 'AGENT';
  const cls = mine ? 'msg agent' : it.role === 'CUSTOM_BOT' ? 'msg bot' : it.role === 'SYSTEM' ? 'msg system' : 'msg customer';
  const read = mine && ch.read.has(it.id);
  return html`<li class=${cls} data-seq=${it.seq}>
    <div class="bubble">
      <div class="by">${it.role === 'CUSTOM_BOT' ? html`<span class="badge">Bot</span> ` : ''}${it.display_name || it.role}</div>
      ${it.type === 'ATTACHMENT'
        ? (it.attachments || []).map((a) => html`<a class="file" href=${`/api/agent/chats/${encodeURIComponent(ch.contact)}/attachments/${encodeURIComponent(a.ID)}`} download=${a.Name}><${Clip} /><span>${a.Name}</span></a>`)
        : html`<div class="text">${it.content}</div>`}
      <div class="meta">${timeText(it.time)}${mine && html`<span class=${read ? 'receipt read' : 'receipt'}>${read ? ' · Read' : ' · Sent'}</span>`}</div>
    </div>
  </li>`;
}

function Composer({ ch }) {
  const [text, setText] = useState(ch.draft);
  const [sel, setSel] = useState(0);
  const lastTyping = useRef(0);
  const fileRef = useRef(null);
  useEffect(() => setText(ch.draft), [ch.contact]);
  const slash = /^\/(\S*)$/.exec(text);
  const matches = slash ? state.canned.filter((c) => c.shortcut.includes(slash[1].toLowerCase()) || c.text.toLowerCase().includes(slash[1].toLowerCase())).slice(0, 6) : [];
  const base = `/api/agent/chats/${encodeURIComponent(ch.contact)}`;
  const send = async () => {
    const content = text.trim();
    if (!content) return;
    const token = clientToken();
    setText('');
    ch.draft = '';
    try {
      const it = await api('POST', `${base}/messages`, { content, client_token: token });
      live.item(ch.contact, it.seq, it);
    } catch (e) {
      setText(content);
      state.notice = `Not sent: ${e.message}`;
    }
    changed();
  };
  const insert = (c) => {
    setText(c.text);
    ch.draft = c.text;
  };
  const onKey = (e) => {
    if (matches.length) {
      if (e.key === 'ArrowDown') { setSel((sel + 1) % matches.length); e.preventDefault(); return; }
      if (e.key === 'ArrowUp') { setSel((sel + matches.length - 1) % matches.length); e.preventDefault(); return; }
      if (e.key === 'Enter' || e.key === 'Tab') { insert(matches[Math.min(sel, matches.length - 1)]); e.preventDefault(); return; }
    }
    if (e.key === 'Enter' && !e.shiftKey) {
      e.preventDefault();
      send();
    }
  };
  const onInput = (e) => {
    if (e.target.value.startsWith('/') && !text.startsWith('/')) loadCanned();
    setText(e.target.value);
    ch.draft = e.target.value;
    setSel(0);
    if (Date.now() - lastTyping.current > 3000 && e.target.value && !e.target.value.startsWith('/')) {
      lastTyping.current = Date.now();
      api('POST', `${base}/typing`).catch(() => {});
    }
  };
  const attach = async (file) => {
    const up = { name: file.name, progress: 0, error: '' };
    ch.uploads.push(up);
    changed();
    try {
      const token = clientToken();
      const start = await api('POST', `${base}/attachments`, { name: file.name, content_type: file.type || 'application/octet-stream', size: file.size, client_token: token });
      await upload(start.upload_url, file, (p) => { up.progress = p; changed(); });
      const it = await api('POST', `${base}/attachments/${encodeURIComponent(start.attachment_id)}/complete`, { client_token: token });
      live.item(ch.contact, it.seq, it);
      ch.uploads = ch.uploads.filter((u) => u !== up);
    } catch (e) {
      up.error = e.message;
    }
    changed();
  };
  return html`<div class="composer">
    ${matches.length > 0 && html`<ul class="canned" role="listbox" aria-label="Canned responses">
      ${matches.map((c, i) => html`<li role="option" aria-selected=${i === sel} class=${i === sel ? 'on' : ''} onMouseDown=${(e) => { e.preventDefault(); insert(c); }}>
        <strong>/${c.shortcut}</strong> <span class="muted">${c.text}</span></li>`)}
    </ul>`}
    ${ch.uploads.map((u) => html`<div class="upload"><span>${u.name}</span>
      ${u.error ? html`<span class="error">${u.error}</span>` : html`<progress max="1" value=${u.progress} aria-label=${`Uploading ${u.name}`}></progress>`}</div>`)}
    <div class="row">
      <label class="sr-only" for="composer-text">Message</label>
      <textarea id="composer-text" rows="2" placeholder="Reply… ( / for canned responses)" value=${text} onInput=${onInput} onKeyDown=${onKey}></textarea>
      <input type="file" class="sr-only" id="composer-file" aria-label="Attach a file" tabindex="-1" ref=${fileRef} onChange=${(e) => { const f = e.target.files[0]; e.target.value = ''; if (f) attach(f); }} />
      <button class="ghost" onClick=${() => fileRef.current.click()} aria-label="Attach a file"><${Clip} /></button>
      <button class="primary" onClick=${send}>Send</button>
    </div>
  </div>`;
}

function Actions({ ch }) {
  const [open, setOpen] = useState(false);
  const [target, setTarget] = useState('');
  const [kind, setKind] = useState('queue');
  const base = `/api/agent/chats/${encodeURIComponent(ch.contact)}`;
  const act = async (path, body, done) => {
    try {
      const out = await api('POST', `${base}/${path}`, body);
      if (done) done(out);
    } catch (e) {
      state.notice = e.code === 'quota' ? 'That agent is at capacity.' : e.message;
    }
    changed();
  };
  return html`<div class="actions">
    <button class="ghost" onClick=${() => setOpen(!open)} aria-expanded=${open}>Transfer</button>
    <button class="ghost" onClick=${() => act('handback', undefined, () => { state.notice = 'Handed back to the bot.'; })}>Hand back to bot</button>
    <button class="danger" onClick=${() => act('close', undefined, () => { ch.gone = true; })}>Close chat</button>
    ${open && html`<form class="transfer" onSubmit=${(e) => {
      e.preventDefault();
      act('transfer', kind === 'queue' ? { queue_id: target } : { agent_id: target }, (out) => {
        setOpen(false);
        state.notice = out && out.nobody_online ? `Transferred to queue ${target} — nobody there is online right now; the chat waits.` : `Transferred to ${target}.`;
      });
    }}>
      <label for="tr-kind">To</label>
      <select id="tr-kind" value=${kind} onChange=${(e) => { setKind(e.target.value); setTarget(''); }}>
        <option value="queue">a queue</option><option value="agent">an agent</option>
      </select>
      ${kind === 'queue'
        ? html`<label class="sr-only" for="tr-target">Queue</label><select id="tr-target" value=${target} onChange=${(e) => setTarget(e.target.value)} required>
            <option value="">Choose…</option>
            ${[...state.queues.values()].map((q) => html`<option value=${q.id}>${q.name || q.id}</option>`)}</select>`
        : html`<label class="sr-only" for="tr-target">Agent id</label><input id="tr-target" placeholder="agent id" value=${target} onInput=${(e) => setTarget(e.target.value)} required />`}
      <button class="primary" type="submit">Transfer</button>
    </form>`}
  </div>`;
}

function Conversation({ ch }) {
  const listRef = useRef(null);
  const stick = useRef(true);
  useTick(1000);
  const items = [...ch.items.values()].sort((a, b) => a.seq - b.seq);
  useEffect(() => {
    const el = listRef.current;
    if (el && stick.current) el.scrollTop = el.scrollHeight;
  });
  // A read receipt for the newest customer message while the chat is on screen.
  useEffect(() => {
    const lastCustomer = items.filter((it) => it.role === 'CUSTOMER' && it.type === 'MESSAGE').pop();
    // Connect takes receipts only between two participants (not while the
    // bot is still in the chat, say).
    const present = ch.detail ? ch.detail.participants.filter((p) => !p.left_at).length : 0;
    if (!ch.gone && present === 2 && lastCustomer && ch.readSent !== lastCustomer.id && !document.hidden) {
      ch.readSent = lastCustomer.id;
      api('POST', `/api/agent/chats/${encodeURIComponent(ch.contact)}/read`, { message_id: lastCustomer.id }).catch(() => {});
    }
  });
  const typing = ch.typing && ch.typing.until > Date.now();
  const canOlder = (ch.firstSeq || ch.from + 1) > 1;
  return html`<section class="centre" aria-label="Conversation">
    <div class="convhead">
      <div><h2>${customerName(ch)}</h2><span class="muted small">${ch.queue ? `Queue ${ch.queue}` : ''}${ch.since ? ` · since ${timeText(ch.since)}` : ''}</span></div>
      ${!ch.gone && html`<${Actions} ch=${ch} />`}
    </div>
    <ol class="transcript" ref=${listRef} aria-live="polite" onScroll=${(e) => { const el = e.target; stick.current = el.scrollHeight - el.scrollTop - el.clientHeight < 40; }}>
      ${canOlder && html`<li class="older"><button class="ghost small" onClick=${() => live.loadOlder(ch)}>Load earlier messages</button></li>`}
      ${items.map((it) => html`<${Item} key=${it.seq} ch=${ch} it=${it} />`)}
    </ol>
    <div class="typing" aria-live="polite">${typing ? `${ch.typing.name} is typing…` : ''}</div>
    ${ch.gone ? html`<div class="ended">This chat is no longer yours. <button class="ghost small" onClick=${() => { state.chats.delete(ch.contact); state.active = ''; changed(); }}>Remove from list</button></div>` : html`<${Composer} ch=${ch} />`}
  </section>`;
}

// -------------------------------------------------------------- right pane

function ticketLabel(t) {
  const names = { zendesk: 'Zendesk', freshdesk: 'Freshdesk', kustomer: 'Kustomer', zendesksell: 'Zendesk Sell' };
  const kind = Object.keys(names).find((k) => t.connector.toLowerCase().startsWith(k));
  return kind ? names[kind] : t.connector;
}

function Context({ ch }) {
  const d = ch.detail;
  const ho = handoffOf(ch);
  const attrs = (d && d.attributes) || {};
  const verified = attrs.helpline_identity_verified === 'true';
  const shown = Object.entries(attrs).filter(([k]) => k !== 'helpline_identity_verified' && k !== 'bot_summary');
  return html`<aside class="right" aria-label="Customer and context">
    <section>
      <h2>Customer</h2>
      ${!d ? html`<p class="muted">Loading…</p>` : html`
        <p class="custname">${d.customer.display_name || 'Customer'}
          <span class=${verified ? 'label ok' : 'label'} title=${verified ? 'Identity verified by the site' : 'Identity not verified'}>${verified ? 'verified' : 'unverified'}</span></p>
        ${d.customer.customer_id && html`<p class="muted small">id ${d.customer.customer_id}</p>`}
        ${shown.length > 0 && html`<dl class="attrs">${shown.map(([k, v]) => html`<dt>${k}</dt><dd>${v}</dd>`)}</dl>`}`}
    </section>
    <section>
      <h2>Bot handoff</h2>
      ${ho || (d && d.bot_summary) ? html`<div class="handoff">
        <p>${(ho && ho.summary) || d.bot_summary}</p>
        ${ho && ho.reason && html`<p class="small"><span class="muted">Reason</span> ${ho.reason}</p>`}
        ${ho && ho.intents && ho.intents.length > 0 && html`<p class="chips">${ho.intents.map((i) => html`<span class="chip">${i}</span>`)}</p>`}
        ${ho && ho.entities && html`<dl class="attrs">${Object.entries(ho.entities).map(([k, v]) => html`<dt>${k}</dt><dd>${v}</dd>`)}</dl>`}
      </div>` : html`<p class="muted">No bot handoff in this chat.</p>`}
    </section>
    <section>
      <h2>Linked tickets</h2>
      ${d && d.tickets.length ? html`<ul class="tickets">${d.tickets.map((t) => html`<li><strong>${ticketLabel(t)}</strong>
        ${/^https?:\/\//i.test(t.url || '') && html` <a class="ticket-link" href=${t.url} target="_blank" rel="noopener noreferrer">Open${t.refs.ticket_id ? ` #${t.refs.ticket_id}` : ''}</a>`}
        ${Object.entries(t.refs).filter(([k]) => !k.endsWith('instance_id')).map(([k, v]) => /^https:\/\//.test(v)
          ? html` <a href=${v} target="_blank" rel="noopener noreferrer">${k}</a>`
          : html` <span class="muted small">${k.replace(/_/g, ' ')}</span> ${v}`)}
        <span class="muted small"> · ${t.state}</span></li>`)}</ul>` : html`<p class="muted">None yet.</p>`}
    </section>
  </aside>`;
}

// --------------------------------------------------------------------- app

function Inbox() {
  const ch = state.chats.get(state.active);
  return html`<div class="inbox">
    <${Sidebar} />
    ${ch ? html`<${Conversation} key=${ch.contact} ch=${ch} /><${Context} ch=${ch} />`
      : html`<section class="centre empty-state" aria-label="Conversation"><div><h2>No chat open</h2><p class="muted">Accept an offer, or pick a chat on the left.</p></div></section>`}
  </div>`;
}

function App() {
  const [, setN] = useState(0);
  const [view, setView] = useState('inbox');
  const [ready, setReady] = useState(false);
  rerender = () => setN((n) => n + 1);
  const enter = async (me) => {
    localStorage.setItem(signedIn, '1');
    setCsrf(me.csrf_token);
    state.me = me;
    loadCanned();
    live = new Live(state, changed, { offer: notifyOffer });
    live.start();
    setReady(true);
  };
  // A reloaded console asks who it is only when it was signed in, so that
  // a first visit makes no request bound to fail.
  useEffect(() => {
    if (localStorage.getItem(signedIn) !== '1') {
      setReady(true);
      return;
    }
    api('GET', '/api/agent/me').then(enter).catch(() => {
      localStorage.removeItem(signedIn);
      setReady(true);
    });
  }, []);
  useEffect(() => {
    if (!state.notice) return undefined;
    const t = setTimeout(() => { state.notice = ''; changed(); }, 6000);
    return () => clearTimeout(t);
  });
  onUnauthorized(() => {
    if (!state.me) return;
    if (live) live.stop();
    localStorage.removeItem(signedIn);
    Object.assign(state, newState());
    setCsrf('');
    state.ended = true;
    changed();
  });
  if (!ready) return html`<main class="login"><p class="muted">Loading…</p></main>`;
  if (!state.me) return html`<${Login} onIn=${enter} ended=${state.ended} />`;
  const logout = async () => {
    try { await api('POST', '/api/agent/logout'); } catch (e) { /* the session may have ended already */ }
    live.stop();
    localStorage.removeItem(signedIn);
    Object.assign(state, newState());
    setCsrf('');
    changed();
  };
  const unread = [...state.chats.values()].reduce((n, c) => n + c.unread, 0);
  document.title = unread ? `(${unread}) Helpline console` : 'Helpline console';
  return html`<div class="shell">
    <${Header} view=${view} setView=${setView} onLogout=${logout} />
    ${state.socket === 'stale' && html`<div class="banner" role="status">Connection lost — reconnecting; messages will catch up.</div>`}
    ${state.notice && html`<div class="notice" role="status">${state.notice}</div>`}
    <main class="main">
      ${view === 'inbox' && html`<${Inbox} />`}
      ${view === 'supervise' && html`<${SupervisorView} />`}
      ${view === 'admin' && html`<${AdminView} me=${state.me} />`}
    </main>
  </div>`;
}

export { ApiError };
render(html`<${App} />`, document.getElementById('app'));
