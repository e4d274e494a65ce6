/**
 * Server side of the dashboard: bundles the browser code in memory with esbuild and serves it.
 * Nothing is built to disk, so the repository holds sources only.
 */

import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { Router, type Response } from 'express';

/** The three files the dashboard consists of, ready to serve. */
export interface DashboardAssets {
  /** `index.html`; it loads `app.js` and `styles.css` by relative URL. */
  html: string;
  /** The browser bundle of `dashboard/src/main.ts` (an ES module). */
  js: string;
  /** `styles.css`. */
  css: string;
}

/** Absolute path of a file in the dashboard folder, found from this module's URL. */
function dashboardFile(relative: string): string {
  return fileURLToPath(new URL(relative, import.meta.url));
}

/**
 * Reads the dashboard's HTML and CSS and bundles `dashboard/src/main.ts` (and what it imports)
 * into one ES2020 module in memory.
 *
 * Call once at start-up; the result does not change while the process runs.
 *
 * @throws Error naming the first problems when the bundle cannot be built.
 */
export async function buildDashboardAssets(): Promise<DashboardAssets> {
  const [html, css, result] = await Promise.all([
    readFile(dashboardFile('./index.html'), 'utf8'),
    readFile(dashboardFile('./styles.css'), 'utf8'),
    build({
      entryPoints: [dashboardFile('./src/main.ts')],
      absWorkingDir: dashboardFile('./'),
      bundle: true,
      write: false,
      format: 'esm',
      platform: 'browser',
      target: 'es2020',
      minify: true,
      sourcemap: false,
      charset: 'utf8',
      legalComments: 'none',
      logLevel: 'silent',
    }).catch((error: unknown) => {
      const failure = error as { errors?: { text: string; location?: { file: string; line: number } | null }[] };
      const details = (failure.errors ?? [])
        .slice(0, 5)
        .map((e) => (e.location ? `${e.location.file}:${e.location.line}: ${e.text}` : e.text))
        .join('; ');
      throw new Error(`Building the dashboard bundle failed${details ? `: ${details}` : ''}`, { cause: error });
    }),
  ]);
  const output = result.outputFiles[0];
  if (!output) throw new Error('Building the dashboard bundle produced no output');
  return { html, js: output.text, css };
}

function send(res: Response, type: string, body: string): void {
  res.set({
    'Content-Type': type,
    'Cache-Control': 'no-cache',
    'X-Content-Type-Options': 'nosniff',
  });
  res.send(body);
}

/**
 * An express router serving the dashboard: `GET /` (and `/index.html`) the page, `GET /app.js`
 * the bundle and `GET /styles.css` the styles, all with `Cache-Control: no-cache`.
 *
 * Mount it at the site root (or at a path ending in `/`); the page calls the API at `/api/...`.
 */
export function dashboardRouter(assets: DashboardAssets): Router {
  const router = Router();
  const page = (_req: unknown, res: Response): void => {
    res.set(
      'Content-Security-Policy',
      "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; connect-src 'self'; " +
        "object-src 'none'; base-uri 'none'; frame-ancestors 'none'",
    );
    res.set('Referrer-Policy', 'no-referrer');
    send(res, 'text/html; charset=utf-8', assets.html);
  };
  router.get('/', page);
  router.get('/index.html', page);
  router.get('/app.js', (_req, res) => send(res, 'text/javascript; charset=utf-8', assets.js));
  router.get('/styles.css', (_req, res) => send(res, 'text/css; charset=utf-8', assets.css));
  return router;
}
