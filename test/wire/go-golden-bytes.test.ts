import { describe, expect, it } from 'vitest';
import { ServerSuffrage, type Configuration } from '../../src/core/types.js';
import {
  decodeConfiguration,
  decodePeers,
  encodeConfiguration,
  encodePeers,
} from '../../src/wire/configuration.js';
import { Decoder, decodeComplete } from '../../src/wire/decoder.js';
import { Encoder } from '../../src/wire/encoder.js';
import {
  decodeRequestFrame,
  decodeResponseFrame,
  writeRequestFrame,
  writeResponseFrame,
  type RpcType,
  type WireRequest,
  type WireResponse,
} from '../../src/wire/frames.js';
import {
  READERS,
  WRITERS,
  expectedMirror,
  fromHex,
  normalize,
  loadGoldens,
  toHex,
  type GoldenCase,
} from './goldens.js';

function decodeGolden(c: GoldenCase, bytes: Uint8Array): { value: unknown; bytesUsed: number } {
  const d = new Decoder();
  if (c.frame === 'request') {
    const r = decodeRequestFrame(d, bytes, 0);
    if (r === null) throw new Error('need more on a complete frame');
    expect(r.value.type).toBe(c.rpcType);
    return { value: r.value.body, bytesUsed: r.bytesUsed };
  }
  if (c.frame === 'response') {
    const r = decodeResponseFrame(d, bytes, 0, c.rpcType as RpcType);
    if (r === null) throw new Error('need more on a complete frame');
    expect(r.value.error).toBe(c.error);
    return { value: r.value.body, bytesUsed: r.bytesUsed };
  }
  let used = 0;
  const value = decodeComplete(d, bytes, (dec) => {
    const v = READERS[c.struct](dec);
    used = dec.pos;
    return v;
  });
  return { value, bytesUsed: used };
}

function encodeGolden(c: GoldenCase, mirror: unknown): string {
  const enc = new Encoder(16);
  if (c.frame === 'request') {
    writeRequestFrame(enc, { type: c.rpcType, body: mirror } as WireRequest);
  } else if (c.frame === 'response') {
    writeResponseFrame(enc, c.rpcType as RpcType, { error: c.error, body: mirror } as WireResponse);
  } else {
    WRITERS[c.struct](enc, mirror as never);
  }
  return toHex(enc.view());
}

for (const file of ['latest.json', 'v1.1.2.json']) {
  describe(`Go goldens ${file}`, () => {
    const cases = loadGoldens(file);
    it('has cases', () => expect(cases.length).toBeGreaterThan(10));
    for (const c of cases) {
      it(`decodes ${c.name}`, () => {
        const bytes = fromHex(c.hex);
        // Trailing bytes (the next frame, or snapshot data) must not be consumed.
        const withTail = new Uint8Array(bytes.length + 3);
        withTail.set(bytes);
        withTail.set([0x01, 0x02, 0x03], bytes.length);
        const { value, bytesUsed } = decodeGolden(c, withTail);
        expect(bytesUsed).toBe(bytes.length);
        expect(normalize(value)).toEqual(normalize(expectedMirror(c)));
      });
      if (file === 'latest.json' && !c.decodeOnly) {
        it(`encodes ${c.name} byte for byte`, () => {
          expect(encodeGolden(c, expectedMirror(c))).toBe(c.hex);
        });
      }
    }
  });
}

describe('Go goldens configuration.json', () => {
  interface GoConfiguration {
    Servers: { Suffrage: number; ID: string; Address: string }[] | null;
  }
  const toCore = (v: GoConfiguration): Configuration => ({
    servers: (v.Servers ?? []).map((s) => ({
      suffrage: s.Suffrage as ServerSuffrage,
      id: s.ID,
      address: s.Address,
    })),
  });
  for (const c of loadGoldens('configuration.json')) {
    it(`round-trips ${c.name}`, () => {
      if (c.struct === 'Configuration') {
        const expected = toCore(c.value as GoConfiguration);
        expect(toHex(encodeConfiguration(expected))).toBe(c.hex);
        expect(decodeConfiguration(fromHex(c.hex))).toEqual(expected);
      } else {
        const expected = c.value as string[];
        expect(toHex(encodePeers(expected))).toBe(c.hex);
        expect(decodePeers(fromHex(c.hex))).toEqual(expected);
      }
    });
  }
});
