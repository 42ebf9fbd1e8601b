// Package manpage turns a command's -h text into a roff man page. The
// packages' man pages are generated from what the built binaries print
// (flag.PrintDefaults for the daemons, the client's and the plugin's own
// usage text), so a flag added to a command is in its man page without
// anyone editing roff, and a test can compare the two.
//
// The -h text is read as the Go commands here write it:
//
//	Usage:                      the SYNOPSIS, up to the first blank line
//	  prog [-f CONFIG] start      ("Usage: prog ..." on one line also works)
//
//	Prose paragraphs.           DESCRIPTION (refilled by roff)
//	name   description          an entry (two or more spaces or a tab
//	       continued            between name and text; continuation lines
//	                            indented deeper): rendered as .TP
//	Options:                    a heading: a short unindented line ending
//	  -f string                 in ":"; it starts a section of its own
//	    	flag.PrintDefaults  (OPTIONS for "Options:")
//
// Anything else indented is kept as it is (.nf).
package manpage

import (
	"bufio"
	"fmt"
	"io"
	"regexp"
	"strings"
)

// Doc is a parsed -h text.
type Doc struct {
	Synopsis []string  // one line per form of the command
	Sections []Section // DESCRIPTION first (when there is prose), then each heading
}

// Section is one .SH of the page.
type Section struct {
	Title  string  // upper case, as .SH prints it
	Blocks []Block // in order
}

// Block is a paragraph of prose, a preformatted block, or one entry of a
// definition list.
type Block struct {
	Kind  BlockKind
	Lines []string // prose or preformatted lines; for an entry, its description lines
	Tag   string   // an entry's name: "-f string", "-m <method>, --method <method>", "keygen NAME"
}

// BlockKind tells how a Block is rendered.
type BlockKind int

// The kinds of Block.
const (
	Prose BlockKind = iota // refilled paragraph (.PP)
	Pre                    // kept line by line (.nf)
	Entry                  // .TP: Tag, then the description
)

var (
	// entryRE is an entry's first line: a name at indentation 0-4, then a
	// tab or two or more spaces, then its description.
	entryRE = regexp.MustCompile(`^( {0,4})(\S(?:.*?\S)?)(?:\t| {2,})(\S.*)$`)
	// flagOnlyRE is the first line of a flag whose description is on the
	// next line: flag.PrintDefaults' "  -name type", or a long
	// "-p <properties>, --properties <properties>".
	flagOnlyRE = regexp.MustCompile(`^ {0,4}(-[^\t]*\S)$`)
	// headingRE is a section heading: "Options:", "Item keys:".
	headingRE = regexp.MustCompile(`^([A-Z][A-Za-z0-9 -]{0,30}):$`)
)

// Parse reads a -h text.
func Parse(usage string) (*Doc, error) {
	lines := strings.Split(strings.ReplaceAll(usage, "\r\n", "\n"), "\n")
	d := &Doc{}
	i := 0
	for i < len(lines) && strings.TrimSpace(lines[i]) == "" {
		i++
	}
	if i == len(lines) {
		return nil, fmt.Errorf("manpage: empty usage text")
	}
	first := strings.TrimSpace(lines[i])
	if !strings.HasPrefix(strings.ToLower(first), "usage:") {
		return nil, fmt.Errorf("manpage: usage text does not start with \"Usage:\": %q", first)
	}
	if rest := strings.TrimSpace(first[len("usage:"):]); rest != "" {
		d.Synopsis = append(d.Synopsis, rest)
	}
	for i++; i < len(lines) && strings.TrimSpace(lines[i]) != ""; i++ {
		d.Synopsis = append(d.Synopsis, strings.TrimSpace(lines[i]))
	}
	if len(d.Synopsis) == 0 {
		return nil, fmt.Errorf("manpage: no synopsis after \"Usage:\"")
	}

	cur := &Section{Title: "DESCRIPTION"}
	flush := func() {
		if len(cur.Blocks) > 0 {
			d.Sections = append(d.Sections, *cur)
		}
	}
	var open *Block // the block that following lines may continue
	add := func(b Block) {
		cur.Blocks = append(cur.Blocks, b)
		open = &cur.Blocks[len(cur.Blocks)-1]
	}
	for ; i < len(lines); i++ {
		l := strings.TrimRight(lines[i], " \t")
		switch {
		case l == "":
			open = nil
		case headingRE.MatchString(l):
			flush()
			title := strings.ToUpper(headingRE.FindStringSubmatch(l)[1])
			cur = &Section{Title: title}
			open = nil
		case open != nil && open.Kind == Entry && isContinuation(l):
			open.Lines = append(open.Lines, strings.TrimSpace(l))
		case entryRE.MatchString(l):
			m := entryRE.FindStringSubmatch(l)
			add(Block{Kind: Entry, Tag: m[2], Lines: []string{m[3]}})
		case flagOnlyRE.MatchString(l):
			add(Block{Kind: Entry, Tag: flagOnlyRE.FindStringSubmatch(l)[1]})
		case l[0] == ' ' || l[0] == '\t':
			if open != nil && open.Kind == Pre {
				open.Lines = append(open.Lines, l)
			} else {
				add(Block{Kind: Pre, Lines: []string{l}})
			}
		default:
			if open != nil && open.Kind == Prose {
				open.Lines = append(open.Lines, l)
			} else {
				add(Block{Kind: Prose, Lines: []string{l}})
			}
		}
	}
	flush()
	return d, nil
}

