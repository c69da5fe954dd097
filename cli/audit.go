package cli

import (
	"context"
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/longshoreman/longshoreman/cluster"
	api "github.com/longshoreman/longshoreman/http"
)

// auditCommand lists the audit log (GET /audit).
var auditCommand = &Command{Name: "audit", Group: groupData, Run: runAudit, App: OptionalApp,
	Flags: []Flag{
		{Name: "by", Value: "TOKEN", Help: "only the changes asked with this token (its name: root, router, ...)"},
		{Name: "since", Value: "WHEN", Help: "only the changes since WHEN: a duration before now (10m, 1h) or an RFC 3339 time"},
		{Name: "limit", Value: "N", Int: true, Help: fmt.Sprintf("list at most N entries, 1 to %d", cluster.MaxAuditLimit),
			Default: strconv.Itoa(cluster.DefaultAuditLimit)},
	},
	Summary: "list who changed what, newest first",
	Help: `List the audit log, newest first: every change asked of the API (deploys,
env changes, scales, hosts, registries, certificates, tasks run, backups
taken, ...) and every request refused for its token's scope, with its time,
the name of the token that asked, the client's address, the operation (this
client's command name), the app, what it named (an env's key, never its
value) and how it ended. --app narrows it to one app, --by to one token.
The controller keeps LONGSHOREMAN_AUDIT_KEEP entries for at most
LONGSHOREMAN_AUDIT_MAX_AGE.`}

// runAudit prints the audit log's entries as a table.
func runAudit(ctx context.Context, c *Call) error {
	q := url.Values{}
	if c.App != "" {
		q.Set("app", c.App)
	}
	if v := c.String("by"); v != "" {
		q.Set("token", v)
	}
	if v := c.String("since"); v != "" {
		q.Set("since", v)
	}
	if n := c.Int("limit"); n != 0 {
		q.Set("limit", strconv.Itoa(n))
	}
	path := "/audit"
	if len(q) > 0 {
		path += "?" + q.Encode()
	}
	var out api.AuditResponse
	if err := c.get(ctx, path, &out); err != nil {
		return err
	}
	if len(out.Audit) == 0 {
		fmt.Fprintln(c.Stderr, "No change recorded matches.")
		return nil
	}
	tw := newTable(c.Stdout)
	fmt.Fprintln(tw, "TIME\tTOKEN\tSOURCE\tOPERATION\tAPP\tARGS\tOUTCOME")
	for _, e := range out.Audit {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", e.Time.Local().Format("2006-01-02 15:04:05"), orNone(e.Token), orNone(e.Source),
			e.Operation, orNone(e.App), orNone(auditArgs(e.Args)), auditOutcome(e))
	}
	return tw.Flush()
}

// auditArgs shows an entry's arguments as key=value, sorted by key.
func auditArgs(args map[string]string) string {
	keys := make([]string, 0, len(args))
	for k := range args {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for i, k := range keys {
		keys[i] = k + "=" + args[k]
	}
	return strings.Join(keys, " ")
}

// auditOutcome is "ok", or the status and the error's sentence on one line.
func auditOutcome(e cluster.AuditEntry) string {
	if e.Outcome == cluster.AuditOK {
		return e.Outcome
	}
	return strconv.Itoa(e.Status) + " " + oneLine(e.Outcome)
}
