package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/hashicorp/raft"
)

const (
	// reservedPrefix holds service metadata (members' HTTP addresses); clients may not write it.
	reservedPrefix = "_raftkit/"
	maxBodyBytes   = 1 << 20
	raftTimeout    = 10 * time.Second
)

// api is the KV contract's HTTP surface. Unlike raftkit's service, a follower answers writes and
// linearizable reads with 503 and the leader in the body instead of a 307 redirect.
type api struct {
	n *node
}

func newAPI(n *node) http.Handler {
	return &api{n: n}
}

// ServeHTTP routes by hand: http.ServeMux would clean and redirect keys containing "//" or "..".
func (a *api) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	path := r.URL.Path
	switch {
	case path == "/kv" && r.Method == http.MethodGet:
		a.dump(w)
	case strings.HasPrefix(path, "/kv/"):
		a.key(w, r, strings.TrimPrefix(path, "/kv/"))
	case path == "/status" && r.Method == http.MethodGet:
		writeJSON(w, http.StatusOK, a.status())
	case path == "/cluster/join" && r.Method == http.MethodPost:
		a.join(w, r)
	case path == "/cluster/transfer" && r.Method == http.MethodPost:
		a.transfer(w, r)
	case strings.HasPrefix(path, "/cluster/") && r.Method == http.MethodDelete:
		a.remove(w, strings.TrimPrefix(path, "/cluster/"))
	case path == "/snapshot" && r.Method == http.MethodPost:
		a.snapshot(w)
	case path == "/barrier" && r.Method == http.MethodPost:
		a.barrier(w)
	default:
		writeError(w, http.StatusNotFound, "no such endpoint: "+r.Method+" "+path)
	}
}

func (a *api) key(w http.ResponseWriter, r *http.Request, key string) {
	if key == "" {
		writeError(w, http.StatusBadRequest, "empty key")
		return
	}
	switch r.Method {
	case http.MethodGet:
		a.read(w, r, key)
	case http.MethodPut, http.MethodDelete:
		if strings.HasPrefix(key, reservedPrefix) {
			writeError(w, http.StatusBadRequest, "keys under "+reservedPrefix+" are reserved")
			return
		}
		a.write(w, r, key)
	default:
		writeError(w, http.StatusMethodNotAllowed, "method not allowed")
	}
}

func (a *api) read(w http.ResponseWriter, r *http.Request, key string) {
	if _, stale := r.URL.Query()["stale"]; !stale {
		if !a.requireLeader(w) {
			return
		}
		// A barrier goes through the log, so everything committed before this read is applied.
		if err := a.n.raft.Barrier(raftTimeout).Error(); err != nil {
			writeRaftError(w, err)
			return
		}
	}
	value, ok := a.n.fsm.get(key)
	if !ok {
		writeError(w, http.StatusNotFound, "key not found")
		return
	}
	w.Header().Set("Content-Type", "application/octet-stream")
	w.WriteHeader(http.StatusOK)
	w.Write(value)
}

func (a *api) write(w http.ResponseWriter, r *http.Request, key string) {
	cmd := command{Op: "delete", Key: key}
	if r.Method == http.MethodPut {
		body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBodyBytes))
		if err != nil {
			writeError(w, http.StatusBadRequest, "reading body: "+err.Error())
			return
		}
		cmd = command{Op: "put", Key: key, Value: body}
		if prev, conditional := r.URL.Query()["prev"]; conditional {
			cmd.Op = "cas"
			cmd.Prev = encodePrev(prev[0])
		}
	}
	if !a.requireLeader(w) {
		return
	}
	result, err := a.n.apply(cmd)
	switch {
	case err != nil:
		writeRaftError(w, err)
	case result.Err != nil:
		writeError(w, http.StatusBadRequest, result.Err.Error())
	case result.CASFailed:
		writeJSON(w, http.StatusPreconditionFailed, map[string]interface{}{"error": "compare-and-set failed", "index": result.Index})
	default:
		writeJSON(w, http.StatusOK, map[string]uint64{"index": result.Index})
	}
}

// encodePrev maps "?prev=" (empty) to JSON null, "must be absent", as the contract says.
func encodePrev(prev string) json.RawMessage {
	if prev == "" {
		return json.RawMessage("null")
	}
	encoded, _ := json.Marshal([]byte(prev))
	return encoded
}

