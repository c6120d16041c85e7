/** The flags of `raftkit demo` (src/cli/demo-command.ts). */
import { describe, expect, it } from 'vitest';
import { UsageError } from '../../src/cli/command.js';
import { parseDemoArgs } from '../../src/cli/demo-command.js';

describe('parseDemoArgs', () => {
  it('defaults to the ports and data directory the README names', () => {
    expect(parseDemoArgs([])).toEqual({
      dashboardPort: 8080,
      raftBasePort: 7001,
      httpBasePort: 8001,
      dataRoot: './data',
      fresh: false,
    });
  });

  it('moves the ports and the data, and starts fresh', () => {
    const argv = [
      '--port',
      '9090',
      '--raft-port=17001',
      '--http-port',
      '18001',
      '--data-dir',
      '/tmp/d',
      '--fresh',
    ];
    expect(parseDemoArgs(argv)).toEqual({
      dashboardPort: 9090,
      raftBasePort: 17001,
      httpBasePort: 18001,
      dataRoot: '/tmp/d',
      fresh: true,
    });
  });

  it.each([
    [['--port', '65534'], '--port must be a port number (1-65533), got "65534"'],
    [['--raft-port', 'x'], '--raft-port must be a port number (1-65533), got "x"'],
    [['--data-dir', ''], '--data-dir needs a value'],
    [['--fresh=yes'], "Option '--fresh' does not take an argument"],
    [['extra'], "Unexpected argument 'extra'"],
  ])('refuses %j', (argv, message) => {
    expect(() => parseDemoArgs(argv)).toThrow(UsageError);
    expect(() => parseDemoArgs(argv)).toThrow(message);
  });
});
