// Package waddleai is a client for the WaddleAI gateway, the OpenAI-compatible
// LLM proxy of the PenguinTech stack.
//
// The PenguinTech integration standards describe two operations, text
// analysis and text generation, as if WaddleAI served them on
// /api/v1/analyze and /api/v1/generate. The gateway as published serves
// neither: it speaks the OpenAI chat API on /v1/chat/completions. This
// package therefore offers the chat API itself ([Client.ChatCompletion],
// [Client.ChatCompletionStream]) and builds the two standard operations on
// top of it ([Client.AnalyzeText], [Client.GenerateResponse],
// [Client.GenerateStream]).
//
// A Client is safe for concurrent use. Its connection settings (URL, API key,
// timeout, default model) can be replaced at run time with [Client.Update];
// requests already under way finish with the settings they started with.
//
// Every error the package returns starts with "waddleai: " and can be tested
// with errors.Is against the sentinel errors (ErrUnauthorized, ErrBlocked,
// ...). Errors from the gateway are *APIError values. The API key never
// appears in an error, a log line or a printed value: it is a [Secret], the
// one secret type of rookery (package secret states the rules), and text from
// the gateway that echoes it is redacted.
package waddleai
