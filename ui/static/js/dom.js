// Small DOM helpers. Text is always set as text, never parsed as HTML, so
// nothing the cluster reports (an app's log line, an env value) can
// inject markup.

// h creates an element: h('a', {href: '#/'}, 'text', child...). Attributes
// starting with "on" are listeners; class, hidden and the rest are set as
// attributes.
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2), v);
    else if (v === true) el.setAttribute(k, '');
    else el.setAttribute(k, String(v));
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const c of children.flat()) {
    if (c === undefined || c === null || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
}

// replace sets el's children.
export function replace(el, ...children) {
  el.replaceChildren();
  append(el, children);
}

// confirm asks in the page's <dialog> and resolves true on Confirm.
export function confirm(title, text, action = 'Confirm') {
  const d = document.getElementById('confirm');
  document.getElementById('confirm-title').textContent = title;
  document.getElementById('confirm-text').textContent = text;
  const ok = document.getElementById('confirm-ok');
  const cancel = document.getElementById('confirm-cancel');
  ok.textContent = action;
  const opener = document.activeElement;
  return new Promise((resolve) => {
    const done = (v) => {
      ok.removeEventListener('click', yes);
      cancel.removeEventListener('click', no);
      d.removeEventListener('cancel', esc);
      d.close();
      if (opener && opener.isConnected) opener.focus();
      resolve(v);
    };
    const yes = () => done(true);
    const no = () => done(false);
    const esc = (e) => { e.preventDefault(); done(false); };
    ok.addEventListener('click', yes);
    cancel.addEventListener('click', no);
    d.addEventListener('cancel', esc);
    d.showModal();
    cancel.focus();
  });
}

export function time(t) {
  const d = typeof t === 'number' ? new Date(t * 1000) : new Date(t);
  if (isNaN(d) || d.getTime() <= 0) return '—';
  return h('time', { datetime: d.toISOString(), title: d.toISOString() }, d.toLocaleString());
}

export function ago(t) {
  const d = new Date(t);
  const s = Math.round((Date.now() - d.getTime()) / 1000);
  if (isNaN(s)) return '—';
  if (s < 60) return `${Math.max(s, 0)}s ago`;
  if (s < 3600) return `${Math.floor(s / 60)}m ago`;
  if (s < 86400) return `${Math.floor(s / 3600)}h ago`;
  return `${Math.floor(s / 86400)}d ago`;
}

export function bytes(n) {
  if (!n) return '—';
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) { n /= 1024; i++; }
  return `${n.toFixed(n < 10 && i > 0 ? 1 : 0)} ${units[i]}`;
}

// badge is a word with a class for its colour; the word itself says the
// state, so colour is never the only cue.
export function badge(word, kind = word) {
  return h('span', { class: `badge b-${kind}` }, word);
}

// field is a labelled input.
export function field(label, attrs) {
  const id = attrs.id;
  return h('div', { class: 'field' }, h('label', { for: id }, label), h('input', attrs));
}

// status sets a form's status line: an error in red, or a note.
export function status(el, text, isError = false) {
  el.textContent = text || '';
  el.className = isError ? 'error' : 'note';
}
