// Command gen writes the man pages the packages ship, from the -h text of
// the built binaries (internal/manpage) plus the NAME line, FILES and SEE
// ALSO written here. `make package` runs it:
//
//	go run ./internal/manpage/gen -bin bin -out dist/man -source "vpoller 1.2.3" -date 2026-12-07
//
// It writes OUT/NAME.SECTION.gz (gzip without name or time, as lintian
// wants) and fails when a flag the -h text mentions has no entry in the
// page, so a flag cannot go undocumented.
package main

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/vpoller/zabbix-vpoller/internal/manpage"
)

// page is one man page: the binary, how it is invoked, and what its -h
// text does not say.
type page struct {
	name    string
	section string
	argv0   string // what the binary sees as its name (the plugin prints it)
	summary string
	before  []manpage.Section
	options []manpage.Block // descriptions of flags the -h text shows only in the synopsis
	after   []manpage.Section
}

func prose(lines ...string) manpage.Block { return manpage.Block{Kind: manpage.Prose, Lines: lines} }
func entry(tag string, lines ...string) manpage.Block {
	return manpage.Block{Kind: manpage.Entry, Tag: tag, Lines: lines}
}

func seeAlso(names ...string) manpage.Section {
	return manpage.Section{Title: "SEE ALSO", Blocks: []manpage.Block{prose(strings.Join(names, ", "))}}
}

// daemonFiles is the FILES section of vpoller-proxy(8) or vpoller-worker(8).
func daemonFiles(name, extra string) manpage.Section {
	short := strings.TrimPrefix(name, "vpoller-")
	blocks := []manpage.Block{
		entry("/etc/vpoller/vpoller.conf", "The configuration (its ["+short+"] section)."),
	}
	if extra != "" {
		blocks = append(blocks, entry("/etc/vpoller/vsphere.d/", extra))
	}
	blocks = append(blocks,
		entry("/run/vpoller/"+short+"-mgmt.sock",
			"The default management socket (mode 0600) that status and stop use. /run/vpoller belongs to the user vpoller; "+
				"the systemd unit (RuntimeDirectory=) or the init script creates it. Started by hand: "+
				"install -d -o vpoller -g vpoller -m 0750 /run/vpoller, then run the daemon as vpoller "+
				"(runuser -u vpoller -- "+name+" start)."),
		entry("/lib/systemd/system/"+name+".service", "The systemd unit (systemctl reload sends SIGHUP)."),
		entry("/etc/init.d/"+name,
			"The init script for systems without systemd (Debian package): start, stop, restart, try-restart, reload, status. "+
				"It runs the daemon as vpoller with its standard error in /var/log/vpoller/"+name+".log, "+
				"and its pid in /run/vpoller/"+name+".pid. /etc/default/"+name+" may set DAEMON_ARGS."),
		entry("/usr/share/doc/vpoller/README.md", "Installation, configuration, security and operation."),
	)
	return manpage.Section{Title: "FILES", Blocks: blocks}
}

var pages = []page{
	{
		name: "vpoller-proxy", section: "8", argv0: "vpoller-proxy",
		summary: "vPoller proxy: hands vSphere API requests from clients to workers",
		before: []manpage.Section{{Title: "DESCRIPTION", Blocks: []manpage.Block{prose(
			"vpoller-proxy is the broker of vPoller. Clients (the Zabbix agent 2 plugin, vpoller-client,",
			"the original Python vPoller clients) connect to its frontend, workers to its backend; each",
			"request goes to the worker that owns the request's vCenter.",
			"start runs the proxy in the foreground, logging to standard error, until SIGTERM or SIGINT or",
			"a stop request; status and stop talk to a running proxy over its management socket.",
		)}}},
		after: []manpage.Section{
			daemonFiles("vpoller-proxy", ""),
			seeAlso("vpoller-worker(8)", "vpoller-client(1)", "zabbix-agent2-plugin-vpoller(8)"),
		},
	},
	{
		name: "vpoller-worker", section: "8", argv0: "vpoller-worker",
		summary: "vPoller worker: answers vSphere API requests from vCenter/ESXi sessions",
		before: []manpage.Section{{Title: "DESCRIPTION", Blocks: []manpage.Block{prose(
			"vpoller-worker connects to every proxy of its configuration and answers the requests for",
			"the vCenters and ESXi hosts it knows (the per-vCenter files of vsphere_hosts_dir, or the",
			"original's vconnector database) from long-lived sessions, a property mirror and one",
			"performance sweep per vCenter.",
			"start runs the worker in the foreground, logging to standard error, until SIGTERM or SIGINT",
			"or a stop request; status and stop talk to a running worker over its management socket.",
		)}}},
		after: []manpage.Section{
			daemonFiles("vpoller-worker", "One file per vCenter or ESXi host (NAME.conf: host, user, password, TLS settings), "+
				"owned by vpoller, mode 0600; the directory is mode 0700."),
			seeAlso("vpoller-proxy(8)", "vpoller-client(1)", "zabbix-agent2-plugin-vpoller(8)"),
		},
	},
	{
		name: "vpoller-client", section: "1", argv0: "vpoller-client",
		summary: "send one task request to a vPoller proxy and print the reply",
		after: []manpage.Section{
			{Title: "EXIT STATUS", Blocks: []manpage.Block{
				entry("0", "A reply was printed (also the original's no-reply object when no proxy answered; the message goes to standard error)."),
				entry("1", "No request could be sent."),
				entry("2", "A bad command line."),
			}},
			seeAlso("vpoller-proxy(8)", "vpoller-worker(8)", "/usr/share/doc/vpoller/docs/methods.md"),
		},
	},
	{
		name: "zabbix-agent2-plugin-vpoller", section: "8",
		argv0:   "/usr/sbin/zabbix-agent2-plugin/zabbix-agent2-plugin-vpoller",
		summary: "Zabbix agent 2 plugin for vSphere through vPoller",
		options: []manpage.Block{
			entry("-V, --version", "Print the version and exit."),
			entry("-h, --help", "Print the usage and the item keys and exit."),
			entry("-t KEY", "Run one item key once against the vPoller proxy, as zabbix_agent2 -t does, and print",
				"\"KEY [s|value]\" or the error; -c, -e and -timeout tune it (exit status 0, 1 not supported, 2 usage)."),
			entry("keygen NAME", "Write a CURVE key pair for the agent: NAME.key (public; it goes into the proxy's",
				"frontend_curve_allow) and NAME.key_secret (Plugins.VPoller.CurveSecretKey, mode 0600)."),
		},
		after: []manpage.Section{
			{Title: "FILES", Blocks: []manpage.Block{
				entry("/etc/zabbix/zabbix_agent2.d/plugins.d/vpoller.conf",
					"The plugin's agent configuration: Plugins.VPoller.System.Path and every option, documented in the file."),
				entry("/var/lib/zabbix/vpoller-events.json", "The positions of the vpoller.events keys (Plugins.VPoller.EventsStateFile)."),
				entry("/usr/share/zabbix-vpoller/templates/", "The Zabbix templates for these item keys (import them in the frontend)."),
				entry("/usr/share/doc/zabbix-agent2-plugin-vpoller/plugin.md", "Installation, options, item keys, errors."),
			}},
			seeAlso("zabbix_agent2(8)", "vpoller-proxy(8)", "vpoller-client(1)"),
		},
	},
}

