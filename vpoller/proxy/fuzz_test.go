package proxy

import (
	"bytes"
	"encoding/binary"
	"testing"
)

// frameList encodes frames as a fuzz input: each frame is a 1-byte length
// then its bytes (a compact seed format, not the wire format).
func frameList(data []byte) [][]byte {
	var out [][]byte
	for len(data) > 0 {
		n := int(data[0])
		data = data[1:]
		n = min(n, len(data))
		out = append(out, data[:n])
		data = data[n:]
	}
	return out
}

func encodeFrameList(frames ...string) []byte {
	var b []byte
	for _, f := range frames {
		b = append(b, byte(len(f)))
		b = append(b, f...)
	}
	return b
}

func FuzzSplitEnvelope(f *testing.F) {
	f.Add(encodeFrameList("", `{"method": "about"}`))                 // REQ client
	f.Add(encodeFrameList(`{"method": "about"}`))                     // bare DEALER
	f.Add(encodeFrameList("\x00k\x8bEg", "", `{"method": "vm.get"}`)) // DEALER with identity
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, data []byte) {
		frames := frameList(data)
		env, payload, err := splitEnvelope(frames)
		if err != nil {
			if len(frames) != 0 && len(frames) <= maxEnvelopeFrames+1 {
				t.Fatalf("%d frames refused: %v", len(frames), err)
			}
			return
		}
		// The reply keeps the envelope: same frames before the payload.
		back := replyFrames(env, payload)
		if len(back) != len(frames) {
			t.Fatalf("round trip %d frames, want %d", len(back), len(frames))
		}
		for i := range frames {
			if !bytes.Equal(back[i], frames[i]) {
				t.Fatalf("frame %d changed", i)
			}
		}
	})
}

func FuzzSplitWorkerReply(f *testing.F) {
	f.Add(encodeFrameList("\x01\x02\x03\x04\x00\x00\x00\x00\x00\x00\x00\x07", "", `{"success": 0, "msg": "ok"}`))
	f.Add(encodeFrameList("READY"))
	f.Add(encodeFrameList("id", "reply"))
	f.Add(encodeFrameList("id", "x", "reply"))
	f.Fuzz(func(t *testing.T, data []byte) {
		frames := frameList(data)
		id, reply, err := splitWorkerReply(frames)
		if err != nil {
			return
		}
		if id != string(frames[0]) || !bytes.Equal(reply, frames[len(frames)-1]) {
			t.Fatalf("id %q reply %q from %q", id, reply, frames)
		}
	})
}

// zmtpStream renders frames the way a ZMTP peer sends them after the
// greeting.
func zmtpStream(frames ...[]byte) []byte {
	out := make([]byte, zmtpGreetingLen)
	for i, f := range frames {
		var flags byte
		if i < len(frames)-1 {
			flags |= 0x01
		}
		if len(f) > 255 {
			out = append(out, flags|flagLong)
			out = binary.BigEndian.AppendUint64(out, uint64(len(f)))
		} else {
			out = append(out, flags, byte(len(f)))
		}
		out = append(out, f...)
	}
	return out
}

func TestFrameGuard(t *testing.T) {
	for _, tc := range []struct {
		name   string
		stream []byte
		limit  uint64
		ok     bool
	}{
		{"short frames", zmtpStream([]byte{}, []byte("hello")), 10, true},
		{"long frame at limit", zmtpStream(bytes.Repeat([]byte("a"), 300)), 300, true},
		{"long frame over limit", zmtpStream(bytes.Repeat([]byte("a"), 301)), 300, false},
		{"absurd header", append(make([]byte, zmtpGreetingLen), 0x02, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff), 1 << 30, false},
		{"greeting only", make([]byte, zmtpGreetingLen), 0, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, chunk := range []int{1, 3, 64, len(tc.stream)} {
				g := newFrameGuard(tc.limit)
				var err error
				for b := tc.stream; len(b) > 0 && err == nil; {
					n := min(chunk, len(b))
					err = g.feed(b[:n])
					b = b[n:]
				}
				if (err == nil) != tc.ok {
					t.Errorf("chunk %d: err = %v, want ok=%v", chunk, err, tc.ok)
				}
			}
		})
	}
}

// The guard's verdict does not depend on how the stream is split into reads.
func FuzzFrameGuard(f *testing.F) {
	f.Add(zmtpStream([]byte("a"), bytes.Repeat([]byte("b"), 400)), uint16(300), uint8(7))
	f.Add(zmtpStream([]byte(`{"method": "about"}`)), uint16(1000), uint8(1))
	f.Add(append(make([]byte, zmtpGreetingLen), 0x06, 0x7f, 0, 0, 0, 0, 0, 0, 0), uint16(10), uint8(2))
	f.Fuzz(func(t *testing.T, stream []byte, limit uint16, chunk uint8) {
		whole := newFrameGuard(uint64(limit)).feed(stream)
		g := newFrameGuard(uint64(limit))
		var split error
		step := int(chunk) + 1
		for b := stream; len(b) > 0 && split == nil; {
			n := min(step, len(b))
			split = g.feed(b[:n])
			b = b[n:]
		}
		if (whole == nil) != (split == nil) {
			t.Fatalf("whole: %v, in chunks of %d: %v", whole, step, split)
		}
	})
}

// appendMessage produces exactly the stream zmq4's decoder reads back.
func TestAppendMessageDecodes(t *testing.T) {
	frames := [][]byte{[]byte("id"), {}, bytes.Repeat([]byte("é"), 200), {0}}
	stream := appendMessage(nil, frames)
	if want := zmtpStream(frames...)[zmtpGreetingLen:]; !bytes.Equal(stream, want) {
		t.Fatalf("encoded %x\nwant    %x", stream, want)
	}
}
