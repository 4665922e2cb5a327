//go:build browser

// The browser test needs Chromium, so it runs only with the browser tag:
// `make test` sets it (and installs Chromium when run as root);
// `go test ./...` leaves it out.

package worker_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
	"github.com/hibiken/asynq"
	"github.com/stretchr/testify/require"

	"github.com/genwatch/genwatch"
	"github.com/genwatch/genwatch/internal/cli/clitest"
	"github.com/genwatch/genwatch/internal/redistest"
	"github.com/genwatch/genwatch/internal/schedule"
	"github.com/genwatch/genwatch/internal/simulator"
	"github.com/genwatch/genwatch/worker"
)

// updateScreenshotEnv, set to 1, makes TestDashboardInBrowser write the
// README's screenshot of the dashboard to docs/dashboard.png:
// GENWATCH_UPDATE_SCREENSHOT=1 go test -tags browser -run DashboardInBrowser ./worker
const updateScreenshotEnv = "GENWATCH_UPDATE_SCREENSHOT"

// browserTimeout bounds everything the browser does in one test.
const browserTimeout = 60 * time.Second

// TestDashboardInBrowser opens the asynqmon dashboard in headless Chromium,
// as an operator would, and checks that genwatch's tracking tasks read well
// there: the queue is listed, a waiting generation says what it waits for,
// also on its own page when its ID has a "/", and a finished one shows its
// completion event as its result.
func TestDashboardInBrowser(t *testing.T) {
	t.Parallel()
	chromium := lookChromium(t)
	e := setupE2E(t)
	update := os.Getenv(updateScreenshotEnv) == "1"
	if update && !redistest.Real() {
		// On its own miniredis the queue can have the name it has in
		// production, which reads best in the README.
		e.renameQueue(t, "genwatch")
	}
	q := e.Config.Queue

	// The waiting generation polls once and then waits minutes for its next
	// poll, so that it stays in the retry set while the browser looks.
	slow := e.Config.Providers[genwatch.ProviderHooked]
	slow.Poll = schedule.Policy{Initial: 5 * time.Minute, Max: 5 * time.Minute}
	e.Config.Providers[genwatch.ProviderHooked] = slow
	// asynqmon's own tables cut a task ID at its first "-" (it expects
	// UUIDs); genwatch serves them whole, and waitRow looks for the whole
	// ID, dashes and all.
	e.Sim.Create(genwatch.ProviderHoox, "clip-42-7f3a", simulator.Plan{RunFor: time.Second})
	e.Sim.Create(genwatch.ProviderHooked, "clip-43-9c1e", simulator.Plan{Outcome: simulator.Never, RunFor: simulator.Forever})
	e.Sim.Create(genwatch.ProviderHooked, "runs/2026/clip-44", simulator.Plan{Outcome: simulator.Never, RunFor: simulator.Forever})
	w := e.start(t, worker.Options{})

	done := e.track(t, genwatch.Request{Provider: genwatch.ProviderHoox, GenerationID: "clip-42-7f3a", Metadata: json.RawMessage(`{"order":42}`)})
	waiting := e.track(t, genwatch.Request{Provider: genwatch.ProviderHooked, GenerationID: "clip-43-9c1e", Metadata: json.RawMessage(`{"order":43}`)})
	slashed := e.track(t, genwatch.Request{Provider: genwatch.ProviderHooked, GenerationID: "runs/2026/clip-44", Metadata: json.RawMessage(`{"order":44}`)})
	ev := e.waitEvents(t, 1)[0]
	require.Equal(t, "clip-42-7f3a", ev.GenerationID)
	require.Equal(t, genwatch.StatusCompleted, ev.Status)
	e.waitTaskState(t, q, done.TaskID, asynq.TaskStateCompleted)
	e.waitTaskState(t, q, waiting.TaskID, asynq.TaskStateRetry)
	e.waitTaskState(t, q, slashed.TaskID, asynq.TaskStateRetry)

	b := newBrowser(t, chromium)
	b.do(chromedp.Navigate("http://" + w.Addr().String() + worker.DashboardPath + "/"))

	// The queues page lists the queue; its name links to the queue's page.
	queueLink := `//table//a[normalize-space(.)="` + q + `"]`
	b.do(chromedp.WaitVisible(queueLink))
	b.do(chromedp.Click(queueLink))

	// Retry tab: the waiting generation, its payload as indented JSON and a
	// last error that says what it waits for.
	b.clickTab("Retry")
	b.waitRow(waiting.TaskID, `"generation_id": "clip-43-9c1e"`, `"order": 43`, waitingError)
	if update {
		b.saveScreenshot(filepath.Join("..", "docs", "dashboard.png"))
	}

	// The task's own page shows the whole of it.
	b.do(chromedp.Click(`//tbody/tr[contains(., "` + waiting.TaskID + `")]`))
	b.waitText("main", `ID:\s*`+regexp.QuoteMeta(waiting.TaskID), `State:\s*retry`, waitingError)
	b.do(chromedp.NavigateBack())

	// So does the page of a task whose generation ID has a "/", which
	// asynqmon alone neither links to nor serves.
	b.clickTab("Retry")
	b.waitRow(slashed.TaskID, `"generation_id": "runs/2026/clip-44"`, waitingError)
	b.do(chromedp.Click(`//tbody/tr[contains(., "` + slashed.TaskID + `")]`))
	b.waitText("main", `ID:\s*`+regexp.QuoteMeta(slashed.TaskID), `State:\s*retry`, waitingError)
	b.do(chromedp.NavigateBack())

	// Completed tab: the finished generation, with its completion event as
	// the task's result.
	b.clickTab("Completed")
	b.waitRow(done.TaskID, `"generation_id": "clip-42-7f3a"`, regexp.QuoteMeta(`"id": "`+ev.ID+`"`), `"status": "completed"`, `"type": "generation.completed"`)
}

