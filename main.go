// Command longshoreman runs the controller (serve), an HTTP router
// (router), and the command-line client of the controller's API.
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

	"github.com/longshoreman/longshoreman/cluster"
)

// Command is one subcommand, in the style of litestream's cmd/.
type Command interface {
	Run(ctx context.Context, args []string) error
}

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
			fmt.Fprintln(os.Stderr, "longshoreman:", errorText(err))
		}
		os.Exit(exit.ExitCode())
	} else if err != nil {
		fmt.Fprintln(os.Stderr, "longshoreman:", errorText(err))
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
		return (&ServeCommand{Stderr: stderr, Getenv: os.Getenv}).Run(ctx, args)
	case "router":
		return (&RouterCommand{Stderr: stderr, Getenv: os.Getenv}).Run(ctx, args)
	case "token":
		return (&TokenCommand{Stdout: stdout, Stderr: stderr, Getenv: os.Getenv}).Run(ctx, args)
	case "migrate":
		return (&MigrateCommand{Stdout: stdout, Getenv: os.Getenv}).Run(ctx, args)
	case "restore":
		return (&RestoreCommand{Stdout: stdout, Getenv: os.Getenv}).Run(ctx, args)
	case "", "help", "-h", "--help":
		fmt.Fprint(stdout, usage, clientUsage())
		if name == "" {
			return flag.ErrHelp
		}
		return nil
	default:
		return runCLI(ctx, name, args, stdin, stdout, stderr)
	}
}

// errorText is what a person sees of an error: the message of a
// *cluster.Error, or the error's own text.
func errorText(err error) string {
	var e *cluster.Error
	if errors.As(err, &e) {
		return e.Message
	}
	return err.Error()
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
