package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"sort"
	"strings"
)

func init() {
	register("completion", &command{
		summary: "Print a shell completion script for bash, zsh or fish.\n\n" +
			"Load it in the current shell with, for example:\n" +
			"  source <(sts completion bash)\n" +
			"  source <(sts completion zsh)\n" +
			"  sts completion fish | source",
		usage: "sts completion bash|zsh|fish",
		setup: func(fs *flag.FlagSet) func(context.Context, *env, []string) error {
			return func(_ context.Context, e *env, args []string) error {
				if len(args) != 1 {
					return usagef("takes one argument: bash, zsh or fish")
				}
				specs := completionSpecs()
				switch args[0] {
				case "bash":
					writeBashCompletion(e.stdout, specs)
				case "zsh":
					writeZshCompletion(e.stdout, specs)
				case "fish":
					writeFishCompletion(e.stdout, specs)
				default:
					return usagef("unknown shell %q: want bash, zsh or fish", truncate(args[0], 20))
				}
				return nil
			}
		},
	})
}

// completionSpec is what a completion script knows of one command.
type completionSpec struct {
	name, summary string
	flags         []completionFlag
}

type completionFlag struct {
	name, usage string
	takesValue  bool
}

// completionSpecs describes every registered command from its own flag set,
// so the scripts never fall behind the commands.
func completionSpecs() []completionSpec {
	names := make([]string, 0, len(commands))
	for n := range commands {
		names = append(names, n)
	}
	sort.Strings(names)
	specs := make([]completionSpec, 0, len(names))
	for _, n := range names {
		fs := flag.NewFlagSet(n, flag.ContinueOnError)
		fs.SetOutput(io.Discard)
		commands[n].setup(fs)
		s := completionSpec{name: n, summary: firstLine(commands[n].summary)}
		fs.VisitAll(func(f *flag.Flag) {
			_, usage := flag.UnquoteUsage(f)
			bf, isBool := f.Value.(interface{ IsBoolFlag() bool })
			s.flags = append(s.flags, completionFlag{
				name:       f.Name,
				usage:      firstLine(usage),
				takesValue: !(isBool && bf.IsBoolFlag()),
			})
		})
		specs = append(specs, s)
	}
	return specs
}

func writeBashCompletion(w io.Writer, specs []completionSpec) {
	var cmds []string
	for _, s := range specs {
		cmds = append(cmds, s.name)
	}
	fmt.Fprintf(w, "# bash completion for sts; load with: source <(sts completion bash)\n")
	fmt.Fprintf(w, "_sts() {\n")
	fmt.Fprintf(w, "\tlocal cur=\"${COMP_WORDS[COMP_CWORD]}\"\n")
	fmt.Fprintf(w, "\tif [ \"$COMP_CWORD\" -eq 1 ]; then\n")
	fmt.Fprintf(w, "\t\tCOMPREPLY=($(compgen -W %s -- \"$cur\"))\n", shellQuote(strings.Join(append(cmds, "--help", "--version"), " ")))
	fmt.Fprintf(w, "\t\treturn\n\tfi\n")
	fmt.Fprintf(w, "\tlocal prev=\"${COMP_WORDS[COMP_CWORD-1]}\"\n")
	fmt.Fprintf(w, "\tcase \"${COMP_WORDS[1]}\" in\n")
	for _, s := range specs {
		var all, valued []string
		for _, f := range s.flags {
			all = append(all, "--"+f.name)
			if f.takesValue {
				valued = append(valued, "--"+f.name)
			}
		}
		all = append(all, "--help")
		fmt.Fprintf(w, "\t%s)\n", s.name)
		if s.name == "completion" {
			fmt.Fprintf(w, "\t\tCOMPREPLY=($(compgen -W 'bash zsh fish' -- \"$cur\"))\n\t\treturn\n\t\t;;\n")
			continue
		}
		if len(valued) > 0 {
			fmt.Fprintf(w, "\t\tcase \"$prev\" in %s) COMPREPLY=($(compgen -f -- \"$cur\")); return ;; esac\n", strings.Join(valued, "|"))
		}
		fmt.Fprintf(w, "\t\tCOMPREPLY=($(compgen -W %s -- \"$cur\"))\n\t\t;;\n", shellQuote(strings.Join(all, " ")))
	}
	fmt.Fprintf(w, "\tesac\n}\ncomplete -F _sts sts\n")
}

func writeZshCompletion(w io.Writer, specs []completionSpec) {
	fmt.Fprintf(w, "#compdef sts\n# zsh completion for sts; load with: source <(sts completion zsh)\n")
	fmt.Fprintf(w, "_sts() {\n\tlocal -a cmds\n\tcmds=(\n")
	for _, s := range specs {
		fmt.Fprintf(w, "\t\t%s\n", shellQuote(s.name+":"+s.summary))
	}
	fmt.Fprintf(w, "\t)\n\tif (( CURRENT == 2 )); then\n\t\t_describe 'command' cmds\n\t\treturn\n\tfi\n")
	fmt.Fprintf(w, "\tcase ${words[2]} in\n")
	for _, s := range specs {
		fmt.Fprintf(w, "\t%s)\n", s.name)
		if s.name == "completion" {
			fmt.Fprintf(w, "\t\t_values 'shell' bash zsh fish\n\t\t;;\n")
			continue
		}
		fmt.Fprintf(w, "\t\t_arguments")
		for _, f := range s.flags {
			arg := "--" + f.name + "[" + zshEscape(f.usage) + "]"
			if f.takesValue {
				arg += ":value:_files"
			}
			fmt.Fprintf(w, " \\\n\t\t\t%s", shellQuote(arg))
		}
		fmt.Fprintf(w, " \\\n\t\t\t'--help[show the command'\\''s flags]'\n\t\t;;\n")
	}
	fmt.Fprintf(w, "\tesac\n}\nif [ \"$funcstack[1]\" = \"_sts\" ]; then\n\t_sts \"$@\"\nelse\n\tcompdef _sts sts\nfi\n")
}

func writeFishCompletion(w io.Writer, specs []completionSpec) {
	fmt.Fprintf(w, "# fish completion for sts; load with: sts completion fish | source\n")
	fmt.Fprintf(w, "complete -c sts -f\n")
	for _, s := range specs {
		fmt.Fprintf(w, "complete -c sts -n __fish_use_subcommand -a %s -d %s\n", s.name, shellQuote(s.summary))
	}
	for _, s := range specs {
		if s.name == "completion" {
			fmt.Fprintf(w, "complete -c sts -n '__fish_seen_subcommand_from completion' -a 'bash zsh fish'\n")
			continue
		}
		for _, f := range s.flags {
			req := ""
			if f.takesValue {
				req = " -r -F"
			}
			fmt.Fprintf(w, "complete -c sts -n '__fish_seen_subcommand_from %s' -l %s%s -d %s\n", s.name, f.name, req, shellQuote(f.usage))
		}
	}
}

// shellQuote quotes s for bash, zsh and fish alike: in single quotes, each
// single quote inside closed, escaped with a backslash and reopened.
func shellQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// zshEscape escapes the characters _arguments gives a meaning to inside a
// description's brackets.
func zshEscape(s string) string {
	return strings.NewReplacer("[", `\[`, "]", `\]`, ":", `\:`).Replace(s)
}
