// Admin pages: agents, queues, canned responses, API tokens, connectors'
// health and the widget's settings, each over the admin API.
import { h } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import htm from 'htm';
import { api } from './api.js';

const html = htm.bind(h);

const pages = [
  ['agents', 'Agents'], ['queues', 'Queues'], ['canned', 'Canned responses'],
  ['tokens', 'API tokens'], ['connectors', 'Connectors'], ['widget', 'Widget'],
];

export function AdminView() {
  const [page, setPage] = useState('agents');
  const Page = { agents: Agents, queues: Queues, canned: Canned, tokens: Tokens, connectors: Connectors, widget: Widget }[page];
  return html`<div class="admin">
    <nav class="subnav" aria-label="Admin pages">
      ${pages.map(([id, label]) => html`<button class=${page === id ? 'on' : ''} aria-current=${page === id ? 'page' : undefined} onClick=${() => setPage(id)}>${label}</button>`)}
    </nav>
    <div class="page"><${Page} /></div>
  </div>`;
}

// useList loads a list and reloads it after each change.
function useList(path, key) {
  const [list, setList] = useState(null);
  const [error, setError] = useState('');
  const load = () => api('GET', path).then((d) => { setList(d[key] || []); }).catch((e) => setError(e.status === 404 ? 'not available' : e.message));
  useEffect(() => { load(); }, [path]);
  const run = async (fn) => {
    try {
      const out = await fn();
      setError('');
      await load();
      return out;
    } catch (e) {
      setError(e.message);
      return null;
    }
  };
  return { list, error, run, setError };
}

function Field({ id, label, children }) {
  return html`<div class="field"><label for=${id}>${label}</label>${children}</div>`;
}

function Agents() {
  const { list, error, run } = useList('/api/admin/agents', 'agents');
  const [f, setF] = useState({ email: '', name: '', role: 'agent', queues: '', capacity: 3, password: '' });
  const [pw, setPw] = useState({});
  const add = (e) => {
    e.preventDefault();
    const body = { email: f.email, name: f.name || undefined, role: f.role, queues: f.queues.split(',').map((s) => s.trim()).filter(Boolean), capacity: Number(f.capacity) };
    if (f.password) body.password = f.password;
    run(() => api('POST', '/api/admin/agents', body)).then((ok) => ok && setF({ ...f, email: '', name: '', password: '' }));
  };
  const patch = (id, body) => run(() => api('PATCH', `/api/admin/agents/${encodeURIComponent(id)}`, body));
  return html`<h1>Agents</h1>
    ${error && html`<p class="error" role="alert">${error}</p>`}
    <table class="grid"><thead><tr><th scope="col">Agent</th><th scope="col">Role</th><th scope="col">Queues</th><th scope="col">Capacity</th><th scope="col">Status</th><th scope="col">Password</th></tr></thead>
      <tbody>${(list || []).map((a) => html`<tr>
        <td><strong>${a.name}</strong><div class="muted small">${a.email}</div></td>
        <td><label class="sr-only" for=${`role-${a.id}`}>Role of ${a.id}</label><select id=${`role-${a.id}`} value=${a.role} onChange=${(e) => patch(a.id, { role: e.target.value })}>
          ${['agent', 'supervisor', 'admin'].map((r) => html`<option value=${r}>${r}</option>`)}</select></td>
        <td><label class="sr-only" for=${`q-${a.id}`}>Queues of ${a.id}</label><input id=${`q-${a.id}`} value=${a.queues.join(', ')} onChange=${(e) => patch(a.id, { queues: e.target.value.split(',').map((s) => s.trim()).filter(Boolean) })} /></td>
        <td><label class="sr-only" for=${`cap-${a.id}`}>Capacity of ${a.id}</label><input id=${`cap-${a.id}`} class="num" type="number" min="1" max="10" value=${a.capacity} onChange=${(e) => patch(a.id, { capacity: Number(e.target.value) })} /></td>
        <td>${a.enabled ? html`<span class="label ok">enabled</span> <button class="ghost small" onClick=${() => patch(a.id, { enabled: false })}>Disable</button>` : html`<span class="label bad">disabled</span> <button class="ghost small" onClick=${() => patch(a.id, { enabled: true })}>Enable</button>`}</td>
        <td><div class="row"><label class="sr-only" for=${`pw-${a.id}`}>New password for ${a.id}</label><input id=${`pw-${a.id}`} type="password" autocomplete="new-password" placeholder=${a.password_set ? 'new password' : 'set a password'} value=${pw[a.id] || ''} onInput=${(e) => setPw({ ...pw, [a.id]: e.target.value })} />
          <button class="ghost small" onClick=${() => run(() => api('POST', `/api/admin/agents/${encodeURIComponent(a.id)}/password`, { password: pw[a.id] || '' })).then(() => setPw({ ...pw, [a.id]: '' }))}>Set</button></div></td>
      </tr>`)}</tbody></table>
    <h2>Add an agent</h2>
    <form class="form" onSubmit=${add}>
      <${Field} id="na-email" label="Email"><input id="na-email" type="email" required value=${f.email} onInput=${(e) => setF({ ...f, email: e.target.value })} /><//>
      <${Field} id="na-name" label="Name"><input id="na-name" value=${f.name} onInput=${(e) => setF({ ...f, name: e.target.value })} /><//>
      <${Field} id="na-role" label="Role"><select id="na-role" value=${f.role} onChange=${(e) => setF({ ...f, role: e.target.value })}>${['agent', 'supervisor', 'admin'].map((r) => html`<option value=${r}>${r}</option>`)}</select><//>
      <${Field} id="na-queues" label="Queues (comma separated)"><input id="na-queues" value=${f.queues} onInput=${(e) => setF({ ...f, queues: e.target.value })} /><//>
      <${Field} id="na-cap" label="Capacity"><input id="na-cap" type="number" min="1" max="10" value=${f.capacity} onInput=${(e) => setF({ ...f, capacity: e.target.value })} /><//>
      <${Field} id="na-pw" label="Password (optional)"><input id="na-pw" type="password" autocomplete="new-password" value=${f.password} onInput=${(e) => setF({ ...f, password: e.target.value })} /><//>
      <button class="primary" type="submit">Add agent</button>
    </form>`;
}

