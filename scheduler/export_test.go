package scheduler

// RelistDue exposes relistDue to the external tests: they pick passes that
// read the hosts' views rather than list them.
var RelistDue = relistDue
