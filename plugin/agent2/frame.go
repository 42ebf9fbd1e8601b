package agent2

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// HeaderSize is the size of a frame header: uint32 LE payload type, uint32
// LE body length.
const HeaderSize = 8

// PayloadJSON is the only payload type the agents use.
const PayloadJSON uint32 = 1

// MaxFrameSize bounds a body we are willing to hold in memory. Agents send
// configuration trees and Export requests of a few KB; replies (LLD JSON)
// can reach several MB.
const MaxFrameSize = 64 << 20

// ErrFrameTooLarge reports a header announcing more than MaxFrameSize bytes.
// ReadFrame has already skipped the body, so the stream stays in sync.
var ErrFrameTooLarge = errors.New("agent2: frame too large")

// ErrPayloadType reports a header whose payload type is not PayloadJSON.
// ReadFrame has already consumed the body, so the stream stays in sync.
var ErrPayloadType = errors.New("agent2: unknown payload type")

// ReadFrame reads one frame and returns its body. It reads exactly the
// announced number of bytes (io.ReadFull), so bodies of any size below
// MaxFrameSize are fine. Frames with an unknown payload type or an oversized
// body are consumed and reported with ErrPayloadType or ErrFrameTooLarge so
// the caller can carry on; any other error (io.EOF, io.ErrUnexpectedEOF)
// means the stream is gone.
func ReadFrame(r io.Reader) ([]byte, error) {
	var hdr [HeaderSize]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		return nil, err
	}
	typ := binary.LittleEndian.Uint32(hdr[0:4])
	n := binary.LittleEndian.Uint32(hdr[4:8])
	if uint64(n) > MaxFrameSize {
		if _, err := io.CopyN(io.Discard, r, int64(n)); err != nil {
			return nil, unexpected(err)
		}
		return nil, fmt.Errorf("%w: %d bytes (limit %d)", ErrFrameTooLarge, n, MaxFrameSize)
	}
	body := make([]byte, n)
	if _, err := io.ReadFull(r, body); err != nil {
		return nil, unexpected(err)
	}
	if typ != PayloadJSON {
		return nil, fmt.Errorf("%w %d", ErrPayloadType, typ)
	}
	return body, nil
}

// unexpected turns an EOF inside a frame into io.ErrUnexpectedEOF: only an
// EOF between frames is an orderly close.
func unexpected(err error) error {
	if errors.Is(err, io.EOF) {
		return io.ErrUnexpectedEOF
	}
	return err
}

// AppendFrame appends a whole frame (header and body) to dst. Building the
// frame in one buffer lets the writer send it with a single Write.
func AppendFrame(dst, body []byte) []byte {
	dst = binary.LittleEndian.AppendUint32(dst, PayloadJSON)
	dst = binary.LittleEndian.AppendUint32(dst, uint32(len(body)))
	return append(dst, body...)
}

// WriteFrame writes one frame with a single Write call. Callers sharing w
// between goroutines must serialise calls (Session does).
func WriteFrame(w io.Writer, body []byte) error {
	if len(body) > MaxFrameSize {
		return fmt.Errorf("%w: %d bytes (limit %d)", ErrFrameTooLarge, len(body), MaxFrameSize)
	}
	_, err := w.Write(AppendFrame(make([]byte, 0, HeaderSize+len(body)), body))
	return err
}