function Queues() {
  const { list, error, run } = useList('/api/admin/queues', 'queues');
  const [f, setF] = useState({ id: '', name: '', routing: 'longest_idle', accept_within: '30s' });
  const patch = (id, body) => run(() => api('PATCH', `/api/admin/queues/${encodeURIComponent(id)}`, body));
  return html`<h1>Queues</h1>
    ${error && html`<p class="error" role="alert">${error}</p>`}
    <table class="grid"><thead><tr><th scope="col">Queue</th><th scope="col">Routing</th><th scope="col">Accept within</th><th scope="col">Auto-accept</th><th scope="col">Reassign after</th></tr></thead>
      <tbody>${(list || []).map((q) => html`<tr>
        <td><strong>${q.name || q.id}</strong><div class="muted small">${q.id}</div></td>
        <td><label class="sr-only" for=${`rt-${q.id}`}>Routing of ${q.id}</label><select id=${`rt-${q.id}`} value=${q.routing} onChange=${(e) => patch(q.id, { routing: e.target.value })}><option value="longest_idle">longest idle</option><option value="round_robin">round robin</option></select></td>
        <td><label class="sr-only" for=${`aw-${q.id}`}>Accept within for ${q.id}</label><input id=${`aw-${q.id}`} class="num" value=${q.accept_within} onChange=${(e) => patch(q.id, { accept_within: e.target.value })} /></td>
        <td><input type="checkbox" aria-label=${`Auto-accept for ${q.id}`} checked=${q.auto_accept} onChange=${(e) => patch(q.id, { auto_accept: e.target.checked })} /></td>
        <td><label class="sr-only" for=${`ra-${q.id}`}>Reassign after for ${q.id}</label><input id=${`ra-${q.id}`} class="num" value=${q.reassign_after} onChange=${(e) => patch(q.id, { reassign_after: e.target.value })} /></td>
      </tr>`)}</tbody></table>
    <h2>Add a queue</h2>
    <form class="form" onSubmit=${(e) => { e.preventDefault(); run(() => api('POST', '/api/admin/queues', f)); }}>
      <${Field} id="nq-id" label="Id"><input id="nq-id" required value=${f.id} onInput=${(e) => setF({ ...f, id: e.target.value })} /><//>
      <${Field} id="nq-name" label="Name"><input id="nq-name" value=${f.name} onInput=${(e) => setF({ ...f, name: e.target.value })} /><//>
      <${Field} id="nq-routing" label="Routing"><select id="nq-routing" value=${f.routing} onChange=${(e) => setF({ ...f, routing: e.target.value })}><option value="longest_idle">longest idle</option><option value="round_robin">round robin</option></select><//>
      <${Field} id="nq-aw" label="Accept within"><input id="nq-aw" value=${f.accept_within} onInput=${(e) => setF({ ...f, accept_within: e.target.value })} /><//>
      <button class="primary" type="submit">Add queue</button>
    </form>`;
}

