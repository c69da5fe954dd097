// Package cluster holds Longshoreman's domain: the types every other package
// speaks in (App, Host, Revision, Instance, RoutingTable), their validation,
// and the error codes that cross package lines. It imports nothing of the
// project's and no adapter (bbolt, Docker, Redis, HTTP), so every package can
// depend on it without cycles.
package cluster
