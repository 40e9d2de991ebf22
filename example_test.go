package sts_test

import (
	"context"
	"fmt"
	"net/url"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/stsgo/sts"
	"github.com/stsgo/sts/ststest"
)

// Federation from AWS: the subject token is a signed GetCallerIdentity
// request. On EC2, set RegionURL, CredentialsURL and IMDSv2TokenURL from the
// credential file instead; elsewhere, pass the AWS SDK's credentials chain
// (config.LoadDefaultConfig(ctx).Credentials) to get EKS, ECS and SSO roles.
func ExampleAWSSubject() {
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
		Subject:          &sts.AWSSubject{Region: "us-east-2", Credentials: creds},
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

// Certificate-based federation: the workload's certificate is the subject
// token, and the exchange goes over mutual TLS with it. The certificate
// configuration is the file gcloud writes; the key pair it names is read
// again whenever it is rotated.
func ExampleX509Subject() {
	_, err := sts.NewTokenSource(sts.Config{
		Subject: &sts.X509Subject{
			CertificateConfigFile: "/etc/workload/certificate_config.json",
			TrustChainFile:        "/etc/workload/chain.pem",
		},
		SubjectTokenType: sts.TokenTypeMTLS,
		Audience:         "//iam.googleapis.com/projects/123456789012/locations/global/workloadIdentityPools/x509-pool/providers/corp-ca",
		TokenURL:         "https://sts.mtls.googleapis.com/v1/token",
	})
	// Here the files do not exist: construction fails, naming the field.
	fmt.Println(err != nil && strings.Contains(err.Error(), "X509Subject.CertificateConfigFile"))
	// Output: true
}
