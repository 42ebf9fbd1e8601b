package mgmt

import (
	"errors"
	"flag"
	"fmt"
	"io"

	"github.com/vpoller/zabbix-vpoller/internal/buildinfo"
	"github.com/vpoller/zabbix-vpoller/internal/curvekey"
)

// ParseCommand reads a daemon's command line the same way for both
// daemons: options, one command, and options after it too (status
// --pretty, stop -e ENDPOINT). It defines -version on fl and answers
// --version, version and keygen itself. done says the caller returns
// code; otherwise cmd is the command, "" when there is none or more than
// one (a usage error the caller words).
func ParseCommand(fl *flag.FlagSet, args []string, stdout, stderr io.Writer) (cmd string, code int, done bool) {
	showVersion := fl.Bool("version", false, "print the version and exit")
	parse := func(args []string) (int, bool) {
		if err := fl.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return 0, true
			}
			return 2, true
		}
		return 0, false
	}
	if code, done := parse(args); done {
		return "", code, true
	}
	cmd, rest := fl.Arg(0), fl.Args()
	if len(rest) > 0 {
		rest = rest[1:]
	}
	if *showVersion || (cmd == "version" && len(rest) == 0) {
		fmt.Fprintln(stdout, buildinfo.Line(fl.Name()))
		return "", 0, true
	}
	if cmd == "keygen" {
		return "", curvekey.Keygen(fl.Name(), rest, stdout, stderr), true
	}
	if len(rest) > 0 {
		if code, done := parse(rest); done {
			return "", code, true
		}
		rest = fl.Args()
	}
	if len(rest) > 0 {
		return "", 0, false
	}
	return cmd, 0, false
}
