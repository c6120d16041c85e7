package main

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"net"
	"strconv"
	"time"
)

// api builds the request of one operation on one key into a reused buffer. "kv" is the raftkit
// KV contract (also spoken by the Go interop node); "etcd" is etcd v3's JSON gateway, whose keys
// and values travel as base64 and whose default range is linearizable.
type api interface {
	put(buf []byte, host string, key []byte, value []byte) []byte
	get(buf []byte, host string, key []byte) []byte
}

type kvAPI struct{}

func (kvAPI) put(buf []byte, host string, key []byte, value []byte) []byte {
	buf = append(buf, "PUT /kv/"...)
	buf = append(buf, key...)
	buf = append(buf, " HTTP/1.1\r\nHost: "...)
	buf = append(buf, host...)
	buf = append(buf, "\r\nContent-Length: "...)
	buf = strconv.AppendInt(buf, int64(len(value)), 10)
	buf = append(buf, "\r\n\r\n"...)
	return append(buf, value...)
}

func (kvAPI) get(buf []byte, host string, key []byte) []byte {
	buf = append(buf, "GET /kv/"...)
	buf = append(buf, key...)
	buf = append(buf, " HTTP/1.1\r\nHost: "...)
	buf = append(buf, host...)
	return append(buf, "\r\n\r\n"...)
}

type etcdAPI struct{}

func appendBase64(buf []byte, raw []byte) []byte {
	n := base64.StdEncoding.EncodedLen(len(raw))
	start := len(buf)
	for i := 0; i < n; i++ {
		buf = append(buf, 0)
	}
	base64.StdEncoding.Encode(buf[start:], raw)
	return buf
}

func etcdPost(buf []byte, path string, host string, bodyLen int) []byte {
	buf = append(buf, "POST "...)
	buf = append(buf, path...)
	buf = append(buf, " HTTP/1.1\r\nHost: "...)
	buf = append(buf, host...)
	buf = append(buf, "\r\nContent-Type: application/json\r\nContent-Length: "...)
	buf = strconv.AppendInt(buf, int64(bodyLen), 10)
	return append(buf, "\r\n\r\n"...)
}

func (etcdAPI) put(buf []byte, host string, key []byte, value []byte) []byte {
	bodyLen := len(`{"key":"","value":""}`) + base64.StdEncoding.EncodedLen(len(key)) +
		base64.StdEncoding.EncodedLen(len(value))
	buf = etcdPost(buf, "/v3/kv/put", host, bodyLen)
	buf = append(buf, `{"key":"`...)
	buf = appendBase64(buf, key)
	buf = append(buf, `","value":"`...)
	buf = appendBase64(buf, value)
	return append(buf, `"}`...)
}

func (etcdAPI) get(buf []byte, host string, key []byte) []byte {
	bodyLen := len(`{"key":""}`) + base64.StdEncoding.EncodedLen(len(key))
	buf = etcdPost(buf, "/v3/kv/range", host, bodyLen)
	buf = append(buf, `{"key":"`...)
	buf = appendBase64(buf, key)
	return append(buf, `"}`...)
}

// conn is one keep-alive HTTP/1.1 connection with one request in flight at a time.
type conn struct {
	c       net.Conn
	r       *bufio.Reader
	timeout time.Duration
}

func dial(hostPort string, timeout time.Duration) (*conn, error) {
	c, err := net.DialTimeout("tcp", hostPort, timeout)
	if err != nil {
		return nil, err
	}
	c.(*net.TCPConn).SetNoDelay(true)
	return &conn{c: c, r: bufio.NewReaderSize(c, 16<<10), timeout: timeout}, nil
}

func (c *conn) close() { c.c.Close() }

var errNoLength = errors.New("response without Content-Length or chunked encoding")

// exchange writes one request and reads its response, discarding the body; it returns the status
// and whether the connection may be reused.
func (c *conn) exchange(request []byte) (status int, reusable bool, err error) {
	c.c.SetDeadline(time.Now().Add(c.timeout))
	if _, err = c.c.Write(request); err != nil {
		return 0, false, err
	}
	line, err := c.r.ReadSlice('\n')
	if err != nil {
		return 0, false, err
	}
	if len(line) < 12 || !bytes.HasPrefix(line, []byte("HTTP/1.")) {
		return 0, false, fmt.Errorf("bad status line %q", line)
	}
	status, err = strconv.Atoi(string(line[9:12]))
	if err != nil {
		return 0, false, fmt.Errorf("bad status line %q", line)
	}
	contentLength, chunked, reusable := -1, false, true
	for {
		line, err = c.r.ReadSlice('\n')
		if err != nil {
			return status, false, err
		}
		if len(line) <= 2 {
			break
		}
		switch {
		case hasHeader(line, "content-length:"):
			contentLength, err = strconv.Atoi(string(bytes.TrimSpace(line[len("content-length:"):])))
			if err != nil {
				return status, false, fmt.Errorf("bad header %q", line)
			}
		case hasHeader(line, "transfer-encoding:"):
			chunked = bytes.Contains(bytes.ToLower(line), []byte("chunked"))
		case hasHeader(line, "connection:"):
			reusable = !bytes.Contains(bytes.ToLower(line), []byte("close"))
		}
	}
	switch {
	case chunked:
		err = c.discardChunked()
	case contentLength >= 0:
		_, err = c.r.Discard(contentLength)
	default:
		err = errNoLength
	}
	return status, reusable && err == nil, err
}

func hasHeader(line []byte, lowerName string) bool {
	if len(line) < len(lowerName) {
		return false
	}
	for i := 0; i < len(lowerName); i++ {
		b := line[i]
		if 'A' <= b && b <= 'Z' {
			b += 'a' - 'A'
		}
		if b != lowerName[i] {
			return false
		}
	}
	return true
}

func (c *conn) discardChunked() error {
	for {
		line, err := c.r.ReadSlice('\n')
		if err != nil {
			return err
		}
		sizeText := bytes.TrimSpace(line)
		if semi := bytes.IndexByte(sizeText, ';'); semi >= 0 {
			sizeText = sizeText[:semi]
		}
		size, err := strconv.ParseInt(string(sizeText), 16, 64)
		if err != nil {
			return fmt.Errorf("bad chunk size %q", line)
		}
		if size == 0 {
			for { // trailers, up to the empty line
				line, err = c.r.ReadSlice('\n')
				if err != nil || len(line) <= 2 {
					return err
				}
			}
		}
		if _, err = c.r.Discard(int(size) + 2); err != nil {
			return err
		}
	}
}
