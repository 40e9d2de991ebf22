package downscope

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/google/cel-go/common"
	"github.com/google/cel-go/common/ast"
	"github.com/google/cel-go/parser"
	"github.com/stsgo/sts"
)

// TestConditionsParsedAsCEL: a boundary whose condition does not parse as
// CEL passes the root package's structural check but is refused here,
// naming the expression and the position of the first problem.
func TestConditionsParsedAsCEL(t *testing.T) {
	cond := func(expr string) *sts.AccessBoundary {
		r := sts.BucketRule("b", "roles/storage.objectViewer")
		r.AvailabilityCondition = &sts.AvailabilityCondition{Expression: expr}
		return &sts.AccessBoundary{Rules: []sts.AccessBoundaryRule{sts.BucketRule("a", "roles/storage.objectViewer"), r}}
	}
	const field = "AccessBoundary.Rules[1].AvailabilityCondition.Expression"
	for _, tc := range []struct {
		name, expr string
		bad        bool
	}{
		{"good condition", "resource.name.startsWith('projects/_/buckets/b/objects/a')", false},
		{"macro condition", "['a','b'].exists(p, resource.name.endsWith(p))", false},
		{"unparsable condition", "resource.name.startsWith(", true},
		{"unbalanced quote", "resource.name == 'a", true},
		{"dangling operator", "a ||", true},
		{"two expressions", "a b", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := cond(tc.expr)
			if err := b.Validate(); err != nil {
				t.Fatalf("structural check: %v", err)
			}
			_, err := checkBoundary(b)
			_, cerr := Compile(b)
			if !tc.bad {
				if err != nil || cerr != nil {
					t.Fatalf("refused: %v / %v", err, cerr)
				}
				return
			}
			for _, e := range []error{err, cerr} {
				var ve *sts.ValidationError
				if !errors.As(e, &ve) || ve.Field != field || !strings.HasPrefix(ve.Reason, "not a CEL expression: ") ||
					!strings.Contains(ve.Reason, " at 1:") || strings.Contains(ve.Reason, "\n") {
					t.Errorf("err = %v, want a one-line ValidationError on %s with a position", e, field)
				}
			}
		})
	}
}

// TestParsedBoundaryFileWithBadCondition: a boundary file whose condition is
// not CEL parses (the root package does not parse CEL) and is refused when
// compiled, naming the expression.
func TestParsedBoundaryFileWithBadCondition(t *testing.T) {
	for _, expr := range []string{"a &&", "resource.name.startsWith(", "'unterminated", "(a", "a)", "a.b(", "1 +* 2"} {
		b, err := sts.ParseAccessBoundary([]byte(`{"accessBoundary":{"accessBoundaryRules":[{"availableResource":"//x/y",` +
			`"availablePermissions":["inRole:roles/a"],"availabilityCondition":{"expression":` + fmt.Sprintf("%q", expr) + `}}]}}`))
		if err != nil {
			t.Fatalf("%q: %v", expr, err)
		}
		_, err = Compile(b)
		var ve *sts.ValidationError
		if !errors.As(err, &ve) || ve.Field != "AccessBoundary.Rules[0].AvailabilityCondition.Expression" {
			t.Errorf("%q: err = %v", expr, err)
		}
	}
}

// stringArgs returns the string constants passed to startsWith calls in expr,
// in order, checking that the expression parses.
func stringArgs(t *testing.T, expr string) []string {
	t.Helper()
	p, err := parser.NewParser()
	if err != nil {
		t.Fatal(err)
	}
	a, errs := p.Parse(common.NewTextSource(expr))
	if errs != nil && len(errs.GetErrors()) > 0 {
		t.Fatalf("%q does not parse: %s", expr, errs.ToDisplayString())
	}
	var out []string
	var walk func(e ast.Expr)
	walk = func(e ast.Expr) {
		if e.Kind() != ast.CallKind {
			return
		}
		c := e.AsCall()
		if c.FunctionName() == "startsWith" {
			out = append(out, c.Args()[0].AsLiteral().Value().(string))
		}
		if c.IsMemberFunction() {
			walk(c.Target())
		}
		for _, a := range c.Args() {
			walk(a)
		}
	}
	walk(a.Expr())
	return out
}

// TestObjectPrefixRuleQuoting: awkward prefixes given to sts.ObjectPrefixRule
// are quoted so that they stay one CEL literal each, and the rule compiles.
func TestObjectPrefixRuleQuoting(t *testing.T) {
	for _, prefix := range []string{"it's", `back\slash`, "quote' || true || '", "new\nline", "tab\t", "ünïcode/", "\"dq\""} {
		r := sts.ObjectPrefixRule("b", prefix, "roles/storage.objectViewer")
		got := stringArgs(t, r.AvailabilityCondition.Expression)
		want := []string{"projects/_/buckets/b/objects/" + prefix, prefix}
		if fmt.Sprintf("%q", got) != fmt.Sprintf("%q", want) {
			t.Errorf("prefix %q: literals %q, want %q", prefix, got, want)
		}
		if _, err := Compile(&sts.AccessBoundary{Rules: []sts.AccessBoundaryRule{r}}); err != nil {
			t.Errorf("prefix %q: %v", prefix, err)
		}
	}
}

// FuzzCompile feeds boundary files to sts.ParseAccessBoundary and Compile:
// neither may panic, and every refusal is a *sts.ValidationError.
func FuzzCompile(f *testing.F) {
	f.Add([]byte(`{"accessBoundary":{"accessBoundaryRules":[{"availableResource":"//storage.googleapis.com/projects/_/buckets/b",` +
		`"availablePermissions":["inRole:roles/storage.objectViewer"],"availabilityCondition":{"expression":"resource.name.startsWith('projects/_/buckets/b/objects/a')"}}]}}`))
	f.Add([]byte(`{"accessBoundaryRules":[{"availableResource":"//x/y","availablePermissions":["inRole:roles/a"],"availabilityCondition":{"expression":"a &&"}}]}`))
	f.Add([]byte(`{"accessBoundaryRules":[{"availableResource":"//x/y","availablePermissions":["inRole:roles/a"],"availabilityCondition":{"expression":"[[[[[[[[[[1]]]]]]]]]].exists(x, x.all(y, y))"}}]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		b, err := sts.ParseAccessBoundary(data)
		if err != nil {
			return
		}
		cb, err := Compile(b)
		var ve *sts.ValidationError
		if err != nil && !errors.As(err, &ve) {
			t.Fatalf("Compile: %v (%T)", err, err)
		}
		if err == nil && cb.rules != len(b.Rules) {
			t.Fatalf("compiled %d rules of %d", cb.rules, len(b.Rules))
		}
	})
}
