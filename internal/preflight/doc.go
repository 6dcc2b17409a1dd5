// Package preflight works out every Kafka permission a configuration needs
// kmirror to hold on each cluster, each with the reason in plain words, and
// checks them against the clusters before anything runs: with the
// authorized operations brokers report (KIP-430) where the resource exists,
// with a validate-only CreateTopics for topics to create, and with the
// user's ACLs (DescribeAcls) otherwise. What cannot be checked is reported
// as unknown with the reason, never guessed.
//
// The same needs, named by the flows' patterns instead of today's topics
// and groups, make the least-privilege Strimzi KafkaUser resources that
// --kafkauser prints.
package preflight
