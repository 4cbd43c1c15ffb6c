// The agentmesh CLI: talks to the running local mesh (.agentmesh/mesh.json) with its own
// client identity (certificate + client credentials) and tokens for the person using it.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { AgentServiceService } from '../../gen/agentmesh/v1/agent_service.js';
import { Explanation } from '../../gen/agentmesh/v1/explain.js';
import { DiscoveryMatch, RegistryServiceService } from '../../gen/agentmesh/v1/registry_service.js';
import { EntryKind, Lifecycle } from '../../gen/agentmesh/v1/card.js';
import { isMeshError } from '../../mesh/index.js';
import { verifyAuditFile } from '../../mesh/index.js';
import { CliError, currentUser, MeshConnection } from './connection.js';
import { renderExplanation } from './explain-view.js';
import { checkoutDependency, scaffold, scaffoldStandalone } from './scaffold.js';
import { findTask, requestMessage, runTask } from './task-command.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const out = (line: string) => process.stdout.write(`${line}\n`);

const USAGE = `usage: agentmesh <command> [options]

  agents [--namespace NS]... [--name NS/NAME]... [--glob PATTERN]... [--regex RE]...
         [--skill ID]... [--tag T]... [--policy ID]... [--text WORDS] [--kind agent|tool] [--json]
                               discover agents and tools with the registry's scoping rules
  task <agent> (<input-json> | --example N) [--skill ID] [--text T] [--json] [--no-input] [--timeout S]
                               send a task, follow it live, answer its questions, print the result;
                               without an input it lists the agent's examples. Exit code 0 completed,
                               1 failed, 3 waits for a person (--no-input) or for its caller's authority
  answer <task-id> <answer> [--agent NAME]
                               answer a task that waits for a person
  explain <task-id> [--agent NAME] [--depth N] [--json]
                               what the task planned, did and why, with child tasks
  audit verify [--json]        verify the audit chains of the mesh's services
  token --audience NAME [--scope S]...
                               print an access token for the current user to call NAME (for grpcurl)
  new agent <ns/name> [--dir FOLDER [--framework SPEC]]
                               scaffold an agent: in this repository (npm start picks it up), or with
                               --dir a standalone project in FOLDER that depends on the framework
                               (SPEC: npm version, tarball or file: path; default this checkout)
  new tool <ns/name> [--dir FOLDER [--framework SPEC]]
                               scaffold a tool service, the same way

options for all (before or after the command): --user NAME (default: AGENTMESH_USER or your login);
AGENTMESH_HOME to use another mesh folder`;

type Values = Record<string, string | boolean | string[] | boolean[] | undefined>;

function parse(
  args: string[],
  options: NonNullable<ParseArgsConfig['options']>,
): { values: Values; positionals: string[] } {
  try {
    return parseArgs({
      args,
      allowPositionals: true,
      strict: true,
      options: { ...options, user: { type: 'string' }, help: { type: 'boolean' } },
    }) as { values: Values; positionals: string[] };
  } catch (err) {
    throw new CliError(`${(err as Error).message.split('\n')[0]} (see agentmesh --help)`, 2);
  }
}

const list = (v: unknown) => (Array.isArray(v) ? (v as string[]) : []);

