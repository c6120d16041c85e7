/**
 * Hand-built request frames in the shapes older hashicorp/raft peers send, for tests that forge
 * what a hostile peer could: encoded field by field, so no raftkit encoder rule can soften them.
 */
import { RpcType } from '../../src/wire/frames.js';
import { Encoder } from '../../src/wire/encoder.js';

/**
 * A RequestVote as hashicorp/raft 1.1.2 sends it: no ID or Addr in the header, the candidate
 * known only by its address (Candidate), keys sorted as Go writes them.
 */
export function vote112(options: {
  term: number;
  candidate: string;
  lastLogIndex?: number;
  lastLogTerm?: number;
  leadershipTransfer?: boolean;
}): Uint8Array {
  const enc = new Encoder();
  enc.writeByte(RpcType.RequestVote);
  enc.writeMapHeader(6);
  enc.writeString('Candidate');
  enc.writeString(options.candidate);
  enc.writeString('LastLogIndex');
  enc.writeUint(options.lastLogIndex ?? 0);
  enc.writeString('LastLogTerm');
  enc.writeUint(options.lastLogTerm ?? 0);
  enc.writeString('LeadershipTransfer');
  enc.writeBool(options.leadershipTransfer ?? false);
  enc.writeString('ProtocolVersion');
  enc.writeUint(3);
  enc.writeString('Term');
  enc.writeUint(options.term);
  return enc.finish();
}
