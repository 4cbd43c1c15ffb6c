import { Metadata } from '@grpc/grpc-js';
import { Code } from '../core/index.js';
import { DEFAULT_TRUSTED_PROXIES, Transport } from './transport.js';

const SELF = 'spiffe://agentmesh.local/ns/banking/sa/loan-math';
const CALLER = 'spiffe://agentmesh.local/ns/lending/sa/credit-risk';

/** A call as grpc-js shows it to the server: the peer address and the metadata. */
function callFrom(peer: string, xfcc = `By=${SELF};Hash=00;URI=${CALLER}`) {
  const metadata = new Metadata();
  metadata.set('x-forwarded-client-cert', xfcc);
  return { getPeer: () => peer, metadata, getAuthContext: () => ({}) };
}

describe('istio mode: whose x-forwarded-client-cert is believed', () => {
  const transport = new Transport({ mode: 'istio', trustDomain: 'agentmesh.local', selfId: SELF });

  test("by default only Istio's inbound passthrough addresses, never loopback", () => {
    expect(DEFAULT_TRUSTED_PROXIES).toEqual(['127.0.0.6', '::6']);
    expect(transport.peerIdentity(callFrom('127.0.0.6:41000'))).toEqual({ spiffeId: CALLER, source: 'xfcc' });
    expect(transport.peerIdentity(callFrom('[::6]:41000'))).toEqual({ spiffeId: CALLER, source: 'xfcc' });
    for (const peer of ['127.0.0.1:41000', '[::1]:41000', '10.0.0.7:41000']) {
      expect(() => transport.peerIdentity(callFrom(peer))).toThrow(
        expect.objectContaining({
          code: Code.UNAUTHENTICATED,
          message: expect.stringContaining('not the local sidecar'),
        }),
      );
    }
  });

  test('an IPv4-mapped peer (a server bound to "::") is its IPv4 address', () => {
    expect(transport.peerIdentity(callFrom('[::ffff:127.0.0.6]:41000'))).toEqual({ spiffeId: CALLER, source: 'xfcc' });
    expect(() => transport.peerIdentity(callFrom('[::ffff:127.0.0.1]:41000'))).toThrow(/not the local sidecar/);
  });

  test('the last element must be the sidecar of this workload', () => {
    expect(() =>
      transport.peerIdentity(callFrom('127.0.0.6:1', `By=spiffe://agentmesh.local/ns/x/sa/other;URI=${CALLER}`)),
    ).toThrow(/carries no workload SPIFFE ID/);
    const forgedFirst = `By=${SELF};URI=spiffe://agentmesh.local/ns/lending/sa/loan-orchestrator,By=${SELF};Hash=00;URI=${CALLER}`;
    expect(transport.peerIdentity(callFrom('127.0.0.6:1', forgedFirst)).spiffeId).toBe(CALLER);
  });
});
