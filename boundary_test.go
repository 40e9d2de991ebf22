package sts

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"
)

func rules(n int) []AccessBoundaryRule {
	out := make([]AccessBoundaryRule, n)
	for i := range out {
		out[i] = BucketRule(fmt.Sprintf("b%d", i), "roles/storage.objectViewer")
	}
	return out
}

func TestAccessBoundaryValidate(t *testing.T) {
	long := strings.Repeat("x", MaxAccessBoundaryOptionsLength)
	cond := func(expr string) AccessBoundaryRule {
		r := BucketRule("b", "roles/storage.objectViewer")
		r.AvailabilityCondition = &AvailabilityCondition{Expression: expr}
		return r
	}
	perm := func(p ...string) AccessBoundaryRule {
		return AccessBoundaryRule{AvailableResource: storageResourcePrefix + "b", AvailablePermissions: p}
	}
	res := func(r string) AccessBoundaryRule {
		return AccessBoundaryRule{AvailableResource: r, AvailablePermissions: []string{"inRole:roles/storage.objectViewer"}}
	}
	tests := []struct {
		name  string
		b     *AccessBoundary
		field string // "" means valid
	}{
		{"nil", nil, "AccessBoundary"},
		{"no rules", &AccessBoundary{}, "AccessBoundary.Rules"},
		{"one rule", &AccessBoundary{Rules: rules(1)}, ""},
		{"ten rules is legal", &AccessBoundary{Rules: rules(10)}, ""},
		{"eleven rules", &AccessBoundary{Rules: rules(11)}, "AccessBoundary.Rules"},
		{"empty resource", &AccessBoundary{Rules: []AccessBoundaryRule{res("")}}, "AccessBoundary.Rules[0].AvailableResource"},
		{"relative resource", &AccessBoundary{Rules: []AccessBoundaryRule{res("projects/_/buckets/b")}}, "AccessBoundary.Rules[0].AvailableResource"},
		{"resource with space", &AccessBoundary{Rules: []AccessBoundaryRule{res("//storage.googleapis.com/projects/_/buckets/a b")}}, "AccessBoundary.Rules[0].AvailableResource"},
		{"empty bucket", &AccessBoundary{Rules: []AccessBoundaryRule{BucketRule("", "roles/storage.objectViewer")}}, "AccessBoundary.Rules[0].AvailableResource"},
		{"object as resource", &AccessBoundary{Rules: []AccessBoundaryRule{res(storageResourcePrefix + "b/objects/o")}}, "AccessBoundary.Rules[0].AvailableResource"},
		{"other service resource", &AccessBoundary{Rules: []AccessBoundaryRule{res("//cloudresourcemanager.googleapis.com/projects/p")}}, ""},
		{"invalid utf8 resource", &AccessBoundary{Rules: []AccessBoundaryRule{res("//storage.googleapis.com/\xff")}}, "AccessBoundary.Rules[0].AvailableResource"},
		{"no permissions", &AccessBoundary{Rules: []AccessBoundaryRule{perm()}}, "AccessBoundary.Rules[0].AvailablePermissions"},
		{"bare role", &AccessBoundary{Rules: []AccessBoundaryRule{perm("roles/storage.objectViewer")}}, "AccessBoundary.Rules[0].AvailablePermissions[0]"},
		{"bare permission", &AccessBoundary{Rules: []AccessBoundaryRule{perm("inRole:roles/storage.objectViewer", "storage.objects.get")}}, "AccessBoundary.Rules[0].AvailablePermissions[1]"},
		{"empty role", &AccessBoundary{Rules: []AccessBoundaryRule{perm("inRole:")}}, "AccessBoundary.Rules[0].AvailablePermissions[0]"},
		{"role with space", &AccessBoundary{Rules: []AccessBoundaryRule{perm("inRole:roles/storage. objectViewer")}}, "AccessBoundary.Rules[0].AvailablePermissions[0]"},
		{"role not a role", &AccessBoundary{Rules: []AccessBoundaryRule{perm("inRole:storage.objectViewer")}}, "AccessBoundary.Rules[0].AvailablePermissions[0]"},
		{"custom project role", &AccessBoundary{Rules: []AccessBoundaryRule{perm("inRole:projects/p/roles/reader")}}, ""},
		{"custom org role", &AccessBoundary{Rules: []AccessBoundaryRule{perm("inRole:organizations/123/roles/reader")}}, ""},
		{"bad custom role", &AccessBoundary{Rules: []AccessBoundaryRule{perm("inRole:projects//roles/reader")}}, "AccessBoundary.Rules[0].AvailablePermissions[0]"},
		{"third rule bad", &AccessBoundary{Rules: append(rules(2), perm("inRole:roles/x", "nope"))}, "AccessBoundary.Rules[2].AvailablePermissions[1]"},
		{"good condition", &AccessBoundary{Rules: []AccessBoundaryRule{cond("resource.name.startsWith('projects/_/buckets/b/objects/a')")}}, ""},
		{"macro condition", &AccessBoundary{Rules: []AccessBoundaryRule{cond("['a','b'].exists(p, resource.name.endsWith(p))")}}, ""},
		{"empty condition", &AccessBoundary{Rules: []AccessBoundaryRule{cond("  ")}}, "AccessBoundary.Rules[0].AvailabilityCondition.Expression"},
		{"condition not parsed here", &AccessBoundary{Rules: []AccessBoundaryRule{cond("resource.name.startsWith(")}}, ""},
		{"invalid utf8 condition", &AccessBoundary{Rules: []AccessBoundaryRule{cond("'\xff' == 'a'")}}, "AccessBoundary.Rules[0].AvailabilityCondition.Expression"},
		{"ten prefix rules do not fit", &AccessBoundary{Rules: func() []AccessBoundaryRule {
			var rs []AccessBoundaryRule
			for i := range 10 {
				rs = append(rs, ObjectPrefixRule("bkt", fmt.Sprint(i), "roles/storage.objectViewer"))
			}
			return rs
		}()}, "AccessBoundary"},
		{"too long for options", &AccessBoundary{Rules: []AccessBoundaryRule{cond("resource.name == '" + long + "'")}}, "AccessBoundary"},
		{"six prefix rules fit", &AccessBoundary{Rules: func() []AccessBoundaryRule {
			var rs []AccessBoundaryRule
			for i := range 6 {
				rs = append(rs, ObjectPrefixRule("bkt", fmt.Sprint(i), "roles/storage.objectViewer"))
			}
			return rs
		}()}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.b.Validate()
			if tt.field == "" {
				if err != nil {
					t.Fatalf("Validate() = %v, want nil", err)
				}
				return
			}
			var ve *ValidationError
			if !errors.As(err, &ve) {
				t.Fatalf("Validate() = %v (%T), want *ValidationError", err, err)
			}
			if ve.Field != tt.field {
				t.Errorf("Field = %q, want %q (error %v)", ve.Field, tt.field, err)
			}
			if !strings.HasPrefix(err.Error(), "sts: ") || strings.Count(err.Error(), "sts:") != 1 {
				t.Errorf("error %q: want a single sts: prefix", err)
			}
		})
	}
}

