import { describe } from 'vitest';
import { seedRangeTest } from './seed-range.js';

describe('simulator, second half of the CI seeds', () => seedRangeTest(151, 150));
