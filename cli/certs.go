package cli

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"time"

	api "github.com/longshoreman/longshoreman/http"
)

// runHTTPSOn turns HTTPS on for the app, redirecting plain HTTP unless
// --no-redirect.
func runHTTPSOn(ctx context.Context, c *Call) error {
	on, redirect := true, !c.Bool("no-redirect")
	body := api.HTTPSRequest{Enabled: &on, Redirect: &redirect}
	if err := c.change(ctx, request{method: "POST", path: "/apps/" + url.PathEscape(c.Args[0]) + "/https", body: body}); err != nil {
		return err
	}
	how := "plain HTTP is redirected to HTTPS"
	if !redirect {
		how = "plain HTTP is served too"
	}
	fmt.Fprintf(c.Stdout, "HTTPS on for %s (%s). The controller obtains its certificate; longshoreman certs shows its state.\n", c.Args[0], how)
	return nil
}

// runHTTPSOff turns HTTPS off for the app.
func runHTTPSOff(ctx context.Context, c *Call) error {
	off := false
	if err := c.change(ctx, request{method: "POST", path: "/apps/" + url.PathEscape(c.Args[0]) + "/https", body: api.HTTPSRequest{Enabled: &off}}); err != nil {
		return err
	}
	fmt.Fprintf(c.Stdout, "HTTPS off for %s: the routers serve it over plain HTTP only.\n", c.Args[0])
	return nil
}

// runCerts prints each domain's certificate state.
func runCerts(ctx context.Context, c *Call) error {
	var out api.CertsResponse
	if err := c.get(ctx, "/certs", &out); err != nil {
		return err
	}
	if len(out.Certs) == 0 {
		fmt.Fprintln(c.Stderr, "No certificates: turn HTTPS on for an app with longshoreman https:on APP, or add one with longshoreman certs:add.")
		return nil
	}
	w := newTable(c.Stdout)
	fmt.Fprintln(w, "DOMAIN\tSOURCE\tSTATUS\tISSUER\tEXPIRES\tNEXT ATTEMPT\tLAST ERROR")
	for _, s := range out.Certs {
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", s.Domain, s.Source, s.Status, orNone(s.Issuer), when(s.NotAfter), when(s.NextAttempt), orNone(s.LastError))
	}
	return w.Flush()
}

func when(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.UTC().Format(time.RFC3339)
}

// runCertsAdd sends a certificate and key read from files.
func runCertsAdd(ctx context.Context, c *Call) error {
	chain, err := os.ReadFile(c.String("cert"))
	if err != nil {
		return fmt.Errorf("cannot read the certificate file (%v): give the PEM chain's path with --cert", err)
	}
	key, err := os.ReadFile(c.String("key"))
	if err != nil {
		return fmt.Errorf("cannot read the key file (%v): give the PEM private key's path with --key", err)
	}
	cl, err := c.Client()
	if err != nil {
		return err
	}
	var out api.CertStatus
	if err := cl.do(ctx, request{method: "POST", path: "/certs", body: api.AddCertRequest{Domain: c.Args[0], Cert: string(chain), Key: string(key)}}, &out); err != nil {
		return err
	}
	fmt.Fprintf(c.Stdout, "Stored the certificate for %s (issuer %s, expires %s); the routers serve it.\n", out.Domain, orNone(out.Issuer), when(out.NotAfter))
	return nil
}

// runCertsRemove forgets a domain's certificate.
func runCertsRemove(ctx context.Context, c *Call) error {
	if err := c.change(ctx, request{method: "DELETE", path: "/certs/" + url.PathEscape(c.Args[0])}); err != nil {
		return err
	}
	fmt.Fprintf(c.Stdout, "Removed the certificate for %s. An app with HTTPS on gets a new one from the CA.\n", c.Args[0])
	return nil
}
