// The Zendesk Support fake (connector/zendesk/zendesktest), run as a
// process of its own for the web tests: internal/zendeskfake is built
// beside the helpline binary, started on a loopback port, and read
// through the API it fakes.
import { execFileSync, spawn } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import readline from 'node:readline';
import { repoRoot } from '../../../compat/lib/harness.js';

const binary = path.join(repoRoot, 'compat', '.build', 'zendeskfake');

/** The fake's API credentials (its defaults). */
export const zendeskCredentials = { email: 'bot@example.com', token: 'zd-token' };

/**
 * Starts the fake and resolves to {url, stop(), ticketOf(contactId),
 * comments(ticketId)}. perTicket raises Zendesk's 30 updates per ticket
 * per 10 minutes, so that a long chat lands without waiting.
 */
export async function startZendeskFake({ perTicket = 600 } = {}) {
  // Built each time (the go command's cache makes that quick), so that it
  // is never older than its sources.
  mkdirSync(path.dirname(binary), { recursive: true });
  execFileSync('go', ['build', '-o', binary, './internal/zendeskfake'], { cwd: repoRoot, stdio: 'inherit' });
  const child = spawn(binary, ['-ticket-updates-per-10min', String(perTicket)], { stdio: ['pipe', 'pipe', 'inherit'] });
  const url = await new Promise((resolve, reject) => {
    const lines = readline.createInterface({ input: child.stdout });
    lines.once('line', (l) => resolve(l.trim()));
    child.once('exit', (code) => reject(new Error(`zendeskfake exited (${code}) before printing its URL`)));
  });
  const auth = `Basic ${Buffer.from(`${zendeskCredentials.email}/token:${zendeskCredentials.token}`).toString('base64')}`;
  const get = async (p) => {
    const resp = await fetch(new URL(p, url), { headers: { Authorization: auth } });
    if (!resp.ok) throw new Error(`GET ${p}: ${resp.status} ${await resp.text()}`);
    return resp.json();
  };
  return {
    url,
    /** The ticket whose external_id is the contact id, or undefined. */
    async ticketOf(contactId) {
      const out = await get(`/api/v2/search.json?query=${encodeURIComponent(`type:ticket external_id:${contactId}`)}`);
      return out.results[0];
    },
    /** The ticket's comments, oldest first. */
    async comments(ticketId) {
      return (await get(`/api/v2/tickets/${ticketId}/comments?page[size]=100`)).comments;
    },
    stop() {
      child.stdin.end();
      return new Promise((resolve) => (child.exitCode !== null ? resolve() : child.once('exit', resolve)));
    },
  };
}
