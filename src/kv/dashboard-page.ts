/** The live dashboard's page (dashboard/index.html), served by `raftkit demo` (src/cli/demo.ts). */
import { readFileSync } from 'node:fs';

/** The page: next to this module once copied by the build, else in the source tree. */
export function loadDashboardHtml(): string {
  const candidates = [
    new URL('./dashboard/index.html', import.meta.url),
    new URL('../../src/kv/dashboard/index.html', import.meta.url),
  ];
  for (const candidate of candidates) {
    try {
      return readFileSync(candidate, 'utf8');
    } catch {
      // Try the next place.
    }
  }
  throw new Error(`dashboard page not found (looked in ${candidates.map((url) => url.pathname).join(', ')})`);
}
