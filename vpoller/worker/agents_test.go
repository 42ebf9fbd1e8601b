package worker

import (
	"bytes"
	"context"
	"database/sql"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/vpoller/zabbix-vpoller/vpoller/vsphere"
)

// vconnectorDB creates a database with the original vconnector schema.
func vconnectorDB(t *testing.T, rows [][4]any) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "vconnector.db")
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	// The schema vconnector creates (vconnector/core.py).
	if _, err := db.Exec(`CREATE TABLE hosts (host TEXT UNIQUE, user TEXT, pwd TEXT, enabled INTEGER)`); err != nil {
		t.Fatal(err)
	}
	for _, r := range rows {
		if _, err := db.Exec(`INSERT INTO hosts VALUES (?, ?, ?, ?)`, r[0], r[1], r[2], r[3]); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Chmod(path, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func writeFile(t *testing.T, dir, name, text string, mode os.FileMode) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(text), mode); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(p, mode); err != nil { // umask-proof
		t.Fatal(err)
	}
	return p
}

func TestLoadAgentsFromDBAndDir(t *testing.T) {
	db := vconnectorDB(t, [][4]any{
		{"vc01.example.org", "root", "s3cret", 1},
		{"vc02.example.org", "admin", "pw2", 0}, // disabled
		{"esx01.example.org", "root", "pw3", 1}, // completed by a file below
		{"vc03.example.org", "u", nil, nil},     // NULL enabled: not enabled
	})
	dir := t.TempDir()
	writeFile(t, dir, "esx01.conf", "hostname = esx01.example.org\nthumbprint = "+strings.Repeat("ab", 32)+"\nport = 8443\ntimeout = 2.5\n", 0o644)
	writeFile(t, dir, "vcsim.local.conf", "[Default]\nhostname = vcsim.local\nsimulator = true\nsimulator_model = esx\n", 0o644)
	writeFile(t, dir, "lab.conf", "hostname=lab.example.org\nusername=ro@vsphere.local\npassword=pw\ninsecure=yes\nca_file=ca.pem\n", 0o600)
	writeFile(t, dir, "notes.txt", "not an agent file", 0o644)
	writeFile(t, dir, "vc.conf.example", "hostname = example\npassword = x\n", 0o644)

	got, err := LoadAgents(context.Background(), db, dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	tp := strings.TrimSuffix(strings.Repeat("AB:", 32), ":")
	want := []vsphere.AgentConfig{
		{Name: "esx01.example.org", Username: "root", Password: "pw3", Port: 8443, Timeout: 2500 * time.Millisecond, Thumbprint: tp},
		{Name: "lab.example.org", Username: "ro@vsphere.local", Password: "pw", Insecure: true, CAFile: filepath.Join(dir, "ca.pem")},
		{Name: "vc01.example.org", Username: "root", Password: "s3cret"},
		{Name: "vcsim.local", Simulator: true, SimulatorModel: "esx"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("agents\n got %+v\nwant %+v", got, want)
	}
	// The result is what the vSphere service accepts.
	svc, err := vsphere.NewService(got, vsphere.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer svc.Close(context.Background())
	if names := svc.Agents(); len(names) != 4 {
		t.Fatalf("service agents %q", names)
	}
}

func TestFileOverridesDBCredentials(t *testing.T) {
	db := vconnectorDB(t, [][4]any{{"vc01", "dbuser", "dbpw", 1}})
	dir := t.TempDir()
	writeFile(t, dir, "vc01.conf", "hostname = vc01\nusername = fileuser\npassword = filepw\ninsecure = true\n", 0o640)
	got, err := LoadAgents(context.Background(), db, dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0].Username != "fileuser" || got[0].Password != "filepw" || !got[0].Insecure {
		t.Fatalf("%+v", got)
	}
}

func TestLoadAgentsRefusals(t *testing.T) {
	ctx := context.Background()
	t.Run("world-readable DB", func(t *testing.T) {
		db := vconnectorDB(t, [][4]any{{"vc01", "u", "p", 1}})
		os.Chmod(db, 0o644)
		_, err := LoadAgents(ctx, db, "", nil)
		if err == nil || !strings.Contains(err.Error(), "readable by every user") || !strings.Contains(err.Error(), "chmod o-rwx "+db) {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("world-readable file with password", func(t *testing.T) {
		dir := t.TempDir()
		p := writeFile(t, dir, "vc.conf", "hostname = vc\nusername = u\npassword = p\n", 0o644)
		_, err := LoadAgents(ctx, "", dir, nil)
		if err == nil || !strings.Contains(err.Error(), p) || !strings.Contains(err.Error(), "mode 0644") {
			t.Fatalf("err = %v", err)
		}
	})
	for _, mode := range []os.FileMode{0o602, 0o620, 0o664} {
		t.Run(fmt.Sprintf("file writable by others, mode %04o", mode), func(t *testing.T) {
			dir := t.TempDir()
			p := writeFile(t, dir, "vc.conf", "hostname = vc\nsimulator = true\n", mode)
			_, err := LoadAgents(ctx, "", dir, nil)
			if err == nil || !strings.Contains(err.Error(), "writable by group or others") || !strings.Contains(err.Error(), "chmod go-w "+p) {
				t.Fatalf("err = %v", err)
			}
		})
	}
	t.Run("group-writable DB", func(t *testing.T) {
		db := vconnectorDB(t, [][4]any{{"vc01", "u", "p", 1}})
		os.Chmod(db, 0o660)
		if _, err := LoadAgents(ctx, db, "", nil); err == nil || !strings.Contains(err.Error(), "writable by group or others") {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("world-readable file without password is fine", func(t *testing.T) {
		dir := t.TempDir()
		writeFile(t, dir, "vc.conf", "hostname = vc\nsimulator = true\n", 0o644)
		if _, err := LoadAgents(ctx, "", dir, nil); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("duplicate hostname", func(t *testing.T) {
		dir := t.TempDir()
		writeFile(t, dir, "a.conf", "hostname = vc\nsimulator = true\n", 0o644)
		writeFile(t, dir, "b.conf", "hostname = vc\nsimulator = true\n", 0o644)
		if _, err := LoadAgents(ctx, "", dir, nil); err == nil || !strings.Contains(err.Error(), "defined in") {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("missing DB", func(t *testing.T) {
		if _, err := LoadAgents(ctx, filepath.Join(t.TempDir(), "none.db"), "", nil); err == nil {
			t.Fatal("no error")
		}
	})
	t.Run("DB without hosts table", func(t *testing.T) {
		p := filepath.Join(t.TempDir(), "empty.db")
		db, _ := sql.Open("sqlite", p)
		db.Exec("CREATE TABLE other (x)")
		db.Close()
		os.Chmod(p, 0o600)
		if _, err := LoadAgents(ctx, p, "", nil); err == nil || !strings.Contains(err.Error(), "hosts") {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("missing dir", func(t *testing.T) {
		if _, err := LoadAgents(ctx, "", filepath.Join(t.TempDir(), "nope"), nil); err == nil {
			t.Fatal("no error")
		}
	})
}

func TestLoadAgentsDBReadOnly(t *testing.T) {
	db := vconnectorDB(t, [][4]any{{"vc01", "u", "p", 1}})
	before, _ := os.ReadFile(db)
	if _, err := LoadAgents(context.Background(), db, "", nil); err != nil {
		t.Fatal(err)
	}
	after, _ := os.ReadFile(db)
	if string(before) != string(after) {
		t.Fatal("database changed by reading it")
	}
	if m, _ := filepath.Glob(db + "-*"); len(m) != 0 {
		t.Fatalf("journal files left: %q", m)
	}
}

func TestParseAgentFileErrors(t *testing.T) {
	for _, tc := range []struct{ text, want string }{
		{"username = u\n", "hostname is missing"},
		{"hostname = a b\n", "not a host name"},
		{"hostname = vc\nport = 0\n", "port"},
		{"hostname = vc\nport = http\n", "port"},
		{"hostname = vc\ntimeout = -1\n", "timeout"},
		{"hostname = vc\ntimeout = NaN\n", "timeout"},
		{"hostname = vc\ninsecure = maybe\n", "insecure"},
		{"hostname = vc\nthumbprint = zz\n", "thumbprint"},
		{"hostname = vc\nsimulator_model = esx\n", "simulator_model"},
		{"hostname = vc\npasword = typo\n", "unknown key pasword in [Default] at line 2; did you mean password?"},
		{"hostname = vc\n[Default]\nhostname = other\n", "twice"},
		{"hostname = vc\n[vc]\nport = 1\n", "unknown section [vc] at line 2"},
		{"hostname = vc\nport = 443 ; https\nthumbprint = zz\n", "thumbprint"},
		{"[broken\nhostname = vc\n", "vc.conf"},
	} {
		_, err := parseAgentFile([]byte(tc.text), "/etc/vpoller/vsphere/vc.conf")
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: err = %v, want it to mention %q", tc.text, err, tc.want)
		}
	}
}

func TestShippedAgentFiles(t *testing.T) {
	got, err := LoadAgents(context.Background(), "", "testdata/vsphere.d", nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0].Name != "vcsim.local" || !got[0].Simulator {
		t.Fatalf("%+v", got)
	}
	raw, err := os.ReadFile("testdata/vsphere.d/vcenter.example.org.conf.example")
	if err != nil {
		t.Fatal(err)
	}
	f, err := parseAgentFile(raw, "/etc/vpoller/vsphere.d/vcenter.example.org.conf")
	if err != nil {
		t.Fatalf("example file does not parse: %v", err)
	}
	if f.cfg.Name != "vcenter.example.org" || f.cfg.Username == "" || f.cfg.Insecure || f.cfg.Simulator {
		t.Fatalf("example: %+v", f.cfg)
	}
}

func FuzzParseAgentFile(f *testing.F) {
	for _, p := range []string{"testdata/vsphere.d/vcsim.local.conf", "testdata/vsphere.d/vcenter.example.org.conf.example"} {
		raw, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(raw)
	}
	f.Add([]byte("[Default]\nhostname = vc01\nusername = root\npassword = pw\ntimeout = 10\n"))
	f.Add([]byte("hostname=vc\nthumbprint=sha256:" + strings.Repeat("0f", 32) + "\nca_file=../ca.pem\nport=443\n"))
	f.Fuzz(func(t *testing.T, raw []byte) {
		a, err := parseAgentFile(raw, "/etc/vpoller/vsphere.d/x.conf")
		if err != nil {
			return
		}
		c := a.cfg
		if c.Name == "" || strings.ContainsAny(c.Name, " \t\r\n/") || c.Port < 0 || c.Port > 65535 || c.Timeout < 0 {
			t.Fatalf("invalid agent accepted: %+v", c)
		}
		if c.CAFile != "" && !filepath.IsAbs(c.CAFile) {
			t.Fatalf("relative ca_file %q", c.CAFile)
		}
		if c.Thumbprint != "" {
			if _, err := vsphere.ParseThumbprint(c.Thumbprint); err != nil {
				t.Fatalf("thumbprint %q not normalised: %v", c.Thumbprint, err)
			}
		}
	})
}

// Entries of vsphere_hosts_dir that cannot be read as files are logged,
// each with its reason, and the other vCenters load.
func TestLoadAgentsSkipsUnreadableEntries(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, dir, "good.conf", "hostname = vc-good\nsimulator = true\n", 0o644)
	writeFile(t, dir, "notes.txt", "not an agent file", 0o644) // not *.conf: not looked at
	link := func(name, target string) string {
		p := filepath.Join(dir, name)
		if err := os.Symlink(target, p); err != nil {
			t.Fatal(err)
		}
		return p
	}
	dangling := link("dangling.conf", filepath.Join(dir, "gone.conf.bak"))
	asDir := filepath.Join(dir, "subdir.conf")
	if err := os.Mkdir(asDir, 0o755); err != nil {
		t.Fatal(err)
	}
	fifo := filepath.Join(dir, "fifo.conf")
	if err := syscall.Mkfifo(fifo, 0o644); err != nil {
		t.Fatal(err)
	}
	// A file whose reading fails whoever reads it (root included, who
	// reads past any mode): /proc/self/mem at offset 0 answers EIO.
	eio := link("eio.conf", "/proc/self/mem")
	want := map[string]string{
		dangling: "a symbolic link to " + filepath.Join(dir, "gone.conf.bak") + ", which does not exist",
		asDir:    "a directory, not a file",
		fifo:     "not a regular file",
		eio:      "cannot read it",
	}
	private := ""
	if os.Geteuid() != 0 {
		// As any other user, a mode that forbids reading: an ERROR
		// naming the fix.
		private = writeFile(t, dir, "private.conf", "hostname = vc-private\nsimulator = true\n", 0o000)
		want[private] = "may not read it; run chown "
	}
	var logs bytes.Buffer
	got, err := LoadAgents(context.Background(), "", dir, slog.New(slog.NewTextHandler(&logs, nil)))
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0].Name != "vc-good" {
		t.Fatalf("agents %+v", got)
	}
	lines := strings.Split(strings.TrimSpace(logs.String()), "\n")
	if len(lines) != len(want) {
		t.Errorf("%d log lines, want %d:\n%s", len(lines), len(want), logs.String())
	}
	for path, why := range want {
		found := false
		for _, l := range lines {
			level := "level=WARN"
			if path == private {
				level = "level=ERROR"
			}
			if strings.Contains(l, level) && strings.Contains(l, "file="+path+" ") && strings.Contains(l, why) {
				found = true
			}
		}
		if !found {
			t.Errorf("no WARN for %s saying %q in:\n%s", path, why, logs.String())
		}
	}
}
