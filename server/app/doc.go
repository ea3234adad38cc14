// Package app is the composition root of the Parley server: config →
// storage → session table → router → modules → listeners, and their orderly
// start and stop.
package app
