package logfile

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

func read(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// What logrotate does (rename, then signal): lines written before the
// reopen stay in the renamed file, lines after land in a new file at the
// configured path; writers running meanwhile lose nothing.
func TestReopenAfterRename(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "worker.log")
	if err := os.WriteFile(path, []byte("kept\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	f, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	fmt.Fprintln(f, "before")
	rotated := path + ".1"
	if err := os.Rename(path, rotated); err != nil {
		t.Fatal(err)
	}
	fmt.Fprintln(f, "after rename") // still the old file, as for any writer
	var wg sync.WaitGroup
	for i := range 4 {
		wg.Go(func() {
			for j := range 100 {
				fmt.Fprintf(f, "w%d-%d\n", i, j)
			}
		})
	}
	if err := f.Reopen(); err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	fmt.Fprintln(f, "after reopen")
	old, cur := read(t, rotated), read(t, path)
	if !strings.HasPrefix(old, "kept\nbefore\nafter rename\n") || strings.Contains(old, "after reopen") {
		t.Errorf("rotated file:\n%s", old)
	}
	if !strings.HasSuffix(cur, "after reopen\n") || strings.Contains(cur, "before") {
		t.Errorf("new file:\n%s", cur)
	}
	if n := strings.Count(old+cur, "\nw"); n != 400 {
		t.Errorf("%d of 400 concurrent lines", n)
	}
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm()&^Mode != 0 {
		t.Errorf("new log file mode %04o, want at most %04o", st.Mode().Perm(), Mode)
	}
}

// A path that cannot be reopened keeps the old file in use.
func TestReopenFailureKeepsWriting(t *testing.T) {
	dir := t.TempDir()
	sub := filepath.Join(dir, "logs")
	if err := os.Mkdir(sub, 0o755); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(sub, "proxy.log")
	f, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	moved := filepath.Join(dir, "moved")
	if err := os.Rename(sub, moved); err != nil { // the directory is gone
		t.Fatal(err)
	}
	if err := f.Reopen(); err == nil || !strings.Contains(err.Error(), path) {
		t.Fatalf("Reopen = %v, want an error naming %s", err, path)
	}
	fmt.Fprintln(f, "still logged")
	if got := read(t, filepath.Join(moved, "proxy.log")); got != "still logged\n" {
		t.Errorf("old file: %q", got)
	}
}

func TestOpenNamesTheFix(t *testing.T) {
	if os.Geteuid() == 0 {
		t.Skip("root writes anywhere")
	}
	dir := t.TempDir()
	if err := os.Chmod(dir, 0o500); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.Chmod(dir, 0o700) })
	_, err := Open(filepath.Join(dir, "x.log"))
	if err == nil || !strings.Contains(err.Error(), "unset log_file") || !strings.Contains(err.Error(), "x.log") {
		t.Fatalf("err = %v", err)
	}
}
