package cli

import (
	"context"
	"encoding/csv"
	"flag"
	"fmt"
	"sort"
	"strings"
)

// description is one app in GET /describe.
type description struct {
	Image     string
	Revision  int
	Count     int
	Port      int
	Instances []string
	Envs      []string
}

// describeAll fetches GET /describe.
func (e *Env) describeAll(ctx context.Context) (map[string]description, []string, error) {
	cl, err := e.Client()
	if err != nil {
		return nil, nil, err
	}
	var out struct{ Description map[string]description }
	if err := cl.do(ctx, request{method: "GET", path: "/describe"}, &out); err != nil {
		return nil, nil, err
	}
	names := make([]string, 0, len(out.Description))
	for n := range out.Description {
		names = append(names, n)
	}
	sort.Strings(names)
	return out.Description, names, nil
}

// DescribeCommand shows every app (or the --app one).
type DescribeCommand struct{ *Env }

// Run prints a table, or CSV with --csv.
func (c *DescribeCommand) Run(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("describe", flag.ContinueOnError)
	asCSV := fs.Bool("csv", false, "")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if err := needArgs("describe", pos, 0, 0, "no arguments (name one app with --app)"); err != nil {
		return err
	}
	desc, names, err := c.describeAll(ctx)
	if err != nil {
		return err
	}
	if c.App != "" {
		if _, ok := desc[c.App]; !ok {
			return fmt.Errorf("app %s is unknown: list the apps with longshoreman apps", c.App)
		}
		names = []string{c.App}
	}
	if *asCSV {
		w := csv.NewWriter(c.Stdout)
		w.Write([]string{"app", "revision", "image", "count", "port", "instances", "envs"})
		for _, n := range names {
			d := desc[n]
			w.Write([]string{n, fmt.Sprint(d.Revision), d.Image, fmt.Sprint(d.Count), portOrDefault(d.Port), strings.Join(d.Instances, " "), strings.Join(d.Envs, "\n")})
		}
		w.Flush()
		return w.Error()
	}
	if len(names) == 0 {
		fmt.Fprintln(c.Stderr, "No apps yet: deploy one with longshoreman --app APP deploy IMAGE.")
		return nil
	}
	tw := newTable(c.Stdout)
	fmt.Fprintln(tw, "APP\tREVISION\tIMAGE\tPORT\tROUTED\tINSTANCES\tENVS")
	for _, n := range names {
		d := desc[n]
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d/%d\t%s\t%s\n", n, revOrNone(d.Revision), orNone(d.Image), portOrDefault(d.Port),
			len(d.Instances), d.Count, orNone(strings.Join(d.Instances, ",")), orNone(envKeys(d.Envs)))
	}
	return tw.Flush()
}

func revOrNone(n int) string {
	if n == 0 {
		return "-"
	}
	return fmt.Sprint(n)
}

func portOrDefault(p int) string {
	if p == 0 {
		return "3000"
	}
	return fmt.Sprint(p)
}

// Usage describes describe.
func (c *DescribeCommand) Usage() string {
	return `Describe every app (or only the one named with --app): its current
revision and image, its container port, routed/desired instances, their
addresses, and its env keys. With --csv, one CSV row per app with the env
values too (instances separated by spaces, envs by newlines).

Usage: longshoreman describe [--csv]
`
}
