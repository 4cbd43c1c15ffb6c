import { Code } from '../core/index.js';
import { balancedAddress, channelTarget } from './channel-target.js';

describe('channelTarget', () => {
  test('one address stays as it is; an IP gets a host name for SNI', () => {
    expect(channelTarget('registry.example:50051')).toEqual({ target: 'registry.example:50051', options: {} });
    expect(channelTarget('127.0.0.1:7000')).toEqual({
      target: '127.0.0.1:7000',
      options: { 'grpc.ssl_target_name_override': 'localhost' },
    });
  });

  test('a list of replicas becomes an ip list balanced round robin', () => {
    const t = channelTarget('127.0.0.1:7000, 127.0.0.1:7001');
    expect(t.target).toBe('ipv4:127.0.0.1:7000,127.0.0.1:7001');
    expect(JSON.parse(t.options['grpc.service_config'] as string)).toEqual({
      loadBalancingConfig: [{ round_robin: {} }],
    });
    expect(t.options['grpc.ssl_target_name_override']).toBe('localhost');
    expect(t.options['grpc.default_authority']).toBe('127.0.0.1:7000');
    expect(channelTarget('[::1]:7000,[::1]:7001').target).toBe('ipv6:[::1]:7000,[::1]:7001');
  });

  test('a list of host names or of mixed families is refused, naming the list', () => {
    for (const bad of ['a.example:1,b.example:2', '127.0.0.1:1,[::1]:2', ' , '])
      expect(() => channelTarget(bad)).toThrow(expect.objectContaining({ code: Code.INVALID_ARGUMENT }));
    expect(() => channelTarget('a.example:1,b.example:2')).toThrow(/a.example:1,b.example:2/);
  });

  test('the live instances of a service: every replica when they can be balanced, else the first', () => {
    expect(balancedAddress(['127.0.0.1:7001', '127.0.0.1:7000'])).toBe('127.0.0.1:7000,127.0.0.1:7001');
    expect(balancedAddress(['127.0.0.1:7000'])).toBe('127.0.0.1:7000');
    expect(balancedAddress(['b.example:1', 'a.example:2'])).toBe('b.example:1');
    expect(balancedAddress(['127.0.0.1:1', '[::1]:2'])).toBe('127.0.0.1:1');
    expect(balancedAddress([])).toBeUndefined();
  });
});
