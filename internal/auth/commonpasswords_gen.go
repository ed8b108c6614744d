//go:build ignore

// commonpasswords_gen turns the passwords list of the npm package
// @zxcvbn-ts/language-common into commonpasswords.txt: one password per
// line, lower-cased, in the package's order (most common first), without
// duplicates. Reproduce it with:
//
//	npm pack @zxcvbn-ts/language-common@4.1.3
//	tar xzf zxcvbn-ts-language-common-4.1.3.tgz
//	go run commonpasswords_gen.go package/src/passwords.json > commonpasswords.txt
//
// and update COMMONPASSWORDS_NOTICE.md when the version changes.
package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"strings"
)

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: go run commonpasswords_gen.go PATH/TO/passwords.json")
		os.Exit(2)
	}
	raw, err := os.ReadFile(os.Args[1])
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	var list []string
	if err := json.Unmarshal(raw, &list); err != nil {
		fmt.Fprintf(os.Stderr, "%s: %v\n", os.Args[1], err)
		os.Exit(1)
	}
	out := bufio.NewWriter(os.Stdout)
	seen := make(map[string]bool, len(list))
	for _, p := range list {
		p = strings.ToLower(strings.TrimSpace(p))
		// A line break inside an entry would split it in two on reading.
		if p == "" || seen[p] || strings.ContainsAny(p, "\r\n") {
			continue
		}
		seen[p] = true
		fmt.Fprintln(out, p)
	}
	if err := out.Flush(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}
