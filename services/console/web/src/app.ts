import './styles.css';
import { api, useSession, type SessionInfo } from './api.js';
import { approvalPage } from './approval-page.js';
import { approvalsView } from './approvals.js';
import { cardPage } from './card-page.js';
import { h, replace } from './dom.js';
import { marketplaceView } from './marketplace.js';
import { operationsView } from './operations.js';
import { signInView } from './sign-in.js';
import { taskView } from './task-view.js';

const main = document.getElementById('main')!;
const who = document.getElementById('who')!;
let session: SessionInfo | undefined;
let cleanup: (() => void) | undefined;

function showWho(): void {
  if (!session) return replace(who);
  const signOut = h('button', { type: 'button', class: 'secondary' }, 'Sign out');
  signOut.addEventListener('click', () => {
    void api('DELETE', '/api/session').finally(() => {
      session = undefined;
      useSession(undefined);
      // Once: a new hash routes on its own (hashchange); a second route() raced it with a second
      // sign-in form that could replace the first while a person was typing in it.
      if (location.hash === '#/') route();
      else location.hash = '#/';
    });
  });
  replace(
    who,
    h(
      'span',
      {},
      'Signed in as ',
      h('strong', { id: 'signed-in-user' }, session.user),
      h('span', { class: 'scopes' }, ` · scopes: ${session.scopes.join(' ') || 'none'}`),
      h('span', { class: 'scopes', id: 'signed-in-roles' }, ` · roles: ${session.roles?.join(' ') || 'none'}`),
    ),
    ' ',
    signOut,
  );
}

/** Shows the page the hash names; the sign-in form first when nobody is signed in. */
function route(): void {
  cleanup?.();
  cleanup = undefined;
  showWho();
  if (!session) {
    signInView(main, (s) => {
      session = s;
      route();
    });
    return;
  }
  const [path = '', search = ''] = location.hash.replace(/^#/, '').split('?');
  const parts = path.split('/').filter(Boolean).map(decodeURIComponent);
  const name = parts.length >= 3 ? `${parts[1]}/${parts[2]}` : '';
  if ((parts[0] === 'agent' || parts[0] === 'tool') && parts.length === 3) cardPage(main, parts[0], name, session);
  else if (parts[0] === 'task' && parts.length === 4) cleanup = taskView(main, name, parts[3]!, session);
  else if (parts[0] === 'approvals' && parts.length === 4) approvalPage(main, name, parts[3]!, session);
  else if (parts[0] === 'approvals') approvalsView(main);
  else if (parts[0] === 'operations') operationsView(main);
  else marketplaceView(main, new URLSearchParams(search));
  document.title = `${main.querySelector('h1')?.textContent ?? 'console'} · agentmesh`;
  main.focus({ preventScroll: true });
}

window.addEventListener('hashchange', route);
api<SessionInfo>('GET', '/api/session')
  .then(
    (s) => {
      session = s;
      useSession(s);
    },
    () => undefined,
  )
  .finally(route);
// The skip link moves focus without touching the hash (the router owns it).
document.querySelector('.skip')?.addEventListener('click', (ev) => {
  ev.preventDefault();
  main.focus();
});
