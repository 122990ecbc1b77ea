// The chat window: the app inside the widget's iframe, on Helpline's own
// origin. It shows the launcher while closed and the chat while open, and
// asks the host page's loader (widget.js) to size the iframe to match.
import { h, render } from 'preact';
import { useEffect, useRef, useState, useCallback } from 'preact/hooks';
import htm from 'htm';
import en from './i18n/en.js';
import { markdown, plain } from './markdown.js';
import { APIError, CT, Connection, newToken, saved, widgetAPI } from '../shared/connection.js';

const html = htm.bind(h);
const strings = en;

/** t returns the string key with {name} values filled in. */
function t(key, values) {
  return (strings[key] || key).replace(/\{(\w+)\}/g, (_, k) => String(values?.[k] ?? ''));
}

const instance = new URLSearchParams(location.search).get('instance') || 'default';
const maxUpload = 20 * 1024 * 1024;
const uploadTypes = {
  csv: 1, doc: 1, docx: 1, heic: 1, jfif: 1, jpeg: 1, jpg: 1, mov: 1, mp4: 1, pdf: 1, png: 1, ppt: 1, pptx: 1,
  rtf: 1, txt: 1, wav: 1, xls: 1, xlsx: 1,
};
const staffRoles = { AGENT: 1, SUPERVISOR: 1 };

// The host page: where layout messages go, and the only sender of
// identity tokens.
const hostOrigin = location.ancestorOrigins?.[0] || (document.referrer ? new URL(document.referrer).origin : '*');
let identityToken = '';

function tellHost(msg) {
  if (window.parent !== window) window.parent.postMessage({ source: 'helpline', ...msg }, hostOrigin);
}

window.addEventListener('message', (ev) => {
  if (ev.source !== window.parent || (hostOrigin !== '*' && ev.origin !== hostOrigin)) return;
  if (ev.data?.type === 'helpline:identity' && typeof ev.data.token === 'string') identityToken = ev.data.token;
  if (ev.data?.type === 'helpline:host') document.documentElement.toggleAttribute('data-full', !!ev.data.full);
});

function time(item) {
  return Date.parse(item.AbsoluteTime) || 0;
}

function clock(item) {
  const d = new Date(time(item));
  return d.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' });
}

function parseInteractive(content) {
  try {
    const m = JSON.parse(content);
    const c = m?.data?.content;
    if (!c || (m.templateType !== 'QuickReply' && m.templateType !== 'ListPicker')) return null;
    return { type: m.templateType, title: String(c.title || ''), subtitle: String(c.subtitle || ''),
      options: (c.elements || []).map((e) => ({ title: String(e?.title || ''), subtitle: String(e?.subtitle || '') })).filter((e) => e.title) };
  } catch {
    return null;
  }
}

function responseTitle(content) {
  try {
    return String(JSON.parse(content)?.data?.content?.title || '');
  } catch {
    return '';
  }
}

/** The text a transcript line shows for item, or '' for none. */
function itemText(it, me) {
  if (it.Type === 'ATTACHMENT') return `[${t('attachment')}: ${it.Attachments?.[0]?.AttachmentName || ''}]`;
  if (it.ContentType === CT.interactive) {
    const m = parseInteractive(it.Content);
    return m ? `${m.title} (${m.options.map((o) => o.title).join(' / ')})` : '';
  }
  if (it.ContentType === CT.response) return responseTitle(it.Content);
  if (it.ContentType === CT.joined && staffRoles[it.ParticipantRole]) return t('joined', { name: it.DisplayName });
  if (it.ContentType === CT.left && staffRoles[it.ParticipantRole]) return t('left', { name: it.DisplayName });
  if (it.ContentType === CT.ended) return t('ended');
  if (it.Type === 'MESSAGE') return it.Content || '';
  return '';
}

function downloadTranscript(items, me, title) {
  const lines = [`${t('transcriptTitle')}: ${title}`, ''];
  for (const it of items) {
    const text = itemText(it, me);
    if (!text) continue;
    const who = it.Type === 'EVENT' ? '' : `${it.ParticipantId === me ? t('you') : it.DisplayName || t('system')}: `;
    lines.push(`[${new Date(time(it)).toISOString()}] ${who}${text}`);
  }
  const url = URL.createObjectURL(new Blob([lines.join('\n') + '\n'], { type: 'text/plain' }));
  const a = document.createElement('a');
  a.href = url;
  a.download = 'chat-transcript.txt';
  document.body.appendChild(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 1000);
}

