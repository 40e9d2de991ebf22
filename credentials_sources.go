package sts

// Providers of credential_source kinds whose provider types live in other
// files of the package.

// buildExecutable validates credential_source.executable and builds its
// provider.
func buildExecutable(e *executableSource, tokenType string, o *LoadOptions) (*builtSubject, error) {
	if _, _, err := checkExecutable(e, tokenType); err != nil {
		return nil, err
	}
	return nil, invalid("credential_source.executable", "executable sources are not supported yet")
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
	if err := a.validate(); err != nil {
		return nil, fileFieldError(err)
	}
	return &builtSubject{provider: a}, nil
}

// buildX509 validates credential_source.certificate and builds its provider.
func buildX509(c *certificateSource, tokenType string, o *LoadOptions) (*builtSubject, error) {
	if err := checkCertificate(c, tokenType); err != nil {
		return nil, err
	}
	return nil, invalid("credential_source.certificate", "certificate sources are not supported yet")
}
