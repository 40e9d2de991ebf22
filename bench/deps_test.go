package bench

import (
	_ "cloud.google.com/go/auth"
	_ "cloud.google.com/go/auth/credentials/downscope"
	_ "cloud.google.com/go/auth/credentials/externalaccount"
	_ "github.com/stsgo/sts"
	_ "github.com/stsgo/sts/downscope"
	_ "github.com/stsgo/sts/ststest"
	_ "golang.org/x/oauth2"
	_ "golang.org/x/oauth2/google/downscope"
	_ "golang.org/x/oauth2/google/externalaccount"
)
