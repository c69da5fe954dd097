package http

import (
	"net/http"
	"slices"
	"strings"

	"github.com/julienschmidt/httprouter"
	"github.com/longshoreman/longshoreman/cluster"
)

// need is what a route asks of the token a request carries.
type need int

const (
	needPublic   need = iota + 1 // no token: the dashboard's files, /healthz
	needAnyToken                 // any valid token, the router's too (GET /whoami)
	needRead                     // scope read
	// needReadOwnApp is scope read, and for a token with a list of apps,
	// an app of the list: logs and env values are the apps' secrets.
	needReadOwnApp
	// needDeploy is scope deploy, and for a token with a list of apps,
	// the :app of the path in the list (POST /apps checks its body's app).
	needDeploy
	needAdmin        // scope admin
	needRouter       // the router token only
	needReadOrRouter // scope read, or the router token
)

// routeNeeds is the scope of every route (see the README, Security:
// Scoped tokens); a route missing here is refused to every token but the
// root token, and a test fails for it.
var routeNeeds = map[[2]string]need{
	{"GET", "/apps"}:                         needRead,
	{"POST", "/apps"}:                        needDeploy,
	{"GET", "/apps/:app"}:                    needRead,
	{"DELETE", "/apps/:app"}:                 needAdmin,
	{"POST", "/apps/:app/deploy"}:            needDeploy,
	{"GET", "/apps/:app/instances"}:          needRead,
	{"GET", "/apps/:app/envs"}:               needReadOwnApp,
	{"POST", "/apps/:app/envs"}:              needDeploy,
	{"DELETE", "/apps/:app/envs/:key"}:       needDeploy,
	{"GET", "/apps/:app/history"}:            needRead,
	{"GET", "/apps/:app/traffic"}:            needRead,
	{"GET", "/apps/:app/logs"}:               needReadOwnApp,
	{"GET", "/apps/:app/kill"}:               needDeploy,
	{"POST", "/apps/:app/kill"}:              needDeploy,
	{"POST", "/apps/:app/rollback"}:          needDeploy,
	{"POST", "/apps/:app/scale"}:             needDeploy,
	{"POST", "/apps/:app/run"}:               needDeploy,
	{"GET", "/apps/:app/tasks"}:              needRead,
	{"GET", "/apps/:app/jobs"}:               needRead,
	{"POST", "/apps/:app/jobs"}:              needDeploy,
	{"DELETE", "/apps/:app/jobs/:job"}:       needDeploy,
	{"GET", "/apps/:app/settings"}:           needRead,
	{"POST", "/apps/:app/settings"}:          needDeploy,
	{"DELETE", "/apps/:app/volumes/:volume"}: needAdmin,
	{"POST", "/apps/:app/https"}:             needDeploy,
	{"POST", "/apps/:app/maintenance"}:       needDeploy,
	{"POST", "/apps/:app/promote"}:           needDeploy,
	{"POST", "/apps/:app/abort"}:             needDeploy,
	{"GET", "/hosts"}:                        needRead,
	{"POST", "/hosts"}:                       needAdmin,
	{"DELETE", "/hosts/:host"}:               needAdmin,
	{"GET", "/registries"}:                   needRead,
	{"POST", "/registries"}:                  needAdmin,
	{"DELETE", "/registries/:registry"}:      needAdmin,
	{"GET", "/describe"}:                     needRead,
	{"GET", "/routes"}:                       needReadOrRouter,
	{"GET", "/healthz"}:                      needPublic,
	{"GET", "/backup"}:                       needAdmin,
	{"GET", "/metrics"}:                      needRead,
	{"GET", "/certs"}:                        needRead,
	{"POST", "/certs"}:                       needAdmin,
	{"DELETE", "/certs/:domain"}:             needAdmin,
	{"GET", "/router/certs"}:                 needRouter,
	{"GET", "/events"}:                       needRead,
	{"GET", "/overview"}:                     needRead,
	{"GET", "/tokens"}:                       needAdmin,
	{"GET", "/audit"}:                        needAdmin,
	{"POST", "/tokens"}:                      needAdmin,
	{"DELETE", "/tokens/:name"}:              needAdmin,
	{"POST", "/secrets/rotate"}:              needAdmin,
	{"GET", "/whoami"}:                       needAnyToken,
	{"GET", "/ui"}:                           needPublic,
	{"GET", "/ui/*file"}:                     needPublic,
	{"HEAD", "/ui/*file"}:                    needPublic,
}

