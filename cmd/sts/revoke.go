package main

import (
	"context"
	"flag"
	"fmt"
	"time"
)

func init() {
	register("revoke", &command{
		summary: "Sign out: revoke what a credential configuration file holds, so that no new token can be had from it.\n" +
			"For an external_account_authorized_user file (sts login, gcloud's workforce sign-in), the refresh token\n" +
			"is revoked at the file's revoke_url (else next to its token_url); every later refresh fails with invalid_grant, and the file must be\n" +
			"signed in again. With --interactive, a workforce file's executable source runs in revoke mode\n" +
			"(GOOGLE_EXTERNAL_ACCOUNT_REVOKE=1) on this terminal, as gcloud runs it. Other files cannot be revoked.\n" +
			"--credentials names the file; without it the credentials are detected as sts token detects them.",
		usage: "sts revoke [--credentials FILE] [--interactive] [--timeout D]",
		setup: func(fs *flag.FlagSet) func(context.Context, *env, []string) error {
			cf := &credFlags{}
			fs.StringVar(&cf.path, "credentials", "", "credential configuration `file`; empty means $GOOGLE_APPLICATION_CREDENTIALS")
			fs.DurationVar(&cf.timeout, "timeout", time.Minute, "give up after this long")
			interactive := fs.Bool("interactive", false, "revoke the sign-in of the file's executable, run on this terminal "+
				"(--timeout then defaults to 31m)")
			return func(ctx context.Context, e *env, args []string) error {
				if len(args) > 0 {
					return usagef("takes no arguments")
				}
				ctx, creds, done, err := cf.open(ctx, fs, e, *interactive)
				if err != nil {
					return err
				}
				defer done()
				if err := creds.Revoke(ctx); err != nil {
					return err
				}
				_, err = fmt.Fprintln(e.stdout, "revoked")
				return err
			}
		},
	})
}
