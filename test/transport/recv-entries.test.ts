/**
 * The entries of a received AppendEntries share one copy per frame (decoder.ts, the arena), and
 * that copy outlives the receive buffer's storage: ReceiveBuffer compacts and reuses its storage,
 * so an entry that were a view into it would change under the log and the state machine.
 */
import { describe, expect, it } from 'vitest';
import { ErrTooLarge } from '../../src/core/errors.js';
import { LogType, type AppendEntriesRequest, type LogEntry } from '../../src/core/types.js';
import { ReceiveBuffer } from '../../src/transport/recv-buffer.js';
import { decodeRequest, encodeRequest } from '../../src/wire/codec.js';
import { Decoder } from '../../src/wire/decoder.js';
import { Encoder } from '../../src/wire/encoder.js';

const leader = { id: 'leader', address: '127.0.0.1:7000' };

function entry(index: number, size: number, extensions = 0): LogEntry {
  return {
    index,
    term: 3,
    type: LogType.Command,
    data: Uint8Array.from({ length: size }, (_, i) => (index * 31 + i) & 0xff),
    extensions: Uint8Array.from({ length: extensions }, (_, i) => (index + i * 7) & 0xff),
    appendedAt: 0,
  };
}

function frame(entries: LogEntry[], prevLogIndex = entries[0].index - 1): Uint8Array {
  const request: AppendEntriesRequest = {
    kind: 'appendEntries',
    term: 3,
    leader,
    prevLogIndex,
    prevLogTerm: 3,
    entries,
    leaderCommitIndex: prevLogIndex,
  };
  const enc = new Encoder();
  encodeRequest(enc, request);
  return enc.finish();
}

function entriesOf(decoded: ReturnType<typeof decodeRequest>): LogEntry[] {
  expect(decoded?.request.kind).toBe('appendEntries');
  return (decoded!.request as AppendEntriesRequest).entries;
}

function contents(entries: LogEntry[]): [number[], number[]][] {
  return entries.map((e) => [Array.from(e.data), Array.from(e.extensions)]);
}

/**
 * Receives frame A then frame B through one ReceiveBuffer the way ServerConn does (append, decode
 * at the offset, consume), in chunks that make the buffer own its storage and then compact B's
 * start over A's bytes. Returns A's entries as decoded, what they held when decoded, and whether
 * A's bytes in the buffer's storage were overwritten.
 */
function receiveTwo(decoder: Decoder): { held: LogEntry[]; before: [number[], number[]][]; reused: boolean } {
  const a = frame([entry(1, 120, 5), entry(2, 1), entry(3, 300), entry(4, 0, 2)]);
  const b = frame([entry(5, 65_000)]);
  const recv = new ReceiveBuffer();
  // A's first half is adopted from the socket; the rest arrives with B's first bytes, so the
  // buffer copies both into storage it owns (64 KiB).
  recv.append(a.subarray(0, 50));
  recv.append(Uint8Array.from([...a.subarray(50), ...b.subarray(0, 30_000)]));
  const storage = recv.view();
  const decoded = decodeRequest(decoder, recv.view(), recv.offset);
  recv.consume(decoded!.bytesUsed);
  const held = entriesOf(decoded);
  const before = contents(held);
  expect(decodeRequest(decoder, recv.view(), recv.offset)).toBeNull();
  // B's rest does not fit after its start: the buffer moves B's start to the front of the same
  // storage, over A's bytes.
  recv.append(b.subarray(30_000));
  const reused =
    recv.view().buffer === storage.buffer && !storage.subarray(0, a.length).every((x, i) => x === a[i]);
  const second = entriesOf(decodeRequest(decoder, recv.view(), recv.offset));
  expect(contents(second)).toEqual(contents([entry(5, 65_000)]));
  return { held, before, reused };
}

describe('received AppendEntries entries', () => {
  it('stay intact after the receive buffer reuses the storage they arrived in', () => {
    const { held, before, reused } = receiveTwo(new Decoder({}, true));
    expect(reused).toBe(true);
    expect(before).toEqual(contents([entry(1, 120, 5), entry(2, 1), entry(3, 300), entry(4, 0, 2)]));
    expect(contents(held)).toEqual(before);
  });

  it('would be corrupted by the reuse if they were views of the receive buffer (the control)', () => {
    // The same steps with a decoder that does not copy: proves receiveTwo really overwrites the
    // bytes the entries came from, so the test above can fail.
    const { held, before, reused } = receiveTwo(new Decoder({}, false));
    expect(reused).toBe(true);
    expect(contents(held)).not.toEqual(before);
  });

  it('share one copy per frame, apart from the receive buffer', () => {
    const bytes = frame([entry(1, 100), entry(2, 7, 3), entry(3, 100)]);
    const input = new Uint8Array(bytes.length + 10);
    input.set(bytes, 10);
    const entries = entriesOf(decodeRequest(new Decoder({}, true), input, 10));
    const buffers = new Set(entries.flatMap((e) => [e.data.buffer, e.extensions.buffer]));
    const arenas = [...buffers].filter((buffer) => buffer.byteLength > 0);
    expect(arenas).toHaveLength(1);
    expect(arenas[0]).not.toBe(input.buffer);
    // The copy holds the frame's strings and bytes at most: never more than the frame itself.
    expect(arenas[0].byteLength).toBeGreaterThanOrEqual(210);
    expect(arenas[0].byteLength).toBeLessThan(bytes.length);
    input.fill(0xee);
    expect(contents(entries)).toEqual(contents([entry(1, 100), entry(2, 7, 3), entry(3, 100)]));
  });

  it('gives each frame its own copy: a later frame never writes into an earlier one', () => {
    const decoder = new Decoder({}, true);
    const first = entriesOf(decodeRequest(decoder, frame([entry(1, 64), entry(2, 64)]), 0));
    const second = entriesOf(decodeRequest(decoder, frame([entry(3, 64), entry(4, 64)]), 0));
    expect(second[0].data.buffer).not.toBe(first[0].data.buffer);
    expect(contents(first)).toEqual(contents([entry(1, 64), entry(2, 64)]));
    expect(contents(second)).toEqual(contents([entry(3, 64), entry(4, 64)]));
  });

  it('counts a frame once when it arrives in pieces (no arena sized by earlier partial scans)', () => {
    const decoder = new Decoder({}, true);
    const bytes = frame([entry(1, 500), entry(2, 500)]);
    for (let cut = 1; cut < bytes.length; cut += 97) {
      expect(decodeRequest(decoder, bytes.subarray(0, cut), 0)).toBeNull();
    }
    const entries = entriesOf(decodeRequest(decoder, bytes, 0));
    expect(entries[0].data.buffer.byteLength).toBeLessThan(bytes.length);
    expect(contents(entries)).toEqual(contents([entry(1, 500), entry(2, 500)]));
  });

  it('still refuses a declared length beyond the limits before allocating anything', () => {
    const decoder = new Decoder({ maxBytes: 1000 }, true);
    expect(() => decodeRequest(decoder, frame([entry(1, 1001)]), 0)).toThrow(ErrTooLarge);
    // A frame within the limits after the refusal decodes normally.
    expect(contents(entriesOf(decodeRequest(decoder, frame([entry(2, 999)]), 0)))).toEqual(
      contents([entry(2, 999)]),
    );
  });
});