func (n *node) apply(cmd command) (applyResult, error) {
	data, err := json.Marshal(cmd)
	if err != nil {
		return applyResult{}, err
	}
	future := n.raft.Apply(data, raftTimeout)
	if err := future.Error(); err != nil {
		return applyResult{}, err
	}
	result, ok := future.Response().(applyResult)
	if !ok {
		return applyResult{}, fmt.Errorf("unexpected FSM response %T", future.Response())
	}
	return result, nil
}

// publishOwnHTTPAddress stores this node's HTTP base URL under the reserved key whenever it
// becomes leader, as raftkit members do, so they can point clients at it.
func (n *node) publishOwnHTTPAddress() {
	key := reservedPrefix + "http/" + n.opts.id
	url := "http://" + n.opts.httpAddr
	for isLeader := range n.raft.LeaderCh() {
		if !isLeader {
			continue
		}
		if current, ok := n.fsm.get(key); ok && string(current) == url {
			continue
		}
		if _, err := n.apply(command{Op: "put", Key: key, Value: []byte(url)}); err != nil {
			n.logger.Warn("could not publish HTTP address", "error", err)
		}
	}
}

type leaderInfo struct {
	ID      string `json:"id"`
	Address string `json:"address"`
	HTTP    string `json:"http"`
}

type serverInfo struct {
	ID       string `json:"id"`
	Address  string `json:"address"`
	Suffrage string `json:"suffrage"`
}

type statusInfo struct {
	ID                string       `json:"id"`
	State             string       `json:"state"`
	Term              uint64       `json:"term"`
	Leader            leaderInfo   `json:"leader"`
	LastIndex         uint64       `json:"lastIndex"`
	CommitIndex       uint64       `json:"commitIndex"`
	AppliedIndex      uint64       `json:"appliedIndex"`
	LastSnapshotIndex uint64       `json:"lastSnapshotIndex"`
	Configuration     []serverInfo `json:"configuration"`
}

func (a *api) status() statusInfo {
	r := a.n.raft
	stats := r.Stats()
	statUint := func(name string) uint64 {
		v, _ := strconv.ParseUint(stats[name], 10, 64)
		return v
	}
	servers := a.n.configuration()
	s := statusInfo{
		ID:                a.n.opts.id,
		State:             r.State().String(),
		Term:              statUint("term"),
		Leader:            a.n.leader(servers),
		LastIndex:         r.LastIndex(),
		CommitIndex:       statUint("commit_index"),
		AppliedIndex:      r.AppliedIndex(),
		LastSnapshotIndex: statUint("last_snapshot_index"),
		Configuration:     []serverInfo{},
	}
	for _, server := range servers {
		s.Configuration = append(s.Configuration, serverInfo{
			ID: string(server.ID), Address: string(server.Address), Suffrage: server.Suffrage.String(),
		})
	}
	return s
}

func (n *node) configuration() []raft.Server {
	future := n.raft.GetConfiguration()
	if err := future.Error(); err != nil {
		return nil
	}
	return future.Configuration().Servers
}

// leader resolves the leader's ID from the configuration: raft 1.1.2 only reports its address.
func (n *node) leader(servers []raft.Server) leaderInfo {
	info := leaderInfo{Address: string(n.raft.Leader())}
	if info.Address == "" {
		return info
	}
	for _, server := range servers {
		if string(server.Address) == info.Address {
			info.ID = string(server.ID)
		}
	}
	if addr, ok := n.fsm.get(reservedPrefix + "http/" + info.ID); ok && info.ID != "" {
		info.HTTP = string(addr)
	}
	return info
}

// requireLeader answers 503 with the known leader when this node cannot serve the request.
func (a *api) requireLeader(w http.ResponseWriter) bool {
	if a.n.raft.State() == raft.Leader {
		return true
	}
	writeJSON(w, http.StatusServiceUnavailable, map[string]interface{}{
		"error":  raft.ErrNotLeader.Error(),
		"leader": a.n.leader(a.n.configuration()),
	})
	return false
}

func (a *api) dump(w http.ResponseWriter) {
	// encoding/json writes []byte values as base64 and sorts the keys: the snapshot format.
	writeJSON(w, http.StatusOK, a.n.fsm.copyData())
}

type joinRequest struct {
	ID      string `json:"id"`
	Address string `json:"address"`
	HTTP    string `json:"http"`
	Voter   *bool  `json:"voter"`
}

