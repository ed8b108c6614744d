// Command openapigen writes rookery's API document (OpenAPI 3.1) to
// standard output:
//
//	go run ./internal/httpapi/openapigen > docs/openapi.json
package main

import (
	"fmt"
	"os"

	"github.com/rookery/rookery/internal/httpapi"
)

func main() {
	doc, err := httpapi.OpenAPI()
	if err != nil {
		fmt.Fprintln(os.Stderr, "openapigen:", err)
		os.Exit(1)
	}
	if _, err := os.Stdout.Write(doc); err != nil {
		fmt.Fprintln(os.Stderr, "openapigen:", err)
		os.Exit(1)
	}
}
