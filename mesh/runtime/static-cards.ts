import type { Logger } from '../telemetry/index.js';

// Cards change only with a deployment: fetching them for every task would make
// each plan wait on every collaborator, and fail when any one of them is down.
const FRESH_MS = 30_000;

/**
 * The cards of statically routed collaborators, fetched at most every 30 s
 * each; a collaborator that cannot answer keeps its last known card, and one
 * never reached is left out of the inventory (a plan using it is invalid)
 * with a warning instead of failing every task's planning.
 */
export class StaticCards {
  private readonly known = new Map<string, { card: unknown; at: number }>();

  constructor(private readonly log: Logger) {}

  /** The cards of `names`, fetching those not fresh with `fetch`. */
  async of<C>(names: string[], fetch: (name: string) => Promise<C>): Promise<C[]> {
    const cards = await Promise.all(
      names.map(async (name) => {
        const held = this.known.get(name);
        if (held && Date.now() - held.at < FRESH_MS) return held.card as C;
        try {
          const card = await fetch(name);
          this.known.set(name, { card, at: Date.now() });
          return card;
        } catch (err) {
          this.log.warn(
            { collaborator: name, err: (err as Error).message },
            held
              ? 'collaborator card not refreshed: using the last one'
              : 'collaborator unreachable: left out of the inventory',
          );
          return held?.card as C | undefined;
        }
      }),
    );
    return cards.filter((c): c is Awaited<C> => c !== undefined);
  }
}
