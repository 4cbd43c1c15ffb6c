// No Docker engine runs here, so the image recipe is checked like a linter
// would: stages, production dependencies, user, secrets, and the entrypoint
// that starts any service of a production build (which does run here).
import { execFileSync, spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
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
const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as {
  dependencies: Record<string, string>;
  devDependencies: Record<string, string>;
};

describe('Dockerfile', () => {
  test('multi-stage: dependencies installed without dev packages in a build stage, copied into the runtime stage', () => {
    expect(last).toBeGreaterThanOrEqual(1);
    expect(dockerfile.some((i) => i.stage < last && i.op === 'RUN' && /npm ci\b.*--omit=dev/.test(i.args))).toBe(true);
    expect(final.some((i) => i.op === 'COPY' && /--from=\w+ \/app\/node_modules/.test(i.args))).toBe(true);
    expect(final.some((i) => i.op === 'RUN' && /\b(npm|apt-get|g\+\+)\b/.test(i.args))).toBe(false);
  });

  test('every stage runs the Node.js major that package.json engines and CI (.ci/run) name', () => {
    const major = /^>=(\d+)$/.exec((pkg as { engines?: { node?: string } }).engines?.node ?? '')?.[1];
    expect(major).toBeDefined();
    const version = /^NODE_VERSION=(\d+)$/.exec(dockerfile.find((i) => i.op === 'ARG')?.args ?? '')?.[1];
    expect(version).toBe(major);
    const froms = dockerfile.filter((i) => i.op === 'FROM').map((i) => i.args);
    for (const from of froms) expect(from).toMatch(/^node:\$\{NODE_VERSION\}-/);
    const ci = /CI_NODE_VERSION:-(\d+)\./.exec(readFileSync(join(ROOT, '.ci/run'), 'utf8'))?.[1];
    expect(ci).toBe(major);
  });

  test("native modules compile against the headers of the image's own Node (no header download)", () => {
    const deps = dockerfile.filter((i) => i.stage === 0);
    expect(deps.some((i) => i.op === 'ENV' && i.args === 'npm_config_nodedir=/usr/local')).toBe(true);
    expect(deps.some((i) => i.op === 'RUN' && /\bg\+\+/.test(i.args))).toBe(true);
  });

  test('runs as a numeric non-root user', () => {
    const user = final.filter((i) => i.op === 'USER').at(-1)?.args;
    expect(user).toMatch(/^\d+(:\d+)?$/);
    expect(Number(user!.split(':')[0])).toBeGreaterThan(0);
  });

  test('bakes in no secrets and copies no local state, keys or certificates', () => {
    for (const i of dockerfile.filter((x) => ['ENV', 'ARG'].includes(x.op)))
      expect(i.args).not.toMatch(/secret|token|password|private|_key/i);
    for (const i of dockerfile.filter((x) => ['COPY', 'ADD'].includes(x.op))) {
      expect(i.args).not.toMatch(/^\.\s|\s\.\s*$|\.agentmesh|certs|\.env|secrets/);
    }
    const ignored = readFileSync(join(ROOT, '.dockerignore'), 'utf8').split('\n');
    for (const path of ['.agentmesh', 'certs/out', 'node_modules', '.git', '.env']) expect(ignored).toContain(path);
  });

  test('the sources are compiled in a build stage (tests left out); the runtime stage copies the build, not the sources', () => {
    const rules = dockerignoreAt(ROOT);
    const build = dockerfile.filter((i) => i.stage === last - 1);
    expect(build.some((i) => i.op === 'RUN' && i.args === 'npm run build')).toBe(true);
    const sources = build
      .filter((i) => i.op === 'COPY' && !i.args.startsWith('--from'))
      .flatMap((i) => i.args.split(/\s+/).slice(0, -1));
    expect(sources).toEqual(expect.arrayContaining(['mesh', 'services', 'gen', 'tsconfig.build.json']));
    const files = sources.flatMap((s) => contextFiles(ROOT, s, rules));
    expect(files.filter((f) => /\.test\.ts$/.test(f))).toEqual([]);
    expect(files).toEqual(
      expect.arrayContaining([
        'mesh/server/server.ts',
        'services/registry/main.ts',
        'services/registry/policy.json',
        'gen/descriptors.binpb',
      ]),
    );
    expect(JSON.parse(readFileSync(join(ROOT, 'tsconfig.build.json'), 'utf8')).exclude).toContain('**/*.test.ts');
    const runtime = final.filter((i) => i.op === 'COPY').map((i) => i.args);
    expect(runtime).toEqual(
      expect.arrayContaining(['--from=build /app/dist ./dist', '--from=deps /app/node_modules ./node_modules']),
    );
    expect(runtime.filter((a) => !a.startsWith('--from')).flatMap((a) => a.split(/\s+/).slice(0, -1))).toEqual([
      'package.json',
      'scripts/container-entrypoint.sh',
    ]);
  });

  test("the .dockerignore reading follows Docker's rules", () => {
    const rules = parseDockerignore('# comment\n**/*.test.ts\nnode_modules\n/certs/out\n*.log\n!keep.log\n');
    expect(ignored(rules, 'devtools/istio-render/egress.test.ts')).toBe(true);
    expect(ignored(rules, 'top.test.ts')).toBe(true);
    expect(ignored(rules, 'devtools/istio-render/egress.ts')).toBe(false);
    expect(ignored(rules, 'node_modules/jose/index.js')).toBe(true);
    expect(ignored(rules, 'certs/out/ca.key')).toBe(true);
    expect(ignored(rules, 'certs/cli.ts')).toBe(false);
    expect(ignored(rules, 'debug.log')).toBe(true);
    expect(ignored(rules, 'keep.log')).toBe(false);
    expect(ignored(rules, 'logs/debug.log')).toBe(false); // `*` does not cross folders
  });

  test('every package the services import at run time is a production dependency (the image has no others)', () => {
    const imported = new Set<string>();
    const walk = (dir: string) => {
      for (const entry of readdirSync(dir, { withFileTypes: true })) {
        const path = join(dir, entry.name);
        if (entry.isDirectory()) {
          if (!['web', 'dist', 'python'].includes(entry.name)) walk(path);
        } else if (entry.name.endsWith('.ts') && !entry.name.endsWith('.test.ts')) {
          const text = readFileSync(path, 'utf8');
          for (const m of text.matchAll(
            /^import (?!type )[^'"]*?from '([^'.][^']*)'|import\('([^'.][^']*)'\)|require\('([^'.][^']*)'\)/gm,
          )) {
            const spec = (m[1] ?? m[2] ?? m[3])!;
            if (spec.startsWith('node:')) continue;
            imported.add(spec.startsWith('@') ? spec.split('/').slice(0, 2).join('/') : spec.split('/')[0]!);
          }
        }
      }
    };
    for (const dir of ['mesh', 'services', 'gen']) walk(join(ROOT, dir));
    expect(imported.size).toBeGreaterThan(10);
    expect([...imported].filter((p) => !pkg.dependencies[p]).sort()).toEqual([]);
  });

  describe('the entrypoint, run against a production build', () => {
    let dir: string;
    const run = (args: string[], env: Record<string, string> = {}) =>
      spawnSync('/bin/sh', ['scripts/container-entrypoint.sh', ...args], {
        cwd: dir,
        env: { PATH: process.env.PATH!, ...env },
        encoding: 'utf8',
        timeout: 20_000,
      });

    beforeAll(() => {
      // The image's /app, laid out here: dist/, node_modules, the entrypoint.
      dir = mkdtempSync(join(tmpdir(), 'agentmesh-image-'));
      execFileSync(process.execPath, ['scripts/build.mjs', '--out', join(dir, 'dist')], { cwd: ROOT, stdio: 'ignore' });
      symlinkSync(join(ROOT, 'node_modules'), join(dir, 'node_modules'));
      mkdirSync(join(dir, 'scripts'));
      copyFileSync(join(ROOT, 'scripts', 'container-entrypoint.sh'), join(dir, 'scripts', 'container-entrypoint.sh'));
    }, 60_000);
    afterAll(() => rmSync(dir, { recursive: true, force: true }));

    test('one image for every service: it starts dist/services/<arg>/main.js with the telemetry preload, refusing bad names', () => {
      expect(final.find((i) => i.op === 'ENTRYPOINT')?.args).toBe(
        '["/bin/sh", "/app/scripts/container-entrypoint.sh"]',
      );
      expect(readFileSync(join(ROOT, 'scripts', 'container-entrypoint.sh'), 'utf8')).toContain(
        'exec node --import ./dist/mesh/telemetry/preload.js "$main"',
      );
      expect(run([]).status).toBe(64);
      expect(run(['../../etc']).stderr).toMatch(/invalid service path/);
      expect(run(['nope']).stderr).toMatch(/dist\/services\/nope\/main\.js does not exist/);
    });

    test('the entrypoint really starts the named service from the build (the auth server, whose bad configuration exits 78 at once)', () => {
      const r = run([], { AGENTMESH_SERVICE_PATH: 'auth', AGENTMESH_TRANSPORT: 'bogus' });
      expect(r.status).toBe(78);
      expect(r.stdout + r.stderr).toMatch(/AGENTMESH_TRANSPORT must be mtls or istio/);
    });
  });
});
