// Package errtree walks the tree of errors an error wraps, as errors.As
// does, for the module's own checks. errors.As takes its target through
// reflection (internal/reflectlite), which adds about 25 KB to every
// program that calls it; a type switch in a Walk callback adds nothing.
package errtree

// Walk calls found on err and the errors it wraps, depth first in the
// order errors.As visits them (an error, then what its Unwrap() error
// returns, or each error of its Unwrap() []error in turn), until found
// returns true, and reports whether it did. With a found that does what
// errors.As does at each error (a type assertion to the target's type, else
// the error's As method with a pointer to a target) it answers as
// errors.As does.
func Walk(err error, found func(error) bool) bool {
	for err != nil {
		if found(err) {
			return true
		}
		switch u := err.(type) {
		case interface{ Unwrap() error }:
			err = u.Unwrap()
		case interface{ Unwrap() []error }:
			for _, e := range u.Unwrap() {
				if Walk(e, found) {
					return true
				}
			}
			return false
		default:
			return false
		}
	}
	return false
}

// As is errors.As for a target of type T: the first error of err's tree
// that is a T, or whose As method sets a T, and whether there is one.
func As[T error](err error) (T, bool) {
	var t T
	ok := Walk(err, func(e error) bool {
		if x, is := e.(T); is {
			t = x
			return true
		}
		if a, is := e.(interface{ As(any) bool }); is {
			return a.As(&t)
		}
		return false
	})
	return t, ok
}
