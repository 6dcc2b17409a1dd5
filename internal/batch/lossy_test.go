package batch

import (
	"context"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// lossy dials connections that lose the answers to chosen produce
// requests: the broker handled the request, but the client's connection
// breaks as the answer arrives, as when a network fails at the wrong time.
type lossy struct {
	mu       sync.Mutex
	produces int          // produce requests written
	version  int16        // the version of the last one
	drop     map[int]bool // which of them, counted from 1, lose their answer
	// lost are the answers lost, as the broker gave them.
	lost []*kmsg.ProduceResponse
}

func (l *lossy) dial(ctx context.Context, network, host string) (net.Conn, error) {
	c, err := (&net.Dialer{Timeout: 10 * time.Second}).DialContext(ctx, network, host)
	if err != nil {
		return nil, err
	}
	return &lossyConn{Conn: c, l: l, lose: map[int32]int16{}}, nil
}

func (l *lossy) answersLost() []*kmsg.ProduceResponse {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]*kmsg.ProduceResponse(nil), l.lost...)
}

type lossyConn struct {
	net.Conn
	l *lossy
	// lose holds the correlation ids of the requests whose answers
	// to lose, with their versions; guarded by l.mu.
	lose map[int32]int16
	// frame is what is left to read of the answer being read.
	frame []byte
}

// Write notes the produce requests to lose the answers of: kgo writes a
// request in one call, its size, key, version and correlation id first.
func (c *lossyConn) Write(b []byte) (int, error) {
	if len(b) >= 12 && int16(binary.BigEndian.Uint16(b[4:])) == int16(kmsg.Produce) {
		c.l.mu.Lock()
		c.l.produces++
		c.l.version = int16(binary.BigEndian.Uint16(b[6:]))
		if c.l.drop[c.l.produces] {
			c.lose[int32(binary.BigEndian.Uint32(b[8:]))] = int16(binary.BigEndian.Uint16(b[6:]))
		}
		c.l.mu.Unlock()
	}
	return c.Conn.Write(b)
}

// Read reads answers whole; one to lose breaks the connection instead.
func (c *lossyConn) Read(b []byte) (int, error) {
	if len(c.frame) == 0 {
		var size [4]byte
		if _, err := io.ReadFull(c.Conn, size[:]); err != nil {
			return 0, err
		}
		body := make([]byte, binary.BigEndian.Uint32(size[:]))
		if _, err := io.ReadFull(c.Conn, body); err != nil {
			return 0, err
		}
		corr := int32(binary.BigEndian.Uint32(body))
		c.l.mu.Lock()
		version, lose := c.lose[corr]
		if lose {
			delete(c.lose, corr)
			c.l.lost = append(c.l.lost, produceResponse(version, body[4:]))
		}
		c.l.mu.Unlock()
		if lose {
			c.Conn.Close()
			return 0, errors.New("lossy: the answer was lost")
		}
		c.frame = append(size[:], body...)
	}
	n := copy(b, c.frame)
	c.frame = c.frame[n:]
	return n, nil
}

// produceResponse reads a produce response after its correlation id, or
// returns nil.
func produceResponse(version int16, b []byte) *kmsg.ProduceResponse {
	if version >= 9 { // a flexible response header: tagged fields
		n, l := binary.Uvarint(b)
		if l <= 0 {
			return nil
		}
		b = b[l:]
		for range n {
			_, l1 := binary.Uvarint(b)
			size, l2 := binary.Uvarint(b[max(l1, 0):])
			if l1 <= 0 || l2 <= 0 || uint64(len(b)) < uint64(l1+l2)+size {
				return nil
			}
			b = b[uint64(l1+l2)+size:]
		}
	}
	resp := kmsg.NewPtrProduceResponse()
	resp.Version = version
	if resp.ReadFrom(b) != nil {
		return nil
	}
	return resp
}
