package config

import (
	"bytes"
	"errors"
	"fmt"
	"sort"
	"strings"

	"gopkg.in/ini.v1"

	"github.com/vpoller/zabbix-vpoller/internal/config/option"
)

// This file is the machinery every configuration surface shares: a
// declarative table of options per section (options.go for vpoller.conf,
// agentfile.go for the per-vCenter files) drives the parsing, and every
// key, section and line of a file must be known. gopkg.in/ini.v1 parses
// the values (comments, quotes); it keeps no line numbers, so a light
// scan of the text (scanLayout) finds where each section and key is and
// refuses the lines ini.v1 would read in surprising ways, so that every
// error can name its line.

// iniOptions are the ini.v1 settings of every surface: case-insensitive
// names, no backslash continuation (Python's configparser, which
// py-vpoller used, has none), inline comments after a space (" ;" or
// " #", so that "a;b" and Z85 keys, which may hold '#', stay whole), and
// double-quoted values taken verbatim (a password holding " #").
var iniOptions = ini.LoadOptions{
	Insensitive:               true,
	IgnoreContinuation:        true,
	SpaceBeforeInlineComment:  true,
	UnescapeValueDoubleQuotes: true,
}

// boundOption is a row of a section's option.Table bound to the struct it
// fills inside the parse target T.
type boundOption[T any] struct {
	key     string
	section string // where the key belongs, for "it belongs in [worker]"
	set     func(dst *T, value string) error
}

// bind turns the table of one section into bound options of T.
func bind[T, S any](section string, opts option.Table[S], field func(*T) *S) []boundOption[T] {
	out := make([]boundOption[T], len(opts))
	for i, o := range option.Bind(opts, field) {
		out[i] = boundOption[T]{key: o.Name, section: section, set: o.Set}
	}
	return out
}

// surface describes one kind of file: its sections, in the order they
// are applied, and how a key of a section is found.
type surface[T any] struct {
	// sections are the known sections (lower case; "default" is what
	// stands before any section header, and [Default]).
	sections []string
	// display names sections in messages ("Default", "proxy").
	display map[string]string
	// lookup returns the options a key of a section sets (more than one
	// for a key two daemons share); has tells whether the section holds
	// another key.
	lookup func(section, key string, has func(string) bool) []boundOption[T]
	// all lists every option, for suggestions.
	all []boundOption[T]
	// sectionHint ends an unknown-section message.
	sectionHint string
}

func (s surface[T]) name(section string) string {
	if d, ok := s.display[section]; ok {
		return d
	}
	return section
}

// layout is where the sections and keys of a text are.
type layout struct {
	sections map[string]int            // lower-case section -> line of its first header
	keys     map[string]map[string]int // section -> key -> line
}

func (l layout) keyLine(section, key string) int { return l.keys[section][key] }

// at prefixes a message with its line number, when known.
func at(line int) string {
	if line <= 0 {
		return ""
	}
	return fmt.Sprintf("line %d: ", line)
}

// lineError is one problem of a file, sorted by line with the others.
type lineError struct {
	line int
	err  error
}

// scanLayout records where each section and key is and refuses lines
// that are neither a comment, a [section] nor a key = value (or key:
// value) line, keys given twice in a section, and values ini.v1 would
// continue on the next lines (an unclosed `"""`, '`' or '"').
func scanLayout(raw []byte) (layout, []lineError) {
	raw = bytes.TrimPrefix(raw, []byte("\xef\xbb\xbf"))
	l := layout{sections: map[string]int{}, keys: map[string]map[string]int{}}
	var errs []lineError
	section := strings.ToLower(ini.DefaultSection)
	for i, text := range strings.Split(string(raw), "\n") {
		line := i + 1
		t := strings.TrimSpace(strings.TrimRight(text, "\r"))
		switch {
		case t == "" || t[0] == '#' || t[0] == ';':
			continue
		case t[0] == '[':
			end := strings.LastIndexByte(t, ']')
			if end < 0 {
				errs = append(errs, lineError{line, fmt.Errorf("line %d: section header %q has no closing ]", line, t)})
				continue
			}
			if rest := strings.TrimSpace(t[end+1:]); rest != "" && rest[0] != '#' && rest[0] != ';' {
				errs = append(errs, lineError{line, fmt.Errorf("line %d: %q after the section header", line, rest)})
				continue
			}
			section = strings.ToLower(t[1:end])
			if _, seen := l.sections[section]; !seen {
				l.sections[section] = line
			}
			continue
		}
		eq := strings.IndexAny(t, "=:")
		if eq < 0 || t[0] == '"' || t[0] == '`' || strings.ContainsAny(strings.TrimSpace(t[:eq]), " \t") {
			errs = append(errs, lineError{line, fmt.Errorf("line %d: %q is not a key = value line, a [section] or a comment", line, t)})
			continue
		}
		key := strings.ToLower(strings.TrimSpace(t[:eq]))
		if key == "" {
			errs = append(errs, lineError{line, fmt.Errorf("line %d: %q has no key name", line, t)})
			continue
		}
		value := strings.TrimSpace(t[eq+1:])
		if unclosedQuote(value) {
			errs = append(errs, lineError{line, fmt.Errorf("line %d: the value of %s opens a quote it does not close", line, key)})
			continue
		}
		if l.keys[section] == nil {
			l.keys[section] = map[string]int{}
		}
		if first, dup := l.keys[section][key]; dup {
			errs = append(errs, lineError{line, fmt.Errorf("line %d: key %s given twice in the same section (first at line %d)", line, key, first)})
			continue
		}
		l.keys[section][key] = line
	}
	return l, errs
}

