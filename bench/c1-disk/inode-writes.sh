#!/bin/bash
# inode-writes.sh: does an O_DSYNC write also write the inode? 300 bench/bin/dsync writes with 1 ms
# gaps on three loop-mounted 256 MiB ext4 images (with a journal, without, without + lazytime);
# prints the block requests the writer issued on the loop device (WS: data, WSM: metadata). Root.
set -eu
ROOT=$(cd "$(dirname "$0")/../.." && pwd); WORK=$(mktemp -d)
trap 'umount "$WORK/m" 2>/dev/null || true; rm -rf "$WORK"' EXIT
count() {
  perf record -q -a -o "$WORK/b.data" -e block:block_rq_issue &
  local perf=$!
  sleep 1
  (cd "$WORK/m" && "$ROOT/bench/bin/dsync" 300 -1000 0 > /dev/null)
  kill -INT $perf; wait $perf 2>/dev/null || true
  perf script -i "$WORK/b.data" -F comm,event,trace 2>/dev/null |
    awk -v dev="$(stat -c '%t' "$1"),$(stat -c '%T' "$1")" '$1 == "dsync" { split($3, d, ","); if (sprintf("%x,%x", d[1], d[2]) == dev) n[$4]++ }
      END { for (t in n) printf " %s %d", t, n[t]; print "" }'
}
for variant in journal nojournal nojournal-lazytime; do
  truncate -s 256M "$WORK/fs.img"
  if [ $variant = journal ]; then mkfs.ext4 -q -F "$WORK/fs.img"; else mkfs.ext4 -q -F -O ^has_journal "$WORK/fs.img"; fi
  mkdir -p "$WORK/m"
  if [ $variant = nojournal-lazytime ]; then mount -o loop,lazytime "$WORK/fs.img" "$WORK/m"; else mount -o loop "$WORK/fs.img" "$WORK/m"; fi
  LOOP=$(findmnt -n -o SOURCE "$WORK/m")
  echo "$variant ($LOOP):$(count "$LOOP")"
  umount "$WORK/m"; rm -f "$WORK/fs.img"
done
