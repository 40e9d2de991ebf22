// Asks a metadata server for credentials the way any Node.js program using
// Google's auth library does: Application Default Credentials, with no
// credential file, find the server at GCE_METADATA_HOST.
//
// Run by ../serve_node_test.go; prints one JSON line:
// {"accessToken","projectId","email","universe","idToken"?}. With
// ID_TOKEN_AUDIENCE set it also gets an ID token through getIdTokenClient.
'use strict';

const {GoogleAuth} = require('google-auth-library');

async function main() {
  const auth = new GoogleAuth({
    scopes: ['https://www.googleapis.com/auth/cloud-platform'],
  });
  const out = {};
  out.accessToken = await auth.getAccessToken();
  out.projectId = await auth.getProjectId();
  out.email = (await auth.getCredentials()).client_email;
  out.universe = await auth.getUniverseDomain();
  const audience = process.env.ID_TOKEN_AUDIENCE;
  if (audience) {
    const client = await auth.getIdTokenClient(audience);
    const headers = await client.getRequestHeaders();
    const authz =
      typeof headers.get === 'function'
        ? headers.get('authorization')
        : headers.Authorization || headers.authorization;
    out.idToken = String(authz).replace(/^Bearer /, '');
  }
  process.stdout.write(JSON.stringify(out) + '\n');
}

main().catch(err => {
  process.stderr.write(String((err && err.stack) || err) + '\n');
  process.exit(1);
});
