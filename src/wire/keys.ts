/** Map keys of the Go structs, pre-encoded. */
import { encodedKey } from './msgpack.js';

/**
 * The encoded keys of one Go struct, in the order Go writes them: sorted by byte value. Throws at
 * module load if a list is written out of order, because the bytes on the wire would differ.
 */
export function structKeys(...names: string[]): Uint8Array[] {
  for (let i = 1; i < names.length; i++) {
    if (!(names[i - 1] < names[i])) throw new Error(`struct keys out of order: ${names[i - 1]}, ${names[i]}`);
  }
  return names.map(encodedKey);
}
