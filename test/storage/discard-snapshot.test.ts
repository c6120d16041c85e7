import { describe, expect, it } from 'vitest';
import { ErrSnapshotNotFound, ErrSnapshotStore } from '../../src/core/errors.js';
import { DISCARD_SNAPSHOT_ID, DiscardSnapshotStore } from '../../src/storage/discard-snapshot.js';

describe('DiscardSnapshotStore', () => {
  it('accepts and drops data, lists nothing and cannot open', async () => {
    const store = new DiscardSnapshotStore();
    const sink = await store.create();
    expect(sink.id).toBe(DISCARD_SNAPSHOT_ID);
    await sink.write(Buffer.alloc(1024));
    await sink.close();
    expect(await store.list()).toEqual([]);
    await expect(store.open(sink.id)).rejects.toThrow(ErrSnapshotNotFound);
    await expect(store.open(sink.id)).rejects.toThrow('keeps no snapshots');
  });

  it('refuses writes after close', async () => {
    const sink = await new DiscardSnapshotStore().create();
    await sink.cancel();
    await expect(sink.write(Buffer.from('x'))).rejects.toThrow(ErrSnapshotStore);
  });
});
