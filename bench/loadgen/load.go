package main

import (
	"flag"
	"fmt"
	"math/rand"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

type loadOptions struct {
	api         api
	targets     []target
	op          string
	concurrency int
	warmup      time.Duration
	duration    time.Duration
	fill        bool
	keys        int
	valueSize   int
	pids        []int
	killPid     int
	killAfter   time.Duration
	timeout     time.Duration
}

// target is one server: where to dial and what to send as Host.
type target struct{ hostPort string }

func parseLoadOptions(args []string) (*loadOptions, error) {
	o := &loadOptions{}
	fs := flag.NewFlagSet("load", flag.ContinueOnError)
	apiName := fs.String("api", "kv", "kv (raftkit contract) or etcd (v3 JSON gateway)")
	urls := fs.String("urls", "", "comma-separated base URLs; workers start on the first and move on after a failure")
	fs.StringVar(&o.op, "op", "put", "put or get (get is linearizable on every system)")
	fs.IntVar(&o.concurrency, "c", 1, "workers, each with one request in flight")
	fs.DurationVar(&o.warmup, "warmup", time.Second, "load before the measured window")
	fs.DurationVar(&o.duration, "duration", 10*time.Second, "measured window")
	fs.BoolVar(&o.fill, "fill", false, "put every key once, in order, then stop (no warm-up)")
	fs.IntVar(&o.keys, "keys", 100000, "key space")
	fs.IntVar(&o.valueSize, "value-size", 100, "value bytes")
	pids := fs.String("pids", "", "comma-separated server pids whose CPU and RSS to report")
	fs.IntVar(&o.killPid, "kill-pid", 0, "SIGKILL this pid killAfter into the measured window, and stop at the first success after it (failover)")
	fs.DurationVar(&o.killAfter, "kill-after", 2*time.Second, "when to kill -kill-pid")
	fs.DurationVar(&o.timeout, "timeout", 5*time.Second, "per-request deadline")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	switch *apiName {
	case "kv":
		o.api = kvAPI{}
	case "etcd":
		o.api = etcdAPI{}
	default:
		return nil, fmt.Errorf("-api %q: want kv or etcd", *apiName)
	}
	if o.op != "put" && o.op != "get" {
		return nil, fmt.Errorf("-op %q: want put or get", o.op)
	}
	for _, raw := range strings.Split(*urls, ",") {
		u, err := url.Parse(strings.TrimSpace(raw))
		if err != nil || u.Host == "" {
			return nil, fmt.Errorf("-urls: bad URL %q", raw)
		}
		o.targets = append(o.targets, target{hostPort: u.Host})
	}
	for _, raw := range strings.Split(*pids, ",") {
		if raw == "" {
			continue
		}
		pid, err := strconv.Atoi(raw)
		if err != nil {
			return nil, fmt.Errorf("-pids: bad pid %q", raw)
		}
		o.pids = append(o.pids, pid)
	}
	if o.concurrency < 1 || o.keys < 1 {
		return nil, fmt.Errorf("-c and -keys must be positive")
	}
	return o, nil
}

// run is the state the workers share. Times are nanoseconds since start (monotonic).
type run struct {
	o            *loadOptions
	start        time.Time
	measureFrom  int64
	measureUntil int64
	stopped      atomic.Bool
	nextFillKey  atomic.Int64
	killedAt     atomic.Int64 // 0 until the kill
	// firstOkAfterKill: earliest completion of a successful request issued after the kill.
	firstOkAfterKill atomic.Int64
	value            []byte
}

func (r *run) now() int64 { return int64(time.Since(r.start)) }

type workerResult struct {
	latencies []int64 // successful requests completed in the window, ns
	ok        int
	misses    int
	status    map[string]int
}

func (r *run) worker(id int, out *workerResult) {
	o := r.o
	random := rand.New(rand.NewSource(int64(id) + 1))
	key := make([]byte, 0, 16)
	request := make([]byte, 0, 1024)
	current := 0
	var c *conn
	defer func() {
		if c != nil {
			c.close()
		}
	}()
	for !r.stopped.Load() {
		keyNumber := random.Intn(o.keys)
		if o.fill {
			keyNumber = int(r.nextFillKey.Add(1) - 1)
			if keyNumber >= o.keys {
				return
			}
		}
		key = append(key[:0], 'k')
		key = appendPadded(key, keyNumber, 6)
		t := o.targets[current]
		request = request[:0]
		if o.op == "put" {
			request = o.api.put(request, t.hostPort, key, r.value)
		} else {
			request = o.api.get(request, t.hostPort, key)
		}
		issued := r.now()
		status, reusable, err := 0, false, error(nil)
		if c == nil {
			c, err = dial(t.hostPort, o.timeout)
		}
		if err == nil {
			status, reusable, err = c.exchange(request)
		}
		done := r.now()
		ok := err == nil && (status/100 == 2 || (o.op == "get" && status == 404))
		switch {
		case err != nil:
			out.status["conn_error"]++
		default:
			out.status[strconv.Itoa(status)]++
		}
		if ok {
			if status == 404 {
				out.misses++
			}
			if killed := r.killedAt.Load(); killed != 0 && issued > killed {
				for {
					first := r.firstOkAfterKill.Load()
					if (first != 0 && first <= done) || r.firstOkAfterKill.CompareAndSwap(first, done) {
						break
					}
				}
			}
			if o.fill || (done >= r.measureFrom && done <= r.measureUntil) {
				out.ok++
				out.latencies = append(out.latencies, done-issued)
			}
		}
		if !reusable || !ok {
			if c != nil && (!reusable || len(o.targets) > 1) {
				c.close()
				c = nil
			}
		}
		if !ok {
			// Another server may be (or become) the leader; a short pause keeps a refused or
			// leaderless cluster from turning the generator into a busy loop.
			current = (current + 1) % len(o.targets)
			time.Sleep(2 * time.Millisecond)
		}
	}
}

func appendPadded(buf []byte, n int, width int) []byte {
	digits := strconv.Itoa(n)
	for i := len(digits); i < width; i++ {
		buf = append(buf, '0')
	}
	return append(buf, digits...)
}

type latencySummary struct {
	P50  float64 `json:"p50"`
	P90  float64 `json:"p90"`
	P99  float64 `json:"p99"`
	P999 float64 `json:"p999"`
	Max  float64 `json:"max"`
	Mean float64 `json:"mean"`
}

type failoverResult struct {
	KilledAtMs         float64 `json:"killed_at_ms"`
	FirstOkAfterKillMs float64 `json:"first_ok_after_kill_ms"` // -1: none
}

type loadResult struct {
	Op              string          `json:"op"`
	Concurrency     int             `json:"concurrency"`
	Seconds         float64         `json:"seconds"`
	Ok              int             `json:"ok"`
	Misses          int             `json:"misses"`
	Rate            float64         `json:"rate"`
	LatencyMs       latencySummary  `json:"latency_ms"`
	Status          map[string]int  `json:"status"`
	ServerCpuS      []float64       `json:"server_cpu_s"`
	ServerRssKiB    []int64         `json:"server_rss_kib"`
	ServerHwmKiB    []int64         `json:"server_hwm_kib"`
	LoadgenCpuS     float64         `json:"loadgen_cpu_s"`
	MachineBusyCpuS float64         `json:"machine_busy_cpu_s"`
	Failover        *failoverResult `json:"failover,omitempty"`
}

func runLoad(args []string) (*loadResult, error) {
	o, err := parseLoadOptions(args)
	if err != nil {
		return nil, err
	}
	r := &run{o: o, start: time.Now(), value: make([]byte, o.valueSize)}
	for i := range r.value {
		r.value[i] = 'a' + byte(i%26)
	}
	r.measureFrom = int64(o.warmup)
	r.measureUntil = int64(o.warmup + o.duration)
	if o.fill {
		r.measureFrom = 0
		r.measureUntil = 1<<62 - 1
	}
	results := make([]workerResult, o.concurrency)
	var wg sync.WaitGroup
	for i := range results {
		results[i].status = map[string]int{}
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			r.worker(i, &results[i])
		}(i)
	}

	var cpuBefore, cpuAfter []float64
	var selfBefore, selfAfter, machineBefore, machineAfter float64
	var elapsed time.Duration
	if o.fill {
		cpuBefore, selfBefore, machineBefore = readCPU(o.pids), selfCPU(), machineBusyCPU()
		wg.Wait()
		elapsed = time.Since(r.start)
		cpuAfter, selfAfter, machineAfter = readCPU(o.pids), selfCPU(), machineBusyCPU()
	} else {
		time.Sleep(time.Until(r.start.Add(o.warmup)))
		cpuBefore, selfBefore, machineBefore = readCPU(o.pids), selfCPU(), machineBusyCPU()
		if o.killPid != 0 {
			time.Sleep(time.Until(r.start.Add(o.warmup + o.killAfter)))
			killed := r.now()
			if err := syscall.Kill(o.killPid, syscall.SIGKILL); err != nil {
				return nil, fmt.Errorf("kill %d: %v", o.killPid, err)
			}
			r.killedAt.Store(killed)
		}
		end := r.start.Add(o.warmup + o.duration)
		if o.killPid == 0 {
			time.Sleep(time.Until(end))
		} else {
			// A failover run ends at the first write that succeeds after the kill (its figure).
			for r.firstOkAfterKill.Load() == 0 && time.Now().Before(end) {
				time.Sleep(5 * time.Millisecond)
			}
			end = time.Now()
		}
		cpuAfter, selfAfter, machineAfter = readCPU(o.pids), selfCPU(), machineBusyCPU()
		elapsed = end.Sub(r.start.Add(o.warmup))
		r.stopped.Store(true)
		wg.Wait()
	}

	result := &loadResult{
		Op: o.op, Concurrency: o.concurrency, Seconds: elapsed.Seconds(), Status: map[string]int{},
		LoadgenCpuS: selfAfter - selfBefore, MachineBusyCpuS: machineAfter - machineBefore,
	}
	var all []int64
	for _, w := range results {
		result.Ok += w.ok
		result.Misses += w.misses
		all = append(all, w.latencies...)
		for status, n := range w.status {
			result.Status[status] += n
		}
	}
	result.Rate = float64(result.Ok) / elapsed.Seconds()
	result.LatencyMs = summarize(all)
	for i := range o.pids {
		result.ServerCpuS = append(result.ServerCpuS, cpuAfter[i]-cpuBefore[i])
	}
	result.ServerRssKiB, result.ServerHwmKiB = readMemory(o.pids)
	if o.killPid != 0 {
		f := &failoverResult{KilledAtMs: float64(r.killedAt.Load()-r.measureFrom) / 1e6, FirstOkAfterKillMs: -1}
		if first := r.firstOkAfterKill.Load(); first != 0 {
			f.FirstOkAfterKillMs = float64(first-r.killedAt.Load()) / 1e6
		}
		result.Failover = f
	}
	return result, nil
}

func summarize(latencies []int64) latencySummary {
	if len(latencies) == 0 {
		return latencySummary{}
	}
	sort.Slice(latencies, func(i, j int) bool { return latencies[i] < latencies[j] })
	at := func(q float64) float64 {
		i := int(q * float64(len(latencies)))
		if i >= len(latencies) {
			i = len(latencies) - 1
		}
		return float64(latencies[i]) / 1e6
	}
	var sum int64
	for _, l := range latencies {
		sum += l
	}
	return latencySummary{
		P50: at(0.50), P90: at(0.90), P99: at(0.99), P999: at(0.999),
		Max:  float64(latencies[len(latencies)-1]) / 1e6,
		Mean: float64(sum) / float64(len(latencies)) / 1e6,
	}
}
