// Command rookery is the PenguinTech integration server: configuration in
// the database, licence gating, WaddleAI, KillKrill and MarchProxy in one
// binary. It is the rookery framework with nothing added.
package main

import "github.com/rookery/rookery"

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

func main() {
	rookery.New(rookery.Options{Name: "rookery", Version: version}).Execute()
}
