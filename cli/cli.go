// Package cli is the command-line client of the controller's HTTP API: one
// file per group of verbs, each verb a Command with its own flag set.
//
// Options that every verb shares (--app, --controller, --token) are taken
// from anywhere on the line before the verb's own flags are parsed, so
// "longshoreman --app a.example.com envs:set K=v" and
// "longshoreman envs:set --app a.example.com K=v" mean the same.
package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
)

// Command is one verb.
type Command interface {
	// Run runs the verb with the arguments that follow its name, the shared
	// options already removed.
	Run(ctx context.Context, args []string) error
	// Usage is the verb's help text: what it does, then its arguments.
	Usage() string
}

// Env is what every verb needs: where to write, and how to reach the
// controller. It is filled in by Main from the shared options, the
// environment and the config file.
type Env struct {
	Stdin  io.Reader
	Stdout io.Writer
	Stderr io.Writer
	Getenv func(string) string

	App        string // --app, -a
	Controller string // --controller
	Token      string // --token
	CACert     string // --cacert: PEM file of the CA that signed the controller's certificate

	client *Client
}

// verb describes one command for the dispatcher and for "commands".
type verb struct {
	name    string
	summary string
	new     func(*Env) Command
}

// verbs is every command, in the order "commands" lists them.
var verbs = []verb{
	{"init", "ask for the controller URL and token and save them in ~/.longshoreman.json", func(e *Env) Command { return &InitCommand{e} }},
	{"status", "hosts up or down, and each app's healthy/desired instances", func(e *Env) Command { return &StatusCommand{e} }},
	{"apps", "list the apps", func(e *Env) Command { return &AppsCommand{e} }},
	{"apps:add", "add an app: apps:add APP", func(e *Env) Command { return &AppsAddCommand{e} }},
	{"apps:rm", "stop an app's instances and forget it: apps:rm APP", func(e *Env) Command { return &AppsRemoveCommand{e} }},
	{"hosts", "list the hosts", func(e *Env) Command { return &HostsCommand{e} }},
	{"hosts:add", "add a host: hosts:add IP", func(e *Env) Command { return &HostsAddCommand{e} }},
	{"hosts:rm", "drain a host and forget it: hosts:rm IP [--force]", func(e *Env) Command { return &HostsRemoveCommand{e} }},
	{"deploy", "deploy an image: deploy IMAGE [--count N] [--port P]", func(e *Env) Command { return &DeployCommand{e} }},
	{"instances", "list the app's routed instances", func(e *Env) Command { return &InstancesCommand{e} }},
	{"envs", "list the app's env vars", func(e *Env) Command { return &EnvsCommand{e} }},
	{"envs:set", "set env vars and restart the app: envs:set KEY=value...", func(e *Env) Command { return &EnvsSetCommand{e} }},
	{"envs:rm", "remove env vars and restart the app: envs:rm KEY...", func(e *Env) Command { return &EnvsRemoveCommand{e} }},
	{"history", "list the app's revisions, newest first", func(e *Env) Command { return &HistoryCommand{e} }},
	{"logs", "print the last log lines of every instance of the app", func(e *Env) Command { return &LogsCommand{e} }},
	{"kill", "stop every instance of the app (its count becomes 0)", func(e *Env) Command { return &KillCommand{e} }},
	{"rollback", "deploy an earlier revision again: rollback [REVISION]", func(e *Env) Command { return &RollbackCommand{e} }},
	{"scale", "set the app's instance count: scale N", func(e *Env) Command { return &ScaleCommand{e} }},
	{"describe", "every app with its image, instances and envs [--csv]", func(e *Env) Command { return &DescribeCommand{e} }},
	{"registries", "list the registries with stored credentials", func(e *Env) Command { return &RegistriesCommand{e} }},
	{"registries:add", "store a registry's credentials: registries:add REGISTRY --username USER (password on stdin)", func(e *Env) Command { return &RegistriesAddCommand{e} }},
	{"registries:rm", "forget a registry's credentials: registries:rm REGISTRY", func(e *Env) Command { return &RegistriesRemoveCommand{e} }},
	{"backup", "save a consistent copy of the controller's data file: backup FILE", func(e *Env) Command { return &BackupCommand{e} }},
	{"commands", "list these commands", func(e *Env) Command { return &CommandsCommand{e} }},
}

func lookup(name string) (verb, bool) {
	for _, v := range verbs {
		if v.name == name {
			return v, true
		}
	}
	return verb{}, false
}

// Main runs the verb found in args (the whole command line after the
// program name). Getenv may be nil for os.Getenv.
func Main(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer, getenv func(string) string) error {
	if getenv == nil {
		getenv = os.Getenv
	}
	e := &Env{Stdin: stdin, Stdout: stdout, Stderr: stderr, Getenv: getenv}
	rest, err := e.takeShared(args)
	if err != nil {
		return err
	}
	name := ""
	for i, a := range rest {
		if !strings.HasPrefix(a, "-") {
			name = a
			rest = append(rest[:i:i], rest[i+1:]...)
			break
		}
	}
	if name == "" || name == "help" {
		fmt.Fprint(stdout, Usage())
		return nil
	}
	v, ok := lookup(name)
	if !ok {
		return fmt.Errorf("unknown command %q: run \"longshoreman commands\" for the list%s", name, suggest(name))
	}
	cmd := v.new(e)
	if wantsHelp(rest) {
		fmt.Fprint(stdout, cmd.Usage())
		return nil
	}
	err = cmd.Run(ctx, rest)
	if errors.Is(err, flag.ErrHelp) {
		return nil
	}
	return err
}

