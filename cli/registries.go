package cli

import (
	"bufio"
	"context"
	"fmt"
	"net/url"
	"strings"

	api "github.com/longshoreman/longshoreman/http"
)

// runRegistries prints one registry address a line.
func runRegistries(ctx context.Context, c *Call) error {
	var out api.RegistriesResponse
	err := c.get(ctx, "/registries", &out)
	return c.lines(err, out.Registries, "No registry credentials stored: add some with longshoreman registries:add REGISTRY --username USER.")
}

// runRegistriesAdd reads the password from stdin (first line) and stores
// the credentials; the password never appears on the command line.
func runRegistriesAdd(ctx context.Context, c *Call) error {
	pos, user := c.Args, c.String("username")
	line, err := bufio.NewReader(c.Stdin).ReadString('\n')
	password := strings.TrimRight(line, "\r\n")
	if password == "" {
		return fmt.Errorf("no password on standard input: pipe it in, as in  echo \"$PASSWORD\" | longshoreman registries:add %s --username %s", pos[0], user)
	}
	_ = err // a last line without a newline is still a password
	body := api.PutRegistryRequest{Registry: pos[0], Username: user, Password: password}
	if err := c.change(ctx, request{method: "POST", path: "/registries", body: body}); err != nil {
		return err
	}
	fmt.Fprintf(c.Stdout, "Stored credentials for %s (user %s).\n", pos[0], user)
	return nil
}

// runRegistriesRemove removes the credentials.
func runRegistriesRemove(ctx context.Context, c *Call) error {
	if err := c.change(ctx, request{method: "DELETE", path: "/registries/" + url.PathEscape(c.Args[0])}); err != nil {
		return err
	}
	fmt.Fprintf(c.Stdout, "Removed the credentials for %s.\n", c.Args[0])
	return nil
}
