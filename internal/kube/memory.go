package kube

import (
	"fmt"

	"github.com/kmirror/kmirror/internal/config"
)

// The memory a worker needs, after the README's "Memory while the target
// is blocked": the records it holds are at most 2·B + 3·T·F per flow (B the
// producer's buffer.memory, T its tasks, F what one fetch response of a
// task holds), the collector lets the heap grow to twice the live data and
// keeps a tenth more, and records' own structures add a quarter:
// 1.1 × 2 × 1.25 = 2.75. An idle worker takes some 21 MiB; idleMemory
// leaves room for the HTTP endpoints and the status report.
const (
	idleMemory   = 64 << 20
	memoryFactor = 2.75
	memoryRound  = 64 << 20
)

// memory is the memory limit of a worker and how it was worked out.
type memory struct {
	limit int64
	// why explains it, one comment line per line.
	Why []string
}

// workerMemory bounds the memory of a worker that holds all of each
// flow's partitions: the one left when the others are gone (the
// disruption budget lets one go at a time). partitions is the most source
// partitions a flow selects; 0 assumes tasks.max per worker, one
// partition per task.
func workerMemory(cfg *config.Config, replicas, partitions int) memory {
	var held float64
	m := memory{Why: []string{
		"Memory: the bound in docs/operations.md (\"Memory while the target is blocked\"), for a worker holding",
		"every partition (the last one left): 64 MiB idle + 2.75 × Σ flows (2 × producer.buffer.memory",
		"+ 3 × tasks × what one fetch of a task holds).",
	}}
	for _, f := range cfg.Flows {
		p := partitions
		assumed := ""
		if p <= 0 {
			p = f.TasksMax * replicas
			assumed = " (assumed: tasks.max × replicas; give --partitions)"
		}
		tasks := min(f.TasksMax, p)
		perTask := (p + tasks - 1) / tasks
		fetch := min(int64(f.Consumer.FetchMaxBytes), int64(perTask)*int64(f.Consumer.MaxPartitionFetchBytes))
		held += float64(2*f.Producer.BufferMemory + 3*int64(tasks)*fetch)
		m.Why = append(m.Why, fmt.Sprintf("%s: %d source partitions%s, %d tasks, %d per task: 2 × %s + 3 × %d × %s",
			f.Name(), p, assumed, tasks, perTask, size(f.Producer.BufferMemory), tasks, size(fetch)))
	}
	raw := idleMemory + int64(memoryFactor*held)
	m.limit = (raw + memoryRound - 1) / memoryRound * memoryRound
	m.Why = append(m.Why, fmt.Sprintf("= %s, rounded up to %s.", size(raw), size(m.limit)))
	return m
}

// quantity writes bytes as a Kubernetes quantity.
func quantity(b int64) string {
	if b%(1<<20) == 0 {
		return fmt.Sprintf("%dMi", b>>20)
	}
	return fmt.Sprint(b)
}

// size writes bytes for people: 2 MiB, 214.6 MiB, 512 KiB.
func size(b int64) string {
	switch {
	case b%(1<<20) == 0:
		return fmt.Sprintf("%d MiB", b>>20)
	case b >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(b)/(1<<20))
	case b%(1<<10) == 0:
		return fmt.Sprintf("%d KiB", b>>10)
	}
	return fmt.Sprintf("%d B", b)
}
