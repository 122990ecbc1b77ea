//go:build !linux

package main

func raiseFileLimit() error { return nil }
