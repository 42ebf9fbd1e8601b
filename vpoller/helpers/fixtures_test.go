package helpers

import (
	"bufio"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"
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
	f, err := os.Open("testdata/py-vpoller-frames.txt")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	out := map[string]frame{}
	var cur *frame
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		switch {
		case strings.HasPrefix(line, "### "):
			if cur != nil {
				out[cur.title] = *cur
			}
			cur = &frame{title: strings.TrimPrefix(line, "### ")}
		case strings.HasPrefix(line, "  req: "):
			cur.req = []byte(strings.TrimPrefix(line, "  req: "))
		case strings.HasPrefix(line, "  rep: "):
			s := strings.TrimPrefix(line, "  rep: ")
			if !strings.HasPrefix(s, "[") || !strings.HasSuffix(s, "]") {
				t.Fatalf("%s: reply is not a list: %s", cur.title, s)
			}
			b, rest := parsePyBytes(t, s[1:len(s)-1])
			if rest != "" {
				t.Fatalf("%s: more than one reply frame", cur.title)
			}
			cur.rep = b
		}
	}
	if cur != nil {
		out[cur.title] = *cur
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// parsePyBytes decodes one Python bytes literal (b'...') at the start of s
// and returns it with the rest of s.
func parsePyBytes(t testing.TB, s string) ([]byte, string) {
	t.Helper()
	if !strings.HasPrefix(s, "b'") {
		t.Fatalf("not a bytes literal: %.40s", s)
	}
	s = s[2:]
	var b []byte
	for {
		if s == "" {
			t.Fatal("unterminated bytes literal")
		}
		c := s[0]
		switch {
		case c == '\'':
			return b, s[1:]
		case c != '\\':
			b = append(b, c)
			s = s[1:]
		case s[1] == 'x':
			n, err := strconv.ParseUint(s[2:4], 16, 8)
			if err != nil {
				t.Fatal(err)
			}
			b = append(b, byte(n))
			s = s[4:]
		case s[1] == 'n':
			b = append(b, '\n')
			s = s[2:]
		case s[1] == 'r':
			b = append(b, '\r')
			s = s[2:]
		case s[1] == 't':
			b = append(b, '\t')
			s = s[2:]
		default: // \\ \' \"
			b = append(b, s[1])
			s = s[2:]
		}
	}
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
			b, _ := parsePyBytes(t, m[2])
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
