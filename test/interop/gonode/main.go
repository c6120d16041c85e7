// Command gonode is a small replicated KV node built on hashicorp/raft 1.1.2 (Debian bookworm's
// golang-github-hashicorp-raft-dev) with raft-boltdb. It speaks the raftkit KV contract (log
// commands, snapshot format, HTTP API) so raftkit's interop suite can run mixed clusters.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	hclog "github.com/hashicorp/go-hclog"
	"github.com/hashicorp/raft"
	raftboltdb "github.com/hashicorp/raft-boltdb"
)

type options struct {
	id                 string
	raftAddr           string
	advertise          string
	httpAddr           string
	dataDir            string
	peers              string
	logLevel           string
	heartbeatTimeout   time.Duration
	electionTimeout    time.Duration
	leaderLeaseTimeout time.Duration
	commitTimeout      time.Duration
	snapshotInterval   time.Duration
	snapshotThreshold  uint64
	trailingLogs       uint64
	exitOnStdinEOF     bool
}

func parseOptions(args []string) (*options, error) {
	o := &options{}
	fs := flag.NewFlagSet("gonode", flag.ContinueOnError)
	fs.StringVar(&o.id, "id", "", "server ID (raft LocalID)")
	fs.StringVar(&o.raftAddr, "raft-addr", "", "raft TCP bind address host:port")
	fs.StringVar(&o.advertise, "advertise", "", "raft address told to peers (default: -raft-addr)")
	fs.StringVar(&o.httpAddr, "http-addr", "", "HTTP API address host:port")
	fs.StringVar(&o.dataDir, "data-dir", "", "directory for raft.db and snapshots/")
	fs.StringVar(&o.peers, "peers", "", "initial voters id=host:port,... (bootstrap when no state exists)")
	fs.StringVar(&o.logLevel, "log-level", "INFO", "hclog level: TRACE, DEBUG, INFO, WARN, ERROR")
	ms := func(name string, def int, usage string) *int { return fs.Int(name, def, usage+" (ms)") }
	heartbeat := ms("heartbeat-timeout", 300, "HeartbeatTimeout")
	election := ms("election-timeout", 300, "ElectionTimeout")
	lease := ms("leader-lease-timeout", 150, "LeaderLeaseTimeout")
	commit := ms("commit-timeout", 20, "CommitTimeout")
	interval := ms("snapshot-interval", 120000, "SnapshotInterval")
	fs.Uint64Var(&o.snapshotThreshold, "snapshot-threshold", 8192, "SnapshotThreshold (entries)")
	fs.Uint64Var(&o.trailingLogs, "trailing-logs", 10240, "TrailingLogs (entries)")
	fs.BoolVar(&o.exitOnStdinEOF, "exit-on-stdin-eof", false, "shut down when stdin closes (harness use: no orphans)")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	toDuration := func(v int) time.Duration { return time.Duration(v) * time.Millisecond }
	o.heartbeatTimeout = toDuration(*heartbeat)
	o.electionTimeout = toDuration(*election)
	o.leaderLeaseTimeout = toDuration(*lease)
	o.commitTimeout = toDuration(*commit)
	o.snapshotInterval = toDuration(*interval)
	if o.advertise == "" {
		o.advertise = o.raftAddr
	}
	for name, value := range map[string]string{"-id": o.id, "-raft-addr": o.raftAddr, "-http-addr": o.httpAddr, "-data-dir": o.dataDir} {
		if value == "" {
			return nil, fmt.Errorf("%s is required", name)
		}
	}
	return o, nil
}

// parsePeers reads "id=host:port,..." into a bootstrap configuration of voters.
func parsePeers(spec string) (raft.Configuration, error) {
	var configuration raft.Configuration
	for _, item := range strings.Split(spec, ",") {
		item = strings.TrimSpace(item)
		if item == "" {
			continue
		}
		parts := strings.SplitN(item, "=", 2)
		if len(parts) != 2 || parts[0] == "" || parts[1] == "" {
			return configuration, fmt.Errorf("bad peer %q: want id=host:port", item)
		}
		configuration.Servers = append(configuration.Servers, raft.Server{
			Suffrage: raft.Voter,
			ID:       raft.ServerID(parts[0]),
			Address:  raft.ServerAddress(parts[1]),
		})
	}
	return configuration, nil
}

func raftConfig(o *options, logger hclog.Logger) *raft.Config {
	c := raft.DefaultConfig()
	c.LocalID = raft.ServerID(o.id)
	c.ProtocolVersion = 3
	c.HeartbeatTimeout = o.heartbeatTimeout
	c.ElectionTimeout = o.electionTimeout
	c.LeaderLeaseTimeout = o.leaderLeaseTimeout
	c.CommitTimeout = o.commitTimeout
	c.SnapshotInterval = o.snapshotInterval
	c.SnapshotThreshold = o.snapshotThreshold
	c.TrailingLogs = o.trailingLogs
	c.Logger = logger
	return c
}

