// What `agentmesh --help` and `agentmesh <command> --help` print. Kept apart from the commands so
// that help loads none of them.

const ALL_OPTIONS = `options for every command (before or after it): --user NAME (default: AGENTMESH_USER or your login);
AGENTMESH_HOME to use another mesh folder`;

/** Each command's own usage: what `agentmesh <command> --help` prints. */
export const COMMAND_USAGE: Record<string, string> = {
  agents: `usage: agentmesh agents [--namespace NS]... [--name NS/NAME]... [--glob PATTERN]... [--regex RE]...
                       [--skill ID]... [--tag T]... [--policy ID]... [--text WORDS] [--kind agent|tool] [--json]
       agentmesh agents <ns/name> [--a2a]

discover agents and tool services with the registry's scoping rules, best match first, with the reasons
and where each agent's A2A card is; with a name, that entry only
  --a2a              print the agent's A2A card (JSON), to hand to another A2A framework
  --namespace NS     only these namespaces (repeatable)
  --name NS/NAME     only these names (repeatable)
  --glob PATTERN     names matching a glob, e.g. 'lending/*' (repeatable)
  --regex RE         names matching a regular expression (RE2 syntax, repeatable)
  --skill ID, --tag T, --policy ID
                     agents with this skill, tag or policy (repeatable)
  --text WORDS       purpose and description mention these words
  --kind agent|tool  only agents or only tool services
  --json             the registry's answer as JSON`,
  register: `usage: agentmesh register a2a <card-url> --name NS/NAME --owner OWNER [--label K=V]...
                         [--visible-to NS[,NS...]] [--ca PEM-FILE] [--json]
       agentmesh register mcp <url> --name NS/NAME --owner OWNER
                         --auth client-credentials|token-exchange|secret [--secret PATH[#FIELD]]
                         [--client-id ID] [--token-url URL] [--resource R] [--scope S]...
                         [--idempotent TOOL]... [--label K=V]... [--visible-to NS] [--ca PEM-FILE]
                         [--bearer-env VAR] [--version V] [--purpose TEXT] [--json]

register an agent outside the mesh from its A2A card (registry admin): the card is fetched over
HTTPS, the agent becomes discoverable at its card's GRPC interface until retired
  --name NS/NAME     the name the mesh knows it by
  --owner OWNER      the accountable team or person
  --label K=V        a label of its entry (repeatable)
  --visible-to NS    only callers of its own namespace see it (default: every namespace)
  --ca PEM-FILE      CA bundle its gRPC server certificate is checked against, and only it
                     (without --ca: the system CAs; never the mesh CA); its HTTPS card is
                     checked against the system CAs, the mesh CA and this bundle
  --json             name, version, gRPC address and registry revision as JSON

register an MCP server outside the mesh (registry admin): its tools are listed over Streamable
HTTP and registered with their schemas; agents call them until the entry is retired
  --auth MODE        how agents authenticate to it: client-credentials (their own token; with
                     --token-url, a client of another authorization server), token-exchange (the
                     task caller's token exchanged at the mesh's token endpoint), secret (a static
                     credential from each agent's secrets provider); never the caller's own token
  --secret PATH[#FIELD]
                     the secret agents read: the bearer credential (secret; field default token)
                     or the client secret (client-credentials with --token-url; field default
                     client_secret)
  --client-id ID     client-credentials with --token-url: the client id there
  --token-url URL    client-credentials: another authorization server's token endpoint (https)
  --resource R       the resource (audience) tokens are asked for (default: the server's URL)
  --scope S          a scope tokens are asked for (repeatable)
  --idempotent TOOL  a tool you vouch is idempotent, safe to retry (repeatable; the server's own
                     hints are not trusted)
  --ca PEM-FILE      CA bundle the server's certificate is checked against, and only it, by this
                     command and by agents (without --ca: the system CAs; never the mesh CA)
  --bearer-env VAR   list the tools with the bearer token in environment variable VAR (your own,
                     for servers that want one even to list; never stored)
  --version V        the entry's version (default: the version the server reports)
  --purpose TEXT     one sentence saying what it is for (default: from the server's description)
  --name, --owner, --label, --visible-to
                     as for register a2a
  --json             name, version, URL, tools, protocol version and registry revision as JSON`,
  tools: `usage: agentmesh tools <ns/name> [--tool NAME] [--json]

a tool service's tools with the JSON Schemas of their arguments and results (from the registry's card)
  --tool NAME  only this tool
  --json       the tool card as JSON`,
  task: `usage: agentmesh task <agent> (<input-json> | --example N) [--skill ID] [--text T] [--json] [--no-input] [--timeout S]

send a task, follow it live, answer its questions, print the result; without an input it lists the
agent's examples. Exit code 0 completed, 1 failed, 3 waits for a person (--no-input) or for its
caller's authority
  --example N   send the agent's example N (as listed without an input)
  --skill ID    the skill to use (default: the agent's first)
  --text T      a text part sent with the input
  --json        print only the finished task, as JSON
  --no-input    do not ask when the task needs a person (implied when stdin is not a terminal)
  --timeout S   give up following after S seconds (default 600)`,
  answer: `usage: agentmesh answer <task-id> <answer> [--agent NAME] [--json] [--no-input] [--timeout S]

answer a task that waits for a person (a choice as text, or a JSON object), then follow the task and
print its result as \`agentmesh task\` does (same exit codes)
  --agent NAME  the agent holding the task (default: every agent is asked)
  --json, --no-input, --timeout S
                as for \`agentmesh task\``,
  inbox: `usage: agentmesh inbox [list] [--json]
       agentmesh inbox show <agent> <task-id> [--json]
       agentmesh inbox answer <agent> <task-id> <choice|json> [--json] [--timeout S]

the tasks waiting for you (approvals you may give, questions to you) across every agent the
registry lists; an agent that does not answer is a warning line (exit code 1 when none answers)
  show          the question, who may answer, approvals so far, the deadline, and the evidence:
                the task's explanation so far
  answer        give your answer (a choice as text, or a JSON object); a refusal (four eyes, not an
                approver, already answered, expired) is one line with the agent's reason. Then the
                task is followed to its result as \`agentmesh task\` does (exit code 3 while the step
                needs more approvers)
  --json        the tasks (list), the task and its explanation (show) or the answered task as JSON
  --timeout S   answer: give up following after S seconds (default 600)`,
  explain: `usage: agentmesh explain <task-id> [--agent NAME] [--depth N] [--json]

what the task planned, did and why: plan, collaborators and why they were chosen, substitutions,
attempts, child tasks on other agents
  --agent NAME  the agent holding the task (default: every agent is asked)
  --depth N     how many levels of child tasks (default: the agent's, 4)
  --json        the explanation as JSON`,
  audit: `usage: agentmesh audit verify [--json]

verify the hash chains of the audit trails of the mesh's services (exit code 1 when one is broken)`,
  token: `usage: agentmesh token --audience NAME [--scope S]...

print an access token for the current user to call the service NAME (for grpcurl)`,
  login: `usage: agentmesh login

log in at the mesh's people issuer (npm start with AGENTMESH_PEOPLE_ISSUER): open the address shown,
enter the code, log in there; later commands act for you. A mesh without one needs no login (dev login)`,
  logout: `usage: agentmesh logout

forget the login at the mesh's people issuer (its tokens are deleted from the mesh folder)`,
  new: `usage: agentmesh new agent <ns/name> [--dir FOLDER [--framework SPEC]]
       agentmesh new tool <ns/name> [--dir FOLDER [--framework SPEC]]

scaffold an agent or a tool service: in this repository (npm start picks it up; istio/base is
re-rendered), or with --dir a standalone project in FOLDER that depends on the framework
  --dir FOLDER        a new or empty folder for the project (see docs/standalone-agents.md)
  --framework SPEC    where the project gets agentmesh: an npm version, a tarball (npm pack) or a
                      file: path (default: this checkout)`,
};

