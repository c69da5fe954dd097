package scheduler

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/longshoreman/longshoreman/cluster"
)

// pruneTimeout bounds the image pruning after one revision, on all hosts.
const pruneTimeout = 2 * time.Minute

// PlanImagePrune decides, without touching anything, which tags of images
// leave one host after a revision of an app succeeded. revs are the app's
// revisions newest first (as the store lists them), current its current
// revision, keep how many of its newest succeeded revisions keep their
// images, shared the images (normalized) other apps run (their current
// revision's), and images what the host has.
//
// The revisions kept are the keep newest succeeded ones, every revision
// newer than the oldest of those, the current one and any still
// deploying; while the app has fewer than keep succeeded revisions,
// nothing is pruned. A tag of an older revision's image leaves, unless a
// revision kept or another app uses the same reference, a container on
// the host was created by that tag, or no pull could bring it back (an
// image built on the host and never pushed); an image a container uses keeps one
// tag at least (removing its last would remove the image under the
// container, which Docker refuses anyway). The result is sorted.
func PlanImagePrune(revs []cluster.Revision, current, keep int, shared map[string]bool, images []cluster.Image) []string {
	if keep < 1 {
		return nil
	}
	oldest, succeeded := 0, 0
	for _, r := range revs {
		if r.Status == cluster.StatusSucceeded && succeeded < keep {
			succeeded++
			oldest = r.Number
		}
	}
	if succeeded < keep {
		return nil
	}
	kept, older := map[string]bool{}, map[string]bool{}
	for _, r := range revs {
		ref := cluster.ImageRef(r.Image)
		switch {
		case r.Number >= oldest, r.Number == current, r.Status == cluster.StatusDeploying:
			kept[ref] = true
		default:
			older[ref] = true
		}
	}
	var out []string
	for _, img := range images {
		var drop []string
		for _, ref := range img.Refs {
			if older[ref] && !kept[ref] && !shared[ref] && !img.Named[ref] && img.Pullable[ref] {
				drop = append(drop, ref)
			}
		}
		if img.Containers > 0 && len(drop) > 0 && len(drop) == len(img.Refs) {
			drop = drop[:len(drop)-1] // an image in use keeps a tag
		}
		out = append(out, drop...)
	}
	sort.Strings(out)
	return out
}

// DanglingTasks picks, of the containers listed on a host, the one-off
// task containers of controller that exited, were created at least
// cluster.DanglingTaskAge before now and that no goroutine follows
// (followed): left behind, their ends recorded or their records gone.
func DanglingTasks(cts []cluster.Container, controller string, followed map[string]bool, now time.Time) []cluster.Container {
	var out []cluster.Container
	for _, ct := range cts {
		if ct.Task == "" || ct.Controller != controller || ct.Running || followed[ct.Task] ||
			ct.Created.IsZero() || now.Sub(ct.Created) < cluster.DanglingTaskAge {
			continue
		}
		out = append(out, ct)
	}
	return out
}

// pruneLater prunes the hosts' images once rev succeeded (pruneImages),
// in the background so that no host slow to answer delays the deploy's
// answer, and without holding the app, so that the reconciler and the
// operations that follow are not held up: an image a rollout or a task is
// pulling or starting is never removed (see imageUse). It belongs to the
// operation's leadership term and stops when the term ends or the
// scheduler closes.
func (s *Scheduler) pruneLater(ctx context.Context, rev *cluster.Revision) {
	keep := s.cfg.KeepImages
	if keep < 1 {
		return
	}
	bound, end, err := s.begin(context.WithoutCancel(ctx))
	if err != nil {
		return
	}
	ctx, cancel := context.WithTimeout(bound, pruneTimeout)
	stop := context.AfterFunc(s.closing, cancel)
	s.background.Add(1)
	go func() {
		defer s.background.Done()
		defer func() { stop(); cancel(); end() }()
		s.pruneImages(ctx, rev, keep)
	}()
}

// imageUse counts the images that rollouts and one-off tasks of this
// controller are pulling or starting containers of, from before the pull
// until the rollout or task ends. Pruning removes an image only while it
// holds mu and the image is not counted, so a rollout that registers it
// meanwhile waits for that one removal, then pulls it again.
type imageUse struct {
	mu   sync.Mutex     // guards refs; held across each removal
	refs map[string]int // normalized reference -> rollouts and tasks using it
}

// use counts image in until release is called.
func (u *imageUse) use(image string) (release func()) {
	ref := cluster.ImageRef(image)
	u.mu.Lock()
	if u.refs == nil {
		u.refs = map[string]int{}
	}
	u.refs[ref]++
	u.mu.Unlock()
	return func() {
		u.mu.Lock()
		defer u.mu.Unlock()
		if u.refs[ref]--; u.refs[ref] <= 0 {
			delete(u.refs, ref)
		}
	}
}

// remove calls rm unless ref (normalized) is in use, and reports whether
// it did.
func (u *imageUse) remove(ref string, rm func() error) (bool, error) {
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.refs[ref] > 0 {
		return false, nil
	}
	return true, rm()
}