function applyTheme(s) {
  const root = document.documentElement.style;
  root.setProperty('--hl-primary', s.primary);
  root.setProperty('--hl-on-primary', s.on_primary);
  document.documentElement.dataset.position = s.position;
}

function App() {
  const [settings, setSettings] = useState(null);
  const [open, setOpen] = useState(false);
  const [chat, setChat] = useState(() => saved.load(instance));
  const [status, setStatus] = useState('');
  const [version, setVersion] = useState(0);
  const [pending, setPending] = useState([]);
  const [typing, setTyping] = useState(null);
  const [notice, setNotice] = useState('');
  const [uploads, setUploads] = useState([]);
  const [unread, setUnread] = useState(0);
  const [ended, setEnded] = useState(false);
  const items = useRef(new Map());
  const conn = useRef(null);
  const receipted = useRef(new Set());
  const openRef = useRef(open);
  openRef.current = open;

  useEffect(() => {
    widgetAPI.settings(instance).then((s) => {
      applyTheme(s);
      setSettings(s);
    }, (e) => setNotice(e.message));
  }, []);

  useEffect(() => {
    tellHost({ type: 'helpline:layout', open, position: settings?.position || 'right' });
    if (open) {
      setUnread(0);
      requestAnimationFrame(() => requestAnimationFrame(() => {
        performance.mark('helpline-open-painted');
        try {
          performance.measure('helpline-open', 'helpline-open-start', 'helpline-open-painted');
        } catch {
          /* opened without a click */
        }
      }));
    }
  }, [open, settings]);

  const addItems = useCallback((list) => {
    let changed = false;
    let fromOthers = 0;
    for (const it of list) {
      if (!it.Id) continue;
      const fresh = !items.current.has(it.Id);
      if (fresh && (it.Type === 'MESSAGE' || it.Type === 'ATTACHMENT') && it.ParticipantRole !== 'CUSTOMER' && it.ParticipantRole !== 'SYSTEM') fromOthers++;
      items.current.set(it.Id, it);
      changed = true;
      if (it.Type === 'MESSAGE' || it.Type === 'ATTACHMENT') setTyping((ty) => (ty && ty.ParticipantId === it.ParticipantId ? null : ty));
    }
    if (changed) setVersion((v) => v + 1);
    if (fromOthers && !openRef.current) setUnread((n) => n + fromOthers);
  }, []);

  // The connection follows the chat this browser holds.
  useEffect(() => {
    if (!chat) return undefined;
    setEnded(false);
    const c = new Connection(chat, {
      onItems: addItems,
      onStatus: (s) => {
        setStatus(s);
        if (s === 'ended') {
          setEnded(true);
          setTyping(null);
          saved.clear(instance);
        }
      },
      onTyping: (it) => {
        setTyping(it);
        clearTimeout(c.typingTimer);
        c.typingTimer = setTimeout(() => setTyping(null), 12000);
      },
    });
    conn.current = c;
    c.connect();
    return () => c.close();
  }, [chat]);

  // Another tab starting or ending the chat.
  useEffect(() => {
    const onStorage = (e) => {
      if (e.key !== saved.key(instance)) return;
      const next = saved.load(instance);
      if (next && (!chat || next.contactId !== chat.contactId)) {
        items.current = new Map();
        setChat(next);
      }
    };
    window.addEventListener('storage', onStorage);
    return () => window.removeEventListener('storage', onStorage);
  }, [chat]);

  const sorted = [...items.current.values()].sort((a, b) => time(a) - time(b));
  const me = chat?.participantId;

  // A read receipt for the last message from an agent once the
  // customer can see it, a delivered one while the window is closed;
  // sent 300 ms after things settle, and only while the chat has two
  // participants (Connect refuses receipts with more: 409, then none).
  const sortedRef = useRef(sorted);
  sortedRef.current = sorted;
  useEffect(() => {
    const c = conn.current;
    if (!c || ended || status !== 'online') return undefined;
    const timer = setTimeout(() => {
      const list = sortedRef.current;
      const present = new Set();
      for (const it of list) {
        if (it.ContentType === CT.left) present.delete(it.ParticipantId);
        else if (it.ParticipantId && it.ParticipantRole !== 'SYSTEM' && (it.ContentType === CT.joined || it.Type === 'MESSAGE' || it.Type === 'ATTACHMENT')) present.add(it.ParticipantId);
      }
      if (present.size > 2 || receipted.current.has('off')) return;
      // Receipts name messages: the server refuses one of an attachment.
      const last = [...list].reverse().find((it) => it.Type === 'MESSAGE' && it.ParticipantId !== me && it.ParticipantRole !== 'SYSTEM');
      // Only people read receipts: none for a bot's messages.
      if (!last || !staffRoles[last.ParticipantRole]) return;
      const kind = openRef.current && document.visibilityState === 'visible' ? 'read' : 'delivered';
      const key = `${kind}:${last.Id}`;
      if (receipted.current.has(key)) return;
      receipted.current.add(key);
      c.event(kind === 'read' ? CT.read : CT.delivered, { messageId: last.Id }).catch((e) => {
        if (e.status === 409) receipted.current.add('off');
        else receipted.current.delete(key);
      });
    }, 300);
    return () => clearTimeout(timer);
  }, [version, open, status, ended]);

  // The chat to write in: the one held, or one started now. Starts
  // racing (several messages typed before the first chat exists) share
  // one start.
  const chatRef = useRef(chat);
  chatRef.current = ended ? null : chat;
  const starting = useRef(null);

  async function connected(want) {
    for (let i = 0; i < 200 && !(conn.current?.chat === want && want.connectionToken); i++) {
      await new Promise((r) => setTimeout(r, 50));
    }
    return conn.current;
  }

  function ensureChat(form) {
    if (chatRef.current) return connected(chatRef.current);
    if (!starting.current) {
      starting.current = (async () => {
        const body = { client_token: newToken(), ...form };
        if (identityToken) body.identity_token = identityToken;
        const out = await widgetAPI.start(instance, body);
        const next = { contactId: out.contact_id, participantId: out.participant_id, participantToken: out.participant_token };
        saved.save(instance, next);
        items.current = new Map();
        receipted.current = new Set();
        chatRef.current = next;
        setChat(next);
        return connected(next);
      })().finally(() => {
        starting.current = null;
      });
    }
    return starting.current;
  }

  async function send(contentType, content, entry) {
    const p = entry || { clientToken: newToken(), contentType, content, at: new Date().toISOString() };
    setPending((list) => [...list.filter((x) => x.clientToken !== p.clientToken), { ...p, failed: false }]);
    try {
      const c = await ensureChat();
      const out = await c.send(p.contentType, p.content, p.clientToken);
      addItems([{ Id: out.Id, AbsoluteTime: out.AbsoluteTime, Type: 'MESSAGE', ContentType: p.contentType, Content: p.content,
        ParticipantId: c.chat.participantId, ParticipantRole: 'CUSTOMER', DisplayName: t('you') }]);
      setPending((list) => list.filter((x) => x.clientToken !== p.clientToken));
    } catch (e) {
      setPending((list) => list.map((x) => (x.clientToken === p.clientToken ? { ...x, failed: true, reason: e.message } : x)));
      if (e instanceof APIError && e.status === 400 && !chat) setNotice(t('startFailed', { reason: e.message }));
    }
  }

  // Messages that could not be sent go again, with the same client
  // token, once the connection is back.
  useEffect(() => {
    if (status === 'online') pending.filter((p) => p.failed).forEach((p) => send(p.contentType, p.content, p));
  }, [status]);

  async function upload(files) {
    for (const file of files) {
      const ext = (file.name.split('.').pop() || '').toLowerCase();
      if (file.size > maxUpload) {
        setNotice(t('uploadTooLarge', { name: file.name }));
        continue;
      }
      if (!uploadTypes[ext] || file.size === 0) {
        setNotice(t('uploadBadType', { name: file.name }));
        continue;
      }
      const id = newToken();
      setUploads((u) => [...u, { id, name: file.name, percent: 0 }]);
      try {
        const c = await ensureChat();
        await c.upload(file, (f) => setUploads((u) => u.map((x) => (x.id === id ? { ...x, percent: Math.round(f * 100) } : x))));
      } catch (e) {
        setNotice(t('uploadFailed', { name: file.name, reason: e.message }));
      }
      setUploads((u) => u.filter((x) => x.id !== id));
    }
  }

  function newChat() {
    items.current = new Map();
    saved.clear(instance);
    setEnded(false);
    setPending([]);
    setStatus('');
    setChat(null);
  }

  if (!settings) return null;
  if (!open) {
    return html`<${Launcher} unread=${unread} onOpen=${() => {
      performance.mark('helpline-open-start');
      setOpen(true);
    }} />`;
  }
  return html`<${ChatWindow}
    settings=${settings} items=${sorted} me=${me} chat=${chat} status=${status} ended=${ended} pending=${pending}
    typing=${typing} notice=${notice} uploads=${uploads}
    onDismissNotice=${() => setNotice('')}
    onClose=${() => setOpen(false)}
    onSend=${send} onUpload=${upload} onNewChat=${newChat}
    onStart=${(form) => ensureChat(form)}
    onTyping=${() => conn.current && conn.current.status === 'online' && conn.current.event(CT.typing).catch(() => {})}
    onEnd=${() => conn.current?.disconnect().catch(() => conn.current?.end())}
    onDownload=${(id, name) => conn.current?.attachmentURL(id).then((url) => {
      const a = document.createElement('a');
      a.href = url;
      a.download = name;
      document.body.appendChild(a);
      a.click();
      a.remove();
    }, (e) => setNotice(e.message))}
  />`;
}

