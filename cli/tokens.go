package cli

import (
	"context"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/longshoreman/longshoreman/cluster"
	api "github.com/longshoreman/longshoreman/http"
)

// runTokens prints the stored tokens, never their secrets.
func runTokens(ctx context.Context, c *Call) error {
	var out api.TokensResponse
	if err := c.get(ctx, "/tokens", &out); err != nil {
		return err
	}
	if len(out.Tokens) == 0 {
		fmt.Fprintln(c.Stderr, "No tokens but the root token: make one with longshoreman tokens:add NAME --scope read|deploy|admin.")
		return nil
	}
	w := newTable(c.Stdout)
	fmt.Fprintln(w, "NAME\tSCOPE\tAPPS\tCREATED\tEXPIRES\tLAST USED")
	for _, t := range out.Tokens {
		expires := "never"
		if !t.Expires.IsZero() {
			expires = when(t.Expires)
		}
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\n", t.Name, t.Scope, appList(t.Apps), when(t.Created), expires, when(t.LastUsed))
	}
	return w.Flush()
}

// appList says a token's apps: "all" for none.
func appList(apps []string) string {
	if len(apps) == 0 {
		return "all"
	}
	return strings.Join(apps, ",")
}

// expiry says when a token expires: "expires 2027-03-06T10:00:00Z", or
// "never expires".
func expiry(t time.Time) string {
	if t.IsZero() {
		return "never expires"
	}
	return "expires " + when(t)
}

// runTokensAdd makes a token and prints its secret, alone on stdout so
// that a script can take it; what it is goes to stderr.
func runTokensAdd(ctx context.Context, c *Call) error {
	cl, err := c.Client()
	if err != nil {
		return err
	}
	body := api.TokenRequest{Name: c.Args[0], Scope: c.String("scope"), Apps: c.Env.Apps, Expires: c.String("expires")}
	var out api.TokenCreated
	if err := cl.do(ctx, request{method: "POST", path: "/tokens", body: body}, &out); err != nil {
		return err
	}
	fmt.Fprintln(c.Stdout, out.Token)
	fmt.Fprintf(c.Stderr, "Token %s: scope %s, apps %s, %s. Its secret, above, is shown this once: keep it where it is used (as LONGSHOREMAN_TOKEN).\n",
		out.Name, out.Scope, appList(out.Apps), expiry(out.Expires))
	return nil
}

// runTokensRemove revokes a token.
func runTokensRemove(ctx context.Context, c *Call) error {
	if err := c.change(ctx, request{method: "DELETE", path: "/tokens/" + url.PathEscape(c.Args[0])}); err != nil {
		return err
	}
	fmt.Fprintf(c.Stdout, "Removed token %s: every controller refuses it from now on.\n", c.Args[0])
	return nil
}

// runWhoami says which token the client sends and what it may do.
func runWhoami(ctx context.Context, c *Call) error {
	var out api.WhoAmIResponse
	if err := c.get(ctx, "/whoami", &out); err != nil {
		return err
	}
	scope := out.Scope
	if out.Name == cluster.RouterTokenName {
		scope = "router: GET /routes and GET /router/certs only"
	}
	fmt.Fprintf(c.Stdout, "%s (scope %s, apps %s, %s)\n", out.Name, scope, appList(out.Apps), expiry(out.Expires))
	return nil
}
