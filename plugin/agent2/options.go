package agent2

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
)

// Node is one node of the agent's configuration tree as sent in
// "private_options": inner nodes have a Name and Nodes; a leaf value is a
// nameless node whose Value holds the raw bytes, base64-encoded.
type Node struct {
	Name  string  `json:"Name,omitempty"`
	Nodes []Node  `json:"Nodes,omitempty"`
	Value *string `json:"Value,omitempty"`
	Line  int     `json:"Line"`
}

// Option is one configured value below Plugins.<Name>.
type Option struct {
	// Path holds the names below the plugin's own node, e.g.
	// ["Sessions", "Prod", "Endpoint"] for Plugins.X.Sessions.Prod.Endpoint.
	Path  []string
	Value string
	// Line is the line of the agent configuration file, for messages.
	Line int
}

// Name is the dotted path below the plugin node ("Sessions.Prod.Endpoint").
func (o Option) Name() string { return strings.Join(o.Path, ".") }

// Options is the flattened Plugins.<Name>.* subtree, in configuration order,
// without the agent's own System.* settings (Path, Capacity, ...), which
// 6.0.14 and 7.0.9 include and later agents strip.
type Options struct {
	Plugin string // the root node's name as the agent sent it
	List   []Option
}

// maxTreeDepth bounds recursion; real trees are 4-5 levels deep.
const maxTreeDepth = 32

// ParseOptions decodes "private_options". A missing, null or empty tree is
// an empty configuration, as 7.0.22+ may send "Nodes": [] when nothing is
// set. Malformed input yields an error naming the problem, never a panic.
func ParseOptions(raw []byte) (*Options, error) {
	opts := &Options{}
	s := strings.TrimSpace(string(raw))
	if s == "" || s == "null" || s == "{}" {
		return opts, nil
	}
	var root Node
	if err := json.Unmarshal(raw, &root); err != nil {
		return nil, fmt.Errorf("agent2: private_options is not a configuration tree: %w", err)
	}
	opts.Plugin = root.Name
	if root.Value != nil {
		return nil, errors.New("agent2: private_options: the plugin node itself has a value")
	}
	for _, n := range root.Nodes {
		if n.Name == "System" { // the agent's own settings for the plugin process
			continue
		}
		if err := flatten(&opts.List, nil, n, 1); err != nil {
			return nil, err
		}
	}
	return opts, nil
}

func flatten(out *[]Option, path []string, n Node, depth int) error {
	if depth > maxTreeDepth {
		return fmt.Errorf("agent2: private_options: tree deeper than %d levels at line %d", maxTreeDepth, n.Line)
	}
	if n.Value != nil {
		if n.Name != "" || len(n.Nodes) > 0 {
			return fmt.Errorf("agent2: private_options: line %d: a node has both a value and a name or children", n.Line)
		}
		if len(path) == 0 {
			return fmt.Errorf("agent2: private_options: line %d: value without an option name", n.Line)
		}
		v, err := base64.StdEncoding.DecodeString(*n.Value)
		if err != nil {
			return fmt.Errorf("agent2: private_options: %s (line %d): value is not base64: %w", strings.Join(path, "."), n.Line, err)
		}
		*out = append(*out, Option{Path: append([]string(nil), path...), Value: string(v), Line: n.Line})
		return nil
	}
	if n.Name == "" {
		return fmt.Errorf("agent2: private_options: line %d: node without name or value", n.Line)
	}
	if strings.ContainsAny(n.Name, ".\x00") {
		return fmt.Errorf("agent2: private_options: line %d: invalid option name %q", n.Line, n.Name)
	}
	p := append(append([]string(nil), path...), n.Name)
	for _, c := range n.Nodes {
		if err := flatten(out, p, c, depth+1); err != nil {
			return err
		}
	}
	return nil
}

// Get returns the last value configured for a dotted name, compared
// case-insensitively (agent option names are written in many styles).
func (o *Options) Get(name string) (Option, bool) {
	if o == nil {
		return Option{}, false
	}
	for i := len(o.List) - 1; i >= 0; i-- {
		if strings.EqualFold(o.List[i].Name(), name) {
			return o.List[i], true
		}
	}
	return Option{}, false
}
