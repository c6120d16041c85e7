#!/bin/bash
# floor3.sh [N]: three bench/bin/floor3 processes (a leader and two followers, see floor3.c) and a
# client doing N (3000) serial writes; prints the client's p50/p90/p99.
set -eu
ROOT=$(cd "$(dirname "$0")/../.." && pwd); BIN=$ROOT/bench/bin/floor3
BASE=$((30000 + RANDOM % 9000)); DIR=$(mktemp -d)
"$BIN" follower $((BASE + 1)) "$DIR/f1" & F1=$!
"$BIN" follower $((BASE + 2)) "$DIR/f2" & F2=$!
sleep 0.5
"$BIN" leader $BASE $((BASE + 1)) $((BASE + 2)) "$DIR/leader" & L=$!
sleep 0.8
"$BIN" client $BASE "${1:-3000}"
wait $L $F1 $F2 2>/dev/null || true
rm -rf "$DIR"
