import { describe } from 'vitest';
import { seedRangeTest } from './sim-range.js';

describe('simulator, second half of the CI seeds', () => seedRangeTest(151, 150));
