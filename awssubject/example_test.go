package awssubject_test

import (
	"context"
	"fmt"
	"net/url"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/stsgo/sts"
	"github.com/stsgo/sts/awssubject"
	"github.com/stsgo/sts/ststest"
)

// Federation from AWS: the subject token is a signed GetCallerIdentity
// request. On EC2, set RegionURL, CredentialsURL and IMDSv2TokenURL from the
// credential file instead; elsewhere, pass the AWS SDK's credentials chain
// (config.LoadDefaultConfig(ctx).Credentials) to get EKS, ECS and SSO roles.
func ExampleSubject() {
	emu := ststest.NewServer(ststest.Options{
		ValidateSubject: func(_, token string) error {
			raw, _ := url.QueryUnescape(token)
			if !strings.Contains(raw, `"method":"POST"`) || !strings.Contains(raw, "x-goog-cloud-target-resource") {
				return fmt.Errorf("not a GetCallerIdentity request")
			}
			return nil
		},
	})
	defer emu.Close()

	creds := aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) {
		return aws.Credentials{AccessKeyID: "AKIDEXAMPLE", SecretAccessKey: "example-secret-key"}, nil
	})
	ts, err := sts.NewTokenSource(sts.Config{
		Subject:          &awssubject.Subject{Region: "us-east-2", Credentials: creds},
		SubjectTokenType: sts.TokenTypeAWS4Request,
		Audience:         "//iam.googleapis.com/projects/123456789012/locations/global/workloadIdentityPools/aws-pool/providers/aws",
		TokenURL:         emu.TokenURL(),
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	tok, err := ts.Token()
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(tok.Valid(), emu.Count("/v1/token"))
	// Output: true 1
}
