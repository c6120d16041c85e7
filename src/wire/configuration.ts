/**
 * hashicorp's EncodeConfiguration / DecodeConfiguration and the legacy peers list.
 *
 * Configuration: map {Servers: [ {Address, ID, Suffrage} ]}, Servers nil when empty. It is the
 * Data of LogConfiguration entries, InstallSnapshot.Configuration and snapshot metadata.
 * Legacy peers (protocol < 3, and the Peers fields): an array of raw strs, one per voter address.
 */
import { ErrDecode } from '../core/errors.js';
import { ServerSuffrage, type Configuration, type Server } from '../core/types.js';
import { checkServerCount } from './bounds.js';
import { structKeys } from './keys.js';
import { Decoder, Encoder, decodeComplete, type DecodeLimits } from './msgpack.js';

const CONFIGURATION_KEYS = structKeys('Servers');
const SERVER_KEYS = structKeys('Address', 'ID', 'Suffrage');

const sharedEncoder = new Encoder(1024);
const sharedDecoder = new Decoder();

export function writeConfiguration(enc: Encoder, c: Configuration): void {
  enc.writeMapHeader(1);
  enc.writeVerbatim(CONFIGURATION_KEYS[0]);
  const servers = c.servers;
  if (servers.length === 0) {
    enc.writeNil();
    return;
  }
  enc.writeArrayHeader(servers.length);
  for (const s of servers) {
    enc.writeMapHeader(3);
    enc.writeVerbatim(SERVER_KEYS[0]);
    enc.writeString(s.address);
    enc.writeVerbatim(SERVER_KEYS[1]);
    enc.writeString(s.id);
    enc.writeVerbatim(SERVER_KEYS[2]);
    enc.writeInt(s.suffrage);
  }
}

export function readConfiguration(d: Decoder): Configuration {
  const servers: Server[] = [];
  let n = d.readMapHeader();
  for (let hint = 0; n > 0; n--) {
    const k = d.readKey(CONFIGURATION_KEYS, hint);
    hint = k + 1;
    if (k === 0) {
      let count = checkServerCount(d.readArrayHeader());
      for (; count > 0; count--) servers.push(readServer(d));
    } else {
      d.skip();
    }
  }
  return { servers };
}

function readServer(d: Decoder): Server {
  const server: Server = { suffrage: ServerSuffrage.Voter, id: '', address: '' };
  let n = d.readMapHeader();
  for (let hint = 0; n > 0; n--) {
    const k = d.readKey(SERVER_KEYS, hint);
    hint = k + 1;
    switch (k) {
      case 0:
        server.address = d.readString();
        break;
      case 1:
        server.id = d.readString();
        break;
      case 2:
        server.suffrage = readSuffrage(d);
        break;
      default:
        d.skip();
    }
  }
  return server;
}

function readSuffrage(d: Decoder): ServerSuffrage {
  const v = d.readInt();
  if (v !== ServerSuffrage.Voter && v !== ServerSuffrage.Nonvoter && v !== ServerSuffrage.Staging) {
    throw new ErrDecode(`unknown suffrage ${v}`);
  }
  return v;
}

/** EncodeConfiguration: a fresh byte array. */
export function encodeConfiguration(c: Configuration): Uint8Array<ArrayBuffer> {
  sharedEncoder.reset();
  writeConfiguration(sharedEncoder, c);
  return sharedEncoder.finish();
}

/** DecodeConfiguration. Throws ErrDecode / ErrTooLarge on malformed input. */
export function decodeConfiguration(b: Uint8Array, limits?: Partial<DecodeLimits>): Configuration {
  return decodeComplete(limits ? new Decoder(limits) : sharedDecoder, b, readConfiguration);
}

/** Legacy peers list: the voters' addresses. No addresses encode as nil, as Go's nil slice does. */
export function encodePeers(addresses: readonly string[]): Uint8Array<ArrayBuffer> {
  sharedEncoder.reset();
  if (addresses.length === 0) {
    sharedEncoder.writeNil();
    return sharedEncoder.finish();
  }
  sharedEncoder.writeArrayHeader(addresses.length);
  for (const a of addresses) sharedEncoder.writeString(a);
  return sharedEncoder.finish();
}

function readPeers(d: Decoder): string[] {
  const out: string[] = [];
  let n = checkServerCount(d.readArrayHeader());
  for (; n > 0; n--) out.push(d.readString());
  return out;
}

/** Decodes a legacy peers list (nil gives an empty list). */
export function decodePeers(b: Uint8Array, limits?: Partial<DecodeLimits>): string[] {
  return decodeComplete(limits ? new Decoder(limits) : sharedDecoder, b, readPeers);
}
