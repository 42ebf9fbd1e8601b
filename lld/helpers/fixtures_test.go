package helpers

import (
	"bufio"
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/vpoller/zabbix-vpoller/internal/fixtures"
)

// frame is one captured exchange from testdata/py-vpoller-frames.txt (a
// copy of the shared capture of the original Python worker).
type frame struct {
	title string
	req   []byte
	rep   []byte // the single reply frame
}

func readFrames(t testing.TB) map[string]frame {
	t.Helper()
	frames, err := fixtures.ReadFrames("testdata/py-vpoller-frames.txt")
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]frame{}
	for _, f := range frames {
		if len(f.Rep) > 1 {
			t.Fatalf("%s: more than one reply frame", f.Title)
		}
		fr := frame{title: f.Title, req: f.Req}
		if len(f.Rep) == 1 {
			fr.rep = f.Rep[0]
		}
		out[f.Title] = fr
	}
	return out
}

// vcsimCase is one exchange of testdata/py-vpoller-vcsim-replies.txt (the
// original against govmomi's simulator).
type vcsimCase struct {
	req []byte
	rep []byte
}

var vcsimLine = regexp.MustCompile(`^(REQUEST|REPLY)[^:]*: (.*)$`)

// readVcsim returns the first exchange recorded under each title.
func readVcsim(t testing.TB) map[string]vcsimCase {
	t.Helper()
	f, err := os.Open("testdata/py-vpoller-vcsim-replies.txt")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	out := map[string]vcsimCase{}
	title := ""
	var cur vcsimCase
	flush := func() {
		if _, seen := out[title]; title != "" && !seen && cur.req != nil && cur.rep != nil {
			out[title] = cur
		}
	}
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "### ") {
			flush()
			title, cur = strings.TrimPrefix(line, "### "), vcsimCase{}
			continue
		}
		m := vcsimLine.FindStringSubmatch(line)
		if m == nil {
			continue
		}
		if m[1] == "REQUEST" {
			cur.req = []byte(m[2])
			continue
		}
		if strings.HasPrefix(m[2], "b'") {
			b, _, err := fixtures.ParsePyBytes(m[2])
			if err != nil {
				t.Fatalf("%s: %v", title, err)
			}
			cur.rep = b
		} else {
			cur.rep = []byte(m[2])
		}
	}
	flush()
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}
