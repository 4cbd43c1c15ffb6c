import { DiscoveryScope } from '../../gen/agentmesh/v1/card.js';
import { ChangeType, type DiscoveryMatch } from '../../gen/agentmesh/v1/registry_service.js';
import { Code, MeshError } from '../core/index.js';
import { createLogger } from '../telemetry/index.js';
import { DiscoveryClient } from './discovery-client.js';

// The registry's side, scripted: when each Discover answers and when the Watch fails, so that a
// race the real registry shows only by chance (a restore from an older backup) happens every time.
function scriptedRegistry() {
  const answers: ((a: { matches: DiscoveryMatch[]; revision: number }) => void)[] = [];
  // The running Watch's next event: a change's revision, a progress response, or an error that ends the stream.
  let push: (event: number | { progress: number } | Error) => void = () => undefined;
  const watchOpened: (() => void)[] = [];
  const opened = { count: 0 };
  const client = {
    discover: () => new Promise<{ matches: DiscoveryMatch[]; revision: number }>((r) => answers.push(r)),
    watch: (_req: unknown, { signal }: { signal: AbortSignal }) => ({
      async *[Symbol.asyncIterator]() {
        opened.count++;
        watchOpened.shift()?.();
        for (;;) {
          const event = await new Promise<number | { progress: number } | Error>((resolve) => {
            push = resolve;
            signal.addEventListener('abort', () => resolve(signal.reason as Error));
          });
          if (event instanceof Error) throw event;
          yield typeof event === 'number'
            ? { change: ChangeType.CHANGE_TYPE_UPDATED, revision: event }
            : { change: ChangeType.CHANGE_TYPE_PROGRESS, revision: event.progress };
        }
      },
    }),
  };
  return {
    client,
    answers,
    push: (event: number | { progress: number } | Error) => push(event),
    nextWatch: () => new Promise<void>((r) => watchOpened.push(r)),
    watchesOpened: () => opened.count,
  };
}

const match = (name: string) => ({ entry: { card: { $case: 'agent', agent: { name, endpoints: [] } } } }) as never;

test('an answer asked for before the registry lost its history is not cached under the new numbering', async () => {
  const registry = scriptedRegistry();
  const discovery = new DiscoveryClient(registry.client as never, createLogger({ service: 't', level: 'silent' }));
  const scope = DiscoveryScope.fromPartial({ visibility: { names: ['a/b'] } });
  try {
    discovery.startWatch();
    const opened = registry.nextWatch();
    const first = discovery.resolve(scope);
    registry.answers.shift()!({ matches: [match('old-1')], revision: 50 });
    await first;
    await opened;
    // A second question is in flight when the restored registry refuses to replay its history.
    const c = DiscoveryScope.fromPartial({ visibility: { names: ['a/c'] } });
    const inFlight = discovery.resolve(c);
    await new Promise((r) => setImmediate(r));
    const reopened = registry.nextWatch();
    registry.push(new MeshError(Code.OUT_OF_RANGE, 'history lost'));
    await new Promise((r) => setImmediate(r));
    registry.answers.shift()!({ matches: [match('old-2')], revision: 60 });
    await inFlight;
    // The Watch, reopened from now, brings the restored registry's first change (revision 5).
    await reopened;
    registry.push({ progress: 5 });
    await new Promise((r) => setImmediate(r));
    // Asked again: the old registry's answer (its revision 60 looks newer than 5) was not kept.
    const again = discovery.resolve(c);
    await new Promise((r) => setImmediate(r));
    expect(registry.answers).toHaveLength(1);
    registry.answers.shift()!({ matches: [match('new')], revision: 6 });
    expect(await again).toEqual([match('new')]);
  } finally {
    discovery.close();
  }
});

/** Resolves a scope, the scripted registry giving `answer` if the client asks it: what came back and whether it asked. */
async function ask(
  discovery: DiscoveryClient,
  registry: ReturnType<typeof scriptedRegistry>,
  scope: DiscoveryScope,
  answer: { matches: DiscoveryMatch[]; revision: number },
): Promise<{ asked: boolean; matches: DiscoveryMatch[] }> {
  const resolving = discovery.resolve(scope);
  await new Promise((r) => setImmediate(r));
  const asked = registry.answers.length > 0;
  registry.answers.shift()?.(answer);
  return { asked, matches: await resolving };
}

