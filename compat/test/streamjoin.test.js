// The Stream join endpoint against the official stream-chat package: the
// token `helpline serve` returns from /connectors/stream/join is the one
// stream-chat's server-side createToken makes for that user, so a
// stream-chat-react front end can connect with it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { StreamChat } from 'stream-chat';
import { startServer } from '../lib/harness.js';

const apiKey = 'compat-stream-key';
const secret = 'compat-stream-secret-0123456789';

// A stand-in for Stream's REST API: it records each call and answers the
// channel query with the members it was sent, every other call with {}.
function startStreamStub() {
  const calls = [];
  const server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (c) => (body += c));
    req.on('end', () => {
      const url = new URL(req.url, 'http://stub');
      calls.push({ method: req.method, path: url.pathname, apiKey: url.searchParams.get('api_key'),
        auth: req.headers.authorization, authType: req.headers['stream-auth-type'], body: JSON.parse(body || '{}') });
      let out = {};
      if (url.pathname.endsWith('/query')) {
        const data = calls.at(-1).body.data ?? {};
        out = { channel: { ...data }, members: (data.members ?? []).map((id) => ({ user_id: id })) };
      }
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify(out));
    });
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve({ server, calls, url: `http://127.0.0.1:${server.address().port}` })));
}

test('join returns the token stream-chat createToken makes', async () => {
  const stub = await startStreamStub();
  const dir = mkdtempSync(path.join(tmpdir(), 'helpline-streamjoin-'));
  const config = path.join(dir, 'helpline.yaml');
  writeFileSync(config, `connectors:
  - name: stream
    kind: streamchat
    api_key: ${apiKey}
    secret_env: STREAM_SECRET
    join:
      enabled: true
      admin_user_id: support-admin
      stream_base_url: ${stub.url}
      allowed_origins: [http://localhost:3000]
`);
  const srv = await startServer({ args: ['--config', config], env: { STREAM_SECRET: secret } });
  try {
    const res = await fetch(new URL('/connectors/stream/join', srv.endpoint), {
      method: 'POST',
      headers: { 'content-type': 'application/json', origin: 'http://localhost:3000' },
      body: JSON.stringify({ username: 'ada_l', first_name: 'Ada', last_name: 'Lovelace' }),
    });
    const text = await res.text();
    assert.equal(res.status, 200, text);
    assert.equal(res.headers.get('access-control-allow-origin'), 'http://localhost:3000');
    const out = JSON.parse(text);
    const sdk = new StreamChat(apiKey, secret);
    assert.equal(out.token, sdk.createToken('ada_l'));
    assert.equal(out.api_key, apiKey);
    assert.deepEqual(out.user, { id: 'ada_l', name: 'Ada Lovelace' });

    // Stream was called as its server SDK calls it.
    assert.deepEqual(stub.calls.map((c) => `${c.method} ${c.path}`),
      ['POST /users', 'POST /channels/messaging/support-ada_l/query']);
    for (const c of stub.calls) {
      assert.equal(c.apiKey, apiKey);
      assert.equal(c.authType, 'jwt');
      assert.equal(c.auth, sdk.tokenManager.getToken(), 'the server token stream-chat sends');
    }
    assert.deepEqual(stub.calls[1].body.data.members, ['ada_l', 'support-admin']);

    const bad = await fetch(new URL('/connectors/stream/join', srv.endpoint), {
      method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"username":',
    });
    assert.equal(bad.status, 400);
  } finally {
    await srv.stop();
    stub.server.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
