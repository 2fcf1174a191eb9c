// Name resolution for the proxy's upstreams: the same DNS server the sandboxes' resolver asks
// (so that a name means the same to the sandbox and to the proxy), IPv4 only like sandboxes.
import { Resolver } from 'node:dns';
import type { Lookup } from './proxy.js';

export function dnsServerLookup(server: { host: string; port: number }): Lookup {
  const resolver = new Resolver({ timeout: 4000, tries: 2 });
  resolver.setServers([`${server.host}:${server.port}`]);
  return (hostname, callback) => {
    resolver.resolve4(hostname, (err, addresses) => {
      if (err) callback(err, []);
      else callback(null, addresses.map((address) => ({ address, family: 4 })));
    });
  };
}
