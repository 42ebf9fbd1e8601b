package option

import (
	"bytes"
	"fmt"
	"os"
	"strings"
)

// Header heads the docs' option tables (Markdown and Rows).
const Header = "| option | value | default | meaning |\n|---|---|---|---|\n"

// Markdown renders the table as the docs show it: Header and Rows.
func (t Table[S]) Markdown(defaults *S, name func(string) string) string {
	return Header + t.Rows(defaults, name)
}

// Rows renders one Markdown row per option with its name (through name,
// which adds a surface's prefix), kind and bounds, default (the field of
// defaults, unless the row says) and doc. Several tables' rows may share
// one Header.
func (t Table[S]) Rows(defaults *S, name func(string) string) string {
	var b strings.Builder
	for _, o := range t {
		kind := o.Kind
		if o.Bounds != "" {
			kind += ", " + o.Bounds
		}
		def := o.Default
		if def == "" && o.Show != nil && defaults != nil {
			def = "(none)"
			if v := o.Show(defaults); v != "" {
				def = "`" + v + "`"
			}
		}
		if def == "" {
			def = "-"
		}
		fmt.Fprintf(&b, "| `%s` | %s | %s | %s |\n", name(o.Name), kind, def, o.Doc)
	}
	return b.String()
}

// Markers delimit a generated block in a Markdown file: the lines
// <!-- options: NAME begin --> and <!-- options: NAME end -->.
func Markers(name string) (begin, end string) {
	return "<!-- options: " + name + " begin -->", "<!-- options: " + name + " end -->"
}

// SyncDoc checks that the block name of the Markdown file path holds
// exactly want; with update it rewrites the block instead. The error of a
// difference prints the expected block, ready to paste, and how to
// regenerate it.
func SyncDoc(path, name, want string, update bool) error {
	raw, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("docs option table %s: %w", name, err)
	}
	begin, end := Markers(name)
	i := bytes.Index(raw, []byte(begin+"\n"))
	j := bytes.Index(raw, []byte(end))
	if i < 0 || j < i {
		return fmt.Errorf("%s: no block %s ... %s", path, begin, end)
	}
	start := i + len(begin) + 1
	got := string(raw[start:j])
	if got == want {
		return nil
	}
	if update {
		out := append(append(append([]byte{}, raw[:start]...), want...), raw[j:]...)
		if err := os.WriteFile(path, out, 0o644); err != nil {
			return fmt.Errorf("update docs option table %s: %w", name, err)
		}
		return nil
	}
	line := bytes.Count(raw[:start], []byte("\n")) + 1
	return fmt.Errorf("%s:%d: the option table %s differs from the code's (first difference: %s); "+
		"run the test with -update, or write:\n%s", path, line, name, firstDiff(got, want), want)
}

// firstDiff names the first line where got and want differ.
func firstDiff(got, want string) string {
	g, w := strings.Split(got, "\n"), strings.Split(want, "\n")
	for k := 0; k < max(len(g), len(w)); k++ {
		var gl, wl string
		if k < len(g) {
			gl = g[k]
		}
		if k < len(w) {
			wl = w[k]
		}
		if gl != wl {
			return fmt.Sprintf("line %d of the block is %q, want %q", k+1, gl, wl)
		}
	}
	return "none"
}
