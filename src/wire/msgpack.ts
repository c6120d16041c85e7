/** The msgpack subset spoken by hashicorp/raft's Go codecs: encoder and incremental decoder. */
export * from './encoder.js';
export * from './decoder.js';
