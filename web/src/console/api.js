// The agent API as the console calls it: same-origin requests with the
// session cookie, the CSRF token on every request that changes anything,
// and the API's one error model turned into ApiError.

let csrfToken = '';
let unauthorized = () => {};

/** Sets what happens when a request finds the session ended (401). */
export function onUnauthorized(fn) {
  unauthorized = fn;
}

export function setCsrf(token) {
  csrfToken = token || '';
}

export class ApiError extends Error {
  constructor(status, code, message, retryAfter) {
    super(message || `HTTP ${status}`);
    this.status = status;
    this.code = code || '';
    this.retryAfter = retryAfter;
  }
}

/** Calls the API; resolves with the parsed JSON body, or null for 204. */
export async function api(method, path, body) {
  const headers = {};
  if (method !== 'GET' && method !== 'HEAD') headers['X-CSRF-Token'] = csrfToken;
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  let resp;
  try {
    resp = await fetch(path, {
      method, headers, credentials: 'same-origin', cache: 'no-store',
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch (e) {
    throw new ApiError(0, 'network', 'The server cannot be reached.');
  }
  if (resp.status === 204) return null;
  const text = await resp.text();
  let data = null;
  try {
    data = text ? JSON.parse(text) : null;
  } catch (e) {
    data = null;
  }
  if (!resp.ok) {
    const err = (data && data.error) || {};
    const retry = Number(resp.headers.get('Retry-After')) || 0;
    if (resp.status === 401 && path !== '/api/agent/login') unauthorized();
    throw new ApiError(resp.status, err.code, err.message, retry);
  }
  return data;
}

/** PUTs a file to an upload URL, reporting progress (0..1). */
export function upload(url, file, onProgress) {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open('PUT', url);
    xhr.setRequestHeader('Content-Type', file.type || 'application/octet-stream');
    xhr.setRequestHeader('X-CSRF-Token', csrfToken);
    xhr.upload.onprogress = (e) => { if (e.lengthComputable) onProgress(e.loaded / e.total); };
    xhr.onload = () => {
      if (xhr.status >= 200 && xhr.status < 300) resolve();
      else {
        let msg = `HTTP ${xhr.status}`;
        try { msg = JSON.parse(xhr.responseText).error.message; } catch (e) { /* keep the status */ }
        reject(new ApiError(xhr.status, '', msg));
      }
    };
    xhr.onerror = () => reject(new ApiError(0, 'network', 'The upload failed.'));
    xhr.send(file);
  });
}

/** A client token for idempotent sends. */
export function clientToken() {
  return crypto.randomUUID ? crypto.randomUUID() : `${Date.now()}-${Math.random().toString(36).slice(2)}`;
}