// Launcher.focusNext asks the next launcher to take the focus: the
// window was minimised from the keyboard or its button, and the focus
// goes back where it came from.
function Launcher({ unread, onOpen }) {
  const ref = useRef(null);
  useEffect(() => {
    if (document.hasFocus() && Launcher.focusNext) ref.current?.focus();
    Launcher.focusNext = false;
  }, []);
  return html`<button ref=${ref} class="launcher" type="button" aria-label=${t('openChat')} aria-expanded="false" onClick=${onOpen}>
    <svg viewBox="0 0 24 24" aria-hidden="true" focusable="false"><path d="M4 4h16a2 2 0 0 1 2 2v10a2 2 0 0 1-2 2H9l-5 4v-4a2 2 0 0 1-2-2V6a2 2 0 0 1 2-2z"/></svg>
    ${unread > 0 && html`<span class="badge" aria-label=${t('unreadBadge', { count: unread })}>${unread}</span>`}
  </button>`;
}

function ChatWindow(p) {
  const { settings, items, me, chat, status, ended, pending, typing } = p;
  const [confirming, setConfirming] = useState(false);
  const [dragging, setDragging] = useState(false);
  const [formDone, setFormDone] = useState(false);
  const composer = useRef(null);
  const list = useRef(null);
  const away = settings.away && !chat;
  const needForm = settings.pre_chat.enabled && !chat && !formDone && !away;

  const windowRef = useRef(null);
  useEffect(() => {
    (composer.current || windowRef.current?.querySelector('input, textarea'))?.focus();
  }, []);
  useEffect(() => {
    const el = list.current;
    if (el) el.scrollTop = el.scrollHeight;
  }, [items.length, pending.length, typing]);

  const lastOther = [...items].reverse().find((it) => it.Type === 'MESSAGE' && it.ParticipantRole !== 'CUSTOMER');
  const lastCustomer = [...items].reverse().find((it) => it.ParticipantId === me && (it.Type === 'MESSAGE' || it.Type === 'ATTACHMENT'));
  const receipt = lastCustomer && receiptOf(items, lastCustomer.Id, me);
  const active = lastOther && (!lastCustomer || Date.parse(lastOther.AbsoluteTime) >= Date.parse(lastCustomer.AbsoluteTime)) && !ended ? lastOther.Id : '';

  return html`<section ref=${windowRef} class=${`window${dragging ? ' dragging' : ''}`} role="dialog" aria-labelledby="hl-title"
    onKeyDown=${(e) => e.key === 'Escape' && (Launcher.focusNext = true, p.onClose())}
    onDragOver=${(e) => { if (chat || !needForm) { e.preventDefault(); setDragging(true); } }}
    onDragLeave=${() => setDragging(false)}
    onDrop=${(e) => { e.preventDefault(); setDragging(false); p.onUpload([...e.dataTransfer.files]); }}>
    <header class="head">
      <h1 id="hl-title">${settings.title}</h1>
      ${chat && !ended && html`<button type="button" class="icon" aria-label=${t('endChat')} title=${t('endChat')} onClick=${() => setConfirming(true)}>
        <svg viewBox="0 0 24 24" aria-hidden="true" focusable="false"><path d="M6 6l12 12M18 6L6 18"/></svg></button>`}
      <button type="button" class="icon" aria-label=${t('closeChat')} title=${t('closeChat')} onClick=${() => { Launcher.focusNext = true; p.onClose(); }}>
        <svg viewBox="0 0 24 24" aria-hidden="true" focusable="false"><path d="M5 12h14"/></svg></button>
    </header>
    ${confirming && html`<div class="confirm" role="alertdialog" aria-label=${t('endChatConfirm')}>
      <span>${t('endChatConfirm')}</span>
      <button type="button" onClick=${() => { setConfirming(false); p.onEnd(); }}>${t('endChatYes')}</button>
      <button type="button" class="secondary" onClick=${() => setConfirming(false)}>${t('endChatNo')}</button>
    </div>`}
    ${chat && !ended && status === 'offline' && html`<div class="banner" role="status">${t('reconnecting')}</div>`}
    ${p.notice && html`<div class="notice" role="alert"><span>${p.notice}</span>
      <button type="button" class="link" onClick=${p.onDismissNotice}>OK</button></div>`}
    ${away ? html`<${OfflineForm} settings=${settings} />`
      : needForm ? html`<${PreChatForm} settings=${settings} onDone=${async (form) => { await p.onStart(form); setFormDone(true); }} />`
      : html`
      <div class="messages" ref=${list} role="log" aria-live="polite" aria-label=${t('messages')} tabindex="0">
        ${settings.greeting && html`<div class="msg them"><div class="bubble">${plain(settings.greeting)}</div></div>`}
        ${items.map((it) => html`<${Item} key=${it.Id} it=${it} me=${me} active=${it.Id === active}
          onChoose=${(title) => p.onSend(CT.response, JSON.stringify({ templateType: parseInteractive(it.Content)?.type, version: '1.0', data: { content: { title } } }))}
          onDownload=${p.onDownload} />`)}
        ${pending.map((m) => html`<div class="msg me pending" key=${m.clientToken}>
          <div class="bubble">${m.contentType === CT.response ? responseTitle(m.content) : plain(m.content)}</div>
          <div class="meta">${m.failed ? html`${t('failed')} <button type="button" class="link" onClick=${() => p.onSend(m.contentType, m.content, m)}>${t('retry')}</button>` : t('sending')}</div>
        </div>`)}
        ${p.uploads.map((u) => html`<div class="msg me" key=${u.id}><div class="bubble">
          <progress max="100" value=${u.percent} aria-label=${t('uploading', u)}></progress> ${t('uploading', u)}</div></div>`)}
        ${receipt && html`<div class="receipt">${t(receipt)}</div>`}
        ${ended && html`<div class="ended"><p>${t('ended')}</p>
          <button type="button" onClick=${p.onNewChat}>${t('newChat')}</button>
          <button type="button" class="secondary" onClick=${() => downloadTranscript(items, me, settings.title)}>${t('downloadTranscript')}</button></div>`}
      </div>
      <div class="typing" aria-live="polite">${typing ? t('typing', { name: typing.DisplayName || t('someone') }) : ''}</div>
      ${!ended && html`<${Composer} inputRef=${composer} onSend=${(text) => p.onSend(CT.plain, text)} onTyping=${p.onTyping} onUpload=${p.onUpload}
        transcript=${items.length > 0 ? () => downloadTranscript(items, me, settings.title) : null} />`}
    `}
  </section>`;
}

