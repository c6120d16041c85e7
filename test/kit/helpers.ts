/** Shared pieces of the kit tests: a small FSM that records what it applied, and polling. */
import { ListFsm } from '../support/list-fsm.js';
import { waitFor } from '../support/wait.js';

export { ListFsm };

export { waitFor };

/** Election timeouts short enough for tests on the real clock. */
export const FAST_CONFIG = { heartbeatTimeout: 100, electionTimeout: 100, leaderLeaseTimeout: 100 };

/** Ports the OS just handed out (and took back), for addresses that must be known up front. */
export { freePorts } from '../../src/cli/free-ports.js';
