// Package greet is a vendored dependency of the corpus' Go fixtures.
package greet

import "fmt"

// Hello greets name.
func Hello(name string) string { return fmt.Sprintf("hello, %s", name) }
