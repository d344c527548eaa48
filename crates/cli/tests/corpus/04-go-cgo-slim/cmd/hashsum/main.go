package main

// #include <stdlib.h>
// #include "../../csrc/fnv.h"
import "C"

import (
	"fmt"
	"os"
	"unsafe"
)

func main() {
	for _, arg := range os.Args[1:] {
		s := C.CString(arg)
		fmt.Printf("%08x  %s\n", uint32(C.fnv1a(s, C.size_t(len(arg)))), arg)
		C.free(unsafe.Pointer(s))
	}
}
