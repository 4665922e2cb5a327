package sink

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"

	"github.com/genwatch/genwatch"
	"github.com/genwatch/genwatch/internal/secret"
)

// WebhookConfig configures a Webhook.
type WebhookConfig struct {
	// URL receives a POST per event.
	URL string
	// Secret signs the deliveries: "whsec_" and base64, per Standard
	// Webhooks.
	Secret secret.Value
	// Client sends the requests. If nil, http.DefaultClient.
	Client *http.Client
	// Timeout bounds one delivery. If zero, 10 s.
	Timeout time.Duration
	// Now tells the time for the signature. If nil, time.Now.
	Now func() time.Time
}

// Webhook POSTs events signed per Standard Webhooks: headers webhook-id
// (the event ID, stable across retries), webhook-timestamp and
// webhook-signature.
type Webhook struct {
	cfg    WebhookConfig
	signer *standardwebhooks.Webhook
}

// NewWebhook checks the secret and returns the sink.
func NewWebhook(cfg WebhookConfig) (*Webhook, error) {
	signer, err := standardwebhooks.NewWebhook(cfg.Secret.Reveal())
	if err != nil {
		return nil, fmt.Errorf("webhook secret: %w", err)
	}
	if cfg.Client == nil {
		cfg.Client = http.DefaultClient
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 10 * time.Second
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Webhook{cfg: cfg, signer: signer}, nil
}

// Deliver implements Sink. Any 2xx is success; anything else is retried.
func (w *Webhook) Deliver(ctx context.Context, event genwatch.Event, encoded []byte) error {
	ctx, cancel := context.WithTimeout(ctx, w.cfg.Timeout)
	defer cancel()
	now := w.cfg.Now()
	sig, err := w.signer.Sign(event.ID, now, encoded)
	if err != nil {
		return fmt.Errorf("webhook: sign: %w", err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, w.cfg.URL, bytes.NewReader(encoded))
	if err != nil {
		return fmt.Errorf("webhook: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "genwatch")
	req.Header.Set("webhook-id", event.ID)
	req.Header.Set("webhook-timestamp", fmt.Sprint(now.Unix()))
	req.Header.Set("webhook-signature", sig)
	resp, err := w.cfg.Client.Do(req)
	if err != nil {
		return fmt.Errorf("webhook: post: %w", err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return fmt.Errorf("webhook: %s answered %d", req.URL.Redacted(), resp.StatusCode)
	}
	return nil
}
