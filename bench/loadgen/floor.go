package main

import (
	"flag"
	"io"
	"net"
	"os"
	"path/filepath"
	"syscall"
	"time"
)

// The floor: what one durable write and one network hop cost on this machine, with nothing on
// top. A Raft write needs at least one leader fsync and one round trip to a follower that fsyncs.

type floorResult struct {
	FdatasyncPerS     float64 `json:"fdatasync_per_s"`
	FdatasyncP50Ms    float64 `json:"fdatasync_p50_ms"`
	FdatasyncP99Ms    float64 `json:"fdatasync_p99_ms"`
	LoopbackRttP50Us  float64 `json:"loopback_rtt_p50_us"`
	LoopbackRttP99Us  float64 `json:"loopback_rtt_p99_us"`
	LoopbackRoundTrip float64 `json:"loopback_round_trips_per_s"`
}

func runFloor(args []string) (*floorResult, error) {
	fs := flag.NewFlagSet("floor", flag.ContinueOnError)
	dir := fs.String("dir", os.TempDir(), "directory on the disk to measure (the servers' data disk)")
	duration := fs.Duration("duration", 2*time.Second, "time spent on each measurement")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	syncs, err := measureFdatasync(*dir, *duration)
	if err != nil {
		return nil, err
	}
	trips, err := measureLoopback(*duration)
	if err != nil {
		return nil, err
	}
	s, t := summarize(syncs), summarize(trips)
	return &floorResult{
		FdatasyncPerS:     float64(len(syncs)) / duration.Seconds(),
		FdatasyncP50Ms:    s.P50,
		FdatasyncP99Ms:    s.P99,
		LoopbackRttP50Us:  t.P50 * 1000,
		LoopbackRttP99Us:  t.P99 * 1000,
		LoopbackRoundTrip: float64(len(trips)) / duration.Seconds(),
	}, nil
}

// measureFdatasync appends 128 bytes and fdatasyncs, as a log store appends one small entry.
func measureFdatasync(dir string, duration time.Duration) ([]int64, error) {
	f, err := os.CreateTemp(dir, "loadgen-floor-")
	if err != nil {
		return nil, err
	}
	defer os.Remove(filepath.Clean(f.Name()))
	defer f.Close()
	record := make([]byte, 128)
	var offset int64
	var samples []int64
	for end := time.Now().Add(duration); time.Now().Before(end); {
		start := time.Now()
		if _, err := f.WriteAt(record, offset); err != nil {
			return nil, err
		}
		if err := syscall.Fdatasync(int(f.Fd())); err != nil {
			return nil, err
		}
		samples = append(samples, int64(time.Since(start)))
		offset += int64(len(record))
	}
	return samples, nil
}

// measureLoopback ping-pongs 64 bytes over one loopback TCP connection.
func measureLoopback(duration time.Duration) ([]int64, error) {
	listener, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	defer listener.Close()
	go func() {
		server, err := listener.Accept()
		if err != nil {
			return
		}
		defer server.Close()
		server.(*net.TCPConn).SetNoDelay(true)
		io.Copy(server, server) // echo
	}()
	client, err := net.Dial("tcp", listener.Addr().String())
	if err != nil {
		return nil, err
	}
	defer client.Close()
	client.(*net.TCPConn).SetNoDelay(true)
	message := make([]byte, 64)
	var samples []int64
	for end := time.Now().Add(duration); time.Now().Before(end); {
		start := time.Now()
		if _, err := client.Write(message); err != nil {
			return nil, err
		}
		if _, err := io.ReadFull(client, message); err != nil {
			return nil, err
		}
		samples = append(samples, int64(time.Since(start)))
	}
	return samples, nil
}