// node bundles what shutdown has to close, in order.
type node struct {
	opts      *options
	logger    hclog.Logger
	raft      *raft.Raft
	fsm       *kvFSM
	store     *raftboltdb.BoltStore
	transport *raft.NetworkTransport
}

func openNode(o *options, logger hclog.Logger) (*node, error) {
	config := raftConfig(o, logger)
	if err := raft.ValidateConfig(config); err != nil {
		return nil, fmt.Errorf("invalid raft config: %v", err)
	}
	if err := os.MkdirAll(o.dataDir, 0o755); err != nil {
		return nil, err
	}
	store, err := raftboltdb.NewBoltStore(filepath.Join(o.dataDir, "raft.db"))
	if err != nil {
		return nil, fmt.Errorf("open bolt store: %v", err)
	}
	snapshots, err := raft.NewFileSnapshotStoreWithLogger(o.dataDir, 2, logger.Named("snapshot"))
	if err != nil {
		store.Close()
		return nil, fmt.Errorf("open snapshot store: %v", err)
	}
	advertise, err := net.ResolveTCPAddr("tcp", o.advertise)
	if err != nil {
		store.Close()
		return nil, fmt.Errorf("bad -advertise: %v", err)
	}
	transport, err := raft.NewTCPTransportWithLogger(o.raftAddr, advertise, 3, 10*time.Second, logger.Named("transport"))
	if err != nil {
		store.Close()
		return nil, fmt.Errorf("open transport: %v", err)
	}
	n := &node{opts: o, logger: logger, fsm: newKVFSM(), store: store, transport: transport}
	if err := n.bootstrapIfNew(config, snapshots); err != nil {
		n.closeStorage()
		return nil, err
	}
	n.raft, err = raft.NewRaft(config, n.fsm, store, store, snapshots, transport)
	if err != nil {
		n.closeStorage()
		return nil, fmt.Errorf("start raft: %v", err)
	}
	return n, nil
}

// bootstrapIfNew writes the initial configuration from -peers, but only on a node without state:
// a restarted node keeps the membership it already has.
func (n *node) bootstrapIfNew(config *raft.Config, snapshots raft.SnapshotStore) error {
	if n.opts.peers == "" {
		return nil
	}
	existing, err := raft.HasExistingState(n.store, n.store, snapshots)
	if err != nil {
		return fmt.Errorf("check existing state: %v", err)
	}
	if existing {
		n.logger.Info("existing state found, ignoring -peers")
		return nil
	}
	configuration, err := parsePeers(n.opts.peers)
	if err != nil {
		return err
	}
	return raft.BootstrapCluster(config, n.store, n.store, snapshots, n.transport, configuration)
}

func (n *node) closeStorage() {
	n.transport.Close()
	n.store.Close()
}

func (n *node) shutdown() {
	if err := n.raft.Shutdown().Error(); err != nil {
		n.logger.Error("raft shutdown", "error", err)
	}
	n.closeStorage()
}

// waitForStop returns on SIGTERM/SIGINT, or when stdin reaches EOF if asked to: a harness that
// dies without cleaning up closes our stdin, so the node never outlives it.
func waitForStop(exitOnStdinEOF bool) string {
	stop := make(chan string, 2)
	signals := make(chan os.Signal, 1)
	signal.Notify(signals, syscall.SIGTERM, syscall.SIGINT)
	go func() { stop <- (<-signals).String() }()
	if exitOnStdinEOF {
		go func() {
			io.Copy(io.Discard, os.Stdin)
			stop <- "stdin closed"
		}()
	}
	return <-stop
}

func run() error {
	o, err := parseOptions(os.Args[1:])
	if err != nil {
		return err
	}
	logger := hclog.New(&hclog.LoggerOptions{
		Name:   "gonode." + o.id,
		Level:  hclog.LevelFromString(o.logLevel),
		Output: os.Stderr,
	})
	n, err := openNode(o, logger)
	if err != nil {
		return err
	}
	listener, err := net.Listen("tcp", o.httpAddr)
	if err != nil {
		n.shutdown()
		return fmt.Errorf("listen on -http-addr: %v", err)
	}
	server := &http.Server{Handler: newAPI(n), ReadHeaderTimeout: 10 * time.Second}
	go n.publishOwnHTTPAddress()
	go func() {
		if err := server.Serve(listener); err != http.ErrServerClosed {
			logger.Error("http server", "error", err)
		}
	}()
	logger.Info("gonode ready", "raft", o.advertise, "http", listener.Addr().String())

	reason := waitForStop(o.exitOnStdinEOF)
	logger.Info("shutting down", "reason", reason)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	server.Shutdown(ctx)
	n.shutdown()
	logger.Info("stopped")
	return nil
}

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "gonode:", err)
		os.Exit(1)
	}
}
