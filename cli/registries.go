package cli

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"net/url"
	"strings"
)

// RegistriesCommand lists the registries with stored credentials.
type RegistriesCommand struct{ *Env }

// Run prints one registry address a line.
func (c *RegistriesCommand) Run(ctx context.Context, args []string) error {
	pos, err := parse(flag.NewFlagSet("registries", flag.ContinueOnError), args)
	if err != nil {
		return err
	}
	if err := needArgs("registries", pos, 0, 0, "no arguments"); err != nil {
		return err
	}
	cl, err := c.Client()
	if err != nil {
		return err
	}
	var out struct{ Registries []string }
	if err := cl.do(ctx, request{method: "GET", path: "/registries"}, &out); err != nil {
		return err
	}
	if len(out.Registries) == 0 {
		fmt.Fprintln(c.Stderr, "No registry credentials stored: add some with longshoreman registries:add REGISTRY --username USER.")
	}
	for _, r := range out.Registries {
		fmt.Fprintln(c.Stdout, r)
	}
	return nil
}

// Usage describes registries.
func (c *RegistriesCommand) Usage() string {
	return `List the registries whose credentials the controller stores, one a line.
The credentials themselves are never shown.

Usage: longshoreman registries
`
}

// RegistriesAddCommand stores a registry's credentials.
type RegistriesAddCommand struct{ *Env }

// Run reads the password from stdin (first line) and stores the
// credentials; the password never appears on the command line.
func (c *RegistriesAddCommand) Run(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("registries:add", flag.ContinueOnError)
	user := fs.String("username", "", "the registry username (required)")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if err := needArgs("registries:add", pos, 1, 1, "one registry address such as registry.example.com:5000"); err != nil {
		return err
	}
	if *user == "" {
		return fmt.Errorf("registries:add needs --username USER; the password is read from standard input")
	}
	line, err := bufio.NewReader(c.Stdin).ReadString('\n')
	password := strings.TrimRight(line, "\r\n")
	if password == "" {
		return fmt.Errorf("no password on standard input: pipe it in, as in  echo \"$PASSWORD\" | longshoreman registries:add %s --username %s", pos[0], *user)
	}
	_ = err // a last line without a newline is still a password
	cl, err := c.Client()
	if err != nil {
		return err
	}
	body := map[string]string{"registry": pos[0], "username": *user, "password": password}
	if err := cl.do(ctx, request{method: "POST", path: "/registries", body: body}, nil); err != nil {
		return err
	}
	fmt.Fprintf(c.Stdout, "Stored credentials for %s (user %s).\n", pos[0], *user)
	return nil
}

// Usage describes registries:add.
func (c *RegistriesAddCommand) Usage() string {
	return `Store the credentials the hosts use to pull images from a private registry.
The password is read from standard input, so it stays out of shell history
and process lists. Deploys of images from that registry send them.

Usage: echo "$PASSWORD" | longshoreman registries:add REGISTRY --username USER
`
}

// RegistriesRemoveCommand forgets a registry's credentials.
type RegistriesRemoveCommand struct{ *Env }

// Run removes the credentials.
func (c *RegistriesRemoveCommand) Run(ctx context.Context, args []string) error {
	pos, err := parse(flag.NewFlagSet("registries:rm", flag.ContinueOnError), args)
	if err != nil {
		return err
	}
	if err := needArgs("registries:rm", pos, 1, 1, "one registry address"); err != nil {
		return err
	}
	cl, err := c.Client()
	if err != nil {
		return err
	}
	if err := cl.do(ctx, request{method: "DELETE", path: "/registries/" + url.PathEscape(pos[0])}, nil); err != nil {
		return err
	}
	fmt.Fprintf(c.Stdout, "Removed the credentials for %s.\n", pos[0])
	return nil
}

// Usage describes registries:rm.
func (c *RegistriesRemoveCommand) Usage() string {
	return `Forget the credentials stored for a registry.

Usage: longshoreman registries:rm REGISTRY
`
}
