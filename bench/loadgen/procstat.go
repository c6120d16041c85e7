package main

import (
	"bytes"
	"os"
	"strconv"
	"strings"
	"syscall"
)

// clockTicks is USER_HZ, the unit of utime and stime in /proc/<pid>/stat: 100 on every Linux
// architecture Go runs on (the kernel fixes it for user space).
const clockTicks = 100

// readCPU returns each process's user+system CPU seconds so far (all its threads), or -1 for a
// process that is gone.
func readCPU(pids []int) []float64 {
	out := make([]float64, len(pids))
	for i, pid := range pids {
		out[i] = -1
		raw, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
		if err != nil {
			continue
		}
		// The command name (field 2) may hold spaces; the fields after its ')' are fixed.
		fields := strings.Fields(string(raw[bytes.LastIndexByte(raw, ')')+1:]))
		if len(fields) < 13 {
			continue
		}
		utime, _ := strconv.ParseFloat(fields[11], 64) // field 14
		stime, _ := strconv.ParseFloat(fields[12], 64) // field 15
		out[i] = (utime + stime) / clockTicks
	}
	return out
}

// readMemory returns each process's resident set (VmRSS) and its peak (VmHWM) in KiB; -1 if gone.
func readMemory(pids []int) (rss []int64, hwm []int64) {
	for _, pid := range pids {
		status, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
		rssKiB, hwmKiB := int64(-1), int64(-1)
		if err == nil {
			rssKiB, hwmKiB = statusField(status, "VmRSS:"), statusField(status, "VmHWM:")
		}
		rss, hwm = append(rss, rssKiB), append(hwm, hwmKiB)
	}
	return rss, hwm
}

func statusField(status []byte, name string) int64 {
	for _, line := range strings.Split(string(status), "\n") {
		if strings.HasPrefix(line, name) {
			fields := strings.Fields(line[len(name):])
			if len(fields) > 0 {
				value, _ := strconv.ParseInt(fields[0], 10, 64)
				return value
			}
		}
	}
	return -1
}

// selfCPU is this generator's own user+system CPU seconds so far.
func selfCPU() float64 {
	var usage syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &usage)
	seconds := func(t syscall.Timeval) float64 { return float64(t.Sec) + float64(t.Usec)/1e6 }
	return seconds(usage.Utime) + seconds(usage.Stime)
}

// machineBusyCPU is the CPU seconds all processes on the machine have used so far (every CPU's
// time in /proc/stat except idle and iowait): the rest of the machine's load shows against ours.
func machineBusyCPU() float64 {
	raw, err := os.ReadFile("/proc/stat")
	if err != nil {
		return -1
	}
	line := strings.SplitN(string(raw), "\n", 2)[0] // "cpu  user nice system idle iowait ..."
	fields := strings.Fields(line)
	var busy float64
	for i, field := range fields[1:] {
		value, _ := strconv.ParseFloat(field, 64)
		if i != 3 && i != 4 && i < 8 { // not idle, not iowait; guest time is already in user
			busy += value
		}
	}
	return busy / clockTicks
}
