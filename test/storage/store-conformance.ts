/**
 * The store contract (src/testing/store-conformance.ts) as vitest cases, one per case, for each
 * store's own test file.
 */
import { describe, it } from 'vitest';
import {
  STORE_CONFORMANCE_CASES,
  runConformanceCase,
  type DurableStore,
  type StoreHarness,
} from '../../src/testing/store-conformance.js';

export { entries, entry, plain } from '../../src/testing/store-conformance.js';

export function describeStoreConformance<S extends DurableStore>(harness: StoreHarness<S>): void {
  describe(`${harness.name} conformance`, () => {
    for (const testCase of STORE_CONFORMANCE_CASES) {
      it(`${testCase.group}: ${testCase.name}`, () => runConformanceCase(harness, testCase));
    }
  });
}
