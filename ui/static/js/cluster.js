// The cluster view: hosts, apps, a deploy form and the latest events.
import { get, request } from './api.js';
import { h, replace, confirm, time, bytes, badge, field, status } from './dom.js';
import { deployForm } from './deploy.js';
import { canAdmin, canDeploy } from './scope.js';
import { sparkline } from './traffic.js';

function hostState(host) {
  if (host.draining) return badge('draining');
  if (host.status === 'ok') return badge('up');
  if (host.status.startsWith('down')) return badge('down');
  if (host.status === 'not checked yet') return badge('unknown');
  return badge('failing');
}

function hostRows(hosts, refresh) {
  if (!hosts.length) return [h('tr', {}, h('td', { colspan: 7 }, 'No hosts yet: add one below.'))];
  return hosts.map((host) => h('tr', { 'data-host': host.addr },
    h('th', { scope: 'row' }, host.addr),
    h('td', {}, hostState(host), ' ', host.status === 'ok' ? '' : h('span', { class: 'detail' }, host.status)),
    h('td', {}, time(host.added)),
    h('td', {}, `${host.memory ? bytes(host.memory) : '0'} / ${bytes(host.memory_total)}`),
    h('td', {}, host.images_disk ? bytes(host.images_disk) : '—'),
    h('td', {}, String(host.instances)),
    h('td', {}, !canAdmin() ? '' : h('button', {
      type: 'button', class: 'danger small', id: `drain-${host.addr}`, 'aria-label': `Drain and remove host ${host.addr}`,
      onclick: async (e) => {
        if (!await confirm(`Drain ${host.addr}?`, `Its ${host.instances} instance(s) move to the other hosts, then the host leaves the cluster.`, 'Drain and remove')) return;
        e.target.disabled = true;
        try { await request('DELETE', `/hosts/${encodeURIComponent(host.addr)}`); } catch (err) { alertError(err); }
        refresh();
      },
    }, 'Drain'))));
}

function alertError(err) {
  const el = document.getElementById('cluster-error');
  if (el) status(el, err.message, true);
}

function lastDeploy(app) {
  if (!app.last) return '—';
  return h('span', {}, badge(app.last.status), ` r${app.last.revision} `, time(app.last.timestamp));
}

function appRows(apps) {
  if (!apps.length) return [h('tr', {}, h('td', { colspan: 7 }, 'No apps yet: deploy one below.'))];
  return apps.map((app) => h('tr', { 'data-app': app.app },
    h('th', { scope: 'row' }, h('a', { href: `#/apps/${encodeURIComponent(app.app)}` }, app.app)),
    h('td', { class: 'mono' }, app.image || '—'),
    h('td', {}, app.revision ? String(app.revision) : '—'),
    h('td', { class: 'healthy' }, `${app.healthy}/${app.count}`),
    h('td', {}, badge(app.state), app.maintenance && [' ', badge('maintenance')]),
    h('td', {}, lastDeploy(app)),
    h('td', { class: 'spark', 'data-traffic': app.app }, '—')));
}

// fillSparklines draws each app's requests/s of the last hour in its row.
async function fillSparklines(body, apps) {
  await Promise.all(apps.map(async (app) => {
    try {
      const f = await get(`/apps/${encodeURIComponent(app.app)}/traffic?since=1h`);
      const td = [...body.querySelectorAll('td[data-traffic]')].find((x) => x.dataset.traffic === app.app);
      if (td) replace(td, sparkline(f), h('span', { class: 'detail' }, `${f.rps.toFixed(1)}/s`));
    } catch { /* the row keeps its dash */ }
  }));
}

// mount builds the view in el; update(overview) fills it.
export function mount(el, { refresh, events }) {
  const hostBody = h('tbody', { id: 'hosts-body' });
  const appBody = h('tbody', { id: 'apps-body' });
  const addOut = h('p', { id: 'host-add-status', role: 'status' });
  const addForm = h('form', { class: 'row', id: 'host-add-form', 'aria-label': 'Add a host' },
    field('Host address', { id: 'host-add-addr', name: 'host', required: true, placeholder: '10.0.0.5', autocomplete: 'off' }),
    h('button', { type: 'submit' }, 'Add host'));
  addForm.addEventListener('submit', async (e) => {
    e.preventDefault();
    const host = new FormData(addForm).get('host').trim();
    try {
      await request('POST', '/hosts', { host });
      status(addOut, `Added ${host}.`);
      addForm.reset();
    } catch (err) { status(addOut, err.message, true); }
    refresh();
  });
  replace(el,
    h('h1', {}, 'Cluster'),
    h('p', { id: 'cluster-error', role: 'alert' }),
    h('section', { 'aria-labelledby': 'hosts-title' },
      h('h2', { id: 'hosts-title' }, 'Hosts'),
      h('div', { class: 'scroll' }, h('table', { id: 'hosts' },
        h('thead', {}, h('tr', {}, ['Host', 'State', 'Added', 'Memory reserved / total', 'Images on disk', 'Instances', 'Actions'].map((c) => h('th', { scope: 'col' }, c)))),
        hostBody)),
      canAdmin() ? addForm : null, addOut),
    h('section', { 'aria-labelledby': 'apps-title' },
      h('h2', { id: 'apps-title' }, 'Apps'),
      h('div', { class: 'scroll' }, h('table', { id: 'apps' },
        h('thead', {}, h('tr', {}, ['App', 'Image', 'Revision', 'Healthy', 'State', 'Last deploy', 'Requests/s, last hour'].map((c) => h('th', { scope: 'col' }, c)))),
        appBody))),
    canDeploy() ? h('section', { 'aria-labelledby': 'deploy-title' },
      h('h2', { id: 'deploy-title' }, 'Deploy'),
      deployForm({ onDone: () => refresh() })) : null,
    h('section', { 'aria-labelledby': 'events-title' },
      h('h2', { id: 'events-title' }, 'Latest events'),
      events));
  return {
    update(o) {
      replace(hostBody, hostRows(o.hosts, refresh));
      replace(appBody, appRows(o.apps));
      fillSparklines(appBody, o.apps);
    },
  };
}
