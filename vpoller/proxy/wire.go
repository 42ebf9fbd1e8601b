package proxy

import "encoding/binary"

// ZMTP frame flags (RFC 23).
const (
	flagMore = 0x01
)

// appendMessage encodes frames as one ZMTP message (NULL security: frames
// go as they are). The proxy writes a whole message with a single Write so
// that it costs one system call and cannot be split by another writer;
// zmq4's SendMsg, given a wrapped net.Conn, writes each header and body
// separately.
func appendMessage(dst []byte, frames [][]byte) []byte {
	for i, f := range frames {
		var flags byte
		if i < len(frames)-1 {
			flags |= flagMore
		}
		if len(f) > 255 {
			dst = append(dst, flags|flagLong)
			dst = binary.BigEndian.AppendUint64(dst, uint64(len(f)))
		} else {
			dst = append(dst, flags, byte(len(f)))
		}
		dst = append(dst, f...)
	}
	return dst
}
