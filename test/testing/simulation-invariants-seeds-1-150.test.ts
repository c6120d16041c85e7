import { describe } from 'vitest';
import { seedRangeTest } from './seed-range.js';

describe('simulator, first half of the CI seeds', () => seedRangeTest(1, 150));
