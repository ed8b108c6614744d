// Package marchproxy gives a Go service what the PenguinTech integration
// standards ask of an application that runs behind the MarchProxy gateway:
//
//   - the standards' model of services and mappings, with validation that
//     reports every problem at once;
//   - generation of config/marchproxy/{services,mappings,import-config}.json
//     from the application's own settings;
//   - reading those files back (ReadFile, LoadDir) and checking them against
//     each other (ValidateFiles: a mappings file's references resolve against
//     the services files given with it or beside it), and the desired state
//     that diff and import bring a cluster to (Source, Desired);
//   - a client for the real MarchProxy API server (user login with refresh,
//     per-service CRUD, the proxy-facing cluster config route);
//   - a plan/apply engine that brings a cluster in line with the generated
//     services, translating the values the real server refuses.
//
// The real server departs from the standards in several ways (no bulk import,
// no mappings API, PATCH instead of PUT, a user token instead of the cluster
// key, a required cluster_id, no grpc protocol). The client and the plan speak
// the real contract; the generated files keep the standards' shapes.
//
// The package reads no environment variables and no flags: Settings is a
// plain struct that the application fills from its own configuration.
//
// Passwords, tokens and the cluster API key are [Secret] values, the one
// secret type of rookery (package secret states the rules).
//
// The package depends only on the standard library and rookery's secret
// package, and starts no goroutines.
package marchproxy
