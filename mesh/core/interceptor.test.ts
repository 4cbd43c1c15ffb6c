import type { CallContext } from './context.js';
import { composeInterceptors, type Interceptor } from './interceptor.js';

const ctx = {} as CallContext;

describe('composeInterceptors', () => {
  test('the first interceptor is the outermost', async () => {
    const seen: string[] = [];
    const named =
      (name: string): Interceptor =>
      async (_ctx, next) => {
        seen.push(`${name}>`);
        await next();
        seen.push(`<${name}`);
      };
    await composeInterceptors([named('a'), named('b')])(ctx, async () => void seen.push('handler'));
    expect(seen).toEqual(['a>', 'b>', 'handler', '<b', '<a']);
  });

  test('an interceptor may see and rethrow the handler error', async () => {
    const caught: unknown[] = [];
    const observe: Interceptor = async (_ctx, next) => {
      try {
        await next();
      } catch (err) {
        caught.push(err);
        throw err;
      }
    };
    const boom = new Error('boom');
    await expect(composeInterceptors([observe])(ctx, async () => Promise.reject(boom))).rejects.toBe(boom);
    expect(caught).toEqual([boom]);
  });

  test('calling next twice is an error, so a handler never runs twice', async () => {
    let runs = 0;
    const twice: Interceptor = async (_ctx, next) => {
      await next();
      await next();
    };
    await expect(composeInterceptors([twice])(ctx, async () => void runs++)).rejects.toThrow(/next\(\) twice/);
    expect(runs).toBe(1);
  });
});
