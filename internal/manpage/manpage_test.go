package manpage

import (
	"bytes"
	"flag"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/vpoller/zabbix-vpoller/internal/curvekey"
)

func render(t *testing.T, usage string, p Page) (string, *Doc) {
	t.Helper()
	d, err := Parse(usage)
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	if p.Name == "" {
		p = Page{Name: "prog", Section: "8", Summary: "a program", Date: "2026-12-07", Source: "vpoller 1.2.3", Manual: "vPoller for Zabbix"}
	}
	var b bytes.Buffer
	if err := Render(&b, p, d); err != nil {
		t.Fatalf("Render: %v", err)
	}
	return b.String(), d
}

// The daemons' usage: a synopsis, prose, curvekey's keygen entries, then
// flag.PrintDefaults of a real FlagSet. Every flag of the set must have its
// .TP entry, with the type as placeholder and the default in the text.
func TestFlagSetUsage(t *testing.T) {
	fs := flag.NewFlagSet("prog", flag.ContinueOnError)
	fs.String("f", "", "configuration file (default /etc/vpoller/vpoller.conf if it exists)")
	fs.Bool("d", false, "debug logging")
	fs.Int("c", 0, "requests handled at once\n(default: [worker] concurrency, 16)")
	fs.Duration("request-timeout", 30*time.Second, "time limit of one request")
	fs.Bool("version", false, "print the version and exit")
	var defaults bytes.Buffer
	fs.SetOutput(&defaults)
	fs.PrintDefaults()
	usage := "Usage:\n  prog [-f CONFIG] [-d] start\n  prog [-f CONFIG] status|stop\n  prog keygen NAME | keygen -secret FILE\n\n" +
		"status and stop authenticate as the configuration's [proxy] mgmt_* settings\nsay.\n" +
		curvekey.KeygenUsage + "\n\nOptions:\n" + defaults.String()

	roff, d := render(t, usage, Page{})
	if want := []string{"prog [-f CONFIG] [-d] start", "prog [-f CONFIG] status|stop", "prog keygen NAME | keygen -secret FILE"}; !reflect.DeepEqual(d.Synopsis, want) {
		t.Errorf("synopsis %q, want %q", d.Synopsis, want)
	}
	tagged := TaggedFlags(roff)
	fs.VisitAll(func(f *flag.Flag) {
		if !tagged["-"+f.Name] {
			t.Errorf("flag -%s has no .TP entry in\n%s", f.Name, roff)
		}
	})
	for _, want := range []string{
		".TH \"PROG\" 8 \"2026\\-12\\-07\" \"vpoller 1.2.3\" \"vPoller for Zabbix\"\n",
		".SH NAME\nprog \\- a program\n",
		".SH SYNOPSIS\n.nf\n\\fBprog\\fR [\\-f CONFIG] [\\-d] start\n",
		".SH DESCRIPTION\nstatus and stop authenticate as the configuration's [proxy] mgmt_* settings\nsay.\n",
		".TP\n\\fBkeygen\\fR \\fB\\-secret\\fR \\fIFILE\\fR\n",
		".SH OPTIONS\n.TP\n\\fB\\-c\\fR \\fIint\\fR\nrequests handled at once\n(default: [worker] concurrency, 16)\n",
		".TP\n\\fB\\-d\\fR\ndebug logging\n",
		".TP\n\\fB\\-request\\-timeout\\fR \\fIduration\\fR\ntime limit of one request (default 30s)\n",
	} {
		if !strings.Contains(roff, want) {
			t.Errorf("page lacks %q:\n%s", want, roff)
		}
	}
	if got := TaggedFlags(roff); !got["-secret"] {
		t.Errorf("keygen -secret has no entry: %v", got)
	}
}

// vpoller-client's docopt-style usage: "-x <arg>, --long <arg>" entries,
// descriptions on the same line or the next, continued lines.
func TestDocoptUsage(t *testing.T) {
	usage := `Usage:
  vpoller-client [-D] -m <method> -V <host> [-e <endpoint>]
  vpoller-client -h | --version

Sends one task request to a vPoller proxy and prints the reply.

Options:
  -h, --help                          Show this help and exit
  --version                           Show version and exit
  -D, --debug                         Log retries to stderr
  -m <method>, --method <method>      Task to perform
  -V <host>, --vsphere-host <host>    vSphere agent
  -p <properties>, --properties <properties>
                                      Comma-separated vSphere property paths
  -e <endpoint>, --endpoint <endpoint>
                                      Proxy endpoint, or a comma-separated list of
                                      proxy frontends [default: tcp://localhost:10123]
  keygen NAME                         Write a CURVE key pair
`
	roff, d := render(t, usage, Page{})
	if len(d.Sections) != 2 || d.Sections[0].Title != "DESCRIPTION" || d.Sections[1].Title != "OPTIONS" {
		t.Fatalf("sections %+v", d.Sections)
	}
	opts := d.Sections[1].Blocks
	var tags []string
	for _, b := range opts {
		if b.Kind != Entry {
			t.Errorf("non-entry block in OPTIONS: %+v", b)
		}
		tags = append(tags, b.Tag)
	}
	if want := []string{"-h, --help", "--version", "-D, --debug", "-m <method>, --method <method>", "-V <host>, --vsphere-host <host>", "-p <properties>, --properties <properties>", "-e <endpoint>, --endpoint <endpoint>", "keygen NAME"}; !reflect.DeepEqual(tags, want) {
		t.Errorf("entries %q, want %q", tags, want)
	}
	if want := []string{"Proxy endpoint, or a comma-separated list of", "proxy frontends [default: tcp://localhost:10123]"}; !reflect.DeepEqual(opts[6].Lines, want) {
		t.Errorf("endpoint description %q, want %q", opts[6].Lines, want)
	}
	for _, want := range []string{
		".TP\n\\fB\\-p\\fR \\fI<properties>\\fR, \\fB\\-\\-properties\\fR \\fI<properties>\\fR\nComma\\-separated vSphere property paths\n",
		".TP\n\\fBkeygen\\fR \\fINAME\\fR\nWrite a CURVE key pair\n",
	} {
		if !strings.Contains(roff, want) {
			t.Errorf("page lacks %q:\n%s", want, roff)
		}
	}
	tagged := TaggedFlags(roff)
	for _, f := range FlagsIn(usage) {
		if !tagged[f] {
			t.Errorf("%s in the usage has no entry", f)
		}
	}
}

