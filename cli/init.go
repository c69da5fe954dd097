package cli

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	api "github.com/longshoreman/longshoreman/http"
)

// DefaultController is what init offers when nothing is configured.
const DefaultController = "http://127.0.0.1:3000"

// runInit asks for the URL and token (unless given with --controller and
// --token), writes ~/.longshoreman.json, and checks that they work.
func runInit(ctx context.Context, c *Call) error {
	path, err := configPath(c.Getenv)
	if err != nil {
		return err
	}
	old, err := readConfig(path)
	if err != nil {
		old = Config{} // init is how a broken file gets fixed
	}
	in := bufio.NewReader(c.Stdin)
	cfg := Config{Controller: c.Controller, Token: c.Token}
	if cfg.Controller == "" {
		def := old.Controller
		if def == "" {
			def = DefaultController
		}
		fmt.Fprintf(c.Stderr, "Controller URL [%s]: ", def)
		cfg.Controller = answer(in, def)
	}
	u, err := normalizeURL(cfg.Controller)
	if err != nil {
		return fmt.Errorf("controller URL %q is not valid: %v", cfg.Controller, err)
	}
	cfg.Controller = u
	if cfg.Token == "" {
		hint := "longshoreman token --db FILE prints it on the controller's machine"
		if old.Token != "" {
			hint = "Enter keeps the saved one"
		}
		fmt.Fprintf(c.Stderr, "API token (%s): ", hint)
		cfg.Token = answer(in, old.Token)
	}
	if cfg.Token == "" {
		return fmt.Errorf("a token is needed: longshoreman token --db FILE prints it on the controller's machine")
	}
	if err := writeConfig(path, cfg); err != nil {
		return err
	}
	fmt.Fprintf(c.Stdout, "Saved %s.\n", path)

	// Check the pair now rather than at the first real command.
	check := &Env{Stdout: c.Stdout, Stderr: c.Stderr, Getenv: func(string) string { return "" }, Controller: cfg.Controller, Token: cfg.Token}
	cl, err := check.Client()
	if err == nil {
		var out api.AppsResponse
		if err = cl.do(ctx, request{method: "GET", path: "/apps"}, &out); err == nil {
			fmt.Fprintf(c.Stdout, "The controller at %s answers: %d %s.\n", cl.URL, len(out.Apps), plural(len(out.Apps), "app", "apps"))
			return nil
		}
	}
	fmt.Fprintf(c.Stderr, "warning: %v\n", err)
	return nil
}

// answer reads one line; an empty line (or end of input) gives def.
func answer(in *bufio.Reader, def string) string {
	line, _ := in.ReadString('\n')
	if line = strings.TrimSpace(line); line != "" {
		return line
	}
	return def
}

// writeConfig writes the file atomically, readable by its owner only since
// it holds the token.
func writeConfig(path string, cfg Config) error {
	b, err := json.MarshalIndent(cfg, "", "  ")
	if err != nil {
		return err
	}
	return writeFileAtomic(path, 0o600, func(w io.Writer) error {
		_, err := w.Write(append(b, '\n'))
		return err
	})
}

// writeFileAtomic has write fill a temporary file beside path, then
// renames it over path, so readers see the old file or the new one, never
// part of it. An error from write leaves path untouched and is returned as
// it is.
func writeFileAtomic(path string, mode os.FileMode, write func(io.Writer) error) error {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return fmt.Errorf("cannot write %s: %v", path, err)
	}
	defer os.Remove(f.Name()) // after a successful rename there is nothing to remove
	if err := write(f); err != nil {
		f.Close()
		return err
	}
	if err := f.Chmod(mode); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := os.Rename(f.Name(), path); err != nil {
		return fmt.Errorf("cannot write %s: %v", path, err)
	}
	return nil
}
