// An app's view: its instances, envs (values hidden until revealed),
// scheduled jobs, history with rollback, logs, and the actions on it.
import { get, request } from './api.js';
import { h, replace, confirm, time, badge, field, status, ago } from './dom.js';
import { deployForm, runSteps } from './deploy.js';
import { canDeploy, canReadSecrets } from './scope.js';
import { chart } from './traffic.js';

const enc = encodeURIComponent;

export function mount(el, { app, refresh, events }) {
  const base = `/apps/${enc(app)}`;
  const deploys = canDeploy(app); // the token changes this app
  const secrets = canReadSecrets(app); // the token reads its logs and env values
  const revealed = new Set();
  const summary = h('dl', { class: 'summary', id: 'app-summary' });
  const instBody = h('tbody', { id: 'instances-body' });
  const envBody = h('tbody', { id: 'envs-body' });
  const histBody = h('tbody', { id: 'history-body' });
  const jobsBody = h('tbody', { id: 'jobs-body' });
  const trafficBox = h('div', { id: 'traffic' }, 'Loading…');
  const trafficSummary = h('p', { id: 'traffic-summary', class: 'detail' });
  const logs = h('pre', { id: 'logs', class: 'logs', tabindex: 0, 'aria-label': 'Last log lines' }, 'Loading…');
  const error = h('p', { id: 'app-error', role: 'alert' });
  const opSteps = h('ol', { class: 'steps', id: 'op-steps', 'aria-label': 'Steps of the last change', role: 'log', 'aria-live': 'polite' });
  const opOut = h('p', { id: 'op-status', role: 'status' });
  let current = null;
  let lastEnvs = [];

  const change = async (method, path, body) => {
    await runSteps(method, path, body, opSteps, opOut);
    refresh();
  };

  const scaleForm = h('form', { class: 'row', id: 'scale-form', 'aria-label': 'Scale' },
    field('Instances', { id: 'scale-count', name: 'count', type: 'number', min: 0, required: true }),
    h('button', { type: 'submit' }, 'Scale'));
  scaleForm.addEventListener('submit', async (e) => {
    e.preventDefault();
    const count = Number(new FormData(scaleForm).get('count'));
    if (current && count < current.count &&
      !await confirm(`Scale ${app} down to ${count}?`, `${current.count - count} instance(s) will be stopped.`, 'Scale down')) return;
    await change('POST', `${base}/scale`, { count });
  });

  const kill = h('button', {
    type: 'button', class: 'danger', id: 'kill',
    onclick: async () => {
      if (!await confirm(`Kill ${app}?`, 'Every instance is unrouted and stopped; the app is kept with count 0 (deploy or scale brings it back).', 'Kill')) return;
      try { await request('POST', `${base}/kill`); status(opOut, `${app} is stopped.`); } catch (err) { status(opOut, err.message, true); }
      refresh();
    },
  }, 'Kill all instances');

  const envForm = h('form', { class: 'row', id: 'env-form', 'aria-label': 'Set an env' },
    field('Name', { id: 'env-key', name: 'key', required: true, pattern: '[A-Za-z_][A-Za-z0-9_]*', autocomplete: 'off', spellcheck: 'false' }),
    field('Value', { id: 'env-value', name: 'value', autocomplete: 'off', spellcheck: 'false' }),
    h('button', { type: 'submit' }, 'Set env'));
  envForm.addEventListener('submit', async (e) => {
    e.preventDefault();
    const f = new FormData(envForm);
    await change('POST', `${base}/envs`, { env: `${String(f.get('key')).trim()}=${f.get('value')}` });
    envForm.reset();
  });

  const refreshLogs = async () => {
    try {
      const r = await get(`${base}/logs`);
      logs.textContent = r.logs.length ? r.logs.join('\n') : 'No log lines.';
    } catch (err) { logs.textContent = err.message; }
  };

  replace(el,
    h('p', {}, h('a', { href: '#/' }, '← Cluster')),
    h('h1', { id: 'app-title' }, app),
    error, summary,
    h('section', { 'aria-labelledby': 'inst-title' },
      h('h2', { id: 'inst-title' }, 'Instances'),
      h('div', { class: 'scroll' }, h('table', { id: 'instances' },
        h('thead', {}, h('tr', {}, ['Address', 'Health', 'Revision', 'Started'].map((c) => h('th', { scope: 'col' }, c)))),
        instBody)),
      deploys ? h('div', { class: 'row wrap' }, scaleForm, kill) : null),
    deploys ? h('section', { 'aria-labelledby': 'op-title' },
      h('h2', { id: 'op-title' }, 'Deploy'),
      h('div', { id: 'app-deploy' }),
      h('h3', {}, 'Last change'), opSteps, opOut) : null,
    h('section', { 'aria-labelledby': 'traffic-title' },
      h('h2', { id: 'traffic-title' }, 'Traffic, last hour'),
      trafficSummary, trafficBox),
    h('section', { 'aria-labelledby': 'envs-title' },
      h('h2', { id: 'envs-title' }, 'Envs'),
      h('div', { class: 'scroll' }, h('table', { id: 'envs' },
        h('thead', {}, h('tr', {}, ['Name', 'Value', 'Actions'].map((c) => h('th', { scope: 'col' }, c)))),
        envBody)),
      deploys ? envForm : null),
    h('section', { 'aria-labelledby': 'jobs-title' },
      h('h2', { id: 'jobs-title' }, 'Scheduled jobs'),
      h('div', { class: 'scroll' }, h('table', { id: 'jobs' },
        h('thead', {}, h('tr', {}, ['Job', 'Schedule', 'Next run', 'Last run', 'Outcome', 'Exit code'].map((c) => h('th', { scope: 'col' }, c)))),
        jobsBody))),
    h('section', { 'aria-labelledby': 'hist-title' },
      h('h2', { id: 'hist-title' }, 'History'),
      h('div', { class: 'scroll' }, h('table', { id: 'history' },
        h('thead', {}, h('tr', {}, ['Revision', 'Time', 'Image', 'Status', 'Reason', 'Actions'].map((c) => h('th', { scope: 'col' }, c)))),
        histBody))),
    h('section', { 'aria-labelledby': 'logs-title' },
      h('h2', { id: 'logs-title' }, 'Logs'),
      secrets ? h('button', { type: 'button', id: 'logs-refresh', onclick: refreshLogs }, 'Refresh logs') : null,
      logs),
    h('section', { 'aria-labelledby': 'events-title' },
      h('h2', { id: 'events-title' }, 'Latest events'),
      events));
  if (secrets) refreshLogs(); else logs.textContent = 'This token does not read the logs of this app.';

  const envRows = (envs) => {
    if (!secrets) return [h('tr', {}, h('td', { colspan: 3 }, 'This token does not read the envs of this app.'))];
    if (!envs.length) return [h('tr', {}, h('td', { colspan: 3 }, 'No envs.'))];
    return envs.map((kv) => {
      const i = kv.indexOf('=');
      const key = kv.slice(0, i);
      const value = kv.slice(i + 1);
      const shown = revealed.has(key);
      return h('tr', { 'data-env': key },
        h('th', { scope: 'row', class: 'mono' }, key),
        h('td', { class: 'mono' }, shown ? value : h('span', { 'aria-label': 'hidden value' }, '••••••')),
        h('td', {},
          h('button', {
            type: 'button', class: 'small', id: `reveal-${key}`, 'aria-pressed': String(shown), 'aria-label': `${shown ? 'Hide' : 'Reveal'} ${key}`,
            onclick: () => {
              if (shown) revealed.delete(key); else revealed.add(key);
              replace(envBody, envRows(lastEnvs));
              document.getElementById(`reveal-${key}`)?.focus();
            },
          }, shown ? 'Hide' : 'Reveal'),
          ' ',
          !deploys ? null : h('button', {
            type: 'button', class: 'small danger', id: `unset-${key}`, 'aria-label': `Remove ${key}`,
            onclick: async () => {
              if (!await confirm(`Remove ${key}?`, `${app} restarts without it (a new revision).`, 'Remove')) return;
              await change('DELETE', `${base}/envs/${enc(key)}`);
            },
          }, 'Remove')));
    });
  };

  const histRows = (hist) => hist.map((r) => h('tr', { 'data-revision': r.revision, class: r.current ? 'current' : '' },
    h('th', { scope: 'row' }, String(r.revision), r.current ? h('span', { class: 'detail' }, ' (current)') : ''),
    h('td', {}, time(r.timestamp)),
    h('td', { class: 'mono' }, r.image),
    h('td', {}, badge(r.status)),
    h('td', {}, r.reason ? h('pre', { class: 'reason' }, r.reason) : ''),
    h('td', {}, !deploys || r.current || r.status !== 'succeeded' ? '' : h('button', {
      type: 'button', class: 'small', id: `rollback-${r.revision}`, 'aria-label': `Roll back to revision ${r.revision}`,
      onclick: async () => {
        if (!await confirm(`Roll back ${app} to revision ${r.revision}?`, `Its instances are replaced by ${r.image} with revision ${r.revision}'s envs.`, 'Roll back')) return;
        await change('POST', `${base}/rollback`, { revision: r.revision });
      },
    }, 'Roll back'))));

  // jobRows: each job's next run and its last run's outcome (late when it
  // started after a due time no controller ran, with why in its title); a
  // skipped due time is not a run (cluster.LastRun).
  const jobRows = (jobs) => {
    if (!jobs.length) return [h('tr', {}, h('td', { colspan: 6 }, 'No scheduled jobs: add one with longshoreman jobs:add.'))];
    return jobs.map((j) => {
      const last = j.runs.find((r) => r.outcome !== 'skipped');
      return h('tr', { 'data-job': j.name },
        h('th', { scope: 'row', class: 'mono' }, j.name),
        h('td', { class: 'mono' }, j.schedule),
        h('td', {}, time(j.next)),
        h('td', {}, last ? time(last.start) : '—'),
        h('td', { title: last?.note || '' }, last ? badge(last.late ? `${last.outcome} (late)` : last.outcome, last.outcome) : '—'),
        h('td', {}, last && last.exit_code !== undefined ? String(last.exit_code) : '—'));
    });
  };

  let deployMounted = false;
  return {
    async update(o) {
      const a = o.apps.find((x) => x.app === app);
      if (!a) {
        status(error, `There is no app ${app} (any more).`, true);
        return;
      }
      current = a;
      status(error, '');
      if (deploys && !deployMounted) {
        deployMounted = true;
        replace(document.getElementById('app-deploy'), deployForm({
          app, onDone: () => refresh(),
          defaults: { image: a.image, count: a.count, port: a.port, health: a.healthcheck?.path, timeout: a.healthcheck?.timeout },
        }));
        document.getElementById('scale-count').value = String(a.count);
      }
      replace(summary,
        h('dt', {}, 'Image'), h('dd', { class: 'mono' }, a.image || '—'),
        h('dt', {}, 'Revision'), h('dd', { id: 'app-revision' }, a.revision ? String(a.revision) : '—'),
        h('dt', {}, 'Healthy'), h('dd', { id: 'app-healthy' }, `${a.healthy}/${a.count}`),
        h('dt', {}, 'State'), h('dd', {}, badge(a.state)),
        ...(a.volumes?.length ? [h('dt', {}, 'Volumes'), h('dd', { id: 'app-volumes', class: 'mono' }, a.volumes.join(', '), ' ', h('span', { class: 'detail' }, 'on ', (a.hosts || []).join(', ')))] : []),
        ...(a.maintenance ? [h('dt', {}, 'Maintenance'), h('dd', { id: 'app-maintenance' }, badge('maintenance'), ' ', a.maintenance.message || 'default page', ' ', h('span', { class: 'detail' }, 'since ', time(a.maintenance.since)))] : []));
      replace(instBody, a.instances.length ? a.instances.map((i) => h('tr', { 'data-instance': i.addr, 'data-health': i.health },
        h('th', { scope: 'row', class: 'mono' }, i.addr),
        h('td', {}, badge(i.health)),
        h('td', {}, String(i.revision)),
        h('td', {}, time(i.started), ' ', h('span', { class: 'detail' }, ago(i.started)))))
        : [h('tr', {}, h('td', { colspan: 4 }, 'No instances.'))]);
      const [envs, hist, jobs, traffic] = await Promise.all([secrets ? get(`${base}/envs`) : { envs: [] }, get(`${base}/history`), get(`${base}/jobs`),
        get(`${base}/traffic?since=1h`).catch((err) => ({ error: err.message }))]);
      if (traffic.error) {
        replace(trafficBox, traffic.error);
      } else {
        replace(trafficSummary, `${traffic.requests} requests, ${traffic.rps.toFixed(2)}/s, ${(traffic.error_rate * 100).toFixed(1)}% errors, p50 ${traffic.p50.toFixed(1)} ms, p95 ${traffic.p95.toFixed(1)} ms, p99 ${traffic.p99.toFixed(1)} ms; dashed lines mark deploys.`);
        replace(trafficBox, chart(traffic, hist.history));
      }
      lastEnvs = envs.envs;
      replace(envBody, envRows(lastEnvs));
      replace(histBody, histRows(hist.history));
      replace(jobsBody, jobRows(jobs.jobs));
    },
  };
}
