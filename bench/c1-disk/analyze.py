#!/usr/bin/env python3
"""analyze.py DIR: where the durable write of each node goes, from perf records of a c1 run.
DIR/blk.data: block:block_rq_issue/complete, system-wide; DIR/perf.data: the nodes' syscalls;
DIR/pids: "pid pid pid leader=pid" (or COMM=name: every process of that name that wrote);
SYSCALL: the durable syscall (pwrite64: raftkit's O_DSYNC WAL write; fdatasync: etcd's).
With DIR/trace/*.trace (RAFTKIT_TRACE_DIR marks), also the hops around the syscall."""
import subprocess, sys, re, glob, os, bisect, statistics as st
D = sys.argv[1]; SC = os.environ.get('SYSCALL', 'pwrite64'); COMM = os.environ.get('COMM')
def script(f):
    return subprocess.run(['perf', 'script', '-i', f'{D}/{f}', '-F', 'comm,pid,tid,time,event,trace'],
                          capture_output=True, text=True).stdout.splitlines()
rx = re.compile(r'^\s*(.+?)\s+(\d+)/(\d+)\s+([\d.]+):\s+(\S+):\s*(.*)$')
ev = []
for line in script('perf.data') + script('blk.data'):
    m = rx.match(line)
    if m:
        comm, pid, tid, t, name, rest = m.groups()
        ev.append((float(t) * 1e6, int(pid), int(tid), name, rest, comm))
ev.sort()
if COMM:
    nodes = sorted({e[1] for e in ev if e[5] == COMM and e[3] == f'syscalls:sys_exit_{SC}'}); leader = None
else:
    a = open(f'{D}/pids').read().split(); leader = int(a[-1].split('=')[1]); nodes = [int(p) for p in a[:3]]
reqs = []; ffs = []; open_rq = {}; open_ff = []
for t, pid, tid, name, rest, comm in ev:
    if not name.startswith('block:'): continue
    m = re.match(r'\d+,\d+ (\S+) (?:\d+ )?\(\S*\) (\d+) \+ (\d+)', rest)
    if not m: continue
    rwbs, sector, _ = m.groups()
    if rwbs.startswith('F'):
        if name.endswith('issue'): ffs.append([t, None]); open_ff.append(len(ffs) - 1)
        elif open_ff: ffs[open_ff[-1]][1] = t; open_ff.clear()  # one flush in flight per queue: the latest
    elif name.endswith('issue'): open_rq[sector] = (t, rwbs, tid)
    elif sector in open_rq:
        i, rw, td = open_rq.pop(sector); reqs.append((i, t, rw, td))
reqs.sort(); ff_issue = [f[0] for f in ffs]; rq_issue = [r[0] for r in reqs]
calls = {p: [] for p in nodes}; enter = {}
for t, pid, tid, name, rest, comm in ev:
    if pid not in calls: continue
    if name == f'syscalls:sys_enter_{SC}': enter[tid] = t
    elif name == f'syscalls:sys_exit_{SC}' and tid in enter: calls[pid].append((enter.pop(tid), t, tid))
med = lambda xs: st.median(xs) if xs else float('nan')
def q(xs, p): xs = sorted(xs); return xs[int(p * (len(xs) - 1))] if xs else float('nan')
print(f'{D}: {len(reqs)} block requests, {len(ffs)} flushes; FF service p50 {med([f[1]-f[0] for f in ffs if f[1]]):.0f} µs')
roles = [(f'{COMM} {p}', [p]) for p in nodes] if COMM else [('leader', [leader]), ('followers', [p for p in nodes if p != leader])]
for role, ps in roles:
    dur = []; n_own = []; own_svc = []; wait_ff = []; ff_svc = []; ff_exit = []; others = []; meta = 0
    for p in ps:
        for s, e, tid in calls[p]:
            dur.append(e - s)
            k0 = bisect.bisect_left(rq_issue, s); k1 = bisect.bisect_right(rq_issue, e)
            mine = [r for r in reqs[k0:k1] if r[3] == tid]
            others.append(sum(1 for r in reqs[max(0, k0 - 20):k1] if r[3] != tid and r[1] > s))
            n_own.append(len(mine)); meta += any(r[2].endswith('M') for r in mine)
            own_svc.append(sum(r[1] - r[0] for r in mine))
            j = bisect.bisect_left(ff_issue, mine[-1][1] if mine else s)
            if j < len(ffs) and ffs[j][0] <= e and ffs[j][1]:
                wait_ff.append(ffs[j][0] - (mine[-1][1] if mine else s)); ff_svc.append(ffs[j][1] - ffs[j][0]); ff_exit.append(e - ffs[j][1])
    n = len(dur)
    print(f'  {role}: {n} {SC}; p50 {med(dur):.0f} p90 {q(dur,.9):.0f} µs | own requests {med(n_own)} (a metadata write in {100*meta/max(n,1):.0f}%), '
          f'their service {med(own_svc):.0f} | last own -> flush issued {med(wait_ff):.0f} | flush service {med(ff_svc):.0f} | flush done -> return {med(ff_exit):.0f} | '
          f'others\' requests overlapping {med(others)}')
marks = {}
for f in glob.glob(f'{D}/trace/*.trace'):
    m = {}
    for line in open(f):
        a = line.split()
        if len(a) == 3 and a[1] != '0': m.setdefault(a[0], {}).setdefault(int(a[1]), float(a[2]))
    marks[int(os.path.basename(f).split('.')[0])] = m
if marks:
    for role, ps in roles:
        hin = []; sysd = []; hout = []; step = []
        for p in ps:
            m = marks.get(p, {}); c = sorted(calls[p]); starts = [x[0] for x in c]
            for idx, ti in m.get('write.issued', {}).items():
                td = m.get('write.durable', {}).get(idx); k = bisect.bisect_left(starts, ti)
                if td is None or k >= len(c) or c[k][1] > td: continue
                hin.append(c[k][0] - ti); sysd.append(c[k][1] - c[k][0]); hout.append(td - c[k][1]); step.append(td - ti)
        print(f'  {role} (trace marks): {len(step)} writes; write.issued -> {SC} entered {med(hin):.0f}, in {SC} {med(sysd):.0f}, '
              f'returned -> write.durable {med(hout):.0f}; the step {med(step):.0f} µs')
