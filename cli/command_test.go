package cli

import (
	"context"
	"strings"
	"testing"

	"github.com/longshoreman/longshoreman/cluster"
)

// TestEveryOpHasACommand: every operation an error may name can be said as
// a command line of this client.
func TestEveryOpHasACommand(t *testing.T) {
	for _, op := range cluster.Ops {
		if _, ok := lookup(op); !ok {
			t.Errorf("no command runs %s, which an error may name", op)
		}
	}
}

func TestCommandLine(t *testing.T) {
	for _, c := range []struct {
		op   string
		args []string
		want string
	}{
		{cluster.OpAddHost, nil, "longshoreman hosts:add IP"},
		{cluster.OpAddHost, []string{cluster.ArgHost, "10.0.0.5"}, "longshoreman hosts:add 10.0.0.5"},
		{cluster.OpRemoveHost, []string{cluster.ArgHost, "10.0.0.5", cluster.ArgForce, "true"}, "longshoreman hosts:rm 10.0.0.5 --force"},
		{cluster.OpAddApp, []string{cluster.ArgApp, "shop.example.com"}, "longshoreman apps:add shop.example.com"},
		{cluster.OpApps, nil, "longshoreman apps"},
		{cluster.OpEnvs, []string{cluster.ArgApp, "shop.example.com"}, "longshoreman --app shop.example.com envs"},
		{cluster.OpHistory, nil, "longshoreman --app APP history"},
		{cluster.OpRollback, []string{cluster.ArgApp, "a.example.com"}, "longshoreman --app a.example.com rollback"},
		{cluster.OpRollback, []string{cluster.ArgApp, "a.example.com", cluster.ArgRevision, "3"}, "longshoreman --app a.example.com rollback 3"},
		{cluster.OpScale, []string{cluster.ArgApp, "a.example.com"}, "longshoreman --app a.example.com scale N"},
		{cluster.OpDeploy, []string{cluster.ArgApp, "a.example.com", cluster.ArgCount, "3"}, "longshoreman --app a.example.com deploy IMAGE --count 3"},
		{cluster.OpAddRegistry, []string{cluster.ArgRegistry, "r.example.com"}, "longshoreman registries:add r.example.com --username USER"},
		{cluster.OpStatus, nil, "longshoreman status"},
	} {
		e := cluster.Errorf(cluster.EINVALID, "x").WithFix("t", c.op, c.args...)
		if got := commandLine(e.Fix.Op, e.Fix.Args); got != c.want {
			t.Errorf("commandLine(%s, %v) = %q, want %q", c.op, c.args, got, c.want)
		}
	}
}

// TestSayRewritesTheFix: an answer's error comes back typed, with its code
// and its fix said as a command line.
func TestSayRewritesTheFix(t *testing.T) {
	e := cluster.Errorf(cluster.ENOTFOUND, "App a.example.com has no env NOPE").WithFix("list its envs with", cluster.OpEnvs, cluster.ArgApp, "a.example.com")
	got := say(e)
	if cluster.ErrorCode(got) != cluster.ENOTFOUND || cluster.ErrorMessage(got) != "App a.example.com has no env NOPE: list its envs with longshoreman --app a.example.com envs." {
		t.Errorf("say = %v", got)
	}
}

// TestDeclarations checks what the runner relies on: names are unique,
// every command has a group, a summary, help and a run function, only the
// last argument takes many values, and a switch is never required.
func TestDeclarations(t *testing.T) {
	seen := map[string]bool{}
	for _, cmd := range commands {
		if seen[cmd.Name] {
			t.Errorf("%s is declared twice", cmd.Name)
		}
		seen[cmd.Name] = true
		if cmd.Group == "" || cmd.Summary == "" || cmd.Help == "" || cmd.Run == nil {
			t.Errorf("%s lacks a group, summary, help or run function", cmd.Name)
		}
		for i, a := range cmd.Args {
			if a.Many && i != len(cmd.Args)-1 {
				t.Errorf("%s: argument %s takes many values but is not the last", cmd.Name, a.Name)
			}
		}
		for _, f := range cmd.Flags {
			if f.Required && f.Value == "" {
				t.Errorf("%s: switch --%s cannot be required", cmd.Name, f.Name)
			}
		}
		if !strings.HasPrefix(cmd.usage(), strings.TrimSpace(cmd.Help)) {
			t.Errorf("%s: usage does not start with its help", cmd.Name)
		}
	}
}

// TestRunnerChecksBeforeRunning runs a declared command through the runner:
// flags anywhere, --app required, argument counts, required flags, and
// the values Run sees.
func TestRunnerChecksBeforeRunning(t *testing.T) {
	var got *Call
	cmd := &Command{Name: "try", App: NeedsApp,
		Args:  []Arg{{Name: "X", What: "x"}, {Name: "Y", What: "y", Many: true}},
		Flags: []Flag{{Name: "n", Value: "N", Int: true}, {Name: "s", Value: "S", Required: true}, {Name: "b"}},
		Run:   func(ctx context.Context, c *Call) error { got = c; return nil },
	}
	for _, c := range []struct {
		app  string
		args []string
		want string
	}{
		{"", []string{"1", "2", "--s", "v"}, "try acts on one app"},
		{"a.example.com", []string{"1", "--s", "v"}, "try needs one x, then one or more y"},
		{"a.example.com", []string{"1", "2"}, "try needs --s S"},
		{"a.example.com", []string{"1", "2", "--s", "v", "--n", "two"}, `invalid value "two" for flag -n`},
	} {
		got = nil
		err := cmd.run(context.Background(), &Env{App: c.app}, c.args)
		if err == nil || !strings.Contains(err.Error(), c.want) || got != nil {
			t.Errorf("try %v with app %q = %v (ran: %v), want an error containing %q and no run", c.args, c.app, err, got != nil, c.want)
		}
	}
	if err := cmd.run(context.Background(), &Env{App: "a.example.com"}, []string{"1", "--n", "3", "2", "3", "--s", "v", "--b"}); err != nil {
		t.Fatal(err)
	}
	if got.App != "a.example.com" || strings.Join(got.Args, " ") != "1 2 3" || got.Int("n") != 3 || got.String("s") != "v" || !got.Bool("b") {
		t.Errorf("Run saw app %q args %v n %d s %q b %v", got.App, got.Args, got.Int("n"), got.String("s"), got.Bool("b"))
	}
}
