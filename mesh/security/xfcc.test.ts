import { parseXfcc, peerUriFromXfcc } from './xfcc.js';

describe('x-forwarded-client-cert parsing', () => {
  test('reads Envoy key/value pairs with quoted values', () => {
    const header = 'By=spiffe://td/ns/a/sa/b;Hash=abc;Subject="CN=x, O=y; z";URI=spiffe://td/ns/c/sa/d';
    expect(parseXfcc(header)).toEqual([
      { By: ['spiffe://td/ns/a/sa/b'], Hash: ['abc'], Subject: ['CN=x, O=y; z'], URI: ['spiffe://td/ns/c/sa/d'] },
    ]);
  });

  test('the immediate peer is the last element (appended by the local sidecar)', () => {
    const header =
      'By=spiffe://td/ns/a/sa/b;URI=spiffe://td/ns/first/sa/hop,By=spiffe://td/ns/c/sa/d;URI=spiffe://td/ns/last/sa/hop';
    expect(peerUriFromXfcc(header)).toBe('spiffe://td/ns/last/sa/hop');
  });

  test('an element with two URIs is ambiguous and yields no identity', () => {
    expect(peerUriFromXfcc('URI=spiffe://td/ns/a/sa/b;URI=spiffe://td/ns/c/sa/d')).toBeUndefined();
  });

  test('escaped quotes stay inside the value', () => {
    expect(parseXfcc('Subject="a \\"b\\" c"')?.[0]?.Subject).toEqual(['a "b" c']);
  });

  test('an unclosed quote that would swallow the sidecar element is refused', () => {
    const forged = 'Hash=x;URI=spiffe://td/ns/agentmesh/sa/admin;By="';
    const appended = `${forged},By=spiffe://td/ns/a/sa/me;URI=spiffe://td/ns/real/sa/caller`;
    expect(parseXfcc(appended)).toBeUndefined();
    expect(peerUriFromXfcc(appended)).toBeUndefined();
  });

  test('the last element must be the one our own sidecar appended (By = our identity)', () => {
    const header = 'By=spiffe://td/ns/a/sa/me;URI=spiffe://td/ns/b/sa/caller';
    expect(peerUriFromXfcc(header, 'spiffe://td/ns/a/sa/me')).toBe('spiffe://td/ns/b/sa/caller');
    expect(peerUriFromXfcc(header, 'spiffe://td/ns/a/sa/other')).toBeUndefined();
  });
});
