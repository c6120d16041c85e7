#!/bin/bash
# dsync-perf.sh OUTDIR ROUNDS PERIOD_US OFFSET_US...: bench/bin/dsync (see dsync.c) under perf
# (block requests and pwrite64, system-wide), then analyze.py's breakdown of each writer's writes.
set -eu
OUT=$1; shift
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
rm -rf "$OUT"; mkdir -p "$OUT"
perf record -q -a -k CLOCK_MONOTONIC -o "$OUT/blk.data" -e block:block_rq_issue -e block:block_rq_complete &
BLK=$!
perf record -q -a -k CLOCK_MONOTONIC -o "$OUT/perf.data" -e syscalls:sys_enter_pwrite64 -e syscalls:sys_exit_pwrite64 &
SYS=$!
sleep 1
(cd "$OUT" && "$ROOT/bench/bin/dsync" "$@")
kill -INT $BLK $SYS; wait $BLK $SYS 2>/dev/null || true
COMM=dsync python3 "$ROOT/bench/c1-disk/analyze.py" "$OUT"
