/** Types of eslint/layers.js, for the tests that load it. */
import type { ESLint } from 'eslint';

export interface Layer {
  /** The layers (or, with a slash, single files) under src/ this layer may import besides its own. */
  may: string[] | '*';
  /** Only node built-ins among packages. */
  nodeBuiltinsOnly?: boolean;
  why: string;
}

export const LAYERS: Record<string, Layer>;
export const layersPlugin: ESLint.Plugin;
