package command

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"strconv"
	"strings"
	"time"
)

// A setting names one configuration value: its flag (without the dashes;
// "" when only the environment sets it), its environment variable ("" when
// only a flag sets it) and what it means. Loading and validation both name
// a value by its setting, so every message says where to change it.
type setting struct {
	flag, env, help string
}

// String names the setting as a person sets it: "--drain
// (LONGSHOREMAN_DRAIN)", or just the flag or the variable.
func (s setting) String() string {
	switch {
	case s.flag == "":
		return s.env
	case s.env == "":
		return "--" + s.flag
	}
	return "--" + s.flag + " (" + s.env + ")"
}

// A loader reads settings into a config value: each one's default is what
// the value holds, its environment variable overrides that, and its flag
// overrides both. Values that do not parse are collected so that start-up
// names all of them at once.
type loader struct {
	fs   *flag.FlagSet
	get  func(string) string
	errs []error
	set  map[string]bool // env names given a value, and flag names given
}

// newLoader starts a command's settings; -h prints about, then the flags.
// A nil getenv is os.Getenv.
func newLoader(name, about string, getenv func(string) string, output io.Writer) *loader {
	if getenv == nil {
		getenv = os.Getenv
	}
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(output)
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), about)
		fs.PrintDefaults()
	}
	return &loader{fs: fs, get: getenv, set: map[string]bool{}}
}

// env returns the setting's environment value, "" when it has none.
func (l *loader) env(s setting) string {
	if s.env == "" {
		return ""
	}
	v := l.get(s.env)
	if v != "" {
		l.set[s.env] = true
	}
	return v
}

func (l *loader) bad(s setting, v, want string) {
	l.errs = append(l.errs, fmt.Errorf("%s=%q is not %s", s.env, v, want))
}

// flag defines the setting's flag, if it has one, with define; its help
// names the environment variable. The flag's default is what the value
// holds after the environment was read.
func (l *loader) flag(s setting, define func(help string)) {
	if s.flag == "" {
		return
	}
	help := s.help
	if s.env != "" {
		help += " (env " + s.env + ")"
	}
	define(help)
}

// String reads a text setting.
func (l *loader) String(p *string, s setting) {
	if v := l.env(s); v != "" {
		*p = v
	}
	l.flag(s, func(help string) { l.fs.StringVar(p, s.flag, *p, help) })
}

// Int reads a whole number.
func (l *loader) Int(p *int, s setting) {
	if v := l.env(s); v != "" {
		if n, err := strconv.Atoi(v); err != nil {
			l.bad(s, v, "a whole number")
		} else {
			*p = n
		}
	}
	l.flag(s, func(help string) { l.fs.IntVar(p, s.flag, *p, help) })
}

// Duration reads a duration such as 2s or 1m.
func (l *loader) Duration(p *time.Duration, s setting) {
	if v := l.env(s); v != "" {
		if d, err := time.ParseDuration(v); err != nil {
			l.bad(s, v, "a duration such as 2s or 1m")
		} else {
			*p = d
		}
	}
	l.flag(s, func(help string) { l.fs.DurationVar(p, s.flag, *p, help) })
}

// Bool reads a switch; every switch of ours, flag or variable, is parsed
// by parseSwitch.
func (l *loader) Bool(p *bool, s setting) {
	if v := l.env(s); v != "" {
		if b, err := parseSwitch(v); err != nil {
			l.errs = append(l.errs, fmt.Errorf("%s=%q is neither 1/true nor 0/false", s.env, v))
		} else {
			*p = b
		}
	}
	l.flag(s, func(help string) { l.fs.Var((*boolValue)(p), s.flag, help) })
}

// parse reads the flags in args, after the environment; it refuses
// arguments that are not flags, for commands that take none.
func (l *loader) parse(args []string) error {
	if len(l.errs) > 0 {
		return fmt.Errorf("bad environment: %w; fix or unset it", errors.Join(l.errs...))
	}
	if err := l.fs.Parse(args); err != nil {
		return err
	}
	if l.fs.NArg() > 0 {
		name := strings.TrimPrefix(l.fs.Name(), "longshoreman ")
		return fmt.Errorf("%s takes no arguments, got %q: see longshoreman %s -h", name, l.fs.Args(), name)
	}
	l.fs.Visit(func(f *flag.Flag) { l.set[f.Name] = true })
	return nil
}

// given reports whether the setting was given, by its variable or its flag.
func (l *loader) given(s setting) bool {
	return (s.env != "" && l.set[s.env]) || (s.flag != "" && l.set[s.flag])
}

// parseSwitch reads an on/off value: 1 or true, 0 or false, in any case.
// Anything else (yes, y, enabled) is refused rather than guessed: a
// misread switch such as --init must not silently take a meaning.
func parseSwitch(s string) (bool, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "1", "true":
		return true, nil
	case "0", "false":
		return false, nil
	}
	return false, fmt.Errorf("%q is neither 1/true nor 0/false", s)
}

// boolValue is a switch flag read by parseSwitch, as the environment is:
// flag.BoolVar would take t, F and TRUE, which the variables refuse.
type boolValue bool

func (v *boolValue) Set(s string) error {
	b, err := parseSwitch(s)
	*v = boolValue(b)
	return err
}
func (v *boolValue) String() string   { return strconv.FormatBool(bool(*v)) }
func (v *boolValue) IsBoolFlag() bool { return true }

// problems collects what Validate finds wrong, each named by its setting.
type problems []error

func (p *problems) add(s setting, format string, args ...any) {
	*p = append(*p, fmt.Errorf("%s "+format, append([]any{s}, args...)...))
}

// err is nil when nothing was wrong, else every problem, one a line.
func (p problems) err() error { return errors.Join(p...) }

// positive checks a duration that must be above zero: a zero or negative
// interval stops timers and tickers, or panics in them.
func (p *problems) positive(s setting, d time.Duration, example string) {
	if d <= 0 {
		p.add(s, "must be a duration above zero such as %s, not %s", example, d)
	}
}

// atLeast checks a whole number's lower bound; what says what it counts.
func (p *problems) atLeast(s setting, n, least int, what string) {
	if n < least {
		p.add(s, "is %d: give %s, at least %d", n, what, least)
	}
}

// port checks a TCP port number.
func (p *problems) port(s setting, n int) {
	if n < 1 || n > 65535 {
		p.add(s, "is %d: give a TCP port from 1 to 65535", n)
	}
}

// listen checks a command's --port, and its --listen when given.
func (p *problems) listen(port setting, n int, listen string) {
	p.port(port, n)
	if listen != "" {
		p.hostPort(setListen, listen, true)
	}
}

// hostPort checks a host:port address; the port may be 0 (any free one)
// only when anyPort is true, for addresses to listen on.
func (p *problems) hostPort(s setting, addr string, anyPort bool) {
	_, port, err := net.SplitHostPort(addr)
	if err != nil {
		p.add(s, "is %q: give host:port such as 127.0.0.1:3000 (the host may be empty to mean every address)", addr)
		return
	}
	least := 1
	if anyPort {
		least = 0
	}
	if n, err := strconv.Atoi(port); err != nil || n < least || n > 65535 {
		p.add(s, "is %q: its port must be a number from %d to 65535", addr, least)
	}
}

// oneOf checks a value against the ones allowed.
func (p *problems) oneOf(s setting, v string, allowed ...string) {
	for _, a := range allowed {
		if v == a {
			return
		}
	}
	p.add(s, "is %q: give one of %s", v, strings.Join(allowed, ", "))
}
