package cli_test

import (
	"strings"
	"testing"
)

func TestRegistries(t *testing.T) {
	u := newUser(t)
	u.none([]string{"registries"}, "No registry credentials")
	u.Stdin = "hunter2\n"
	if out := u.ok("registries:add", "Registry.Example.com:5000", "--username", "deployer"); !strings.Contains(out, "Stored credentials") {
		t.Fatalf("registries:add printed %q", out)
	}
	u.Stdin = ""
	if out := u.ok("registries"); out != "registry.example.com:5000\n" {
		t.Fatalf("registries = %q", out)
	}
	u.fails([]string{"registries:add", "registry.example.com", "--username", "x"}, "no password on standard input")
	u.fails([]string{"registries:add", "registry.example.com"}, "--username")
	u.Stdin = "pw\n"
	u.fails([]string{"registries:add", "registry.example.com/path", "--username", "x"}, "not a registry address")
	u.ok("registries:rm", "registry.example.com:5000")
	u.fails([]string{"registries:rm", "registry.example.com:5000"}, "No credentials are stored")
}