function Canned() {
  const { list, error, run } = useList('/api/agent/canned', 'canned');
  const [f, setF] = useState({ shortcut: '', text: '' });
  return html`<h1>Canned responses</h1>
    <p class="muted">Agents type <kbd>/</kbd> and the shortcut in a reply to insert one.</p>
    ${error && html`<p class="error" role="alert">${error}</p>`}
    <table class="grid"><thead><tr><th scope="col">Shortcut</th><th scope="col">Text</th><th scope="col"><span class="sr-only">Actions</span></th></tr></thead>
      <tbody>${(list || []).map((c) => html`<tr><td><code>/${c.shortcut}</code></td>
        <td><label class="sr-only" for=${`ct-${c.id}`}>Text of ${c.shortcut}</label><textarea id=${`ct-${c.id}`} rows="2" onChange=${(e) => run(() => api('PATCH', `/api/admin/canned/${encodeURIComponent(c.id)}`, { text: e.target.value }))}>${c.text}</textarea></td>
        <td><button class="danger small" onClick=${() => run(() => api('DELETE', `/api/admin/canned/${encodeURIComponent(c.id)}`))}>Delete</button></td></tr>`)}</tbody></table>
    <h2>Add a canned response</h2>
    <form class="form" onSubmit=${(e) => { e.preventDefault(); run(() => api('POST', '/api/admin/canned', f)).then((ok) => ok && setF({ shortcut: '', text: '' })); }}>
      <${Field} id="nc-s" label="Shortcut"><input id="nc-s" required maxlength="32" value=${f.shortcut} onInput=${(e) => setF({ ...f, shortcut: e.target.value })} /><//>
      <${Field} id="nc-t" label="Text"><textarea id="nc-t" required rows="3" maxlength="4000" value=${f.text} onInput=${(e) => setF({ ...f, text: e.target.value })}></textarea><//>
      <button class="primary" type="submit">Add</button>
    </form>`;
}

function Tokens() {
  const { list, error, run } = useList('/api/admin/tokens', 'tokens');
  const [f, setF] = useState({ name: '', role: 'agent' });
  const [secret, setSecret] = useState('');
  return html`<h1>API tokens</h1>
    ${error && html`<p class="error" role="alert">${error}</p>`}
    ${secret && html`<div class="secret" role="status"><p>Copy this secret now; it is not shown again.</p><code>${secret}</code></div>`}
    <table class="grid"><thead><tr><th scope="col">Name</th><th scope="col">Role</th><th scope="col">Created</th><th scope="col">State</th></tr></thead>
      <tbody>${(list || []).map((t) => html`<tr><td>${t.name || t.id}</td><td>${t.role}</td><td>${new Date(t.created_at).toLocaleString()}</td>
        <td>${t.revoked_at ? html`<span class="muted">revoked</span>` : html`<button class="danger small" onClick=${() => run(() => api('DELETE', `/api/admin/tokens/${encodeURIComponent(t.id)}`))}>Revoke</button>`}</td></tr>`)}</tbody></table>
    <h2>Create a token</h2>
    <form class="form" onSubmit=${async (e) => { e.preventDefault(); const t = await run(() => api('POST', '/api/admin/tokens', f)); if (t) setSecret(t.secret); }}>
      <${Field} id="nt-name" label="Name"><input id="nt-name" required value=${f.name} onInput=${(e) => setF({ ...f, name: e.target.value })} /><//>
      <${Field} id="nt-role" label="Role"><select id="nt-role" value=${f.role} onChange=${(e) => setF({ ...f, role: e.target.value })}>${['agent', 'supervisor', 'admin'].map((r) => html`<option value=${r}>${r}</option>`)}</select><//>
      <button class="primary" type="submit">Create</button>
    </form>`;
}

