// What the signed-in token may do, from GET /whoami, so that the views
// show only the controls it can use. The controller decides: a hidden
// control is a courtesy, not the check.
import { get } from './api.js';

const rank = { read: 1, deploy: 2, admin: 3 };
let me = null;

// load asks the controller which token this tab signed in with.
export async function load() {
  me = await get('/whoami');
  return me;
}

export function clear() { me = null; }

// describe says the token for the header: "ci (deploy: a.example.com)".
export function describe() {
  if (!me) return '';
  return `${me.name} (${me.scope}${me.apps.length ? `: ${me.apps.join(', ')}` : ''})`;
}

function has(scope) { return !!me && (rank[me.scope] || 0) >= rank[scope]; }

function names(app) { return !me.apps.length || me.apps.includes(app); }

// canAdmin: hosts, registries, certificates, tokens, deleting apps.
export function canAdmin() { return has('admin'); }

// canDeploy: deploys, envs, scale, rollback, kill of app (of some app
// when app is not given).
export function canDeploy(app) { return has('deploy') && (!app || has('admin') || names(app)); }

// canReadSecrets: an app's logs and env values.
export function canReadSecrets(app) { return has('read') && (has('admin') || names(app)); }
