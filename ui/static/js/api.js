// The API client: every request carries the token from session storage in
// the X-Auth header, never in a URL or a cookie.

const KEY = 'longshoreman.token';

export const token = {
  get: () => sessionStorage.getItem(KEY),
  set: (t) => sessionStorage.setItem(KEY, t),
  clear: () => sessionStorage.removeItem(KEY),
};

// ApiError carries the API's sentence and status.
export class ApiError extends Error {
  constructor(message, status, code) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

// unauthorized is called when the API refuses the token (set by main.js).
let unauthorized = () => {};
export function onUnauthorized(f) { unauthorized = f; }

function headers(t, extra = {}) {
  return { 'X-Auth': t ?? token.get() ?? '', ...extra };
}

async function fail(res) {
  let body = {};
  try { body = await res.json(); } catch { /* not JSON */ }
  const msg = typeof body.error === 'string' ? body.error : `${res.status} ${res.statusText}`;
  if (res.status === 401) unauthorized();
  return new ApiError(msg, res.status, body.code);
}

// request sends method path with an optional JSON body and returns the
// answer's JSON, or throws an ApiError with the API's sentence.
export async function request(method, path, body, t) {
  const init = { method, headers: headers(t), cache: 'no-store', credentials: 'omit' };
  if (body !== undefined) {
    init.headers['Content-Type'] = 'application/json';
    init.body = JSON.stringify(body);
  }
  let res;
  try {
    res = await fetch(path, init);
  } catch (e) {
    // A read the network failed (the browser aborts the requests under way
    // when the machine's network interfaces change) is sent once more, a
    // moment later; a change is not, as it may have reached the controller.
    if (method !== 'GET' || !(e instanceof TypeError)) throw e;
    await new Promise((resolve) => setTimeout(resolve, 250));
    res = await fetch(path, init);
  }
  if (!res.ok) throw await fail(res);
  return res.json();
}

export const get = (path, t) => request('GET', path, undefined, t);

// lines reads a streamed body and calls each with every complete line.
async function lines(res, each, signal) {
  const reader = res.body.getReader();
  const dec = new TextDecoder();
  let buf = '';
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      buf += dec.decode(value, { stream: true });
      let i;
      while ((i = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, i).replace(/\r$/, '');
        buf = buf.slice(i + 1);
        each(line);
      }
      if (signal?.aborted) break;
    }
  } finally {
    reader.releaseLock();
  }
  if (buf) each(buf);
}

// rollout sends a deploy-like request asking for its steps as they happen
// (ndjson): onStep gets each step; the answer (or its error) is returned.
export async function rollout(method, path, body, onStep) {
  const init = {
    method, cache: 'no-store', credentials: 'omit',
    headers: headers(undefined, { Accept: 'application/x-ndjson' }),
  };
  if (body !== undefined) {
    init.headers['Content-Type'] = 'application/json';
    init.body = JSON.stringify(body);
  }
  const res = await fetch(path, init);
  if (!res.ok) throw await fail(res);
  let last = null;
  await lines(res, (line) => {
    if (!line.trim()) return;
    const v = JSON.parse(line);
    if ('error' in v) last = v; else onStep(v);
  });
  if (!last) throw new ApiError('The controller ended the answer early: check the app\'s history.', 0);
  if (last.error) throw new ApiError(last.error, last.status || 0, last.code);
  return last;
}

// follow reads GET /events with a streaming fetch (the browser's own SSE client cannot
// send the token) and calls onEvent with each event; onState gets
// "live", "reconnecting" or "stopped". It reconnects with backoff,
// resuming after the last event seen, until the returned function is
// called.
export function follow(onEvent, onState) {
  const ctl = new AbortController();
  let lastID = '';
  let backoff = 1000;
  (async () => {
    while (!ctl.signal.aborted) {
      try {
        const h = headers(undefined, { Accept: 'text/event-stream' });
        if (lastID) h['Last-Event-ID'] = lastID;
        const res = await fetch('/events', { headers: h, cache: 'no-store', credentials: 'omit', signal: ctl.signal });
        if (!res.ok) {
          const err = await fail(res);
          if (res.status === 401) { onState('stopped'); return; }
          throw err;
        }
        onState('live');
        backoff = 1000;
        let ev = { type: 'message', data: '', id: '' };
        await lines(res, (line) => {
          if (line === '') {
            if (ev.data) {
              if (ev.id) lastID = ev.id;
              try { onEvent(ev.type, JSON.parse(ev.data)); } catch (e) { console.error(e); }
            }
            ev = { type: 'message', data: '', id: '' };
            return;
          }
          if (line.startsWith(':')) return;
          const i = line.indexOf(':');
          const field = i < 0 ? line : line.slice(0, i);
          const value = i < 0 ? '' : line.slice(i + 1).replace(/^ /, '');
          if (field === 'event') ev.type = value;
          else if (field === 'data') ev.data += (ev.data ? '\n' : '') + value;
          else if (field === 'id') ev.id = value;
        }, ctl.signal);
      } catch (e) {
        if (ctl.signal.aborted) break;
      }
      if (ctl.signal.aborted) break;
      onState('reconnecting');
      await new Promise((r) => setTimeout(r, backoff));
      backoff = Math.min(backoff * 2, 30000);
    }
    onState('stopped');
  })();
  return () => ctl.abort();
}
