import { fileURLToPath } from 'node:url';
import { UserDirectory } from './users.js';

const data = {
  roles: { 'loan-officer': ['task.read', 'task.write'], auditor: ['task.read'] },
  users: { ada: ['loan-officer'], ben: ['auditor'], eve: [] },
  default_roles: ['auditor', 'loan-officer'],
};

describe('the users file of the dev login', () => {
  test('a person gets the union of their roles; people not listed get the default roles', () => {
    const users = UserDirectory.parse(data);
    expect(users.scopesOf('ada')).toEqual(['task.read', 'task.write']);
    expect(users.scopesOf('ben')).toEqual(['task.read']);
    expect(users.scopesOf('eve')).toEqual([]);
    expect(users.scopesOf('someone')).toEqual(['task.read', 'task.write']);
    expect(users.scopesOf('constructor')).toEqual(['task.read', 'task.write']);
  });

  test('an unknown role or a malformed entry is refused with its place', () => {
    expect(() => UserDirectory.parse({ ...data, users: { ada: ['pilot'] } })).toThrow('ada has the unknown role pilot');
    expect(() => UserDirectory.parse({ ...data, default_roles: ['pilot'] })).toThrow(
      '(default_roles) has the unknown role pilot',
    );
    expect(() => UserDirectory.parse({ roles: { x: 'task.read' } })).toThrow('invalid users file at [roles.x]');
  });

  test("the demo's people: ada sends loans and uses the loan calculators over MCP, carol also approves them, ben audits", () => {
    const users = UserDirectory.fromFile(fileURLToPath(new URL('../users.json', import.meta.url)));
    expect(users.rolesOf('ada')).toEqual(['loan-officer', 'loan-calculator-user']);
    expect(users.scopesOf('ada')).toContain('tools.invoke');
    expect(users.scopesOf('carol')).not.toContain('tools.invoke');
    expect(users.rolesOf('carol')).toEqual(['loan-officer', 'loan-approver']);
    expect(users.rolesOf('ben')).toEqual(['auditor']);
    expect(users.scopesOf('carol')).toEqual(expect.arrayContaining(['task.read', 'task.write', 'registry.read']));
    expect(users.scopesOf('ben')).not.toContain('task.write');
  });
});
