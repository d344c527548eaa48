package main

import (
	"fmt"
	"os"

	"example.com/greet"
)

func main() {
	name := "scratch"
	if len(os.Args) > 1 {
		name = os.Args[1]
	}
	fmt.Println(greet.Hello(name), os.Getuid())
}
