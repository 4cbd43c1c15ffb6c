import { parseXfcc, peerUriFromXfcc } from './xfcc.js';

describe('x-forwarded-client-cert parsing', () => {
  test('reads Envoy key/value pairs with quoted values', () => {
    const header = 'By=spiffe://td/ns/a/sa/b;Hash=abc;Subject="CN=x, O=y; z";URI=spiffe://td/ns/c/sa/d';
    expect(parseXfcc(header)).toEqual([
      { By: ['spiffe://td/ns/a/sa/b'], Hash: ['abc'], Subject: ['CN=x, O=y; z'], URI: ['spiffe://td/ns/c/sa/d'] },
    ]);
  });

  test('the immediate peer is the last element (appended by the local sidecar)', () => {
    const header = 'By=spiffe://td/ns/a/sa/b;URI=spiffe://td/ns/first/sa/hop,By=spiffe://td/ns/c/sa/d;URI=spiffe://td/ns/last/sa/hop';
    expect(peerUriFromXfcc(header)).toBe('spiffe://td/ns/last/sa/hop');
  });

  test('an element with two URIs is ambiguous and yields no identity', () => {
    expect(peerUriFromXfcc('URI=spiffe://td/ns/a/sa/b;URI=spiffe://td/ns/c/sa/d')).toBeUndefined();
  });

  test('escaped quotes stay inside the value', () => {
    expect(parseXfcc('Subject="a \\"b\\" c"')[0]?.Subject).toEqual(['a "b" c']);
  });
});
