package api

import (
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"fmt"
	"io"
	"net/http"

	"go.uber.org/zap"

	"github.com/genwatch/genwatch"
	"github.com/genwatch/genwatch/internal/providers"
	"github.com/genwatch/genwatch/secret"
)

// Outcomes of a hook call that never reach the Poller, as counted by
// HookObserver next to the hint.Outcome values.
const (
	HookRefused  = "refused"   // wrong token or provider: 404
	HookTooLarge = "too_large" // body over MaxHookBodyBytes: 413
	HookNoID     = "no_id"     // no generation ID where the provider keeps it: 400
	HookInvalid  = "invalid"   // an ID or account the contract refuses: 400
	HookError    = "error"     // the hint failed (Redis): 503
)

// hookProviderOther stands for every unknown provider name in metrics, so
// that a caller cannot grow the label set.
const hookProviderOther = "other"

// hookKeys holds the digest of the hooks token, so that a token presented
// is compared in time independent of its length and content.
type hookKeys struct {
	set    bool
	digest [sha256.Size]byte
}

func newHookKeys(tok secret.Value) hookKeys {
	if tok == "" {
		return hookKeys{}
	}
	return hookKeys{set: true, digest: sha256.Sum256([]byte(tok.Reveal()))}
}

func (k hookKeys) match(presented string) bool {
	sum := sha256.Sum256([]byte(presented))
	return subtle.ConstantTimeCompare(sum[:], k.digest[:]) == 1 && k.set
}

// hookAnswer is the body of a 202: it says the same whether or not the
// generation is tracked.
type hookAnswer struct {
	Status string `json:"status"`
}

// hook serves POST /v1/hooks/{provider}/{token}?account=NAME: a provider
// says a generation may have ended. Its ID is read where the provider's
// status body keeps it and handed to the Poller.
func (a *API) hook(w http.ResponseWriter, r *http.Request) {
	provider := r.PathValue("provider")
	paths, known := a.cfg.Hooks.IDPaths[provider]
	// The token is compared whatever the provider, so that the time taken
	// tells nothing about which one was wrong.
	tokenOK := a.hooks.match(r.PathValue("token"))
	if !tokenOK || !known || len(paths) == 0 {
		if !known {
			provider = hookProviderOther
		}
		a.observeHook(provider, HookRefused)
		WriteError(w, http.StatusNotFound, CodeNotFound, "no such endpoint; see /v1/openapi.json")
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxHookBodyBytes))
	var tooLarge *http.MaxBytesError
	switch {
	case errors.As(err, &tooLarge):
		a.observeHook(provider, HookTooLarge)
		WriteError(w, http.StatusRequestEntityTooLarge, CodeTooLarge, fmt.Sprintf("the body is over %d bytes", MaxHookBodyBytes))
		return
	case err != nil:
		a.observeHook(provider, HookInvalid)
		WriteError(w, http.StatusBadRequest, CodeInvalidRequest, "read body: "+err.Error())
		return
	}
	id, ok := providers.FindID(body, paths)
	if !ok {
		a.observeHook(provider, HookNoID)
		WriteError(w, http.StatusBadRequest, CodeInvalidRequest,
			fmt.Sprintf("no generation ID in the body: %s keeps it at %v", provider, paths))
		return
	}
	req := genwatch.Request{Provider: provider, GenerationID: id, Account: r.URL.Query().Get("account")}
	if _, problems := a.checkRequest(req); len(problems) > 0 {
		a.observeHook(provider, HookInvalid)
		WriteError(w, http.StatusBadRequest, CodeInvalidRequest, "invalid hint: "+joinProblems(problems))
		return
	}
	outcome, err := a.cfg.Hooks.Poller.PollNow(r.Context(), req.TaskID())
	if err != nil {
		a.observeHook(provider, HookError)
		a.failed(w, r, "could not take the hint: Redis is unavailable", err)
		return
	}
	a.observeHook(provider, string(outcome))
	a.log.Debug("webhook hint", zap.String("provider", provider), zap.String("generation_id", id), zap.String("outcome", string(outcome)))
	writeJSON(w, http.StatusAccepted, hookAnswer{Status: "accepted"})
}

func (a *API) observeHook(provider, outcome string) {
	if a.cfg.Hooks.Observer != nil {
		a.cfg.Hooks.Observer.Hook(provider, outcome)
	}
}