func main() {
	bin := flag.String("bin", "bin", "directory of the built binaries")
	out := flag.String("out", "dist/man", "directory to write NAME.SECTION.gz to")
	source := flag.String("source", "vPoller for Zabbix", "the .TH source: package and version")
	date := flag.String("date", time.Now().UTC().Format("2006-01-02"), "the .TH date (of the source, for reproducible pages)")
	flag.Parse()
	if err := os.MkdirAll(*out, 0o755); err != nil {
		fatal(err)
	}
	for _, p := range pages {
		if err := write(p, *bin, *out, *source, *date); err != nil {
			fatal(err)
		}
	}
}

func fatal(err error) {
	fmt.Fprintf(os.Stderr, "manpage gen: %v\n", err)
	os.Exit(1)
}

// write renders one page and checks that every flag of the -h text has an
// entry in it.
func write(p page, bin, out, source, date string) error {
	usage, err := help(filepath.Join(bin, p.name), p.argv0)
	if err != nil {
		return err
	}
	doc, err := manpage.Parse(usage)
	if err != nil {
		return fmt.Errorf("%s -h: %w", p.name, err)
	}
	doc.AddMissing("OPTIONS", p.options)
	var roff bytes.Buffer
	err = manpage.Render(&roff, manpage.Page{
		Name: p.name, Section: p.section, Summary: p.summary, Date: date, Source: source,
		Manual: "vPoller for Zabbix", Before: p.before, After: p.after,
	}, doc)
	if err != nil {
		return fmt.Errorf("%s: %w", p.name, err)
	}
	tagged := manpage.TaggedFlags(roff.String())
	var missing []string
	for _, f := range manpage.FlagsIn(usage) {
		if !manpage.Documents(tagged, f) {
			missing = append(missing, f)
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("%s: %s -h mentions %s but the man page has no entry for it: describe it in the -h text's Options or in internal/manpage/gen's page",
			p.name, p.name, strings.Join(missing, ", "))
	}
	var gz bytes.Buffer
	zw, err := gzip.NewWriterLevel(&gz, gzip.BestCompression)
	if err != nil {
		return err
	}
	if _, err := zw.Write(roff.Bytes()); err != nil {
		return err
	}
	if err := zw.Close(); err != nil {
		return err
	}
	dst := filepath.Join(out, p.name+"."+p.section+".gz")
	if err := os.WriteFile(dst, gz.Bytes(), 0o644); err != nil {
		return fmt.Errorf("%s: %w", p.name, err)
	}
	return nil
}

// help runs path -h with argv[0] set to argv0 and returns what it printed
// (standard output and error: the Go flag package prints usage to stderr).
func help(path, argv0 string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, path, "-h")
	cmd.Args[0] = argv0
	var buf bytes.Buffer
	cmd.Stdout, cmd.Stderr = &buf, &buf
	err := cmd.Run()
	var exit *exec.ExitError
	if err != nil && !errors.As(err, &exit) {
		return "", fmt.Errorf("%s -h: %w", path, err)
	}
	if buf.Len() == 0 {
		return "", fmt.Errorf("%s -h printed nothing (exit %v)", path, err)
	}
	return buf.String(), nil
}
