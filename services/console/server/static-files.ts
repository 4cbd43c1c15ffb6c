import { existsSync, readFileSync, statSync } from 'node:fs';
import type { ServerResponse } from 'node:http';
import { extname, join, normalize, sep } from 'node:path';

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.woff2': 'font/woff2',
  '.json': 'application/json',
};

/**
 * Serves the built front end from one folder (nothing from a CDN): index.html
 * for `/`, files under it by exact path (no traversal outside it), hashed
 * assets cached for good, the page itself revalidated.
 */
export class StaticFiles {
  constructor(readonly dir: string) {}

  /** Whether the front end has been built (npm run build:console). */
  get built(): boolean {
    return existsSync(join(this.dir, 'index.html'));
  }

  /** Answers a GET for `path`; false when there is no such file. */
  serve(path: string, res: ServerResponse): boolean {
    const relative = path === '/' ? 'index.html' : decodeURIComponent(path).replace(/^\/+/, '');
    const file = normalize(join(this.dir, relative));
    if (!file.startsWith(this.dir + sep) || !existsSync(file) || !statSync(file).isFile()) return false;
    const type = TYPES[extname(file)];
    if (!type) return false;
    const body = readFileSync(file);
    res.writeHead(200, {
      'content-type': type,
      'content-length': body.length,
      'cache-control': relative.startsWith('assets/') ? 'public, max-age=31536000, immutable' : 'no-cache',
    });
    res.end(body);
    return true;
  }
}
