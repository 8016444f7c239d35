package main

// main is empty: built with -buildmode=c-shared the engine is a reactor,
// and the host drives it through its exports after calling _initialize.
func main() {}