function receiptOf(items, messageId, me) {
  let state = '';
  for (const it of items) {
    if (it.Type !== 'MESSAGEMETADATA' || it.MessageMetadata?.MessageId !== messageId) continue;
    for (const r of it.MessageMetadata.Receipts || []) {
      if (r.RecipientParticipantId === me) continue;
      if (r.ReadTimestamp) state = 'read';
      else if (r.DeliveredTimestamp && !state) state = 'delivered';
    }
  }
  return state;
}

function Item({ it, me, active, onChoose, onDownload }) {
  if (it.Type === 'EVENT') {
    const text = itemText(it, me);
    return text ? html`<div class="event">${text}</div>` : null;
  }
  if (it.Type === 'ATTACHMENT') {
    const a = it.Attachments?.[0];
    if (!a) return null;
    const mine = it.ParticipantId === me;
    return html`<div class=${`msg ${mine ? 'me' : 'them'}`}>
      ${!mine && html`<div class="who">${it.DisplayName}</div>`}
      <div class="bubble file">
        ${a.Status === 'APPROVED' ? html`<button type="button" class="link" aria-label=${t('download', { name: a.AttachmentName })}
          onClick=${() => onDownload(a.AttachmentId, a.AttachmentName)}>📎 ${a.AttachmentName}</button>` : html`<span>📎 ${a.AttachmentName} (${a.Status})</span>`}
      </div><div class="meta">${clock(it)}</div></div>`;
  }
  if (it.Type !== 'MESSAGE') return null;
  if (it.ParticipantRole === 'SYSTEM') return html`<div class="event system">${plain(it.Content || '')}</div>`;
  const mine = it.ParticipantId === me || it.ParticipantRole === 'CUSTOMER';
  let body;
  if (it.ContentType === CT.interactive) {
    const m = parseInteractive(it.Content);
    if (!m) return null;
    body = html`<div class="bubble"><p>${m.title}</p>${m.subtitle && html`<p class="sub">${m.subtitle}</p>`}</div>
      <div class="choices" role="group" aria-label=${m.title || t('chooseOption')}>
        ${m.options.map((o) => html`<button type="button" class="choice" disabled=${!active} onClick=${() => onChoose(o.title)}>
          ${o.title}${o.subtitle && html`<small>${o.subtitle}</small>`}</button>`)}
      </div>`;
  } else if (it.ContentType === CT.response) {
    body = html`<div class="bubble">${responseTitle(it.Content)}</div>`;
  } else if (it.ContentType === CT.markdown) {
    body = html`<div class="bubble md">${markdown(it.Content || '')}</div>`;
  } else {
    body = html`<div class="bubble">${plain(it.Content || '')}</div>`;
  }
  return html`<div class=${`msg ${mine ? 'me' : 'them'}`}>
    ${!mine && html`<div class="who">${it.DisplayName}</div>`}
    ${body}<div class="meta">${clock(it)}</div></div>`;
}