// waitingError is the last error of a generation that waits for its next
// poll, as tasks.PollAgain writes it.
const waitingError = `(running, \d+%|pending)(, done (in ~\w+|any moment))?, next poll in \d`

// renameQueue points the test's worker and client at queue name.
func (e *e2e) renameQueue(t *testing.T, name string) {
	t.Helper()
	e.Config = clitest.NewConfig(e.Redis.URL, e.SimURL, name)
	aq := asynq.NewClientFromRedisClient(e.Redis.Client)
	t.Cleanup(func() { _ = aq.Close() })
	e.Client = genwatch.NewClient(aq, genwatch.ClientConfig{Queue: e.Config.Queue, Accounts: e.Config.Accounts()})
}

// lookChromium finds Debian's chromium. A missing browser fails the test:
// skipping would let CI pass without ever opening the dashboard.
func lookChromium(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "/usr/bin/chromium"} {
		if path, err := exec.LookPath(name); err == nil {
			return path
		}
	}
	t.Fatal("chromium is not installed; this test drives the dashboard in it. " +
		"Install it with `apt-get install chromium` (Debian), or run `make test`, which installs it when run as root. " +
		"Without Chromium, leave out the browser build tag.")
	return ""
}

// browser is one headless Chromium tab, bounded by browserTimeout.
type browser struct {
	t *testing.T
	// tab is the tab's context; ctx bounds the actions.
	tab, ctx context.Context
}

func newBrowser(t *testing.T, execPath string) *browser {
	t.Helper()
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(),
		chromedp.ExecPath(execPath),
		chromedp.Flag("headless", true),
		chromedp.Flag("no-sandbox", true),
		chromedp.Flag("disable-gpu", true),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("no-first-run", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1400, 900),
	)
	t.Cleanup(cancelAlloc)
	// The browser lives a little longer than its actions may take, so that a
	// failure can still read the page.
	life, cancelLife := context.WithTimeout(actx, browserTimeout+10*time.Second)
	t.Cleanup(cancelLife)
	tab, cancelTab := chromedp.NewContext(life)
	t.Cleanup(cancelTab)
	if err := chromedp.Do(tab); err != nil {
		t.Fatalf("start %s: %v", execPath, err)
	}
	ctx, cancel := context.WithTimeout(tab, browserTimeout)
	t.Cleanup(cancel)
	b := &browser{t: t, tab: tab, ctx: ctx}
	// The dashboard links fonts from Google; only the worker is reachable,
	// so that no test waits on the network.
	b.do(chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		if _, err := cdp.Call(ctx, t, network.Enable, network.EnableParams{}); err != nil {
			return err
		}
		_, err := cdp.Call(ctx, t, network.SetBlockedURLs, network.SetBlockedURLsParams{URLPatterns: []*network.BlockPattern{
			{URLPattern: "http://127.0.0.1:*/*", Block: false},
			{URLPattern: "*://*:*/*", Block: true},
		}})
		return err
	}))
	b.do(chromedp.EmulateViewport(1400, 900))
	return b
}

