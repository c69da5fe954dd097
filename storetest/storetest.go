// Package storetest is the conformance suite of cluster.Store: every store
// behaviour the controller relies on, run against the bbolt data file
// (package db) and the etcd prefix (package etcd), so that both behave the
// same. It opens backups with package db, since a backup of any store is a
// data file.
package storetest

import (
	"strings"
	"testing"

	"github.com/longshoreman/longshoreman/cluster"
)

// SecretsKey is the key of the env values of every store the suite opens:
// an Opener gives it to its store, and the suite gives it to the data
// files it opens from backups.
const SecretsKey = "c3RvcmV0ZXN0LWtleS0wMTIzNDU2Nzg5YWJjZGVmMDE="

// Opener opens one store (the same file or prefix at every call), creating
// its cluster identity only with create.
type Opener func(create bool) (cluster.Store, error)

// RunConformance runs the suite; fresh returns an Opener of a new, empty
// store for each test (a file in t.TempDir(), a new etcd prefix).
func RunConformance(t *testing.T, fresh func(t *testing.T) Opener) {
	for _, c := range []struct {
		name string
		run  func(*testing.T, Opener)
	}{
		{"ReopenKeepsEverything", testReopenKeepsEverything},
		{"MissingNeedsCreate", testMissingNeedsCreate},
		{"CreateChangesNothingOnAnExistingStore", testCreateChangesNothing},
		{"NewerSchemaRefused", testNewerSchemaRefused},
		{"UnfinishedMigrationRefused", testUnfinishedMigrationRefused},
		{"EpochRisesAtEveryOpen", testEpochRisesAtEveryOpen},
		{"SecretsStoredOnce", testSecretsStoredOnce},
		{"RoutingTableVersionRisesOnlyOnChange", testRoutingTableVersion},
		{"FinishRevisionUpdatesAppOnlyOnSuccess", testFinishRevision},
		{"DeleteAppRemovesEverything", testDeleteApp},
		{"CreateRevisionKeepsHistoryLimit", testHistoryLimit},
		{"AllInstancesSeesEveryWrite", testAllInstancesSeesEveryWrite},
		{"RetireIsKept", testRetireIsKept},
		{"Hosts", testHosts},
		{"Registries", testRegistries},
		{"BackupIsADataFile", testBackupIsADataFile},
		{"BackupWithoutKeys", testBackupWithoutKeys},
		{"KeysOmittedRefused", testKeysOmittedRefused},
		{"RecordsRoundTrip", testRecordsRoundTrip},
		{"ConcurrentWriters", testConcurrentWriters},
		{"Certs", testCerts},
		{"ReplaceCertComparesTheRecordRead", testReplaceCert},
		{"ACMEState", testACMEState},
		{"TableCarriesHTTPS", testTableCarriesHTTPS},
		{"TableCarriesCanary", testTableCarriesCanary},
		{"CertsCopied", testCertsCopied},
		{"RecordOOMCountsOnTheRevision", testRecordOOM},
		{"AppSettingsKept", testAppSettingsKept},
		{"TableCarriesLimits", testTableCarriesLimits},
		{"Tasks", testTasks},
		{"Jobs", testJobs},
		{"Tokens", testTokens},
		{"Audit", testAudit},
		{"AuditedWriteCarriesItsEntry", testAuditedWrites},
		{"GenerationRisesWithEveryWrite", testGenerationRisesWithEveryWrite},
	} {
		t.Run(c.name, func(t *testing.T) { c.run(t, fresh(t)) })
	}
}

// MustOpen opens the store with create, closed when the test ends.
func MustOpen(tb testing.TB, open Opener) cluster.Store {
	tb.Helper()
	s, err := open(true)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { s.Close() })
	return s
}

// mustOpenWithApps is MustOpen with the apps created.
func mustOpenWithApps(tb testing.TB, open Opener, apps ...string) cluster.Store {
	tb.Helper()
	s := MustOpen(tb, open)
	for _, app := range apps {
		if _, err := s.CreateApp(app); err != nil {
			tb.Fatal(err)
		}
	}
	return s
}

// joined joins the key of each of xs with commas, to compare a list in
// one string.
func joined[T any](xs []T, key func(T) string) string {
	keys := make([]string, len(xs))
	for i, x := range xs {
		keys[i] = key(x)
	}
	return strings.Join(keys, ",")
}

// must fails the test on err.
func must(tb testing.TB, err error) {
	tb.Helper()
	if err != nil {
		tb.Fatal(err)
	}
}