function Composer({ inputRef, onSend, onTyping, onUpload, transcript }) {
  const [text, setText] = useState('');
  const file = useRef(null);
  const lastTyping = useRef(0);
  const submit = () => {
    const v = text.trim();
    if (!v) return;
    setText('');
    onSend(v);
  };
  return html`<form class="composer" onSubmit=${(e) => { e.preventDefault(); submit(); }}>
    <label class="sr" for="hl-input">${t('composerLabel')}</label>
    <textarea id="hl-input" ref=${inputRef} rows="1" placeholder=${t('composerPlaceholder')} value=${text} maxlength="1024"
      onInput=${(e) => {
        setText(e.currentTarget.value);
        if (Date.now() - lastTyping.current > 10000) {
          lastTyping.current = Date.now();
          onTyping();
        }
      }}
      onKeyDown=${(e) => { if (e.key === 'Enter' && !e.shiftKey && !e.isComposing) { e.preventDefault(); submit(); } }}></textarea>
    <input type="file" ref=${file} class="sr" tabindex="-1" aria-hidden="true" multiple
      onChange=${(e) => { onUpload([...e.currentTarget.files]); e.currentTarget.value = ''; }} />
    <button type="button" class="icon ghost" aria-label=${t('attach')} title=${t('attach')} onClick=${() => file.current.click()}>
      <svg viewBox="0 0 24 24" aria-hidden="true" focusable="false"><path d="M16 7l-7 7a2 2 0 0 0 3 3l7-7a4 4 0 0 0-6-6l-7 7a6 6 0 0 0 8 8l6-6"/></svg></button>
    ${transcript && html`<button type="button" class="icon ghost" aria-label=${t('downloadTranscript')} title=${t('downloadTranscript')} onClick=${transcript}>
      <svg viewBox="0 0 24 24" aria-hidden="true" focusable="false"><path d="M12 4v11m-5-5l5 5 5-5M5 20h14"/></svg></button>`}
    <button type="submit" class="icon send" aria-label=${t('send')} title=${t('send')}>
      <svg viewBox="0 0 24 24" aria-hidden="true" focusable="false"><path d="M4 12l16-8-6 16-2-7z"/></svg></button>
  </form>`;
}