// unclosedQuote reports whether ini.v1 would read value on across lines.
func unclosedQuote(v string) bool {
	for _, q := range []string{`"""`, "`", `"`} {
		if strings.HasPrefix(v, q) {
			return !strings.Contains(v[len(q):], q)
		}
	}
	return false
}

// parseINI reads raw into dst through the surface's options. Every
// problem is reported, each with its line: malformed lines, unknown
// sections and keys (with the closest known name), keys given twice,
// values a setter refuses.
func parseINI[T any](raw []byte, s surface[T], dst *T) (layout, error) {
	lay, errs := scanLayout(raw)
	if len(errs) == 0 {
		f, err := ini.LoadSources(iniOptions, raw)
		if err != nil {
			return lay, fmt.Errorf("parse INI: %w", err)
		}
		errs = applyINI(f, lay, s, dst)
	}
	if len(errs) == 0 {
		return lay, nil
	}
	sort.SliceStable(errs, func(i, j int) bool { return errs[i].line < errs[j].line })
	out := make([]error, len(errs))
	for i, e := range errs {
		out[i] = e.err
	}
	return lay, errors.Join(out...)
}

func applyINI[T any](f *ini.File, lay layout, s surface[T], dst *T) []lineError {
	var errs []lineError
	known := map[string]bool{}
	for _, name := range s.sections {
		known[name] = true
	}
	for name, line := range lay.sections {
		if !known[name] {
			msg := fmt.Sprintf("unknown section [%s] at line %d", name, line)
			if c := option.Closest(name, s.sections); c != "" {
				msg += fmt.Sprintf("; did you mean [%s]?", s.name(c))
			}
			errs = append(errs, lineError{line, errors.New(msg + " " + s.sectionHint)})
		}
	}
	for _, name := range s.sections {
		sec, err := f.GetSection(name)
		if err != nil {
			continue
		}
		for _, k := range sec.Keys() {
			key, line := k.Name(), lay.keyLine(name, k.Name())
			if line == 0 {
				// ini.v1 read a key where the scan saw none: refuse what
				// the two read differently rather than guess.
				errs = append(errs, lineError{0, fmt.Errorf("key %q in [%s]: not on a line of its own", key, s.name(name))})
				continue
			}
			opts := s.lookup(name, key, sec.HasKey)
			if len(opts) == 0 {
				errs = append(errs, lineError{line, unknownKey(s, name, key, line)})
				continue
			}
			for _, o := range opts {
				if err := o.set(dst, k.Value()); err != nil {
					errs = append(errs, lineError{line, fmt.Errorf("%s[%s] %s = %q: %w", at(line), s.name(name), key, k.Value(), err)})
					break
				}
			}
		}
	}
	return errs
}

// unknownKey says which key is not known where, and what was probably
// meant: a key of another section, or the closest key of this one.
func unknownKey[T any](s surface[T], section, key string, line int) error {
	where := fmt.Sprintf("unknown key %s in [%s]", key, s.name(section))
	if line > 0 {
		where += fmt.Sprintf(" at line %d", line)
	}
	var here []string
	for _, o := range s.all {
		if o.key == key && o.section != section {
			return fmt.Errorf("%s; it belongs in [%s]", where, s.name(o.section))
		}
		if len(s.lookup(section, o.key, func(string) bool { return false })) > 0 {
			here = append(here, o.key)
		}
	}
	if c := option.Closest(key, here); c != "" {
		return fmt.Errorf("%s; did you mean %s?", where, c)
	}
	return errors.New(where)
}