async function agents(args: string[]): Promise<number> {
  const { values } = parse(args, {
    namespace: { type: 'string', multiple: true },
    name: { type: 'string', multiple: true },
    glob: { type: 'string', multiple: true },
    regex: { type: 'string', multiple: true },
    skill: { type: 'string', multiple: true },
    tag: { type: 'string', multiple: true },
    policy: { type: 'string', multiple: true },
    text: { type: 'string' },
    kind: { type: 'string' },
    json: { type: 'boolean' },
  });
  if (values.kind && values.kind !== 'agent' && values.kind !== 'tool')
    throw new CliError('--kind is agent or tool', 2);
  const conn = new MeshConnection(currentUser(values.user as string | undefined));
  try {
    const registry = conn.client(
      RegistryServiceService,
      conn.file.services.find((s) => s.kind === 'registry')!.name,
      'cli',
      ['registry.read'],
    );
    const patterns = [
      ...list(values.glob).map((glob) => ({ pattern: { $case: 'glob' as const, glob } })),
      ...list(values.regex).map((regex) => ({ pattern: { $case: 'regex' as const, regex } })),
    ];
    const { matches } = await registry.discover({
      scope: {
        visibility: { namespaces: list(values.namespace), names: list(values.name), patterns },
        characteristics: {
          text: (values.text as string | undefined) ?? '',
          skillIds: list(values.skill),
          tags: list(values.tag),
          policies: list(values.policy),
          labels: {},
          versionConstraint: '',
          kinds: values.kind ? [values.kind === 'agent' ? EntryKind.ENTRY_KIND_AGENT : EntryKind.ENTRY_KIND_TOOL] : [],
        },
      },
      maxResults: 100,
    });
    if (values.json) {
      out(JSON.stringify(matches.map((m) => DiscoveryMatch.toJSON(m))));
      return 0;
    }
    if (!matches.length) {
      out('no agent or tool matches');
      return 0;
    }
    for (const m of matches) {
      const card = m.entry!.card!;
      const c = card.$case === 'agent' ? card.agent : card.tool;
      const skills = card.$case === 'agent' ? card.agent.skills.map((s) => s.id) : card.tool.tools.map((t) => t.name);
      out(
        `${c.name}@${c.version}  ${card.$case}  ${Lifecycle[c.lifecycle].replace('LIFECYCLE_', '')}  ${c.endpoints.length} instance(s)  owner ${c.owner}`,
      );
      out(`    ${c.purpose}`);
      out(
        `    ${card.$case === 'agent' ? 'skills' : 'tools'}: ${skills.join(', ')}${c.policies.length ? `   policies: ${c.policies.map((p) => p.id).join(', ')}` : ''}`,
      );
      out(`    matched: ${m.reasons.join('; ')}`);
    }
    return 0;
  } finally {
    conn.close();
  }
}

async function task(args: string[]): Promise<number> {
  const { values, positionals } = parse(args, {
    example: { type: 'string' },
    skill: { type: 'string' },
    text: { type: 'string' },
    json: { type: 'boolean' },
    'no-input': { type: 'boolean' },
    timeout: { type: 'string' },
  });
  const [agent, inputText] = positionals;
  if (!agent)
    throw new CliError(
      'task needs an agent: agentmesh task <namespace/name> <input-json> (agentmesh agents lists them)',
      2,
    );
  const timeoutS = Number(values.timeout ?? 600);
  if (!Number.isFinite(timeoutS) || timeoutS <= 0) throw new CliError('--timeout is a number of seconds', 2);
  const conn = new MeshConnection(currentUser(values.user as string | undefined));
  try {
    let input: Record<string, unknown> = {};
    let skill = values.skill as string | undefined;
    let text = values.text as string | undefined;
    if (values.example !== undefined || inputText === undefined) {
      const { card } = await conn
        .client(AgentServiceService, conn.service(agent, 'agent').name, 'user')
        .getAgentCard({});
      const examples = (card?.skills ?? [])
        .filter((s) => !skill || s.id === skill)
        .flatMap((s) => s.examples.map((e) => ({ skill: s.id, e })));
      if (values.example === undefined) {
        // No input: show what to paste, on stdout (it is what was asked for), and exit as a usage error.
        out(`task needs an input: agentmesh task ${agent} '<input-json>' or --example N. ${agent}'s examples:`);
        examples.forEach((x, i) =>
          out(
            `  ${i + 1}. ${x.e.title} (skill ${x.skill})\n     --example ${i + 1}   or   '${JSON.stringify(x.e.input ?? {})}'`,
          ),
        );
        return 2;
      }
      const picked = examples[Number(values.example) - 1];
      if (!picked)
        throw new CliError(
          `--example ${values.example}: ${agent} has ${examples.length} example(s): ${examples.map((x, i) => `${i + 1}. ${x.e.title}`).join('; ')}`,
          2,
        );
      input = (picked.e.input ?? {}) as Record<string, unknown>;
      skill = picked.skill;
      text ??= picked.e.text || undefined;
      if (!values.json) out(`example ${values.example}: ${picked.e.title}\ninput: ${JSON.stringify(input)}`);
    } else if (inputText !== undefined) {
      try {
        input = JSON.parse(inputText) as Record<string, unknown>;
      } catch (err) {
        throw new CliError(`the input is not JSON: ${(err as Error).message} (quote it: '{"customerId":"C-1001"}')`, 2);
      }
      if (input === null || typeof input !== 'object' || Array.isArray(input))
        throw new CliError('the input must be a JSON object', 2);
    }
    const noInput = Boolean(values['no-input']) || !process.stdin.isTTY;
    return await runTask(conn, agent, input, {
      skill,
      text,
      json: Boolean(values.json),
      noInput,
      timeoutMs: timeoutS * 1000,
    });
  } finally {
    conn.close();
  }
}