function fieldValues(form, fields) {
  const data = new FormData(form);
  const out = { fields: {} };
  for (const f of fields) {
    const v = String(data.get(f.name) || '').trim();
    if (!v) continue;
    if (f.name === 'name' || f.name === 'email') out[f.name] = v;
    else out.fields[f.name] = v;
  }
  return out;
}

function Field({ f }) {
  const id = `hl-f-${f.name}`;
  return html`<div class="field"><label for=${id}>${f.label}${f.required && html` <span class="req">(${t('required')})</span>`}</label>
    <input id=${id} name=${f.name} type=${f.type === 'tel' ? 'tel' : f.type === 'email' ? 'email' : 'text'} required=${f.required}
      autocomplete=${f.name === 'name' ? 'name' : f.name === 'email' ? 'email' : 'off'} maxlength="1024" /></div>`;
}

function PreChatForm({ settings, onDone }) {
  const [error, setError] = useState('');
  const [busy, setBusy] = useState(false);
  return html`<form class="form" onSubmit=${async (e) => {
    e.preventDefault();
    setBusy(true);
    setError('');
    try {
      await onDone(fieldValues(e.currentTarget, settings.pre_chat.fields));
    } catch (err) {
      setError(t('startFailed', { reason: err.message }));
      setBusy(false);
    }
  }}>
    <p>${t('preChatIntro')}</p>
    ${settings.pre_chat.fields.map((f) => html`<${Field} f=${f} />`)}
    ${error && html`<p class="error" role="alert">${error}</p>`}
    <button type="submit" disabled=${busy}>${t('startChat')}</button>
  </form>`;
}

