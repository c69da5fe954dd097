// The dashboard: sign-in, the hash router (#/ the cluster, #/apps/NAME an
// app, #/audit the audit log), the live event stream, and refreshing the view when it says
// something changed.
import { token, get, follow, onUnauthorized, ApiError } from './api.js';
import { h, replace } from './dom.js';
import * as clusterView from './cluster.js';
import * as appView from './appview.js';
import * as auditView from './audit.js';
import { stepText } from './deploy.js';
import * as scope from './scope.js';

const $ = (id) => document.getElementById(id);
const MAX_EVENTS = 50;

let stopEvents = null;
let view = null;
let timer = null;
let poll = null;
let currentApp = ''; // the app whose view is shown; its events only are listed there
const eventList = h('ol', { id: 'events', class: 'events', role: 'log', 'aria-live': 'off', 'aria-label': 'Latest events, newest first' });

function showSignIn(message) {
  $('signin').hidden = false;
  $('view').hidden = true;
  $('nav').hidden = true;
  $('signout').hidden = true;
  $('live').hidden = true;
  $('whoami').hidden = true;
  $('signin-error').textContent = message || '';
  $('token').value = '';
  $('token').focus();
}

function signOut(message) {
  if (stopEvents) stopEvents();
  stopEvents = null;
  clearInterval(poll);
  token.clear();
  scope.clear();
  view = null;
  replace($('view'));
  replace(eventList);
  showSignIn(message);
}

function setLive(state) {
  const el = $('live');
  el.textContent = { live: 'live', reconnecting: 'reconnecting…', stopped: 'not live' }[state] || state;
  el.className = `live l-${state}`;
}

function eventText(type, e) {
  const what = type === 'deploy' ? stepText(e)
    : type === 'audit' ? `${e.step} by ${e.token || 'no token'} from ${e.source} — ${e.message}`
      : [e.step, e.job || e.instance || e.host, e.message].filter(Boolean).join(' — ');
  return `${type}${e.app ? ` ${e.app}` : ''}${e.revision ? ` r${e.revision}` : ''}: ${what}`;
}

function onEvent(type, e) {
  const t = new Date(e.time);
  const li = h('li', { 'data-type': type, 'data-step': e.step, 'data-app': e.app || '' },
    h('time', { datetime: e.time }, isNaN(t) ? '' : t.toLocaleTimeString()), ' ', eventText(type, e));
  li.hidden = !shown(li);
  eventList.prepend(li);
  while (eventList.children.length > MAX_EVENTS) eventList.lastChild.remove();
  if (type === 'dropped') return;
  schedule();
}

// shown reports whether an event's line belongs in the current view.
function shown(li) {
  return !currentApp || !li.dataset.app || li.dataset.app === currentApp;
}

// schedule refreshes the view soon: once for a burst of events, and at
// least every quarter second while a deploy streams its steps.
function schedule() {
  if (timer) return;
  timer = setTimeout(() => { timer = null; refresh(); }, 250);
}

async function refresh() {
  if (!view) return;
  const v = view;
  const focused = document.activeElement?.id;
  try {
    // A standalone view (the audit log) reads what it shows itself.
    const o = v.standalone ? undefined : await get('/overview');
    if (v !== view) return;
    await v.update(o);
  } catch (err) {
    if (err instanceof ApiError && err.status === 401) return;
    console.error(err);
  }
  if (focused && document.activeElement === document.body) $(focused)?.focus();
}

function route() {
  if (!token.get()) return;
  const m = location.hash.match(/^#\/apps\/([^/]+)$/);
  const el = $('view');
  const ctx = { refresh: schedule, events: eventList };
  currentApp = m ? decodeURIComponent(m[1]) : '';
  for (const li of eventList.children) li.hidden = !shown(li);
  if (m) {
    const app = currentApp;
    document.title = `${app} · Longshoreman`;
    view = appView.mount(el, { ...ctx, app });
  } else if (location.hash === '#/audit') {
    document.title = 'Audit log · Longshoreman';
    view = auditView.mount(el);
  } else {
    document.title = 'Cluster · Longshoreman';
    view = clusterView.mount(el, ctx);
  }
  refresh();
  $('main').focus();
}

async function start() {
  try {
    await scope.load();
  } catch (err) {
    if (!(err instanceof ApiError && err.status === 401)) signOut(err.message);
    return; // a 401 signs out through onUnauthorized
  }
  $('whoami').textContent = scope.describe();
  $('whoami').hidden = false;
  $('nav-audit').hidden = !scope.canAdmin(); // GET /audit takes an admin token
  $('signin').hidden = true;
  $('view').hidden = false;
  $('nav').hidden = false;
  $('signout').hidden = false;
  $('live').hidden = false;
  setLive('reconnecting');
  stopEvents = follow(onEvent, setLive);
  // Times ("started 3m ago") and host states age without events.
  poll = setInterval(refresh, 10000);
  route();
}

async function signIn(e) {
  e.preventDefault();
  const t = $('token').value.trim();
  $('signin-error').textContent = '';
  try {
    await get('/overview', t);
  } catch (err) {
    $('signin-error').textContent = err.status === 401 ? 'Invalid token' : err.message;
    return;
  }
  token.set(t);
  $('token').value = '';
  await start();
}

onUnauthorized(() => { if (token.get()) signOut('Invalid token'); });
$('signin-form').addEventListener('submit', signIn);
$('signout').addEventListener('click', () => signOut('Signed out.'));
window.addEventListener('hashchange', route);
if (token.get()) start(); else showSignIn();
// Every module loaded and the page is wired: what a test (or a script)
// waits for before it uses the page.
document.documentElement.dataset.ready = 'true';
