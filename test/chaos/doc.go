// Package chaos holds the chaos test of a genwatch fleet: several worker
// processes on one real Redis track a few thousand simulated generations
// while workers are killed with SIGKILL at random and Redis is restarted
// once, and the test then checks that every generation ended with exactly
// one event of the status its plan called for, and that none is left
// waiting.
//
// The test is behind the chaos build tag, so that go test ./... skips it.
// It needs redis-server in PATH and takes about four minutes:
//
//	go test -tags chaos -run Chaos -v ./test/chaos/ -timeout 30m
//
// Environment variables change its size and pace: CHAOS_GENERATIONS
// (default 3000), CHAOS_WORKERS (4), CHAOS_RATE (generations enqueued per
// second, 25), CHAOS_KILL_EVERY (mean time between kills, 4s), CHAOS_SEED
// (1), CHAOS_REDIS_STOP (how Redis is stopped: term or kill), CHAOS_SETTLE
// (how long to wait for the last events once the chaos ends, 6m). It
// writes its figures as JSON to the file named by CHAOS_REPORT, and keeps
// its directory (Redis data, worker logs) when it fails or CHAOS_KEEP is
// set. docs/reliability.md records a run.
package chaos
