package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/longshoreman/longshoreman/cluster"
	"github.com/longshoreman/longshoreman/db"
)

// TokenCommand prints the API token stored in a data file.
type TokenCommand struct {
	Stdout io.Writer
}

// Run parses --db and prints the token.
func (c *TokenCommand) Run(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("longshoreman token", flag.ContinueOnError)
	path := fs.String("db", envOr(os.Getenv, "LONGSHOREMAN_DB", "longshoreman.db"), "the controller's data file")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "Print the API token that the controller generated and stored in its data file.\n\nUsage: longshoreman token [--db FILE]\n\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return err
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
func readToken(path string) (string, error) {
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
	return d.Token()
}

func copyToTemp(path string) (string, error) {
	src, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer src.Close()
	dst, err := os.CreateTemp("", "longshoreman-token-*.db")
	if err != nil {
		return "", err
	}
	defer dst.Close()
	if _, err := io.Copy(dst, src); err != nil {
		os.Remove(dst.Name())
		return "", err
	}
	return dst.Name(), nil
}
