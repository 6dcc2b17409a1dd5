// Package mm2 reads what Apache Kafka's MirrorMaker 2 leaves on the
// clusters, so that kmirror can take over a flow MM2 has been replicating
// without copying again what MM2 already copied.
//
// MM2 runs its MirrorSourceConnector on Kafka Connect, which stores each
// source partition's position in a Connect offsets topic on the target:
// dedicated mode's mm2-offsets.<source>.internal, or, deployed by Strimzi,
// the Connect cluster's (mirrormaker2-cluster-offsets by default). A record
// there is JSON: the key names the connector and the source partition,
//
//	["MirrorSourceConnector",{"cluster":"A","partition":0,"topic":"orders"}]
//
// (Strimzi's connector is named "A->B.MirrorSourceConnector"), and the
// value holds the last source offset the connector copied and committed,
//
//	{"offset":99}
//
// from which MM2 resumes at the next one; a null value resets the
// partition. Records MM2 copied after its last offset commit are on the
// target but not counted here: the taker compares the target's tail with
// the source, as kmirror's exact resume does after a crash.
package mm2
