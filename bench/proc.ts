/** Memory of a running process from /proc (Linux), for peak-RSS measurements. */
import { readFileSync, writeFileSync } from 'node:fs';

/** A `Vm*` field of /proc/<pid>/status in KiB (VmRSS: resident now, VmHWM: peak resident). */
export function vmKiB(pid: number, field: 'VmRSS' | 'VmHWM'): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const match = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status);
  if (!match) throw new Error(`no ${field} in /proc/${pid}/status`);
  return Number(match[1]);
}

/**
 * Resets the process's peak RSS (VmHWM) to its current RSS ("5" > clear_refs, Linux 4.0+), so a
 * later VmHWM is the peak of what happens from now on.
 */
export function resetPeakRss(pid: number): void {
  writeFileSync(`/proc/${pid}/clear_refs`, '5');
}
