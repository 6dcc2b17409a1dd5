// Package workgroup shares the partitions of a flow between the kmirror
// workers that run it, through a Kafka group on the target cluster — the
// coordination Kafka Connect uses, with kmirror's own protocol type.
//
// The group's leader splits the partitions with franz-go's cooperative
// sticky balancer: a partition only moves when it must, and it moves in two
// rebalances, so that its old owner has stopped writing it and persisted its
// progress before the new owner starts.
//
// A worker that stops hearing from the coordinator stops writing before the
// coordinator can give its partitions away: every heartbeat the coordinator
// answers renews a lease that runs out a margin before the session timeout
// would (see Member.Valid).
package workgroup
