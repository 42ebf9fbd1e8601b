package plugin

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/vpoller/zabbix-vpoller/lld"
	"github.com/vpoller/zabbix-vpoller/plugin/agent2"
)

// TestMode reports whether args (os.Args) ask for the plugin's own test
// run (-t KEY) rather than the agent's start (BINARY SOCKET true|false,
// whose socket path never starts with '-').
func TestMode(args []string) bool {
	for _, a := range args[1:] {
		name, _, _ := strings.Cut(strings.TrimLeft(a, "-"), "=")
		if strings.HasPrefix(a, "-") && (name == "t" || name == "test") {
			return true
		}
	}
	return false
}

// testUsage is the -t synopsis, for -h and usage errors.
const testUsage = `Usage: %[1]s -t KEY [-c AGENT_CONFIG] [-e ENDPOINT] [-timeout SECONDS]

Runs one item key once, as "zabbix_agent2 -t KEY" does, against the
vPoller proxy the agent configuration names, and prints the result in
Zabbix's form: "KEY [s|value]", or "KEY [m|ZBX_NOTSUPPORTED] [error]".
It reads the Plugins.VPoller.* options (and Timeout) of AGENT_CONFIG and
of the files it includes. It needs no agent, so it also works while the
agent runs. vpoller.events positions stay in memory: a test does not move
the agent's.

  -c FILE      the agent configuration (default %[2]s)
  -e ENDPOINT  the vPoller proxy, overriding Plugins.VPoller.Endpoint
  -timeout N   seconds the key may take (default: Plugins.VPoller.Timeout,
               else the agent's Timeout minus 0.5 s)

Exit status: 0 when a value was printed, 1 when the key is not supported
(the error is printed), 2 for a bad command line or configuration.
`

// RunTest is the plugin binary's -t: one Export, the way the agent would
// run it, printed the way zabbix_agent2 -t prints it. args are os.Args.
func RunTest(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	prog := "zabbix-agent2-plugin-vpoller"
	if len(args) > 0 {
		prog = args[0]
	}
	fs := flag.NewFlagSet(prog, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	var key, conf, endpoint string
	var timeout int
	fs.StringVar(&key, "t", "", "")
	fs.StringVar(&key, "test", "", "")
	fs.StringVar(&conf, "c", "", "")
	fs.StringVar(&conf, "config", "", "")
	fs.StringVar(&endpoint, "e", "", "")
	fs.StringVar(&endpoint, "endpoint", "", "")
	fs.IntVar(&timeout, "timeout", 0, "")
	usage := func(err error) int {
		fmt.Fprintf(stderr, "%s: %v\n\n", prog, err)
		fmt.Fprintf(stderr, testUsage, prog, DefaultAgentConfig)
		return 2
	}
	if err := fs.Parse(args[1:]); err != nil {
		return usage(err)
	}
	if fs.NArg() > 0 {
		return usage(fmt.Errorf("unexpected argument %q", fs.Arg(0)))
	}
	if key == "" {
		return usage(errors.New("-t needs an item key, e.g. -t 'vpoller.poll[about,vc01.example.org,,version]'"))
	}
	if timeout < 0 || timeout > maxTimeoutSeconds {
		return usage(fmt.Errorf("-timeout %d: want 1 to %d seconds", timeout, maxTimeoutSeconds))
	}
	k, err := lld.ParseItemKey(key)
	if err != nil {
		return usage(err)
	}
	name, params := k.Name, k.Params

	var lines []AgentLine
	if conf == "" {
		if _, err := os.Stat(DefaultAgentConfig); err == nil {
			conf = DefaultAgentConfig
		}
	}
	if conf != "" {
		if lines, err = ReadAgentConfig(conf); err != nil {
			fmt.Fprintf(stderr, "%s: %v\n", prog, err)
			return 2
		}
	}
	opts := pluginOptions(lines, Name)
	if endpoint != "" {
		opts.List = append(opts.List, agent2.Option{Path: []string{"Endpoint"}, Value: endpoint})
	}
	// A test keeps vpoller.events positions in memory: moving the agent's
	// stored ones would make its next poll skip the events shown here.
	opts.List = append(opts.List, agent2.Option{Path: []string{"EventsStateFile"}, Value: EventsStateOff})
	p := New()
	p.UseLogger(slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn})))
	for _, w := range misspeltLines(lines, Name) {
		p.log.Warn(w)
	}
	if err := p.Configure(agent2.GlobalOptions{Timeout: agentTimeout(lines)}, opts); err != nil {
		where := "the command line"
		if conf != "" {
			where = conf + " (and the files it includes)"
		}
		fmt.Fprintf(stderr, "%s: configuration in %s: %v\n", prog, where, err)
		return 2
	}
	defer p.Stop()

	value, err := p.Export(ctx, agent2.Request{Key: name, Params: params, Timeout: time.Duration(timeout) * time.Second})
	if err != nil {
		fmt.Fprintf(stdout, "%s[m|ZBX_NOTSUPPORTED] [%s]\n", testKeyColumn(key), err)
		return 1
	}
	fmt.Fprintf(stdout, "%s[s|%s]\n", testKeyColumn(key), value)
	return 0
}

// testKeyColumn pads the key as zabbix_agent2 -t does (a key of 46
// characters or more is followed by no space at all).
func testKeyColumn(key string) string { return fmt.Sprintf("%-46s", key) }
