import type { CallContext } from './context.js';

/**
 * A server interceptor in the onion shape: it may act before calling `next`,
 * after it returns, or instead of it (by throwing a MeshError, the handler
 * never runs). `next` resolves when the handler has finished: for a unary
 * method after the response is computed, for a server stream after the last
 * message was written. Errors propagate as thrown values.
 */
export type Interceptor = (ctx: CallContext, next: () => Promise<void>) => Promise<void>;

/**
 * Composes interceptors so that the FIRST in the list is the OUTERMOST: it
 * runs first before the handler and last after it.
 */
export function composeInterceptors(interceptors: readonly Interceptor[]): Interceptor {
  return (ctx, handler) => dispatch(interceptors, 0, ctx, handler);
}

// A module-level function rather than a closure made per call: under tsx (esbuild keepNames) a
// named closure costs a defineProperty at every call.
function dispatch(
  interceptors: readonly Interceptor[],
  i: number,
  ctx: CallContext,
  handler: () => Promise<void>,
): Promise<void> {
  if (i === interceptors.length) return handler();
  let called = false;
  return interceptors[i]!(ctx, () => {
    if (called) return Promise.reject(new Error(`interceptor ${i} called next() twice`));
    called = true;
    return dispatch(interceptors, i + 1, ctx, handler);
  });
}
