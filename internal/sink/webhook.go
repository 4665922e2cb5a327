package sink

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/hibiken/asynq"
	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"
	"go.uber.org/zap"

	"github.com/genwatch/genwatch"
	"github.com/genwatch/genwatch/internal/providers"
	"github.com/genwatch/genwatch/secret"
)

// WebhookConfig configures one webhook endpoint.
type WebhookConfig struct {
	// Name names the endpoint (its route is "webhook:<name>"). Required.
	Name string
	// URL receives a POST per event. Required.
	URL string
	// Secrets sign the deliveries: "whsec_" and base64, per Standard
	// Webhooks. While a secret is being rotated there are two: every
	// delivery carries one signature per secret, so a receiver that knows
	// either verifies it. At least one is required.
	Secrets []secret.Value
	// Client sends the requests. If nil, http.DefaultClient.
	Client *http.Client
	// Timeout bounds one delivery. If zero, 10 s.
	Timeout time.Duration
	// Now tells the time for the signature. If nil, time.Now.
	Now func() time.Time
	// Endpoints keeps which endpoints are disabled, for the fleet. If nil,
	// a 410 is a permanent failure of that delivery only.
	Endpoints *Endpoints
	// Observer is told when the endpoint is disabled. If nil, nothing.
	Observer Observer
	// Logger logs. If nil, nothing.
	Logger *zap.Logger
}

// Webhook POSTs events to one endpoint, signed per Standard Webhooks:
// headers webhook-id (the event ID, stable across retries),
// webhook-timestamp and webhook-signature.
//
// Any 2xx is success. A 4xx other than 408, 409, 425 and 429 is not retried
// (the delivery is archived at once); 410 Gone also disables the endpoint
// for the whole fleet until an operator enables it again. Anything else is
// retried on Schedule, or after the receiver's Retry-After.
type Webhook struct {
	cfg     WebhookConfig
	signers []*standardwebhooks.Webhook
}

// NewWebhook checks the configuration and returns the sink.
func NewWebhook(cfg WebhookConfig) (*Webhook, error) {
	if cfg.Name == "" || cfg.URL == "" {
		return nil, fmt.Errorf("webhook: name and url are required")
	}
	if len(cfg.Secrets) == 0 {
		return nil, fmt.Errorf("webhook %s: a secret is required", cfg.Name)
	}
	w := &Webhook{cfg: cfg}
	for i, s := range cfg.Secrets {
		signer, err := standardwebhooks.NewWebhook(s.Reveal())
		if err != nil {
			// The library's message never holds the secret.
			return nil, fmt.Errorf("webhook %s: secret %d: %w", cfg.Name, i+1, err)
		}
		w.signers = append(w.signers, signer)
	}
	if w.cfg.Client == nil {
		w.cfg.Client = http.DefaultClient
	}
	if w.cfg.Timeout <= 0 {
		w.cfg.Timeout = 10 * time.Second
	}
	if w.cfg.Now == nil {
		w.cfg.Now = time.Now
	}
	if w.cfg.Observer == nil {
		w.cfg.Observer = nopObserver{}
	}
	if w.cfg.Logger == nil {
		w.cfg.Logger = zap.NewNop()
	}
	return w, nil
}

// HTTPError is a webhook delivery the receiver answered with a status other
// than 2xx.
type HTTPError struct {
	Endpoint string
	Status   int
	// RetryAfter is the receiver's Retry-After, zero when absent.
	RetryAfter time.Duration
}

// Error implements error.
func (e *HTTPError) Error() string {
	return fmt.Sprintf("webhook %s answered %d", e.Endpoint, e.Status)
}

// Retryable reports whether a delivery answered with status is tried
// again: 5xx, and of 4xx only 408, 409, 425 and 429.
func Retryable(status int) bool {
	switch status {
	case http.StatusRequestTimeout, http.StatusConflict, http.StatusTooEarly, http.StatusTooManyRequests:
		return true
	}
	return status < 400 || status > 499
}

// ErrEndpointDisabled is wrapped by the error of a delivery to a disabled
// endpoint: it is archived at once, for replay once the endpoint is
// enabled again.
var ErrEndpointDisabled = errors.New("endpoint disabled")

// Deliver implements Sink.
func (w *Webhook) Deliver(ctx context.Context, event genwatch.Event, encoded []byte) error {
	if w.cfg.Endpoints != nil {
		d, err := w.cfg.Endpoints.Disabled(ctx, w.cfg.Name)
		if err != nil {
			return fmt.Errorf("webhook %s: %w", w.cfg.Name, err)
		}
		if d != nil {
			return fmt.Errorf("webhook %s: %w since %s (%s): %w", w.cfg.Name, ErrEndpointDisabled,
				d.At.Format(time.RFC3339), d.Reason, asynq.SkipRetry)
		}
	}
	ctx, cancel := context.WithTimeout(ctx, w.cfg.Timeout)
	defer cancel()
	now := w.cfg.Now()
	sigs := make([]string, len(w.signers))
	for i, s := range w.signers {
		sig, err := s.Sign(event.ID, now, encoded)
		if err != nil {
			return fmt.Errorf("webhook %s: sign: %w", w.cfg.Name, err)
		}
		sigs[i] = sig
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, w.cfg.URL, bytes.NewReader(encoded))
	if err != nil {
		return fmt.Errorf("webhook %s: %w", w.cfg.Name, err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "genwatch")
	req.Header.Set("webhook-id", event.ID)
	req.Header.Set("webhook-timestamp", fmt.Sprint(now.Unix()))
	req.Header.Set("webhook-signature", strings.Join(sigs, " "))
	resp, err := w.cfg.Client.Do(req)
	if err != nil {
		return fmt.Errorf("webhook %s: post: %w", w.cfg.Name, err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode >= 200 && resp.StatusCode <= 299 {
		return nil
	}
	herr := &HTTPError{Endpoint: w.cfg.Name, Status: resp.StatusCode,
		RetryAfter: providers.ParseRetryAfter(resp.Header.Get("Retry-After"), now)}
	if resp.StatusCode == http.StatusGone {
		w.disable(ctx, now)
	}
	if !Retryable(resp.StatusCode) {
		return fmt.Errorf("%w: not retried: %w", herr, asynq.SkipRetry)
	}
	return herr
}

// disable marks the endpoint disabled for the fleet, once, and says so
// loudly.
func (w *Webhook) disable(ctx context.Context, now time.Time) {
	log := w.cfg.Logger.With(zap.String("endpoint", w.cfg.Name), zap.String("url", origin(w.cfg.URL)))
	if w.cfg.Endpoints == nil {
		log.Error("webhook endpoint answered 410 Gone; this delivery is not retried")
		return
	}
	first, err := w.cfg.Endpoints.Disable(context.WithoutCancel(ctx), w.cfg.Name, "410 Gone", now)
	if err != nil {
		log.Error("webhook endpoint answered 410 Gone, but could not be disabled", zap.Error(err))
		return
	}
	if first {
		w.cfg.Observer.EndpointDisabled(w.cfg.Name)
		log.Error("webhook endpoint answered 410 Gone: DISABLED for every worker; its deliveries are archived until `genwatch deliveries enable " +
			w.cfg.Name + "`, then `genwatch deliveries replay --sink webhook:" + w.cfg.Name + " --all`")
	}
}

// origin keeps only the scheme and host of an endpoint URL, for logs: its
// path and query may hold a token.
func origin(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "(unparsable URL)"
	}
	return u.Scheme + "://" + u.Host
}
