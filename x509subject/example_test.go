package x509subject_test

import (
	"fmt"
	"strings"

	"github.com/stsgo/sts"
	"github.com/stsgo/sts/x509subject"
)

// Certificate-based federation: the workload's certificate is the subject
// token, and the exchange goes over mutual TLS with it. The certificate
// configuration is the file gcloud writes; the key pair it names is read
// again whenever it is rotated.
func ExampleSubject() {
	_, err := sts.NewTokenSource(sts.Config{
		Subject: &x509subject.Subject{
			CertificateConfigFile: "/etc/workload/certificate_config.json",
			TrustChainFile:        "/etc/workload/chain.pem",
		},
		SubjectTokenType: sts.TokenTypeMTLS,
		Audience:         "//iam.googleapis.com/projects/123456789012/locations/global/workloadIdentityPools/x509-pool/providers/corp-ca",
		TokenURL:         "https://sts.mtls.googleapis.com/v1/token",
	})
	// Here the files do not exist: construction fails, naming the field.
	fmt.Println(err != nil && strings.Contains(err.Error(), "x509subject.Subject.CertificateConfigFile"))
	// Output: true
}
