import { describe, expect, it } from 'vitest';
import { identityMismatch, parseSubjectAltName, type PeerIdentity } from '../../src/transport/identity.js';

describe('certificate identities', () => {
  it("parses Node's subjectAltName text, quoted values included", () => {
    expect(
      parseSubjectAltName(
        'DNS:localhost, IP Address:0:0:0:0:0:0:0:1, URI:"raftkit://server/a, b", URI:raftkit://server/n%201',
      ),
    ).toEqual([
      { type: 'DNS', value: 'localhost' },
      { type: 'IP Address', value: '0:0:0:0:0:0:0:1' },
      { type: 'URI', value: 'raftkit://server/a, b' },
      { type: 'URI', value: 'raftkit://server/n%201' },
    ]);
  });

  it('matches a sender by ID, or without an ID by address or host', () => {
    const identity: PeerIdentity = {
      ids: new Set(['n1', '10.0.0.9:7000']),
      hosts: new Set(['10.0.0.1', '::1']),
    };
    expect(identityMismatch(identity, { id: 'n1', address: 'anything' })).toBeNull();
    expect(identityMismatch(identity, { id: 'n2', address: '10.0.0.1:7000' })).toContain('"n2" is not in');
    expect(identityMismatch(identity, { id: '', address: '10.0.0.9:7000' })).toBeNull();
    expect(identityMismatch(identity, { id: '', address: '10.0.0.1:7001' })).toBeNull();
    expect(identityMismatch(identity, { id: '', address: '[0:0::1]:7001' })).toBeNull();
    expect(identityMismatch(identity, { id: '', address: '10.0.0.2:7000' })).toContain('not on a host');
    expect(identityMismatch(identity, { id: '', address: '' })).toContain('no server ID');
  });
});
