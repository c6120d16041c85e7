/** Runs test/transport/child/transport-node.mjs (a lone NetworkTransport) as a child process. */
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const SCRIPT = fileURLToPath(new URL('./child/transport-node.mjs', import.meta.url));

export interface ChildReply {
  rss?: number;
  /** process.memoryUsage().arrayBuffers: bytes in live ArrayBuffers (Buffers included). */
  arrayBuffers?: number;
  stats?: Record<string, number> | null;
  ok?: boolean;
  error?: string;
  message?: string;
}

export interface TransportChild {
  address: string;
  process: ChildProcess;
  /** Sends a command and resolves with the child's reply (one command at a time). */
  ask(command: unknown): Promise<ChildReply>;
  stderr(): string;
  stop(): Promise<void>;
}

/** Starts the child; `nofile` runs it under `prlimit --nofile=N`. */
export async function startTransportChild(
  options: { nofile?: number; transportOptions?: object } = {},
): Promise<TransportChild> {
  const node = [process.execPath, '--expose-gc', SCRIPT];
  const [command, ...args] = options.nofile ? ['prlimit', `--nofile=${options.nofile}`, ...node] : node;
  const child = spawn(command, args, {
    stdio: ['ignore', 'ignore', 'pipe', 'ipc'],
    env: { ...process.env, RAFTKIT_TRANSPORT_OPTIONS: JSON.stringify(options.transportOptions ?? {}) },
  });
  let stderr = '';
  child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const waiting: ((reply: ChildReply & { address?: string }) => void)[] = [];
  child.on('message', (reply: ChildReply & { address?: string }) => waiting.shift()?.(reply));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const next = () =>
    new Promise<ChildReply & { address?: string }>((resolve, reject) => {
      waiting.push(resolve);
      void exited.then(() => reject(new Error(`transport child exited:\n${stderr}`)));
    });
  const { address } = await next();
  return {
    address: address!,
    process: child,
    ask: (message) => {
      const reply = next();
      child.send(message as never);
      return reply;
    },
    stderr: () => stderr,
    stop: async () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      await exited;
    },
  };
}
