// Package migrate holds the checks of a consumer-first migration: whether
// a consumer group can be switched to the target now (Ready), and whether
// everything the stopped producers wrote to the source is on the target
// (Drain).
package migrate