// isContinuation tells whether l continues an entry's description: indented
// by a tab or by six or more spaces.
func isContinuation(l string) bool {
	indent := len(l) - len(strings.TrimLeft(l, " \t"))
	return strings.HasPrefix(l, "\t") || strings.Contains(l[:indent], "\t") || indent >= 6
}

// Page is what Render needs besides the parsed -h text.
type Page struct {
	Name    string // command name: vpoller-proxy
	Section string // "1" or "8"
	Summary string // the NAME line after "\-"
	Date    string // YYYY-MM-DD of the source
	Source  string // e.g. "vpoller 1.2.3"
	Manual  string // e.g. "vPoller for Zabbix"
	// Before are sections placed before those of the -h text (a longer
	// DESCRIPTION is merged: its blocks come first); After are appended
	// (FILES, SIGNALS, SEE ALSO). Blocks use the same kinds as Parse's.
	Before, After []Section
}

// Render writes the man page of p and d as roff.
func Render(w io.Writer, p Page, d *Doc) error {
	bw := bufio.NewWriter(w)
	fmt.Fprintf(bw, ".\\\" Generated by internal/manpage from `%s -h`; do not edit.\n", p.Name)
	fmt.Fprintf(bw, ".TH %s %s %s %s %s\n", quote(strings.ToUpper(p.Name)), p.Section, quote(p.Date), quote(p.Source), quote(p.Manual))
	fmt.Fprintf(bw, ".SH NAME\n%s \\- %s\n", escape(p.Name), escape(p.Summary))
	fmt.Fprintf(bw, ".SH SYNOPSIS\n.nf\n")
	for _, s := range d.Synopsis {
		fmt.Fprintln(bw, synopsisLine(s))
	}
	fmt.Fprintf(bw, ".fi\n")

	sections := mergeSections(p.Before, d.Sections)
	sections = append(sections, p.After...)
	for _, s := range sections {
		fmt.Fprintf(bw, ".SH %s\n", quoteIfSpace(s.Title))
		for i, b := range s.Blocks {
			switch b.Kind {
			case Prose:
				if i > 0 {
					fmt.Fprintln(bw, ".PP")
				}
				for _, l := range b.Lines {
					fmt.Fprintln(bw, escape(strings.TrimSpace(l)))
				}
			case Pre:
				if i > 0 {
					fmt.Fprintln(bw, ".PP")
				}
				fmt.Fprintln(bw, ".RS 4\n.nf")
				for _, l := range dedent(b.Lines) {
					fmt.Fprintln(bw, escape(l))
				}
				fmt.Fprintln(bw, ".fi\n.RE")
			case Entry:
				fmt.Fprintf(bw, ".TP\n%s\n", tag(b.Tag))
				for _, l := range b.Lines {
					fmt.Fprintln(bw, escape(strings.TrimSpace(l)))
				}
			}
		}
	}
	return bw.Flush()
}

// mergeSections puts before's sections first; a section of d with the same
// title as one of before's is merged into it (before's blocks first).
func mergeSections(before, parsed []Section) []Section {
	out := make([]Section, 0, len(before)+len(parsed))
	for _, s := range before {
		out = append(out, Section{Title: s.Title, Blocks: append([]Block(nil), s.Blocks...)})
	}
	for _, s := range parsed {
		merged := false
		for i := range out {
			if out[i].Title == s.Title {
				out[i].Blocks = append(out[i].Blocks, s.Blocks...)
				merged = true
				break
			}
		}
		if !merged {
			out = append(out, s)
		}
	}
	return out
}

// tagWordRE splits an entry's name into words and separators.
var tagWordRE = regexp.MustCompile(`[^\s,|\[\]]+|[\s,|\[\]]+`)

// tag renders an entry's name: flags and literal words bold, placeholders
// (<x>, UPPER, flag.PrintDefaults' type names after a flag) italic.
func tag(t string) string {
	var b strings.Builder
	afterFlag := false
	for _, w := range tagWordRE.FindAllString(t, -1) {
		switch {
		case strings.TrimSpace(w) == "" || strings.ContainsAny(w[:1], ",|[] \t"):
			b.WriteString(escape(w))
			continue
		case strings.HasPrefix(w, "-"):
			b.WriteString(`\fB` + escape(w) + `\fR`)
			afterFlag = true
			continue
		case strings.HasPrefix(w, "<") || isUpper(w) || afterFlag:
			b.WriteString(`\fI` + escape(w) + `\fR`)
		default:
			b.WriteString(`\fB` + escape(w) + `\fR`)
		}
		afterFlag = false
	}
	return b.String()
}