func TestBucketRuleJSONMatchesDocs(t *testing.T) {
	b := &AccessBoundary{Rules: []AccessBoundaryRule{BucketRule("example-bucket", "roles/storage.objectViewer")}}
	got := b.optionsJSON()
	want := `{"accessBoundary":{"accessBoundaryRules":[{"availableResource":"//storage.googleapis.com/projects/_/buckets/example-bucket","availablePermissions":["inRole:roles/storage.objectViewer"]}]}}`
	if string(got) != want {
		t.Errorf("options JSON\n got %s\nwant %s", got, want)
	}
	// The documented example parses to the same boundary.
	doc := `{
	  "accessBoundary": {
	    "accessBoundaryRules": [
	      {
	        "availablePermissions": [
	          "inRole:roles/storage.objectViewer"
	        ],
	        "availableResource": "//storage.googleapis.com/projects/_/buckets/example-bucket"
	      }
	    ]
	  }
	}`
	parsed, err := ParseAccessBoundary([]byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	again := parsed.optionsJSON()
	if string(again) != want {
		t.Errorf("parsed doc example re-encodes to %s", again)
	}
}

func TestBucketRuleKeepsInRole(t *testing.T) {
	r := BucketRule("b", "inRole:roles/storage.objectAdmin", "roles/storage.objectViewer")
	want := []string{"inRole:roles/storage.objectAdmin", "inRole:roles/storage.objectViewer"}
	if fmt.Sprint(r.AvailablePermissions) != fmt.Sprint(want) {
		t.Errorf("permissions = %q, want %q", r.AvailablePermissions, want)
	}
}

func TestObjectPrefixRule(t *testing.T) {
	r := ObjectPrefixRule("example-bucket", "customer-a/", "roles/storage.objectViewer")
	want := "resource.name.startsWith('projects/_/buckets/example-bucket/objects/customer-a/') || " +
		"api.getAttribute('storage.googleapis.com/objectListPrefix', '').startsWith('customer-a/')"
	if r.AvailabilityCondition == nil || r.AvailabilityCondition.Expression != want {
		t.Fatalf("condition = %+v\nwant %s", r.AvailabilityCondition, want)
	}
	if err := (&AccessBoundary{Rules: []AccessBoundaryRule{r}}).Validate(); err != nil {
		t.Fatal(err)
	}
	// That awkward prefixes stay one CEL literal each is checked with a
	// CEL parser in package downscope (TestObjectPrefixRuleQuoting).
}

func TestParseAccessBoundary(t *testing.T) {
	good := `{"accessBoundary":{"accessBoundaryRules":[
		{"availableResource":"//storage.googleapis.com/projects/_/buckets/b1","availablePermissions":["inRole:roles/storage.objectViewer"]},
		{"availableResource":"//storage.googleapis.com/projects/_/buckets/b2","availablePermissions":["inRole:roles/storage.objectAdmin"],
		 "availabilityCondition":{"expression":"resource.name.startsWith('projects/_/buckets/b2/objects/x')","title":"x only","description":"d"}}]}}`
	b, err := ParseAccessBoundary([]byte(good))
	if err != nil {
		t.Fatal(err)
	}
	if len(b.Rules) != 2 || b.Rules[1].AvailabilityCondition.Title != "x only" || b.Rules[1].AvailabilityCondition.Description != "d" {
		t.Errorf("parsed %+v", b)
	}
	bare := `{"accessBoundaryRules":[{"availableResource":"//storage.googleapis.com/projects/_/buckets/b1","availablePermissions":["inRole:roles/storage.objectViewer"]}]}`
	if _, err := ParseAccessBoundary([]byte(bare)); err != nil {
		t.Errorf("bare form: %v", err)
	}

	bad := []struct{ name, in, field string }{
		{"empty", ``, "accessBoundary"},
		{"not json", `nope`, "accessBoundary"},
		{"truncated", `{"accessBoundary":{`, "accessBoundary"},
		{"array", `[]`, "accessBoundary"},
		{"empty object", `{}`, "accessBoundary"},
		{"null boundary", `{"accessBoundary":null}`, "accessBoundary"},
		{"both forms", `{"accessBoundary":{"accessBoundaryRules":[]},"accessBoundaryRules":[]}`, "accessBoundaryRules"},
		{"unknown top field", `{"accessBoundary":{"accessBoundaryRules":[]},"extra":1}`, "extra"},
		{"unknown rule field", `{"accessBoundaryRules":[{"availableResource":"//x/y","availablePermissions":["inRole:roles/a"],"resource":"z"}]}`, "resource"},
		{"trailing data", `{"accessBoundaryRules":[{"availableResource":"//x/y","availablePermissions":["inRole:roles/a"]}]} {}`, "accessBoundary"},
		{"permissions not array", `{"accessBoundaryRules":[{"availableResource":"//x/y","availablePermissions":"inRole:roles/a"}]}`, "accessBoundaryRules.availablePermissions"},
		{"no rules", `{"accessBoundary":{"accessBoundaryRules":[]}}`, "accessBoundary.accessBoundaryRules"},
		{"bad permission", `{"accessBoundary":{"accessBoundaryRules":[{"availableResource":"//x/y","availablePermissions":["inRole:roles/a","roles/b"]}]}}`,
			"accessBoundary.accessBoundaryRules[0].availablePermissions[1]"},
		{"huge", `{"accessBoundaryRules":[` + strings.Repeat(" ", maxBoundaryFileSize) + `]}`, "accessBoundary"},
	}
	for _, tt := range bad {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseAccessBoundary([]byte(tt.in))
			var ve *ValidationError
			if !errors.As(err, &ve) {
				t.Fatalf("err = %v (%T), want *ValidationError", err, err)
			}
			if ve.Field != tt.field {
				t.Errorf("Field = %q, want %q (%v)", ve.Field, tt.field, err)
			}
		})
	}
}

