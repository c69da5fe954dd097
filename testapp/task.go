package main

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"
)

// runTask performs the one-off task its arguments name, instead of
// serving, and returns the exit code; tests run it as `docker run IMAGE
// ARGS` does (the image's ENTRYPOINT is the binary):
//
//	echo WORDS...        print WORDS on stdout, exit 0
//	exit N [WORDS...]    print WORDS (or a line saying so) on stdout, a line on stderr, exit N
//	sleep DURATION       sleep, then print "slept DURATION", exit 0
//	env KEY              print KEY=value of the task's env, exit 0 (1 when unset)
func runTask(args []string) int {
	switch {
	case args[0] == "echo":
		fmt.Println(strings.Join(args[1:], " "))
		return 0
	case args[0] == "exit" && len(args) >= 2:
		code, err := strconv.Atoi(args[1])
		if err != nil {
			fmt.Fprintf(os.Stderr, "exit %q: not a number\n", args[1])
			return 2
		}
		if len(args) > 2 {
			fmt.Println(strings.Join(args[2:], " "))
		} else {
			fmt.Printf("task exiting with status %d\n", code)
		}
		fmt.Fprintf(os.Stderr, "exit %d\n", code)
		return code
	case args[0] == "sleep" && len(args) == 2:
		d, err := time.ParseDuration(args[1])
		if err != nil {
			fmt.Fprintf(os.Stderr, "sleep %q: %v\n", args[1], err)
			return 2
		}
		time.Sleep(d)
		fmt.Printf("slept %s\n", d)
		return 0
	case args[0] == "env" && len(args) == 2:
		v, ok := os.LookupEnv(args[1])
		if !ok {
			fmt.Fprintf(os.Stderr, "%s is not set\n", args[1])
			return 1
		}
		fmt.Printf("%s=%s\n", args[1], v)
		return 0
	}
	fmt.Fprintf(os.Stderr, "testapp: unknown task %q: give echo, exit, sleep or env\n", strings.Join(args, " "))
	return 2
}
