package cli

import (
	"context"
	"flag"
	"fmt"
	"io"
	"strings"
)

// Command is one verb, declared: its name and where the list shows it, its
// arguments, whether it acts on the --app app, its flags, its help, and the
// function that runs it. The runner parses and checks the command line
// against the declaration before Run is called; help and the list of
// commands are written from the declarations.
type Command struct {
	Name    string
	Group   string // the heading it is listed under
	Summary string // one line for the list
	Help    string // what it does, for "longshoreman NAME -h"
	App     AppUse
	Args    []Arg
	Flags   []Flag
	Shared  []string // shared options it reads, shown in its usage line ("controller", "token")
	// Rest, when set, is the placeholder of a command line taken after
	// "--" ("CMD [ARG...]"): everything after the first "--" is Call.Rest,
	// never parsed as flags or arguments.
	Rest         string
	RestOptional bool // the usage line shows it in brackets
	Run          func(ctx context.Context, c *Call) error
}

// AppUse says what a command does with --app.
type AppUse int

// What a command does with --app.
const (
	NoApp       AppUse = iota // it acts on no app; --app is ignored
	NeedsApp                  // it acts on the --app app, which must be given
	OptionalApp               // --app narrows it to one app
)

// Arg is a positional argument.
type Arg struct {
	Name     string // as the usage line shows it: IMAGE, KEY=value
	What     string // as errors say it: "instance count" ("scale needs one instance count")
	Key      string // the cluster.Arg* it is, so that errors can name it in a command line
	Optional bool
	Many     bool // one or more; only the last argument
	FromApp  bool // when left out, --app gives it (apps:add, apps:rm)
}

// Flag is a flag of one command.
type Flag struct {
	Name     string
	Value    string // its value's placeholder (N, PATH); "" for a switch
	Int      bool   // the value is a whole number
	Help     string
	Default  string // what applies when it is not given, as help says it; "" for nothing
	Required bool
	Key      string // the cluster.Arg* it is, so that errors can name it in a command line
	Many     bool   // may be given several times; Call.Strings returns every value
	Short    string // a one-letter alias ("f" for -f), or ""
}

// Call is one run of a command: the environment, the app, the checked
// positional arguments and the parsed flags.
type Call struct {
	*Env
	App   string // --app; set when the command NeedsApp
	Args  []string
	Rest  []string // what followed "--", for a command with Rest; nil when no "--" was given
	flags *flag.FlagSet
}

// Strings returns every value of a Many flag, in order; nil when not given.
func (c *Call) Strings(name string) []string { return *c.flags.Lookup(name).Value.(*stringList) }

// stringList is the value of a Many flag.
type stringList []string

func (l *stringList) String() string {
	if l == nil || len(*l) == 0 {
		return ""
	}
	return strings.Join(*l, " ")
}

func (l *stringList) Set(v string) error {
	*l = append(*l, v)
	return nil
}

// Int returns the value of an Int flag, 0 when not given.
func (c *Call) Int(name string) int { return c.flags.Lookup(name).Value.(flag.Getter).Get().(int) }

// String returns the value of a flag, "" when not given.
func (c *Call) String(name string) string { return c.flags.Lookup(name).Value.String() }

// Bool returns whether a switch was given.
func (c *Call) Bool(name string) bool { return c.flags.Lookup(name).Value.(flag.Getter).Get().(bool) }

// run parses args against the declaration, checks the app, the number of
// arguments and the required flags, then calls Run. Nothing is sent to the
// controller before the command line is found good.
func (cmd *Command) run(ctx context.Context, e *Env, args []string) error {
	fs := flag.NewFlagSet(cmd.Name, flag.ContinueOnError)
	for _, f := range cmd.Flags {
		switch {
		case f.Value == "":
			fs.Bool(f.Name, false, f.Help)
		case f.Many:
			fs.Var(new(stringList), f.Name, f.Help)
		case f.Int:
			fs.Int(f.Name, 0, f.Help)
		default:
			fs.String(f.Name, "", f.Help)
		}
		if f.Short != "" {
			fs.Var(fs.Lookup(f.Name).Value, f.Short, f.Help)
		}
	}
	var rest []string
	if cmd.Rest != "" {
		for i, a := range args {
			if a == "--" {
				args, rest = args[:i], append([]string{}, args[i+1:]...)
				break
			}
		}
	}
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	c := &Call{Env: e, App: e.App, Args: pos, Rest: rest, flags: fs}
	if cmd.App == NeedsApp && e.App == "" {
		return fmt.Errorf("%s acts on one app: name it with --app APP (or -a APP), e.g. longshoreman --app shop.example.com %s", cmd.Name, cmd.Name)
	}
	if len(pos) == 0 && len(cmd.Args) > 0 && cmd.Args[0].FromApp && e.App != "" {
		c.Args = []string{e.App}
	}
	if err := cmd.checkArgs(c.Args); err != nil {
		return err
	}
	for _, f := range cmd.Flags {
		if f.Required && c.String(f.Name) == "" {
			return fmt.Errorf("%s needs --%s %s: see longshoreman %s -h", cmd.Name, f.Name, f.Value, cmd.Name)
		}
	}
	return cmd.Run(ctx, c)
}

// checkArgs checks the number of positional arguments.
func (cmd *Command) checkArgs(args []string) error {
	min, max := 0, len(cmd.Args)
	for _, a := range cmd.Args {
		if !a.Optional {
			min++
		}
		if a.Many {
			max = -1
		}
	}
	switch {
	case len(args) < min:
		return fmt.Errorf("%s needs %s: see longshoreman %s -h", cmd.Name, cmd.argsText(), cmd.Name)
	case max >= 0 && len(args) > max:
		return fmt.Errorf("%s takes %s, got %d arguments (%s): see longshoreman %s -h", cmd.Name, cmd.argsText(), len(args), strings.Join(args, " "), cmd.Name)
	}
	return nil
}

