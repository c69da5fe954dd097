package cli_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestUnreachableController(t *testing.T) {
	t.Parallel()
	u := newCLI(t, nil)
	u.Env = []string{"LONGSHOREMAN_URL=http://127.0.0.1:1", "LONGSHOREMAN_TOKEN=x"}
	for verb, args := range verbArgs {
		if verb == "init" || verb == "commands" || verb == "registries:add" { // registries:add reads the password first
			continue
		}
		line := append([]string{"--app", "a.example.com", verb}, args...)
		u.fails(line, "cannot reach the controller at http://127.0.0.1:1 (from LONGSHOREMAN_URL)", "longshoreman init", "LONGSHOREMAN_URL")
	}
	// The file is named when the URL came from it.
	writeFile(t, filepath.Join(u.Home, ".longshoreman.json"), `{"controller":"127.0.0.1:1","token":"x"}`)
	u.Env = nil
	u.fails([]string{"apps"}, "cannot reach the controller at http://127.0.0.1:1 (from "+filepath.Join(u.Home, ".longshoreman.json")+")")
	if _, err := os.Stat(filepath.Join(u.Home, "out.db")); err == nil {
		t.Error("backup left a file although the controller was unreachable")
	}
}

func TestNoControllerConfigured(t *testing.T) {
	t.Parallel()
	u := newCLI(t, nil)
	for _, verb := range []string{"apps", "status", "describe"} {
		u.fails([]string{verb}, "no controller is configured", "longshoreman init", "LONGSHOREMAN_URL")
	}
	writeFile(t, filepath.Join(u.Home, ".longshoreman.json"), `{"controller":`)
	u.fails([]string{"apps"}, ".longshoreman.json is not valid JSON", "longshoreman init")
	u.Env = []string{"LONGSHOREMAN_URL=ftp://127.0.0.1:1", "LONGSHOREMAN_TOKEN=x"}
	u.fails([]string{"apps"}, `controller URL "ftp://127.0.0.1:1" (from LONGSHOREMAN_URL) is not valid`)
}

func TestMissingApp(t *testing.T) {
	t.Parallel()
	u := newCLI(t, nil)
	u.Env = []string{"LONGSHOREMAN_URL=http://127.0.0.1:1"}
	for _, verb := range appVerbs {
		u.fails(append([]string{verb}, verbArgs[verb]...), verb+" acts on one app: name it with --app APP")
	}
	u.fails([]string{"--app"}, "--app needs a value")
}

func TestBadArguments(t *testing.T) {
	t.Parallel()
	u := newCLI(t, nil)
	u.Env = []string{"LONGSHOREMAN_URL=http://127.0.0.1:1"}
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"-a", "a.example.com", "scale", "many"}, `scale takes a whole number of instances, not "many"`},
		{[]string{"-a", "a.example.com", "scale"}, "scale needs one instance count"},
		{[]string{"-a", "a.example.com", "rollback", "v1"}, `rollback takes a revision number from longshoreman history, not "v1"`},
		{[]string{"-a", "a.example.com", "deploy"}, "deploy needs one image"},
		{[]string{"-a", "a.example.com", "deploy", "img:1", "--count", "two"}, `invalid value "two" for flag -count`},
		{[]string{"-a", "a.example.com", "deploy", "img:1", "--replicas", "2"}, "flag provided but not defined: -replicas"},
		{[]string{"-a", "a.example.com", "envs:set", "FOO"}, "FOO"},
		{[]string{"-a", "a.example.com", "envs:set", "GOOD=1", "=v"}, ""},
		{[]string{"-a", "a.example.com", "envs:set"}, "envs:set needs one or more KEY=value"},
		{[]string{"-a", "a.example.com", "envs:rm", "A=B"}, "A=B"},
		{[]string{"apps:add"}, "apps:add needs one app name"},
		{[]string{"hosts:add", "127.0.0.1", "127.0.0.2"}, "hosts:add takes one host IP address, got 2 arguments"},
		{[]string{"apps", "extra"}, "apps takes no arguments"},
		{[]string{"backup"}, "backup needs one file to write"},
		{[]string{"-a", "a.example.com", "deploy", "img:1", "--wait-timeout", "soon"}, `--wait-timeout takes a duration such as 10m or 90s, not "soon"`},
		{[]string{"-a", "a.example.com", "scale", "2", "--wait-timeout", "0s"}, "Wait timeout 0s is out of range"},
		{[]string{"-a", "a.example.com", "envs:rm", "K", "--wait-timeout", "7h"}, "out of range"},
	} {
		r := u.fails(c.args, c.want)
		// Bad input is refused before any request: no "cannot reach".
		if strings.Contains(r.Stderr, "cannot reach") {
			t.Errorf("%v: sent a request before checking its arguments: %s", c.args, r.Stderr)
		}
	}
}

func writeFile(t *testing.T, path, s string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(s), 0o600); err != nil {
		t.Fatal(err)
	}
}
