package devcluster

import (
	"encoding/binary"
	"net"
	"sync"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// kfake serves SASLHandshake v1 only and advertises it as 1..1.
// librdkafka (kcat, confluent-kafka for Python, Go, .NET…) decides whether a
// broker has the handshake by looking for v0 in the broker's range: its
// feature table makes SaslHandshake 0..0 the condition of
// RD_KAFKA_FEATURE_SASL_HANDSHAKE. Without it, librdkafka refuses every
// mechanism but GSSAPI with "SASL Handshake not supported by broker". A
// real broker advertises 0..1, and librdkafka then sends v1 followed by
// SaslAuthenticate, which kfake serves.
//
// So while SASL is on, each broker connection goes through handshakeConn,
// which lowers SaslHandshake's minimum to 0 in ApiVersions responses. kfake
// gives no hook to change a response it builds (a ControlKey function
// replaces the whole answer, features and version handling included), and
// its listeners come from ListenFn, so the wrapper sits there, above TLS.
// A client that really sends v0 (Kafka clients before 1.0, which then
// speak raw SASL frames) is still refused by kfake: the connection closes.

// handshakeListener wraps every accepted connection in a handshakeConn.
type handshakeListener struct{ net.Listener }

func (l handshakeListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return &handshakeConn{Conn: c, apiVersions: map[int32]int16{}}, nil
}

// requestHeader is the length of what handshakeConn reads of a request:
// size, key, version, correlation ID.
const requestHeader = 4 + 2 + 2 + 4

// handshakeConn notes the correlation ID and version of each ApiVersions
// request the broker reads, and rewrites the matching responses it writes.
// Read and Write run on different goroutines; mu guards apiVersions only.
type handshakeConn struct {
	net.Conn

	mu          sync.Mutex
	apiVersions map[int32]int16 // correlation ID → version of ApiVersions requests not yet answered

	// Read side: the header of the request being read, then how many of
	// its bytes remain to pass.
	header []byte
	skip   int

	// Write side: response bytes not yet a whole frame.
	out []byte
}

func (c *handshakeConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	c.scan(p[:n])
	return n, err
}

// scan follows the request frames in b, which continues what was read
// before.
func (c *handshakeConn) scan(b []byte) {
	for len(b) > 0 {
		if c.skip > 0 {
			k := min(c.skip, len(b))
			c.skip, b = c.skip-k, b[k:]
			continue
		}
		k := min(requestHeader-len(c.header), len(b))
		c.header, b = append(c.header, b[:k]...), b[k:]
		if len(c.header) < requestHeader {
			return
		}
		size := int(int32(binary.BigEndian.Uint32(c.header)))
		if key := int16(binary.BigEndian.Uint16(c.header[4:])); key == int16(kmsg.ApiVersions) {
			version := int16(binary.BigEndian.Uint16(c.header[6:]))
			corr := int32(binary.BigEndian.Uint32(c.header[8:]))
			c.mu.Lock()
			c.apiVersions[corr] = version
			c.mu.Unlock()
		}
		c.header, c.skip = c.header[:0], max(0, size-(requestHeader-4))
	}
}

// Write passes whole response frames on, rewritten when they answer
// ApiVersions; kfake writes one frame a call, but a frame split across
// calls is held until it is whole.
func (c *handshakeConn) Write(p []byte) (int, error) {
	c.out = append(c.out, p...)
	for len(c.out) >= 4 {
		end := 4 + int(binary.BigEndian.Uint32(c.out))
		if len(c.out) < end {
			break
		}
		if _, err := c.Conn.Write(c.rewrite(c.out[:end])); err != nil {
			c.out = c.out[:0]
			return 0, err
		}
		c.out = append(c.out[:0], c.out[end:]...)
	}
	return len(p), nil
}

// rewrite returns frame (size, correlation ID, body) with SaslHandshake's
// minimum version lowered to 0 when it answers ApiVersions without error;
// anything else, including what it cannot decode, passes as it is.
func (c *handshakeConn) rewrite(frame []byte) []byte {
	if len(frame) < 8 {
		return frame
	}
	corr := int32(binary.BigEndian.Uint32(frame[4:]))
	c.mu.Lock()
	version, ok := c.apiVersions[corr]
	delete(c.apiVersions, corr)
	c.mu.Unlock()
	if !ok {
		return frame
	}
	// An ApiVersions response header is never flexible: the body follows
	// the correlation ID. A version kfake does not serve is answered at
	// v0 with UNSUPPORTED_VERSION, which the error check lets through.
	resp := kmsg.NewPtrApiVersionsResponse()
	resp.SetVersion(version)
	if err := resp.ReadFrom(frame[8:]); err != nil || resp.ErrorCode != 0 {
		return frame
	}
	changed := false
	for i := range resp.ApiKeys {
		if k := &resp.ApiKeys[i]; k.ApiKey == int16(kmsg.SASLHandshake) && k.MinVersion > 0 {
			k.MinVersion, changed = 0, true
		}
	}
	if !changed {
		return frame
	}
	out := resp.AppendTo(append(make([]byte, 0, len(frame)), frame[:8]...))
	binary.BigEndian.PutUint32(out, uint32(len(out)-4))
	return out
}
