package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/longshoreman/longshoreman/cluster"
	"github.com/longshoreman/longshoreman/db"
)

// TokenCommand prints the API token, or the routes key, stored in a data
// file.
type TokenCommand struct {
	Stdout io.Writer
}

// Run parses --db and prints the token.
func (c *TokenCommand) Run(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("longshoreman token", flag.ContinueOnError)
	path := fs.String("db", envOr(os.Getenv, "LONGSHOREMAN_DB", "longshoreman.db"), "the controller's data file")
	routesKey := fs.Bool("routes-key", false, "print the routes key that signs the routing tables (the routers' LONGSHOREMAN_ROUTES_KEY) instead of the API token")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "Print the API token that the controller generated and stored in its data file,\nor with --routes-key the key that signs the routing tables.\n\nUsage: longshoreman token [--routes-key] [--db FILE]\n\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *routesKey {
		key, err := readSecret(*path, (*db.DB).RoutesKey)
		if err != nil {
			return err
		}
		if key == "" {
			return cluster.Errorf(cluster.ENOTFOUND, "Data file %s holds no routes key: the controller generates one at its start unless LONGSHOREMAN_ROUTES_KEY is set, and then the routers need that value.", *path)
		}
		fmt.Fprintln(c.Stdout, key)
		return nil
	}
	token, err := readToken(*path)
	if err != nil {
		return err
	}
	if token == "" {
		return cluster.Errorf(cluster.ENOTFOUND, "Data file %s holds no token: the controller generates one at its first start unless LONGSHOREMAN_TOKEN is set.", *path)
	}
	fmt.Fprintln(c.Stdout, token)
	return nil
}

// readToken reads the token from the data file. A running controller holds
// the file's lock, so then it reads a copy: the token is written once, at
// the first start, so a copy taken at any moment has it.
func readToken(path string) (string, error) { return readSecret(path, (*db.DB).Token) }

// readSecret reads one value from the data file, from a copy when a running
// controller holds its lock (the values read are written once, at a start).
func readSecret(path string, read func(*db.DB) (string, error)) (string, error) {
	d, err := db.Open(path, db.Options{ReadOnly: true, Timeout: 300 * time.Millisecond})
	if cluster.ErrorCode(err) == cluster.ECONFLICT {
		tmp, cerr := copyToTemp(path)
		if cerr != nil {
			return "", cerr
		}
		defer os.Remove(tmp)
		d, err = db.Open(tmp, db.Options{ReadOnly: true})
	}
	if err != nil {
		return "", err
	}
	defer d.Close()
	return read(d)
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
