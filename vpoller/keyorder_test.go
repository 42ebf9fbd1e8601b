package vpoller

import (
	"bufio"
	"bytes"
	"errors"
	"log/slog"
	"os"
	"strings"
	"testing"
)

// The original's replies against the simulator (testdata, captured from
// py-vpoller): for every successful reply of a catalogue method, our
// encoding of the same reply object reproduces its bytes, "msg" first
// where the original writes it first. The families covered by the capture
// are the general methods (about), discovery, properties and performance
// samples; MsgFirst names the other methods the original orders the same
// way.
func TestOriginalKeyOrder(t *testing.T) {
	f, err := os.Open("testdata/py-vpoller-vcsim-replies.txt")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 64<<20)
	var method string
	checked := map[string]int{}
	msgFirst := map[bool]int{}
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "REQUEST") {
			_, js, _ := strings.Cut(line, ": ")
			req, err := DecodeRequest([]byte(js))
			if err != nil {
				method = ""
				continue
			}
			method = req.Method
			continue
		}
		if !strings.HasPrefix(line, "REPLY") || method == "" {
			continue
		}
		_, js, _ := strings.Cut(line, "): ")
		if !strings.HasPrefix(js, "{") {
			continue
		}
		if _, known := Method(method); !known {
			continue
		}
		resp, err := DecodeResponse([]byte(js))
		if err != nil || resp.Failed() {
			continue
		}
		got := resp.EncodeFor(method, Python)
		if !bytes.Equal(got, []byte(js)) {
			t.Errorf("%s:\n got %.200s\nwant %.200s", method, got, js)
		}
		checked[method]++
		msgFirst[strings.HasPrefix(js, `{"msg"`)]++
		method = ""
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if len(checked) < 5 || msgFirst[true] == 0 || msgFirst[false] == 0 {
		t.Fatalf("too few replies checked: %v (msg first: %d, success first: %d)", checked, msgFirst[true], msgFirst[false])
	}
	t.Logf("checked %v; msg first %d, success first %d", checked, msgFirst[true], msgFirst[false])
}

// Failures keep success first, for every method.
func TestFailuresKeepSuccessFirst(t *testing.T) {
	for _, m := range []string{"about", "vm.perf.metric.get", "vm.get"} {
		if got := string(Fail("Cannot find object x").EncodeFor(m, Python)); got != `{"success": 1, "msg": "Cannot find object x"}` {
			t.Errorf("%s: %s", m, got)
		}
	}
	want := map[string]bool{"about": true, "event.latest": true, "session.get": true, "perf.interval.info": true, "perf.metric.info": false,
		"host.perf.metric.info": true, "vm.perf.metric.get": true, "datastore.perf.metric.get": true, "vm.get": false, "vm.discover": false,
		"net.host.get": false}
	for m, w := range want {
		mi, _ := Method(m)
		if mi.MsgFirst() != w {
			t.Errorf("%s: MsgFirst %v, want %v", m, mi.MsgFirst(), w)
		}
	}
}

func TestTaskFailedAndGuard(t *testing.T) {
	cause := errors.New("boom")
	r := TaskFailed("vm.get", "it broke", cause)
	if string(r.Encode(Python)) != `{"success": 1, "msg": "Task vm.get failed", "traceback": "it broke"}` || r.Cause != cause {
		t.Fatalf("%s %v", r.Encode(Python), r.Cause)
	}
	log := slog.New(slog.DiscardHandler)
	r = Guard("vm.get", log, func() *Response { panic("nil map") })
	if r.Msg != "Task vm.get failed" || !strings.HasPrefix(r.Traceback, "panic: nil map\n\ngoroutine ") {
		t.Fatalf("panic: %+v", r)
	}
	if r = Guard("about", log, func() *Response { return nil }); r.Msg != "Task about failed" || r.Traceback != "handler returned no reply" {
		t.Fatalf("nil reply: %+v", r)
	}
	if r = Guard("about", log, func() *Response { return OK("fine", nil) }); r.Failed() {
		t.Fatalf("ok: %+v", r)
	}
}