// takeShared removes --app/-a, --controller, --token and --cacert (with their
// values, as "--app X" or "--app=X") from anywhere before a "--".
func (e *Env) takeShared(args []string) ([]string, error) {
	targets := map[string]*string{
		"app": &e.App, "a": &e.App, "controller": &e.Controller, "token": &e.Token, "cacert": &e.CACert,
	}
	var rest []string
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			rest = append(rest, args[i:]...)
			break
		}
		if !strings.HasPrefix(a, "-") || a == "-" {
			rest = append(rest, a)
			continue
		}
		name, value, hasValue := strings.Cut(strings.TrimLeft(a, "-"), "=")
		dst, shared := targets[name]
		if !shared {
			rest = append(rest, a)
			continue
		}
		if !hasValue {
			if i+1 >= len(args) {
				return nil, fmt.Errorf("%s needs a value: %s", a, sharedHelp[name])
			}
			i++
			value = args[i]
		}
		*dst = value
	}
	return rest, nil
}

var sharedHelp = map[string]string{
	"app":        "--app APP (the app's domain name)",
	"a":          "-a APP (the app's domain name)",
	"controller": "--controller URL",
	"token":      "--token TOKEN",
	"cacert":     "--cacert FILE (the PEM certificate of the CA that signed the controller's)",
}

func wantsHelp(args []string) bool {
	for _, a := range args {
		if a == "--" {
			return false
		}
		if a == "-h" || a == "--help" || a == "-help" {
			return true
		}
	}
	return false
}

// suggest names a verb that looks like the unknown one, if any.
func suggest(name string) string {
	if _, ok := lookup(strings.NewReplacer("-", ":", "_", ":").Replace(name)); ok {
		return "; did you mean " + strings.NewReplacer("-", ":", "_", ":").Replace(name) + "?"
	}
	var close []string
	for _, v := range verbs {
		if strings.HasPrefix(v.name, name) || strings.HasPrefix(name, v.name) {
			close = append(close, v.name)
		}
	}
	if len(close) == 0 {
		return ""
	}
	sort.Strings(close)
	return "; did you mean " + strings.Join(close, " or ") + "?"
}

// Usage is the help text of the client as a whole.
func Usage() string {
	var b strings.Builder
	b.WriteString(`Usage: longshoreman [--app APP] [--controller URL] [--token TOKEN] COMMAND [args]

Commands:
`)
	writeVerbs(&b)
	b.WriteString(`
Options (anywhere on the line):
  --app APP, -a APP   the app a command acts on (a domain name such as shop.example.com)
  --controller URL    the controller's URL (else LONGSHOREMAN_URL, else ~/.longshoreman.json)
  --token TOKEN       the API token (else LONGSHOREMAN_TOKEN, else ~/.longshoreman.json)
  --cacert FILE       for an https controller whose certificate a private CA signed: that CA's
                      PEM certificate (else LONGSHOREMAN_CACERT; else the system's CAs)
  -h, --help          help for the tool, or for a command: longshoreman deploy -h
`)
	return b.String()
}

func writeVerbs(w io.Writer) {
	tw := newTable(w)
	for _, v := range verbs {
		fmt.Fprintf(tw, "  %s\t%s\n", v.name, v.summary)
	}
	tw.Flush()
}

// parse parses a verb's flags, allowing flags between and after its
// positional arguments ("deploy IMAGE --count 2"), and returns the
// positional arguments. Flag errors are printed on the verb's usage.
func parse(fs *flag.FlagSet, args []string) ([]string, error) {
	fs.SetOutput(io.Discard)
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, fmt.Errorf("%v: see longshoreman %s -h", err, fs.Name())
		}
		args = fs.Args()
		if len(args) == 0 {
			return pos, nil
		}
		if args[0] == "--" {
			return append(pos, args[1:]...), nil
		}
		pos = append(pos, args[0])
		args = args[1:]
	}
}

// needArgs checks the number of positional arguments.
func needArgs(name string, args []string, min, max int, what string) error {
	switch {
	case len(args) < min:
		return fmt.Errorf("%s needs %s: see longshoreman %s -h", name, what, name)
	case max >= 0 && len(args) > max:
		return fmt.Errorf("%s takes %s, got %d arguments (%s): see longshoreman %s -h", name, what, len(args), strings.Join(args, " "), name)
	}
	return nil
}

// needApp returns the --app value, or an error saying how to give it.
func (e *Env) needApp(verb string) (string, error) {
	if e.App == "" {
		return "", fmt.Errorf("%s acts on one app: name it with --app APP (or -a APP), e.g. longshoreman --app shop.example.com %s", verb, verb)
	}
	return e.App, nil
}
