// The agentmesh CLI: talks to the running local mesh (.agentmesh/mesh.json) with its own
// client identity (certificate + client credentials) and tokens for the person using it.
// Each command's module is loaded only when it runs, so that a command starts quickly.
import { isMeshError } from '../../mesh/index.js';
import { out } from './args.js';
import { CliError } from './cli-error.js';
import { COMMAND_USAGE, USAGE, usageOf } from './usage.js';

const COMMANDS: Record<string, (args: string[]) => Promise<number> | number> = {
  agents: async (args) => (await import('./agents-command.js')).agents(args),
  register: async (args) => (await import('./register-command.js')).register(args),
  tools: async (args) => (await import('./tools-command.js')).tools(args),
  task: async (args) => (await import('./send-task.js')).task(args),
  answer: async (args) => (await import('./answer-task.js')).answer(args),
  inbox: async (args) => (await import('./inbox-command.js')).inbox(args),
  explain: async (args) => (await import('./explain-command.js')).explain(args),
  audit: async (args) => (await import('./audit-command.js')).audit(args),
  token: async (args) => (await import('./token-command.js')).token(args),
  login: async (args) => (await import('./login-command.js')).login(args),
  logout: async (args) => (await import('./login-command.js')).logout(args),
  new: async (args) => (await import('./new-command.js')).create(args),
};

// Output piped into a program that stops reading early (`| head`): stop quietly, as other tools do.
for (const stream of [process.stdout, process.stderr])
  stream.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code !== 'EPIPE') throw err;
    process.exit(process.exitCode ?? 0);
  });

// Options for every command may also come before it (agentmesh --user ada task ...).
const argv = process.argv.slice(2);
const leading: string[] = [];
while (argv[0]?.startsWith('--user')) leading.push(...argv.splice(0, argv[0].includes('=') ? 1 : 2));
const [command, ...afterCommand] = argv;
const rest = [...afterCommand, ...leading];
const wantsHelp = rest.includes('--help') || rest.includes('-h');
if (!command || command === '--help' || command === '-h' || (command === 'help' && !rest[0])) {
  out(USAGE);
  process.exit(command ? 0 : 2);
}
if (command === 'help' || (wantsHelp && COMMAND_USAGE[command])) {
  const topic = command === 'help' ? rest[0]! : command;
  if (COMMAND_USAGE[topic]) {
    out(usageOf(topic));
    process.exit(0);
  }
}
const run = COMMANDS[command];
if (!run) {
  process.stderr.write(
    `agentmesh: unknown command "${command === 'help' ? rest[0] : command}" (see agentmesh --help)\n`,
  );
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
