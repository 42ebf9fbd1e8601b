package plugin

import (
	"fmt"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/vpoller/zabbix-vpoller/internal/config/option"
	"github.com/vpoller/zabbix-vpoller/internal/endpoint"
	"github.com/vpoller/zabbix-vpoller/internal/zmtp"
	"github.com/vpoller/zabbix-vpoller/plugin/agent2"
	"github.com/vpoller/zabbix-vpoller/vpoller/client"
)

// DefaultEndpoint is the original vPoller proxy's client endpoint, on
// loopback (where the agent and the proxy usually share a host).
const DefaultEndpoint = "tcp://127.0.0.1:10123"

// Limits of the numeric options.
const (
	maxTimeoutSeconds = 600 // the largest item timeout of Zabbix 7.0
	maxRetries        = 10
	maxPoolSize       = 1000
	defaultRetries    = 1
	defaultPoolSize   = client.DefaultPoolSize
)

// Session is where and how to reach vPoller: one proxy, or several
// proxies' frontends tried in turn.
type Session struct {
	Name string // "" for the default session
	// Endpoint is one proxy frontend or a comma-separated list of them
	// (tidied: no spaces), as client.New takes it.
	Endpoint string
	// Timeout is the time budget of one request when the agent does not
	// send one (agents 6.0-6.4). Zero: the agent's Timeout minus a margin.
	Timeout time.Duration
	// Retries is the total number of attempts within the budget.
	Retries int
	// CurveServerKey (the proxy's public key: Z85 or a certificate file)
	// and CurveSecretKey (this agent's secret certificate) make the
	// session speak CURVE; both empty: NULL.
	CurveServerKey, CurveSecretKey string
	// mech is built from the two above when the configuration is parsed,
	// so a wrong key stops the agent at start with a clear message.
	mech zmtp.Mechanism
}

// clientKey names the client a session uses: one per endpoint (list) and
// credentials.
func (s Session) clientKey() string {
	return s.Endpoint + "\x00" + s.CurveServerKey + "\x00" + s.CurveSecretKey
}

// Mgmt is a vPoller daemon's management socket, for vpoller.status: its
// endpoint and the credentials it asks for (a shared secret or CURVE).
type Mgmt struct {
	Name     string
	Endpoint string
	mech     zmtp.Mechanism
}

// Config is the validated Plugins.VPoller.* configuration.
type Config struct {
	Default  Session
	Sessions map[string]Session // by lower-cased name
	Mgmt     map[string]Mgmt    // by lower-cased name
	// PoolSize caps the requests in flight to one endpoint.
	PoolSize int
	// EventsStateFile is where the vpoller.events positions survive a
	// restart (an absolute path), or EventsStateOff.
	EventsStateFile string
}

// The Plugins.VPoller.* options are three option tables: sessionOptions
// (the default session's options, Plugins.VPoller.<Option>, and each named
// session's, Plugins.VPoller.Sessions.<Name>.<Option>), ownOptions (the
// plugin's own) and mgmtOptions (Plugins.VPoller.Mgmt.<Name>.<Option>).
// They drive ParseConfig, its unknown-option errors with the closest
// option, and the option table of docs/plugin.md (TestDocsOptionTable;
// -update rewrites it). Adding an option is one row (and its field);
// checks across options stay in ParseConfig and parseMgmt.

// sessionOptions are the options of a session.
var sessionOptions = option.Table[Session]{
	{Name: "Endpoint", Value: endpointValue(func(s *Session) *string { return &s.Endpoint }),
		Doc: "the vPoller proxy, or a comma-separated list of proxies (see Several proxies)"},
	{Name: "Timeout", Value: secondsValue(1, maxTimeoutSeconds, func(s *Session) *time.Duration { return &s.Timeout }),
		Default: "agent `Timeout` minus 0.5 s", Doc: "time budget per item for agents 6.0/6.4 (later agents send the item's own)"},
	{Name: "Retries", Value: intValue(1, maxRetries, func(s *Session) *int { return &s.Retries }),
		Doc: "attempts per item, sharing the time budget; at least one per proxy"},
	{Name: "CurveServerKey", Value: textValue("key", func(s *Session) *string { return &s.CurveServerKey }),
		Doc: "CURVE: the proxy's public key (Z85 or its `.key` file); with `CurveSecretKey`"},
	{Name: "CurveSecretKey", Value: textValue("path", func(s *Session) *string { return &s.CurveSecretKey }),
		Doc: "CURVE: this agent's secret certificate (`vpoller-client keygen NAME`)"},
}