// pruneImages removes from every host what PlanImagePrune and
// DanglingTasks pick once rev succeeded, all hosts at once. It is best
// effort: a host that fails is logged and left for the next revision's
// pruning, and the deploy has succeeded already.
func (s *Scheduler) pruneImages(ctx context.Context, rev *cluster.Revision, keep int) {
	a, err := s.store.App(rev.App)
	if err != nil || a.Deleting {
		return // deleted meanwhile
	}
	revs, err := s.store.Revisions(rev.App)
	if err != nil {
		s.cfg.Logger.Warn("image pruning skipped: reading the revisions failed", "app", rev.App, "err", cluster.ErrorMessage(err))
		return
	}
	shared, err := s.otherAppsImages(rev.App)
	if err != nil {
		s.cfg.Logger.Warn("image pruning skipped: reading the apps failed", "app", rev.App, "err", cluster.ErrorMessage(err))
		return
	}
	hosts, err := s.store.Hosts()
	if err != nil {
		s.cfg.Logger.Warn("image pruning skipped: reading the hosts failed", "app", rev.App, "err", cluster.ErrorMessage(err))
		return
	}
	var wg sync.WaitGroup
	for _, h := range hosts {
		wg.Go(func() {
			refs := s.pruneHostImages(ctx, rev, a.Revision, h.Addr, revs, keep, shared)
			tasks := s.pruneDanglingTasks(ctx, h.Addr)
			if refs+tasks > 0 {
				s.disk.forget(h.Addr)
			}
		})
	}
	wg.Wait()
}

// otherAppsImages returns the images (normalized) that apps other than app
// run, so pruning never takes one of theirs.
func (s *Scheduler) otherAppsImages(app string) (map[string]bool, error) {
	apps, err := s.store.AllApps()
	if err != nil {
		return nil, err
	}
	out := map[string]bool{}
	for _, a := range apps {
		if a.Name != app && a.Image != "" {
			out[cluster.ImageRef(a.Image)] = true
		}
	}
	return out, nil
}

// pruneHostImages removes the image tags PlanImagePrune picks on host for
// the app of rev, whose current revision is current, and returns how many
// went.
func (s *Scheduler) pruneHostImages(ctx context.Context, rev *cluster.Revision, current int, host string, revs []cluster.Revision, keep int, shared map[string]bool) int {
	images, err := s.engines.Images(ctx, host)
	if err != nil {
		s.cfg.Logger.Warn("image pruning skipped a host: listing its images failed", "app", rev.App, "host", host, "err", cluster.ErrorMessage(err))
		return 0
	}
	var removed []string
	for _, ref := range PlanImagePrune(revs, current, keep, shared, images) {
		done, err := s.images.remove(ref, func() error { return s.engines.RemoveImage(ctx, host, ref) })
		if err != nil {
			s.cfg.Logger.Warn("image pruning kept an image: removing it failed", "app", rev.App, "host", host, "image", ref, "err", cluster.ErrorMessage(err))
		}
		if done && err == nil {
			removed = append(removed, ref)
		}
	}
	if len(removed) > 0 {
		s.cfg.Logger.Info("pruned images of older revisions", "app", rev.App, "host", host, "images", removed)
		s.emit(cluster.Event{Type: cluster.EventHost, Step: "pruned", App: rev.App, Revision: rev.Number, Host: host,
			Message: fmt.Sprintf("removed the images of revisions older than the last %d: %s", keep, strings.Join(removed, ", "))})
	}
	return len(removed)
}

// pruneDanglingTasks removes the task containers DanglingTasks picks on
// host whose end is recorded (or whose record is gone), and returns how
// many went; one still recorded running is left for the reconciler, which
// records its end before it removes it.
func (s *Scheduler) pruneDanglingTasks(ctx context.Context, host string) int {
	cts, err := s.engines.List(ctx, host)
	if err != nil {
		return 0 // logged by the image listing's failure, most likely the same
	}
	n := 0
	for _, ct := range DanglingTasks(cts, s.cfg.Controller, s.tasks.followed(), time.Now()) {
		rec, err := s.store.Task(ct.App, ct.Task)
		if (err == nil && !rec.Ended()) || (err != nil && cluster.ErrorCode(err) != cluster.ENOTFOUND) {
			continue
		}
		sctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		err = s.engines.Stop(sctx, host, ct.ID, 0)
		cancel()
		if err != nil {
			s.cfg.Logger.Warn("removing a dangling task container failed", "app", ct.App, "host", host, "container", short(ct.ID), "err", cluster.ErrorMessage(err))
			continue
		}
		s.cfg.Logger.Info("removed a dangling task container", "app", ct.App, "host", host, "task", ct.Task, "created", ct.Created)
		n++
	}
	return n
}

// pulling is the message of a rollout's pulling step on host: the image,
// and for a rollback whose image is no longer on the host (pruned after
// later deploys), that it is pulled again from its registry.
func (s *Scheduler) pulling(ctx context.Context, c *change, host string) string {
	image := c.rev.Image
	if !c.rollback {
		return image
	}
	qctx, cancel := context.WithTimeout(ctx, s.cfg.PingTimeout)
	defer cancel()
	images, err := s.engines.Images(qctx, host)
	if err != nil {
		return image
	}
	ref := cluster.ImageRef(image)
	for _, img := range images {
		for _, r := range img.Refs {
			if r == ref {
				return image
			}
		}
	}
	return fmt.Sprintf("%s is not on %s (pruned after later deploys, or never pulled there): pulling it again from %s", image, host, cluster.RegistryOf(image))
}