// do runs actions and fails the test on an error.
func (b *browser) do(actions ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	if err := chromedp.Do(b.ctx, actions...); err != nil {
		b.fail("%v", err)
	}
}

// waitText waits until the text of an element matching the CSS selector
// matches every regular expression.
func (b *browser) waitText(selector string, patterns ...string) {
	b.t.Helper()
	b.poll(fmt.Sprintf("%s to show %q", selector, patterns), `(sel, res) => {
		const rs = res.map(re => new RegExp(re));
		return [...document.querySelectorAll(sel)].some(el => rs.every(r => r.test(el.innerText)));
	}`, selector, patterns)
}

// waitRow waits until a row of the task table shows the task ID, whole,
// and matches every regular expression.
func (b *browser) waitRow(taskID string, patterns ...string) {
	b.t.Helper()
	b.poll(fmt.Sprintf("a row of %s to show %q", taskID, patterns), `(id, res) => {
		const rs = res.map(re => new RegExp(re));
		return [...document.querySelectorAll("tbody tr")].some(tr =>
			tr.querySelector("th") && tr.querySelector("th").innerText.trim() === id &&
			rs.every(r => r.test(tr.innerText)));
	}`, taskID, patterns)
}

// poll waits until the JavaScript predicate, called with args, is true.
// The dashboard refreshes itself, so the predicate is tried again until
// the browser's deadline.
func (b *browser) poll(what, predicate string, args ...any) {
	b.t.Helper()
	_, err := chromedp.Run(b.ctx, chromedp.PollFunction[bool](predicate,
		chromedp.WithPollingArgs(args...),
		chromedp.WithPollingInterval(50*time.Millisecond),
		chromedp.WithPollingTimeout(0), // b.ctx has the deadline
	))
	if err != nil {
		b.fail("waiting for %s: %v", what, err)
	}
}

// clickTab opens a task list of the queue's page ("Retry", "Completed")
// by clicking its chip, and waits until the chip shows as selected.
func (b *browser) clickTab(label string) {
	b.t.Helper()
	chip := `//div[contains(@class, "MuiChip-clickable")][starts-with(normalize-space(.), "` + label + ` ")]`
	b.do(
		chromedp.Click(chip, chromedp.NodeVisible),
		chromedp.WaitVisible(chip+`[contains(@class, "MuiChip-colorPrimary")]`),
	)
}

func (b *browser) saveScreenshot(path string) {
	b.t.Helper()
	png, err := chromedp.Run(b.ctx, chromedp.CaptureScreenshot())
	if err != nil {
		b.fail("screenshot: %v", err)
	}
	require.NoError(b.t, os.MkdirAll(filepath.Dir(path), 0o755))
	require.NoError(b.t, os.WriteFile(path, png, 0o644))
	b.t.Logf("wrote %s", path)
}

// fail reports what the page showed, keeps a screenshot among the test's
// artifacts (go test -artifacts), and fails.
func (b *browser) fail(format string, args ...any) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.tab, 5*time.Second)
	defer cancel()
	if loc, err := chromedp.Run(ctx, chromedp.Location()); err == nil {
		b.t.Logf("page: %s", loc)
	}
	if text, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.body ? document.body.innerText : ""`)); err == nil {
		b.t.Logf("page text:\n%s", text)
	}
	if png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100)); err == nil {
		path := filepath.Join(b.t.ArtifactDir(), "dashboard.png")
		if os.WriteFile(path, png, 0o644) == nil {
			b.t.Logf("screenshot: %s", path)
		}
	}
	b.t.Fatalf(format, args...)
}
