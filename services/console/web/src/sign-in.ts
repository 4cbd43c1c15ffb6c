import { api, useSession, type SessionInfo } from './api.js';
import { h, replace } from './dom.js';
import { errorNotice } from './notice.js';

let signInCalls = 0;

/**
 * Sign-in: at the mesh's people issuer when it has one (the browser goes there and comes back with a
 * session), else the dev form.
 */
export function signInView(main: HTMLElement, done: (s: SessionInfo) => void): void {
  // Only the latest call renders: an earlier one answered late must not replace a form in use.
  const call = ++signInCalls;
  const show = (render: () => void) => call === signInCalls && render();
  api<{ issuer?: string }>('GET', '/api/sign-in').then(
    (how) => show(() => (how.issuer ? issuerSignIn(main, how.issuer) : devSignIn(main, done))),
    () => show(() => devSignIn(main, done)),
  );
}

/** People sign in at the issuer: a link to the console's /auth/sign-in, which sends the browser there. */
function issuerSignIn(main: HTMLElement, issuer: string): void {
  const go = h('a', { class: 'button', href: '/auth/sign-in', role: 'button' }, 'Sign in');
  replace(
    main,
    h(
      'section',
      { class: 'card narrow', 'aria-labelledby': 'sign-in-title' },
      h('h1', { id: 'sign-in-title' }, 'Sign in'),
      h('p', {}, `People sign in at ${issuer}. Every call the console makes is made for you, with your tokens.`),
      go,
    ),
  );
  go.focus();
}

/** The dev sign-in form: a user name the local authorization server maps to a subject with that person's roles. */
function devSignIn(main: HTMLElement, done: (s: SessionInfo) => void): void {
  const input = h('input', {
    id: 'user',
    name: 'user',
    autocomplete: 'username',
    required: true,
    // Browsers compile `pattern` with the `v` flag, where a bare "-" in a class is a syntax error.
    pattern: '[A-Za-z0-9._@\\-]{1,64}',
    'aria-describedby': 'user-hint',
  });
  const status = h('div', { 'aria-live': 'assertive' });
  const form = h(
    'form',
    { class: 'card narrow', 'aria-labelledby': 'sign-in-title' },
    h('h1', { id: 'sign-in-title' }, 'Sign in'),
    h(
      'p',
      {},
      'Local dev login: the authorization server issues tokens naming you as the subject, with the scopes of your roles. Every call the console makes is made for you.',
    ),
    h('label', { for: 'user' }, 'User name'),
    input,
    h(
      'p',
      { id: 'user-hint', class: 'hint' },
      'Demo people: ada (loan officer: may send tasks), carol (loan officer and loan approver: approves other people’s loans), ben (auditor: may only read). Anyone else gets the default roles.',
    ),
    h('button', { type: 'submit' }, 'Sign in'),
    status,
  );
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    replace(status);
    api<SessionInfo>('POST', '/api/session', { user: input.value.trim() }).then(
      (s) => {
        useSession(s);
        done(s);
      },
      (err: unknown) => replace(status, errorNotice(err, 'Signing in')),
    );
  });
  replace(main, form);
  input.focus();
}
