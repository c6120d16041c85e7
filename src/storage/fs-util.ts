/** The pid lock file that keeps a second process off a data directory or a store. */
import { constants as fsConstants } from 'node:fs';
import { open, readFile, rm } from 'node:fs/promises';

/** A lock file is held by a live process (this one included). */
export class LockHeld extends Error {
  override name = 'LockHeld';
  constructor(
    readonly path: string,
    readonly holder: number,
  ) {
    super(`${path} is held by ${holder === process.pid ? 'this process' : `process ${holder}`}`);
  }
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: it exists but belongs to someone else.
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Takes `path` as a lock file holding our pid; one left by a process that died (SIGKILL, power
 * cut) is taken over. Resolves to the function that releases it; rejects with LockHeld while a
 * live process holds it.
 */
export async function acquirePidLock(path: string): Promise<() => Promise<void>> {
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const handle = await open(path, fsConstants.O_CREAT | fsConstants.O_EXCL | fsConstants.O_WRONLY, 0o600);
      await handle.writeFile(`${process.pid}\n`);
      await handle.close();
      return () => rm(path, { force: true });
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    }
    const holder = Number.parseInt(await readFile(path, 'utf8').catch(() => ''), 10);
    if (Number.isSafeInteger(holder) && holder > 0 && processAlive(holder)) throw new LockHeld(path, holder);
    await rm(path, { force: true });
  }
  throw new Error(`cannot take the lock ${path}`);
}