// ownOptions are the plugin's options that are not a session's.
var ownOptions = option.Table[Config]{
	{Name: "PoolSize", Value: intValue(1, maxPoolSize, func(c *Config) *int { return &c.PoolSize }),
		Doc: "requests in flight per endpoint (list)"},
	{Name: "EventsStateFile", Value: option.Value[Config]{
		Kind: "path", Bounds: "absolute, or `off`",
		Set: func(c *Config, v string) (err error) {
			c.EventsStateFile, err = parseStateFile(v)
			return err
		},
		Show: func(c *Config) string { return c.EventsStateFile },
	}, Doc: "where the `vpoller.events` positions survive an agent restart (see vpoller.events)"},
}

// topOptions are the options directly below Plugins.VPoller.
var topOptions = append(option.Bind(sessionOptions, func(c *Config) *Session { return &c.Default }), ownOptions...)

// mgmtText is one Mgmt.<Name> block as given, checked as a whole by
// parseMgmt.
type mgmtText struct{ Endpoint, SecretFile, CurveServerKey, CurveSecretKey string }

// mgmtOptions are the options of a daemon's management socket.
var mgmtOptions = option.Table[mgmtText]{
	{Name: "Endpoint", Value: textValue("endpoint", func(m *mgmtText) *string { return &m.Endpoint }),
		Default: "(required)", Doc: "a daemon's management socket, for `vpoller.status`"},
	{Name: "SecretFile", Value: textValue("path", func(m *mgmtText) *string { return &m.SecretFile }),
		Doc: "the daemon's `mgmt_secret_file` secret; not with the CURVE keys"},
	{Name: "CurveServerKey", Value: textValue("key", func(m *mgmtText) *string { return &m.CurveServerKey }),
		Doc: "CURVE: the daemon's public key"},
	{Name: "CurveSecretKey", Value: textValue("path", func(m *mgmtText) *string { return &m.CurveSecretKey }),
		Doc: "CURVE: this agent's secret certificate"},
}

// defaultConfig is the configuration of an empty Plugins.VPoller.*, with
// stateFile as EventsStateFile (the tests run with it off).
func defaultConfig(stateFile string) *Config {
	return &Config{
		Default:         Session{Endpoint: DefaultEndpoint, Retries: defaultRetries},
		Sessions:        map[string]Session{},
		Mgmt:            map[string]Mgmt{},
		PoolSize:        defaultPoolSize,
		EventsStateFile: stateFile,
	}
}

// block is the options of one Sessions.<Name> or Mgmt.<Name>, in the
// order given; blocks keep the order of their first option.
type block struct {
	display string
	opts    []agent2.Option
}

type blocks struct {
	byName map[string]*block // lower-cased name
	order  []*block
}

func (b *blocks) add(o agent2.Option) {
	name := strings.ToLower(o.Path[1])
	if b.byName == nil {
		b.byName = map[string]*block{}
	}
	blk := b.byName[name]
	if blk == nil {
		blk = &block{display: o.Path[1]}
		b.byName[name] = blk
		b.order = append(b.order, blk)
	}
	blk.opts = append(blk.opts, o)
}

// knownOptions lists every option for an unknown-option error.
func knownOptions() string {
	return strings.Join(topOptions.Names(), ", ") +
		", Sessions.<Name>." + strings.Join(sessionOptions.Names(), "/") +
		", Mgmt.<Name>." + strings.Join(mgmtOptions.Names(), "/")
}

// ParseConfig validates the Plugins.VPoller.* options. Every problem names
// the option and its line in the agent configuration.
func ParseConfig(opts *agent2.Options) (*Config, error) {
	cfg := defaultConfig(eventsStateDefault)
	prefix := "Plugins.VPoller."
	if opts != nil && opts.Plugin != "" {
		prefix = "Plugins." + opts.Plugin + "."
	}
	at := func(o agent2.Option, err error) error {
		return fmt.Errorf("%s%s (line %d): %w", prefix, o.Name(), o.Line, err)
	}
	var sessions, mgmts blocks
	if opts != nil {
		for _, o := range opts.List {
			if err := place(cfg, o, prefix, &sessions, &mgmts); err != nil {
				return nil, at(o, err)
			}
		}
	}
	var err error
	if cfg.Default.mech, err = zmtp.ClientMechanism(cfg.Default.CurveServerKey, cfg.Default.CurveSecretKey); err != nil {
		return nil, fmt.Errorf("%sCurveServerKey/CurveSecretKey: %w", prefix, err)
	}
	for _, b := range sessions.order {
		if !slices.ContainsFunc(b.opts, func(o agent2.Option) bool { return strings.EqualFold(o.Path[2], "Endpoint") }) {
			return nil, fmt.Errorf("%sSessions.%s: Endpoint is missing (every session needs one)", prefix, b.display)
		}
		s := cfg.Default
		s.Name, s.mech = b.display, nil
		for _, o := range b.opts {
			row, _ := sessionOptions.Find(o.Path[2], true)
			if err := row.Set(&s, o.Value); err != nil {
				return nil, at(o, err)
			}
		}
		if s.mech, err = zmtp.ClientMechanism(s.CurveServerKey, s.CurveSecretKey); err != nil {
			return nil, fmt.Errorf("%sSessions.%s.CurveServerKey/CurveSecretKey: %w", prefix, b.display, err)
		}
		if isURI(s.Name) {
			return nil, fmt.Errorf("%sSessions.%s: a session name cannot look like an endpoint URI", prefix, b.display)
		}
		cfg.Sessions[strings.ToLower(b.display)] = s
	}
	for _, b := range mgmts.order {
		var text mgmtText
		for _, o := range b.opts {
			row, _ := mgmtOptions.Find(o.Path[2], true)
			if err := row.Set(&text, o.Value); err != nil {
				return nil, at(o, err)
			}
		}
		m, err := parseMgmt(b.display, text)
		if err != nil {
			return nil, fmt.Errorf("%sMgmt.%s: %w", prefix, b.display, err)
		}
		cfg.Mgmt[strings.ToLower(b.display)] = m
	}
	return cfg, nil
}

