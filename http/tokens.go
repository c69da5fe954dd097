package http

import (
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/julienschmidt/httprouter"
	"github.com/longshoreman/longshoreman/cluster"
)

func init() {
	r := opRoutes[cluster.OpApps]
	r.method, r.path, r.body = "GET", "/tokens", nil
	opRoutes[cluster.OpTokens] = r
	r.method, r.path = "DELETE", "/tokens/:name"
	opRoutes[cluster.OpRemoveToken] = r
}

// storedCaller authenticates a request whose token is neither the root
// nor the router token against the store's tokens, and fills c. It reads
// the store at every request, so a token removed on any controller is
// refused at once by all of them: 401 for an unknown or expired token.
func (s *Server) storedCaller(r *http.Request, c *Caller) error {
	got := requestToken(r)
	if !strings.HasPrefix(got, cluster.TokenPrefix) {
		// Every stored token's secret has the prefix: anything else is
		// refused without reading the store.
		return cluster.Errorf(cluster.EUNAUTHORIZED, "Invalid token")
	}
	t, err := s.Store.TokenByHash(cluster.HashToken(got))
	if cluster.ErrorCode(err) == cluster.ENOTFOUND {
		return cluster.Errorf(cluster.EUNAUTHORIZED, "Invalid token")
	} else if err != nil {
		return err
	}
	now := time.Now()
	if t.Expired(now) {
		return cluster.Errorf(cluster.EUNAUTHORIZED, "Token %q expired at %s: ask an admin for a new one (`longshoreman tokens:add`).", t.Name, t.Expires.UTC().Format(time.RFC3339))
	}
	*c = Caller{Name: t.Name, Scope: t.Scope, Apps: t.Apps}
	s.touch(t, now)
	return nil
}

// tokenTouches throttles the writes of LastUsed: at most one per token per
// touchEvery from this controller.
type tokenTouches struct {
	mu   sync.Mutex           // guards last
	last map[string]time.Time // token name -> when this server last wrote its LastUsed
}

// touchEvery is how often, at most, a token's LastUsed is written.
const touchEvery = time.Minute

// touch records that t was used at now, unless its LastUsed (stored, or
// written by this server) is more recent than touchEvery. A failed write
// is logged and costs the request nothing: LastUsed is informative.
func (s *Server) touch(t *cluster.APIToken, now time.Time) {
	if now.Sub(t.LastUsed) < touchEvery {
		return
	}
	s.touches.mu.Lock()
	if s.touches.last == nil {
		s.touches.last = map[string]time.Time{}
	}
	if now.Sub(s.touches.last[t.Name]) < touchEvery {
		s.touches.mu.Unlock()
		return
	}
	s.touches.last[t.Name] = now
	s.touches.mu.Unlock()
	if err := s.Store.TouchToken(t.Name, now); err != nil && cluster.ErrorCode(err) != cluster.ENOTFOUND {
		s.Logger.Warn("could not record a token's last use", "token", t.Name, "error", err)
	}
}

// tokenInfo is the API's view of t.
func tokenInfo(t cluster.APIToken) TokenInfo {
	apps := t.Apps
	if apps == nil {
		apps = []string{}
	}
	return TokenInfo{Name: t.Name, Scope: string(t.Scope), Apps: apps, Created: t.Created, Expires: t.Expires, LastUsed: t.LastUsed}
}

// listTokens answers GET /tokens: every stored token, without secrets.
func (s *Server) listTokens(w http.ResponseWriter, r *http.Request, _ httprouter.Params) error {
	tokens, err := s.Store.Tokens()
	if err != nil {
		return err
	}
	cluster.SortTokens(tokens)
	out := TokensResponse{Tokens: make([]TokenInfo, 0, len(tokens))}
	for _, t := range tokens {
		out.Tokens = append(out.Tokens, tokenInfo(t))
	}
	ok(w, out)
	return nil
}

// addToken answers POST /tokens: it makes a secret, stores its hash, and
// answers the secret, which is never shown again.
func (s *Server) addToken(w http.ResponseWriter, r *http.Request, _ httprouter.Params) error {
	var req TokenRequest
	if err := decodeRequest(r, &req); err != nil {
		return err
	}
	scope, err := cluster.ParseScope(req.Scope)
	if err != nil {
		return err
	}
	life, err := cluster.ParseLifetime(req.Expires)
	if err != nil {
		return err
	}
	secret, err := cluster.NewTokenSecret()
	if err != nil {
		return err
	}
	now := time.Now().UTC().Truncate(time.Second)
	t := cluster.APIToken{Name: req.Name, Scope: scope, Apps: req.Apps, Hash: cluster.HashToken(secret), Created: now}
	if life > 0 {
		t.Expires = now.Add(life)
	}
	note(w, "name", t.Name)
	note(w, "scope", string(t.Scope))
	if err := t.Validate(); err != nil {
		return err
	}
	if err := s.changeStore(w, r, http.StatusOK).CreateToken(t); err != nil {
		return err
	}
	s.Logger.Info("token created", "token", t.Name, "scope", t.Scope, "apps", t.Apps, "expires", t.Expires, "by", callerOf(w).Name)
	w.Header().Set("Cache-Control", "no-store")
	ok(w, TokenCreated{Token: secret, TokenInfo: tokenInfo(t)})
	return nil
}

// removeToken answers DELETE /tokens/:name: the token is refused from the
// next request on, by every controller of the store.
func (s *Server) removeToken(w http.ResponseWriter, r *http.Request, ps httprouter.Params) error {
	name := ps.ByName("name")
	if err := s.changeStore(w, r, http.StatusOK).DeleteToken(name); err != nil {
		return err
	}
	s.Logger.Info("token removed", "token", name, "by", callerOf(w).Name)
	return done(w, nil)
}

// whoami answers GET /whoami: the name, scope, apps and expiry of the
// token the request carried, for the dashboard and the CLI.
func (s *Server) whoami(w http.ResponseWriter, r *http.Request, _ httprouter.Params) error {
	c := callerOf(w)
	who := WhoAmIResponse{Name: c.Name, Scope: string(c.Scope), Apps: c.Apps}
	if c.Name != cluster.RootTokenName && c.Name != cluster.RouterTokenName {
		t, err := s.Store.TokenByHash(cluster.HashToken(requestToken(r)))
		if err != nil {
			return err // removed since the request was authenticated: ENOTFOUND
		}
		who.Expires = t.Expires
	}
	if who.Apps == nil {
		who.Apps = []string{}
	}
	ok(w, who)
	return nil
}
