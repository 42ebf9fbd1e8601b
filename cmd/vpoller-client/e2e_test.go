package main

import (
	"bytes"
	"errors"
	"net"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vpoller/zabbix-vpoller/internal/testutil"
)

// buildCLI compiles the command once per test run (TestMain removes it).
var buildCLI = sync.OnceValues(func() (string, error) {
	bin := filepath.Join(binDir, "vpoller-client")
	return bin, testutil.GoBuild(bin, ".")
})

func runCLI(t *testing.T, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	bin, err := buildCLI()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, args...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err = cmd.Run()
	var exit *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &exit):
		code = exit.ExitCode()
	default:
		t.Fatal(err)
	}
	return out.String(), errb.String(), code
}

func TestCLIEndToEnd(t *testing.T) {
	const vmGet = `{"success": 0, "msg": "Successfully retrieved object properties", "result": [{"name": "DC0_C0_RP0_VM0", "runtime.powerState": "poweredOn"}]}`
	var mu sync.Mutex
	var seen []string
	ep := testutil.StartRouter(t, "127.0.0.1:0", testutil.Reply(func(req []byte) []byte {
		mu.Lock()
		seen = append(seen, string(req))
		mu.Unlock()
		switch {
		case bytes.Contains(req, []byte(`"helper": "vpoller.helpers.czabbix"`)):
			return []byte("poweredOn\x00")
		case bytes.Contains(req, []byte(`"helper": "vpoller.helpers.zabbix"`)):
			return []byte(`"poweredOn"`)
		default:
			return []byte(vmGet)
		}
	})).Endpoint()
	for _, tc := range []struct {
		args   string
		stdout string
	}{
		{"-m vm.get -V 127.0.0.1 -n DC0_C0_RP0_VM0 -p runtime.powerState", vmGet + "\n"},
		{"-m vm.get -V 127.0.0.1 -n DC0_C0_RP0_VM0 -p runtime.powerState -H vpoller.helpers.zabbix", "\"poweredOn\"\n"},
		{"-m vm.get -V 127.0.0.1 -n DC0_C0_RP0_VM0 -p runtime.powerState -H vpoller.helpers.czabbix", "poweredOn\x00\n"},
	} {
		stdout, stderr, code := runCLI(t, append(strings.Fields(tc.args), "-e", ep, "-t", "5000")...)
		if code != 0 || stdout != tc.stdout || stderr != "" {
			t.Errorf("vpoller-client %s: rc=%d stdout=%q stderr=%q; want rc=0 stdout=%q", tc.args, code, stdout, stderr, tc.stdout)
		}
	}
	want := `{"method": "vm.get", "hostname": "127.0.0.1", "name": "DC0_C0_RP0_VM0", "username": null, "password": null, "key": null, "properties": ["runtime.powerState"], "counter-name": null, "instance": null, "max-sample": null, "perf-interval": null, "helper": null}`
	mu.Lock()
	defer mu.Unlock()
	if len(seen) != 3 || seen[0] != want {
		t.Errorf("proxy received %q, first want %s", seen, want)
	}
}

func TestCLINoReply(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	_ = l.Close() // nothing listens there now
	start := time.Now()
	stdout, stderr, code := runCLI(t, "-m", "about", "-V", "127.0.0.1", "-e", "tcp://"+addr, "-t", "200", "-r", "2")
	elapsed := time.Since(start)
	// The original's output: its reply object on stdout, exit status 0;
	// on stderr its message, then what happened: the
	// proxy refused, and where.
	wantErr := "Did not receive response, aborting...\nvpoller-client: vPoller proxy tcp://" + addr + ": connection refused (kept trying for 200ms) (2 times)\n"
	if code != 0 || stdout != `{"success": 1, "msg": "Did not receive response, aborting..."}`+"\n" || stderr != wantErr {
		t.Errorf("rc=%d stdout=%q stderr=%q; want rc=0, the original's reply and stderr %q", code, stdout, stderr, wantErr)
	}
	if elapsed > 3*time.Second {
		t.Errorf("2 attempts of 200 ms took %v", elapsed)
	}
}