function OfflineForm({ settings }) {
  const [state, setState] = useState('');
  const [error, setError] = useState('');
  if (state === 'sent') return html`<div class="form"><p role="status">${t('offlineSent')}</p></div>`;
  const extra = settings.pre_chat.fields.filter((f) => f.name !== 'name' && f.name !== 'email');
  return html`<form class="form" onSubmit=${async (e) => {
    e.preventDefault();
    setState('busy');
    const data = new FormData(e.currentTarget);
    const body = { ...fieldValues(e.currentTarget, extra), name: String(data.get('name') || ''), email: String(data.get('email') || ''),
      message: String(data.get('message') || ''), client_token: newToken() };
    if (identityToken) body.identity_token = identityToken;
    try {
      await widgetAPI.offline(instance, body);
      setState('sent');
    } catch (err) {
      setError(t('offlineFailed', { reason: err.message }));
      setState('');
    }
  }}>
    <h2>${t('awayTitle')}</h2>
    <p>${settings.away_message}</p>
    <${Field} f=${{ name: 'name', label: t('offlineName'), type: 'text', required: true }} />
    <${Field} f=${{ name: 'email', label: t('offlineEmail'), type: 'email', required: true }} />
    ${extra.map((f) => html`<${Field} f=${f} />`)}
    <div class="field"><label for="hl-f-message">${t('offlineMessage')}</label>
      <textarea id="hl-f-message" name="message" required rows="4" maxlength="16384"></textarea></div>
    ${error && html`<p class="error" role="alert">${error}</p>`}
    <button type="submit" disabled=${state === 'busy'}>${t('offlineSend')}</button>
  </form>`;
}

render(html`<${App} />`, document.getElementById('app'));
