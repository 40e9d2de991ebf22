package bench

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// Binary size (issue 12): the programs of ./sizeprog, each built with a
// plain "go build", sts's divided by golang.org/x/oauth2/google's.
//
// The goals of issue 12 are sizeGoal's: a program that exchanges a token
// file with a Config at most 0.95x the size of the same program with
// x/oauth2's externalaccount package, and one that loads a gcloud
// credential file at most 1.0x the size of the one with x/oauth2/google.
// Neither is met (see README.md, "Binary size", for the figures and what
// the remaining bytes buy), so TestBinarySize reports the goals and fails
// on sizeCeiling's ratios instead: what the module reaches, with about
// 0.6% of room for the exchange program (0.964 reached) and 0.7% for the
// load program (1.013 reached). A change that crosses a ceiling pulls in more than
// ordinary growth does, such as regexp, log/slog's handlers, errors.As, or
// x/oauth2/google in a program that does not ask for them.
var (
	sizeGoal    = map[string]float64{"exchange": 0.95, "load": 1.0}
	sizeCeiling = map[string]float64{"exchange": 0.97, "load": 1.02}
)

// notLinked are symbols each sts program must not link, as go tool nm
// names them (a name containing one of these fails; one ending in $ is
// the whole name): code that costs far
// more than its use, kept out on purpose. regexp (its compiled patterns run
// at every start), log/slog's handlers (a call of a *slog.Logger method, or
// of any Handler's Handle), x/oauth2/google; and, in the exchange program,
// http.Cookie's String, which a struct holding an *http.Client keeps once
// the struct is converted to an interface; in the load program also
// errors.As (reflection: errtree.As does without), os/exec (credential
// executables start through os.StartProcess on Unix) and x/oauth2's jwt
// and jws (service accounts sign their grants with crypto/rsa).
var notLinked = map[string][]string{
	"exchange": {"regexp.", "log/slog.(*commonHandler)", "golang.org/x/oauth2/google", "net/http.(*Cookie).String"},
	"load": {"regexp.", "log/slog.(*commonHandler)", "golang.org/x/oauth2/google", "net/http.(*Cookie).String",
		"errors.As$", "os/exec.", "golang.org/x/oauth2/jwt", "golang.org/x/oauth2/jws"},
}

func TestBinarySize(t *testing.T) {
	if testing.Short() {
		t.Skip("builds four programs")
	}
	dir := t.TempDir()
	size := func(prog string, forbidden []string) int64 {
		t.Helper()
		out := filepath.Join(dir, prog)
		cmd := exec.Command("go", "build", "-o", out, "./sizeprog/"+prog)
		if b, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("building %s: %v\n%s", prog, err, b)
		}
		fi, err := os.Stat(out)
		if err != nil {
			t.Fatal(err)
		}
		if len(forbidden) > 0 {
			syms, err := exec.Command("go", "tool", "nm", out).Output()
			if err != nil {
				t.Fatalf("go tool nm %s: %v", prog, err)
			}
			for _, line := range strings.Split(string(syms), "\n") {
				fields := strings.Fields(line)
				if len(fields) == 0 {
					continue
				}
				for _, f := range forbidden {
					name := fields[len(fields)-1]
					if exact, ok := strings.CutSuffix(f, "$"); ok && name == exact || !ok && strings.Contains(name, f) {
						t.Errorf("%s links %s: see why with go build -ldflags=-dumpdep (README.md, Binary size)", prog, name)
					}
				}
			}
		}
		return fi.Size()
	}
	for _, c := range []struct{ name, what, sts, oauth2 string }{
		{"exchange", "exchange a token file", "stsexchange", "oauth2exchange"},
		{"load", "load a credential file", "stsload", "oauth2load"},
	} {
		s, o := size(c.sts, notLinked[c.name]), size(c.oauth2, nil)
		ratio := float64(s) / float64(o)
		verdict := "goal met"
		if ratio > sizeGoal[c.name] {
			verdict = "goal missed"
		}
		t.Logf("%s: sts %d B, x/oauth2 %d B, ratio %.3f (issue 12 goal <= %.2f: %s; ceiling %.2f)",
			c.what, s, o, ratio, sizeGoal[c.name], verdict, sizeCeiling[c.name])
		if ratio > sizeCeiling[c.name] {
			t.Errorf("%s: the sts program is %.3fx x/oauth2's, over the ceiling of %.2fx: see what the change links with "+
				"go tool nm -size -sort size, and why with go build -ldflags=-dumpdep (README.md, Binary size)", c.what, ratio, sizeCeiling[c.name])
		}
	}
}
