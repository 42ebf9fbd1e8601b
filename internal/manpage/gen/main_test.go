package main

import (
	"compress/gzip"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vpoller/zabbix-vpoller/internal/manpage"
	"github.com/vpoller/zabbix-vpoller/internal/testutil"
)

func readPage(t *testing.T, path string) string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	if zr.Name != "" || !zr.ModTime.IsZero() {
		t.Errorf("%s: gzip header has name %q, time %v: pages must be reproducible", path, zr.Name, zr.ModTime)
	}
	b, err := io.ReadAll(zr)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// The shipped pages from the real binaries: every flag their -h mentions
// has its entry, and groff (when installed) renders them without a warning.
func TestRealBinaries(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the four commands")
	}
	var pkgs []string
	for _, p := range pages {
		pkgs = append(pkgs, "../../../cmd/"+p.name)
	}
	// One go build (it links the four at once), shared with the other
	// test packages that run them.
	bin, err := testutil.GoBuildShared(pkgs...)
	if err != nil {
		t.Fatal(err)
	}
	out := t.TempDir()
	for _, p := range pages {
		if err := write(p, bin, out, "vpoller 1.2.3", "2026-12-07"); err != nil {
			t.Fatal(err)
		}
	}
	for _, p := range pages {
		path := filepath.Join(out, p.name+"."+p.section+".gz")
		roff := readPage(t, path)
		usage, err := help(filepath.Join(bin, p.name), p.argv0)
		if err != nil {
			t.Fatal(err)
		}
		tagged := manpage.TaggedFlags(roff)
		flags := manpage.FlagsIn(usage)
		if len(flags) < 2 {
			t.Errorf("%s -h mentions only %q: is it still a usage text?", p.name, flags)
		}
		for _, f := range flags {
			if !manpage.Documents(tagged, f) {
				t.Errorf("%s: %s has no entry in the man page", p.name, f)
			}
		}
		for _, want := range []string{".SH NAME\n" + strings.ReplaceAll(p.name, "-", `\-`) + ` \- `, ".SH SYNOPSIS\n", ".SH \"SEE ALSO\"\n"} {
			if !strings.Contains(roff, want) {
				t.Errorf("%s lacks %q", p.name, want)
			}
		}
		if groff, err := exec.LookPath("groff"); err == nil {
			cmd := exec.Command(groff, "-man", "-Tutf8", "-wmac", "-z")
			cmd.Stdin = strings.NewReader(roff)
			if msg, err := cmd.CombinedOutput(); err != nil || len(msg) > 0 {
				t.Errorf("groff on %s: %v\n%s", p.name, err, msg)
			}
		}
	}
	if roff := readPage(t, filepath.Join(out, "zabbix-agent2-plugin-vpoller.8.gz")); !strings.Contains(roff, ".SH \"ITEM KEYS\"\n.TP\n\\fBvpoller.discover\\fR\n") {
		t.Errorf("plugin page has no item keys:\n%s", roff)
	}
}

// A flag the -h text mentions without an entry stops the generator, with
// the flag named.
func TestUndocumentedFlag(t *testing.T) {
	dir := t.TempDir()
	fake := filepath.Join(dir, "fake")
	script := "#!/bin/sh\ncat >&2 <<'EOF'\nUsage:\n  fake [-f CONFIG] [-q] start\n\nOptions:\n  -f string\n    \tconfiguration file\nEOF\nexit 0\n"
	if err := os.WriteFile(fake, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	err := write(page{name: "fake", section: "8", argv0: "fake", summary: "s"}, dir, t.TempDir(), "v", "2026-12-07")
	if err == nil || !strings.Contains(err.Error(), "mentions -q but the man page has no entry") {
		t.Fatalf("write = %v, want the undocumented -q named", err)
	}
	// Documented by the page's own entries, it passes.
	err = write(page{name: "fake", section: "8", argv0: "fake", summary: "s",
		options: []manpage.Block{entry("-q", "quiet")}}, dir, t.TempDir(), "v", "2026-12-07")
	if err != nil {
		t.Fatalf("write with -q documented: %v", err)
	}
}
