// The deploy form, shared by the cluster view (any app) and an app's view
// (that app): it streams the deploy's steps into a list as they happen.
import { rollout } from './api.js';
import { h, field, status, replace } from './dom.js';

// stepText describes one progress line.
export function stepText(p) {
  const parts = [p.step];
  if (p.instance) parts.push(p.instance);
  else if (p.host) parts.push(p.host);
  if (p.message) parts.push(p.message);
  return parts.join(' — ');
}

// runSteps runs a deploy-like request, showing its steps in list and the
// outcome in out; it resolves to the answer or null when it failed.
export async function runSteps(method, path, body, list, out) {
  replace(list);
  status(out, 'working…');
  try {
    const res = await rollout(method, path, body, (p) => {
      list.append(h('li', { class: `step s-${p.step}`, 'data-step': p.step }, stepText(p)));
    });
    status(out, `Revision ${res.revision} is live on ${res.instances.length} instance(s).`);
    return res;
  } catch (e) {
    list.append(h('li', { class: 'step s-failed', 'data-step': 'failed' }, 'failed'));
    status(out, e.message, true);
    return null;
  }
}

// deployForm returns the form; app fixes the app's name (else it is asked
// for), defaults pre-fills count, port and health check from the app.
export function deployForm({ app, defaults = {}, onDone }) {
  const p = app ? 'app-deploy' : 'deploy';
  const list = h('ol', { class: 'steps', id: `${p}-steps`, 'aria-label': 'Deploy steps', role: 'log', 'aria-live': 'polite' });
  const out = h('p', { id: `${p}-status`, role: 'status' });
  const submit = h('button', { type: 'submit', id: `${p}-submit` }, 'Deploy');
  const form = h('form', { class: 'grid', id: `${p}-form`, 'aria-label': 'Deploy an image' },
    app ? null : field('App (domain)', { id: `${p}-app`, name: 'app', required: true, placeholder: 'shop.example.com', autocomplete: 'off' }),
    field('Image', { id: `${p}-image`, name: 'image', required: true, placeholder: 'registry/shop:1.0', value: defaults.image, autocomplete: 'off' }),
    field('Count', { id: `${p}-count`, name: 'count', type: 'number', min: 1, value: defaults.count || undefined, placeholder: '2' }),
    field('Container port', { id: `${p}-port`, name: 'port', type: 'number', min: 1, max: 65535, value: defaults.port || undefined, placeholder: '3000' }),
    field('Health check path', { id: `${p}-health`, name: 'health', value: defaults.health, placeholder: '/ping', autocomplete: 'off' }),
    field('Health check timeout', { id: `${p}-timeout`, name: 'timeout', value: defaults.timeout, placeholder: '60s', autocomplete: 'off' }),
    h('div', { class: 'actions' }, submit));
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    const f = new FormData(form);
    const name = app || String(f.get('app')).trim();
    const body = { image: String(f.get('image')).trim() };
    if (f.get('count')) body.count = Number(f.get('count'));
    if (f.get('port')) body.port = Number(f.get('port'));
    const hc = {};
    if (String(f.get('health') || '').trim()) hc.path = String(f.get('health')).trim();
    if (String(f.get('timeout') || '').trim()) hc.timeout = String(f.get('timeout')).trim();
    if (Object.keys(hc).length) body.healthcheck = hc;
    submit.disabled = true;
    const res = await runSteps('POST', `/apps/${encodeURIComponent(name)}/deploy`, body, list, out);
    submit.disabled = false;
    if (onDone) onDone(name, res);
  });
  return h('div', { class: 'deploy' }, form, list, out);
}
