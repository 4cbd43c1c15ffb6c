// Fails when gen/ is stale against proto/: regenerates into a temporary
// folder (the working tree is not touched) and compares file by file.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';

const buf = join('node_modules', '.bin', 'buf');
const tmp = mkdtempSync(join(tmpdir(), 'agentmesh-gen-'));

function files(dir) {
  const out = [];
  const walk = (d) => {
    for (const name of readdirSync(d)) {
      const path = join(d, name);
      if (statSync(path).isDirectory()) walk(path);
      else out.push(relative(dir, path));
    }
  };
  walk(dir);
  return out.sort();
}

try {
  execFileSync(buf, ['generate', '-o', tmp], { stdio: 'inherit' });
  execFileSync(buf, ['build', '-o', join(tmp, 'gen', 'descriptors.binpb')], { stdio: 'inherit' });
  const expected = files(join(tmp, 'gen'));
  const actual = files('gen');
  const problems = [
    ...expected.filter((f) => !actual.includes(f)).map((f) => `missing: gen/${f}`),
    ...actual.filter((f) => !expected.includes(f)).map((f) => `not generated from proto/: gen/${f}`),
    ...expected
      .filter((f) => actual.includes(f) && !readFileSync(join(tmp, 'gen', f)).equals(readFileSync(join('gen', f))))
      .map((f) => `stale: gen/${f}`),
  ];
  if (problems.length) {
    console.error(`gen/ does not match proto/ — run \`npm run generate\` and commit gen/:\n  ${problems.join('\n  ')}`);
    process.exit(1);
  }
  console.log(`gen/ is up to date (${actual.length} files)`);
} finally {
  rmSync(tmp, { recursive: true, force: true });
}
