// Package templates holds the Zabbix templates for vPoller (YAML files in
// Zabbix export format 6.0, importable unchanged into Zabbix 6.0 and 7.0)
// and the Go definitions they are generated from.
//
// The YAML files are the product users import; they are generated so that
// every object gets a stable, unique uuid (md5 of a descriptive path) and so
// that item keys, master/dependent pairs and host prototype links are built
// from one table instead of being typed by hand. Regenerate with
//
//	go generate ./templates
//
// The package test checks the committed files themselves (not only the
// generator): valid YAML, unique uuids, item keys that name existing vPoller
// methods with the right plugin key, dependent items that read properties
// their master item requests, and host prototypes that link templates that
// exist.
package templates

//go:generate go run ./gen
