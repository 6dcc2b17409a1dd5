// Package docs holds kmirror's documentation pages and the tests that keep
// them true: every link resolves, and every configuration they show is a
// file of the repository that loads without a warning.
package docs