// The plugin's usage: "Usage: PATH ..." on one line, a literal line, a
// heading right after prose ("Item keys:"), and flags only in the synopsis
// that AddMissing documents.
func TestPluginUsage(t *testing.T) {
	usage := `Usage: /usr/sbin/zabbix-agent2-plugin/p SOCKET true|false
       /usr/sbin/zabbix-agent2-plugin/p -V | -h

Zabbix agent 2 loadable plugin "VPoller". The agent starts it itself; declare it
in the agent configuration with
  Plugins.VPoller.System.Path=/usr/sbin/zabbix-agent2-plugin/p
Item keys:
  vpoller.discover   Returns LLD JSON.
  vpoller.poll       Returns one value.
`
	d, err := Parse(usage)
	if err != nil {
		t.Fatal(err)
	}
	missing := func() []string {
		var b bytes.Buffer
		if err := Render(&b, Page{Name: "p", Section: "8", Summary: "s"}, d); err != nil {
			t.Fatal(err)
		}
		tagged := TaggedFlags(b.String())
		var out []string
		for _, f := range FlagsIn(usage) {
			if !tagged[f] {
				out = append(out, f)
			}
		}
		return out
	}
	// Without the hand-written entries the check must name both flags.
	if got := missing(); !reflect.DeepEqual(got, []string{"-V", "-h"}) {
		t.Errorf("flags without entry before AddMissing: %q, want [-V -h]", got)
	}
	d.AddMissing("OPTIONS", []Block{
		{Kind: Entry, Tag: "-V, --version", Lines: []string{"Print the version."}},
		{Kind: Entry, Tag: "-h, --help", Lines: []string{"Print the usage."}},
	})
	if got := missing(); len(got) != 0 {
		t.Errorf("flags without entry after AddMissing: %q", got)
	}
	var titles []string
	for _, s := range d.Sections {
		titles = append(titles, s.Title)
	}
	if want := []string{"DESCRIPTION", "ITEM KEYS", "OPTIONS"}; !reflect.DeepEqual(titles, want) {
		t.Errorf("sections %q, want %q", titles, want)
	}
	if b := d.Sections[0].Blocks; len(b) != 2 || b[0].Kind != Prose || b[1].Kind != Pre {
		t.Errorf("description blocks %+v, want prose then the literal line", b)
	}
	if b := d.Sections[1].Blocks; len(b) != 2 || b[0].Tag != "vpoller.discover" || b[1].Lines[0] != "Returns one value." {
		t.Errorf("item keys %+v", b)
	}
	// An entry the -h text has is not added twice; a command is added once.
	d.AddMissing("OPTIONS", []Block{{Kind: Entry, Tag: "-V, --version", Lines: []string{"again"}}, {Kind: Entry, Tag: "keygen NAME"}})
	d.AddMissing("OPTIONS", []Block{{Kind: Entry, Tag: "keygen NAME"}})
	if n := len(d.Sections[2].Blocks); n != 3 || d.Sections[2].Blocks[2].Tag != "keygen NAME" {
		t.Errorf("OPTIONS has %+v after adding -V again and keygen twice, want -V, -h, keygen NAME", d.Sections[2].Blocks)
	}
}

func TestParseErrors(t *testing.T) {
	for _, usage := range []string{"", "\n\n", "prog: bad flag\n", "Usage:\n\nno synopsis\n"} {
		if _, err := Parse(usage); err == nil {
			t.Errorf("Parse(%q) = nil error", usage)
		}
	}
}

func TestEscape(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{`a\b`, `a\eb`},
		{".TH injected", `\&.TH injected`},
		{"'quote", `\&'quote`},
		{"--curve-server-key", `\-\-curve\-server\-key`},
	} {
		if got := escape(c.in); got != c.want {
			t.Errorf("escape(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}

func TestFlagsIn(t *testing.T) {
	got := FlagsIn("prog [-f CONFIG] keygen -secret FILE | -h, --curve-server-key <k> per-vCenter 1-65535 (-c 32) -- -")
	want := []string{"-f", "-secret", "-h", "--curve-server-key", "-c"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("FlagsIn = %q, want %q", got, want)
	}
}
