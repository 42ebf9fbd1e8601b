package vsphere

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/vpoller/zabbix-vpoller/internal/testutil"
	"github.com/vpoller/zabbix-vpoller/vpoller"
)

// A request for a name no agent has is answered with the original's
// message completed: the name, the agents served, the rule and the name
// probably meant; it is logged once per name and period, with the
// repeats counted.
func TestUnknownAgentReply(t *testing.T) {
	t.Parallel()
	var log testutil.Buffer
	s, err := NewService([]AgentConfig{{Name: "vc01.example.org", Simulator: true}, {Name: "vc02.example.org", Simulator: true}},
		Options{Logger: slog.New(slog.NewTextHandler(&log, nil))})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close(context.Background())
	const rule = "names are matched exactly: case matters, and a short name, an FQDN and an IP address are different names"
	for _, tc := range []struct{ name, msg string }{
		{"vc01", `Unknown or missing agent name "vc01": this worker serves vc01.example.org, vc02.example.org (` + rule + `; did you mean "vc01.example.org"?)`},
		{"VC02.EXAMPLE.ORG", `Unknown or missing agent name "VC02.EXAMPLE.ORG": this worker serves vc01.example.org, vc02.example.org (` + rule + `; did you mean "vc02.example.org"?)`},
		{"", `Unknown or missing agent name: the request names no vCenter (hostname, -V); this worker serves vc01.example.org, vc02.example.org`},
	} {
		r := s.Execute(context.Background(), &vpoller.Request{Method: "vm.discover", Hostname: tc.name})
		if r.Success != 1 || r.Msg != tc.msg || r.Result != nil {
			t.Errorf("%q: %s\nwant msg %s", tc.name, r.Encode(vpoller.Python), tc.msg)
		}
	}
	none, err := NewService(nil, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if r := none.Execute(context.Background(), &vpoller.Request{Method: "vm.discover", Hostname: "vc01"}); !strings.Contains(r.Msg,
		"this worker serves no vCenter (add a file to its vsphere_hosts_dir or a row to its vconnector db, then reload it: vpoller-worker reload, or SIGHUP)") {
		t.Errorf("no agents: %q", r.Msg)
	}
	for range 5 {
		s.Execute(context.Background(), &vpoller.Request{Method: "vm.discover", Hostname: "vc01"})
	}
	if n := strings.Count(log.String(), "vcenter=vc01 "); n != 1 {
		t.Errorf("vc01 logged %d times, want 1:\n%s", n, log.String())
	}
}

// The log remembers a bounded number of names and logs a name again once
// its period has passed, with the repeats in between.
func TestUnknownLogBounds(t *testing.T) {
	t.Parallel()
	var log testutil.Buffer
	l := slog.New(slog.NewTextHandler(&log, nil))
	var u unknownLog
	now := time.Now()
	for i := range unknownLogNames * 3 {
		u.note(l, fmt.Sprint("name", i), nil, now)
	}
	if len(u.seen) > unknownLogNames {
		t.Fatalf("%d names remembered, cap %d", len(u.seen), unknownLogNames)
	}
	var log2 testutil.Buffer
	l2 := slog.New(slog.NewTextHandler(&log2, nil))
	var u2 unknownLog
	u2.note(l2, "x", nil, now)
	u2.note(l2, "x", nil, now.Add(time.Minute))
	u2.note(l2, "x", nil, now.Add(2*time.Minute))
	u2.note(l2, "x", nil, now.Add(unknownLogEvery+time.Second))
	if n := strings.Count(log2.String(), "vcenter=x "); n != 2 || !strings.Contains(log2.String(), "repeats_not_logged=2") {
		t.Errorf("log:\n%s\nwant 2 lines, the second with repeats_not_logged=2", log2.String())
	}
}
