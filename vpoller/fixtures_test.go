package vpoller

import (
	"reflect"
	"strings"
	"testing"

	"github.com/vpoller/zabbix-vpoller/internal/fixtures"
)

// readFixtures reads testdata/py-vpoller-frames.txt (a copy of the shared
// capture of the original Python proxy and worker).
func readFixtures(t testing.TB) []fixtures.Frame {
	t.Helper()
	frames, err := fixtures.ReadFrames("testdata/py-vpoller-frames.txt")
	if err != nil {
		t.Fatal(err)
	}
	return frames
}

// TestFixtureRepliesRoundTrip decodes every captured reply that is a
// vPoller reply object and re-encodes it: the bytes must be identical,
// which proves the ordered value model and the Python-style encoder.
func TestFixtureRepliesRoundTrip(t *testing.T) {
	n := 0
	for _, fx := range readFixtures(t) {
		for _, rep := range fx.Rep {
			if !strings.HasPrefix(string(rep), `{"success"`) && !strings.HasPrefix(string(rep), `{"data"`) {
				continue
			}
			style := Python
			if strings.Contains(fx.Title, "cclient") {
				style = PythonASCII
			}
			rep = []byte(strings.TrimSuffix(string(rep), "\x00")) // czabbix/cclient NUL
			v, err := DecodeValue(rep)
			if err != nil {
				t.Fatalf("%s: decode: %v", fx.Title, err)
			}
			got, err := Marshal(v, style)
			if err != nil {
				t.Fatalf("%s: encode: %v", fx.Title, err)
			}
			if string(got) != string(rep) {
				t.Errorf("%s:\n got %s\nwant %s", fx.Title, got, rep)
			}
			n++
		}
	}
	if n < 30 {
		t.Fatalf("only %d replies compared; fixture parsing broken?", n)
	}
}

// TestFixtureRequestsDecode decodes every captured request the way the
// worker does and checks the fields real clients rely on.
func TestFixtureRequestsDecode(t *testing.T) {
	for _, fx := range readFixtures(t) {
		if fx.Req == nil {
			continue
		}
		r, err := DecodeRequest(fx.Req)
		if fx.Title == "not a dict" {
			me, ok := err.(*MessageError)
			if !ok || me.Msg != "Expected a JSON message, received <class 'list'>" {
				t.Fatalf("not a dict: got %v", err)
			}
			continue
		}
		if err != nil {
			t.Fatalf("%s: %v", fx.Title, err)
		}
		if fx.Title == "C-module style message" {
			if r.Key != "" || r.Username != "" || r.CounterName != "" || r.PerfInterval != "" || r.MaxSample != 1 {
				t.Errorf("C module (null) values not treated as not given: %+v", r)
			}
			if r.Helper != "vpoller.helpers.czabbix" || r.Name != "vm01" || len(r.Properties) != 1 || r.Properties[0] != "p" {
				t.Errorf("C module request fields: %+v", r)
			}
		}
	}
}

func TestMarshalPythonStyle(t *testing.T) {
	cases := []struct {
		name  string
		in    any
		style Style
		want  string
	}{
		{"float fraction", 12.5, Python, `12.5`},
		{"float integral", 3.0, Python, `3.0`},
		{"float small", 0.00001, Python, `1e-05`},
		{"float large", 1e16, Python, `1e+16`},
		{"float just below large", 1e15, Python, `1000000000000000.0`},
		{"html not escaped", "<a&b>", Python, `"<a&b>"`},
		{"control chars", "a\x01\n\"\\", Python, `"a\u0001\n\"\\"`},
		{"utf8 raw", "ünï", Python, `"ünï"`},
		{"utf8 ascii", "ünï", PythonASCII, `"\u00fcn\u00ef"`},
		{"astral ascii", "😀", PythonASCII, `"\ud83d\ude00"`},
		{"del ascii", "\x7f", PythonASCII, `"\u007f"`},
		{"object order", Object{{"b", 1}, {"a", []any{true, nil}}}, Python, `{"b": 1, "a": [true, null]}`},
		{"object compact", Object{{"b", 1}, {"a", "x"}}, Compact, `{"b":1,"a":"x"}`},
		{"map sorted", map[string]any{"b": 1, "a": 2}, Python, `{"a": 2, "b": 1}`},
		{"nil slice", []string(nil), Python, `[]`},
	}
	for _, c := range cases {
		got, err := Marshal(c.in, c.style)
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		if string(got) != c.want {
			t.Errorf("%s: got %s want %s", c.name, got, c.want)
		}
	}
}

