// `agentmesh register a2a`: fetch an external agent's A2A card over HTTPS and derive the
// agentmesh card the registry keeps beside it. The A2A card is kept as served (it is what
// other frameworks are handed); the agentmesh card only restates it in the mesh's terms.
import { request } from 'node:https';
import { rootCertificates } from 'node:tls';
import semver from 'semver';
import { AgentCard } from '../../gen/agentmesh/v1/card.js';
import { isMeshError, parseExternalA2aCard } from '../../mesh/index.js';
import { CliError } from './cli-error.js';

/** Where an A2A agent serves its card (A2A spec §8.2). */
const AGENT_CARD_PATH = '/.well-known/agent-card.json';
/** The largest card accepted: a card is a few kilobytes; anything far larger is not one. */
const MAX_CARD_BYTES = 1 << 20;
const FETCH_MS = 15_000;

/**
 * The card URL as given, or the well-known card path of a bare https://host:port. It is kept with
 * the entry and shown to every reader: a user name or password in it is refused (without echoing
 * it), and a query string or fragment (often a token) is dropped.
 */
export function cardUrlOf(given: string): URL {
  let url: URL;
  try {
    url = new URL(given);
  } catch {
    throw new CliError(`${given} is not a URL (an A2A card URL: https://host/.well-known/agent-card.json)`, 2);
  }
  if (url.username || url.password)
    throw new CliError(`the A2A card URL of ${url.host} must not carry a user name or password`, 2);
  if (url.protocol !== 'https:') throw new CliError(`${url.origin}: the A2A card must be fetched over https`, 2);
  url.search = '';
  url.hash = '';
  if (url.pathname === '/' || url.pathname === '') url.pathname = AGENT_CARD_PATH;
  return url;
}

/** GETs the card, trusting the system CAs plus those given (the mesh CA, --ca); one-line errors. */
export function fetchCardJson(url: URL, cas: string[]): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const fail = (why: string) => reject(new CliError(`cannot fetch the A2A card at ${url.href}: ${why}`));
    const req = request(
      url,
      { method: 'GET', headers: { accept: 'application/json' }, ca: [...rootCertificates, ...cas], timeout: FETCH_MS },
      (res) => {
        if (res.statusCode !== 200) {
          res.resume();
          return fail(`HTTP ${res.statusCode}`);
        }
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (c: Buffer) => {
          size += c.length;
          if (size > MAX_CARD_BYTES) {
            req.destroy();
            fail(`more than ${MAX_CARD_BYTES} bytes: not an agent card`);
          } else chunks.push(c);
        });
        res.on('end', () => {
          try {
            resolve(JSON.parse(Buffer.concat(chunks).toString('utf8')));
          } catch {
            reject(new CliError(`${url.href} did not answer JSON: not an A2A card`));
          }
        });
        res.on('error', (err) => fail(err.message));
      },
    );
    req.on('timeout', () => req.destroy(new Error(`no answer within ${FETCH_MS / 1000} s`)));
    req.on('error', (err: NodeJS.ErrnoException) => fail(err.code ? `${err.code} (${err.message})` : err.message));
    req.end();
  });
}

/** What the administrator decides about the entry (the rest comes from the A2A card). */
export interface ExternalEntryChoice {
  name: string;
  owner: string;
  labels: Record<string, string>;
  cardUrl: string;
  caPem: string;
}

/** The first sentence of a description (a card's purpose is one sentence). */
export function firstSentence(text: string): string {
  const trimmed = text.trim().replace(/\s+/g, ' ');
  return /^(.+?[.!?])(\s|$)/.exec(trimmed)?.[1] ?? trimmed;
}

/** The agentmesh card of an external agent from its A2A card JSON; a one-line error when it is not a usable A2A card. */
export function externalCardOf(json: unknown, choice: ExternalEntryChoice): { card: AgentCard; grpcAddress: string } {
  let parsed: ReturnType<typeof parseExternalA2aCard>;
  try {
    parsed = parseExternalA2aCard(json, 'A2A card');
  } catch (err) {
    if (isMeshError(err)) throw new CliError(`${choice.cardUrl}: not a usable A2A card: ${err.message.split('\n')[0]}`);
    throw err;
  }
  const a2a = parsed.card;
  // agentmesh versions are semantic versions; A2A's are free text ("1.2" → 1.2.0).
  const version = semver.valid(a2a.version) ?? semver.coerce(a2a.version)?.version;
  if (!version)
    throw new CliError(`${choice.cardUrl}: the A2A card's version ${JSON.stringify(a2a.version)} is not a version`);
  const card = AgentCard.fromPartial({
    name: choice.name,
    version,
    purpose: firstSentence(a2a.description) || a2a.name,
    description: a2a.description,
    owner: choice.owner,
    labels: choice.labels,
    skills: a2a.skills.map((s) => ({
      id: s.id,
      name: s.name,
      description: s.description || s.name,
      tags: s.tags,
      examples: s.examples.map((text) => ({ title: '', text })),
    })),
    a2a: { card: json as Record<string, unknown>, cardUrl: choice.cardUrl, external: true, caPem: choice.caPem },
  });
  return { card, grpcAddress: parsed.grpcAddress };
}
