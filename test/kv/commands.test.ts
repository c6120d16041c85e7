/**
 * src/kv/commands.ts: the leader applies the command object its HTTP handler built (commandOf)
 * instead of decoding its own JSON again, and must still judge every entry exactly as a follower
 * that decodes the bytes does.
 */
import { describe, expect, it } from 'vitest';
import { ErrDecode, LogType, type LogEntry } from '../../src/index.js';
import { commandOf, decodeCommand, encodeCommand, type KvCommand } from '../../src/kv/commands.js';
import { KvFsm } from '../../src/kv/fsm.js';

const entry = (index: number, data: Uint8Array): LogEntry => ({
  index,
  term: 1,
  type: LogType.Command,
  data,
  extensions: new Uint8Array(0),
  appendedAt: 0,
});

describe('commandOf', () => {
  it('gives back the very object a put or delete was encoded from, and decodes anything else', () => {
    const put: KvCommand = { op: 'put', key: 'a', value: Buffer.from('1') };
    const data = encodeCommand(put);
    expect(commandOf(data)).toBe(put);
    // The same bytes arriving from the wire (a follower) are decoded, to an equal command.
    const copy = Uint8Array.from(data);
    expect(commandOf(copy)).not.toBe(put);
    expect(commandOf(copy)).toEqual(decodeCommand(data));
    expect(Buffer.from((commandOf(copy) as { value: Uint8Array }).value).toString()).toBe('1');
    const grant: KvCommand = { op: 'lease-grant', ttl: 5 };
    expect(commandOf(encodeCommand(grant))).not.toBe(grant);
    expect(commandOf(encodeCommand(grant))).toEqual(grant);
  });

  it('a key the decoder refuses is refused on the leader too: leader and followers agree on malformed', () => {
    for (const key of ['', 'a\u0001b', 'x'.repeat(1025)]) {
      const data = encodeCommand({ op: 'put', key, value: Buffer.from('v') });
      expect(() => decodeCommand(Uint8Array.from(data))).toThrow(ErrDecode);
      expect(() => commandOf(data)).toThrow(ErrDecode);
    }
  });

  it('a leader applying its own arrays and a follower applying copies reach the same state', () => {
    const leader = new KvFsm();
    const follower = new KvFsm();
    const commands: KvCommand[] = [
      { op: 'put', key: 'a', value: Buffer.from('1') },
      { op: 'put', key: '', value: Buffer.from('bad key') },
      { op: 'delete', key: 'a' },
      { op: 'put', key: 'b', value: Buffer.from([0, 255, 10]) },
    ];
    commands.forEach((command, i) => {
      const data = encodeCommand(command);
      const onLeader = leader.apply(entry(i + 1, data));
      const onFollower = follower.apply(entry(i + 1, Uint8Array.from(data)));
      expect(onLeader).toEqual(onFollower);
    });
    expect(leader.entry('a')).toBeUndefined();
    expect(leader.entry('b')).toEqual(follower.entry('b'));
    expect(leader.revision).toBe(follower.revision);
  });
});
