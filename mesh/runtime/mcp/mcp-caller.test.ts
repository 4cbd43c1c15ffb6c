import type { IncomingMessage } from 'node:http';
import { TLSSocket } from 'node:tls';
import { Transport } from '../../security/index.js';
import { identityOf, peerOf } from './mcp-caller.js';

const TD = 'agentmesh.test';
const SELF = `spiffe://${TD}/ns/banking/sa/loan-math`;
const CALLER = `spiffe://${TD}/ns/lending/sa/credit-risk`;

/** An HTTP request as node:http hands it over: the socket's peer address and the headers. */
const request = (remoteAddress: string, headers: Record<string, string> = {}) =>
  ({ socket: { remoteAddress, remotePort: 40_000 }, headers }) as unknown as IncomingMessage;

describe('the workload identity of an MCP request', () => {
  const istio = new Transport({ mode: 'istio', trustDomain: TD, selfId: SELF });
  const xfcc = { 'x-forwarded-client-cert': `By=${SELF};Hash=00;URI=${CALLER}` };

  test('istio: x-forwarded-client-cert from the local sidecar only, as on the gRPC port', () => {
    expect(identityOf(request('127.0.0.6', xfcc), istio, false)).toEqual({ spiffeId: CALLER, source: 'xfcc' });
    expect(() => identityOf(request('10.0.0.9', xfcc), istio, false)).toThrow(/not the local sidecar/);
    expect(() => identityOf(request('127.0.0.1', xfcc), istio, false)).toThrow(/not the local sidecar/);
    const foreign = { 'x-forwarded-client-cert': `By=${SELF};URI=spiffe://elsewhere.test/ns/a/sa/b` };
    expect(() => identityOf(request('127.0.0.6', foreign), istio, false)).toThrow(/trust domain elsewhere\.test/);
  });

  test('istio: without the header, refused unless client certificates are optional (then no identity)', () => {
    expect(() => identityOf(request('127.0.0.6'), istio, false)).toThrow(/no x-forwarded-client-cert/);
    expect(identityOf(request('127.0.0.6'), istio, true)).toEqual({ spiffeId: undefined, source: 'none' });
  });

  test('insecure: no identity, whatever the headers claim', () => {
    const insecure = new Transport({ mode: 'insecure', trustDomain: TD });
    expect(identityOf(request('127.0.0.6', xfcc), insecure, false)).toEqual({ spiffeId: undefined, source: 'none' });
  });

  test('mtls: the certificate of each request is checked again (a TLS 1.2 renegotiation may change it)', () => {
    const mtls = { options: { mode: 'mtls', trustDomain: TD } } as unknown as Transport;
    const over = (uri: string) => {
      const socket = Object.assign(Object.create(TLSSocket.prototype) as TLSSocket, {
        authorized: true,
        getPeerCertificate: () => ({ subjectaltname: `URI:${uri}` }),
      });
      return { socket, headers: {} } as unknown as IncomingMessage;
    };
    expect(identityOf(over(CALLER), mtls, false)).toEqual({ spiffeId: CALLER, source: 'mtls' });
    expect(() => identityOf(over('spiffe://elsewhere.test/ns/a/sa/b'), mtls, false)).toThrow(
      /trust domain elsewhere\.test/,
    );
  });

  test('the peer as grpc-js writes it', () => {
    expect(peerOf(request('127.0.0.1'))).toBe('127.0.0.1:40000');
    expect(peerOf(request('::1'))).toBe('[::1]:40000');
  });
});
