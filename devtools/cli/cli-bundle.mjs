// The CLI as one JavaScript bundle (with a chunk per command), so that `agentmesh` starts without
// compiling TypeScript. tsc's output of the CLI would not do: through the framework's public face
// it loads all of mesh/ (about 800 modules, 1.5 s); bundling keeps only what the CLI uses.
// A bundle is only ever run when every source it was built from is unchanged (a stale CLI must
// never run silently); otherwise it is rebuilt, which takes well under a second.
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { cacheDir, DEFAULT_CACHE, ROOT } from './cli-cache-dir.mjs';

export { cacheDir, ROOT };

const ENTRY = 'devtools/cli/main.ts';
// Inputs esbuild reads besides the modules: a change to them changes the bundle too.
const SETTINGS = ['package.json', 'tsconfig.json', 'devtools/cli/cli-bundle.mjs'];
// A file whose mtime is this close to the build (or later) is hashed again: an edit in the same
// timestamp tick as the build's read keeps its mtime and, often, its size.
const SAME_TICK_MS = 2_000;
// A bundle is removed this long after another one replaced it (a CLI still running it has loaded its chunks by then).
const KEEP_REPLACED_MS = 3_600_000;

const sha256 = (data) => createHash('sha256').update(data).digest('hex');

/** What a source file was when it was read: mtime and size let the check skip hashing unchanged files. */
function fingerprint(path) {
  // Stat before reading: a change after the stat gives another mtime, so the check hashes it again.
  const { mtimeMs, size } = statSync(join(ROOT, path));
  return { path, mtimeMs, size, sha256: sha256(readFileSync(join(ROOT, path))) };
}

function unchanged(input, builtAt) {
  const file = join(ROOT, input.path);
  if (!existsSync(file)) return false;
  const { mtimeMs, size } = statSync(file);
  if (size !== input.size) return false;
  if (mtimeMs === input.mtimeMs && mtimeMs < builtAt - SAME_TICK_MS) return true;
  return sha256(readFileSync(file)) === input.sha256;
}

/** The entry of the current bundle when it was built from the sources as they are now; undefined otherwise. */
export function freshEntry(cache = cacheDir()) {
  try {
    const dir = join(cache, readFileSync(join(cache, 'current'), 'utf8').trim());
    const manifest = JSON.parse(readFileSync(join(dir, 'inputs.json'), 'utf8'));
    const entry = join(dir, 'main.mjs');
    // A bundle of another checkout has that checkout's paths in it (import.meta.url), even if the sources are alike.
    const { root, builtAt, inputs } = manifest;
    const fresh = root === ROOT && typeof builtAt === 'number' && existsSync(entry);
    return fresh && inputs.every((input) => unchanged(input, builtAt)) ? entry : undefined;
  } catch {
    return undefined;
  }
}

/** esbuild plugin: fingerprints every source exactly as read, and lets unused framework modules drop out. */
function sources(inputs) {
  return {
    name: 'agentmesh-sources',
    setup(build) {
      // Our modules have no side effects the CLI needs: the framework's public face (an `export *` of
      // every folder) then costs only what is used.
      build.onResolve({ filter: /^\./ }, async (args) => {
        if (args.pluginData === 'resolved') return undefined;
        const resolved = await build.resolve(args.path, {
          kind: args.kind,
          resolveDir: args.resolveDir,
          importer: args.importer,
          pluginData: 'resolved',
        });
        return resolved.errors.length ? resolved : { ...resolved, sideEffects: false };
      });
      build.onLoad({ filter: /\.(ts|mjs|js|json)$/ }, (args) => {
        const path = relative(ROOT, args.path);
        const input = fingerprint(path);
        inputs.set(path, input);
        const contents = readFileSync(args.path, 'utf8');
        // Each module keeps its own import.meta.url (its source file), so paths it derives point into the checkout.
        const own = `const __agentmesh_source_url = ${JSON.stringify(pathToFileURL(args.path).href)};\n`;
        const loader = path.endsWith('.json') ? 'json' : path.endsWith('.ts') ? 'ts' : 'js';
        return { contents: loader === 'json' ? contents : own + contents, loader };
      });
    },
  };
}