// place reads one option: a top option into cfg at once, a session's or a
// management socket's into its block (a session inherits the default
// session's options, which may come later). Unknown options are refused
// with the closest known one.
func place(cfg *Config, o agent2.Option, prefix string, sessions, mgmts *blocks) error {
	switch {
	case len(o.Path) == 1:
		if row, ok := topOptions.Find(o.Path[0], true); ok {
			return row.Set(cfg, o.Value)
		}
	case len(o.Path) == 3 && strings.EqualFold(o.Path[0], "Sessions"):
		if _, ok := sessionOptions.Find(o.Path[2], true); !ok {
			return fmt.Errorf("unknown session option %q%s (known: %s)", o.Path[2],
				didYouMean(o.Path[2], sessionOptions.Names(), prefix+"Sessions."+o.Path[1]+"."), strings.Join(sessionOptions.Names(), ", "))
		}
		sessions.add(o)
		return nil
	case len(o.Path) == 3 && strings.EqualFold(o.Path[0], "Mgmt"):
		if _, ok := mgmtOptions.Find(o.Path[2], true); !ok {
			return fmt.Errorf("unknown management option %q%s (known: %s)", o.Path[2],
				didYouMean(o.Path[2], mgmtOptions.Names(), prefix+"Mgmt."+o.Path[1]+"."), strings.Join(mgmtOptions.Names(), ", "))
		}
		mgmts.add(o)
		return nil
	}
	return fmt.Errorf("unknown option%s (known: %s)", didYouMean(o.Path[0], append(topOptions.Names(), "Sessions", "Mgmt"), prefix), knownOptions())
}

// parseMgmt validates one Mgmt.<Name> block.
func parseMgmt(name string, t mgmtText) (Mgmt, error) {
	m := Mgmt{Name: name}
	if t.Endpoint == "" {
		return m, fmt.Errorf("the option Endpoint is missing (the daemon's management endpoint)")
	}
	ep, err := endpoint.Parse(t.Endpoint)
	if err != nil {
		return m, err
	}
	m.Endpoint = ep.Raw
	switch {
	case t.SecretFile != "" && (t.CurveServerKey != "" || t.CurveSecretKey != ""):
		return m, fmt.Errorf("give SecretFile or CurveServerKey/CurveSecretKey, not both")
	case t.SecretFile != "":
		secret, err := zmtp.ReadSecretFile(t.SecretFile)
		if err != nil {
			return m, err
		}
		m.mech = zmtp.PlainClient(zmtp.SecretUser, secret)
	default:
		if m.mech, err = zmtp.ClientMechanism(t.CurveServerKey, t.CurveSecretKey); err != nil {
			return m, err
		}
	}
	return m, nil
}

// mgmt maps vpoller.status's endpoint parameter to a management socket: a
// configured Mgmt name, or a URI used without credentials.
func (c *Config) mgmt(name string) (Mgmt, error) {
	if m, ok := c.Mgmt[strings.ToLower(name)]; ok {
		return m, nil
	}
	if isURI(name) {
		ep, err := endpoint.Parse(name)
		if err != nil {
			return Mgmt{}, fmt.Errorf("endpoint parameter: %w", err)
		}
		return Mgmt{Endpoint: ep.Raw, mech: zmtp.Null()}, nil
	}
	return Mgmt{}, fmt.Errorf("unknown management socket %q: give a Plugins.VPoller.Mgmt.<Name> or an ipc:// or tcp:// URI", name)
}

// SessionNames lists the configured sessions, sorted, for messages.
func (c *Config) SessionNames() []string {
	out := make([]string, 0, len(c.Sessions))
	for _, s := range c.Sessions {
		out = append(out, s.Name)
	}
	sort.Strings(out)
	return out
}

