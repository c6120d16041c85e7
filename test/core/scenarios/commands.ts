/**
 * The scenario commands. Each runs against a Cluster and prints what happened; a mistake in the
 * scenario itself (unknown command, wrong arguments) throws, while an error of the core (not the
 * leader, a refused change) is printed as part of the story.
 */
import type { ConfigurationChangeCommand } from '../../../src/core/configuration.js';
import type { CoreFaults } from '../../../src/core/raft.js';
import { LogType } from '../../../src/core/types.js';
import { Cluster } from './cluster.js';
import { listArg, parseScenario, renderScenario, type Command } from './script.js';

interface Spec {
  /** Positional arguments: [fewest, most]. */
  args: [number, number];
  options?: string[];
  run(cluster: Cluster, command: Command): void;
}

const COMMANDS: Record<string, Spec> = {
  /** add-nodes N [voters=(1,2,3)] [nonvoters=(4)] [pre-vote=true] [max-append=N] */
  'add-nodes': {
    args: [1, 1],
    options: ['voters', 'nonvoters', 'pre-vote', 'max-append'],
    run(cluster, { args, options }) {
      const voters = options.get('voters');
      const maxAppend = options.get('max-append');
      cluster.addNodes(count(args[0]), {
        voters: voters === undefined ? null : listArg(voters),
        nonvoters: listArg(options.get('nonvoters') ?? '()'),
        preVote: options.get('pre-vote') === 'true',
        maxAppendEntries: maxAppend === undefined ? undefined : count(maxAppend),
      });
    },
  },
  /** tick-election ID: move the node's clock to its election deadline. */
  'tick-election': {
    args: [1, 1],
    run(cluster, { args }) {
      const node = cluster.node(args[0]);
      if (node.core.isLeader) throw new Error(`${node.id} is the leader: it has no election timer`);
      const deadline = node.core.nextDeadline();
      cluster.run(node, (core) => core.tick(deadline));
    },
  },
  /** tick-heartbeat ID: move the leader's clock on by one heartbeat interval. */
  'tick-heartbeat': {
    args: [1, 1],
    run(cluster, { args }) {
      const node = cluster.node(args[0]);
      if (!node.core.isLeader) throw new Error(`${node.id} is not the leader: it sends no heartbeats`);
      cluster.run(node, (core) => core.tick(core.now + core.heartbeatInterval));
    },
  },
  /**
   * tick [ID...] ms=N: N milliseconds pass on the named nodes (default: all), which keep running:
   * each deadline on the way fires at its time, as the runtime's timer fires it (one jump would
   * be a stalled process, which check-quorum does not count against its peers).
   */
  tick: {
    args: [0, Infinity],
    options: ['ms'],
    run(cluster, { args, options }) {
      const ms = count(required(options, 'ms'));
      for (const id of args.length > 0 ? args : cluster.ids()) {
        cluster.run(cluster.node(id), (core) => {
          const end = core.now + ms;
          while (core.now < end) core.tick(Math.min(end, Math.max(core.nextDeadline(), core.now + 1)));
        });
      }
    },
  },
  /** propose ID DATA: the application asks the node to replicate DATA. */
  propose: {
    args: [2, 2],
    run: (cluster, { args }) =>
      void cluster.run(cluster.node(args[0]), (core) => core.propose(LogType.Command, Buffer.from(args[1]))),
  },
  /** stabilize: persist every write and deliver every message until nothing moves. */
  stabilize: { args: [0, 0], run: (cluster) => cluster.stabilize() },
  /** persist ID: the node's disk acknowledges every write it was given. */
  persist: { args: [1, 1], run: (cluster, { args }) => void cluster.persist(cluster.node(args[0])) },
  /** deliver-msgs [from=ID] [to=ID] [count=N]: deliver the queued messages that match, in order. */
  'deliver-msgs': {
    args: [0, 0],
    options: ['from', 'to', 'count'],
    run(cluster, { options }) {
      const limit = options.has('count') ? count(options.get('count')!) : Infinity;
      for (const envelope of cluster.takeMessages(matcher(options), limit)) cluster.deliver(envelope);
    },
  },
  /** drop-msgs [from=ID] [to=ID]: lose the queued messages that match. */
  'drop-msgs': {
    args: [0, 0],
    options: ['from', 'to'],
    run(cluster, { options }) {
      for (const envelope of cluster.takeMessages(matcher(options))) cluster.drop(envelope);
    },
  },
  /** partition 1 | 2 3: cut the network between groups (unnamed nodes form one more group). */
  partition: {
    args: [1, Infinity],
    run(cluster, { args }) {
      const groups = args
        .join(' ')
        .split('|')
        .map((group) => group.trim().split(/\s+/).filter(Boolean));
      cluster.print(`groups: ${cluster.partition(groups)}`);
    },
  },
  heal: { args: [0, 0], run: (cluster) => cluster.heal() },
  /** status [ID...]: role, term, indexes, vote, leader, configuration (and a leader's progress). */
  status: {
    args: [0, Infinity],
    run(cluster, { args }) {
      for (const id of args.length > 0 ? args : cluster.ids()) cluster.printStatus(cluster.node(id));
    },
  },
  'raft-log': { args: [1, 1], run: (cluster, { args }) => cluster.printLog(cluster.node(args[0])) },
  /** read-index ID: a linearizable read on the node (a follower asks its leader). */
  'read-index': { args: [1, 1], run: (cluster, { args }) => cluster.readIndex(cluster.node(args[0])) },
  /** transfer ID [to=ID]: the leader hands leadership over (to the most up-to-date voter by default). */
  transfer: {
    args: [1, 1],
    options: ['to'],
    run(cluster, { args, options }) {
      const to = options.get('to');
      cluster.run(cluster.node(args[0]), (core) =>
        core.transferLeadership(to === undefined ? null : cluster.node(to).id),
      );
    },
  },
  /** add-voter LEADER ID: add a server (caught up as a non-voter first). */
  'add-voter': membershipCommand('addVoter'),
  /** remove LEADER ID */
  remove: membershipCommand('removeServer'),
  /** restart ID [lose-from=N]: the node restarts from its disk, its log cut before N if given. */
  restart: {
    args: [1, 1],
    options: ['lose-from'],
    run(cluster, { args, options }) {
      const loseFrom = options.get('lose-from');
      cluster.restart(cluster.node(args[0]), loseFrom === undefined ? null : count(loseFrom));
    },
  },
  /** compact ID index=N: the node snapshots its applied state at N and drops the log up to N. */
  compact: {
    args: [1, 1],
    options: ['index'],
    run: (cluster, { args, options }) =>
      cluster.compact(cluster.node(args[0]), count(required(options, 'index'))),
  },
};

