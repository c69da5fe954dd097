package cli

import (
	"context"
	"fmt"
	"hash/fnv"
	"io"
	"net/url"
	"os"
	"strings"

	api "github.com/longshoreman/longshoreman/http"
)

// runLogs prints the last lines of every instance, each prefixed with it;
// with --follow, it then prints every new line until interrupted.
func runLogs(ctx context.Context, c *Call) error {
	cl, err := c.Client()
	if err != nil {
		return err
	}
	q := url.Values{}
	if v := c.String("tail"); v != "" {
		q.Set("tail", v)
	}
	if v := c.String("since"); v != "" {
		q.Set("since", v)
	}
	follow := c.Bool("follow")
	if follow {
		q.Set("follow", "true")
	}
	path := appPath(c.App, "logs")
	if len(q) > 0 {
		path += "?" + q.Encode()
	}
	p := newLogPrinter(c.Stdout, c.Getenv)
	if !follow {
		var out api.LogsResponse
		if err := cl.do(ctx, request{method: "GET", path: path, limit: 2 * ReadTimeout}, &out); err != nil {
			return err
		}
		for _, l := range out.Logs {
			instance, text, _ := strings.Cut(l, " ")
			p.print(instance, text)
		}
		return nil
	}
	return followLogs(ctx, cl, path, p)
}

// followLogs prints the lines of a follow stream as they come, until the
// stream ends or ctx does (the user interrupted: not an error).
func followLogs(ctx context.Context, cl *Client, path string, p *logPrinter) error {
	resp, cancel, _, err := cl.openStream(ctx, request{method: "GET", path: path})
	if err != nil {
		if ctx.Err() != nil {
			return nil
		}
		return err
	}
	if resp == nil {
		return fmt.Errorf("the controller at %s answered the log stream without streaming it: is it older than this client?", cl.URL)
	}
	defer cancel()
	defer resp.Body.Close()
	type logLine struct {
		api.LogLine
		Status int `json:"status"`
	}
	done, err := eachLine(cl, resp.Body, "a log line", func(l logLine, b []byte) (bool, error) {
		switch {
		case l.Instance == "" && l.Error != "": // the stream's end, with why
			return true, say(api.ParseError(l.Status, b))
		case l.Error != "":
			p.print(l.Instance, "("+l.Error+")")
		default:
			p.print(l.Instance, l.Line)
		}
		return false, nil
	})
	if done {
		return err
	}
	if ctx.Err() != nil {
		return nil
	}
	if err != nil {
		return fmt.Errorf("the connection to %s broke (%v): run longshoreman logs -f again", cl.URL, err)
	}
	return fmt.Errorf("the controller at %s ended the log stream (it is shutting down, or no longer leads): run longshoreman logs -f again", cl.URL)
}

// logPrinter prints log lines prefixed with their instance, the prefix in
// a colour of the instance's own when the output is a terminal.
type logPrinter struct {
	w      io.Writer
	colour bool
}

func newLogPrinter(w io.Writer, getenv func(string) string) *logPrinter {
	return &logPrinter{w: w, colour: isTerminal(w) && getenv("NO_COLOR") == ""}
}

func (p *logPrinter) print(instance, text string) {
	if p.colour && instance != "" {
		instance = instanceColour(instance) + instance + "\x1b[0m"
	}
	fmt.Fprintln(p.w, instance+" "+text)
}

// instanceColours are ANSI foreground colours that read on dark and light
// backgrounds alike.
var instanceColours = []string{"\x1b[36m", "\x1b[33m", "\x1b[32m", "\x1b[35m", "\x1b[34m", "\x1b[31m", "\x1b[96m", "\x1b[93m", "\x1b[92m", "\x1b[95m"}

// instanceColour returns the instance's colour: the same for an address in
// every run, so a reader learns it.
func instanceColour(instance string) string {
	h := fnv.New32a()
	h.Write([]byte(instance))
	return instanceColours[h.Sum32()%uint32(len(instanceColours))]
}

// isTerminal reports whether w is a character device such as a terminal.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}
