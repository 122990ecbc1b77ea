// Harness for the compatibility tests: builds the helpline binary, starts
// `helpline serve` on a free loopback port with known signing keys and a fresh
// data directory, reads the connection details it prints, and stops it again.
import { spawn, execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));

/** The repository root (the Go module). */
export const repoRoot = path.resolve(here, '..', '..');

/** Where `npm test` builds the binary once; tests reuse it. */
export const defaultBinary = path.join(repoRoot, 'compat', '.build', 'helpline');

/** Signing keys the server is started with (HELPLINE_ACCESS_KEY_ID / HELPLINE_SECRET_ACCESS_KEY). */
export const testKeys = Object.freeze({
  accessKeyId: 'AKIAHELPLINECOMPAT01',
  secretAccessKey: 'compat-secret-0123456789abcdefghijklmnopqrstuv',
});

/** Builds ./cmd/helpline into `out` (default: defaultBinary) and returns its path. */
export function buildBinary(out = defaultBinary) {
  mkdirSync(path.dirname(out), { recursive: true });
  execFileSync('go', ['build', '-o', out, './cmd/helpline'], { cwd: repoRoot, stdio: 'inherit' });
  return out;
}

/**
 * The binary to run: $HELPLINE_BIN if set, else the one `npm test` built,
 * building it first when it is missing (running one test file by hand).
 */
export function helplineBinary() {
  if (process.env.HELPLINE_BIN) return process.env.HELPLINE_BIN;
  if (!existsSync(defaultBinary)) buildBinary(defaultBinary);
  return defaultBinary;
}

// Labels of the lines `helpline serve` prints once it is ready, mapped to field names.
const readyLabels = {
  'Connect endpoint': 'endpoint',
  Region: 'region',
  'Instance id': 'instanceId',
  'Contact flow id': 'contactFlowId',
  'Access key id': 'accessKeyId',
  'Secret access key': 'secretAccessKey',
  'Data directory': 'dataDir',
};

/**
 * Parses the ready banner of `helpline serve`. Returns the details once every
 * labelled line has been seen after "Helpline is ready.", else null.
 */
export function parseReady(text) {
  const lines = text.split(/\r?\n/);
  const start = lines.findIndex((l) => l.trim() === 'Helpline is ready.');
  if (start < 0) return null;
  const out = {};
  for (const line of lines.slice(start + 1)) {
    const m = /^\s*([^:]+):\s+(\S.*?)\s*$/.exec(line);
    if (m && readyLabels[m[1]] && !(readyLabels[m[1]] in out)) out[readyLabels[m[1]]] = m[2];
  }
  return Object.values(readyLabels).every((k) => k in out) ? out : null;
}

/**
 * Starts `helpline serve --data <tmp> --listen 127.0.0.1:0` and resolves when it
 * has printed its ready banner and GET /healthz answers 200. Extra serve flags
 * come from `args` and from $HELPLINE_COMPAT_SERVE_ARGS (space separated).
 * The returned object carries the parsed details plus stop() and logs().
 */
export async function startServer({ args = [], env = {}, timeoutMs = 60000 } = {}) {
  const dataDir = mkdtempSync(path.join(tmpdir(), 'helpline-compat-'));
  const extra = (process.env.HELPLINE_COMPAT_SERVE_ARGS || '').split(/\s+/).filter(Boolean);
  const child = spawn(
    helplineBinary(),
    ['serve', '--data', dataDir, '--listen', '127.0.0.1:0', ...args, ...extra],
    {
      cwd: dataDir,
      env: {
        ...process.env,
        HELPLINE_ACCESS_KEY_ID: testKeys.accessKeyId,
        HELPLINE_SECRET_ACCESS_KEY: testKeys.secretAccessKey,
        ...env,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8');
  child.stderr.setEncoding('utf8');
  child.stderr.on('data', (d) => {
    stderr = (stderr + d).slice(-64 * 1024);
  });
  const exited = new Promise((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })));
  const logs = () => `--- helpline stdout ---\n${stdout.slice(-8192)}\n--- helpline stderr (tail) ---\n${stderr.slice(-8192)}`;

  let details;
  try {
    details = await new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`helpline serve printed no ready banner within ${timeoutMs} ms`)), timeoutMs);
      child.stdout.on('data', (d) => {
        stdout = (stdout + d).slice(-64 * 1024);
        const parsed = parseReady(stdout);
        if (parsed) {
          clearTimeout(timer);
          // The banner names the source of a secret it was given rather than print it.
          if (parsed.secretAccessKey.startsWith('(from ')) {
            parsed.secretAccessKey = env.HELPLINE_SECRET_ACCESS_KEY ?? testKeys.secretAccessKey;
          }
          resolve(parsed);
        }
      });
      exited.then(({ code, signal }) => {
        clearTimeout(timer);
        reject(new Error(`helpline serve exited early (code ${code}, signal ${signal})`));
      });
      child.on('error', (err) => {
        clearTimeout(timer);
        reject(err);
      });
    });
    await waitHealthy(details.endpoint, timeoutMs);
  } catch (err) {
    child.kill('SIGKILL');
    rmSync(dataDir, { recursive: true, force: true });
    err.message += `\n${logs()}`;
    throw err;
  }

  let stopped;
  const stop = () => {
    stopped ??= (async () => {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGTERM');
        const timer = setTimeout(() => child.kill('SIGKILL'), 10000);
        await exited;
        clearTimeout(timer);
      }
      rmSync(dataDir, { recursive: true, force: true });
    })();
    return stopped;
  };
  return { ...details, tmpDataDir: dataDir, process: child, stop, logs, exited };
}

async function waitHealthy(endpoint, timeoutMs) {
  const deadline = Date.now() + timeoutMs;
  let last;
  while (Date.now() < deadline) {
    try {
      const res = await fetch(new URL('/healthz', endpoint));
      if (res.status === 200) return;
      last = new Error(`GET /healthz answered ${res.status}`);
    } catch (err) {
      last = err;
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`helpline never became healthy: ${last?.message}`);
}
