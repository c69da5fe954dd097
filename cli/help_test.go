package cli_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/longshoreman/longshoreman/cluster"
)

// every verb and the arguments that make a valid call of it.
var verbArgs = map[string][]string{
	"init": nil, "status": nil, "apps": nil, "apps:add": {"a.example.com"}, "apps:rm": {"a.example.com"},
	"hosts": nil, "hosts:add": {"127.0.0.9"}, "hosts:rm": {"127.0.0.9"},
	"deploy": {"img:1"}, "instances": nil, "envs": nil, "envs:set": {"K=v"}, "envs:rm": {"K"},
	"volumes:rm": {"data", "--yes"}, "history": nil, "logs": nil, "kill": nil, "rollback": nil, "scale": {"2"},
	"describe": nil, "backup": {"out.db"}, "commands": nil, "events": nil,
	"registries": nil, "registries:add": {"r.example.com", "--username", "u"}, "registries:rm": {"r.example.com"},
	"https:on": {"a.example.com"}, "https:off": {"a.example.com"}, "certs": nil,
	"certs:add": {"a.example.com", "--cert", "/dev/null", "--key", "/dev/null"}, "certs:rm": {"a.example.com"},
	"settings": {"--batch", "1"}, "tasks": nil,
	"maintenance:on": {"--message", "Back soon."}, "maintenance:off": nil,
	"jobs": nil, "jobs:add": {"report", "@every 10m", "--", "report"}, "jobs:rm": {"report"},
	"tokens": nil, "tokens:add": {"ci", "--scope", "read"}, "tokens:rm": {"ci"}, "whoami": nil,
	"audit":          {"--by", "root", "--since", "1h"},
	"secrets:rotate": nil,
	"top":            {"--once"},
	"promote":        nil,
	"abort":          {"--reason", "slow"},
}

// appVerbs act on the app named with --app.
var appVerbs = []string{"deploy", "instances", "envs", "envs:set", "envs:rm", "history", "logs", "kill", "rollback", "scale", "settings", "tasks", "maintenance:on", "maintenance:off", "volumes:rm", "jobs", "jobs:add", "jobs:rm", "promote", "abort"}

func TestCommandsAndHelp(t *testing.T) {
	t.Parallel()
	u := newCLI(t, nil)
	golden(t, "commands/list", u.ok("commands"))
	if out := u.ok("help"); !strings.Contains(out, "longshoreman commands") {
		t.Errorf("help does not point to the commands: %s", out)
	}
	if out := u.ok("--app", "a.example.com"); !strings.Contains(out, "Commands:") {
		t.Errorf("no verb after --app: want the usage, got %q", out)
	}
	listed := u.ok("commands")
	for verb := range verbArgs {
		if !strings.Contains(listed, "  "+verb+" ") {
			t.Errorf("commands does not list %s", verb)
		}
		for _, h := range []string{"-h", "--help"} {
			out := u.ok(append([]string{verb, h}, verbArgs[verb]...)...)
			if !strings.Contains(out, "Usage: longshoreman") {
				t.Errorf("%s %s: no usage line:\n%s", verb, h, out)
			}
		}
	}
	deployHelp := u.ok("deploy", "--help")
	golden(t, "help/deploy", deployHelp)
	// The defaults help gives are the ones the controller applies.
	for _, want := range []string{
		fmt.Sprintf("current count, else %d)", cluster.DefaultCount),
		fmt.Sprintf("current port, else %d)", cluster.DefaultPort),
		"else " + cluster.DefaultHealthPath + ")",
	} {
		if !strings.Contains(deployHelp, want) {
			t.Errorf("deploy --help lacks %q:\n%s", want, deployHelp)
		}
	}
	// The tool's own help is main's, with every client command under its
	// group, as the commands' declarations list them.
	out := u.ok("--help")
	for _, want := range []string{"longshoreman serve", "longshoreman COMMAND", "Apps:\n", "Deploys:\n", "Hosts:\n", "  hosts:add IP ", "--controller URL"} {
		if !strings.Contains(out, want) {
			t.Errorf("--help lacks %q:\n%s", want, out)
		}
	}
	for verb := range verbArgs {
		if !strings.Contains(out, "  "+verb+" ") {
			t.Errorf("--help does not list %s", verb)
		}
	}
}

func TestUnknownCommand(t *testing.T) {
	t.Parallel()
	u := newCLI(t, nil)
	u.fails([]string{"deploi"}, `unknown command "deploi"`, "longshoreman commands")
	u.fails([]string{"envs-set"}, "did you mean envs:set")
}
