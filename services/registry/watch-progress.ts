import type { Duration } from '../../gen/google/protobuf/duration.js';
import { ChangeType, type WatchResponse } from '../../gen/agentmesh/v1/registry_service.js';
import { Code, MeshError } from '../../mesh/index.js';

/** Bounds of WatchRequest.progress_interval: often enough to notice a dead stream, rarely enough to cost nothing. */
const MIN_PROGRESS_MS = 100;
const MAX_PROGRESS_MS = 600_000;

/** One step of a Watch: the revision it has gone through, and the response to send for it (none when filtered out). */
export interface WatchStep {
  upTo: number;
  response?: WatchResponse;
  /** The replay is over: every change up to `upTo` has been through. */
  caughtUp?: boolean;
}

/** The progress interval a Watch asked for, in milliseconds (0: none); INVALID_ARGUMENT outside its bounds. */
export function progressIntervalOf(interval: Duration | undefined): number {
  if (!interval) return 0;
  const ms = interval.seconds * 1000 + Math.floor(interval.nanos / 1e6);
  if (!(ms >= MIN_PROGRESS_MS && ms <= MAX_PROGRESS_MS))
    throw new MeshError(
      Code.INVALID_ARGUMENT,
      `progress_interval: from ${MIN_PROGRESS_MS} ms to ${MAX_PROGRESS_MS} ms`,
    );
  return ms;
}

const QUIET = Symbol('quiet');

/** The step, or QUIET if it has not come within `ms`. */
async function within<T>(next: Promise<T>, ms: number): Promise<T | typeof QUIET> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([next, new Promise<typeof QUIET>((r) => (timer = setTimeout(() => r(QUIET), ms)))]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * The responses of a Watch with CHANGE_TYPE_PROGRESS ones added: one as soon
 * as the replay is over, then one whenever the stream has sent nothing for
 * `intervalMs` (changes the caller does not see count as nothing), so that a
 * client can tell a live stream from one held open by a proxy or a dead peer.
 */
export async function* withProgress(
  steps: AsyncIterator<WatchStep>,
  intervalMs: number,
): AsyncGenerator<WatchResponse> {
  let upTo = 0;
  let live = false;
  let sentAt = 0;
  const progress = (): WatchResponse => {
    sentAt = Date.now();
    return { change: ChangeType.CHANGE_TYPE_PROGRESS, entry: undefined, revision: upTo };
  };
  try {
    for (;;) {
      const next = steps.next();
      let step = live ? await within(next, Math.max(0, sentAt + intervalMs - Date.now())) : await next;
      while (step === QUIET) {
        yield progress();
        step = await within(next, intervalMs);
      }
      if (step.done) return;
      upTo = step.value.upTo;
      if (step.value.caughtUp) {
        live = true;
        yield progress();
      } else if (step.value.response) {
        sentAt = Date.now();
        yield step.value.response;
      }
    }
  } finally {
    // Ends the registry's Watch when the caller goes away between two steps (it ends with the call's signal anyway).
    void steps.return?.()?.catch(() => undefined);
  }
}
