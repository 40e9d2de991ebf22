package sts

// Providers of credential_source kinds whose provider types live in other
// files of the package.

import "time"

// buildExecutable validates credential_source.executable and builds its
// provider. interactive_timeout_millis is checked but unused: the command
// always runs non-interactively. Nothing runs at load time.
func buildExecutable(e *executableSource, tokenType string, o *LoadOptions) (*builtSubject, error) {
	timeout, _, err := checkExecutable(e, tokenType)
	if err != nil {
		return nil, err
	}
	argv, err := ParseExecutableCommand(*e.Command)
	if err != nil {
		return nil, err
	}
	x := ExecutableSubject{
		Command:    argv,
		Timeout:    time.Duration(timeout) * time.Millisecond,
		OutputFile: e.OutputFile,
		Getenv:     o.Getenv,
	}
	if err := x.Validate(); err != nil {
		return nil, fileFieldError(err)
	}
	return &builtSubject{provider: x}, nil
}

// buildAWS validates the AWS credential_source and builds its provider.
func buildAWS(cs *credentialSource, tokenType string, o *LoadOptions) (*builtSubject, error) {
	if err := checkAWSSource(cs, tokenType); err != nil {
		return nil, err
	}
	str := func(p *string) string {
		if p == nil {
			return ""
		}
		return *p
	}
	a := &AWSSubject{
		RegionURL:                   str(cs.RegionURL),
		CredentialsURL:              str(cs.URL),
		IMDSv2TokenURL:              str(cs.IMDSv2SessionTokenURL),
		RegionalCredVerificationURL: str(cs.RegionalCredVerificationURL),
		HTTPClient:                  o.HTTPClient,
		Getenv:                      o.Getenv,
	}
	if err := a.Validate(); err != nil {
		return nil, fileFieldError(err)
	}
	return &builtSubject{provider: a}, nil
}

// buildX509 validates credential_source.certificate and builds its provider.
func buildX509(c *certificateSource, tokenType string, o *LoadOptions) (*builtSubject, error) {
	if err := checkCertificate(c, tokenType); err != nil {
		return nil, err
	}
	x := &X509Subject{
		UseDefaultCertificateConfig: c.UseDefaultCertificateConfig != nil && *c.UseDefaultCertificateConfig,
		TrustChainFile:              c.TrustChainPath,
		Getenv:                      o.Getenv,
	}
	if c.CertificateConfigLocation != nil {
		x.CertificateConfigFile = *c.CertificateConfigLocation
	}
	// validate reads the configuration, key pair and chain now, so that a
	// missing or broken file fails the load.
	if err := x.Validate(); err != nil {
		return nil, fileFieldError(err)
	}
	return &builtSubject{provider: x, mtls: true}, nil
}