func TestAccessBoundaryJSONRoundTrip(t *testing.T) {
	b := &AccessBoundary{Rules: []AccessBoundaryRule{
		BucketRule("b1", "roles/storage.objectViewer"),
		ObjectPrefixRule("b2", "logs/", "roles/storage.objectAdmin", "roles/storage.legacyBucketReader"),
	}}
	opts := b.optionsJSON()
	if strings.Contains(string(opts), `\u0026`) {
		t.Errorf("options JSON is HTML-escaped: %s", opts)
	}
	back, err := ParseAccessBoundary(opts)
	if err != nil {
		t.Fatal(err)
	}
	again, _ := json.Marshal(back)
	first, _ := json.Marshal(b)
	if string(again) != string(first) {
		t.Errorf("round trip\n got %s\nwant %s", again, first)
	}
}

func FuzzParseAccessBoundary(f *testing.F) {
	f.Add([]byte(`{"accessBoundary":{"accessBoundaryRules":[{"availableResource":"//storage.googleapis.com/projects/_/buckets/b","availablePermissions":["inRole:roles/storage.objectViewer"]}]}}`))
	f.Add([]byte(`{"accessBoundaryRules":[{"availableResource":"//storage.googleapis.com/projects/_/buckets/b","availablePermissions":["inRole:roles/storage.objectViewer"],"availabilityCondition":{"expression":"resource.name.startsWith('projects/_/buckets/b/objects/a') || api.getAttribute('storage.googleapis.com/objectListPrefix', '').startsWith('a')"}}]}`))
	f.Add([]byte(`{"accessBoundaryRules":[{"availableResource":"//x/y","availablePermissions":["inRole:roles/a"],"availabilityCondition":{"expression":"[1,2].all(x, x > 0) ? a.b['c'] : 1u + 2.0"}}]}`))
	f.Add([]byte(`{"accessBoundary":null}`))
	f.Add([]byte(`{"accessBoundaryRules":[{"availablePermissions":"x"}]}`))
	f.Add([]byte(`{`))
	f.Fuzz(func(t *testing.T, data []byte) {
		b, err := ParseAccessBoundary(data)
		if err != nil {
			var ve *ValidationError
			if !errors.As(err, &ve) {
				t.Fatalf("error %v is %T, want *ValidationError", err, err)
			}
			if b != nil {
				t.Fatal("boundary returned with an error")
			}
			return
		}
		if err := b.Validate(); err != nil {
			t.Fatalf("parsed boundary does not validate: %v", err)
		}
		// What parses re-encodes to options that parse again.
		opts := b.optionsJSON()
		if _, err := ParseAccessBoundary(opts); err != nil {
			t.Fatalf("re-encoded boundary does not parse: %v\n%s", err, opts)
		}
	})
}

