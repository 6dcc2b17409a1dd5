package config

// DiagStrings is diagStrings, for the tests outside the package.
var DiagStrings = diagStrings

// DefaultBatchSize is defaultBatchSize, for the tests outside the package.
const DefaultBatchSize = defaultBatchSize
