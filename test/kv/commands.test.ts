/**
 * src/kv/commands.ts: the leader applies the command object its HTTP handler built (commandOf)
 * instead of decoding its own JSON again, and must still judge every entry exactly as a follower
 * that decodes the bytes does.
 */
import { describe, expect, it } from 'vitest';
import { ErrDecode } from '../../src/index.js';
import { commandOf, decodeCommand, encodeCommand, type KvCommand } from '../../src/kv/commands.js';
import { KvFsm } from '../../src/kv/fsm.js';
import { LogDriver } from './support/log-driver.js';

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
    const leader = new LogDriver(new KvFsm());
    const follower = new LogDriver(new KvFsm());
    const commands: KvCommand[] = [
      { op: 'put', key: 'a', value: Buffer.from('1') },
      { op: 'put', key: '', value: Buffer.from('bad key') },
      { op: 'delete', key: 'a' },
      { op: 'put', key: 'b', value: Buffer.from([0, 255, 10]) },
    ];
    for (const command of commands) {
      // The leader applies the array it encoded; the follower (LogDriver's default) a copy.
      expect(leader.apply(encodeCommand(command))).toEqual(follower.apply(command));
    }
    expect(leader.fsm.entry('a')).toBeUndefined();
    expect(leader.fsm.entry('b')).toEqual(follower.fsm.entry('b'));
    expect(leader.fsm.revision).toBe(follower.fsm.revision);
  });
});