// FuzzValidRole: validRole accepts exactly the roles a split on "/" does:
// "roles/NAME", "projects/ID/roles/NAME", "organizations/ID/roles/NAME".
func FuzzValidRole(f *testing.F) {
	for _, s := range []string{"roles/x", "projects/p/roles/r", "organizations/o/roles/r", "roles/", "roles/a/b",
		"projects//roles/r", "projects/p/roles/", "folders/f/roles/r", "projects/p/x/r", "", "/", "roles"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, role string) {
		parts := strings.Split(role, "/")
		want := len(parts) == 2 && parts[0] == "roles" && parts[1] != "" ||
			len(parts) == 4 && (parts[0] == "projects" || parts[0] == "organizations") && parts[1] != "" && parts[2] == "roles" && parts[3] != ""
		if got := validRole(role); got != want {
			t.Fatalf("validRole(%q) = %t, want %t", role, got, want)
		}
	})
}

// FuzzAccessBoundaryJSON: a boundary's JSON is what encoding/json makes of
// its fields by their tags (a type without the MarshalJSON method), for any
// text in them: escapes, HTML characters, invalid UTF-8, line separators.
func FuzzAccessBoundaryJSON(f *testing.F) {
	f.Add("//storage.googleapis.com/projects/_/buckets/b", "inRole:roles/x", "a && b < c > d", "t\u2028", "\xff\b\f\x01\"\\", true, false)
	f.Add("", "", "", "", "", false, true)
	f.Fuzz(func(t *testing.T, res, perm, expr, title, desc string, cond, nilPerms bool) {
		type condition AvailabilityCondition
		type rule struct {
			AvailableResource     string     `json:"availableResource"`
			AvailablePermissions  []string   `json:"availablePermissions"`
			AvailabilityCondition *condition `json:"availabilityCondition,omitempty"`
		}
		type boundary struct {
			Rules []rule `json:"accessBoundaryRules"`
		}
		r := AccessBoundaryRule{AvailableResource: res, AvailablePermissions: []string{perm, expr}}
		if nilPerms {
			r.AvailablePermissions = nil
		}
		if cond {
			r.AvailabilityCondition = &AvailabilityCondition{Expression: expr, Title: title, Description: desc}
		}
		b := AccessBoundary{Rules: []AccessBoundaryRule{r, r}}
		plain := boundary{Rules: []rule{{r.AvailableResource, r.AvailablePermissions, (*condition)(r.AvailabilityCondition)}}}
		plain.Rules = append(plain.Rules, plain.Rules[0])
		want, err := json.Marshal(plain)
		if err != nil {
			t.Fatal(err)
		}
		got, err := json.Marshal(b)
		if err != nil || string(got) != string(want) {
			t.Fatalf("json.Marshal = %s (%v), want %s", got, err, want)
		}
		if got, _ := b.MarshalJSON(); string(got) != string(want) {
			t.Fatalf("MarshalJSON = %s, want %s", got, want)
		}
		if got := string(b.optionsJSON()); got != `{"accessBoundary":`+string(want)+`}` {
			t.Fatalf("optionsJSON = %s", got)
		}
		if got, _ := json.Marshal(AccessBoundary{}); string(got) != `{"accessBoundaryRules":null}` {
			t.Fatalf("empty boundary: %s", got)
		}
	})
}

// FuzzCleanText: cleanText accepts exactly the valid UTF-8 without white
// space or control characters.
func FuzzCleanText(f *testing.F) {
	for _, s := range []string{"bucket", "a b", "\x7f", "\u00a0", "\u0085", "é", "\xff", "\ufffd", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		want := utf8.ValidString(s) && !strings.ContainsFunc(s, func(r rune) bool { return unicode.IsSpace(r) || unicode.IsControl(r) })
		if got := cleanText(s); got != want {
			t.Fatalf("cleanText(%q) = %t, want %t", s, got, want)
		}
	})
}
