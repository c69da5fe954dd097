package scheduler

// RelistDue exposes relistDue to the external tests: they pick passes that
// read the hosts' views rather than list them.
var RelistDue = relistDue

// Hold makes app busy, as an operator's operation does, until unlock.
func (s *Scheduler) Hold(app string) (unlock func(), err error) { return s.lock(app, "a test's hold") }
