package command

import (
	"fmt"
	"net"
	"strconv"

	"github.com/longshoreman/longshoreman/cli"
	"github.com/longshoreman/longshoreman/router"
)

// The router's HTTPS settings. The router token is read from the
// environment only, so that it stays out of argv and ps.
var (
	setRouterHTTPSPort  = setting{"https-port", "HTTPS_PORT", "HTTPS port to serve on next to HTTP, with certificates fetched from --controller; 0: HTTPS off"}
	setRouterController = setting{"controller", "LONGSHOREMAN_URL", "the controller's API URL the router fetches its certificates from (GET /router/certs), e.g. https://10.0.0.1:3000"}
	setRouterToken      = setting{"", "LONGSHOREMAN_ROUTER_TOKEN", ""}
	setRouterCACert     = setting{"", "LONGSHOREMAN_CACERT", ""}
	setRouterInsecure   = setting{"insecure-controller", "LONGSHOREMAN_INSECURE_CONTROLLER", "accept an http:// controller URL that is not loopback: the certificates' keys then cross the network in clear (logged at every fetch)"}
)

// RouterHTTPS are the `longshoreman router` settings of HTTPS.
type RouterHTTPS struct {
	Port       int    // 0: HTTPS off
	Controller string // the controller's API URL
	Token      string // the router token
	CACert     string // PEM file of the CA of an https controller
	// Insecure accepts a plain http Controller on another machine, whose
	// answers carry the certificates' keys in clear.
	Insecure bool
}

func (h *RouterHTTPS) load(l *loader) {
	l.Int(&h.Port, setRouterHTTPSPort)
	l.String(&h.Controller, setRouterController)
	l.String(&h.Token, setRouterToken)
	l.String(&h.CACert, setRouterCACert)
	l.Bool(&h.Insecure, setRouterInsecure)
}

// check refuses an unusable port or URL, a controller without the token
// that it asks for, and, with HTTPS on, a plain http controller on
// another machine unless Insecure; httpAddr is the HTTP listener's
// address.
func (h RouterHTTPS) check(p *problems, httpAddr string) {
	if h.Port != 0 {
		p.port(setRouterHTTPSPort, h.Port)
		if _, port, _ := net.SplitHostPort(httpAddr); port == strconv.Itoa(h.Port) {
			p.add(setRouterHTTPSPort, "is %d, the HTTP port too: give HTTPS its own port (443)", h.Port)
		}
	}
	if h.Controller != "" {
		if u, err := controllerURL(h.Controller); err != nil {
			p.add(setRouterController, "is %q: %v; give the controller's API URL such as https://10.0.0.1:3000", h.Controller, err)
		} else if h.Port != 0 && router.PlainRemote(u) && !h.Insecure {
			p.add(setRouterController, "is %s, plain HTTP to another machine: the certificates' keys would cross the network in clear. "+
				"Give the controller's https:// URL (serve --tls-cert/--tls-key; %s names a private CA), or %s to accept that", u, setRouterCACert, setRouterInsecure)
		}
		if h.Token == "" {
			p.add(setRouterToken, "is not set: the router fetches its certificates from %s with the router token; print it with `longshoreman token --router` on the controller's machine and set it in the router's environment (for systemd, in /etc/longshoreman/env)", h.Controller)
		}
	}
	if h.Port != 0 && h.Controller == "" {
		p.add(setRouterController, "is not set: with %s the router needs the controller's API URL to fetch its certificates from; set it and %s", setRouterHTTPSPort, setRouterToken)
	}
}

// controllerURL accepts host:port as well as a URL with an http or https
// scheme, as the CLI does.
func controllerURL(s string) (string, error) { return cli.NormalizeURL(s) }

// apply sets HTTPS in cfg: listening next to HTTP (on the same host as
// --listen when it names one), the controller and its CA.
func (h RouterHTTPS) apply(cfg *router.RunConfig, listen string) error {
	if h.Port == 0 {
		if h.Controller != "" && cfg.Logger != nil {
			cfg.Logger.Warn("LONGSHOREMAN_URL is set but HTTPS is off: give --https-port (HTTPS_PORT) to serve HTTPS")
		}
		return nil
	}
	host := ""
	if listen != "" {
		host, _, _ = net.SplitHostPort(listen)
	}
	cfg.HTTPSAddr = net.JoinHostPort(host, strconv.Itoa(h.Port))
	u, err := controllerURL(h.Controller)
	if err != nil {
		return fmt.Errorf("%s: %w", setRouterController, err)
	}
	tlsConfig, err := cli.TLSConfig(h.CACert)
	if err != nil {
		return fmt.Errorf("%s: %w", setRouterCACert, err)
	}
	cfg.Controller, cfg.RouterToken, cfg.ControllerTLS = u, h.Token, tlsConfig
	return nil
}
