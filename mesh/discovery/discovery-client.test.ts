import { DiscoveryScope } from '../../gen/agentmesh/v1/card.js';
import type { DiscoveryMatch } from '../../gen/agentmesh/v1/registry_service.js';
import { Code, MeshError } from '../core/index.js';
import { createLogger } from '../telemetry/index.js';
import { DiscoveryClient } from './discovery-client.js';

// The registry's side, scripted: when each Discover answers and when the Watch fails, so that a
// race the real registry shows only by chance (a restore from an older backup) happens every time.
function scriptedRegistry() {
  const answers: ((a: { matches: DiscoveryMatch[]; revision: number }) => void)[] = [];
  // The running Watch's next event: a change's revision, or an error that ends the stream.
  let push: (event: number | Error) => void = () => undefined;
  const watchOpened: (() => void)[] = [];
  const client = {
    discover: () => new Promise<{ matches: DiscoveryMatch[]; revision: number }>((r) => answers.push(r)),
    watch: (_req: unknown, { signal }: { signal: AbortSignal }) => ({
      async *[Symbol.asyncIterator]() {
        watchOpened.shift()?.();
        for (;;) {
          const event = await new Promise<number | Error>((resolve) => {
            push = resolve;
            signal.addEventListener('abort', () => resolve(signal.reason as Error));
          });
          if (event instanceof Error) throw event;
          yield { revision: event };
        }
      },
    }),
  };
  return {
    client,
    answers,
    push: (event: number | Error) => push(event),
    nextWatch: () => new Promise<void>((r) => watchOpened.push(r)),
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
    registry.push(5);
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