// scope is the scope a need asks for ("" for the router's and the
// public routes).
func (n need) scope() cluster.Scope {
	switch n {
	case needRead, needReadOwnApp, needReadOrRouter:
		return cluster.ScopeRead
	case needDeploy:
		return cluster.ScopeDeploy
	case needAdmin:
		return cluster.ScopeAdmin
	}
	return ""
}

// permit refuses a request whose caller may not make it on a route of
// need n (403, naming what it lacks). The root token passes with a
// comparison; the router token is held to its routes before routing
// (allowed), and here too.
func permit(c *Caller, n need, r *http.Request, ps httprouter.Params) error {
	if c.Scope == cluster.ScopeAdmin && n != needRouter {
		return nil
	}
	switch {
	case n == needPublic:
		return nil
	case c.Name == "":
		return cluster.Errorf(cluster.EUNAUTHORIZED, "Invalid token")
	case n == needAnyToken:
		return nil
	case c.Name == cluster.RouterTokenName:
		if n == needRouter || n == needReadOrRouter {
			return nil
		}
		return cluster.Errorf(cluster.EFORBIDDEN, "The router token reads only GET /routes and GET /router/certs: use an API token for %s %s.", r.Method, r.URL.Path)
	case n == needRouter:
		return cluster.Errorf(cluster.EFORBIDDEN, "%s may not GET %s: it takes the router token, not an API token; routers set LONGSHOREMAN_ROUTER_TOKEN to what `longshoreman token --router` prints on the controller.", c.describe(), r.URL.Path)
	case !c.Scope.Includes(n.scope()):
		return cluster.Errorf(cluster.EFORBIDDEN, "%s may not %s %s: that needs scope %s. Ask an admin for a token with that scope.", c.describe(), r.Method, r.URL.Path, n.scope())
	}
	if n == needReadOwnApp || n == needDeploy {
		if app := ps.ByName("app"); app != "" {
			return c.mayTouch(app, r)
		}
	}
	return nil
}

// mayTouch refuses app to a caller whose token names other apps.
func (c Caller) mayTouch(app string, r *http.Request) error {
	if len(c.Apps) == 0 || c.Scope == cluster.ScopeAdmin {
		return nil
	}
	if slices.Contains(c.Apps, app) {
		return nil
	}
	return cluster.Errorf(cluster.EFORBIDDEN, "%s may not %s %s: it is limited to apps %s. Ask an admin for a token that names %s.", c.describe(), r.Method, r.URL.Path, strings.Join(c.Apps, ", "), app)
}

// limited reports whether the caller's token names apps: it reads the
// logs and env values of those only.
func (c Caller) limited() bool { return len(c.Apps) > 0 && c.Scope != cluster.ScopeAdmin }

// envsOf returns envs (KEY=value) of app as the caller may read them:
// all, or none for an app outside a limited token's list (env values are
// secrets; GET /apps/:app/envs refuses them the same way).
func (c Caller) envsOf(app string, envs []string) []string {
	if c.limited() && !slices.Contains(c.Apps, app) {
		return []string{}
	}
	return envs
}

// describe names the caller's token for a refusal: `Token "ci" (scope
// deploy, apps a.example.com)`.
func (c Caller) describe() string {
	apps := "all apps"
	if len(c.Apps) > 0 {
		apps = "apps " + strings.Join(c.Apps, ", ")
	}
	return "Token \"" + c.Name + "\" (scope " + string(c.Scope) + ", " + apps + ")"
}
