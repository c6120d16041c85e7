/** Small file-system helpers the durable stores share. */
import { constants as fsConstants } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';

/** fsync of a directory makes new, renamed and removed entries in it durable (POSIX). */
export async function syncDirectory(path: string): Promise<void> {
  const dir = await open(path, fsConstants.O_RDONLY);
  try {
    await dir.sync();
  } finally {
    await dir.close();
  }
}

/**
 * Writes all of `data`, looping over short writes: at `position` when given, else at the file's
 * current position.
 */
export async function writeAll(file: FileHandle, data: Uint8Array, position?: number): Promise<void> {
  let offset = 0;
  while (offset < data.length) {
    const at = position === undefined ? null : position + offset;
    const { bytesWritten } = await file.write(data, offset, data.length - offset, at);
    offset += bytesWritten;
  }
}
