/// <reference lib="dom" />
import { html, nothing, render } from 'lit';
import './style.css';
import { api, explain, RequestError, roleOf, session, SIGNED_OUT, target } from './api.js';
import { href, onUpdate, route, update, type View } from './state.js';
import { alertsView, firingCount, startAlertStream, stopAlertStream } from './views/alerts.js';
import { entityViews } from './views/entities.js';
import { explorerView } from './views/explorer.js';
import { meshView } from './views/mesh.js';
import { overviewView } from './views/overview.js';

const views: Record<string, View> = { overview: overviewView, mesh: meshView, explorer: explorerView, alerts: alertsView, ...entityViews };
const nav: Array<[string, string]> = [
  ['overview', 'Overview'],
  ['mesh', 'Mesh'],
  ['explorer', 'Explorer'],
  ['alerts', 'Alerts'],
  ['indicators', 'Indicators'],
  ['devices', 'Devices'],
  ['rules', 'Rules'],
  ['statics', 'Statics'],
];

const signin = { busy: false, error: '' };

async function signIn(e: Event): Promise<void> {
  e.preventDefault();
  const token = String(new FormData(e.target as HTMLFormElement).get('token') ?? '').trim();
  if (!token) {
    signin.error = 'Enter the API token given to you (a read or an admin token from the probe\'s configuration).';
    return update();
  }
  signin.busy = true;
  signin.error = '';
  update();
  try {
    session.save(token, await roleOf(token));
    await boot();
  } catch (err) {
    signin.error = explain(err);
  } finally {
    signin.busy = false;
    update();
  }
}

function signOut(): void {
  session.clear();
  stopAlertStream();
  current?.abort();
  current = undefined;
  update();
}

const signInPage = () => html`<main class="signin">
  <h1>probemesh</h1>
  <form @submit=${signIn} aria-describedby="signin-help">
    <label for="token">API token</label>
    <input id="token" name="token" type="password" autocomplete="current-password" required autofocus>
    <button type="submit" ?disabled=${signin.busy}>${signin.busy ? 'Checking…' : 'Sign in'}</button>
    <p id="signin-help" class="hint">The token stays in this tab (sessionStorage) and is sent only in a request header. A read token shows everything; an admin token can also edit.</p>
    ${signin.error ? html`<p class="error" role="alert">${signin.error}</p>` : nothing}
  </form>
</main>`;

let current: AbortController | undefined;
let shown = '';

/** Opens the view of the current route (again, when its parameters changed). */
function open(): void {
  const { view, params } = route();
  const probe = params.get('probe') ?? undefined;
  const key = `${view}?${params}`;
  if (key === shown && target.probe === (probe ?? target.self)) return update();
  shown = key;
  target.probe = probe ?? target.self;
  current?.abort();
  current = new AbortController();
  const v = views[view];
  document.title = `${v?.title ?? 'Not found'} · ${target.probe ?? ''} · probemesh`;
  void Promise.resolve(v?.enter?.(params, current.signal)).catch((err) => console.warn('probemesh: view', view, explain(err)));
  update();
}

async function boot(): Promise<void> {
  const info = await api<{ id: string; role: string; counts: Record<string, number> }>('/info', { local: true });
  target.info = info;
  target.self = info.id;
  target.selfRole = info.role;
  startAlertStream();
  shown = '';
  open();
}

function page() {
  if (!session.token || !target.self) return signInPage();
  const { view, params } = route();
  const v = views[view];
  const firing = firingCount();
  return html`<header>
      <a class="brand" href=${href('overview')}>probemesh</a>
      <a class="probe" href=${href('mesh')} title="the probe every view acts on; choose another in Mesh">probe <b id="selected-probe">${target.probe}</b>${target.probe !== target.self ? html` <span class="via">via ${target.self}</span>` : nothing}</a>
      <span class="role" title=${session.role === 'admin' ? 'this token can edit' : 'this token can only read'}>${session.role}</span>
      <button class="link" @click=${signOut}>Sign out</button>
    </header>
    <nav aria-label="views">
      ${nav.map(([id, label]) => html`<a href=${href(id)} aria-current=${id === view ? 'page' : 'false'}>${label}${id === 'alerts' && firing ? html` <span class="badge" title="firing alerts">${firing}</span>` : nothing}</a>`)}
    </nav>
    <main id="view" data-view=${view}>${v ? v.render(params) : html`<p class="error">No view '${view}'. <a href=${href('overview')}>Overview</a></p>`}</main>`;
}

onUpdate(() => render(page(), document.body));
window.addEventListener('hashchange', open);
window.addEventListener(SIGNED_OUT, () => {
  signOut();
  signin.error = explain(new RequestError(401, 'unauthorized', ''));
});
if (session.token) {
  boot().catch((err) => {
    signin.error = explain(err);
    session.clear();
    update();
  });
} else update();
