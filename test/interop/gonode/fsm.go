package main

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"sync"

	"github.com/hashicorp/raft"
)

// command is one entry of the KV contract (DESIGN.md): the same JSON that raftkit's KV service
// writes into log entries, so that both implementations replicate one state.
type command struct {
	Op    string          `json:"op"`
	Key   string          `json:"key"`
	Value []byte          `json:"value"`
	Prev  json.RawMessage `json:"prev"`
}

// applyResult is what Apply hands back through the ApplyFuture.
type applyResult struct {
	Index     uint64
	CASFailed bool
	Err       error
}

// kvFSM holds the replicated map. Invalid commands are no-ops on every member (Apply is
// deterministic), reported back to the proposer through applyResult.Err.
type kvFSM struct {
	mu   sync.RWMutex
	data map[string][]byte
}

func newKVFSM() *kvFSM {
	return &kvFSM{data: make(map[string][]byte)}
}

func (f *kvFSM) Apply(entry *raft.Log) interface{} {
	var cmd command
	if err := json.Unmarshal(entry.Data, &cmd); err != nil {
		return applyResult{Index: entry.Index, Err: fmt.Errorf("malformed command: %v", err)}
	}
	if cmd.Key == "" {
		return applyResult{Index: entry.Index, Err: fmt.Errorf("command without key")}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	switch cmd.Op {
	case "put":
		f.data[cmd.Key] = cmd.Value
	case "delete":
		delete(f.data, cmd.Key)
	case "cas":
		expected, mustBeAbsent, err := decodePrev(cmd.Prev)
		if err != nil {
			return applyResult{Index: entry.Index, Err: err}
		}
		current, present := f.data[cmd.Key]
		matches := (mustBeAbsent && !present) || (!mustBeAbsent && present && bytes.Equal(current, expected))
		if !matches {
			return applyResult{Index: entry.Index, CASFailed: true}
		}
		f.data[cmd.Key] = cmd.Value
	default:
		return applyResult{Index: entry.Index, Err: fmt.Errorf("unknown op %q", cmd.Op)}
	}
	return applyResult{Index: entry.Index}
}

// decodePrev reads a cas command's "prev": null means "must be absent", a string is base64.
// A missing field is refused so that a typo never turns into an unconditional write.
func decodePrev(raw json.RawMessage) (expected []byte, mustBeAbsent bool, err error) {
	if len(raw) == 0 {
		return nil, false, fmt.Errorf("cas command without prev")
	}
	if string(raw) == "null" {
		return nil, true, nil
	}
	if err := json.Unmarshal(raw, &expected); err != nil {
		return nil, false, fmt.Errorf("cas prev is not base64: %v", err)
	}
	if expected == nil {
		expected = []byte{}
	}
	return expected, false, nil
}

func (f *kvFSM) get(key string) ([]byte, bool) {
	f.mu.RLock()
	defer f.mu.RUnlock()
	value, ok := f.data[key]
	return value, ok
}

// copyData returns a shallow copy; values are never mutated in place, only replaced.
func (f *kvFSM) copyData() map[string][]byte {
	f.mu.RLock()
	defer f.mu.RUnlock()
	out := make(map[string][]byte, len(f.data))
	for k, v := range f.data {
		out[k] = v
	}
	return out
}

func (f *kvFSM) Snapshot() (raft.FSMSnapshot, error) {
	return &kvSnapshot{data: f.copyData()}, nil
}

// Restore replaces the whole map with a snapshot in any format of docs/kv-contract.md:
// version 1, one JSON object of key -> base64 value (what Persist writes), version 2, the
// newline-delimited records ({"format":2,...} first, then one {"k","v"} line per key), or version
// 3, the binary records a raftkit leader sends by default (key records only: the lease, lock and
// history records are state this KV node does not keep).
func (f *kvFSM) Restore(reader io.ReadCloser) error {
	defer reader.Close()
	raw, err := io.ReadAll(reader)
	if err != nil {
		return err
	}
	if bytes.HasPrefix(raw, v3Magic) {
		restored, err := restoreV3(raw[len(v3Magic):])
		if err != nil {
			return err
		}
		f.mu.Lock()
		f.data = restored
		f.mu.Unlock()
		return nil
	}
	restored := make(map[string][]byte)
	var header struct {
		Format int `json:"format"`
	}
	firstLine := raw
	if i := bytes.IndexByte(raw, '\n'); i >= 0 {
		firstLine = raw[:i]
	}
	if json.Unmarshal(firstLine, &header) == nil && header.Format == 2 {
		for _, line := range bytes.Split(raw, []byte("\n"))[1:] {
			if len(bytes.TrimSpace(line)) == 0 {
				continue
			}
			var record struct {
				K *string `json:"k"`
				V []byte  `json:"v"`
			}
			if err := json.Unmarshal(line, &record); err != nil {
				return fmt.Errorf("snapshot v2 line is not JSON: %v", err)
			}
			if record.K != nil {
				restored[*record.K] = record.V
			}
		}
	} else if err := json.Unmarshal(raw, &restored); err != nil {
		return fmt.Errorf("snapshot is not a JSON object of base64 values: %v", err)
	}
	f.mu.Lock()
	f.data = restored
	f.mu.Unlock()
	return nil
}

var v3Magic = []byte("RAFTKIT-KV\x03")

// restoreV3 reads the key records (type 2: u64 revision, u64 lease, u32 key length, key, value)
// of a version 3 snapshot; each record is u32 body length, u8 type, body; type 6 ends it.
func restoreV3(raw []byte) (map[string][]byte, error) {
	restored := make(map[string][]byte)
	for {
		if len(raw) < 5 {
			return nil, fmt.Errorf("snapshot v3 ends without its end record")
		}
		length := int(binary.BigEndian.Uint32(raw))
		kind := raw[4]
		if len(raw)-5 < length {
			return nil, fmt.Errorf("snapshot v3 ends in the middle of a record")
		}
		body := raw[5 : 5+length]
		raw = raw[5+length:]
		switch kind {
		case 6:
			return restored, nil
		case 2:
			if len(body) < 20 {
				return nil, fmt.Errorf("snapshot v3 key record too short")
			}
			keyLength := int(binary.BigEndian.Uint32(body[16:]))
			if len(body)-20 < keyLength {
				return nil, fmt.Errorf("snapshot v3 key overruns its record")
			}
			restored[string(body[20:20+keyLength])] = append([]byte{}, body[20+keyLength:]...)
		}
	}
}

type kvSnapshot struct {
	data map[string][]byte
}

// Persist writes keys in sorted order (encoding/json sorts map keys) so equal states give
// byte-identical snapshots on every member.
func (s *kvSnapshot) Persist(sink raft.SnapshotSink) error {
	encoded, err := json.Marshal(s.data)
	if err == nil {
		_, err = sink.Write(encoded)
	}
	if err != nil {
		sink.Cancel()
		return err
	}
	return sink.Close()
}

func (s *kvSnapshot) Release() {}
