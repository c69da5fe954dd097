package command

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/longshoreman/longshoreman/cluster"
	"github.com/longshoreman/longshoreman/db"
)

// TokenConfig is the configuration of `longshoreman token`.
type TokenConfig struct {
	DB        string // --db, LONGSHOREMAN_DB: the controller's data file
	RoutesKey bool   // --routes-key: print the routes key, not the API token
	Router    bool   // --router: print the router token, making it if there is none
}

const tokenAbout = `Print the API token that the controller generated and stored in its data file,
or with --routes-key the key that signs the routing tables, or with --router the
router token (the routers' LONGSHOREMAN_ROUTER_TOKEN: it reads routes and certificates only).
The API token is stored encrypted: it needs the key of the data file's secrets, from
LONGSHOREMAN_SECRETS_KEY or else the key file <db>.key beside the data file.

Usage: longshoreman token [--routes-key | --router] [--db FILE]

`

// LoadTokenConfig reads the environment (getenv), then the flags in args,
// and validates the result.
func LoadTokenConfig(args []string, getenv func(string) string, output io.Writer) (TokenConfig, error) {
	c := TokenConfig{DB: "longshoreman.db"}
	l := newLoader("longshoreman token", tokenAbout, getenv, output)
	l.String(&c.DB, setting{setDB.flag, setDB.env, "the controller's data file"})
	l.Bool(&c.RoutesKey, setPrintRoutesKey)
	l.Bool(&c.Router, setPrintRouterToken)
	if err := l.parse(args); err != nil {
		return c, err
	}
	return c, c.Validate()
}

// Validate refuses an empty data file path.
func (c TokenConfig) Validate() error {
	var p problems
	if c.DB == "" {
		p.add(setDB, "is empty: give the path of the controller's data file")
	}
	if c.RoutesKey && c.Router {
		p.add(setPrintRouterToken, "and %s print different secrets: give one of them", setPrintRoutesKey)
	}
	return p.err()
}

// TokenCommand prints the API token, or the routes key, stored in a data
// file.
type TokenCommand struct {
	Stdout io.Writer
	Stderr io.Writer           // usage and flag errors; nil: os.Stderr
	Getenv func(string) string // nil: os.Getenv
}

// Run loads the configuration and prints the token or the routes key.
func (c *TokenCommand) Run(ctx context.Context, args []string) error {
	stderr := c.Stderr
	if stderr == nil {
		stderr = os.Stderr
	}
	cfg, err := LoadTokenConfig(args, c.Getenv, stderr)
	if err != nil {
		return err
	}
	read, missing := (*db.DB).Token, "no token: the controller generates one at its first start unless LONGSHOREMAN_TOKEN is set."
	if cfg.RoutesKey {
		read, missing = (*db.DB).RoutesKey, "no routes key: the controller generates one at its start unless LONGSHOREMAN_ROUTES_KEY is set, and then the routers need that value."
	}
	if cfg.Router {
		read, missing = (*db.DB).RouterToken, "no router token: the controller makes one at its start; start it once, or stop it and run this again."
	}
	getenv := c.Getenv
	if getenv == nil {
		getenv = os.Getenv
	}
	secret, err := readSecret(cfg.DB, getenv(cluster.SecretsKeyVar), read)
	if err != nil {
		return err
	}
	if secret == "" && cfg.Router {
		// No controller made one yet: make it, unless a controller holds
		// the file (it then made one at its start, which the copy missed).
		if d, err := db.Open(cfg.DB, db.Options{Timeout: 300 * time.Millisecond, SecretsKey: getenv(cluster.SecretsKeyVar)}); err == nil {
			secret, _, err = d.EnsureRouterToken()
			if cerr := d.Close(); err == nil {
				err = cerr
			}
			if err != nil {
				return err
			}
		}
	}
	if secret == "" {
		return cluster.Errorf(cluster.ENOTFOUND, "Data file %s holds %s", cfg.DB, missing)
	}
	fmt.Fprintln(c.Stdout, secret)
	return nil
}

// ReadToken reads the token from the data file, which holds it sealed:
// secretsKey is LONGSHOREMAN_SECRETS_KEY ("": the key file beside the data
// file). A running controller holds the file's lock, so then it reads a
// copy: the token is written once, at the first start, so a copy taken at
// any moment has it.
func ReadToken(path, secretsKey string) (string, error) {
	return readSecret(path, secretsKey, (*db.DB).Token)
}

// readSecret reads one value from the data file, from a copy when a running
// controller holds its lock (the values read are written once, at a start).
// The keys are secretsKey, else those of the key file beside the data file
// (also for the copy, which has none beside it); a value sealed with a key
// they do not hold is refused naming where to give it.
func readSecret(path, secretsKey string, read func(*db.DB) (string, error)) (string, error) {
	if strings.TrimSpace(secretsKey) == "" {
		if b, err := os.ReadFile(db.KeyFile(path)); err == nil {
			secretsKey = string(b)
		}
	}
	d, err := db.Open(path, db.Options{ReadOnly: true, Timeout: 300 * time.Millisecond, SecretsKey: secretsKey})
	if cluster.ErrorCode(err) == cluster.ECONFLICT {
		tmp, cerr := copyToTemp(path)
		if cerr != nil {
			return "", cerr
		}
		defer os.Remove(tmp)
		d, err = db.Open(tmp, db.Options{ReadOnly: true, SecretsKey: secretsKey})
	}
	if err != nil {
		return "", err
	}
	defer d.Close()
	v, err := read(d)
	if missing := (*cluster.KeyMissingError)(nil); errors.As(err, &missing) {
		return "", cluster.Errorf(cluster.EINVALID, "Data file %s holds the API token encrypted with key id %s, which neither %s nor %s holds: "+
			"give that key in %s (or restore %s from where you keep a copy).", path, missing.ID, cluster.SecretsKeyVar, db.KeyFile(path), cluster.SecretsKeyVar, db.KeyFile(path))
	}
	return v, err
}

func copyToTemp(path string) (string, error) {
	src, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer src.Close()
	dst, err := os.CreateTemp("", "longshoreman-token-*.db")
	if err != nil {
		// No usable temp directory (a FROM scratch image has no /tmp): the
		// data file's own directory.
		if dst, err = os.CreateTemp(filepath.Dir(path), ".longshoreman-token-*.db"); err != nil {
			return "", err
		}
	}
	defer dst.Close()
	if _, err := io.Copy(dst, src); err != nil {
		os.Remove(dst.Name())
		return "", err
	}
	return dst.Name(), nil
}
