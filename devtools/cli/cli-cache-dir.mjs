// Where the CLI's bundles are kept. A bundle found there is run as code, so the folder must be
// one that only the current user can write to, inside the checkout (where the bundle finds node_modules).
import { createHash } from 'node:crypto';
import { existsSync, realpathSync, statSync } from 'node:fs';
import { dirname, isAbsolute, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The checkout this file belongs to. */
export const ROOT = fileURLToPath(new URL('../..', import.meta.url));

/** node_modules/.cache, in a folder per checkout: copies of the project may share one node_modules. */
export const DEFAULT_CACHE = join(
  ROOT,
  'node_modules',
  '.cache',
  'agentmesh-cli',
  createHash('sha256').update(ROOT).digest('hex').slice(0, 12),
);
const warned = new Set();

/**
 * Where bundles are kept: AGENTMESH_CLI_CACHE when it is a safe place, else DEFAULT_CACHE. A refused
 * AGENTMESH_CLI_CACHE (outside the checkout, another user's, writable by group or others) is said in
 * one line through `warn`, once per process. `uid`: the user the folder must belong to.
 */
export function cacheDir(env = process.env, warn = (line) => process.stderr.write(line), uid = process.getuid?.()) {
  const wanted = env.AGENTMESH_CLI_CACHE;
  if (wanted === undefined || wanted === '') return DEFAULT_CACHE;
  const refused = whyNotCache(resolve(wanted), uid);
  if (!refused) return resolve(wanted);
  if (!warned.has(wanted))
    warn(`agentmesh: AGENTMESH_CLI_CACHE=${wanted} ignored (${refused}); using the default cache\n`);
  warned.add(wanted);
  return DEFAULT_CACHE;
}

/** Why `dir` may not hold bundles, or undefined when it may. */
function whyNotCache(dir, uid) {
  // Through symlinks: the deepest folder that exists is where the cache really is.
  let existing = dir;
  while (!existsSync(existing)) existing = dirname(existing);
  const inside = relative(realpathSync(ROOT), join(realpathSync(existing), relative(existing, dir)));
  if (inside === '' || inside.startsWith('..') || isAbsolute(inside)) return 'not inside the checkout';
  // A folder still to be made is made by this user, with the umask's mode.
  if (existing !== dir) return undefined;
  const stat = statSync(dir);
  if (uid !== undefined && stat.uid !== uid) return 'not owned by the current user';
  if (stat.mode & 0o022) return 'writable by group or others';
  return undefined;
}
