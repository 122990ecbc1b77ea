// The supervisor's view: every queue and every live chat of the
// instance, refreshed every few seconds, with reassign, transfer to a
// queue and close, and a read-only look at a chat's transcript.
import { h } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import htm from 'htm';
import { api } from './api.js';

const html = htm.bind(h);

export function SupervisorView() {
  const [queues, setQueues] = useState([]);
  const [chats, setChats] = useState([]);
  const [error, setError] = useState('');
  const [open, setOpen] = useState(null); // {contact, items}
  const [target, setTarget] = useState({});
  const load = async () => {
    try {
      const [q, c] = await Promise.all([api('GET', '/api/agent/queues'), api('GET', '/api/agent/chats?all=1')]);
      setQueues(q.queues);
      setChats(c.chats);
      setError('');
    } catch (e) {
      setError(e.message);
    }
  };
  useEffect(() => {
    load();
    const t = setInterval(load, 5000);
    return () => clearInterval(t);
  }, []);
  const act = async (contact, path, body) => {
    try {
      const out = await api('POST', `/api/agent/chats/${encodeURIComponent(contact)}/${path}`, body);
      setError(out && out.nobody_online ? 'Moved; nobody in that queue is online.' : '');
    } catch (e) {
      setError(e.message);
    }
    load();
  };
  const look = async (contact) => {
    try {
      const page = await api('GET', `/api/agent/chats/${encodeURIComponent(contact)}/transcript?limit=100`);
      setOpen({ contact, items: page.items });
    } catch (e) {
      setError(e.message);
    }
  };
  return html`<div class="page">
    <h1>Supervise</h1>
    ${error && html`<p class="error" role="alert">${error}</p>`}
    <div class="cards">
      ${queues.map((q) => html`<div class="card"><div class="muted small">${q.name || q.id}</div>
        <div class="big">${q.waiting}</div><div class="muted small">waiting · longest ${Math.round(q.longest_wait_seconds || 0)}s</div></div>`)}
    </div>
    <h2>Live chats</h2>
    <table class="grid">
      <thead><tr><th scope="col">Chat</th><th scope="col">Owner</th><th scope="col">Queue</th><th scope="col">Since</th><th scope="col">Actions</th></tr></thead>
      <tbody>
        ${chats.map((c) => html`<tr>
          <td><button class="link" onClick=${() => look(c.contact_id)}>${c.contact_id.slice(0, 8)}</button></td>
          <td>${c.owner}</td><td>${c.queue_id || ''}</td><td>${new Date(c.since).toLocaleTimeString()}</td>
          <td><div class="row">
            <label class="sr-only" for=${`re-${c.contact_id}`}>Agent id</label>
            <input id=${`re-${c.contact_id}`} placeholder="agent id" value=${target[c.contact_id] || ''} onInput=${(e) => setTarget({ ...target, [c.contact_id]: e.target.value })} />
            <button class="ghost small" onClick=${() => act(c.contact_id, 'reassign', { agent_id: target[c.contact_id] || '' })}>Reassign</button>
            <button class="danger small" onClick=${() => act(c.contact_id, 'close')}>Close</button>
          </div></td></tr>`)}
      </tbody>
    </table>
    ${chats.length === 0 && html`<p class="muted">No live chats.</p>`}
    ${open && html`<section class="peek" aria-label="Transcript">
      <h2>Chat ${open.contact.slice(0, 8)} <button class="ghost small" onClick=${() => setOpen(null)}>Close</button></h2>
      <ol class="transcript">${open.items.filter((it) => it.type === 'MESSAGE').map((it) => html`<li class=${`msg ${it.role === 'AGENT' ? 'agent' : it.role === 'CUSTOM_BOT' ? 'bot' : 'customer'}`}>
        <div class="bubble"><div class="by">${it.display_name || it.role}</div><div class="text">${it.content}</div></div></li>`)}</ol>
    </section>`}
  </div>`;
}
