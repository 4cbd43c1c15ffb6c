// Fails when gen/ is stale against proto/: regenerates into a temporary
// folder (the working tree is not touched) and compares file by file, the
// Python SDK included (its generators are needed for that).
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { generate, missingPythonTools, protocVersion, PYTHON_OUT, PYTHON_TOOLS_HINT } from './gen-plugins.mjs';

const tmp = mkdtempSync(join(tmpdir(), 'agentmesh-gen-'));
const missing = missingPythonTools();

/** The files under dir, without Python's bytecode caches (written by running the SDK, not generated). */
function files(dir) {
  const out = [];
  const walk = (d) => {
    for (const name of readdirSync(d)) {
      const path = join(d, name);
      if (name === '__pycache__') continue;
      if (statSync(path).isDirectory()) walk(path);
      else out.push(relative(dir, path));
    }
  };
  walk(dir);
  return out.sort();
}

/** What is wrong with gen/, or undefined when it matches proto/. */
function problemsOfGen() {
  generate({ out: tmp, python: !missing.length });
  const skipped = (f) => missing.length > 0 && join('gen', f).startsWith(PYTHON_OUT);
  const expected = files(join(tmp, 'gen'));
  const actual = files('gen').filter((f) => !skipped(f));
  const problems = [
    ...expected.filter((f) => !actual.includes(f)).map((f) => `missing: gen/${f}`),
    ...actual.filter((f) => !expected.includes(f)).map((f) => `not generated from proto/: gen/${f}`),
    ...expected
      .filter((f) => actual.includes(f) && !readFileSync(join(tmp, 'gen', f)).equals(readFileSync(join('gen', f))))
      .map((f) => `stale: gen/${f}`),
  ];
  if (problems.length) {
    const python = problems.some((p) => p.includes(`${PYTHON_OUT}/`))
      ? ` (${PYTHON_OUT} is generated with Debian bookworm's protoc 3.21; this is ${protocVersion()})`
      : '';
    return `gen/ does not match proto/ — run \`npm run generate\` and commit gen/${python}:\n  ${problems.join('\n  ')}`;
  }
  if (missing.length)
    return `the TypeScript in gen/ is up to date, but ${PYTHON_OUT} cannot be checked: ${missing.join(' and ')} not found (${PYTHON_TOOLS_HINT})`;
  console.log(`gen/ is up to date (${actual.length} files)`);
  return undefined;
}

try {
  const problem = problemsOfGen();
  if (problem) {
    console.error(problem);
    process.exitCode = 1;
  }
} finally {
  rmSync(tmp, { recursive: true, force: true });
}
