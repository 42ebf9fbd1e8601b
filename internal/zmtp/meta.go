package zmtp

import (
	"encoding/binary"
	"fmt"
	"sort"
	"strings"

	"github.com/go-zeromq/zmq4"
)

// Metadata property names zmq4 checks, in the case it stores them.
const (
	propSocketType = "Socket-Type"
	propIdentity   = "Identity"
)

// maxMetadataValue is the largest value RFC 23 allows (2^31-1 octets).
const maxMetadataValue = 1<<31 - 1

// validPropertyName reports whether name is a metadata property name as
// ZMTP (RFC 23) defines it: 1 to 255 characters, each a letter, a digit
// or one of "-_.+".
func validPropertyName(name string) bool {
	if len(name) == 0 || len(name) > 255 {
		return false
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || strings.IndexByte("-_.+", c) >= 0) {
			return false
		}
	}
	return true
}

// parseMetadata reads ZMTP metadata (name length, name, value length,
// value; repeated). zmq4's own parser indexes past the end of short input
// (a panic from 20 bytes of a hostile peer), so handshakes use this one.
// Names must be valid (validPropertyName) and appear once: they are case
// insensitive, and a second Socket-Type would leave which one counts to
// chance.
func parseMetadata(b []byte) (zmq4.Metadata, error) {
	md := zmq4.Metadata{}
	seen := map[string]bool{}
	for len(b) > 0 {
		n := int(b[0])
		b = b[1:]
		if n == 0 || len(b) < n+4 {
			return nil, fmt.Errorf("%w: truncated metadata property", ErrProtocol)
		}
		name := string(b[:n])
		b = b[n:]
		if !validPropertyName(name) {
			return nil, fmt.Errorf("%w: metadata property name %q (letters, digits and -_.+ only)", ErrProtocol, name)
		}
		lower := strings.ToLower(name)
		if seen[lower] {
			return nil, fmt.Errorf("%w: metadata property %q given twice", ErrProtocol, name)
		}
		seen[lower] = true
		vlen := binary.BigEndian.Uint32(b)
		b = b[4:]
		if vlen > maxMetadataValue || uint64(vlen) > uint64(len(b)) {
			return nil, fmt.Errorf("%w: metadata value of %d bytes with %d left", ErrProtocol, vlen, len(b))
		}
		switch {
		case strings.EqualFold(name, propSocketType):
			name = propSocketType
		case strings.EqualFold(name, propIdentity):
			name = propIdentity
		}
		md[name] = string(b[:vlen])
		b = b[vlen:]
	}
	return md, nil
}

// marshalMetadata writes our metadata: the socket type and the identity,
// as libzmq and zmq4 send them, then any application properties
// (Config.Metadata) in name order.
func marshalMetadata(md zmq4.Metadata) []byte {
	var out []byte
	put := func(k, v string) {
		out = append(out, byte(len(k)))
		out = append(out, k...)
		out = binary.BigEndian.AppendUint32(out, uint32(len(v)))
		out = append(out, v...)
	}
	put(propSocketType, md[propSocketType])
	put(propIdentity, md[propIdentity])
	extra := make([]string, 0, len(md))
	for k := range md {
		if k != propSocketType && k != propIdentity {
			extra = append(extra, k)
		}
	}
	sort.Strings(extra)
	for _, k := range extra {
		put(k, md[k])
	}
	return out
}

// checkMetadata reports whether every name can be sent as an application
// metadata property: RFC 37 reserves the "X-" prefix for them, and a
// name is at most 255 letters, digits and -_.+ (RFC 23).
func checkMetadata(md map[string]string) error {
	for name, value := range md {
		if len(name) < 3 || !strings.HasPrefix(name, "X-") || !validPropertyName(name) {
			return fmt.Errorf("metadata property %q: application properties are named X-... (at most 255 letters, digits and -_.+)", name)
		}
		if len(value) > maxMetadataValue {
			return fmt.Errorf("metadata property %q: value of %d bytes", name, len(value))
		}
	}
	return nil
}

// withMetadata wraps a handshake so that it sends extra application
// metadata properties with its READY or INITIATE: zmq4.Open fills the
// connection's metadata with the socket type and identity only.
type withMetadata struct {
	handshake
	extra map[string]string
}

func (h withMetadata) Handshake(conn *zmq4.Conn, server bool) error {
	for k, v := range h.extra {
		conn.Meta[k] = v
	}
	return h.handshake.Handshake(conn, server)
}
