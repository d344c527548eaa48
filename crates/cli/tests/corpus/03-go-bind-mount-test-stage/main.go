package main

import (
	"fmt"

	"example.com/calc/internal/calc"
	"example.com/greet"
)

func main() {
	fmt.Println(greet.Hello("calc"), calc.Sum(20, 22))
}
