package cluster

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
)

// RequestToken returns the token a request carries, in X-Auth or in
// Authorization: Bearer; the controller's API and the router's status
// page read it alike.
func RequestToken(h http.Header) string {
	got := h.Get("X-Auth")
	if got == "" {
		if v := h.Get("Authorization"); len(v) > 7 && strings.EqualFold(v[:7], "bearer ") {
			got = strings.TrimSpace(v[7:])
		}
	}
	return got
}

// TokenEqual compares two tokens in constant time; an empty token matches
// nothing.
func TokenEqual(got, want string) bool {
	if got == "" || want == "" {
		return false
	}
	a, b := sha256.Sum256([]byte(got)), sha256.Sum256([]byte(want))
	return subtle.ConstantTimeCompare(a[:], b[:]) == 1
}

// Scope is what an API token may do (see the README, Security). The root
// token (LONGSHOREMAN_TOKEN or the generated one) is an admin token.
type Scope string

// The scopes, each allowing what the one before it does and more.
const (
	// ScopeRead reads: every GET but GET /backup, and for a token with
	// a list of apps, the logs and envs of those apps only.
	ScopeRead Scope = "read"
	// ScopeDeploy reads, and changes the apps it names (all apps when it
	// names none): deploy, envs, scale, rollback, kill, run, jobs,
	// maintenance, settings, HTTPS, creating an app.
	ScopeDeploy Scope = "deploy"
	// ScopeAdmin does everything: hosts, registries, certificates,
	// tokens, deleting apps and volumes, backups.
	ScopeAdmin Scope = "admin"
)

// Includes reports whether a token of scope s may do what need allows.
func (s Scope) Includes(need Scope) bool { return s.rank() >= need.rank() && need.rank() > 0 }

func (s Scope) rank() int {
	switch s {
	case ScopeRead:
		return 1
	case ScopeDeploy:
		return 2
	case ScopeAdmin:
		return 3
	}
	return 0
}

// ParseScope checks a scope's name.
func ParseScope(s string) (Scope, error) {
	if sc := Scope(s); sc.rank() > 0 {
		return sc, nil
	}
	return "", Errorf(EINVALID, "Scope %q is not one of read, deploy, admin: give --scope read (reads everything but backups), deploy (reads, and deploys the apps it names) or admin (everything).", clip(s))
}

// The names of the two tokens the controller keeps outside the token
// store; no stored token may take them.
const (
	RootTokenName   = "root"   // LONGSHOREMAN_TOKEN or the generated API token: admin
	RouterTokenName = "router" // reads GET /routes and GET /router/certs only
)

// MaxTokens is how many tokens a store holds at most.
const MaxTokens = 200

// TokenPrefix starts every secret CreateToken's caller makes, so that a
// leaked one is recognizable (secret scanners, logs).
const TokenPrefix = "lst_"

// RecordToken is the record kind of API tokens: Key is the name.
const RecordToken = "tokens"

// APIToken is a named, scoped API token as the store keeps it: the hash of
// its secret, never the secret itself.
type APIToken struct {
	Name  string   `json:"name"`
	Scope Scope    `json:"scope"`
	Apps  []string `json:"apps,omitempty"` // the apps a deploy token may change and whose logs and envs it reads; none: all
	// Hash is the hex SHA-256 of the secret (HashToken).
	Hash     string    `json:"hash"`
	Created  time.Time `json:"created"`
	Expires  time.Time `json:"expires,omitzero"` // zero: never
	LastUsed time.Time `json:"last_used,omitzero"`
}

// Expired reports whether the token's expiry has passed at now.
func (t *APIToken) Expired(now time.Time) bool {
	return !t.Expires.IsZero() && !now.Before(t.Expires)
}

// HasApp reports whether the token may act on app: it names it, or names
// no app.
func (t *APIToken) HasApp(app string) bool {
	return len(t.Apps) == 0 || slices.Contains(t.Apps, app)
}

