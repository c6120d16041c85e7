// Command loadgen is the closed-loop HTTP load generator of `npm run bench`, and its measure of
// the machine's floor. It is Go (standard library only, built offline like the interop peer)
// because it shares two cores with the servers it drives: one goroutine per worker on a plain
// keep-alive TCP connection, a hand-rolled HTTP/1.1 exchange and no per-request allocation beyond
// the latency sample keep its own CPU small; it measures that CPU and reports it.
//
//	loadgen load -api kv|etcd -urls http://a,http://b -op put|get -c 64 -warmup 1s -duration 10s \
//	        [-fill] [-keys 100000] [-value-size 100] [-pids 1,2,3] [-kill-pid P -kill-after 2s]
//	loadgen floor -dir DIR -duration 2s
//
// Each prints one JSON object on stdout.
package main

import (
	"encoding/json"
	"fmt"
	"os"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: loadgen load|floor [flags]")
		os.Exit(2)
	}
	var result interface{}
	var err error
	switch os.Args[1] {
	case "load":
		result, err = runLoad(os.Args[2:])
	case "floor":
		result, err = runFloor(os.Args[2:])
	default:
		err = fmt.Errorf("unknown mode %q (want load or floor)", os.Args[1])
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "loadgen:", err)
		os.Exit(1)
	}
	if err := json.NewEncoder(os.Stdout).Encode(result); err != nil {
		fmt.Fprintln(os.Stderr, "loadgen:", err)
		os.Exit(1)
	}
}
