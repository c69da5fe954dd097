package cli

import (
	"context"
	"fmt"

	"github.com/longshoreman/longshoreman/cluster"
)

// Groups of commands, in the order the list shows them.
const (
	groupStart      = "Start"
	groupApps       = "Apps"
	groupDeploys    = "Deploys"
	groupEnvs       = "Env vars"
	groupHosts      = "Hosts"
	groupRegistries = "Registries"
	groupHTTPS      = "HTTPS"
	groupTokens     = "Tokens"
	groupData       = "Data"
	groupHelp       = "Help"
)

// commands is every verb, in the order the list shows them. It is filled
// in init because run functions refer back to it (for the list, and to
// say a fix as a command line).
var commands []*Command

func init() {
	commands = []*Command{
		{Name: "init", Group: groupStart, Run: runInit, Shared: []string{"controller", "token"},
			Summary: "ask for the controller URL and token and save them in ~/.longshoreman.json",
			Help: `Ask for the controller's URL and API token, save them in
~/.longshoreman.json (the 2014 CLI's format), and check that they work.
--controller and --token answer the questions without asking.
LONGSHOREMAN_URL and LONGSHOREMAN_TOKEN, when set, override the file.`},
		{Name: cluster.OpStatus, Group: groupStart, Run: runStatus,
			Summary: "hosts up or down, and each app's healthy/desired instances",
			Help: `Show the cluster at a glance: whether the controller's data file and
Redis are fine, each host up or down, and each app's healthy (routed)
instances against its desired count.`},
		{Name: "events", Group: groupStart, Run: runEvents, App: OptionalApp,
			Flags:   []Flag{{Name: "json", Help: "print each event as the JSON the API sends"}},
			Summary: "follow what happens in the cluster, live",
			Help: `Follow the cluster's events as they happen, one line each, until
interrupted: deploy steps, instances routed, unrouted, dead or killed for
memory, hosts down or up, revisions finished, one-off tasks, leadership
changes. --app narrows them to
one app (host and leadership events are kept). With --json, each event
is the JSON object GET /events sends.`},

		{Name: "top", Group: groupStart, Run: runTop,
			Flags:   []Flag{{Name: "once", Help: "print the table once and exit"}},
			Summary: "the apps by requests per second, live",
			Help: `Show the apps by requests per second over the last minute, busiest
first, with their requests, errors (5xx, 502 and 504 included), error
rate and p50, p95 and p99 latencies, as the routers count them; the table
is redrawn every 5 seconds until interrupted. With --once, it is printed
once. The figures come from GET /apps/:app/traffic?since=1m.`},

		{Name: cluster.OpApps, Group: groupApps, Run: runApps,
			Summary: "list the apps",
			Help:    `List the apps, one domain name a line.`},
		{Name: cluster.OpAddApp, Group: groupApps, Run: runAppsAdd,
			Args:    []Arg{{Name: "APP", What: "app name (a domain name such as shop.example.com)", Key: cluster.ArgApp, FromApp: true}},
			Summary: "add an app",
			Help: `Add an app. Adding an app that exists already does nothing.
APP is the domain name the routers serve it on, such as shop.example.com.`},
		{Name: cluster.OpRemoveApp, Group: groupApps, Run: runAppsRemove,
			Args:    []Arg{{Name: "APP", What: "app name", Key: cluster.ArgApp, FromApp: true}},
			Summary: "stop an app's instances and forget it",
			Help: `Remove an app: unroute and stop every instance of it, and forget its
envs and history.`},
		{Name: cluster.OpDescribe, Group: groupApps, Run: runDescribe, App: OptionalApp,
			Flags:   []Flag{{Name: "csv", Help: "one CSV row per app, with the env values"}},
			Summary: "every app with its image, instances and envs",
			Help: `Describe every app (or only the one named with --app): its current
revision and image, its container port, routed/desired instances, their
addresses, and its env keys. With --csv, one CSV row per app with the env
values too (instances separated by spaces, envs by newlines).`},

		{Name: "maintenance:on", Group: groupApps, Run: runMaintenanceOn, App: NeedsApp,
			Flags: []Flag{{Name: "message", Value: "TEXT", Help: "the text of the maintenance page",
				Default: fmt.Sprintf("%q", cluster.DefaultMaintenanceMessage)}},
			Summary: "answer the app's requests with a maintenance page (503)",
			Help: `Put the app in maintenance: every router answers its requests with 503,
Retry-After and a small page with --message (JSON to clients asking for
JSON), instead of passing them on. ACME challenges are still answered, the
instances keep running, and deploys, rollbacks and scales go on as usual.
The setting survives restarts and shows in describe and the dashboard.
Routers older than this release ignore it and keep serving the app.`},
		{Name: "maintenance:off", Group: groupApps, Run: runMaintenanceOff, App: NeedsApp,
			Summary: "serve the app's requests again after maintenance",
			Help:    `End the app's maintenance: the routers pass its requests on to its instances again.`},

		{Name: cluster.OpDeploy, Group: groupDeploys, Run: runDeploy, App: NeedsApp,
			Args: []Arg{{Name: "IMAGE", What: "image, such as registry.example.com/shop:1.4", Key: cluster.ArgImage}},
			Flags: []Flag{
				{Name: "count", Value: "N", Int: true, Key: cluster.ArgCount, Help: "instances to run",
					Default: fmt.Sprintf("the app's current count, else %d", cluster.DefaultCount)},
				{Name: "port", Value: "P", Int: true, Help: "the app's port in its container",
					Default: fmt.Sprintf("the app's current port, else %d", cluster.DefaultPort)},
				{Name: "healthcheck", Value: "PATH", Help: "the path polled until it answers 2xx",
					Default: "the app's current path, else " + cluster.DefaultHealthPath},
				{Name: "cmd", Value: "ARG", Many: true, Help: "one argument of the instances' command; --cmd '' alone: the image's CMD",
					Default: "the app's current command"},
				{Name: "release", Help: "the command after -- is the release command; --release -- alone: none",
					Default: "the app's current one"},
				{Name: "memory", Value: "SIZE", Help: "each instance's memory limit (256m, 1g; at least 6m), reserved on its host; none removes it",
					Default: "the app's current limit, else none"},
				{Name: "cpus", Value: "N", Help: "each instance's CPU limit in cores (0.5, 2); none removes it",
					Default: "the app's current limit, else none"},
				{Name: "batch", Value: "N", Int: true, Help: "replace N instances at a time, for this deploy",
					Default: "the app's batch setting, else all at once"},
				waitFlags[0], waitFlags[1],
				{Name: "volume", Value: "NAME:/path", Many: true, Help: "a Docker local volume on each pinned host, mounted at /path; --volume '' alone: none",
					Default: "the app's current volumes"},
				{Name: "host", Value: "ADDR", Many: true, Help: "run only on this host (needed with --volume: one instance per host); --host '' alone: any host",
					Default: "the app's current hosts, else any"},
				{Name: "hold", Value: "DURATION", Help: "how long routers hold requests while an app with volumes is replaced",
					Default: fmt.Sprintf("the app's current hold, else %s", cluster.DefaultHold)},
				{Name: "canary", Value: "PERCENT", Int: true, Help: "start the new revision as a canary beside the current one, taking PERCENT (1-99) of the requests, until promote or abort"},
				{Name: "canary-count", Value: "N", Int: true, Help: "the canary's instances", Default: fmt.Sprint(cluster.DefaultCanaryCount)},
				{Name: "canary-auto", Value: "DURATION", Help: "after DURATION (5m), promote the canary by itself, or abort it when its 5xx rate is above the current revision's by more than --canary-max-errors", Default: "never"},
				{Name: "canary-max-errors", Value: "POINTS", Help: "percentage points the canary's 5xx rate may exceed the current revision's when --canary-auto is up",
					Default: fmt.Sprint(cluster.DefaultCanaryMaxErrors)},
			},
			Rest: "CMD [ARG...]", RestOptional: true,
			Summary: "deploy an image",
			Help: `Deploy an image: start new instances, wait until they are healthy, route
them, then drain and stop the old ones. Progress is shown as it happens. If
a new instance fails, the old ones keep serving and the error says why.
Deploying an app that does not exist yet creates it. With --batch N (or
the app's batch, see settings) N instances are replaced at a time; when a
batch fails, the ones replaced before it are put back on the old revision.
When another change of the app is running, the deploy fails at once (409)
unless --wait: it then waits its turn behind it (first come, first served),
for at most --wait-timeout, and says what it waits for.

With --release -- CMD [ARG...], CMD runs once as a one-off task of the new
image with the new envs, after the pull and before any new instance starts
(and again at every env change); if it exits non-zero, the deploy fails with
its last output lines and nothing that serves is touched. Both --cmd and the
release command replace the image's CMD and keep its ENTRYPOINT, as
docker run IMAGE ARGS does; they are argument lists, not shell strings.

With --volume NAME:/path and --host ADDR, the app keeps data on its hosts:
each volume is a Docker local volume longshoreman-APP-NAME on every pinned
host, made on first use and kept across deploys, scales, rollbacks and
repairs (volumes:rm removes it). The app runs one instance per pinned host
and nowhere else; each deploy stops the old instance on a host before the
new one starts there, while the routers hold the app's requests (up to
--hold, then 503 with Retry-After), so no request fails in the gap.

With --canary PERCENT, the new revision's instances (--canary-count, default
1) start beside the current ones and the routers send PERCENT of the app's
clients to them; a client keeps its side (a cookie) for the canary's life.
The revision's status is canary until promote (the canary's revision
replaces the rest, as a deploy does) or abort (its instances go, every
request goes to the current revision). Deploys, rollbacks, scales and env
changes of the app wait for one or the other (409).`},
		{Name: cluster.OpPromote, Group: groupDeploys, Run: runPromote, App: NeedsApp,
			Summary: "make the app's canary its current revision",
			Help: `Promote the app's canary: its revision replaces the current revision's
instances, as a deploy does (the canary's instances are kept and count),
and every request goes to it. If a new instance fails, the canary keeps
running with its share.`},
		{Name: cluster.OpAbort, Group: groupDeploys, Run: runAbort, App: NeedsApp,
			Flags:   []Flag{{Name: "reason", Value: "TEXT", Help: "recorded in the history as why the canary failed", Default: "canary aborted"}},
			Summary: "remove the app's canary; every request goes to the current revision",
			Help: `Abort the app's canary: its instances leave the routing table, are drained
and stopped, and its revision is recorded as failed.`},
		{Name: cluster.OpRollback, Group: groupDeploys, Run: runRollback, App: NeedsApp,
			Args:    []Arg{{Name: "REVISION", What: "revision number", Key: cluster.ArgRevision, Optional: true}},
			Flags:   []Flag{{Name: "release", Help: "run the revision's release command first, as a deploy does"}, waitFlags[0], waitFlags[1]},
			Summary: "deploy an earlier revision again",
			Help: `Deploy an earlier revision again (its image, envs, command, port,
health check and limits) as a new revision, keeping the app's current count (the revision's
when the app is stopped). Without REVISION, the newest succeeded revision
before the current. The revision's release command runs only with --release.`},
		{Name: cluster.OpScale, Group: groupDeploys, Run: runScale, App: NeedsApp,
			Args:    []Arg{{Name: "N", What: "instance count", Key: cluster.ArgCount}},
			Flags:   waitFlags,
			Summary: "set the app's instance count",
			Help: `Set the number of instances of the app's current revision: new ones are
started and routed, or surplus ones drained and stopped.`},
		settingsCommand,
		volumesRemoveCommand,
		{Name: cluster.OpKill, Group: groupDeploys, Run: runKill, App: NeedsApp,
			Summary: "stop every instance of the app (its count becomes 0)",
			Help: `Stop every instance of the app: they are unrouted, then stopped. Its
count becomes 0; its image, envs and history stay.`},
		{Name: cluster.OpHistory, Group: groupDeploys, Run: runHistory, App: NeedsApp,
			Summary: "list the app's revisions, newest first",
			Help: `List the app's revisions, newest first: when, what image and envs (their
keys; longshoreman envs shows values), how many instances, their memory
and CPU limits, and the outcome, with the instances killed for memory (oom).
The current revision is marked with *. Roll back with longshoreman rollback.`},
		{Name: "run", Group: groupDeploys, Run: runTask, App: NeedsApp, Rest: "CMD [ARG...]",
			Flags: []Flag{{Name: "timeout", Value: "DURATION", Help: "kill the task when it runs longer",
				Default: cluster.DefaultTaskTimeout.String() + ", at most " + cluster.MaxTaskTimeout.String()}},
			Summary: "run a one-off command in a container of the app's current revision",
			Help: `Run a one-off task: one container of the app's current revision (its image
and envs) on the least loaded host, with CMD [ARG...] replacing the image's
CMD (its ENTRYPOINT stays, as docker run IMAGE ARGS does). Its output is
printed as it comes, and the command exits with the task's exit code (124
when it ran past --timeout and was killed). The container is never routed
nor counted as an instance, and is removed once its end is recorded. It
runs to its end or --timeout whatever happens to this command or to the
controller: after Ctrl-C, a lost connection or a controller restart, see
how it ended with longshoreman tasks --app APP.`},
		{Name: cluster.OpTasks, Group: groupDeploys, Run: runTasks, App: NeedsApp,
			Flags:   []Flag{{Name: "task", Value: "ID", Help: "show one task in full, with its last output lines"}},
			Summary: "list the app's recent one-off tasks, with their state and exit code",
			Help: fmt.Sprintf(`List the app's most recent one-off tasks (the last %d, release commands
included), newest first: when each started, how long it ran, its state
(running, succeeded, failed, or lost when its container vanished without
its exit seen), its exit code, its host and its command. With --task ID,
one task in full, with its last output lines. A task whose controller
stopped while it ran is recorded by the controller that leads next.`, cluster.TaskHistory)},
		{Name: cluster.OpJobs, Group: groupDeploys, Run: runJobs, App: NeedsApp,
			Flags:   []Flag{{Name: "job", Value: "NAME", Help: "show one job's last runs"}},
			Summary: "list the app's scheduled jobs, with their next run and last outcome",
			Help: fmt.Sprintf(`List the app's scheduled jobs: each one's schedule, when its next run is
due, when its last run started and how it ended (succeeded, failed,
skipped when the run before it was still going, lost), its exit code and
its command. With --job NAME, that job's last %d runs, newest first, with
why each was skipped, late or failed.`, cluster.JobRunHistory)},
		{Name: cluster.OpAddJob, Group: groupDeploys, Run: runJobsAdd, App: NeedsApp, Rest: "CMD [ARG...]",
			Args: []Arg{{Name: "NAME", What: "job name", Key: cluster.ArgJob}, {Name: "SCHEDULE", What: "schedule"}},
			Flags: []Flag{{Name: "timeout", Value: "DURATION", Help: "kill a run that runs longer",
				Default: cluster.DefaultTaskTimeout.String() + ", at most " + cluster.MaxTaskTimeout.String()}},
			Summary: "run a command on a schedule, as a one-off task of the app's current revision",
			Help: `Add a scheduled job: each time SCHEDULE comes due, CMD [ARG...] runs as a
one-off task of the app's current revision (as longshoreman run does).
SCHEDULE is a 5-field cron expression in UTC ('*/15 * * * *': minute, hour,
day of month, month, day of week) or an interval ('@every 10m'), quoted.
Only the leading controller runs jobs. A run still going when the next is
due is not overlapped: the next is skipped, and recorded so. A run due
while no controller led (a restart, a failover) runs once, late, and says
so; no run is started twice. See the runs with longshoreman jobs --app APP.`},
		{Name: cluster.OpRemoveJob, Group: groupDeploys, Run: runJobsRemove, App: NeedsApp,
			Args:    []Arg{{Name: "NAME", What: "job name", Key: cluster.ArgJob}},
			Summary: "remove a scheduled job",
			Help:    `Remove a scheduled job: it starts no more runs; a run going on runs to its end.`},
		{Name: cluster.OpInstances, Group: groupDeploys, Run: runInstances, App: NeedsApp,
			Summary: "list the app's routed instances",
			Help:    `List the app's instances that serve traffic (healthy and routed).`},
		{Name: cluster.OpLogs, Group: groupDeploys, Run: runLogs, App: NeedsApp,
			Flags: []Flag{
				{Name: "follow", Short: "f", Help: "keep printing new lines, of instances that start too, until interrupted"},
				{Name: "tail", Value: "N", Help: fmt.Sprintf("the last N lines of each instance, 0 to %d", cluster.MaxLogLines),
					Default: fmt.Sprintf("%d; with --since, every line since then", cluster.DefaultLogLines)},
				{Name: "since", Value: "WHEN", Help: "only lines printed since WHEN: a duration before now (10m, 1h) or an RFC 3339 time"},
			},
			Summary: "print the last log lines of every instance of the app",
			Help: `Print the last log lines of every instance of the app, stdout and stderr,
each line prefixed with its instance's address (in a colour of its own on a
terminal, unless NO_COLOR is set). With --follow, keep printing the lines
as the instances print them: instances that start join, ones that stop
leave, until interrupted.`},

		{Name: cluster.OpEnvs, Group: groupEnvs, Run: runEnvs, App: NeedsApp,
			Summary: "list the app's env vars",
			Help:    `List the app's env vars, one KEY=value a line.`},
		{Name: cluster.OpSetEnv, Group: groupEnvs, Run: runEnvsSet, App: NeedsApp,
			Args:    []Arg{{Name: "KEY=value", What: "KEY=value", Key: cluster.ArgEnv, Many: true}},
			Flags:   waitFlags,
			Summary: "set env vars and restart the app",
			Help: `Set env vars of the app. A deployed app is restarted with the new values
(a new revision, with zero downtime): all the vars given go out together in one
revision, two if another env change of the app was running.`},
		{Name: cluster.OpUnsetEnv, Group: groupEnvs, Run: runEnvsRemove, App: NeedsApp,
			Args:    []Arg{{Name: "KEY", What: "KEY", Key: cluster.ArgKey, Many: true}},
			Flags:   waitFlags,
			Summary: "remove env vars and restart the app",
			Help: `Remove env vars of the app (exactly the KEYs named). A deployed app is
restarted without them, all in one revision like envs:set.`},
		{Name: "secrets:rotate", Group: groupEnvs, Run: runSecretsRotate,
			Summary: "encrypt every env value with the controller's new key",
			Help: `Encrypt every env value kept in the store (apps and revisions) with the
first key of the controller's LONGSHOREMAN_SECRETS_KEY. To rotate: give every
controller LONGSHOREMAN_SECRETS_KEY=NEW,OLD and restart it, run this, then
drop OLD from the list (and restart). Until it ran, the store does not open
with NEW alone.`},

		{Name: cluster.OpHosts, Group: groupHosts, Run: runHosts,
			Summary: "list the hosts",
			Help:    `List the hosts, one IP address a line. longshoreman status says which answer.`},
		{Name: cluster.OpAddHost, Group: groupHosts, Run: runHostsAdd,
			Args:    []Arg{{Name: "IP", What: "host IP address", Key: cluster.ArgHost}},
			Summary: "add a host",
			Help: `Add a host. Its Docker Engine API must answer on the controller's Docker
port (default 2375). Apps piled on fewer hosts than they could use are
spread onto it, one instance at a time.`},
		{Name: cluster.OpRemoveHost, Group: groupHosts, Run: runHostsRemove,
			Args:    []Arg{{Name: "IP", What: "host IP address", Key: cluster.ArgHost}},
			Flags:   []Flag{{Name: "force", Key: cluster.ArgForce, Help: "remove it even when it holds the last instances of an app"}},
			Summary: "drain a host and forget it",
			Help: `Remove a host: its instances are replaced on other hosts first, then it
is forgotten.`},

		{Name: cluster.OpRegistries, Group: groupRegistries, Run: runRegistries,
			Summary: "list the registries with stored credentials",
			Help: `List the registries whose credentials the controller stores, one a line.
The credentials themselves are never shown.`},
		{Name: cluster.OpAddRegistry, Group: groupRegistries, Run: runRegistriesAdd,
			Args:    []Arg{{Name: "REGISTRY", What: "registry address such as registry.example.com:5000", Key: cluster.ArgRegistry}},
			Flags:   []Flag{{Name: "username", Value: "USER", Key: cluster.ArgUsername, Required: true, Help: "the registry username"}},
			Summary: "store a registry's credentials (password on stdin)",
			Help: `Store the credentials the hosts use to pull images from a private registry.
The password is read from standard input, so it stays out of shell history
and process lists: echo "$PASSWORD" | longshoreman registries:add ...
Deploys of images from that registry send them.`},
		{Name: cluster.OpRemoveRegistry, Group: groupRegistries, Run: runRegistriesRemove,
			Args:    []Arg{{Name: "REGISTRY", What: "registry address", Key: cluster.ArgRegistry}},
			Summary: "forget a registry's credentials",
			Help:    `Forget the credentials stored for a registry.`},

		{Name: "https:on", Group: groupHTTPS, Run: runHTTPSOn,
			Args:    []Arg{{Name: "APP", What: "app name", Key: cluster.ArgApp, FromApp: true}},
			Flags:   []Flag{{Name: "no-redirect", Help: "serve plain HTTP too instead of redirecting it to HTTPS"}},
			Summary: "serve the app over HTTPS, with a certificate the controller obtains",
			Help: `Serve the app over HTTPS at every router. The controller obtains its
certificate from the ACME CA (LONGSHOREMAN_ACME_EMAIL on the controller) and
renews it; plain HTTP requests are redirected to HTTPS (308) unless
--no-redirect. The app's domain must resolve to the routers, which need
ports 80 and 443 open.`},
		{Name: "https:off", Group: groupHTTPS, Run: runHTTPSOff,
			Args:    []Arg{{Name: "APP", What: "app name", Key: cluster.ArgApp, FromApp: true}},
			Summary: "serve the app over plain HTTP only",
			Help:    `Stop serving the app over HTTPS and redirecting it; its certificate is kept.`},
		{Name: "certs", Group: groupHTTPS, Run: runCerts,
			Summary: "list the certificates: issuer, expiry, last error",
			Help: `List every certificate the routers serve, and the apps with HTTPS on still
waiting for one: where it comes from (acme or manual), its issuer, when it
expires, when the controller tries next and the last error. Keys and
certificates themselves are never shown.`},
		{Name: "certs:add", Group: groupHTTPS, Run: runCertsAdd,
			Args: []Arg{{Name: "DOMAIN", What: "domain, such as shop.example.com or *.example.com", Key: "domain"}},
			Flags: []Flag{
				{Name: "cert", Value: "FILE", Required: true, Help: "PEM certificate chain, the domain's certificate first"},
				{Name: "key", Value: "FILE", Required: true, Help: "PEM private key of the certificate"},
			},
			Summary: "add a certificate of your own for a domain",
			Help: `Add a certificate of your own: it is checked (the key matches, the chain
parses, its names cover DOMAIN, it is valid now) and then served by every
router instead of one from the CA. A wildcard *.example.com covers the
names one label below it. It is never renewed: add the next one in time.`},
		{Name: "certs:rm", Group: groupHTTPS, Run: runCertsRemove,
			Args:    []Arg{{Name: "DOMAIN", What: "domain", Key: "domain"}},
			Summary: "forget a domain's certificate",
			Help: `Forget a domain's certificate. An app with HTTPS on gets a new one from
the CA.`},

		{Name: cluster.OpTokens, Group: groupTokens, Run: runTokens,
			Summary: "list the API tokens: scope, apps, expiry, last use",
			Help: `List the API tokens made with tokens:add: each one's name, scope, the apps
it is limited to (all: none), when it was made, when it expires and when it
was last used (to the minute). Secrets are never shown; the controller
keeps only their SHA-256. The root token (LONGSHOREMAN_TOKEN) is not listed.`},
		{Name: "tokens:add", Group: groupTokens, Run: runTokensAdd, App: OptionalApp,
			Args: []Arg{{Name: "NAME", What: "token name (lower-case letters, digits, - and _)", Key: cluster.ArgName}},
			Flags: []Flag{
				{Name: "scope", Value: "SCOPE", Required: true, Help: "read (every read but backups), deploy (reads, and changes apps), or admin (everything)"},
				{Name: "expires", Value: "AGE", Help: "its lifetime: days such as 90d, or hours such as 36h", Default: "never"},
			},
			Summary: "make a scoped API token and print its secret once",
			Help: `Make an API token named NAME of a scope: read reads everything but backups
(and only the logs and env values of its apps when it names some); deploy
also deploys, sets envs, scales, rolls back, kills, runs tasks and jobs,
and changes settings, maintenance and HTTPS of the apps given with --app
(repeat it for several; none: every app); admin does everything (hosts,
registries, certificates, tokens, backups, deleting apps). The secret is
printed alone on standard output, this once: only its SHA-256 is kept.
For CI: longshoreman tokens:add ci --scope deploy --app example.com --expires 90d`},
		{Name: cluster.OpRemoveToken, Group: groupTokens, Run: runTokensRemove,
			Args:    []Arg{{Name: "NAME", What: "token name", Key: cluster.ArgName}},
			Summary: "revoke a token at once, on every controller",
			Help:    `Remove a token: every controller refuses it from the next request on.`},
		{Name: "whoami", Group: groupTokens, Run: runWhoami,
			Summary: "the token this client sends: name, scope, apps, expiry",
			Help: `Show the token this client sends: its name (root for LONGSHOREMAN_TOKEN),
its scope, the apps it is limited to and when it expires.`},

		{Name: cluster.OpBackup, Group: groupData, Run: runBackup,
			Args:    []Arg{{Name: "FILE", What: "file to write", Key: cluster.ArgFile}},
			Flags:   []Flag{{Name: "with-keys", Help: "include the private keys: certificate keys, ACME account keys, routes key, router token"}},
			Summary: "save a consistent copy of the controller's data file",
			Help: `Save a consistent copy of the controller's data file, taken while it runs,
without the private keys (certificate keys, ACME account keys, routes key,
router token) unless --with-keys. Restore one without keys with
"longshoreman restore FILE TO" onto the store whose keys to keep; one with keys
is a data file a controller runs on as it is. FILE is written only once the
copy is complete (through a temporary file beside it), and readable by its
owner only: it holds the API token and registry credentials.`},

		auditCommand,

		{Name: "commands", Group: groupHelp, Run: runCommands,
			Summary: "list these commands",
			Help:    `List the commands. "longshoreman COMMAND -h" tells more about one.`},
	}
}

// runCommands prints the grouped list.
func runCommands(ctx context.Context, c *Call) error {
	writeCommands(c.Stdout)
	return nil
}
