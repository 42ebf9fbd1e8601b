package mgmt

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/user"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vpoller/zabbix-vpoller/internal/config"
	"github.com/vpoller/zabbix-vpoller/internal/zmtp"
	"github.com/vpoller/zabbix-vpoller/vpoller"
)

// The directory of an ipc:// socket is created (0750) when missing.
func TestRuntimeDirCreated(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "run", "vpoller")
	_, ep := startAt(t, "ipc://"+filepath.Join(dir, "proxy-mgmt.sock"), nil)
	st, err := os.Stat(dir)
	if err != nil || !st.IsDir() || st.Mode().Perm() != 0o750 {
		t.Fatalf("%s: %v %v", dir, st, err)
	}
	if _, err := Command(context.Background(), ep, "status", 3*time.Second, nil); err != nil {
		t.Fatal(err)
	}
	if err := RuntimeDir("tcp://127.0.0.1:1"); err != nil {
		t.Fatal(err)
	}
}

// The messages name the user and the command that fixes it.
func TestRuntimeDirFix(t *testing.T) {
	u, err := user.Current()
	if err != nil {
		t.Fatal(err)
	}
	name := u.Username
	if u.Uid == "0" {
		name = "vpoller" // root runs the daemon for another user
	}
	for _, tc := range []struct {
		exists bool
		want   string
	}{
		{false, "user " + name + " may not create /run/vpoller: as root run install -d -m 0750 -o " + name + " -g "},
		{true, "user " + name + " may not write in /run/vpoller: as root run chown " + name + ":"},
	} {
		got := runtimeDirFix("/run/vpoller", tc.exists)
		if !strings.HasPrefix(got, tc.want) || !strings.HasSuffix(got, "or set mgmt to an ipc:// path user "+name+" may write") {
			t.Errorf("exists=%v: %q\nwant prefix %q", tc.exists, got, tc.want)
		}
	}
}

// status --pretty indents the reply; the order of the fields is kept.
func TestRunCommandPretty(t *testing.T) {
	_, ep := startAt(t, "ipc://"+filepath.Join(t.TempDir(), "m.sock"), nil)
	var out, errb bytes.Buffer
	code := RunCommand(context.Background(), CommandOptions{Prog: "vpoller-proxy", Endpoint: ep, Cmd: "status", Timeout: 3 * time.Second, Pretty: true}, &out, &errb)
	want := "{\n  \"success\": 0,\n  \"msg\": \"vPoller Proxy status\",\n  \"result\": {\n    \"status\": \"running\",\n    \"hostname\": \"vm\",\n    \"version\": \"1.2.3~mgmt\"\n  }\n}\n"
	if code != 0 || out.String() != want || errb.String() != "" {
		t.Fatalf("exit %d\n%s\nstderr %s\nwant\n%s", code, out.String(), errb.String(), want)
	}
}

// A daemon still listening on an ipc socket the configuration no
// longer names (mgmt moved to tcp with a secret) is reached: the
// configured endpoint is refused, the fallback socket answers, and stderr
// says what was tried.
func TestRunCommandFallsBack(t *testing.T) {
	old := "ipc://" + filepath.Join(t.TempDir(), "worker-mgmt.sock")
	s, _ := startAt(t, old, nil)
	secret := filepath.Join(t.TempDir(), "mgmt.secret")
	if err := os.WriteFile(secret, []byte("a-management-secret-of-32-bytes-or-more\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	var out, errb bytes.Buffer
	code := RunCommand(context.Background(), CommandOptions{Prog: "vpoller-worker", Cmd: "stop", Timeout: 2 * time.Second,
		Endpoint: "tcp://127.0.0.1:1", Security: config.Security{SecretFile: secret}, Fallback: old}, &out, &errb)
	if code != 0 || out.String() != `{"success": 0, "msg": "Shutdown time has arrived"}`+"\n" {
		t.Fatalf("exit %d: %s\nstderr: %s", code, out.String(), errb.String())
	}
	for _, want := range []string{"tcp://127.0.0.1:1", "connection refused", "trying " + old + ", the built-in management socket"} {
		if !strings.Contains(errb.String(), want) {
			t.Errorf("stderr lacks %q:\n%s", want, errb.String())
		}
	}
	<-s.ShutdownRequested()

	// No socket file at the fallback: not tried.
	errb.Reset()
	code = RunCommand(context.Background(), CommandOptions{Prog: "vpoller-worker", Cmd: "status", Timeout: time.Second,
		Endpoint: "tcp://127.0.0.1:1", Fallback: "ipc://" + filepath.Join(t.TempDir(), "none.sock")}, &out, &errb)
	if code != 1 || strings.Contains(errb.String(), "trying") {
		t.Errorf("exit %d, stderr %s", code, errb.String())
	}
}

// An ipc socket started before a secret was configured is reached
// without it.
func TestRunCommandIPCWithoutCredentials(t *testing.T) {
	s, ep := startAt(t, "ipc://"+filepath.Join(t.TempDir(), "m.sock"), zmtp.Null())
	secret := filepath.Join(t.TempDir(), "mgmt.secret")
	if err := os.WriteFile(secret, []byte("a-management-secret-of-32-bytes-or-more\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	var out, errb bytes.Buffer
	code := RunCommand(context.Background(), CommandOptions{Prog: "vpoller-proxy", Cmd: "stop", Timeout: 2 * time.Second,
		Endpoint: ep, Security: config.Security{SecretFile: secret}}, &out, &errb)
	if code != 0 || !strings.Contains(errb.String(), "without the configured credentials") {
		t.Fatalf("exit %d: %s\nstderr: %s", code, out.String(), errb.String())
	}
	<-s.ShutdownRequested()
}

// reload calls the daemon's Reload and answers with its result; over an
// unauthenticated tcp socket it is refused like shutdown; a daemon
// without one answers it as an unknown method.
func TestReload(t *testing.T) {
	calls := 0
	opts := func() Options {
		return Options{StatusMsg: "vPoller Worker status", Logger: discard(), Reload: func() (vpoller.Object, error) {
			calls++
			if calls == 2 {
				return nil, errors.New("vsphere_hosts_dir: no such directory")
			}
			return vpoller.Object{{Key: "added", Value: []any{"vc2"}}}, nil
		}}
	}
	s, err := Listen(context.Background(), "ipc://"+filepath.Join(t.TempDir(), "w.sock"), opts())
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for _, want := range []string{`{"success": 0, "msg": "Reloaded", "result": {"added": ["vc2"]}}`,
		`{"success": 1, "msg": "Reload failed: vsphere_hosts_dir: no such directory"}`} {
		got, err := Command(context.Background(), s.Endpoint(), "reload", 3*time.Second, nil)
		if err != nil || string(got) != want {
			t.Errorf("reload: %s %v, want %s", got, err, want)
		}
	}
	tcp, err := Listen(context.Background(), "tcp://127.0.0.1:0", opts())
	if err != nil {
		t.Fatal(err)
	}
	defer tcp.Close()
	if got, err := Command(context.Background(), tcp.Endpoint(), "reload", 3*time.Second, nil); err != nil || !strings.Contains(string(got), MsgReloadRefused) {
		t.Errorf("reload over unauthenticated tcp: %s %v", got, err)
	}
	if calls != 2 {
		t.Errorf("Reload called %d times, want 2", calls)
	}
	_, ep := start(t) // no Reload: the proxy
	if got, _ := Command(context.Background(), ep, "reload", 3*time.Second, nil); string(got) != `{"success": 1, "msg": "Uknown method name received"}` {
		t.Errorf("reload without a Reload: %s", got)
	}
}
