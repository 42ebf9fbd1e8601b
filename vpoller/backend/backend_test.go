package backend

import (
	"slices"
	"strings"
	"testing"
)

func TestAnnouncement(t *testing.T) {
	a := Announcement{ID: "host1 ipc:///run/vpoller/worker-mgmt.sock", Serves: []string{"vc2", "vc1", "vc1"}, Queue: 64}
	got, err := ParseAnnouncement(a.Encode())
	if err != nil {
		t.Fatal(err)
	}
	if got.ID != a.ID || !slices.Equal(got.Serves, []string{"vc1", "vc2"}) || got.Queue != 64 {
		t.Fatalf("round trip: %+v", got)
	}
	for _, bad := range []struct{ in, want string }{
		{``, "EOF"},
		{`{"id":""}`, "id of 0 bytes"},
		{`{"id":"w","serves":[""]}`, "vCenter name of 0 bytes"},
		{`{"id":"w","queue":-1}`, "queue -1"},
		{`{"id":"w","serves":"vc1"}`, "cannot unmarshal"},
		{`{"id":"w","extra":1}`, "unknown field"},
		{`{"id":"` + strings.Repeat("x", 256) + `"}`, "id of 256 bytes"},
	} {
		if _, err := ParseAnnouncement(bad.in); err == nil || !strings.Contains(err.Error(), bad.want) {
			t.Errorf("ParseAnnouncement(%.40q) = %v, want an error with %q", bad.in, err, bad.want)
		}
	}
}

func TestAssignment(t *testing.T) {
	a := Assignment{Owner: []string{"vc1"}}
	f := a.Frames()
	if string(f[2]) != `{"owner":["vc1"],"standby":[]}` {
		t.Fatalf("frames %q", f)
	}
	got, err := ParseAssignment(f)
	if err != nil || !slices.Equal(got.Owner, []string{"vc1"}) || len(got.Standby) != 0 {
		t.Fatalf("round trip %+v %v", got, err)
	}
	if _, err := ParseAssignment([][]byte{[]byte("id"), {}, []byte("{}")}); err != ErrNotControl {
		t.Errorf("a request: %v", err)
	}
	if _, err := ParseAssignment([][]byte{[]byte(ControlTag), []byte("other"), []byte("{}")}); err == nil {
		t.Error("unknown command accepted")
	}
}

func FuzzParseAnnouncement(f *testing.F) {
	f.Add(Announcement{ID: "w", Serves: []string{"a", "b"}, Queue: 3}.Encode())
	f.Add(`{"id":"w","serves":null}`)
	f.Fuzz(func(t *testing.T, s string) {
		a, err := ParseAnnouncement(s)
		if err != nil {
			return
		}
		if a.ID == "" || len(a.Serves) > MaxServed || !slices.IsSorted(a.Serves) {
			t.Fatalf("accepted %+v", a)
		}
		if b, err := ParseAnnouncement(a.Encode()); err != nil || b.ID != a.ID || !slices.Equal(b.Serves, a.Serves) {
			t.Fatalf("re-encoding %+v: %+v %v", a, b, err)
		}
	})
}

func FuzzParseAssignment(f *testing.F) {
	f.Add([]byte(`{"owner":["vc1"],"standby":[]}`))
	f.Add([]byte(`{"owner":null}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		a, err := ParseAssignment([][]byte{[]byte(ControlTag), []byte(CmdAssign), body})
		if err != nil {
			return
		}
		if _, err := ParseAssignment(a.Frames()); err != nil {
			t.Fatalf("re-encoding %+v: %v", a, err)
		}
	})
}
