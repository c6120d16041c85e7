import { describe, expect, it } from 'vitest';
import { ErrDecode } from '../../src/core/errors.js';
import { ServerSuffrage, type Configuration } from '../../src/core/types.js';
import {
  decodeConfiguration,
  decodePeers,
  encodeConfiguration,
  encodePeers,
} from '../../src/wire/configuration.js';

const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');
const str = (s: string) => (0xa0 | s.length).toString(16) + Buffer.from(s).toString('hex');

describe('configuration', () => {
  it('encodes one voter exactly as hashicorp does (reference probe output)', () => {
    const c: Configuration = { servers: [{ suffrage: ServerSuffrage.Voter, id: 'n1', address: 'a:1' }] };
    expect(hex(encodeConfiguration(c))).toBe(
      '81' +
        str('Servers') +
        '91' +
        '83' +
        str('Address') +
        str('a:1') +
        str('ID') +
        str('n1') +
        str('Suffrage') +
        '00',
    );
  });

  it('encodes an empty configuration with Servers nil', () => {
    expect(hex(encodeConfiguration({ servers: [] }))).toBe('81' + str('Servers') + 'c0');
    expect(decodeConfiguration(encodeConfiguration({ servers: [] }))).toEqual({ servers: [] });
  });

  it('round-trips every suffrage and non-ASCII text', () => {
    const c: Configuration = {
      servers: [
        { suffrage: ServerSuffrage.Voter, id: 'n1', address: '127.0.0.1:7001' },
        { suffrage: ServerSuffrage.Nonvoter, id: 'ñødé-2', address: '[::1]:7002' },
        { suffrage: ServerSuffrage.Staging, id: 'x'.repeat(300), address: 'host:3' },
      ],
    };
    expect(decodeConfiguration(encodeConfiguration(c))).toEqual(c);
  });

  it('refuses an unknown suffrage and truncated input', () => {
    const bytes = encodeConfiguration({
      servers: [{ suffrage: ServerSuffrage.Voter, id: 'a', address: 'b' }],
    });
    const bad = bytes.slice();
    bad[bad.length - 1] = 7;
    expect(() => decodeConfiguration(bad)).toThrow(ErrDecode);
    expect(() => decodeConfiguration(bytes.subarray(0, bytes.length - 1))).toThrow(ErrDecode);
  });

  it('encodes legacy peers as an array of raw strings', () => {
    expect(hex(encodePeers(['127.0.0.1:7001']))).toBe('91' + str('127.0.0.1:7001'));
    expect(decodePeers(encodePeers(['a:1', 'b:2']))).toEqual(['a:1', 'b:2']);
    expect(decodePeers(Uint8Array.of(0xc0))).toEqual([]);
  });
});
