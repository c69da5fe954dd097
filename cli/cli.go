// Package cli is the command-line client of the controller's HTTP API.
// Every verb is a declared Command (commands.go): its name, arguments,
// flags, help and run function; one runner parses and checks a command
// line against the declaration, and help is written from it. The run
// functions live in one file per group of verbs.
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

// Env is what every verb needs: where to write, and how to reach the
// controller. It is filled in by Main from the shared options, the
// environment and the config file.
type Env struct {
	Stdin  io.Reader
	Stdout io.Writer
	Stderr io.Writer
	Getenv func(string) string

	App        string   // --app, -a
	Apps       []string // every --app given on the command line, in order (tokens:add takes several)
	Controller string   // --controller
	Token      string   // --token
	CACert     string   // --cacert: PEM file of the CA that signed the controller's certificate

	client *Client
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
	cmd, ok := lookup(name)
	if !ok {
		return fmt.Errorf("unknown command %q: run \"longshoreman commands\" for the list%s", name, suggest(name))
	}
	if wantsHelp(rest) {
		fmt.Fprint(stdout, cmd.usage())
		return nil
	}
	err = cmd.run(ctx, e, rest)
	if errors.Is(err, flag.ErrHelp) {
		return nil
	}
	return err
}

// shared is an option every verb takes, anywhere on the line.
type shared struct {
	name, short string
	usage       string // as a usage line shows it: --app APP
	help        string
	target      func(*Env) *string
}

// sharedOptions are the options every verb takes, in the order help lists
// them.
var sharedOptions = []shared{
	{"app", "a", "--app APP", "the app a command acts on (a domain name such as shop.example.com)", func(e *Env) *string { return &e.App }},
	{"controller", "", "--controller URL", "the controller's URL (else LONGSHOREMAN_URL, else ~/.longshoreman.json)", func(e *Env) *string { return &e.Controller }},
	{"token", "", "--token TOKEN", "the API token (else LONGSHOREMAN_TOKEN, else ~/.longshoreman.json)", func(e *Env) *string { return &e.Token }},
	{"cacert", "", "--cacert FILE", "for an https controller whose certificate a private CA signed: that CA's\nPEM certificate (else LONGSHOREMAN_CACERT; else the system's CAs)", func(e *Env) *string { return &e.CACert }},
}

func sharedOption(name string) shared {
	for _, o := range sharedOptions {
		if o.name == name || (o.short != "" && o.short == name) {
			return o
		}
	}
	return shared{}
}

// takeShared removes the shared options (with their values, as "--app X"
// or "--app=X") from anywhere before a "--".
func (e *Env) takeShared(args []string) ([]string, error) {
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
		opt := sharedOption(name)
		if opt.target == nil {
			rest = append(rest, a)
			continue
		}
		if !hasValue {
			if i+1 >= len(args) {
				return nil, fmt.Errorf("%s needs a value: %s, %s", a, opt.usage, strings.ReplaceAll(opt.help, "\n", " "))
			}
			i++
			value = args[i]
		}
		*opt.target(e) = value
		if opt.name == "app" {
			e.Apps = append(e.Apps, value)
		}
	}
	return rest, nil
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
	for _, cmd := range commands {
		if strings.HasPrefix(cmd.Name, name) || strings.HasPrefix(name, cmd.Name) {
			close = append(close, cmd.Name)
		}
	}
	if len(close) == 0 {
		return ""
	}
	sort.Strings(close)
	return "; did you mean " + strings.Join(close, " or ") + "?"
}

// Usage is the help text of the client as a whole: the commands, grouped,
// and the shared options.
func Usage() string {
	var b strings.Builder
	b.WriteString("Usage: longshoreman [--app APP] [--controller URL] [--token TOKEN] COMMAND [args]\n\nCommands:\n\n")
	writeCommands(&b)
	b.WriteString("\n")
	b.WriteString(SharedOptions())
	return b.String()
}

// SharedOptions is the help of the options every command takes.
func SharedOptions() string {
	var b strings.Builder
	b.WriteString("Options (anywhere on the line):\n")
	tw := newTable(&b)
	for _, o := range sharedOptions {
		names := o.usage
		if o.short != "" {
			names += ", -" + o.short + " " + strings.Fields(o.usage)[1]
		}
		fmt.Fprintf(tw, "  %s\t%s\n", names, strings.ReplaceAll(o.help, "\n", "\n  \t"))
	}
	fmt.Fprintf(tw, "  %s\t%s\n", "-h, --help", "help for the tool, or for a command: longshoreman deploy -h")
	tw.Flush()
	return b.String()
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
