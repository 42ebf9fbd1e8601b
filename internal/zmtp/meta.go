package zmtp

import (
	"encoding/binary"
	"fmt"
	"strings"

	"github.com/go-zeromq/zmq4"
)

// Metadata property names zmq4 checks, in the case it stores them.
const (
	propSocketType = "Socket-Type"
	propIdentity   = "Identity"
)

// parseMetadata reads ZMTP metadata (name length, name, value length,
// value; repeated). zmq4's own parser indexes past the end of short input
// (a panic from 20 bytes of a hostile peer), so handshakes use this one.
func parseMetadata(b []byte) (zmq4.Metadata, error) {
	md := zmq4.Metadata{}
	for len(b) > 0 {
		n := int(b[0])
		b = b[1:]
		if n == 0 || len(b) < n+4 {
			return nil, fmt.Errorf("%w: truncated metadata property", ErrProtocol)
		}
		name := string(b[:n])
		b = b[n:]
		vlen := binary.BigEndian.Uint32(b)
		b = b[4:]
		if uint64(vlen) > uint64(len(b)) {
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

// marshalMetadata writes our metadata: the socket type and an empty
// identity, as libzmq and zmq4 send them.
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
	return out
}
