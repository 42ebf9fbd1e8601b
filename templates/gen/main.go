// Command gen writes the template YAML files of package templates into the
// current directory (go generate runs it in templates/).
package main

import (
	"fmt"
	"os"

	"github.com/vpoller/zabbix-vpoller/templates"
)

func main() {
	for _, f := range templates.Files() {
		b, err := templates.Render(f)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		if err := os.WriteFile(f.Name, b, 0o644); err != nil {
			fmt.Fprintln(os.Stderr, "gen:", err)
			os.Exit(1)
		}
	}
}
