/**
 * vitest globalSetup of the interop suite: installs Go and hashicorp/raft 1.1.2 from Debian if
 * needed and builds the Go peer (idempotent; a no-op when the binary is current).
 */
import { execFileSync } from 'node:child_process';
import { INSTALL_SCRIPT } from './harness.js';

export function setup(): void {
  execFileSync('sh', [INSTALL_SCRIPT], { stdio: 'inherit' });
}
