/**
 * The `kv serve` processes of a local cluster, as `raftkit demo` and `raftkit chaos` run them: the
 * specs of nodes n1..nN (ports, data directories, flags) and a launcher that starts each as a child
 * process of `node <cli> kv serve ...`.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, mkdirSync, openSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { systemClock, type Clock } from '../index.js';

export interface DemoNodeSpec {
  id: string;
  raftAddr: string;
  httpUrl: string;
  dataDir: string;
  /** The `kv serve` arguments that start this node. */
  serveArgs: string[];
}

/** A node's process, as the orchestrator controls it. */
export interface NodeProcess {
  readonly running: boolean;
  /** Why the process last ended, e.g. "exit code 1"; null while running or never started. */
  readonly lastExit: string | null;
  start(): void;
  stop(): Promise<void>;
}

export type NodeLauncher = (spec: DemoNodeSpec) => NodeProcess;

/** A node that is a real child process: it can also be sent signals (SIGKILL, SIGSTOP, ...). */
export interface ChildNodeProcess extends NodeProcess {
  /** Sends `signal` to the running process (nothing when it is not running). */
  signal(signal: NodeJS.Signals): void;
  /** Resolves when the current process has exited (at once when none runs). */
  exited(): Promise<void>;
  /** Sends a message over the IPC channel (nothing when it is not running or the channel is gone). */
  send(message: object): void;
  /** Starts the process (if not running), this once with `serveArgs` instead of the spec's. */
  start(serveArgs?: readonly string[]): void;
  /** Calls `listener` with every IPC message any process of this node sends. */
  onMessage(listener: (message: unknown) => void): void;
}

export interface NodeSpecOptions {
  nodes?: number;
  host?: string;
  raftBasePort?: number;
  httpBasePort?: number;
  /** Explicit ports per node (instead of consecutive ones from the base ports). */
  raftPorts?: readonly number[];
  httpPorts?: readonly number[];
  /** More `kv serve` flags for every node (tuning, --log-store, ...). */
  extraServeArgs?: readonly string[];
  dataRoot?: string;
}

/** How long a node may take to stop after SIGTERM before it is killed. */
const STOP_GRACE_MS = 3000;

/** Builds the node specs of the demo: n1..nN on consecutive ports. */
export function demoNodeSpecs(options: NodeSpecOptions = {}): DemoNodeSpec[] {
  const count = options.nodes ?? 3;
  const host = options.host ?? '127.0.0.1';
  const raftBase = options.raftBasePort ?? 7001;
  const httpBase = options.httpBasePort ?? 8001;
  const dataRoot = options.dataRoot ?? './data';
  const ids = Array.from({ length: count }, (_, i) => `n${i + 1}`);
  const raftPort = (i: number) => options.raftPorts?.[i] ?? raftBase + i;
  const httpPort = (i: number) => options.httpPorts?.[i] ?? httpBase + i;
  const peers = ids.map((id, i) => `${id}=${host}:${raftPort(i)}`).join(',');
  return ids.map((id, i) => {
    const raftAddr = `${host}:${raftPort(i)}`;
    const httpAddr = `${host}:${httpPort(i)}`;
    const dataDir = join(dataRoot, id);
    return {
      id,
      raftAddr,
      httpUrl: `http://${httpAddr}`,
      dataDir,
      serveArgs: [
        ...['--id', id, '--raft-addr', raftAddr, '--http-addr', httpAddr, '--data-dir', dataDir],
        ...['--peers', peers, '--debug-routes'],
        ...(options.extraServeArgs ?? []),
      ],
    };
  });
}

/** Runs `node <cliPath> kv serve ...`, its output appended to <dataDir>.log. */
export function childProcessLauncher(
  cliPath: string,
  clock: Clock = systemClock,
): (spec: DemoNodeSpec) => ChildNodeProcess {
  return (spec) => {
    let child: ChildProcess | null = null;
    let lastExit: string | null = null;
    let exited: Promise<void> = Promise.resolve();
    const listeners: ((message: unknown) => void)[] = [];
    return {
      get running() {
        return child !== null;
      },
      get lastExit() {
        return lastExit;
      },
      start(serveArgs = spec.serveArgs) {
        if (child !== null) return;
        mkdirSync(spec.dataDir, { recursive: true });
        const logFd = openSync(`${spec.dataDir}.log`, 'a');
        // The IPC channel closes when this process dies, however it dies: the node then stops too.
        const started = spawn(process.execPath, [cliPath, 'kv', 'serve', ...serveArgs], {
          stdio: ['ignore', logFd, logFd, 'ipc'],
        });
        started.on('message', (message) => listeners.forEach((listener) => listener(message)));
        closeSync(logFd);
        child = started;
        lastExit = null;
        exited = new Promise((resolve) => {
          started.once('exit', (code, signal) => {
            lastExit = signal !== null ? `killed by ${signal}` : `exit code ${code}`;
            if (child === started) child = null;
            resolve();
          });
          started.once('error', (error) => {
            lastExit = `failed to start: ${error.message}`;
            if (child === started) child = null;
            resolve();
          });
        });
      },
      signal(signal) {
        child?.kill(signal);
      },
      exited() {
        return exited;
      },
      send(message) {
        if (child?.connected === true) child.send(message, (error) => void error);
      },
      onMessage(listener) {
        listeners.push(listener);
      },
      async stop() {
        const running = child;
        if (running === null) return;
        running.kill('SIGCONT'); // a paused process cannot stop
        running.kill('SIGTERM');
        const timer = clock.setTimer(STOP_GRACE_MS, () => running.kill('SIGKILL'));
        await exited;
        timer.cancel();
      },
    };
  };
}

/** The `raftkit` entry point that launched nodes run: dist/cli.js, one level above this module. */
export function defaultCliPath(): string {
  return fileURLToPath(new URL('../cli.js', import.meta.url));
}
