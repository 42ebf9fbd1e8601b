package objects

import (
	"strings"
	"testing"
)

func TestParseCounterName(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		in   string
		want counterName
		ok   bool
	}{
		{"cpu.usage.percent.average", counterName{"cpu", "usage", "percent", "average"}, true},
		{"net.usage.kiloBytesPerSecond.average", counterName{"net", "usage", "kiloBytesPerSecond", "average"}, true},
		{"vsan.dom.read.latency.millisecond.maximum", counterName{"vsan", "dom.read.latency", "millisecond", "maximum"}, true},
		{"disk.used.kiloBytes.latest", counterName{"disk", "used", "kiloBytes", "latest"}, true},
		{"cpu.usage.percent", counterName{}, false},
		{"cpu.usage.percent.avg", counterName{}, false},
		{"cpu..percent.average", counterName{}, false},
		{"cpu.usage .percent.average", counterName{}, false},
		{"", counterName{}, false},
		{"(null)", counterName{}, false},
	} {
		got, err := parseCounterName(tc.in)
		if (err == nil) != tc.ok || got != tc.want {
			t.Errorf("parseCounterName(%q) = %+v, %v; want %+v ok=%v", tc.in, got, err, tc.want, tc.ok)
		}
	}
}

// FuzzParseCounterName: never panics; what it accepts round-trips.
func FuzzParseCounterName(f *testing.F) {
	for _, s := range []string{"cpu.usage.percent.average", "cpu.usagemhz.megaHertz.average", "disk.used.kiloBytes.latest",
		"vsan.dom.read.latency.millisecond.maximum", "x", "(null)", "a.b.c.none", "...."} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		c, err := parseCounterName(s)
		if err != nil {
			return
		}
		if c.String() != s {
			t.Fatalf("%q parsed to %+v, which prints %q", s, c, c.String())
		}
		if strings.Contains(c.Group, ".") || strings.Contains(c.Unit, ".") || !perfRollups[c.Rollup] {
			t.Fatalf("%q: bad split %+v", s, c)
		}
	})
}
