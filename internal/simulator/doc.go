// Package simulator imitates the status endpoints of the AI media providers
// that genwatch polls, so that genwatch can be tested, demonstrated,
// benchmarked and abused without real credentials.
//
// One Simulator is one http.Handler that serves the status APIs of its
// providers: the built-in ones (package builtin) unless Config.Providers
// lists others, such as a provider declared in a configuration file. Each
// is imitated as its providers.Definition says (endpoint, auth header,
// words and body shapes). The built-in paths do not overlap:
//
//	hoox      GET /api/public/v1/asset/status/{assetId}   Authorization: Bearer KEY
//	hooked    GET /v1/video/{videoId}                      x-api-key: KEY
//	token360  GET /v1/videos/{video_id}                    Authorization: Bearer KEY
//
// Every provider is also served under "/<name>", which tells apart
// providers whose paths coincide (an OpenAI-compatible videos API and
// Token360 both answer /v1/videos/{id}): point a provider's base URL at
// "<simulator>/<name>" and it reaches that provider whatever its path.
//
// Mount it on one httptest.Server (or one listener) and point every
// provider's base URL at it. The ID is read from the escaped path as a single
// segment, so an ID containing "/", "?", "%" or spaces must be sent
// path-escaped, exactly as the real APIs require; an unescaped "/" does not
// reach a generation and gets a plain-text 404.
//
// # Generations
//
// Each generation follows a Plan measured from its creation, on the injected
// clock: hidden (answered 404, as an ID the provider has not stored yet),
// then pending, then running with progress rising from 0 to 99 (linearly, or
// along a curve that starts slow or fast, in coarse steps, stalling at 99 or
// frozen at 0, as Plan says), then completed or failed, or running forever. The provider words for these
// phases are:
//
//	phase      hoox        hooked     token360
//	pending    pending     STARTED    queued
//	running    generating  STARTED    in_progress
//	completed  completed   COMPLETED  completed
//	failed     failed      FAILED     failed
//
// Response bodies are shaped like the examples in the providers'
// documentation, including the fields genwatch ignores, and the media
// attributes of a completed generation (URL, size, duration, cost and so on)
// are derived from its ID, so that the same ID always gives the same answer.
// A response is encoded once per change of phase or progress and then reused.
//
// Generations are made with Create, or by their first request when
// Config.AutoCreate is set, their plan running from then on. An
// auto-created generation takes its plan from its ID, which lets a person
// running the demo choose an outcome by naming the job:
//
//	fail-…     fails, with code "content_policy_violation"
//	never-…    runs forever
//	missing-…  is never found: always 404
//	slow-…     takes ten times as long
//	late-…     is not found (404) for its first 5 seconds
//	anything   completes after Config.DefaultPlan or, when that is zero,
//	           after 1–3 s pending and 3–8 s running, chosen by a hash of the ID
//
// Prefixes stack: "late-fail-7" is hidden for 5 seconds and then fails.
//
// # Keys
//
// Config.Keys maps a provider name to the one key it accepts; a provider with
// no entry accepts any non-empty key. A missing or wrong key is answered 401
// by hoox and token360 and 403 by hooked, as their documentation says.
//
// # Faults
//
// SetFaults makes one provider misbehave: answer 5xx or 429 at random, each
// status code at a rate of its own, answer one status code every time, or
// 429 to everything during bursts; answer slowly, or never; send a 200 whose
// body is cut short, dropped midway or trickled out slowly; or forget
// generations after a while (Plan.VanishAfter forgets one). The random
// choices come from a source seeded by Config.Seed, so a sequential test
// sees the same faults on every run. InjectedFaults counts the faults
// injected, by kind.
//
// # Webhooks
//
// Config.Callbacks makes the simulator call back like the real providers:
// when a generation ends, it POSTs the provider's status body at the end to
// that provider's URL, after a delay, on the simulator's clock. A seeded
// fraction of webhooks is lost, sent prematurely (while the generation still
// runs) or late, as webhooks are in practice. CallbackCounts counts them.
//
// A Simulator is safe for concurrent use, and its per-request work is a map
// lookup and a write of a cached body.
package simulator
