// Package exitcode runs the commands as the README shows them, built into
// binaries, and checks the exit codes it documents: go run would report
// every failure as 1.
package exitcode
