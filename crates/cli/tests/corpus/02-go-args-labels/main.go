package main

import (
	"flag"
	"fmt"
	"net/http"
	"os"

	"example.com/greet"
)

var version = "dev"

func main() {
	showVersion := flag.Bool("version", false, "print the version")
	listen := flag.String("listen", ":8080", "address to serve")
	flag.Parse()
	if *showVersion {
		fmt.Printf("server %s\n", version)
		return
	}
	http.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintln(w, greet.Hello(r.URL.Path[1:]))
	})
	fmt.Fprintln(os.Stderr, "listening on", *listen)
	if err := http.ListenAndServe(*listen, nil); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}