func TestDecodeRequestLenient(t *testing.T) {
	cases := []struct {
		name    string
		in      string
		want    Request
		wantMsg string
	}{
		{"nulls", `{"method":"vm.get","hostname":"vc","name":null,"properties":null,"max-sample":null}`,
			Request{Method: "vm.get", Hostname: "vc"}, ""},
		{"numbers as strings", `{"method":"host.perf.metric.get","max-sample":"5","name":123}`,
			Request{Method: "host.perf.metric.get", MaxSample: 5, Name: "123"}, ""},
		{"properties as text", `{"properties":"name, runtime.powerState,,(null)"}`,
			Request{Properties: []string{"name", "runtime.powerState"}}, ""},
		{"unknown keys ignored", `{"method":"about","counter-id":"1","x":{"y":[1]}}`,
			Request{Method: "about"}, ""},
		{"not json", `{"method":`, Request{}, MsgInvalidMessage},
		{"string", `"x"`, Request{}, "Expected a JSON message, received <class 'str'>"},
		{"number", `1.5`, Request{}, "Expected a JSON message, received <class 'float'>"},
		{"null", `null`, Request{}, "Expected a JSON message, received <class 'NoneType'>"},
		{"bad properties", `{"properties":{"a":1}}`, Request{}, MsgInvalidTask},
		{"bad max-sample", `{"max-sample":"-3"}`, Request{}, MsgInvalidTask},
		{"trailing garbage", `{} x`, Request{}, MsgInvalidMessage},
	}
	for _, c := range cases {
		r, err := DecodeRequest([]byte(c.in))
		if c.wantMsg != "" {
			me, ok := err.(*MessageError)
			if !ok || me.Msg != c.wantMsg {
				t.Errorf("%s: got err %v, want message %q", c.name, err, c.wantMsg)
			}
			continue
		}
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		if string(r.Encode()) != string(c.want.Encode()) {
			t.Errorf("%s: got %s want %s", c.name, r.Encode(), c.want.Encode())
		}
	}
}

func TestRequestEncodeLikePythonClient(t *testing.T) {
	r := Request{Method: "vm.discover", Hostname: "vc01.example.org", Properties: []string{"runtime.powerState"}}
	want := `{"method": "vm.discover", "hostname": "vc01.example.org", "name": null, "username": null, "password": null, "key": null, "properties": ["runtime.powerState"], "counter-name": null, "instance": null, "max-sample": null, "perf-interval": null, "helper": null}`
	if got := string(r.Encode()); got != want {
		t.Fatalf("got  %s\nwant %s", got, want)
	}
}

func FuzzDecodeRequest(f *testing.F) {
	for _, fx := range readFixtures(f) {
		if fx.Req != nil {
			f.Add(fx.Req)
		}
	}
	f.Add([]byte(`{"max-sample": 1e400}`))
	f.Add([]byte(`[[[[[[[[[[[[[[[[[[[[`))
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := DecodeRequest(data)
		if err != nil {
			if _, ok := err.(*MessageError); !ok {
				t.Fatalf("error of type %T: %v", err, err)
			}
			return
		}
		// A decoded request must survive its own encoding unchanged.
		r2, err := DecodeRequest(r.Encode())
		if err != nil {
			t.Fatalf("re-decode: %v", err)
		}
		if string(r2.Encode()) != string(r.Encode()) {
			t.Fatalf("round trip changed request: %s vs %s", r.Encode(), r2.Encode())
		}
	})
}

func FuzzDecodeResponse(f *testing.F) {
	for _, fx := range readFixtures(f) {
		for _, rep := range fx.Rep {
			f.Add(rep)
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := DecodeResponse(data)
		if err != nil {
			return
		}
		if _, err := DecodeResponse(r.Encode(Python)); err != nil {
			t.Fatalf("re-decode of own encoding: %v", err)
		}
	})
}

func TestSplitProperties(t *testing.T) {
	for in, want := range map[string][]string{
		"":                         nil,
		",":                        nil,
		"runtime.powerState":       {"runtime.powerState"},
		"a,b,c":                    {"a", "b", "c"},
		" a , b ,":                 {"a", "b"},
		"summary.config.name,,x.y": {"summary.config.name", "x.y"},
	} {
		if got := SplitProperties(in); !reflect.DeepEqual(got, want) {
			t.Errorf("SplitProperties(%q) = %q, want %q", in, got, want)
		}
	}
}
