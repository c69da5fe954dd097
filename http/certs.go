package http

import (
	"crypto/sha256"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/julienschmidt/httprouter"
	"github.com/longshoreman/longshoreman/cluster"
)

func init() {
	r := opRoutes[cluster.OpApps]
	r.method, r.path, r.body = "GET", "/certs", nil
	opRoutes[cluster.OpCerts] = r
}

// CertStore is what the HTTPS and certificate routes read and write: an
// app's HTTPS setting and the certificates.
type CertStore interface {
	cluster.AppStore
	cluster.CertStore
}

// certStore returns the store of certificates: Certs, or Store when it
// is one.
func (s *Server) certStore() (CertStore, error) {
	return s.certsOf(s.Store)
}

// certChangeStore is certStore for a handler's change in one write (see
// changeStore).
func (s *Server) certChangeStore(w http.ResponseWriter, r *http.Request) (CertStore, error) {
	if s.Certs != nil {
		return s.Certs, nil
	}
	return s.certsOf(s.changeStore(w, r, http.StatusOK))
}

func (s *Server) certsOf(st Store) (CertStore, error) {
	if s.Certs != nil {
		return s.Certs, nil
	}
	if c, ok := st.(CertStore); ok {
		return c, nil
	}
	return nil, cluster.Errorf(cluster.EUNAVAILABLE, "This controller keeps no certificates.")
}

// tableChanged tells the publisher that the routing table changed.
func (s *Server) tableChanged() {
	if s.TableChanged != nil {
		s.TableChanged()
	}
}

// setHTTPS turns HTTPS on or off for an app (POST /apps/:app/https).
func (s *Server) setHTTPS(w http.ResponseWriter, r *http.Request, app *cluster.App, _ httprouter.Params) error {
	var req HTTPSRequest
	if err := decodeRequest(r, &req); err != nil {
		return err
	}
	if req.Enabled == nil {
		return cluster.Errorf(cluster.EINVALID, "Field \"enabled\" is missing: send {\"enabled\": true, \"redirect\": true} to serve %s over HTTPS, or {\"enabled\": false} to stop.", app.Name)
	}
	h := cluster.AppHTTPS{Enabled: *req.Enabled, Redirect: *req.Enabled && (req.Redirect == nil || *req.Redirect)}
	note(w, "enabled", strconv.FormatBool(h.Enabled))
	cs, err := s.certChangeStore(w, r)
	if err != nil {
		return err
	}
	app, err = cs.UpdateApp(app.Name, func(a *cluster.App) error { a.HTTPS = h; return nil })
	if err != nil {
		return err
	}
	s.Logger.Info("app HTTPS set", "app", app.Name, "enabled", h.Enabled, "redirect", h.Redirect)
	s.tableChanged()
	ok(w, HTTPSResponse{App: app.Name, HTTPS: app.HTTPS})
	return nil
}

// listCerts answers GET /certs: every certificate record and every app
// with HTTPS on that has none yet, without keys or chains.
func (s *Server) listCerts(w http.ResponseWriter, r *http.Request, _ httprouter.Params) error {
	cs, err := s.certStore()
	if err != nil {
		return err
	}
	certs, err := cs.Certs()
	if err != nil {
		return err
	}
	apps, err := s.Store.AllApps()
	if err != nil {
		return err
	}
	now := time.Now()
	out := []CertStatus{}
	seen := map[string]bool{}
	for _, c := range certs {
		seen[c.Domain] = true
		st := CertStatus{Domain: c.Domain, Source: c.Source, Status: "pending", Issuer: c.Issuer, NotAfter: c.NotAfter,
			LastError: c.LastError, LastAttempt: c.LastAttempt, NextAttempt: c.NextAttempt}
		switch {
		case c.Issued() && now.After(c.NotAfter):
			st.Status = "expired"
		case c.Issued():
			st.Status = "valid"
		}
		out = append(out, st)
	}
	for _, a := range apps {
		if a.HTTPS.Enabled && !seen[a.Name] && !coveredByWildcard(certs, a.Name) {
			out = append(out, CertStatus{Domain: a.Name, Source: cluster.CertACME, Status: "pending"})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Domain < out[j].Domain })
	ok(w, CertsResponse{Certs: out})
	return nil
}

func coveredByWildcard(certs []cluster.Cert, domain string) bool {
	for _, c := range certs {
		if strings.HasPrefix(c.Domain, "*.") && c.Issued() && cluster.Covers([]string{c.Domain}, domain) {
			return true
		}
	}
	return false
}

