package cli

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/longshoreman/longshoreman/cluster"
)

// runEvents follows GET /events until interrupted: one line per event, or
// the raw JSON with --json. A stream that ends (the controller restarts,
// or dropped this client for reading too slowly) is opened again, resuming
// after the last event printed.
func runEvents(ctx context.Context, c *Call) error {
	cl, err := c.Client()
	if err != nil {
		return err
	}
	path := "/events"
	if c.App != "" {
		path += "?app=" + url.QueryEscape(c.App)
	}
	asJSON := c.Bool("json")
	var last string
	backoff := time.Second
	for attempt := 0; ; attempt++ {
		r := request{method: "GET", path: path, accept: "text/event-stream", long: true}
		resp, cancel, err := cl.sendAfter(ctx, r, last)
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			if attempt == 0 {
				return err
			}
			fmt.Fprintf(c.Stderr, "Reconnecting to %s in %s: %v\n", cl.URL, backoff, err)
		} else {
			if resp.StatusCode != http.StatusOK {
				b, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
				resp.Body.Close()
				cancel()
				if err := cl.answerError(resp.StatusCode, b); err != nil {
					return err
				}
				return fmt.Errorf("the controller at %s answered GET /events with %d", cl.URL, resp.StatusCode)
			}
			if attempt == 0 {
				fmt.Fprintf(c.Stderr, "Following the events of %s (Ctrl-C to stop).\n", cl.URL)
			}
			backoff = time.Second
			last, err = readEvents(resp.Body, last, func(e cluster.Event, data string) {
				if asJSON {
					fmt.Fprintln(c.Stdout, data)
				} else {
					fmt.Fprintln(c.Stdout, FormatEvent(e))
				}
			})
			resp.Body.Close()
			cancel()
			if ctx.Err() != nil {
				return nil
			}
			if errors.Is(err, errDropped) {
				fmt.Fprintln(c.Stderr, "The controller dropped this stream because it read too slowly; resuming.")
			} else {
				fmt.Fprintf(c.Stderr, "The event stream of %s ended; reconnecting in %s.\n", cl.URL, backoff)
			}
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(backoff):
		}
		backoff = min(backoff*2, 30*time.Second)
	}
}

var errDropped = errors.New("dropped")

// readEvents reads Server-Sent Events from r, calling each with every
// event and its JSON, and returns the id of the last one.
func readEvents(r io.Reader, last string, each func(cluster.Event, string)) (string, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 4<<20)
	var typ, id string
	var data []string
	for sc.Scan() {
		line := sc.Text()
		if line == "" {
			if len(data) > 0 {
				joined := strings.Join(data, "\n")
				if typ == "dropped" {
					return last, errDropped
				}
				var e cluster.Event
				if err := json.Unmarshal([]byte(joined), &e); err == nil {
					each(e, joined)
				}
				if id != "" {
					last = id
				}
			}
			typ, id, data = "", "", nil
			continue
		}
		if strings.HasPrefix(line, ":") {
			continue
		}
		field, value, _ := strings.Cut(line, ":")
		value = strings.TrimPrefix(value, " ")
		switch field {
		case "event":
			typ = value
		case "id":
			id = value
		case "data":
			data = append(data, value)
		}
	}
	return last, sc.Err()
}

// FormatEvent is one event as events prints it: the time, the kind, the
// app and revision, the step, where, and the message.
func FormatEvent(e cluster.Event) string {
	parts := []string{e.Time.Local().Format("15:04:05"), fmt.Sprintf("%-8s", e.Type)}
	if e.App != "" {
		parts = append(parts, e.App)
	}
	if e.Revision != 0 {
		parts = append(parts, fmt.Sprintf("r%d", e.Revision))
	}
	parts = append(parts, e.Step)
	switch {
	case e.Instance != "":
		parts = append(parts, e.Instance)
	case e.Host != "":
		parts = append(parts, e.Host)
	}
	line := strings.Join(parts, " ")
	if e.Message != "" {
		line += ": " + e.Message
	}
	return line
}
