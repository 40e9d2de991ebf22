package main

import (
	"context"
	"flag"
	"fmt"
	"runtime"
	"runtime/debug"

	"github.com/stsgo/sts"
)

func init() {
	register("version", &command{
		summary: "Print the version of sts, of the library and of Go.",
		usage:   "sts version",
		setup: func(fs *flag.FlagSet) func(context.Context, *env, []string) error {
			return func(_ context.Context, e *env, args []string) error {
				if len(args) > 0 {
					return usagef("takes no arguments")
				}
				mod := "(devel)"
				if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" {
					mod = bi.Main.Version
				}
				fmt.Fprintf(e.stdout, "sts %s (module %s, %s %s/%s)\n", sts.Version, mod, runtime.Version(), runtime.GOOS, runtime.GOARCH)
				return nil
			}
		},
	})
}