async function answer(args: string[]): Promise<number> {
  const { values, positionals } = parse(args, { agent: { type: 'string' } });
  const [taskId, reply] = positionals;
  if (!taskId || reply === undefined)
    throw new CliError('answer needs a task id and the answer: agentmesh answer <task-id> <answer>', 2);
  const conn = new MeshConnection(currentUser(values.user as string | undefined));
  try {
    const { client, task } = await findTask(conn, taskId, values.agent as string | undefined);
    const stepId = task.status?.inputRequest?.stepId;
    if (!stepId) throw new CliError(`task ${taskId} does not wait for input`);
    let data: unknown = reply;
    try {
      data = JSON.parse(reply);
    } catch {
      // Plain text answers (a choice) stay text.
    }
    const message =
      typeof data === 'object' && data !== null
        ? requestMessage(data as Record<string, unknown>, undefined)
        : requestMessage({}, reply);
    if (typeof data !== 'object' || data === null)
      message.parts = message.parts.filter((p) => p.content?.$case === 'text');
    await client.provideInput({ taskId, stepId, message, expectedVersion: 0 });
    out(`answered ${stepId} of task ${taskId}; follow it with: npx agentmesh explain ${taskId}`);
    return 0;
  } finally {
    conn.close();
  }
}

async function explain(args: string[]): Promise<number> {
  const { values, positionals } = parse(args, {
    agent: { type: 'string' },
    depth: { type: 'string' },
    json: { type: 'boolean' },
  });
  const [taskId] = positionals;
  if (!taskId) throw new CliError('explain needs a task id: agentmesh explain <task-id>', 2);
  const conn = new MeshConnection(currentUser(values.user as string | undefined));
  try {
    const { client } = await findTask(conn, taskId, values.agent as string | undefined);
    const { explanation } = await client.explainTask({ taskId, maxDepth: Number(values.depth ?? 0) });
    if (values.json) out(JSON.stringify(Explanation.toJSON(explanation!)));
    else for (const line of renderExplanation(explanation!)) out(line);
    return 0;
  } finally {
    conn.close();
  }
}

function audit(args: string[]): number {
  const { values, positionals } = parse(args, { json: { type: 'boolean' } });
  if (positionals[0] !== 'verify') throw new CliError('usage: agentmesh audit verify', 2);
  const conn = new MeshConnection(currentUser(values.user as string | undefined));
  try {
    const results = conn.file.services.map((s) => {
      const file = join(conn.home, 'data', s.name.replace('/', '-'), 'audit.jsonl');
      return {
        service: s.name,
        file,
        ...(existsSync(file) ? verifyAuditFile(file) : { ok: true, records: 0, absent: true }),
      };
    });
    if (values.json) out(JSON.stringify(results));
    else
      for (const r of results)
        out(
          `${r.ok ? 'ok    ' : 'BROKEN'}  ${r.service}: ${'absent' in r ? 'no audit trail' : `${r.records} records`}${'firstBad' in r && r.firstBad ? `; first bad record at line ${r.firstBad.line}: ${r.firstBad.problem}` : ''}`,
        );
    return results.every((r) => r.ok) ? 0 : 1;
  } finally {
    conn.close();
  }
}

