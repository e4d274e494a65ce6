/**
 * The AutoPEFT dashboard: hash routing between the studies list (`#/`), the new-study form
 * (`#/new`) and a study (`#/studies/<id>`), a problem banner, and live refresh from server-sent events.
 */

import { fetchHealth } from './api.js';
import { adoptTokenFromUrl, getToken, onTokenRefused, setToken } from './auth.js';
import { h, setText } from './dom.js';
import { createStudyForm } from './create-study.js';
import { createListView } from './list-view.js';
import { connectLive, POLL_MS, type LiveStatus } from './live.js';
import { createStudyView } from './study-view.js';
import type { View, ViewContext } from './ui.js';

type Route = { page: 'list' } | { page: 'new' } | { page: 'study'; id: string } | { page: 'unknown'; path: string };

function parseRoute(hash: string): Route {
  const path = hash.replace(/^#/, '') || '/';
  if (path === '/') return { page: 'list' };
  if (path === '/new' || path === '/new/') return { page: 'new' };
  const match = /^\/studies\/([^/]+)\/?$/.exec(path);
  if (match?.[1]) {
    try {
      return { page: 'study', id: decodeURIComponent(match[1]) };
    } catch {
      // A malformed escape: fall through to "unknown".
    }
  }
  return { page: 'unknown', path };
}

function unknownView(ctx: ViewContext, path: string): View {
  ctx.setTitle('Not found');
  const root = h(
    'section',
    { class: 'page' },
    h(
      'div',
      { class: 'card empty-state' },
      h('h1', null, 'Page not found'),
      h('p', null, 'Nothing lives at ', h('code', null, path), '.'),
      h('p', null, h('a', { href: '#/' }, 'Go to all studies')),
    ),
  );
  return { root, refresh: () => undefined, wants: () => false, destroy: () => undefined };
}

function element(id: string): HTMLElement {
  const el = document.getElementById(id);
  if (!el) throw new Error(`The page lacks #${id}`);
  return el;
}

/** How often the workers banner asks the API which workers stopped taking trials. */
const WORKERS_POLL_MS = 10_000;

/**
 * Keeps the workers banner up to date: it names every worker that stopped taking trials after
 * repeated failures (GET /api/health), so that someone watching a study that does not move
 * learns why. Hidden when there are none, or when the API cannot be asked (the main banner
 * reports outages).
 */
function watchStoppedWorkers(banner: HTMLElement): void {
  const check = async (): Promise<void> => {
    try {
      const { stoppedWorkers } = await fetchHealth();
      if (stoppedWorkers.length === 0) {
        banner.hidden = true;
        return;
      }
      const lines = stoppedWorkers.map((w) => `${w.name} (since ${new Date(w.at).toLocaleTimeString()}): ${w.reason}`);
      const subject = stoppedWorkers.length === 1 ? 'A worker stopped' : `${stoppedWorkers.length} workers stopped`;
      banner.replaceChildren(
        h('strong', null, `${subject} taking trials; their trials went back to the queue for other workers. Fix the host and restart the worker.`),
        ...lines.map((line) => h('div', { class: 'banner-detail' }, line)),
      );
      banner.hidden = false;
    } catch {
      banner.hidden = true;
    }
  };
  void check();
  window.setInterval(() => void check(), WORKERS_POLL_MS);
}

/**
 * Asks for an API token (none stored, or the API refused it), stores it for this tab and
 * reloads. `autopeft serve` prints a URL that carries one; `autopeft token create` makes others.
 */
function askForToken(app: HTMLElement, reason: string): void {
  if (document.getElementById('token-form')) return;
  const input = h('input', { type: 'password', id: 'token-input', 'data-testid': 'token-input', autocomplete: 'off', placeholder: 'apt_…', required: true });
  const form = h(
    'form',
    { class: 'card token-card', id: 'token-form', 'data-testid': 'token-form' },
    h('h1', null, 'An API token is needed'),
    h('p', null, reason),
    h('p', { class: 'muted' }, 'Open the URL that ', h('code', null, 'autopeft serve'), ' printed, or paste a token from ', h('code', null, 'autopeft token create'), '. It is kept for this tab only.'),
    h('label', { for: 'token-input' }, 'Token'),
    input,
    h('button', { type: 'submit', class: 'button' }, 'Use this token'),
  );
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    setToken((input as HTMLInputElement).value.trim());
    window.location.reload();
  });
  app.replaceChildren(h('section', { class: 'page' }, form));
}

function start(): void {
  const app = element('app');
  adoptTokenFromUrl();
  if (!getToken()) {
    askForToken(app, 'This AutoPEFT service answers only requests that carry a token.');
    setText(element('live-status'), 'Token needed');
    return;
  }
  let refused = false;
  onTokenRefused((reason) => {
    if (refused) return;
    refused = true;
    setToken(undefined);
    askForToken(app, `${reason} It may have been revoked.`);
  });
  const banner = element('banner');
  const liveStatus = element('live-status');

  let view: View | undefined;
  let retryTimer: number | undefined;
  let lastSuccess: Date | undefined;

  const ctx: ViewContext = {
    setProblem(message) {
      if (message === null) {
        lastSuccess = new Date();
        banner.hidden = true;
        if (retryTimer !== undefined) window.clearInterval(retryTimer);
        retryTimer = undefined;
        return;
      }
      const since = lastSuccess ? ` Showing data as of ${lastSuccess.toLocaleTimeString()}.` : '';
      setText(banner, `${message} Retrying every ${POLL_MS / 1000} s.${since}`);
      banner.hidden = false;
      retryTimer ??= window.setInterval(() => view?.refresh(), POLL_MS);
    },
    setTitle(title) {
      document.title = `${title} · AutoPEFT`;
    },
  };

  const show = (): void => {
    view?.destroy();
    ctx.setProblem(null);
    lastSuccess = undefined;
    const route = parseRoute(location.hash);
    view =
      route.page === 'list'
        ? createListView(ctx)
        : route.page === 'new'
          ? createStudyForm(ctx)
          : route.page === 'study'
            ? createStudyView(ctx, route.id)
            : unknownView(ctx, route.path);
    app.replaceChildren(view.root);
    window.scrollTo(0, 0);
    view.refresh();
  };

  const statusText: Record<LiveStatus, string> = {
    connecting: 'Connecting…',
    live: 'Live',
    polling: `Reconnecting · polling every ${POLL_MS / 1000} s`,
  };
  connectLive(
    (event) => {
      if (view?.wants(event)) view.refresh();
    },
    () => view?.refresh(),
    (status) => {
      liveStatus.dataset['status'] = status;
      setText(liveStatus, statusText[status]);
    },
  );

  window.addEventListener('hashchange', show);
  show();
  watchStoppedWorkers(element('workers-banner'));
}

start();
