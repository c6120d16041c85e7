#!/bin/bash
# etcd-c1.sh OUTDIR [none|perf] [SECONDS]: a fresh 3-member etcd 3.4 cluster (default flags, as
# bench/systems.ts starts it) driven by bench/bin/loadgen at c1 through the v3 JSON gateway. perf:
# block requests system-wide and the members' write/fdatasync (read with SYSCALL=fdatasync analyze.py).
set -eu
OUT=$1; MODE=${2:-none}; SECONDS_=${3:-5}
ROOT=$(cd "$(dirname "$0")/../.." && pwd); LOADGEN=$ROOT/bench/bin/loadgen
rm -rf "$OUT"; mkdir -p "$OUT"
BASE=$((40000 + RANDOM % 20000))
CLUSTER="e1=http://127.0.0.1:$BASE,e2=http://127.0.0.1:$((BASE + 1)),e3=http://127.0.0.1:$((BASE + 2))"
PIDS=()
for i in 1 2 3; do
  PEER=http://127.0.0.1:$((BASE + i - 1)); CLIENT=http://127.0.0.1:$((BASE + 10 + i))
  etcd --name e$i --data-dir "$OUT/d$i/etcd" --listen-peer-urls $PEER --initial-advertise-peer-urls $PEER \
    --listen-client-urls $CLIENT --advertise-client-urls $CLIENT --initial-cluster "$CLUSTER" \
    --initial-cluster-state new --initial-cluster-token bench-$BASE > "$OUT/e$i.log" 2>&1 &
  PIDS+=($!)
done
trap 'kill ${PIDS[*]} 2>/dev/null || true' EXIT
LEADER=""
for _ in $(seq 1 150); do
  for i in 1 2 3; do
    STATUS=$(curl -s -X POST -d '{}' "http://127.0.0.1:$((BASE + 10 + i))/v3/maintenance/status" 2>/dev/null || true)
    ME=$(echo "$STATUS" | sed -n 's/.*"member_id":"\([0-9]*\)".*/\1/p'); LEADS=$(echo "$STATUS" | sed -n 's/.*"leader":"\([0-9]*\)".*/\1/p')
    if [ -n "$ME" ] && [ "$ME" = "$LEADS" ]; then LEADER=$i; break 2; fi
  done
  sleep 0.2
done
[ -n "$LEADER" ] || { echo "no leader" >&2; exit 1; }
echo "${PIDS[*]} leader=${PIDS[$((LEADER - 1))]}" > "$OUT/pids"
PIDLIST=$(IFS=,; echo "${PIDS[*]}")
load() { "$LOADGEN" load -api etcd -urls "http://127.0.0.1:$((BASE + 10 + LEADER))" -op put -c 1 -warmup 1s -duration "$1" -pids "$PIDLIST"; }
load 1s > /dev/null
TRACERS=()
if [ "$MODE" = perf ]; then
  perf record -q -a -k CLOCK_MONOTONIC -o "$OUT/blk.data" -e block:block_rq_issue -e block:block_rq_complete &
  TRACERS+=($!)
  perf record -q -k CLOCK_MONOTONIC -p "$PIDLIST" -o "$OUT/perf.data" -e syscalls:sys_enter_fdatasync \
    -e syscalls:sys_exit_fdatasync -e syscalls:sys_enter_write -e syscalls:sys_exit_write &
  TRACERS+=($!); sleep 1
fi
load "${SECONDS_}s" > "$OUT/load.json"
for t in "${TRACERS[@]}"; do kill -INT "$t"; wait "$t" 2>/dev/null || true; done
kill -TERM "${PIDS[@]}"; wait "${PIDS[@]}" 2>/dev/null || true
trap - EXIT