async function token(args: string[]): Promise<number> {
  const { values } = parse(args, { audience: { type: 'string' }, scope: { type: 'string', multiple: true } });
  const conn = new MeshConnection(currentUser(values.user as string | undefined));
  try {
    // Tokens are bound to one service: there is no good default for which.
    const audience = values.audience as string | undefined;
    if (!audience)
      throw new CliError(
        `token needs --audience <service>, the service the token is for: one of ${conn.file.services
          .filter((s) => s.kind !== 'auth')
          .map((s) => s.name)
          .join(', ')}`,
        2,
      );
    conn.service(audience);
    out(await conn.userToken(audience, list(values.scope)));
    return 0;
  } finally {
    conn.close();
  }
}

async function create(args: string[]): Promise<number> {
  const { values, positionals } = parse(args, { dir: { type: 'string' }, framework: { type: 'string' } });
  const [kind, name] = positionals;
  if ((kind !== 'agent' && kind !== 'tool') || !name)
    throw new CliError(
      'usage: agentmesh new agent <ns/name> [--dir FOLDER] | agentmesh new tool <ns/name> [--dir FOLDER]',
      2,
    );
  const dir = values.dir as string | undefined;
  if (values.framework && !dir) throw new CliError('--framework goes with --dir (a standalone project)', 2);
  if (dir) {
    const framework = (values.framework as string | undefined) ?? checkoutDependency(ROOT);
    const { files } = await scaffoldStandalone(ROOT, kind, name, dir, framework);
    out(`created ${dir}: ${files.join(', ')}`);
    out(`next: cd ${dir} && npm install && ${kind === 'agent' ? 'npm test' : 'npm run typecheck'}`);
    out(
      `run it in the local mesh (npm start in ${ROOT}): AGENTMESH_HOME=${join(ROOT, '.agentmesh')} npm start` +
        (kind === 'agent' ? `; then: npx agentmesh task ${name} --example 1` : ''),
    );
    return 0;
  }
  const { files, renderedIstio } = await scaffold(ROOT, kind, name);
  out(`created ${files.join(', ')}${renderedIstio ? ', istio/base (re-rendered from the policies)' : ''}`);
  out(
    `restart the mesh (npm start) to run it${kind === 'agent' ? `; then: npx agentmesh task ${name} --example 1` : ''}`,
  );
  return 0;
}

const COMMANDS: Record<string, (args: string[]) => Promise<number> | number> = {
  agents,
  task,
  answer,
  explain,
  audit,
  token,
  new: create,
};

// Options for every command may also come before it (agentmesh --user ada task ...).
const argv = process.argv.slice(2);
const leading: string[] = [];
while (argv[0]?.startsWith('--user')) leading.push(...argv.splice(0, argv[0].includes('=') ? 1 : 2));
const [command, ...afterCommand] = argv;
const rest = [...afterCommand, ...leading];
if (!command || command === '--help' || command === 'help' || rest.includes('--help')) {
  out(USAGE);
  process.exit(command ? 0 : 2);
}
const run = COMMANDS[command];
if (!run) {
  process.stderr.write(`agentmesh: unknown command "${command}" (see agentmesh --help)\n`);
  process.exit(2);
}
try {
  process.exitCode = await run(rest);
} catch (err) {
  // One line, never a stack trace: what failed and, where we know it, what to do.
  const message =
    err instanceof CliError
      ? err.message
      : isMeshError(err)
        ? `${err.message}`
        : `${(err as Error).message ?? String(err)}`.split('\n')[0];
  process.stderr.write(`agentmesh: ${message}\n`);
  process.exitCode = err instanceof CliError ? err.exitCode : 1;
}