// synopsisLine renders one form of the command: the command name bold,
// the rest as written.
func synopsisLine(s string) string {
	name, rest, _ := strings.Cut(s, " ")
	if rest == "" {
		return `\fB` + escape(name) + `\fR`
	}
	return `\fB` + escape(name) + `\fR ` + escape(rest)
}

func isUpper(w string) bool {
	has := false
	for _, r := range w {
		switch {
		case r >= 'A' && r <= 'Z':
			has = true
		case r == '_' || (r >= '0' && r <= '9') || r == '.':
		default:
			return false
		}
	}
	return has
}

// dedent removes the indentation the lines share.
func dedent(lines []string) []string {
	min := -1
	for _, l := range lines {
		l = strings.ReplaceAll(l, "\t", "        ")
		if strings.TrimSpace(l) == "" {
			continue
		}
		if n := len(l) - len(strings.TrimLeft(l, " ")); min < 0 || n < min {
			min = n
		}
	}
	out := make([]string, len(lines))
	for i, l := range lines {
		l = strings.ReplaceAll(l, "\t", "        ")
		if len(l) >= min && min > 0 {
			l = l[min:]
		}
		out[i] = l
	}
	return out
}

// escape makes text safe for roff: backslashes, a leading control
// character, and hyphens (which roff would print as typographic hyphens,
// breaking copied flags and paths) are escaped.
func escape(s string) string {
	s = strings.ReplaceAll(s, `\`, `\e`)
	s = strings.ReplaceAll(s, "-", `\-`)
	if strings.HasPrefix(s, ".") || strings.HasPrefix(s, "'") {
		s = `\&` + s
	}
	return s
}

// quote makes a .TH argument.
func quote(s string) string {
	return `"` + strings.ReplaceAll(escape(s), `"`, `\(dq`) + `"`
}

func quoteIfSpace(s string) string {
	if strings.Contains(s, " ") {
		return quote(s)
	}
	return s
}

// flagRE finds flags in text: "-f", "--curve-server-key", "-request-timeout",
// at the start of a word (after a space, "[", "|", "," or "(").
var flagRE = regexp.MustCompile(`(?:^|[\s\[|,(])(--?[A-Za-z][A-Za-z0-9]*(?:-[A-Za-z0-9]+)*)`)

// FlagsIn returns the flags text mentions, each once, in order.
func FlagsIn(text string) []string {
	var out []string
	seen := map[string]bool{}
	for _, m := range flagRE.FindAllStringSubmatch(text, -1) {
		if !seen[m[1]] {
			seen[m[1]] = true
			out = append(out, m[1])
		}
	}
	return out
}

// Documents reports whether tagged (TaggedFlags of a page) has an entry for
// flag. Go's flag package takes -x and --x alike, so a usage text that
// writes --version is answered by an entry for -version.
func Documents(tagged map[string]bool, flag string) bool {
	return tagged[flag] || (strings.HasPrefix(flag, "--") && tagged[flag[1:]])
}

// EntryFlags returns the flags the entries of d name (their tags), each once.
func (d *Doc) EntryFlags() map[string]bool {
	out := map[string]bool{}
	for _, s := range d.Sections {
		for _, b := range s.Blocks {
			if b.Kind == Entry {
				for _, f := range FlagsIn(b.Tag) {
					out[f] = true
				}
			}
		}
	}
	return out
}

// AddMissing appends to section title (created after the others when d has
// none) each entry of fallback whose flags no entry of d names yet (or,
// for an entry without flags, whose tag no entry of d has): the
// hand-written description of a flag the -h text only shows in the
// synopsis. An entry the -h text describes itself is left out.
func (d *Doc) AddMissing(title string, fallback []Block) {
	have := d.EntryFlags()
	tags := map[string]bool{}
	for _, s := range d.Sections {
		for _, b := range s.Blocks {
			if b.Kind == Entry {
				tags[b.Tag] = true
			}
		}
	}
	var add []Block
	for _, b := range fallback {
		flags := FlagsIn(b.Tag)
		missing := len(flags) == 0 && !tags[b.Tag] // a command such as "keygen NAME"
		for _, f := range flags {
			if !have[f] {
				missing = true
			}
		}
		if missing {
			add = append(add, b)
		}
	}
	if len(add) == 0 {
		return
	}
	for i := range d.Sections {
		if d.Sections[i].Title == title {
			d.Sections[i].Blocks = append(d.Sections[i].Blocks, add...)
			return
		}
	}
	d.Sections = append(d.Sections, Section{Title: title, Blocks: add})
}

// tpTagRE finds the tag line after each .TP of a rendered page.
var tpTagRE = regexp.MustCompile(`(?m)^\.TP\n(.*)$`)

// TaggedFlags returns the flags the .TP entries of a rendered page name,
// with roff's font changes and escapes removed.
func TaggedFlags(roff string) map[string]bool {
	out := map[string]bool{}
	unroff := strings.NewReplacer(`\fB`, "", `\fI`, "", `\fR`, "", `\-`, "-", `\e`, `\`, `\&`, "")
	for _, m := range tpTagRE.FindAllStringSubmatch(roff, -1) {
		for _, f := range FlagsIn(unroff.Replace(m[1])) {
			out[f] = true
		}
	}
	return out
}
