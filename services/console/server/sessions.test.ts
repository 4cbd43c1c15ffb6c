import { SessionStore } from './sessions.js';

describe('console sessions', () => {
  test('a session lives until idle too long or past its absolute lifetime, and ends on delete', () => {
    let now = 0;
    const store = new SessionStore({ idleMs: 100, absoluteMs: 250 }, () => now);
    const s = store.create('ada', ['task.read']);
    expect(s.id).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(s.csrf).not.toBe(s.id);
    now = 90;
    expect(store.get(s.id)?.user).toBe('ada');
    now = 180;
    expect(store.get(s.id)?.user).toBe('ada');
    now = 260;
    expect(store.get(s.id)).toBeUndefined();
    const t = store.create('ben', []);
    now = 400;
    expect(store.get(t.id)).toBeUndefined();
    const u = store.create('ben', []);
    store.delete(u.id);
    expect(store.get(u.id)).toBeUndefined();
    expect(store.get(undefined)).toBeUndefined();
    expect(store.get('forged')).toBeUndefined();
  });

  test('a live stream checks its session without keeping it alive: it ends when the person is idle, or signs out', () => {
    let now = 0;
    const store = new SessionStore({ idleMs: 100, absoluteMs: 1_000 }, () => now);
    const s = store.create('ada', []);
    now = 60;
    expect(store.live(s.id)).toBe(true);
    now = 120;
    expect(store.live(s.id)).toBe(false);
    const t = store.create('ben', []);
    expect(store.live(t.id)).toBe(true);
    store.delete(t.id);
    expect(store.live(t.id)).toBe(false);
  });
});
