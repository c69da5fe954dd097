// The audit log's view (#/audit): who changed what, newest first, with
// filters by app, token and time. It reads GET /audit itself; the events
// of new entries refresh it.
import { get } from './api.js';
import { h, replace, time, badge, field, status } from './dom.js';

function args(a) {
  return Object.keys(a || {}).sort().map((k) => `${k}=${a[k]}`).join(' ');
}

function rows(entries) {
  if (!entries.length) return [h('tr', {}, h('td', { colspan: 7 }, 'No change recorded matches.'))];
  return entries.map((e) => h('tr', { 'data-operation': e.operation, 'data-app': e.app || '', 'data-token': e.token },
    h('td', {}, time(e.time)),
    h('td', {}, e.token || '—'),
    h('td', { class: 'mono' }, e.source || '—'),
    h('th', { scope: 'row' }, e.operation),
    h('td', {}, e.app || '—'),
    h('td', { class: 'mono' }, args(e.args) || '—'),
    h('td', { class: 'outcome' }, e.outcome === 'ok' ? badge('ok', 'succeeded') : [badge(String(e.status), 'failed'), ' ', e.outcome])));
}

// mount builds the view in el; its update reads the entries the filter
// form asks for.
export function mount(el) {
  const body = h('tbody', { id: 'audit-body' });
  const out = h('p', { id: 'audit-status', role: 'status' });
  const form = h('form', { class: 'row', id: 'audit-form', 'aria-label': 'Filter the audit log' },
    field('App', { id: 'audit-app', name: 'app', autocomplete: 'off', placeholder: 'shop.example.com' }),
    field('Token', { id: 'audit-token', name: 'token', autocomplete: 'off', placeholder: 'root' }),
    field('Since', { id: 'audit-since', name: 'since', autocomplete: 'off', placeholder: '24h' }),
    h('button', { type: 'submit' }, 'Filter'));
  let query = '';
  const load = async () => {
    try {
      const a = await get(`/audit${query}`);
      replace(body, rows(a.audit));
      status(out, `${a.audit.length} entr${a.audit.length === 1 ? 'y' : 'ies'}, newest first.`);
    } catch (err) { status(out, err.message, true); }
  };
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    const q = new URLSearchParams();
    for (const [k, v] of new FormData(form)) if (v.trim()) q.set(k, v.trim());
    const s = q.toString();
    query = s ? `?${s}` : '';
    load();
  });
  replace(el,
    h('h1', {}, 'Audit log'),
    h('p', {}, 'Every change asked of the API, and every request refused for its token\'s scope: who (the token\'s name), from where, what, and how it ended. Env values are never recorded.'),
    form, out,
    h('div', { class: 'scroll' }, h('table', { id: 'audit' },
      h('thead', {}, h('tr', {}, ['Time', 'Token', 'Source', 'Operation', 'App', 'Arguments', 'Outcome'].map((c) => h('th', { scope: 'col' }, c)))),
      body)));
  return { standalone: true, update: load };
}
