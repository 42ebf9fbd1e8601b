package worker

import (
	"bufio"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vpoller/zabbix-vpoller/internal/config"
)

// readmeBlock is one fenced ini block of the README and what its marker
// says it is.
type readmeBlock struct {
	line int    // of the opening fence
	kind string // the marker's text after "test:"
	text string
}

// readmeBlocks returns the README's ```ini blocks. Each must follow a
// marker comment `<!-- test: KIND -->` on the line before, so that a new
// example cannot go untested.
func readmeBlocks(t *testing.T, path string) []readmeBlock {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var (
		out    []readmeBlock
		prev   string
		cur    *readmeBlock
		lineNo int
	)
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		lineNo++
		line := sc.Text()
		switch {
		case cur != nil && strings.TrimSpace(line) == "```":
			out = append(out, *cur)
			cur = nil
		case cur != nil:
			cur.text += line + "\n"
		case strings.HasPrefix(line, "```ini") || strings.HasPrefix(line, "```conf"):
			kind, ok := strings.CutPrefix(strings.TrimSpace(prev), "<!-- test:")
			if !ok {
				t.Errorf("%s:%d: an ini block without a <!-- test: KIND --> marker on the line before", path, lineNo)
			}
			cur = &readmeBlock{line: lineNo, kind: strings.TrimSpace(strings.TrimSuffix(kind, "-->"))}
		}
		prev = line
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// The README's configuration examples work when copied: per-vCenter files
// go through the worker's loader (LoadAgents: parsing, thumbprint, mode
// checks) as a file of mode 0600 in a vsphere_hosts_dir, vpoller.conf
// blocks through config.Parse (a block of one section's keys is put under
// its header, as the text around it says).
func TestReadmeExamples(t *testing.T) {
	blocks := readmeBlocks(t, "../../README.md")
	kinds := map[string]int{}
	for _, b := range blocks {
		kinds[b.kind]++
		switch b.kind {
		case "vsphere.d":
			dir := t.TempDir()
			writeFile(t, dir, "example.conf", b.text, 0o600)
			got, err := LoadAgents(context.Background(), "", dir, nil)
			if err != nil {
				t.Errorf("README.md:%d: the per-vCenter example fails when copied: %v", b.line, err)
				continue
			}
			if len(got) != 1 {
				t.Errorf("README.md:%d: %d vCenters loaded", b.line, len(got))
				continue
			}
			// One way to trust the certificate, as the example file asks.
			a, ways := got[0], 0
			for _, set := range []bool{a.CAFile != "", a.Thumbprint != "", a.Insecure} {
				if set {
					ways++
				}
			}
			if ways > 1 {
				t.Errorf("README.md:%d: sets %d of ca_file, thumbprint, insecure = true; the shipped example says to choose one", b.line, ways)
			}
		case "vpoller.conf", "vpoller.conf [worker]", "vpoller.conf [proxy]":
			text := b.text
			if _, section, ok := strings.Cut(b.kind, " "); ok {
				text = section + "\n" + text
			}
			if _, err := config.Parse([]byte(text)); err != nil {
				t.Errorf("README.md:%d: the vpoller.conf example fails when copied: %v", b.line, err)
			}
		default:
			t.Errorf("README.md:%d: unknown example kind %q (want vsphere.d, vpoller.conf or vpoller.conf [section])", b.line, b.kind)
		}
	}
	if kinds["vsphere.d"] == 0 || kinds["vpoller.conf [worker]"] == 0 {
		t.Errorf("examples found: %v", kinds)
	}
}

// The check catches the README's earlier example (inline comments,
// ca_file + thumbprint + insecure together, a thumbprint abbreviated
// with "..."): it fails.
func TestReadmeCheckCatchesTheOldExample(t *testing.T) {
	old := "# README\n\n<!-- test: vsphere.d -->\n```ini\n" +
		"hostname   = vc01.example.org   ; the name clients use\n" +
		"port       = 443\n" +
		"ca_file    = /etc/vpoller/vc01-ca.pem     ; verify against this CA, or\n" +
		"thumbprint = AB:CD:...                    ; pin the certificate's SHA-256 thumbprint, or\n" +
		"insecure   = false\n```\n"
	path := filepath.Join(t.TempDir(), "README.md")
	if err := os.WriteFile(path, []byte(old), 0o644); err != nil {
		t.Fatal(err)
	}
	blocks := readmeBlocks(t, path)
	if len(blocks) != 1 {
		t.Fatalf("%d blocks", len(blocks))
	}
	dir := t.TempDir()
	writeFile(t, dir, "example.conf", blocks[0].text, 0o600)
	if _, err := LoadAgents(context.Background(), "", dir, nil); err == nil || !strings.Contains(err.Error(), "thumbprint") {
		t.Fatalf("the old example loads: %v", err)
	}
}
