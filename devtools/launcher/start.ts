// `npm start`: brings the whole local mesh up on this machine and keeps it up
// until Ctrl-C / SIGTERM. AGENTMESH_BASE_PORT picks the port block,
// AGENTMESH_HOME the state folder (default .agentmesh/); OPENAI_* reach the agents;
// AGENTMESH_SERVICE_NODE_ARGS adds Node flags to every service process (e.g. --cpu-prof).
// `npm start -- --database postgresql://... --replicas lending/loan-orchestrator=2` runs replicas.
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { launchMesh, type PeopleIssuer, type RunningMesh } from './launcher.js';
import { peopleIssuerFromEnv } from './people-issuer.js';
import { parseServiceNodeArgs } from './service-node-args.js';
import type { SupervisorEvent } from './supervisor.js';

const root = fileURLToPath(new URL('../..', import.meta.url));
const say = (line: string) => process.stdout.write(`${line}\n`);

function onEvent(e: SupervisorEvent): void {
  if (e.type === 'started')
    say(
      e.attempt > 1
        ? `  restarting ${e.name} (attempt ${e.attempt}, pid ${e.pid})`
        : `  starting ${e.name} (pid ${e.pid})`,
    );
  if (e.type === 'ready') say(`  ${e.name} ready in ${e.ms} ms`);
  if (e.type === 'exited')
    say(
      `  ${e.name} exited (${e.signal ?? `code ${e.code}`})${e.restartInMs !== undefined ? `; restarting in ${e.restartInMs} ms` : ''}`,
    );
  if (e.type === 'gave-up') say(`  ${e.name}: not restarted: ${e.reason}`);
}

function table(mesh: RunningMesh): string {
  const rows = mesh.file.services.flatMap((s) =>
    (s.replicas ?? [s]).map((r) => [r.name, s.kind, r.address, r.admin ?? '-', s.spiffeId]),
  );
  const header = ['service', 'kind', 'gRPC', 'admin', 'SPIFFE ID'];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]) => cells.map((c, i) => c.padEnd(widths[i]!)).join('  ');
  return [line(header), ...rows.map(line)].join('\n');
}

/** --replicas <service>=<n> (repeatable) and --database <postgresql URL>; a bad flag stops with one line. */
function startFlags(): { replicas: Record<string, number>; database: string | undefined } {
  try {
    const { values } = parseArgs({
      options: { replicas: { type: 'string', multiple: true }, database: { type: 'string' } },
      strict: true,
      allowPositionals: false,
    });
    const replicas: Record<string, number> = {};
    for (const spec of values.replicas ?? []) {
      const match = /^([a-z0-9-]+\/[a-z0-9-]+)=([1-9])$/.exec(spec);
      if (!match) throw new Error(`--replicas ${spec}: expected <namespace/name>=<1-9>`);
      replicas[match[1]!] = Number(match[2]);
    }
    if (values.database !== undefined && !/^postgres(ql)?:\/\/\S+$/.test(values.database))
      throw new Error('--database: expected a postgres:// or postgresql:// URL');
    return { replicas, database: values.database };
  } catch (err) {
    process.stderr.write(`agentmesh: ${(err as Error).message}\n`);
    process.exit(2);
  }
}
const flags = startFlags();

const basePort = process.env.AGENTMESH_BASE_PORT ? Number(process.env.AGENTMESH_BASE_PORT) : undefined;
if (basePort !== undefined && !Number.isInteger(basePort)) {
  process.stderr.write(`agentmesh: AGENTMESH_BASE_PORT must be a port number\n`);
  process.exit(2);
}
let people: PeopleIssuer | undefined;
let nodeArgs: string[] = [];
try {
  people = peopleIssuerFromEnv(process.env);
  nodeArgs = parseServiceNodeArgs(process.env.AGENTMESH_SERVICE_NODE_ARGS);
} catch (err) {
  process.stderr.write(`agentmesh: ${(err as Error).message}\n`);
  process.exit(2);
}
const passThrough = Object.fromEntries(
  Object.entries(process.env).filter(
    ([k, v]) =>
      v !== undefined &&
      (k.startsWith('OPENAI_') ||
        k === 'AGENTMESH_MODELS' ||
        k === 'AGENTMESH_PLANNER' ||
        k === 'AGENTMESH_LOG_LEVEL' ||
        k.startsWith('OTEL_')),
  ) as [string, string][],
);

// Signals are handled from the first moment: a Ctrl-C while services start stops those already started.
const starting = new AbortController();
let mesh: RunningMesh | undefined;
let stoppingSince = 0;
async function shutdown(code: number, why?: string): Promise<void> {
  if (stoppingSince) {
    // npm forwards the terminal's Ctrl-C to its script, which got it already: one press arrives
    // twice within moments. Only a second press later means "stop at once".
    if (Date.now() - stoppingSince < 1_000) return;
    say('agentmesh: stopping at once');
    process.exit(1);
  }
  stoppingSince = Date.now();
  if (!mesh) {
    starting.abort(new Error(why ?? 'stopped while starting'));
    return;
  }
  say(`agentmesh: ${why ? `${why}: ` : ''}stopping the mesh...`);
  await mesh.stop();
  say('agentmesh: stopped');
  process.exit(code);
}
process.on('SIGINT', () => void shutdown(0));
process.on('SIGTERM', () => void shutdown(0));
process.on('SIGHUP', () => void shutdown(0, 'the terminal closed'));
// Run through npm (npm -> sh -> node), a SIGTERM to npm may end the shell and leave this
// process behind with a new parent: then stop too, rather than keep a mesh nobody can stop.
const parent = process.ppid;
const orphanWatch = setInterval(() => {
  if (process.ppid === parent) return;
  clearInterval(orphanWatch);
  void shutdown(0, 'the parent process is gone');
}, 500).unref();

say('agentmesh: starting the local mesh');
try {
  const started = await launchMesh({
    root,
    home: process.env.AGENTMESH_HOME,
    basePort,
    replicas: flags.replicas,
    database: flags.database,
    people,
    env: passThrough,
    nodeArgs,
    onEvent,
    signal: starting.signal,
  });
  // A signal that came as the last service became ready: stop what started.
  if (starting.signal.aborted) {
    await started.stop();
    throw starting.signal.reason;
  }
  mesh = started;
} catch (err) {
  if (starting.signal.aborted) {
    say(`agentmesh: ${(starting.signal.reason as Error).message}: stopped what had started`);
    process.exit(0);
  }
  process.stderr.write(`agentmesh: ${(err as Error).message}\n`);
  process.exit(1);
}
say('');
say(table(mesh));
say('');
say(`mesh file: ${mesh.plan.home}/mesh.json   logs: ${mesh.plan.home}/logs/   traces: ${mesh.plan.home}/traces/`);
if (mesh.file.console)
  say(
    mesh.file.people
      ? `console: ${mesh.file.console}  (people sign in at ${mesh.file.people.issuer})`
      : `console: ${mesh.file.console}  (sign in as ada, a loan officer; carol, who also approves loans; or ben, an auditor)`,
  );
if (mesh.file.people) say(`people log in at ${mesh.file.people.issuer}:  npx agentmesh login`);
say('try:  npx agentmesh agents');
say('      npx agentmesh task lending/loan-orchestrator --example 1');
say('stop: Ctrl-C');

void mesh.failed.then((reason) => {
  process.stderr.write(`agentmesh: a service cannot run: ${reason}\n`);
  void shutdown(1);
});