// Validate checks the name, scope and apps, sorting the apps and dropping
// repeats.
func (t *APIToken) Validate() error {
	if err := ValidateTokenName(t.Name); err != nil {
		return err
	}
	if _, err := ParseScope(string(t.Scope)); err != nil {
		return err
	}
	if t.Scope == ScopeAdmin && len(t.Apps) > 0 {
		return Errorf(EINVALID, "An admin token does everything to every app: give it no --app, or make a deploy token for those apps.")
	}
	for i, app := range t.Apps {
		t.Apps[i] = strings.ToLower(app)
		if err := ValidateAppName(t.Apps[i]); err != nil {
			return err
		}
	}
	slices.Sort(t.Apps)
	t.Apps = slices.Compact(t.Apps)
	if len(t.Hash) != 2*sha256.Size {
		return Errorf(EINVALID, "A token's hash must be the hex SHA-256 of its secret.")
	}
	return nil
}

// ValidateTokenName checks a token's name: 1 to 63 lower-case letters,
// digits, '-' or '_', and not root or router.
func ValidateTokenName(name string) error {
	if name == RootTokenName || name == RouterTokenName {
		return Errorf(EINVALID, "The token name %q is reserved (the controller's own %s token): choose another, such as ci.", name, name)
	}
	if name == "" || len(name) > 63 || strings.Trim(name, "abcdefghijklmnopqrstuvwxyz0123456789-_") != "" {
		return Errorf(EINVALID, "Token name %q is not valid: use 1 to 63 lower-case letters, digits, '-' or '_', such as ci or deploy-bot.", clip(name))
	}
	return nil
}

// NewTokenSecret returns a new secret: TokenPrefix and 32 random bytes in
// hex.
func NewTokenSecret() (string, error) {
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", err
	}
	return TokenPrefix + hex.EncodeToString(b[:]), nil
}

// HashToken returns the hex SHA-256 of a secret, as APIToken.Hash holds it.
func HashToken(secret string) string {
	sum := sha256.Sum256([]byte(secret))
	return hex.EncodeToString(sum[:])
}

// ParseLifetime reads a token's lifetime: a number of days ("90d") or a Go
// duration ("36h", "30m"); "" is forever (zero).
func ParseLifetime(s string) (time.Duration, error) {
	if s == "" {
		return 0, nil
	}
	var d time.Duration
	var err error
	if days, ok := strings.CutSuffix(s, "d"); ok {
		var n int
		n, err = strconv.Atoi(days)
		d = time.Duration(n) * 24 * time.Hour
		if n > 36500 {
			err = strconv.ErrRange
		}
	} else {
		d, err = time.ParseDuration(s)
	}
	if err != nil || d <= 0 {
		return 0, Errorf(EINVALID, "Expiry %q is not a lifetime: give a number of days such as 90d, or hours such as 36h (none: the token never expires).", clip(s))
	}
	return d, nil
}

// SortTokens sorts tokens by name.
func SortTokens(ts []APIToken) {
	slices.SortFunc(ts, func(a, b APIToken) int { return strings.Compare(a.Name, b.Name) })
}

// FindTokenByHash returns the token of tokens whose Hash is hash,
// comparing in constant time; ENOTFOUND for none.
func FindTokenByHash(tokens []APIToken, hash string) (*APIToken, error) {
	var found *APIToken
	for i := range tokens {
		if subtle.ConstantTimeCompare([]byte(tokens[i].Hash), []byte(hash)) == 1 {
			found = &tokens[i]
		}
	}
	if found == nil {
		return nil, Errorf(ENOTFOUND, "No token has that secret.")
	}
	return found, nil
}

// Operations on tokens a Fix may name (see Ops); ArgName is a token's
// name.
const (
	OpTokens      = "tokens"
	OpRemoveToken = "tokens:rm"
	ArgName       = "name"
)

func init() { Ops = append(Ops, OpTokens, OpRemoveToken) }

// TokenTaken is CreateToken's error for a name in use.
func TokenTaken(name string) error {
	return Errorf(ECONFLICT, "A token named %s exists", name).WithFix("choose another name, or remove that one first with", OpRemoveToken, ArgName, name)
}

// TooManyTokens is CreateToken's error past MaxTokens.
func TooManyTokens() error {
	return Errorf(EINVALID, "There are %d tokens already, the most a cluster keeps: remove those no longer used", MaxTokens).WithFix("see each one's last use with", OpTokens)
}

// NoToken is the error for a token name the store does not hold.
func NoToken(name string) error {
	return Errorf(ENOTFOUND, "No token is named %s", name).WithFix("list them with", OpTokens)
}
