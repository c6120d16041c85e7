#!/bin/bash
# c1-cluster.sh kv|etcd OUTDIR [none|perf|strace] [SECONDS]: a fresh 3-node cluster driven by
# bench/bin/loadgen at c1 (puts to the leader) for SECONDS (5).
#   kv:   `kv serve` with the bench's flags (binary commands, hashicorp's DefaultConfig timings) and
#         RAFTKIT_TRACE_DIR marks in OUTDIR/trace; DIST=dir runs another build's dist.
#   etcd: etcd 3.4 with default flags (as bench/systems.ts starts it), through the v3 JSON gateway.
# perf: block requests system-wide and the nodes' write syscalls (raftkit's O_DSYNC pwrite64,
# etcd's fdatasync), on CLOCK_MONOTONIC as the marks are: read them with analyze.py. strace: one
# follower under strace -f -T (slows it several times: for the order of the calls, not their times).
# Output: OUTDIR/load.json (loadgen's), OUTDIR/pids ("pid pid pid leader=pid").
set -eu
SYSTEM=$1; OUT=$2; MODE=${3:-none}; SECONDS_=${4:-5}
ROOT=$(cd "$(dirname "$0")/../.." && pwd); DIST=${DIST:-$ROOT/dist}; LOADGEN=$ROOT/bench/bin/loadgen
rm -rf "$OUT"; mkdir -p "$OUT/trace"
BASE=$((20000 + RANDOM % 40000))
http_port() { echo $((BASE + 10 + $1)); }

start_kv() {
  local peers="n1=127.0.0.1:$BASE,n2=127.0.0.1:$((BASE + 1)),n3=127.0.0.1:$((BASE + 2))"
  RAFTKIT_TRACE_DIR=$OUT/trace exec node "$DIST/cli.js" kv serve --id n$1 --raft-addr 127.0.0.1:$((BASE + $1 - 1)) \
    --http-addr 127.0.0.1:$(http_port $1) --data-dir "$OUT/d$1" --peers "$peers" --command-format binary \
    --heartbeat-timeout 1000 --election-timeout 1000 --leader-lease-timeout 500 --commit-timeout 50
}
leads_kv() { curl -s --max-time 1 "http://127.0.0.1:$(http_port $1)/status" 2>/dev/null | grep -q '"state":"Leader"'; }

start_etcd() {
  local cluster="e1=http://127.0.0.1:$BASE,e2=http://127.0.0.1:$((BASE + 1)),e3=http://127.0.0.1:$((BASE + 2))"
  local peer=http://127.0.0.1:$((BASE + $1 - 1)) client=http://127.0.0.1:$(http_port $1)
  exec etcd --name e$1 --data-dir "$OUT/d$1/etcd" --listen-peer-urls $peer --initial-advertise-peer-urls $peer \
    --listen-client-urls $client --advertise-client-urls $client --initial-cluster "$cluster" \
    --initial-cluster-state new --initial-cluster-token bench-$BASE
}
leads_etcd() {
  local status me leader
  status=$(curl -s --max-time 1 -X POST -d '{}' "http://127.0.0.1:$(http_port $1)/v3/maintenance/status" 2>/dev/null || true)
  me=$(echo "$status" | sed -n 's/.*"member_id":"\([0-9]*\)".*/\1/p')
  leader=$(echo "$status" | sed -n 's/.*"leader":"\([0-9]*\)".*/\1/p')
  [ -n "$me" ] && [ "$me" = "$leader" ]
}

case $SYSTEM in
  kv) API=kv; DURABLE=pwrite64 ;;
  etcd) API=etcd; DURABLE=fdatasync ;;
  *) echo "usage: c1-cluster.sh kv|etcd OUTDIR [none|perf|strace] [SECONDS]" >&2; exit 2 ;;
esac
PIDS=()
for i in 1 2 3; do
  start_$SYSTEM $i > "$OUT/node$i.log" 2>&1 &
  PIDS+=($!)
done
trap 'kill ${PIDS[*]} 2>/dev/null || true' EXIT
LEADER=""
for _ in $(seq 1 150); do
  for i in 1 2 3; do
    kill -0 "${PIDS[$((i - 1))]}" 2>/dev/null || { echo "node $i exited: $OUT/node$i.log" >&2; exit 1; }
    if leads_$SYSTEM $i; then LEADER=$i; break 2; fi
  done
  sleep 0.2
done
[ -n "$LEADER" ] || { echo "no leader" >&2; exit 1; }
echo "${PIDS[*]} leader=${PIDS[$((LEADER - 1))]}" > "$OUT/pids"
PIDLIST=$(IFS=,; echo "${PIDS[*]}")
load() { "$LOADGEN" load -api $API -urls "http://127.0.0.1:$(http_port $LEADER)" -op put -c 1 -warmup 1s -duration "$1" -pids "$PIDLIST"; }
load 1s > /dev/null
TRACERS=()
case $MODE in
  perf)
    perf record -q -a -k CLOCK_MONOTONIC -o "$OUT/blk.data" -e block:block_rq_issue -e block:block_rq_complete &
    TRACERS+=($!)
    perf record -q -k CLOCK_MONOTONIC -p "$PIDLIST" -o "$OUT/perf.data" -e syscalls:sys_enter_$DURABLE \
      -e syscalls:sys_exit_$DURABLE -e syscalls:sys_enter_write -e syscalls:sys_exit_write &
    TRACERS+=($!); sleep 1 ;;
  strace)
    strace -f -T -ttt -e trace=pwrite64,write,writev,read,epoll_pwait,futex,fdatasync -o "$OUT/strace.txt" \
      -p "${PIDS[$((LEADER % 3))]}" &
    TRACERS+=($!); sleep 1 ;;
esac
load "${SECONDS_}s" > "$OUT/load.json"
for t in "${TRACERS[@]}"; do kill -INT "$t"; wait "$t" 2>/dev/null || true; done
kill -TERM "${PIDS[@]}"; wait "${PIDS[@]}" 2>/dev/null || true
trap - EXIT
