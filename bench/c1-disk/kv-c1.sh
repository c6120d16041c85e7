#!/bin/bash
# kv-c1.sh OUTDIR [none|perf|strace] [SECONDS]: a fresh 3-node `kv serve` cluster (the bench's flags:
# binary commands, hashicorp's DefaultConfig timings) with RAFTKIT_TRACE_DIR marks, driven by
# bench/bin/loadgen at c1 (puts to the leader). perf: block requests system-wide and the nodes'
# write syscalls, both on CLOCK_MONOTONIC as the marks are (read them with analyze.py); strace: one
# follower under strace -f -T (slows it several times: for the order of the calls, not their times).
# DIST=dir runs another build's dist. Output: OUTDIR/load.json, OUTDIR/trace/*.trace, OUTDIR/pids.
set -eu
OUT=$1; MODE=${2:-none}; SECONDS_=${3:-5}
ROOT=$(cd "$(dirname "$0")/../.." && pwd); DIST=${DIST:-$ROOT/dist}; LOADGEN=$ROOT/bench/bin/loadgen
rm -rf "$OUT"; mkdir -p "$OUT/trace"
BASE=$((20000 + RANDOM % 20000))
PEERS="n1=127.0.0.1:$BASE,n2=127.0.0.1:$((BASE + 1)),n3=127.0.0.1:$((BASE + 2))"
PIDS=()
for i in 1 2 3; do
  RAFTKIT_TRACE_DIR=$OUT/trace node "$DIST/cli.js" kv serve --id n$i --raft-addr 127.0.0.1:$((BASE + i - 1)) \
    --http-addr 127.0.0.1:$((BASE + 10 + i)) --data-dir "$OUT/d$i" --peers "$PEERS" --command-format binary \
    --heartbeat-timeout 1000 --election-timeout 1000 --leader-lease-timeout 500 --commit-timeout 50 \
    > "$OUT/n$i.log" 2>&1 &
  PIDS+=($!)
done
trap 'kill ${PIDS[*]} 2>/dev/null || true' EXIT
LEADER=""
for _ in $(seq 1 150); do
  for i in 1 2 3; do
    if curl -s "http://127.0.0.1:$((BASE + 10 + i))/status" 2>/dev/null | grep -q '"state":"Leader"'; then LEADER=$i; break 2; fi
  done
  sleep 0.2
done
[ -n "$LEADER" ] || { echo "no leader" >&2; exit 1; }
LEADER_PID=${PIDS[$((LEADER - 1))]}; FOLLOWER_PID=${PIDS[$((LEADER % 3))]}
echo "${PIDS[*]} leader=$LEADER_PID" > "$OUT/pids"
PIDLIST=$(IFS=,; echo "${PIDS[*]}")
load() { "$LOADGEN" load -api kv -urls "http://127.0.0.1:$((BASE + 10 + LEADER))" -op put -c 1 -warmup 1s -duration "$1" -pids "$PIDLIST"; }
load 1s > /dev/null
TRACERS=()
case $MODE in
  perf)
    perf record -q -a -k CLOCK_MONOTONIC -o "$OUT/blk.data" -e block:block_rq_issue -e block:block_rq_complete &
    TRACERS+=($!)
    perf record -q -k CLOCK_MONOTONIC -p "$PIDLIST" -o "$OUT/perf.data" \
      -e syscalls:sys_enter_pwrite64 -e syscalls:sys_exit_pwrite64 -e syscalls:sys_enter_write -e syscalls:sys_exit_write \
      -e syscalls:sys_enter_writev -e syscalls:sys_exit_writev -e syscalls:sys_enter_epoll_pwait -e syscalls:sys_exit_epoll_pwait &
    TRACERS+=($!); sleep 1 ;;
  strace)
    strace -f -T -ttt -e trace=pwrite64,write,writev,read,epoll_pwait,futex -o "$OUT/strace.txt" -p "$FOLLOWER_PID" &
    TRACERS+=($!); sleep 1 ;;
esac
load "${SECONDS_}s" > "$OUT/load.json"
for t in "${TRACERS[@]}"; do kill -INT "$t"; wait "$t" 2>/dev/null || true; done
kill -TERM "${PIDS[@]}"; wait "${PIDS[@]}" 2>/dev/null || true
trap - EXIT
