package vpoller

import (
	"fmt"
	"strings"
	"testing"
)

func TestNameMessages(t *testing.T) {
	many := make([]string, 25)
	for i := range many {
		many[i] = fmt.Sprintf("vc%02d.example.org", 24-i)
	}
	for _, tc := range []struct {
		name    string
		known   []string
		list    string
		closest string
	}{
		{"VC01.example.org", []string{"vc02.example.org", "vc01.example.org"}, "vc01.example.org, vc02.example.org", "vc01.example.org"},
		{"vc01", []string{"vc01.example.org"}, "vc01.example.org", "vc01.example.org"},
		{"VC01.EXAMPLE.ORG.", []string{"vc01.example.org"}, "vc01.example.org", "vc01.example.org"},
		{"vc01.example.org", []string{"VC01"}, "VC01", "VC01"},
		{"10.0.0.5", []string{"vc01.example.org"}, "vc01.example.org", ""},
		{"vc0", []string{"vc01.example.org"}, "vc01.example.org", ""},
		{"", []string{"a"}, "a", ""},
		{"x", nil, "none", ""},
		{"vc99", many, strings.Join(reverse(many)[:20], ", ") + " and 5 more", ""},
	} {
		if got := ListNames(tc.known); got != tc.list {
			t.Errorf("ListNames(%q) = %q, want %q", tc.known, got, tc.list)
		}
		if got := ClosestName(tc.name, tc.known); got != tc.closest {
			t.Errorf("ClosestName(%q, %q) = %q, want %q", tc.name, tc.known, got, tc.closest)
		}
		hint := NameHint(tc.name, tc.known)
		if want := NameMatchRule; tc.closest != "" {
			want += fmt.Sprintf("; did you mean %q?", tc.closest)
			if hint != want {
				t.Errorf("NameHint(%q) = %q, want %q", tc.name, hint, want)
			}
		} else if hint != want {
			t.Errorf("NameHint(%q) = %q, want %q", tc.name, hint, want)
		}
	}
	long := strings.Repeat("x", 1000)
	if got := QuoteName(long); len(got) != 128+2+3 || !strings.HasSuffix(got, `"...`) {
		t.Errorf("QuoteName of 1000 bytes: %d bytes %q", len(got), got)
	}
	if got := QuoteName("a\"b\x00"); got != `"a\"b\x00"` {
		t.Errorf("QuoteName escapes: %s", got)
	}
}

func reverse(s []string) []string {
	out := make([]string, len(s))
	for i, v := range s {
		out[len(s)-1-i] = v
	}
	return out
}