test('a Watch the registry accepted but that never delivered anything does not keep cached answers fresh', async () => {
  const registry = scriptedRegistry();
  const discovery = new DiscoveryClient(registry.client as never, createLogger({ service: 't', level: 'silent' }));
  const scope = DiscoveryScope.fromPartial({ visibility: { names: ['a/b'] } });
  try {
    discovery.startWatch();
    const opened = registry.nextWatch();
    await ask(discovery, registry, scope, { matches: [match('v1')], revision: 50 });
    // The stream is open (a proxy holds it, or the registry never sends): nothing says it is live, so the registry is asked.
    await opened;
    const again = await ask(discovery, registry, scope, { matches: [match('v2')], revision: 50 });
    expect(again).toEqual({ asked: true, matches: [match('v2')] });
    // Once the registry says the stream is live, the cache answers.
    registry.push({ progress: 50 });
    await new Promise((r) => setImmediate(r));
    expect(await ask(discovery, registry, scope, { matches: [match('v3')], revision: 50 })).toEqual({
      asked: false,
      matches: [match('v2')],
    });
  } finally {
    discovery.close();
  }
});

test('a Watch that never delivered (a registry from before progress responses) is not trusted, nor reopened again and again', async () => {
  const registry = scriptedRegistry();
  let now = 0;
  const discovery = new DiscoveryClient(
    registry.client as never,
    createLogger({ service: 't', level: 'silent' }),
    undefined,
    { progressIntervalMs: 1_000, now: () => now },
  );
  const scope = DiscoveryScope.fromPartial({ visibility: { names: ['a/b'] } });
  try {
    discovery.startWatch();
    const opened = registry.nextWatch();
    await ask(discovery, registry, scope, { matches: [match('v1')], revision: 50 });
    await opened;
    now = 60_000;
    for (const v of ['v2', 'v3']) {
      const answer = await ask(discovery, registry, scope, { matches: [match(v)], revision: 50 });
      expect(answer).toEqual({ asked: true, matches: [match(v)] });
    }
    await new Promise((r) => setImmediate(r));
    expect(registry.watchesOpened()).toBe(1);
    // Its changes still count: once it delivers one, it is live.
    registry.push(51);
    await new Promise((r) => setImmediate(r));
    await ask(discovery, registry, scope, { matches: [match('v4')], revision: 51 });
    expect((await ask(discovery, registry, scope, { matches: [match('v5')], revision: 51 })).asked).toBe(false);
  } finally {
    discovery.close();
  }
});

test('a Watch that falls silent for two progress intervals stops the cache answering and is reopened', async () => {
  const registry = scriptedRegistry();
  let now = 0;
  const discovery = new DiscoveryClient(
    registry.client as never,
    createLogger({ service: 't', level: 'silent' }),
    undefined,
    { progressIntervalMs: 1_000, now: () => now },
  );
  const scope = DiscoveryScope.fromPartial({ visibility: { names: ['a/b'] } });
  try {
    discovery.startWatch();
    const opened = registry.nextWatch();
    await ask(discovery, registry, scope, { matches: [match('v1')], revision: 50 });
    await opened;
    registry.push({ progress: 50 });
    await new Promise((r) => setImmediate(r));
    now = 2_000;
    expect((await ask(discovery, registry, scope, { matches: [match('v2')], revision: 50 })).asked).toBe(false);
    // Nothing for longer than two intervals: the stream may be dead, so the registry is asked, and a new Watch opens.
    now = 2_001;
    const reopened = registry.nextWatch();
    expect(await ask(discovery, registry, scope, { matches: [match('v2')], revision: 53 })).toEqual({
      asked: true,
      matches: [match('v2')],
    });
    await reopened;
    registry.push({ progress: 53 });
    await new Promise((r) => setImmediate(r));
    expect((await ask(discovery, registry, scope, { matches: [match('v3')], revision: 54 })).asked).toBe(false);
  } finally {
    discovery.close();
  }
});
