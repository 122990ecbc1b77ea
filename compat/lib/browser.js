// Headless Chromium (Debian's package, driven by playwright-core) and a tiny
// static server that gives the chatjs test page its own origin, so every call
// from the page to helpline is a cross-origin (CORS) request.
import http from 'node:http';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { chromium } from 'playwright-core';

const require = createRequire(import.meta.url);

/** Debian's chromium, or $CHROMIUM_PATH. */
export const chromiumPath = process.env.CHROMIUM_PATH || '/usr/bin/chromium';

export function launchChromium() {
  return chromium.launch({
    executablePath: chromiumPath,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
}

// chatjs's browser bundle: it defines the global `connect.ChatSession`.
const chatjsBundle = require.resolve('amazon-connect-chatjs/dist/amazon-connect-chat.js');

const page = `<!doctype html>
<html><head><meta charset="utf-8"><title>helpline chatjs compat</title>
<script src="/amazon-connect-chat.js"></script></head>
<body><p>chatjs compatibility page</p></body></html>`;

/** Serves the test page and the chatjs bundle on 127.0.0.1; resolves with {url, close()}. */
export async function servePage() {
  const bundle = readFileSync(chatjsBundle);
  const server = http.createServer((req, res) => {
    if (req.url === '/amazon-connect-chat.js') {
      res.writeHead(200, { 'content-type': 'text/javascript' });
      res.end(bundle);
    } else if (req.url === '/') {
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
      res.end(page);
    } else {
      res.writeHead(404).end();
    }
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${server.address().port}/`,
    close: () => new Promise((resolve) => server.close(resolve)),
  };
}

/**
 * Runs in the page before any script: keeps every WebSocket the page opens in
 * window.__sockets, so a test can drop the live ones.
 */
export function trackWebSockets() {
  const Native = window.WebSocket;
  window.__sockets = [];
  window.WebSocket = class extends Native {
    constructor(...args) {
      super(...args);
      window.__sockets.push(this);
    }
  };
}
