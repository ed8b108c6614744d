package waddleai

import (
	"context"
	"fmt"
	"strings"
)

// Generation is the result of GenerateResponse, and of Stream.Collect.
type Generation struct {
	Text         string `json:"text"`
	Model        string `json:"model"`
	FinishReason string `json:"finish_reason"`
	Usage        Usage  `json:"usage"`
}

// GenerateResponse is the standards' "generate" operation built on chat
// completions: contextText (if any) becomes the system message and prompt
// the user message; the result is the first choice's content.
func (c *Client) GenerateResponse(ctx context.Context, prompt, contextText string) (*Generation, error) {
	const op = "generate"
	req, err := generateRequest(prompt, contextText)
	if err != nil {
		return nil, fmt.Errorf("waddleai: %s: %w", op, err)
	}
	resp, err := c.chat(ctx, op, req)
	if err != nil {
		return nil, err
	}
	return &Generation{
		Text:         resp.Content(),
		Model:        resp.Model,
		FinishReason: resp.Choices[0].FinishReason,
		Usage:        resp.Usage,
	}, nil
}

// GenerateStream is GenerateResponse as a stream, for answers that take
// longer than a user wants to stare at a spinner.
func (c *Client) GenerateStream(ctx context.Context, prompt, contextText string) (*Stream, error) {
	const op = "generate stream"
	req, err := generateRequest(prompt, contextText)
	if err != nil {
		return nil, fmt.Errorf("waddleai: %s: %w", op, err)
	}
	return c.stream(ctx, op, req)
}

func generateRequest(prompt, contextText string) (ChatRequest, error) {
	if strings.TrimSpace(prompt) == "" {
		return ChatRequest{}, fmt.Errorf("%w: the prompt is empty", ErrInvalidInput)
	}
	msgs := make([]Message, 0, 2)
	if strings.TrimSpace(contextText) != "" {
		msgs = append(msgs, Message{Role: RoleSystem, Content: contextText})
	}
	msgs = append(msgs, Message{Role: RoleUser, Content: prompt})
	return ChatRequest{Messages: msgs}, nil
}
