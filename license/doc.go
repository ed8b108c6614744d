// Package license connects a Go service to the PenguinTech licence server and
// gates features on the answer.
//
// It follows the licence part of the PenguinTech integration standards: the
// licence is validated at start-up, the result is cached on disk, a keepalive
// with usage figures is sent every hour, and features are gated by tier and by
// name. It speaks the licence server's real API (POST /api/v2/validate,
// /api/v2/features and /api/v2/keepalive with a Bearer licence key).
//
// The pieces:
//
//   - [Client] is a small HTTP client for the three endpoints with typed
//     errors ([ErrUnavailable], [ErrRejected], [ErrInvalidKey], [ErrExpired]).
//   - [Manager] holds the entitlement state as an immutable snapshot, so
//     [Manager.HasFeature], [Manager.AtLeast] and [Manager.Tier] never touch
//     the network and never wait for a refresh. It runs the background
//     re-validation and keepalive loop between [Manager.Start] and
//     [Manager.Shutdown].
//   - [Manager.RequireFeature] and [Manager.RequireTier] gate net/http
//     handlers with a JSON 403.
//   - The entitlement policy: [StandardCatalogue] names the tier of each of
//     the standards' features; given as [Options.FeatureTiers], a licence of
//     that tier grants the feature in [Manager.HasFeature] even when the
//     server does not list it. [Manager.MaxUsers] is the user limit in force
//     and [Manager.CheckUserLimit] refuses one user too many with a
//     [*LimitError].
//
// With RELEASE_MODE=false (the default) nothing is enforced: every feature is
// enabled and a failed validation is only logged. With RELEASE_MODE=true a
// licence that cannot be validated (and has no usable cached result) makes
// [Manager.Start] fail.
//
// Licence keys are of type [Key], which follows the rules of package secret
// (masked in fmt with any verb, JSON, text and slog) except that the mask
// keeps the last group of a well-formed key.
package license
