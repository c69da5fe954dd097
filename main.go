// Command longshoreman runs the controller (serve), an HTTP router
// (router), and the command-line client of the controller's API. This
// file only dispatches: each command's wiring is in package command (one
// file per command), the client's verbs in package cli.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/longshoreman/longshoreman/cli"
	"github.com/longshoreman/longshoreman/command"

	// The controller's image is FROM scratch, with no CA bundle: these
	// roots (Mozilla's, as Go's fallback) are used when the system has
	// none, so the controller can reach a public ACME CA such as Let's
	// Encrypt. A system bundle, where there is one, takes precedence.
	_ "golang.org/x/crypto/x509roots/fallback"
)

func main() {
	ctx, stop := signalContext(os.Stderr)
	err := Main(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	stop()
	var exit interface {
		ExitCode() int
		Silent() bool
	}
	if err == flag.ErrHelp {
		os.Exit(2)
	} else if errors.As(err, &exit) {
		// A one-off task's exit code, passed on.
		if !exit.Silent() {
			fmt.Fprintln(os.Stderr, "longshoreman:", command.ErrorText(err))
		}
		os.Exit(exit.ExitCode())
	} else if err != nil {
		fmt.Fprintln(os.Stderr, "longshoreman:", command.ErrorText(err))
		os.Exit(1)
	}
}

// signalContext returns a context that ends at the first SIGINT or SIGTERM,
// so that commands shut down gracefully; a second one exits at once, for
// when the graceful part takes longer than the person wants to wait.
func signalContext(stderr io.Writer) (context.Context, func()) {
	ctx, cancel := context.WithCancel(context.Background())
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM)
	done := make(chan struct{})
	go func() {
		select {
		case <-sigs:
		case <-done:
			return
		}
		cancel()
		select {
		case sig := <-sigs:
			fmt.Fprintf(stderr, "longshoreman: second signal (%v): exiting now without waiting for requests in flight\n", sig)
			os.Exit(1)
		case <-done:
		}
	}()
	return ctx, func() {
		signal.Stop(sigs)
		close(done)
		cancel()
	}
}

// Main runs the subcommand named by args[0].
func Main(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	name := ""
	if len(args) > 0 {
		name, args = args[0], args[1:]
	}
	switch name {
	case "serve":
		return (&command.ServeCommand{Stderr: stderr, Getenv: os.Getenv}).Run(ctx, args)
	case "router":
		return (&command.RouterCommand{Stderr: stderr, Getenv: os.Getenv}).Run(ctx, args)
	case "token":
		return (&command.TokenCommand{Stdout: stdout, Stderr: stderr, Getenv: os.Getenv}).Run(ctx, args)
	case "migrate":
		return (&command.MigrateCommand{Stdout: stdout, Getenv: os.Getenv}).Run(ctx, args)
	case "restore":
		return (&command.RestoreCommand{Stdout: stdout, Getenv: os.Getenv}).Run(ctx, args)
	case "", "help", "-h", "--help":
		// The client's part of the help is written from its commands'
		// declarations.
		fmt.Fprint(stdout, usage, "\nCOMMAND is one of:\n\n", cli.CommandList(), "\n", cli.SharedOptions())
		if name == "" {
			return flag.ErrHelp
		}
		return nil
	default:
		// name may be a shared option such as --app rather than the verb.
		return cli.Main(ctx, append([]string{name}, args...), stdin, stdout, stderr, os.Getenv)
	}
}

const usage = `longshoreman runs Docker apps on a small cluster of hosts and tells HTTP routers where they run.

Usage:
  longshoreman serve [flags]        run the controller (HTTP API on --port, data in --db)
  longshoreman router [flags]       run an HTTP router fed by the controller over Redis
  longshoreman token [--db FILE]    print the controller's API token (--routes-key: the routers' key)
  longshoreman migrate FROM TO      copy every record between a data file and an etcd prefix
  longshoreman restore BACKUP TO    restore a backup into a data file or an etcd prefix, keeping TO's keys
  longshoreman COMMAND [args]       talk to a controller: run "longshoreman commands" for the list

Run "longshoreman serve -h" (or any command with -h) for its flags.
`