/** The global usage: every command in a line or two. */
export const USAGE = `usage: agentmesh <command> [options]    (agentmesh <command> --help for one command)

  agents [--namespace NS]... [--name NS/NAME]... [--glob PATTERN]... [--regex RE]...
         [--skill ID]... [--tag T]... [--policy ID]... [--text WORDS] [--kind agent|tool] [--json]
                               discover agents and tools with the registry's scoping rules
  agents <ns/name> --a2a       print an agent's A2A card (JSON) for another A2A framework
  register a2a <card-url> --name NS/NAME --owner OWNER [--label K=V]... [--visible-to NS] [--ca FILE]
                               register an external A2A agent from its card (registry admin)
  register mcp <url> --name NS/NAME --owner OWNER --auth MODE [--secret REF] [--idempotent TOOL]...
                               register an external MCP server and its tools (registry admin)
  tools <ns/name> [--tool NAME] [--json]
                               a tool service's tools with their argument and result schemas
  task <agent> (<input-json> | --example N) [--skill ID] [--text T] [--json] [--no-input] [--timeout S]
                               send a task, follow it live, answer its questions, print the result;
                               without an input it lists the agent's examples. Exit code 0 completed,
                               1 failed, 3 waits for a person (--no-input) or for its caller's authority
  answer <task-id> <answer> [--agent NAME]
                               answer a task that waits for a person, then follow it to its result
  inbox [list | show <agent> <task-id> | answer <agent> <task-id> <answer>] [--json]
                               the tasks waiting for you across the mesh: list, read, approve
  explain <task-id> [--agent NAME] [--depth N] [--json]
                               what the task planned, did and why, with child tasks
  audit verify [--json]        verify the audit chains of the mesh's services
  token --audience NAME [--scope S]...
                               print an access token for the current user to call NAME (for grpcurl)
  login, logout                log in at (out of) the mesh's people issuer, when it has one
  new agent <ns/name> [--dir FOLDER [--framework SPEC]]
                               scaffold an agent: here (npm start picks it up) or, with --dir, a
                               standalone project on the framework
  new tool <ns/name> [--dir FOLDER [--framework SPEC]]
                               scaffold a tool service, the same way

${ALL_OPTIONS}`;

/** A command's usage with the options every command takes. */
export const usageOf = (command: string): string => `${COMMAND_USAGE[command]}\n\n${ALL_OPTIONS}`;
