package proxy

import (
	"bytes"
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