func TestCLIUsageAndVersion(t *testing.T) {
	stdout, _, code := runCLI(t, "--version")
	if code != 0 || !strings.HasPrefix(stdout, "vpoller-client ") {
		t.Errorf("--version: rc=%d stdout=%q", code, stdout)
	}
	stdout, _, code = runCLI(t, "-h")
	if code != 0 || !strings.Contains(stdout, "-m <method>, --method <method>") {
		t.Errorf("-h: rc=%d stdout=%q", code, stdout)
	}
	_, stderr, code := runCLI(t, "-m", "about")
	if code != 2 || !strings.Contains(stderr, "-V <host> is required") {
		t.Errorf("missing -V: rc=%d stderr=%q", code, stderr)
	}
	_, stderr, code = runCLI(t, "-m", "about", "-V", "x", "-e", "udp://x:1")
	if code != 2 || !strings.Contains(stderr, "unsupported transport") {
		t.Errorf("bad endpoint: rc=%d stderr=%q", code, stderr)
	}
}

// -e takes a list of proxy frontends: with the first down (nothing
// listens) the second answers, and -D shows the refused attempt; with all
// down the output is the original's no-reply object; a list with a
// duplicate is a usage error.
func TestCLIEndpointList(t *testing.T) {
	const reply = `{"success": 0, "msg": "Successfully retrieved object properties", "result": [{"name": "DC0_C0_RP0_VM0", "runtime.powerState": "poweredOn"}]}`
	srv := testutil.StartRouter(t, "127.0.0.1:0", testutil.Reply(func([]byte) []byte { return []byte(reply) }))
	dead, dead2 := "tcp://"+testutil.FreeAddr(t), "tcp://"+testutil.FreeAddr(t)
	args := []string{"-m", "vm.get", "-V", "127.0.0.1", "-n", "DC0_C0_RP0_VM0", "-p", "runtime.powerState"}

	// -r 1: still one attempt per endpoint. -t: 10 minutes per attempt,
	// which the refused first endpoint must not wait for (the test run's
	// own timeout would end it first).
	stdout, stderr, code := runCLI(t, append(args, "-D", "-r", "1", "-t", "600000", "-e", dead+", "+srv.Endpoint())...)
	if code != 0 || stdout != reply+"\n" {
		t.Fatalf("rc=%d stdout=%q stderr=%q; want the second proxy's reply", code, stdout, stderr)
	}
	wantLog := `msg="Did not receive response, retrying..." endpoints="` + dead + `, ` + srv.Endpoint() + `" attempt=1 of=2 endpoint=` + dead +
		` cause="connection refused" next=` + srv.Endpoint()
	if !strings.Contains(stderr, wantLog) {
		t.Fatalf("-D log:\n%s\nwant a line with\n%s", stderr, wantLog)
	}
	if n := srv.Received(); n != 1 {
		t.Fatalf("the second proxy saw %d requests, want 1", n)
	}

	stdout, stderr, code = runCLI(t, append(args, "-D", "-r", "2", "-t", "200", "-e", dead+","+dead2)...)
	if code != 0 || stdout != `{"success": 1, "msg": "Did not receive response, aborting..."}`+"\n" {
		t.Fatalf("all down: rc=%d stdout=%q", code, stdout)
	}
	for _, want := range []string{dead + " connection refused; " + dead2 + " connection refused (kept trying every endpoint for 200ms)",
		"\nDid not receive response, aborting...\n"} {
		if !strings.Contains(stderr, want) {
			t.Errorf("all down: stderr\n%s\nlacks %q", stderr, want)
		}
	}

	_, stderr, code = runCLI(t, append(args, "-e", srv.Endpoint()+","+srv.Endpoint())...)
	if code != 2 || !strings.Contains(stderr, "is listed twice") {
		t.Fatalf("duplicate: rc=%d stderr=%q", code, stderr)
	}
	if stdout, _, _ := runCLI(t, "-h"); !strings.Contains(stdout, "comma-separated list of\n") || !strings.Contains(stdout, "at least one per\n") {
		t.Fatalf("-h does not describe the endpoint list:\n%s", stdout)
	}
}
