package worker

// BreakHTTP closes the ops HTTP server's listener under it, as a failing
// network would: the server's Serve returns an error.
func (w *Worker) BreakHTTP() error { return w.listener.Close() }
