package check

import (
	"encoding/json"
	"reflect"
)

// TypeMismatch reports a JSON value of the wrong kind, naming its field (or
// root, for the document itself) without quoting the value.
func TypeMismatch(root string, te *json.UnmarshalTypeError) *Error {
	field := te.Field
	if field == "" {
		field = root
	}
	return Errorf(field, "must be %s, got a JSON %s", jsonKind(te.Type), te.Value)
}

// jsonKind names the JSON kind a Go type decodes from.
func jsonKind(t reflect.Type) string {
	if t == nil {
		return "a value"
	}
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t.Kind() {
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "a boolean"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Float32, reflect.Float64:
		return "a number"
	case reflect.Map, reflect.Struct:
		return "an object"
	case reflect.Slice, reflect.Array:
		return "an array"
	}
	return "a value"
}
