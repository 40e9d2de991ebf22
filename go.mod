module github.com/stsgo/sts

go 1.25.0

require (
	cloud.google.com/go/compute/metadata v0.9.0 // indirect
	github.com/google/go-cmp v0.7.0 // indirect
	go.uber.org/goleak v1.3.0 // indirect
	golang.org/x/oauth2 v0.36.0 // indirect
	golang.org/x/sys v0.35.0 // indirect
)