// resolve maps the key's endpoint parameter to a session: "" is the
// default, a URI is used as given with the default timeouts, anything else
// must be a configured session name.
func (c *Config) resolve(endpoint string) (Session, error) {
	if endpoint == "" {
		return c.Default, nil
	}
	if s, ok := c.Sessions[strings.ToLower(endpoint)]; ok {
		return s, nil
	}
	if isURI(endpoint) {
		ep, err := parseEndpoint(endpoint)
		if err != nil {
			return Session{}, fmt.Errorf("endpoint parameter: %w", err)
		}
		s := c.Default
		s.Name, s.Endpoint = "", ep
		return s, nil
	}
	known := "none configured"
	if names := c.SessionNames(); len(names) > 0 {
		known = "configured: " + strings.Join(names, ", ")
	}
	return Session{}, fmt.Errorf("unknown session %q (%s); give a session name from Plugins.VPoller.Sessions or a tcp:// URI", endpoint, known)
}

func isURI(s string) bool { return strings.Contains(s, "://") }

// parseEndpoint validates one endpoint or a comma-separated list of proxy
// frontends and returns it tidied ("tcp://a:1, tcp://b:2" becomes
// "tcp://a:1,tcp://b:2"), so that equal lists share one client and one
// coalescing key.
func parseEndpoint(v string) (string, error) {
	v = strings.TrimSpace(v)
	if v == "" {
		return "", fmt.Errorf("empty endpoint")
	}
	// No socket is opened here, so this is safe in the registration run.
	eps, err := client.SplitEndpoints(v)
	if err != nil {
		return "", fmt.Errorf("invalid endpoint %q (want tcp://host:port, or a comma-separated list of them): %w", v, err)
	}
	return strings.Join(eps, ","), nil
}

// parseStateFile validates EventsStateFile: "off", or an absolute path
// (the agent's working directory is nothing to rely on). Whether the
// directory is writable is checked when the plugin starts, where a
// problem only turns persistence off.
func parseStateFile(v string) (string, error) {
	v = strings.TrimSpace(v)
	switch {
	case strings.EqualFold(v, EventsStateOff):
		return EventsStateOff, nil
	case v == "":
		return "", fmt.Errorf("empty path (give an absolute path, or %q)", EventsStateOff)
	case !filepath.IsAbs(v):
		return "", fmt.Errorf("%q is not an absolute path (or %q)", v, EventsStateOff)
	case strings.HasSuffix(v, "/"):
		return "", fmt.Errorf("%q names a directory; give the file's path", v)
	}
	return filepath.Clean(v), nil
}

// endpointValue reads parseEndpoint's endpoint or list of them.
func endpointValue[S any](field func(*S) *string) option.Value[S] {
	return option.Value[S]{
		Kind: "endpoint", Bounds: "`tcp://host:port`, or a comma-separated list",
		Set: func(s *S, v string) (err error) {
			*field(s), err = parseEndpoint(v)
			return err
		},
		Show: func(s *S) string { return *field(s) },
	}
}

// secondsValue reads whole seconds from min to max.
func secondsValue[S any](min, max int, field func(*S) *time.Duration) option.Value[S] {
	return option.Value[S]{
		Kind: "seconds", Bounds: fmt.Sprintf("%d-%d", min, max),
		Set: func(s *S, v string) error {
			n, err := parseInt(v, min, max)
			if err != nil {
				return err
			}
			*field(s) = time.Duration(n) * time.Second
			return nil
		},
		Show: func(s *S) string {
			if *field(s) == 0 {
				return ""
			}
			return strconv.Itoa(int(*field(s) / time.Second))
		},
	}
}

// intValue reads a whole number from min to max.
func intValue[S any](min, max int, field func(*S) *int) option.Value[S] {
	return option.Value[S]{
		Kind: "whole number", Bounds: fmt.Sprintf("%d-%d", min, max),
		Set: func(s *S, v string) (err error) {
			*field(s), err = parseInt(v, min, max)
			return err
		},
		Show: func(s *S) string { return strconv.Itoa(*field(s)) },
	}
}

// textValue reads a trimmed string; kind names it in the docs.
func textValue[S any](kind string, field func(*S) *string) option.Value[S] {
	return option.Value[S]{
		Kind: kind,
		Set: func(s *S, v string) error {
			*field(s) = strings.TrimSpace(v)
			return nil
		},
		Show: func(s *S) string { return *field(s) },
	}
}

func parseInt(v string, min, max int) (int, error) {
	n, err := strconv.Atoi(strings.TrimSpace(v))
	if err != nil || n < min || n > max {
		return 0, fmt.Errorf("%q is not a whole number from %d to %d", v, min, max)
	}
	return n, nil
}