// addCert stores a certificate brought by the user (POST /certs) once it
// is checked: key, chain, names, validity. Nothing is stored otherwise.
func (s *Server) addCert(w http.ResponseWriter, r *http.Request, _ httprouter.Params) error {
	var req AddCertRequest
	if err := decodeRequest(r, &req); err != nil {
		return err
	}
	req.Domain = strings.ToLower(strings.TrimSpace(req.Domain))
	note(w, "domain", req.Domain) // never the key
	switch {
	case req.Domain == "":
		return cluster.Errorf(cluster.EINVALID, "Field \"domain\" is missing: give the domain the certificate serves, e.g. shop.example.com or *.example.com.")
	case strings.TrimSpace(req.Cert) == "":
		return cluster.Errorf(cluster.EINVALID, "Field \"cert\" is missing: give the PEM certificate chain, the domain's certificate first.")
	case strings.TrimSpace(req.Key) == "":
		return cluster.Errorf(cluster.EINVALID, "Field \"key\" is missing: give the certificate's PEM private key.")
	}
	info, err := cluster.ParseCert(req.Domain, req.Cert, req.Key, time.Now())
	if err != nil {
		return err
	}
	cs, err := s.certChangeStore(w, r)
	if err != nil {
		return err
	}
	c := cluster.Cert{Domain: req.Domain, Source: cluster.CertManual, Chain: req.Cert, Key: req.Key, Issuer: info.Issuer,
		Serial: info.Serial, NotBefore: info.NotBefore.UTC(), NotAfter: info.NotAfter.UTC()}
	if err := cs.PutCert(c); err != nil {
		return err
	}
	s.Logger.Info("certificate stored", "domain", c.Domain, "source", c.Source, "issuer", c.Issuer, "not_after", c.NotAfter)
	s.tableChanged()
	ok(w, CertStatus{Domain: c.Domain, Source: c.Source, Status: "valid", Issuer: c.Issuer, NotAfter: c.NotAfter})
	return nil
}

// deleteCert removes a domain's certificate (DELETE /certs/:domain). An
// app with HTTPS on gets a new one from the CA.
func (s *Server) deleteCert(w http.ResponseWriter, r *http.Request, ps httprouter.Params) error {
	domain := strings.ToLower(ps.ByName("domain"))
	cs, err := s.certChangeStore(w, r)
	if err != nil {
		return err
	}
	if _, err := cs.Cert(domain); err != nil {
		return err
	}
	if err := cs.DeleteCert(domain); err != nil {
		return err
	}
	s.Logger.Info("certificate deleted", "domain", domain)
	s.tableChanged()
	return done(w, nil)
}

// routerCerts answers GET /router/certs, for routers only (the router
// token): every issued certificate with its key.
func (s *Server) routerCerts(w http.ResponseWriter, r *http.Request, _ httprouter.Params) error {
	cs, err := s.certStore()
	if err != nil {
		return err
	}
	set, err := cs.CertSet()
	if err != nil {
		return err
	}
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusOK, set)
	return nil
}

// Token roles.
const (
	roleNone   = iota // missing or wrong token
	roleAPI           // the API token: everything but GET /router/certs
	roleRouter        // the router token: GET /routes and GET /router/certs
)

// tokenRole says which token the request carries.
func (s *Server) tokenRole(r *http.Request) int {
	got := requestToken(r)
	if got == "" {
		return roleNone
	}
	sum := sha256.Sum256([]byte(got))
	switch {
	case tokenMatches(&sum, s.Token, sumOf(s.Token, s.sums.api, &s.sums.apiSum)):
		return roleAPI
	case tokenMatches(&sum, s.RouterToken, sumOf(s.RouterToken, s.sums.router, &s.sums.routerSum)):
		return roleRouter
	}
	return roleNone
}

// allowed refuses what a valid token's role may not do: the router token
// reads the routing table and the certificates, nothing else; the API
// token never reads private keys (role split: the routers' token leaks
// no control of the cluster, the operators' token no keys).
func allowed(role int, r *http.Request) error {
	routerPath := r.URL.Path == "/routes" || r.URL.Path == "/router/certs" || r.URL.Path == "/whoami"
	switch {
	case role == roleRouter && (r.Method != http.MethodGet || !routerPath):
		return cluster.Errorf(cluster.EFORBIDDEN, "The router token reads only GET /routes and GET /router/certs: use the API token (LONGSHOREMAN_TOKEN) for %s %s.", r.Method, r.URL.Path)
	case role == roleAPI && r.URL.Path == "/router/certs":
		return cluster.Errorf(cluster.EFORBIDDEN, "GET /router/certs takes the router token, not the API token: routers set LONGSHOREMAN_ROUTER_TOKEN to what `longshoreman token --router` prints on the controller.")
	}
	return nil
}