// argsText says what arguments the command takes: "one instance count".
func (cmd *Command) argsText() string {
	if len(cmd.Args) == 0 {
		if cmd.App == OptionalApp {
			return "no arguments (name one app with --app)"
		}
		return "no arguments"
	}
	words := make([]string, len(cmd.Args))
	for i, a := range cmd.Args {
		switch {
		case a.Many:
			words[i] = "one or more " + a.What
		case a.Optional:
			words[i] = "at most one " + a.What
		default:
			words[i] = "one " + a.What
		}
	}
	return strings.Join(words, ", then ")
}

// synopsis is the command's usage line after "longshoreman".
func (cmd *Command) synopsis() string {
	parts := []string{}
	switch cmd.App {
	case NeedsApp:
		parts = append(parts, "--app APP")
	case OptionalApp:
		parts = append(parts, "[--app APP]")
	}
	parts = append(parts, cmd.Name)
	parts = append(parts, cmd.argsSynopsis(false)...)
	for _, f := range cmd.Flags {
		s := "--" + f.Name
		if f.Value != "" {
			s += " " + f.Value
		}
		if f.Many {
			s += " [" + s + "...]"
		}
		if !f.Required {
			s = "[" + s + "]"
		}
		parts = append(parts, s)
	}
	switch {
	case cmd.Rest != "" && cmd.RestOptional:
		parts = append(parts, "[-- "+cmd.Rest+"]")
	case cmd.Rest != "":
		parts = append(parts, "-- "+cmd.Rest)
	}
	for _, name := range cmd.Shared {
		parts = append(parts, "["+sharedOption(name).usage+"]")
	}
	return strings.Join(parts, " ")
}

// argsSynopsis writes the arguments as a usage line does, or shorter for
// the list of commands.
func (cmd *Command) argsSynopsis(short bool) []string {
	var parts []string
	for _, a := range cmd.Args {
		switch {
		case a.Many && short:
			parts = append(parts, a.Name+"...")
		case a.Many:
			parts = append(parts, a.Name+" ["+a.Name+"...]")
		case a.Optional:
			parts = append(parts, "["+a.Name+"]")
		default:
			parts = append(parts, a.Name)
		}
	}
	return parts
}

// usage is the command's help: what it does, its usage line, and each flag
// with what applies when it is not given.
func (cmd *Command) usage() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s\n\nUsage: longshoreman %s\n", strings.TrimRight(cmd.Help, "\n"), cmd.synopsis())
	if len(cmd.Flags) == 0 {
		return b.String()
	}
	b.WriteString("\n")
	tw := newTable(&b)
	for _, f := range cmd.Flags {
		help := f.Help
		if f.Default != "" {
			help += " (default: " + f.Default + ")"
		}
		name := strings.TrimSpace("--" + f.Name + " " + f.Value)
		if f.Short != "" {
			name = "-" + f.Short + ", " + name
		}
		fmt.Fprintf(tw, "  %s\t%s\n", name, help)
	}
	tw.Flush()
	return b.String()
}

// writeCommands lists the commands under their groups, in the order of
// their declarations, as "longshoreman commands" and --help show them.
func writeCommands(w io.Writer) {
	width := 0
	for _, cmd := range commands {
		width = max(width, len(cmd.listName()))
	}
	group := ""
	for _, cmd := range commands {
		if cmd.Group != group {
			if group != "" {
				fmt.Fprintln(w)
			}
			group = cmd.Group
			fmt.Fprintf(w, "%s:\n", group)
		}
		fmt.Fprintf(w, "  %-*s  %s\n", width, cmd.listName(), cmd.Summary)
	}
}

// listName is the name with its arguments, as the list shows it.
func (cmd *Command) listName() string {
	return strings.Join(append([]string{cmd.Name}, cmd.argsSynopsis(true)...), " ")
}

// CommandList is the grouped list of the client's commands, for the
// program's --help.
func CommandList() string {
	var b strings.Builder
	writeCommands(&b)
	return b.String()
}

func lookup(name string) (*Command, bool) {
	for _, cmd := range commands {
		if cmd.Name == name {
			return cmd, true
		}
	}
	return nil, false
}

// commandLine says an operation a Fix names as the command that runs it:
// "longshoreman hosts:add IP", "longshoreman --app shop.example.com envs".
// Values the Fix does not know are the placeholders of the usage line.
func commandLine(op string, args map[string]string) string {
	cmd, ok := lookup(op)
	if !ok {
		return "longshoreman " + op
	}
	parts := []string{"longshoreman"}
	if cmd.App == NeedsApp {
		parts = append(parts, "--app", valueOr(args, "app", "APP"))
	}
	parts = append(parts, cmd.Name)
	for _, a := range cmd.Args {
		if v, known := args[a.Key]; known {
			parts = append(parts, v)
		} else if !a.Optional {
			parts = append(parts, a.Name)
		}
	}
	for _, f := range cmd.Flags {
		v, known := args[f.Key]
		switch {
		case f.Key != "" && known && f.Value == "" && v == "true":
			parts = append(parts, "--"+f.Name)
		case f.Key != "" && known && f.Value != "":
			parts = append(parts, "--"+f.Name, v)
		case f.Required:
			parts = append(parts, "--"+f.Name, f.Value)
		}
	}
	return strings.Join(parts, " ")
}

func valueOr(args map[string]string, key, placeholder string) string {
	if v, ok := args[key]; ok {
		return v
	}
	return placeholder
}
