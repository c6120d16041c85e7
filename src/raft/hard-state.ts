/**
 * The hard state (term, vote, commit index) in a StableStore, under hashicorp's keys: the vote is
 * stored as "id\naddress" (hashicorp stores only the address, which is read too).
 */
import { ErrNotFound } from '../core/errors.js';
import type { HardState } from '../core/ready.js';
import { StableKeys, type StableStore } from '../storage/types.js';

const textEncoder = new TextEncoder();
const textDecoder = new TextDecoder();

/** The store calls that write `hardState`, issued at once (one group commit with the entries). */
export function writeHardState(stable: StableStore, hardState: HardState): Promise<void>[] {
  const ops = [
    stable.setUint64(StableKeys.currentTerm, hardState.term),
    stable.setUint64(StableKeys.commitIndex, hardState.commit),
  ];
  if (hardState.vote) {
    ops.push(stable.setUint64(StableKeys.lastVoteTerm, hardState.term));
    ops.push(stable.set(StableKeys.lastVoteCand, encodeVote(hardState.vote.id, hardState.vote.address)));
  }
  return ops;
}

function encodeVote(id: string, address: string): Uint8Array {
  return textEncoder.encode(`${id}\n${address}`);
}

/** A uint64 stable value, 0 when the key was never written. */
export async function getUint64OrZero(stable: StableStore, key: string): Promise<number> {
  try {
    return await stable.getUint64(key);
  } catch (error) {
    if (error instanceof Error && error.message === ErrNotFound.text) return 0;
    throw error;
  }
}

export async function readHardState(stable: StableStore): Promise<HardState> {
  const term = await getUint64OrZero(stable, StableKeys.currentTerm);
  const commit = await getUint64OrZero(stable, StableKeys.commitIndex);
  const voteTerm = await getUint64OrZero(stable, StableKeys.lastVoteTerm);
  let vote: HardState['vote'] = null;
  if (voteTerm === term && term > 0) {
    try {
      const text = textDecoder.decode(await stable.get(StableKeys.lastVoteCand));
      const newline = text.indexOf('\n');
      // hashicorp stores only the address; accept that form too.
      vote =
        newline < 0
          ? { id: '', address: text }
          : { id: text.slice(0, newline), address: text.slice(newline + 1) };
    } catch (error) {
      if (!(error instanceof Error && error.message === ErrNotFound.text)) throw error;
    }
  }
  return { term, vote, commit };
}
