/**
 * Retrying after running out of file descriptors, the way Go's net/http accept loop does: wait
 * 5 ms after the first failure, double the wait on each further one, never more than 1 s, and
 * start again from 5 ms after a success.
 */

const FIRST_DELAY_MS = 5;
const MAX_DELAY_MS = 1000;

export class Backoff {
  private delay = 0;

  /** The wait after one more failure. */
  next(): number {
    this.delay = this.delay === 0 ? FIRST_DELAY_MS : Math.min(MAX_DELAY_MS, this.delay * 2);
    return this.delay;
  }

  reset(): void {
    this.delay = 0;
  }
}

/** True for the errors that say the process or the system ran out of descriptors. */
export function isDescriptorExhaustion(error: unknown): boolean {
  const code = (error as NodeJS.ErrnoException | null)?.code;
  return code === 'EMFILE' || code === 'ENFILE';
}
