package agent2

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"testing"
)

// FuzzReadFrame: any byte stream yields frames or a clean error, never a
// panic, and a decoded body re-encodes to the same bytes.
func FuzzReadFrame(f *testing.F) {
	for _, name := range transcripts {
		pids, frames := readTranscript(f, name)
		for _, pid := range pids {
			for _, fr := range frames[pid] {
				f.Add(append(append([]byte(nil), fr.hdr...), fr.body...))
			}
		}
	}
	f.Add([]byte{})
	f.Add([]byte{1, 0, 0, 0, 0xff, 0xff, 0xff, 0xff})
	f.Fuzz(func(t *testing.T, data []byte) {
		r := bytes.NewReader(data)
		for i := 0; i < 100; i++ {
			body, err := ReadFrame(r)
			if err != nil {
				if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
					return
				}
				if !errors.Is(err, ErrPayloadType) && !errors.Is(err, ErrFrameTooLarge) {
					t.Fatalf("unexpected error %v", err)
				}
				continue
			}
			out := AppendFrame(nil, body)
			back, err := ReadFrame(bytes.NewReader(out))
			if err != nil || !bytes.Equal(back, body) {
				t.Fatalf("round trip: %v", err)
			}
			// the dispatcher's decoder must not panic either
			_, _ = decodeInbound(body)
		}
	})
}

// FuzzConfigTree: any private_options value is parsed or refused with an
// error; parsed options have non-empty names without dots.
func FuzzConfigTree(f *testing.F) {
	for _, name := range transcripts {
		pids, frames := readTranscript(f, name)
		for _, pid := range pids {
			for _, fr := range frames[pid] {
				var m struct {
					P json.RawMessage `json:"private_options"`
				}
				if json.Unmarshal(fr.body, &m) == nil && len(m.P) > 0 {
					f.Add([]byte(m.P))
				}
			}
		}
	}
	f.Add([]byte(`null`))
	f.Add([]byte(`{"Name":"VPoller","Nodes":[]}`))
	f.Fuzz(func(t *testing.T, raw []byte) {
		o, err := ParseOptions(raw)
		if err != nil {
			return
		}
		for _, opt := range o.List {
			if len(opt.Path) == 0 {
				t.Fatalf("option without a path: %+v", opt)
			}
			for _, p := range opt.Path {
				if p == "" || bytes.ContainsAny([]byte(p), ".\x00") {
					t.Fatalf("bad name %q", p)
				}
			}
			if got, ok := o.Get(opt.Name()); !ok || got.Name() == "" {
				t.Fatalf("Get(%q) failed", opt.Name())
			}
		}
	})
}
