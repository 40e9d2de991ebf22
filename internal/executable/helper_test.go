package executable

import (
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"
)

// The test binary doubles as the credential executable: helperCommand
// returns an argv that re-runs it with only TestHelperProcess selected, and
// the arguments after "--" choose what it does. Run normally (without "--"),
// TestHelperProcess does nothing.

const helperSep = "--sts-helper--"

func testBinary(t testing.TB) string {
	t.Helper()
	p, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// helperCommand is the argv that runs the helper in the given mode.
func helperCommand(t testing.TB, mode ...string) []string {
	return append([]string{testBinary(t), "-test.run=^TestHelperProcess$", "--", helperSep}, mode...)
}

func helperArgs() []string {
	for i, a := range os.Args {
		if a == helperSep {
			return os.Args[i+1:]
		}
	}
	return nil
}

func TestHelperProcess(t *testing.T) {
	args := helperArgs()
	if args == nil {
		return
	}
	os.Exit(helperMain(args))
}

// helperMain implements the helper's modes; its return value is the exit
// status.
func helperMain(args []string) int {
	mode, args := args[0], args[1:]
	switch mode {
	case "print": // print <stdout>
		fmt.Print(args[0])
		return 0
	case "env": // env <dump file> <stdout>: record the contract's variables
		var b strings.Builder
		for _, k := range []string{EnvAudience, EnvTokenType, EnvInteractive, EnvImpersonatedEmail, EnvOutputFile, EnvRevoke, "STS_TEST_PARENT"} {
			v, ok := os.LookupEnv(k)
			fmt.Fprintf(&b, "%s=%t:%s\n", k, ok, v)
		}
		if err := os.WriteFile(args[0], []byte(b.String()), 0o600); err != nil {
			return 2
		}
		fmt.Print(args[1])
		return 0
	case "args": // args <dump file> <stdout> [args...]: record argv
		if err := os.WriteFile(args[0], []byte(strconv.Quote(os.Args[0])+"\n"+strings.Join(quoteAll(args[2:]), "\n")), 0o600); err != nil {
			return 2
		}
		fmt.Print(args[1])
		return 0
	case "exit": // exit <status> <stderr>
		code, _ := strconv.Atoi(args[0])
		fmt.Fprint(os.Stderr, args[1])
		return code
	case "suicide": // suicide <stderr>: die of SIGKILL
		fmt.Fprint(os.Stderr, args[0])
		p, _ := os.FindProcess(os.Getpid())
		p.Kill()
		time.Sleep(time.Hour)
		return 0
	case "sleep":
		time.Sleep(time.Hour)
		return 0
	case "huge": // huge <bytes>
		n, _ := strconv.Atoi(args[0])
		buf := []byte(strings.Repeat("x", 64<<10))
		for n > 0 {
			k := min(n, len(buf))
			if _, err := os.Stdout.Write(buf[:k]); err != nil {
				return 3
			}
			n -= k
		}
		return 0
	case "flood": // write forever
		buf := []byte(strings.Repeat("y", 64<<10))
		for {
			if _, err := os.Stdout.Write(buf); err != nil {
				return 3
			}
		}
	case "spawn": // spawn <fifo>: start a grandchild that holds the fifo, then hang
		cmd := exec.Command(os.Args[0], "-test.run=^TestHelperProcess$", "--", helperSep, "hold", args[0])
		if err := cmd.Start(); err != nil {
			return 2
		}
		time.Sleep(time.Hour)
		return 0
	case "linger": // linger <fifo> <stdout>: say ready on the fifo, leave a grandchild holding it and stdout, answer, exit 0
		f, err := os.OpenFile(args[0], os.O_WRONLY, 0)
		if err != nil {
			return 2
		}
		fmt.Fprintln(f, "ready")
		cmd := exec.Command(os.Args[0], "-test.run=^TestHelperProcess$", "--", helperSep, "sleep")
		cmd.Stdout = os.Stdout // the grandchild keeps the command's output open
		cmd.ExtraFiles = []*os.File{f}
		if err := cmd.Start(); err != nil {
			return 2
		}
		f.Close()
		fmt.Print(args[1])
		return 0
	case "hold": // hold <fifo>: open the fifo for writing, say ready, hang
		f, err := os.OpenFile(args[0], os.O_WRONLY, 0)
		if err != nil {
			return 2
		}
		fmt.Fprintln(f, "ready")
		time.Sleep(time.Hour)
		return 0
	case "interact": // interact <answer> <response>: prompt on the terminal, answer in the output file
		// The response is written only when the user types the expected
		// answer; otherwise a failure response is.
		if os.Getenv(EnvInteractive) != "1" || os.Getenv(EnvRevoke) != "0" {
			return 4
		}
		fmt.Print("Password: ")
		var line string
		if _, err := fmt.Scanln(&line); err != nil {
			return 5
		}
		resp := args[1]
		if line != args[0] {
			resp = `{"version":1,"success":false,"code":"denied","message":"wrong password"}`
		}
		if err := os.WriteFile(os.Getenv(EnvOutputFile), []byte(resp), 0o600); err != nil {
			return 2
		}
		fmt.Println("Signed in.") // not JSON: the answer is in the file
		return 0
	case "revoke": // revoke <answer> <stdout>: confirm on the terminal, answer on stdout
		if os.Getenv(EnvInteractive) != "1" || os.Getenv(EnvRevoke) != "1" {
			return 4
		}
		fmt.Fprint(os.Stderr, "Sign out? ")
		var line string
		if _, err := fmt.Scanln(&line); err != nil || line != args[0] {
			return 5
		}
		fmt.Print(args[1])
		return 0
	case "prompt-only": // prompt on the terminal, exit 0 without an answer
		fmt.Print("Nothing to see.\n")
		return 0
	case "touch": // touch <file> <stdout>: prove the command ran
		if err := os.WriteFile(args[0], nil, 0o600); err != nil {
			return 2
		}
		fmt.Print(args[1])
		return 0
	}
	return 99
}

func quoteAll(ss []string) []string {
	out := make([]string, len(ss))
	for i, s := range ss {
		out[i] = strconv.Quote(s)
	}
	return out
}
