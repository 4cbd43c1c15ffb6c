// No Docker engine runs here, so the image recipe is checked like a linter
// would: stages, production dependencies, user, secrets, and the entrypoint
// that starts any service of the tree (which does run here).
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { contextFiles, dockerignoreAt, ignored, parseDockerignore } from './helpers/dockerignore.js';
import { ROOT } from './helpers/processes.js';

type Instruction = { op: string; args: string; stage: number };

function instructions(text: string): Instruction[] {
  const out: Instruction[] = [];
  let stage = -1;
  for (const line of text.replace(/\\\n/g, ' ').split('\n')) {
    const m = /^\s*([A-Z]+)\s+(.*)$/.exec(line);
    if (!m || line.trim().startsWith('#')) continue;
    if (m[1] === 'FROM') stage++;
    out.push({ op: m[1]!, args: m[2]!.trim(), stage });
  }
  return out;
}

const dockerfile = instructions(readFileSync(join(ROOT, 'Dockerfile'), 'utf8'));
const last = Math.max(...dockerfile.map((i) => i.stage));
const final = dockerfile.filter((i) => i.stage === last);
const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { dependencies: Record<string, string>; devDependencies: Record<string, string> };

describe('Dockerfile', () => {
  test('multi-stage: dependencies installed without dev packages in a build stage, copied into the runtime stage', () => {
    expect(last).toBeGreaterThanOrEqual(1);
    expect(dockerfile.some((i) => i.stage < last && i.op === 'RUN' && /npm ci\b.*--omit=dev/.test(i.args))).toBe(true);
    expect(final.some((i) => i.op === 'COPY' && /--from=\w+ \/app\/node_modules/.test(i.args))).toBe(true);
    expect(final.some((i) => i.op === 'RUN' && /\b(npm|apt-get|g\+\+)\b/.test(i.args))).toBe(false);
  });

  test('runs as a numeric non-root user', () => {
    const user = final.filter((i) => i.op === 'USER').at(-1)?.args;
    expect(user).toMatch(/^\d+(:\d+)?$/);
    expect(Number(user!.split(':')[0])).toBeGreaterThan(0);
  });

  test('bakes in no secrets and copies no local state, keys or certificates', () => {
    for (const i of dockerfile.filter((x) => ['ENV', 'ARG'].includes(x.op))) expect(i.args).not.toMatch(/secret|token|password|private|_key/i);
    for (const i of dockerfile.filter((x) => ['COPY', 'ADD'].includes(x.op))) {
      expect(i.args).not.toMatch(/^\.\s|\s\.\s*$|\.agentmesh|certs|\.env|secrets/);
    }
    const ignored = readFileSync(join(ROOT, '.dockerignore'), 'utf8').split('\n');
    for (const path of ['.agentmesh', 'certs/out', 'node_modules', '.git', '.env']) expect(ignored).toContain(path);
  });

  test('the image gets no test files: what the runtime stage copies from the context, after .dockerignore, has no *.test.ts', () => {
    const rules = dockerignoreAt(ROOT);
    const sources = final.filter((i) => i.op === 'COPY' && !i.args.startsWith('--from')).flatMap((i) => i.args.split(/\s+/).slice(0, -1));
    expect(sources).toEqual(expect.arrayContaining(['mesh', 'services', 'gen']));
    const files = sources.flatMap((s) => contextFiles(ROOT, s, rules));
    expect(files.filter((f) => /\.test\.ts$/.test(f))).toEqual([]);
    // What the services run is still there.
    expect(files).toEqual(expect.arrayContaining(['mesh/server/server.ts', 'mesh/deploy/egress.ts', 'services/registry/main.ts', 'services/registry/policy.json', 'gen/descriptors.binpb', 'scripts/container-entrypoint.sh']));
  });

  test("the .dockerignore reading follows Docker's rules", () => {
    const rules = parseDockerignore('# comment\n**/*.test.ts\nnode_modules\n/certs/out\n*.log\n!keep.log\n');
    expect(ignored(rules, 'mesh/deploy/egress.test.ts')).toBe(true);
    expect(ignored(rules, 'top.test.ts')).toBe(true);
    expect(ignored(rules, 'mesh/deploy/egress.ts')).toBe(false);
    expect(ignored(rules, 'node_modules/jose/index.js')).toBe(true);
    expect(ignored(rules, 'certs/out/ca.key')).toBe(true);
    expect(ignored(rules, 'certs/cli.ts')).toBe(false);
    expect(ignored(rules, 'debug.log')).toBe(true);
    expect(ignored(rules, 'keep.log')).toBe(false);
    expect(ignored(rules, 'logs/debug.log')).toBe(false); // `*` does not cross folders
  });

  test('what a service needs at run time is a production dependency: tsx and the telemetry preload it imports', () => {
    expect(pkg.dependencies.tsx).toBeDefined();
    expect(pkg.dependencies['@opentelemetry/instrumentation']).toBeDefined();
    expect(pkg.devDependencies.tsx).toBeUndefined();
  });

  test('one image for every service: the entrypoint starts services/<arg>/main.ts with tsx and the telemetry preload', () => {
    expect(final.find((i) => i.op === 'ENTRYPOINT')?.args).toBe('["/bin/sh", "/app/scripts/container-entrypoint.sh"]');
    const script = readFileSync(join(ROOT, 'scripts', 'container-entrypoint.sh'), 'utf8');
    expect(script).toContain('exec node --import tsx --import ./mesh/telemetry/preload.ts "$main"');
    const run = (args: string[], env: Record<string, string> = {}) => spawnSync('/bin/sh', ['scripts/container-entrypoint.sh', ...args], { cwd: ROOT, env: { PATH: process.env.PATH!, ...env }, encoding: 'utf8' });
    expect(run([]).status).toBe(64);
    expect(run(['../../etc']).stderr).toMatch(/invalid service path/);
    expect(run(['nope']).stderr).toMatch(/services\/nope\/main\.ts does not exist/);
  });

  test('the entrypoint really starts the named service (the auth server, whose bad configuration exits 78 at once)', () => {
    const r = spawnSync('/bin/sh', ['scripts/container-entrypoint.sh'], {
      cwd: ROOT,
      env: { PATH: process.env.PATH!, AGENTMESH_SERVICE_PATH: 'auth', AGENTMESH_TRANSPORT: 'bogus' },
      encoding: 'utf8',
      timeout: 20_000,
    });
    expect(r.status).toBe(78);
    expect(r.stdout + r.stderr).toMatch(/AGENTMESH_TRANSPORT must be mtls or istio/);
  });
});
