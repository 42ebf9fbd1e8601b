// Package methodsdoc generates the method table of docs/methods.md from
// the catalogue rows (vpoller.Catalogue), so that the table a user reads
// is the catalogue the worker, the client and the plugin use: a method
// added with one row is documented by it, and TestDocsMatchCatalogue
// fails while the file lacks it. Only the table between the marker lines
// is generated; the prose around it is written by hand.
package methodsdoc

//go:generate go run ./gen ../../docs/methods.md

import (
	"bytes"
	"errors"
	"fmt"
	"strings"

	"github.com/vpoller/zabbix-vpoller/vpoller"
)

// The marker lines around the generated table.
const (
	Begin = "<!-- BEGIN methods table: generated from the rows of vpoller/methods.go by go generate ./vpoller/methodsdoc; do not edit by hand -->"
	End   = "<!-- END methods table -->"
)

// Regenerate is the command that rewrites the table in docs/methods.md.
const Regenerate = "go generate ./vpoller/methodsdoc"

// Table renders rows as the Markdown table, one line per method in the
// rows' order. It fails for a cell that would break the table (a "|" or a
// line break), a required key the keys cell does not name, and a
// differences cell that does not say "ours" first exactly when the method
// is ours.
func Table(rows []vpoller.MethodInfo) (string, error) {
	var b strings.Builder
	b.WriteString("| method | required keys | result | message | differences from the original |\n")
	b.WriteString("|---|---|---|---|---|\n")
	for _, mi := range rows {
		cells, err := cellsOf(mi)
		if err != nil {
			return "", err
		}
		b.WriteString("|")
		for _, c := range cells {
			if c != "" {
				b.WriteString(" " + c)
			}
			b.WriteString(" |")
		}
		b.WriteString("\n")
	}
	return b.String(), nil
}

func cellsOf(mi vpoller.MethodInfo) ([]string, error) {
	d := mi.Doc
	keys := d.Keys
	if keys == "" {
		keys = "-"
		if len(mi.Required) > 0 {
			keys = strings.Join(mi.Required, ", ")
		}
	}
	for _, k := range mi.Required {
		if !containsWord(keys, k) {
			return nil, fmt.Errorf("method %s: the required keys cell %q does not name %s", mi.Name, keys, k)
		}
	}
	if ours := d.Differences == "ours" || strings.HasPrefix(d.Differences, "ours ") ||
		strings.HasPrefix(d.Differences, "ours:") || strings.HasPrefix(d.Differences, "ours;"); ours == mi.Original {
		if mi.Original {
			return nil, fmt.Errorf("method %s: the original's, but its differences cell says ours: %q", mi.Name, d.Differences)
		}
		return nil, fmt.Errorf("method %s: ours, and its differences cell must start with \"ours\": %q", mi.Name, d.Differences)
	}
	cells := []string{"`" + mi.Name + "`", keys, d.Result, d.Message, d.Differences}
	for i, c := range cells {
		if strings.ContainsAny(c, "|\n\r") {
			return nil, fmt.Errorf("method %s: cell %d %q has a | or a line break, which would break the table", mi.Name, i+1, c)
		}
	}
	return cells, nil
}

// containsWord reports whether s names key as a whole word (key
// characters are letters, digits and "-").
func containsWord(s, key string) bool {
	isKeyByte := func(c byte) bool {
		return c == '-' || c == '.' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
	}
	for i := 0; ; {
		j := strings.Index(s[i:], key)
		if j < 0 {
			return false
		}
		j += i
		end := j + len(key)
		if (j == 0 || !isKeyByte(s[j-1])) && (end == len(s) || !isKeyByte(s[end])) {
			return true
		}
		i = j + 1
	}
}

// Update returns doc with the text between its marker lines replaced by
// the table of rows.
func Update(doc []byte, rows []vpoller.MethodInfo) ([]byte, error) {
	before, _, after, err := split(doc)
	if err != nil {
		return nil, err
	}
	table, err := Table(rows)
	if err != nil {
		return nil, err
	}
	var b bytes.Buffer
	b.Write(before)
	b.WriteString(table)
	b.Write(after)
	return b.Bytes(), nil
}

// StaleError says how the table in the file differs from the generated one.
type StaleError struct {
	// Removed are the file's table lines the generator does not write,
	// Added the generated lines the file lacks, each in its order.
	Removed, Added []string
}

func (e *StaleError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "the methods table differs from the catalogue rows; run %s", Regenerate)
	if len(e.Removed) == 0 && len(e.Added) == 0 {
		b.WriteString(" (the same lines in another order)")
	}
	for _, l := range e.Removed {
		b.WriteString("\n- " + l)
	}
	for _, l := range e.Added {
		b.WriteString("\n+ " + l)
	}
	return b.String()
}

// Check returns nil when doc's table is the table of rows, else a
// *StaleError listing the differing lines (or the error that keeps the
// table from being generated or found).
func Check(doc []byte, rows []vpoller.MethodInfo) error {
	_, have, _, err := split(doc)
	if err != nil {
		return err
	}
	want, err := Table(rows)
	if err != nil {
		return err
	}
	if string(have) == want {
		return nil
	}
	haveLines, wantLines := lines(string(have)), lines(want)
	return &StaleError{Removed: minus(haveLines, wantLines), Added: minus(wantLines, haveLines)}
}

func lines(s string) []string {
	if s == "" {
		return nil
	}
	return strings.Split(strings.TrimSuffix(s, "\n"), "\n")
}

// minus returns the lines of a that b lacks, as many times as a has more
// of them, in a's order.
func minus(a, b []string) []string {
	n := map[string]int{}
	for _, l := range b {
		n[l]++
	}
	var out []string
	for _, l := range a {
		if n[l] > 0 {
			n[l]--
			continue
		}
		out = append(out, l)
	}
	return out
}

// split cuts doc into the text up to and including the Begin line, the
// table, and the text from the End line on.
func split(doc []byte) (before, table, after []byte, err error) {
	begin, end := []byte(Begin+"\n"), []byte(End+"\n")
	if bytes.Count(doc, begin) != 1 || bytes.Count(doc, end) != 1 {
		return nil, nil, nil, fmt.Errorf("want one line %q and one line %q around the methods table", Begin, End)
	}
	i := bytes.Index(doc, begin) + len(begin)
	j := bytes.Index(doc, end)
	if j < i {
		return nil, nil, nil, errors.New("the methods table's end marker comes before its begin marker")
	}
	return doc[:i], doc[i:j], doc[j:], nil
}
