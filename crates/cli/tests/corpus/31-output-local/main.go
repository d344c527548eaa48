package main

import "fmt"

func main() { fmt.Println("exported by build -o") }
