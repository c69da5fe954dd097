package cli

import (
	"context"
	"encoding/csv"
	"fmt"
	"sort"
	"strings"

	"github.com/longshoreman/longshoreman/cluster"
	api "github.com/longshoreman/longshoreman/http"
)

// describeAll fetches GET /describe, and the app names sorted.
func (e *Env) describeAll(ctx context.Context) (map[string]api.AppDescription, []string, error) {
	var out api.DescribeResponse
	if err := e.get(ctx, "/describe", &out); err != nil {
		return nil, nil, err
	}
	names := make([]string, 0, len(out.Description))
	for n := range out.Description {
		names = append(names, n)
	}
	sort.Strings(names)
	return out.Description, names, nil
}

// runDescribe prints a table of every app (or the --app one), or CSV with
// --csv.
func runDescribe(ctx context.Context, c *Call) error {
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
	if c.Bool("csv") {
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
	if err := tw.Flush(); err != nil {
		return err
	}
	for _, n := range names {
		if m := desc[n].Maintenance; m != nil {
			fmt.Fprint(c.Stdout, maintenanceNote(m, n))
		}
		if cn := desc[n].Canary; cn != nil {
			fmt.Fprint(c.Stdout, canaryNote(cn, n))
		}
	}
	return nil
}

func revOrNone(n int) string {
	if n == 0 {
		return "-"
	}
	return fmt.Sprint(n)
}

func portOrDefault(p int) string {
	if p == 0 {
		p = cluster.DefaultPort
	}
	return fmt.Sprint(p)
}
