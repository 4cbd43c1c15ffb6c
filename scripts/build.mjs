// `npm run build [-- --out DIR] [-- --project TSCONFIG]`: compiles the framework, the services and the
// CLI to JavaScript with .d.ts declarations (tsconfig.build.json) and copies what they read beside
// their code at run time — policies, seed data, the users file, the descriptor set for server
// reflection, the CLI's launcher script — so that
// `node --import ./dist/mesh/telemetry/preload.js dist/services/<path>/main.js` runs a service
// without compiling TypeScript at start (what the container image does), and `npm pack` ships the
// framework as the `agentmesh` package (its exports point into dist/mesh).
import { execFileSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';

const args = process.argv.slice(2);
const option = (name, fallback) => {
  const at = args.indexOf(name);
  if (at < 0) return fallback;
  if (!args[at + 1]) {
    console.error(`build: ${name} needs a value`);
    process.exit(2);
  }
  return args[at + 1];
};
const out = option('--out', 'dist');
const project = option('--project', 'tsconfig.build.json');

rmSync(out, { recursive: true, force: true });
execFileSync(join('node_modules', '.bin', 'tsc'), ['-p', project, '--outDir', out], { stdio: 'inherit' });

const assets = [];
const walk = (dir, keep) => {
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) {
      if (name !== 'web' && name !== 'dist' && name !== 'node_modules') walk(path, keep);
    } else if (keep(path)) assets.push(path);
  }
};
walk('services', (p) => p.endsWith('.json'));
assets.push(join('gen', 'descriptors.binpb'));
// The container build copies no devtools/: the CLI is built only where its sources are.
// In the package the CLI runs from its compiled JavaScript (the checkout's bin.mjs bundles from source).
if (existsSync(join('devtools', 'cli', 'main.ts'))) {
  mkdirSync(join(out, 'devtools', 'cli'), { recursive: true });
  writeFileSync(join(out, 'devtools', 'cli', 'bin.mjs'), "#!/usr/bin/env node\nawait import('./main.js');\n", {
    mode: 0o755,
  });
}
for (const file of assets) {
  const target = join(out, relative('.', file));
  mkdirSync(dirname(target), { recursive: true });
  copyFileSync(file, target);
}
// The output is ES modules wherever it is put (node reads "type" from the nearest package.json).
writeFileSync(join(out, 'package.json'), `${JSON.stringify({ type: 'module', private: true })}\n`);
console.log(`built ${out}/ (${assets.length} assets copied)`);
