package zmtp

import (
	"bytes"
	"encoding/binary"
	"testing"

	"github.com/go-zeromq/zmq4"

	"github.com/vpoller/zabbix-vpoller/internal/curvekey"
	"github.com/vpoller/zabbix-vpoller/internal/testutil"
)

var fuzzServerKey = func() curvekey.KeyPair {
	kp, err := curvekey.Generate()
	if err != nil {
		panic(err)
	}
	return kp
}()

// FuzzHandshake feeds arbitrary bytes to a server end as the whole of
// what a peer sends, under each mechanism: an error is fine, a panic or a
// huge allocation is not.
func FuzzHandshake(f *testing.F) {
	f.Add(byte(0), append(testutil.Greeting("NULL", false), testutil.Ready("DEALER")...))
	f.Add(byte(0), append(testutil.Greeting("NULL", false), flagCommand|flagLong, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff))
	f.Add(byte(1), append(testutil.Greeting("PLAIN", false), flagCommand, 15, 5, 'H', 'E', 'L', 'L', 'O', 3, 'a', 'b', 'c', 3, 'x', 'y', 'z'))
	f.Add(byte(2), append(testutil.Greeting("CURVE", false), append([]byte{flagCommand, 200, 5}, append([]byte("HELLO"), make([]byte, 194)...)...)...))
	f.Fuzz(func(t *testing.T, mech byte, stream []byte) {
		m := []Mechanism{Null(), PlainServer("vpoller", "secret"), CurveServer(fuzzServerKey, nil)}[int(mech)%3]
		c, err := Open(newPipeConn(stream), Config{Type: zmq4.Router, Mechanism: m, Limits: Limits{MaxMessage: 4096, Discard: 8192}}, true)
		if err != nil {
			return
		}
		for range 8 {
			if _, err := c.ReadMsg(); err != nil {
				if _, ok := IsTooLarge(err); !ok {
					return
				}
			}
		}
	})
}

// FuzzReadMsg reads arbitrary frames after a valid NULL handshake. Every
// message returned respects the limits.
func FuzzReadMsg(f *testing.F) {
	f.Add(frame(true, nil))
	f.Add(append(frame(true, nil), frame(false, []byte(`{"method": "about"}`))...))
	f.Add(append([]byte{flagLong}, binary.BigEndian.AppendUint64(nil, 1<<40)...))
	f.Add(append(frame(true, bytes.Repeat([]byte("a"), 300)), frame(false, bytes.Repeat([]byte("b"), 300))...))
	f.Add([]byte{flagCommand, 7, 4, 'P', 'I', 'N', 'G', 0, 1})
	limits := Limits{MaxMessage: 512, MaxFrames: 8, Discard: 2048}
	f.Fuzz(func(t *testing.T, data []byte) {
		stream := append(append(testutil.Greeting("NULL", false), testutil.Ready("DEALER")...), data...)
		c, err := Open(newPipeConn(stream), Config{Type: zmq4.Router, Limits: limits}, true)
		if err != nil {
			t.Fatalf("valid handshake refused: %v", err)
		}
		for {
			frames, err := c.ReadMsg()
			if te, ok := IsTooLarge(err); ok {
				if te.Size <= limits.MaxMessage || te.Size > limits.Discard {
					t.Fatalf("discarded a message of %d bytes (limit %d, discard %d)", te.Size, limits.MaxMessage, limits.Discard)
				}
				continue
			}
			if err != nil {
				return
			}
			total := 0
			for _, fr := range frames {
				total += len(fr)
			}
			if len(frames) == 0 || len(frames) > limits.MaxFrames || int64(total) > limits.MaxMessage {
				t.Fatalf("message of %d frames, %d bytes passed limits %+v", len(frames), total, limits)
			}
		}
	})
}

func FuzzParseMetadata(f *testing.F) {
	f.Add(marshalMetadata(zmq4.Metadata{propSocketType: "DEALER"}))
	f.Add([]byte{11, 'S', 'o', 'c', 'k', 'e', 't', '-', 'T', 'y', 'p'})
	f.Add([]byte{1, 'x', 0xff, 0xff, 0xff, 0xff})
	f.Fuzz(func(t *testing.T, b []byte) {
		md, err := parseMetadata(b)
		if err != nil {
			return
		}
		total := 0
		for k, v := range md {
			total += 1 + len(k) + 4 + len(v)
		}
		if total > len(b) {
			t.Fatalf("metadata of %d bytes from %d bytes of input", total, len(b))
		}
	})
}

// FuzzCurveOpen: arbitrary MESSAGE bodies never open (forgery) and never
// panic; a sealed one opens exactly once (no replay).
func FuzzCurveOpen(f *testing.F) {
	a, b := fuzzServerKey, func() curvekey.KeyPair { kp, _ := curvekey.Generate(); return kp }()
	key, err := sharedKey((*[32]byte)(&b.Public), (*[32]byte)(&a.Secret))
	if err != nil {
		f.Fatal(err)
	}
	send := newCurveCodec(key, clientPrefix, serverPrefix, 2, 1)
	f.Add(send.seal(nil, curveMore, []byte("hello")))
	f.Add([]byte(messageCommand + "\x00\x00\x00\x00\x00\x00\x00\x05"))
	f.Fuzz(func(t *testing.T, body []byte) {
		recv := newCurveCodec(key, serverPrefix, clientPrefix, 1, 2)
		orig := append([]byte{}, body...)
		if _, _, err := recv.open(body); err == nil {
			// open decrypts in place: the same bytes again must not open.
			if _, _, err := recv.open(orig); err == nil {
				t.Fatal("the same MESSAGE opened twice")
			}
		} else if !bytes.Equal(body, orig) {
			t.Fatal("a MESSAGE that did not open was changed")
		}
	})
}