function Connectors() {
  const { list, error, run } = useList('/api/admin/connectors', 'connectors');
  return html`<h1>Connectors</h1>
    ${error && html`<p class="error" role="alert">${error}</p>`}
    ${list && list.length === 0 && html`<p class="muted">No mirroring connector is configured.</p>`}
    ${(list || []).map((c) => html`<section class="card wide">
      <h2>${c.name} <span class=${c.parked_count ? 'label bad' : c.behind ? 'label warn' : 'label ok'}>${c.parked_count ? 'parked pairs' : c.behind ? 'catching up' : 'healthy'}</span></h2>
      <p>${c.behind} behind · oldest lag ${Math.round(c.oldest_lag_seconds)}s · ${c.parked_count} parked</p>
      ${c.parked.length > 0 && html`<table class="grid"><thead><tr><th scope="col">Chat</th><th scope="col">Reason</th><th scope="col">Attempts</th><th scope="col">Parked</th></tr></thead>
        <tbody>${c.parked.map((p) => html`<tr><td><code>${p.contact_id.slice(0, 8)}</code></td><td>${p.reason}</td><td>${p.attempts}</td><td>${new Date(p.parked_at).toLocaleString()}</td></tr>`)}</tbody></table>
        <button class="primary" onClick=${() => run(() => api('POST', `/api/admin/connectors/${encodeURIComponent(c.name)}/replay`))}>Replay parked</button>`}
    </section>`)}`;
}

function Widget() {
  const [w, setW] = useState(null);
  const [error, setError] = useState('');
  const [secret, setSecret] = useState('');
  const [saved, setSaved] = useState('');
  useEffect(() => {
    api('GET', '/api/admin/widget').then(setW).catch((e) => setError(e.status === 404 ? 'not available' : e.message));
  }, []);
  if (error === 'not available') return html`<h1>Widget</h1><p class="muted">The widget's settings are not available on this server.</p>`;
  if (!w) return html`<h1>Widget</h1>${error ? html`<p class="error" role="alert">${error}</p>` : html`<p class="muted">Loading…</p>`}`;
  const colors = w.colors || {};
  const save = async (e) => {
    e.preventDefault();
    try {
      const body = { title: w.title || '', greeting: w.greeting || '', colors: { primary: colors.primary || '', onPrimary: colors.onPrimary || '' },
        position: w.position || 'right', allowedOrigins: (w.allowedOrigins || []).filter(Boolean), awayMessage: w.awayMessage || '' };
      setW({ ...w, ...(await api('PATCH', '/api/admin/widget', body)) });
      setSaved('Saved.');
      setError('');
    } catch (err) {
      setError(err.message);
    }
  };
  const rotate = async () => {
    try {
      setSecret((await api('POST', '/api/admin/widget/secret')).secret);
      setW({ ...w, secretSet: true });
    } catch (err) {
      setError(err.message);
    }
  };
  return html`<h1>Widget</h1>
    ${error && html`<p class="error" role="alert">${error}</p>`}${saved && html`<p class="ok" role="status">${saved}</p>`}
    <form class="form" onSubmit=${save}>
      <${Field} id="w-title" label="Title"><input id="w-title" value=${w.title || ''} onInput=${(e) => setW({ ...w, title: e.target.value })} /><//>
      <${Field} id="w-greet" label="Greeting"><input id="w-greet" value=${w.greeting || ''} onInput=${(e) => setW({ ...w, greeting: e.target.value })} /><//>
      <${Field} id="w-primary" label="Primary colour"><input id="w-primary" type="color" value=${colors.primary || '#3355ff'} onInput=${(e) => setW({ ...w, colors: { ...colors, primary: e.target.value } })} /><//>
      <${Field} id="w-on" label="Text on primary"><input id="w-on" type="color" value=${colors.onPrimary || '#ffffff'} onInput=${(e) => setW({ ...w, colors: { ...colors, onPrimary: e.target.value } })} /><//>
      <${Field} id="w-pos" label="Position"><select id="w-pos" value=${w.position || 'right'} onChange=${(e) => setW({ ...w, position: e.target.value })}><option value="right">bottom right</option><option value="left">bottom left</option></select><//>
      <${Field} id="w-origins" label="Allowed origins (one a line)"><textarea id="w-origins" rows="3" value=${(w.allowedOrigins || []).join('\n')} onInput=${(e) => setW({ ...w, allowedOrigins: e.target.value.split('\n').map((s) => s.trim()) })}></textarea><//>
      <${Field} id="w-away" label="Away message"><input id="w-away" value=${w.awayMessage || ''} onInput=${(e) => setW({ ...w, awayMessage: e.target.value })} /><//>
      <button class="primary" type="submit">Save</button>
    </form>
    <h2>Signing secret</h2>
    <p class="muted">${w.secretSet ? 'A secret is set.' : 'No secret is set.'} Rotating makes the old one stop working.</p>
    ${secret && html`<div class="secret" role="status"><p>Copy this secret now; it is not shown again.</p><code>${secret}</code></div>`}
    <button class="ghost" onClick=${rotate}>Rotate secret</button>`;
}
