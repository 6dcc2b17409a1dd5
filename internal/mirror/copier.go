package mirror

import (
	"slices"
	"strings"
	"sync"

	"github.com/kmirror/kmirror/internal/progress"
)

// copier is what a worker copies: its partitions, and the tasks that
// fetch them, each with its own consumer. It is made for one run, before
// the workers' group can give the worker anything to copy.
type copier struct {
	tasksMax int
	// deps are what each new task is given.
	deps taskDeps
	// spawn starts a task in the run's group of goroutines.
	spawn func(*task)

	mu    sync.Mutex
	parts map[progress.Partition]*partition
	tasks []*task
}

func newCopier(tasksMax int, deps taskDeps, spawn func(*task)) *copier {
	return &copier{tasksMax: tasksMax, deps: deps, spawn: spawn, parts: map[progress.Partition]*partition{}}
}

// assign spreads new partitions over the tasks: the first ones round-robin
// in (topic, partition) order as MM2 does, later ones to the task with the
// fewest, so that no running partition moves.
func (c *copier) assign(parts []*partition) error {
	slices.SortFunc(parts, func(a, b *partition) int {
		if c := strings.Compare(a.key.Topic, b.key.Topic); c != 0 {
			return c
		}
		return int(a.key.Partition - b.key.Partition)
	})
	c.mu.Lock()
	defer c.mu.Unlock()
	want := min(c.tasksMax, len(c.parts)+len(parts))
	started := len(c.tasks)
	for len(c.tasks) < want {
		t, err := newTask(len(c.tasks), c.deps)
		if err != nil {
			return err
		}
		c.tasks = append(c.tasks, t)
	}
	batches := make([][]*partition, len(c.tasks))
	for _, p := range parts {
		best := 0
		for i, t := range c.tasks {
			if len(t.parts)+len(batches[i]) < len(c.tasks[best].parts)+len(batches[best]) {
				best = i
			}
		}
		batches[best] = append(batches[best], p)
		c.parts[p.key] = p
	}
	for i, b := range batches {
		if len(b) > 0 {
			c.tasks[i].add(b)
		}
	}
	for _, t := range c.tasks[started:] {
		c.spawn(t)
	}
	return nil
}

// partition returns the partition of key k this worker copies, or nil.
func (c *copier) partition(k progress.Partition) *partition {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.parts[k]
}

// partitions returns the partitions this worker copies that keep keeps;
// all of them when keep is nil.
func (c *copier) partitions(keep func(*partition) bool) []*partition {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make([]*partition, 0, len(c.parts))
	for _, p := range c.parts {
		if keep == nil || keep(p) {
			out = append(out, p)
		}
	}
	return out
}

// unfetch makes the tasks stop fetching the partitions of keys; they stay
// the copier's until forget.
func (c *copier) unfetch(keys []progress.Partition) {
	c.mu.Lock()
	tasks := slices.Clone(c.tasks)
	c.mu.Unlock()
	for _, t := range tasks {
		t.remove(keys)
	}
}

// forget drops the partitions of keys.
func (c *copier) forget(keys []progress.Partition) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, k := range keys {
		delete(c.parts, k)
	}
}

// drop forgets the partitions of keys at once, with what they hold in
// flight, and returns the keys of those it copied; the tasks then stop
// fetching them.
func (c *copier) drop(keys []progress.Partition) []progress.Partition {
	c.mu.Lock()
	var out []progress.Partition
	for _, k := range keys {
		if p, ok := c.parts[k]; ok {
			p.discard()
			delete(c.parts, k)
			out = append(out, k)
		}
	}
	c.mu.Unlock()
	c.unfetch(out)
	return out
}

// closeTasks closes the tasks' consumers: fetching stops.
func (c *copier) closeTasks() {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, t := range c.tasks {
		t.close()
	}
}

func (c *copier) taskCount() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.tasks)
}
