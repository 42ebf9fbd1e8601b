package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/vpoller/zabbix-vpoller/vpoller"
)

// Defaults of the original vpoller-client.
const (
	defaultEndpoint  = "tcp://localhost:10123"
	defaultRetries   = 3
	defaultTimeoutMS = 10000
)

// config is what the command line asks for.
type config struct {
	Request  vpoller.Request
	Endpoint string // one endpoint or a comma-separated list (client.New)
	Retries  int
	Timeout  time.Duration
	Debug    bool
	Help     bool   // -h: print usage, exit 0
	Version  bool   // --version: print version, exit 0
	Keygen   string // keygen NAME: write a CURVE key pair
	// CURVE: the proxy frontend's public key (Z85 or certificate file) and
	// this client's secret certificate.
	CurveServerKey, CurveSecretKey string
}

// errUsage marks a command line that cannot be run (exit status 2).
var errUsage = errors.New("usage error")

const usageText = `Usage:
  vpoller-client [-D] -m <method> -V <host> [-e <endpoint>] [-r <retries>]
                 [-t <timeout>] [-p <properties>] [-k <key>] [-c <counter>]
                 [-n <name>] [-i <instance>] [-s <max-sample>] [-T <interval>]
                 [-U <username>] [-P <password>] [-H <helper>]
                 [--curve-server-key <key>] [--curve-secret-key <file>]
  vpoller-client keygen NAME
  vpoller-client -h | --version

Sends one task request to a vPoller proxy and prints the reply.

Options:
  -h, --help                          Show this help and exit
  --version                           Show version and exit
  -D, --debug                         Log retries and connection details to stderr
  -m <method>, --method <method>      Task to perform (e.g. about, vm.get, vm.discover)
  -V <host>, --vsphere-host <host>    vSphere agent (vCenter/ESXi) as registered on the workers
  -n <name>, --name <name>            Name of the vSphere object to query
  -p <properties>, --properties <properties>
                                      Comma-separated vSphere property paths
  -k <key>, --key <key>               Key for the task (guest disk path, process filter)
  -U <username>, --username <username>
                                      Guest OS user name (vm.process.get)
  -P <password>, --password <password>
                                      Guest OS password (vm.process.get)
  -c <counter>, --counter-name <counter>
                                      Performance counter, e.g. cpu.usagemhz.megaHertz.average
  -i <instance>, --instance <instance>
                                      Performance counter instance ("" = aggregate)
  -s <max-sample>, --max-sample <max-sample>
                                      Number of performance samples [default: 1]
  -T <interval>, --perf-interval <interval>
                                      Historical performance interval name (e.g. "Past day")
  -H <helper>, --helper <helper>      Result helper, e.g. vpoller.helpers.zabbix
  -e <endpoint>, --endpoint <endpoint>
                                      Proxy endpoint, or a comma-separated list of
                                      proxy frontends ("tcp://a:10123,tcp://b:10123"):
                                      the next is tried when one refuses the
                                      connection or does not answer in time
                                      [default: tcp://localhost:10123]
  -r <retries>, --retries <retries>   Total number of attempts, at least one per
                                      endpoint [default: 3]
  -t <timeout>, --timeout <timeout>   Milliseconds to wait for each attempt [default: 10000]
  --curve-server-key <key>            CURVE: the proxy's public key (Z85, or its .key file)
  --curve-secret-key <file>           CURVE: this client's secret certificate (.key_secret)
  keygen NAME                         Write a CURVE key pair: NAME.key (public) and
                                      NAME.key_secret (secret, mode 0600)
`

// parseArgs turns the command line (without the program name) into a
// config. It writes nothing: -h and --version are reported in the config.
func parseArgs(args []string) (*config, error) {
	cfg := &config{Endpoint: defaultEndpoint}
	fs := flag.NewFlagSet("vpoller-client", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}

	var properties, maxSample string
	retries, timeoutMS := strconv.Itoa(defaultRetries), strconv.Itoa(defaultTimeoutMS)
	str := func(p *string, short, long string) {
		fs.StringVar(p, short, *p, "")
		fs.StringVar(p, long, *p, "")
	}
	r := &cfg.Request
	str(&r.Method, "m", "method")
	str(&r.Hostname, "V", "vsphere-host")
	str(&r.Name, "n", "name")
	str(&properties, "p", "properties")
	str(&r.Key, "k", "key")
	str(&r.Username, "U", "username")
	str(&r.Password, "P", "password")
	str(&r.CounterName, "c", "counter-name")
	str(&r.Instance, "i", "instance")
	str(&maxSample, "s", "max-sample")
	str(&r.PerfInterval, "T", "perf-interval")
	str(&r.Helper, "H", "helper")
	str(&cfg.Endpoint, "e", "endpoint")
	str(&retries, "r", "retries")
	str(&timeoutMS, "t", "timeout")
	fs.BoolVar(&cfg.Debug, "D", false, "")
	fs.BoolVar(&cfg.Debug, "debug", false, "")
	fs.BoolVar(&cfg.Version, "version", false, "")
	fs.StringVar(&cfg.CurveServerKey, "curve-server-key", "", "")
	fs.StringVar(&cfg.CurveSecretKey, "curve-secret-key", "", "")

	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			cfg.Help = true
			return cfg, nil
		}
		return nil, fmt.Errorf("%w: %w", errUsage, err)
	}
	if fs.NArg() == 2 && fs.Arg(0) == "keygen" {
		cfg.Keygen = fs.Arg(1)
		return cfg, nil
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("%w: unexpected argument %q", errUsage, fs.Arg(0))
	}
	if cfg.Version {
		return cfg, nil
	}
	if r.Method == "" {
		return nil, fmt.Errorf("%w: -m <method> is required", errUsage)
	}
	if r.Hostname == "" {
		return nil, fmt.Errorf("%w: -V <host> is required", errUsage)
	}
	r.Properties = vpoller.SplitProperties(properties)
	var err error
	if maxSample != "" {
		if r.MaxSample, err = positive("-s <max-sample>", maxSample, 1000000); err != nil {
			return nil, err
		}
	}
	if cfg.Retries, err = positive("-r <retries>", retries, 1000); err != nil {
		return nil, err
	}
	ms, err := positive("-t <timeout>", timeoutMS, 24*3600*1000)
	if err != nil {
		return nil, err
	}
	cfg.Timeout = time.Duration(ms) * time.Millisecond
	return cfg, nil
}

func positive(what, s string, limit int) (int, error) {
	n, err := strconv.Atoi(strings.TrimSpace(s))
	if err != nil || n < 1 || n > limit {
		return 0, fmt.Errorf("%w: %s must be a whole number from 1 to %d, got %q", errUsage, what, limit, s)
	}
	return n, nil
}
