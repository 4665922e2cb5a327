package api

import (
	_ "embed"
	"net/http"
)

// openAPI is the OpenAPI 3 document of the API, openapi.json. A handler
// mounted through Config.Routes has its path added to that file, and the
// tests validate every answer they get against it.
//
//go:embed openapi.json
var openAPI []byte

// OpenAPI returns the OpenAPI 3 document served at /v1/openapi.json.
func OpenAPI() []byte { return append([]byte(nil), openAPI...) }

func serveOpenAPI(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(openAPI)
}
