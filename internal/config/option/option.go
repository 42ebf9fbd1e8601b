// Package option is the declarative option table every configuration
// surface of vPoller is described by: the agent 2 plugin's
// Plugins.VPoller.* options, each section of vpoller.conf and the
// per-vCenter files. One row per option carries what the parser, the
// error messages and the documentation all need (name, kind of value,
// bounds, default, one line of doc, and the setter into the struct it
// fills), so that adding an option is one row and the docs cannot drift:
// the docs' option tables are generated from the rows (Markdown) and a
// test in each surface's package keeps them equal (SyncDoc).
//
// The package knows nothing of file formats: each surface's parser finds
// the rows by name (Table.Find), reports unknown names with the closest
// known one (Closest) and adds its own context (file, line, section) to a
// setter's error.
package option

import (
	"strings"
)

// Value is how an option's text becomes a field of S, and back for the
// docs. The constructors of this package (Text, Int, ...) and those of a
// surface build it from a field accessor.
type Value[S any] struct {
	// Kind names the type in the docs: "text", "path", "whole number",
	// "duration", "boolean", "list", "host:port", ...
	Kind string
	// Bounds are the allowed values in the docs ("1-600", ">= 1024"), or
	// "".
	Bounds string
	// Set parses v into dst. Its error says what is wanted; the parser
	// adds where.
	Set func(dst *S, v string) error
	// Show formats the field of src as the file would give it, for the
	// default column; nil for options without a field (ignored keys).
	Show func(src *S) string
}

// Option is one row of a table.
type Option[S any] struct {
	Name string
	Value[S]
	// Default is the docs' text of the default when showing the field of
	// the defaults would not say it ("agent Timeout minus 0.5 s",
	// "(required)"); "" shows the field.
	Default string
	// Doc is the one-line meaning, in Markdown.
	Doc string
}

// Table is the options of one section of a surface.
type Table[S any] []Option[S]

// Find returns the row of name; fold matches names case aside (the agent's
// option names), otherwise exactly.
func (t Table[S]) Find(name string, fold bool) (Option[S], bool) {
	for _, o := range t {
		if o.Name == name || fold && strings.EqualFold(o.Name, name) {
			return o, true
		}
	}
	return Option[S]{}, false
}

// Names lists the options in table order.
func (t Table[S]) Names() []string {
	out := make([]string, len(t))
	for i, o := range t {
		out[i] = o.Name
	}
	return out
}

// Bind makes the rows of a table of S rows of a table of T, whose field
// holds the S: the same section read into a larger struct.
func Bind[T, S any](t Table[S], field func(*T) *S) Table[T] {
	out := make(Table[T], len(t))
	for i, o := range t {
		set, show := o.Set, o.Show
		out[i] = Option[T]{Name: o.Name, Default: o.Default, Doc: o.Doc, Value: Value[T]{
			Kind: o.Kind, Bounds: o.Bounds,
			Set: func(dst *T, v string) error { return set(field(dst), v) },
		}}
		if show != nil {
			out[i].Show = func(src *T) string { return show(field(src)) }
		}
	}
	return out
}

// Closest returns the candidate nearest to got by edit distance, case
// aside (adjacent transpositions count once), when near enough to be a
// typo of it: at most two edits, or a third of got's length. Ties go to
// the candidate first in sort order. Names longer than 64 bytes are never
// near (a line of a file may be long; option names are not).
func Closest(got string, candidates []string) string {
	best, bestD := "", -1
	for _, c := range candidates {
		if len(got) > 64 || len(c) > 64 {
			continue
		}
		d := EditDistance(strings.ToLower(got), strings.ToLower(c))
		if bestD < 0 || d < bestD || d == bestD && c < best {
			best, bestD = c, d
		}
	}
	if bestD < 0 || bestD > max(2, len(got)/3) {
		return ""
	}
	return best
}

// EditDistance is the optimal string alignment distance of a and b (an
// adjacent transposition counts once): how far a typo is from an option
// name.
func EditDistance(a, b string) int {
	d := make([][]int, len(a)+1)
	for i := range d {
		d[i] = make([]int, len(b)+1)
		d[i][0] = i
	}
	for j := range d[0] {
		d[0][j] = j
	}
	for i := 1; i <= len(a); i++ {
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			d[i][j] = min(d[i-1][j]+1, d[i][j-1]+1, d[i-1][j-1]+cost)
			if i > 1 && j > 1 && a[i-1] == b[j-2] && a[i-2] == b[j-1] {
				d[i][j] = min(d[i][j], d[i-2][j-2]+1)
			}
		}
	}
	return d[len(a)][len(b)]
}