/** Builds a bundle of the CLI into the cache and makes it current; returns its entry. */
export async function buildCli(cache = cacheDir()) {
  const { build } = await import('esbuild');
  mkdirSync(cache, { recursive: true });
  const tmp = join(cache, `tmp-${process.pid}-${randomBytes(4).toString('hex')}`);
  // Taken before any source is read: a source changed during the build is then hashed on the next check.
  const builtAt = Date.now();
  const inputs = new Map(SETTINGS.map((p) => [p, fingerprint(p)]));
  try {
    await build({
      entryPoints: { main: join(ROOT, ENTRY) },
      bundle: true,
      splitting: true,
      format: 'esm',
      platform: 'node',
      target: 'node20',
      packages: 'external',
      outdir: tmp,
      outExtension: { '.js': '.mjs' },
      define: { 'import.meta.url': '__agentmesh_source_url' },
      plugins: [sources(inputs)],
      logLevel: 'silent',
    });
    const manifest = `${JSON.stringify({ root: ROOT, builtAt, inputs: [...inputs.values()].sort((a, b) => a.path.localeCompare(b.path)) })}\n`;
    writeFileSync(join(tmp, 'inputs.json'), manifest);
    // A folder of its own per build, never reused: a CLI running an older bundle keeps its chunks.
    const id = `${sha256(manifest).slice(0, 12)}-${randomBytes(4).toString('hex')}`;
    const dir = join(cache, id);
    renameSync(tmp, dir);
    writeFileSync(join(cache, `current.${process.pid}`), id);
    renameSync(join(cache, `current.${process.pid}`), join(cache, 'current'));
    removeReplaced(cache, id);
    if (cache === DEFAULT_CACHE) removeOrphans(dirname(cache));
    return join(dir, 'main.mjs');
  } catch (err) {
    rmSync(tmp, { recursive: true, force: true });
    throw err;
  }
}

/** Makes a bundle that failed to load no longer current, so that the next run builds another. */
export function forgetBundle(entry) {
  const dir = dirname(entry);
  const pointer = join(dirname(dir), 'current');
  try {
    if (readFileSync(pointer, 'utf8').trim() === relative(dirname(dir), dir)) rmSync(pointer);
  } catch {
    // Already replaced or removed: nothing to forget.
  }
}

// Only what buildCli makes is ever removed from a cache folder (a bundle, an unfinished build).
const BUILT = /^([0-9a-f]{12}-[0-9a-f]{8}|tmp-\d+-[0-9a-f]{8})$/;

function removeReplaced(cache, current) {
  for (const name of readdirSync(cache)) {
    const path = join(cache, name);
    if (name === current || !BUILT.test(name)) continue;
    if (Date.now() - statSync(path).mtimeMs > KEEP_REPLACED_MS) rmSync(path, { recursive: true, force: true });
  }
}

/** Removes the bundles of checkouts that are gone (temporary copies of the project sharing this node_modules). */
function removeOrphans(parent) {
  for (const name of readdirSync(parent)) {
    try {
      const dir = join(parent, name);
      const current = join(dir, readFileSync(join(dir, 'current'), 'utf8').trim());
      const { root } = JSON.parse(readFileSync(join(current, 'inputs.json'), 'utf8'));
      if (!existsSync(root)) rmSync(dir, { recursive: true, force: true });
    } catch {
      // Not a finished build of a checkout: left alone.
    }
  }
}

// `npm run build:cli`: build now, so that the first call is fast too.
if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const entry = freshEntry() ?? (await buildCli());
  process.stdout.write(`agentmesh CLI: ${relative(ROOT, dirname(entry))}\n`);
}