func (a *api) join(w http.ResponseWriter, r *http.Request) {
	var req joinRequest
	if !readJSON(w, r, &req) {
		return
	}
	if req.ID == "" || req.Address == "" {
		writeError(w, http.StatusBadRequest, "join needs id and address")
		return
	}
	if !a.requireLeader(w) {
		return
	}
	id, address := raft.ServerID(req.ID), raft.ServerAddress(req.Address)
	var future raft.IndexFuture
	if req.Voter == nil || *req.Voter {
		future = a.n.raft.AddVoter(id, address, 0, raftTimeout)
	} else {
		future = a.n.raft.AddNonvoter(id, address, 0, raftTimeout)
	}
	if err := future.Error(); err != nil {
		writeRaftError(w, err)
		return
	}
	if req.HTTP != "" {
		if _, err := a.n.apply(command{Op: "put", Key: reservedPrefix + "http/" + req.ID, Value: []byte(req.HTTP)}); err != nil {
			writeRaftError(w, err)
			return
		}
	}
	writeJSON(w, http.StatusOK, map[string]uint64{"index": future.Index()})
}

func (a *api) remove(w http.ResponseWriter, id string) {
	if id == "" {
		writeError(w, http.StatusBadRequest, "empty server id")
		return
	}
	if !a.requireLeader(w) {
		return
	}
	future := a.n.raft.RemoveServer(raft.ServerID(id), 0, raftTimeout)
	if err := future.Error(); err != nil {
		writeRaftError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]uint64{"index": future.Index()})
}

type transferRequest struct {
	ID      string `json:"id"`
	Address string `json:"address"`
}

func (a *api) transfer(w http.ResponseWriter, r *http.Request) {
	var req transferRequest
	if !readJSON(w, r, &req) {
		return
	}
	if !a.requireLeader(w) {
		return
	}
	var future raft.Future
	if req.ID == "" && req.Address == "" {
		future = a.n.raft.LeadershipTransfer()
	} else {
		address := raft.ServerAddress(req.Address)
		for _, server := range a.n.configuration() {
			if address == "" && string(server.ID) == req.ID {
				address = server.Address
			}
		}
		if req.ID == "" || address == "" {
			writeError(w, http.StatusBadRequest, "transfer target needs an id that is in the configuration")
			return
		}
		future = a.n.raft.LeadershipTransferToServer(raft.ServerID(req.ID), address)
	}
	if err := future.Error(); err != nil {
		writeRaftError(w, err)
		return
	}
	// The new leader is not known yet when the future resolves; callers poll /status for it.
	writeJSON(w, http.StatusOK, map[string]bool{"ok": true})
}

func (a *api) snapshot(w http.ResponseWriter) {
	future := a.n.raft.Snapshot()
	if err := future.Error(); err != nil {
		writeRaftError(w, err)
		return
	}
	meta, reader, err := future.Open()
	if err != nil {
		writeError(w, http.StatusInternalServerError, err.Error())
		return
	}
	reader.Close()
	writeJSON(w, http.StatusOK, map[string]interface{}{"id": meta.ID, "index": meta.Index, "term": meta.Term})
}

func (a *api) barrier(w http.ResponseWriter) {
	if !a.requireLeader(w) {
		return
	}
	if err := a.n.raft.Barrier(raftTimeout).Error(); err != nil {
		writeRaftError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]uint64{"appliedIndex": a.n.raft.AppliedIndex()})
}

// writeRaftError maps raft's errors onto the contract's status codes.
func writeRaftError(w http.ResponseWriter, err error) {
	status := http.StatusInternalServerError
	switch {
	case errors.Is(err, raft.ErrNotLeader), errors.Is(err, raft.ErrLeadershipTransferInProgress),
		errors.Is(err, raft.ErrRaftShutdown):
		status = http.StatusServiceUnavailable
	case errors.Is(err, raft.ErrLeadershipLost), errors.Is(err, raft.ErrEnqueueTimeout):
		status = http.StatusGatewayTimeout
	case errors.Is(err, raft.ErrNothingNewToSnapshot):
		status = http.StatusConflict
	}
	writeError(w, status, err.Error())
}

func readJSON(w http.ResponseWriter, r *http.Request, into interface{}) bool {
	decoder := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxBodyBytes))
	decoder.DisallowUnknownFields()
	if err := decoder.Decode(into); err != nil {
		writeError(w, http.StatusBadRequest, "malformed JSON body: "+err.Error())
		return false
	}
	return true
}

func writeError(w http.ResponseWriter, status int, message string) {
	writeJSON(w, status, map[string]string{"error": message})
}

func writeJSON(w http.ResponseWriter, status int, body interface{}) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(body)
}
