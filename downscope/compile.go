package downscope

import (
	"errors"
	"fmt"
	"sync"

	"github.com/google/cel-go/cel"
	"github.com/stsgo/sts"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
)

// Field numbers of the ClientSideAccessBoundary protocol buffer (from the
// public Java implementation):
//
//	message ClientSideAccessBoundary {
//	  repeated ClientSideAccessBoundaryRule access_boundary_rules = 1;
//	}
//	message ClientSideAccessBoundaryRule {
//	  string available_resource = 1;
//	  repeated string available_permissions = 2;
//	  google.api.expr.Expr compiled_availability_condition = 4;
//	}
const (
	fieldBoundaryRules      = 1
	fieldRuleResource       = 1
	fieldRulePermissions    = 2
	fieldRuleCompiledCondit = 4
)

// CompiledBoundary is an access boundary ready for minting: validated, its
// conditions parsed, and serialized. It is immutable and safe for
// concurrent use; compile a boundary once and mint from it any number of
// times, with any Minter. Create it with Compile.
type CompiledBoundary struct {
	plaintext []byte
	rules     int
}

// String describes the compiled boundary.
func (c *CompiledBoundary) String() string {
	if c == nil {
		return "downscope.CompiledBoundary(nil)"
	}
	return fmt.Sprintf("downscope.CompiledBoundary{Rules:%d Bytes:%d}", c.rules, len(c.plaintext))
}

// GoString is String, so %#v redacts too.
func (c *CompiledBoundary) GoString() string { return c.String() }

// celEnv is the standard CEL environment (standard macros); only its
// parser is used, as the Java implementation does: conditions are not
// type-checked on the client.
var celEnv = sync.OnceValues(func() (*cel.Env, error) { return cel.NewEnv() })

// Compile validates b (see sts.AccessBoundary.Validate, and each condition
// must parse as CEL), compiles each condition to CEL's parsed, unchecked
// syntax tree and serializes the boundary. Errors are *sts.ValidationError
// naming the field. Later changes to b do not affect the result.
func Compile(b *sts.AccessBoundary) (*CompiledBoundary, error) {
	asts, err := checkBoundary(b)
	if err != nil {
		return nil, err
	}
	var out []byte
	for i, r := range b.Rules {
		var rule []byte
		rule = protowire.AppendTag(rule, fieldRuleResource, protowire.BytesType)
		rule = protowire.AppendString(rule, r.AvailableResource)
		for _, p := range r.AvailablePermissions {
			rule = protowire.AppendTag(rule, fieldRulePermissions, protowire.BytesType)
			rule = protowire.AppendString(rule, p)
		}
		if asts[i] != nil {
			expr, err := serializeCondition(asts[i])
			if err != nil {
				return nil, &sts.ValidationError{Field: conditionField(i), Reason: err.Error()}
			}
			rule = protowire.AppendTag(rule, fieldRuleCompiledCondit, protowire.BytesType)
			rule = protowire.AppendBytes(rule, expr)
		}
		out = protowire.AppendTag(out, fieldBoundaryRules, protowire.BytesType)
		out = protowire.AppendBytes(out, rule)
	}
	return &CompiledBoundary{plaintext: out, rules: len(b.Rules)}, nil
}

// conditionField names the expression of rule i as sts.AccessBoundary's
// Validate names fields.
func conditionField(i int) string {
	return fmt.Sprintf("AccessBoundary.Rules[%d].AvailabilityCondition.Expression", i)
}

// checkBoundary validates b, structurally (sts.AccessBoundary.Validate) and by
// parsing each condition as CEL, as STS requires. It returns each rule's
// parsed condition (nil for a rule without one). Errors are
// *sts.ValidationError naming the field.
func checkBoundary(b *sts.AccessBoundary) ([]*cel.Ast, error) {
	if err := b.Validate(); err != nil {
		return nil, err
	}
	env, err := celEnv()
	if err != nil {
		return nil, fmt.Errorf("sts: downscope: CEL environment: %w", err)
	}
	asts := make([]*cel.Ast, len(b.Rules))
	for i, r := range b.Rules {
		if c := r.AvailabilityCondition; c != nil {
			if asts[i], err = parseCondition(env, c.Expression); err != nil {
				return nil, &sts.ValidationError{Field: conditionField(i), Reason: err.Error()}
			}
		}
	}
	return asts, nil
}

// parseCondition parses a CEL expression without type-checking it (names
// such as resource.name are not resolved), as STS and Google's Java
// implementation do. The error describes the first problem and its
// position, without a prefix.
func parseCondition(env *cel.Env, expr string) (_ *cel.Ast, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = errors.New("could not be parsed as CEL")
		}
	}()
	ast, iss := env.Parse(expr)
	if iss != nil && iss.Err() != nil {
		if errs := iss.Errors(); len(errs) > 0 {
			e := errs[0]
			return nil, fmt.Errorf("not a CEL expression: %s at %d:%d", e.Message, e.Location.Line(), e.Location.Column()+1)
		}
		return nil, errors.New("not a CEL expression")
	}
	return ast, nil
}

// serializeCondition serializes a parsed condition as a
// google.api.expr.v1alpha1.Expr message.
func serializeCondition(ast *cel.Ast) ([]byte, error) {
	pe, err := cel.AstToParsedExpr(ast)
	if err != nil {
		return nil, fmt.Errorf("cannot convert the CEL syntax tree: %v", err)
	}
	b, err := proto.MarshalOptions{Deterministic: true}.Marshal(pe.GetExpr())
	if err != nil {
		return nil, fmt.Errorf("cannot serialize the CEL syntax tree: %v", err)
	}
	return b, nil
}