function membershipCommand(command: ConfigurationChangeCommand): Spec {
  return {
    args: [2, 2],
    run(cluster, { name, args }) {
      const [leader, id] = args;
      const change = { command, id, address: `addr-${id}`, prevIndex: 0 };
      const token = cluster.run(cluster.node(leader), (core) => core.changeConfiguration(change));
      if (token !== undefined) cluster.print(`${leader}: membership change ${token} started: ${name} ${id}`);
    },
  };
}

function matcher(options: Map<string, string>) {
  const from = options.get('from');
  const to = options.get('to');
  return (envelope: { from: string; to: string }): boolean =>
    (from === undefined || envelope.from === from) && (to === undefined || envelope.to === to);
}

function count(text: string): number {
  const value = Number(text);
  if (!Number.isSafeInteger(value) || value < 0) throw new Error(`expected a count, got ${text}`);
  return value;
}

function required(options: Map<string, string>, key: string): string {
  const value = options.get(key);
  if (value === undefined) throw new Error(`missing ${key}=`);
  return value;
}

function check(command: Command): Spec {
  const spec = COMMANDS[command.name];
  if (!spec) throw new Error(`unknown command ${command.name}`);
  const [fewest, most] = spec.args;
  if (command.args.length < fewest || command.args.length > most) {
    throw new Error(`${command.name} takes ${fewest}..${most} arguments, got ${command.args.length}`);
  }
  for (const key of command.options.keys()) {
    if (!spec.options?.includes(key)) throw new Error(`${command.name} has no option ${key}=`);
  }
  return spec;
}

export interface ScenarioOptions {
  /** Deliberate core bugs, for the tests that prove the goldens catch them. */
  faults?: CoreFaults;
}

/** Runs a scenario file's commands and returns the file as it would be with the actual outputs. */
export function runScenario(text: string, options: ScenarioOptions = {}): string {
  const pieces = parseScenario(text);
  const cluster = new Cluster({ faults: options.faults });
  const outputs: string[][] = [];
  for (const piece of pieces) {
    if (piece.kind !== 'block') continue;
    try {
      check(piece.command).run(cluster, piece.command);
    } catch (error) {
      const printed = cluster.takeOutput().map((line) => `\n  ${line}`);
      throw new Error(
        `line ${piece.command.line} (${piece.text}): ${(error as Error).message}` +
          (printed.length > 0 ? `\nafter printing:${printed.join('')}` : ''),
        { cause: error },
      );
    }
    outputs.push(cluster.takeOutput());
  }
  return renderScenario(pieces, outputs);
}
