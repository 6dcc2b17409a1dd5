// Package batch handles Kafka record batches as bytes: it reads the
// batches of a fetched partition without decoding their records, and
// rewrites a batch for the producer that writes it on, so that kmirror can
// copy a source batch to the target with its compressed records section
// unchanged (no decompression, no compression).
//
// franz-go's consumer and producer cannot do that: the consumer hands out
// records, already decompressed, and the producer builds its own batches.
// So the batch path fetches with kmsg requests of its own over a franz-go
// client's connections (Fetcher), and writes with an idempotent producer of
// its own (Producer) that owns the producer id, epoch and sequences of what
// it writes — as Kafka's own replica fetcher copies bytes. What cannot go
// on as it is gets decoded by franz-go and made into new batches by an
// Encoder, for the same Producer.
//
// Only record batches of magic 2 are handled here; older message formats
// are decoded by franz-go (kgo.ProcessFetchPartition) on the record path.
package batch
