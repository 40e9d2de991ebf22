package bench

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"runtime"
	"strings"
	"testing"
	"time"

	"cloud.google.com/go/auth"
	authdownscope "cloud.google.com/go/auth/credentials/downscope"
	"golang.org/x/oauth2"
	oauthdownscope "golang.org/x/oauth2/google/downscope"

	"github.com/stsgo/sts"
	"github.com/stsgo/sts/downscope"
	"github.com/stsgo/sts/ststest"
)

// Downscoping: distinct boundaries (one bucket each, objectViewer) over one
// root token, for x/oauth2's google/downscope, auth's
// credentials/downscope, sts's server-side downscope.NewTokenSource (one
// STS exchange per boundary, then cached) and sts's client-side
// downscope.Minter (one intermediary token for all boundaries, each token
// minted locally).

const boundaries = 1000

var downscopeLibs = []string{"oauth2", "auth", "sts-server", "sts-client"}

func bucket(i int) string { return fmt.Sprintf("bench-bucket-%d", i) }

// rootToken exchanges the subject once for the root token to downscope.
func rootToken(tb testing.TB, e *env) *oauth2.Token {
	tb.Helper()
	x, err := sts.NewTokenSource(sts.Config{
		Subject:          sts.FileSubject{Path: e.subject},
		SubjectTokenType: sts.TokenTypeJWT,
		Audience:         audience,
		TokenURL:         e.srv.TokenURL(),
		HTTPOptions:      sts.HTTPOptions{HTTPClient: e.client},
	})
	if err != nil {
		tb.Fatal(err)
	}
	tok, err := x.Token()
	if err != nil {
		tb.Fatal(err)
	}
	return tok
}

// staticProvider is an auth.TokenProvider of one token.
type staticProvider struct{ t *auth.Token }

func (p staticProvider) Token(context.Context) (*auth.Token, error) { return p.t, nil }

// downscoper returns, for the named library, a function that builds the
// token source of boundary i over root.
func downscoper(tb testing.TB, lib string, e *env, root *oauth2.Token) func(i int) getter {
	tb.Helper()
	rootSrc := oauth2.StaticTokenSource(root)
	// sts's layers get the root through a CachedTokenSource, as its
	// documentation recommends: a plain oauth2.TokenSource, which takes no
	// context, is called on a goroutine of its own so that a hung one can
	// be cut at the refresh deadline.
	stsRoot, err := sts.NewCachedTokenSource(rootSrc, sts.CacheOptions{InitialToken: root})
	if err != nil {
		tb.Fatal(err)
	}
	switch lib {
	case "oauth2":
		ctx := context.WithValue(context.Background(), oauth2.HTTPClient, e.client)
		return func(i int) getter {
			ts, err := oauthdownscope.NewTokenSource(ctx, oauthdownscope.DownscopingConfig{
				RootSource: rootSrc,
				Rules: []oauthdownscope.AccessBoundaryRule{{
					AvailableResource:    "//storage.googleapis.com/projects/_/buckets/" + bucket(i),
					AvailablePermissions: []string{"inRole:roles/storage.objectViewer"},
				}},
			})
			if err != nil {
				tb.Fatal(err)
			}
			return oauth2Getter(ts)
		}
	case "auth":
		creds := auth.NewCredentials(&auth.CredentialsOptions{
			TokenProvider: staticProvider{&auth.Token{Value: root.AccessToken, Type: "Bearer", Expiry: root.Expiry}},
		})
		return func(i int) getter {
			c, err := authdownscope.NewCredentials(&authdownscope.Options{
				Credentials: creds,
				Rules: []authdownscope.AccessBoundaryRule{{
					AvailableResource:    "//storage.googleapis.com/projects/_/buckets/" + bucket(i),
					AvailablePermissions: []string{"inRole:roles/storage.objectViewer"},
				}},
				Client: e.client,
			})
			if err != nil {
				tb.Fatal(err)
			}
			return authGetter(c)
		}
	case "sts-server":
		return func(i int) getter {
			ts, err := downscope.NewTokenSource(downscope.Config{
				Source:      stsRoot,
				Boundary:    &sts.AccessBoundary{Rules: []sts.AccessBoundaryRule{sts.BucketRule(bucket(i), "roles/storage.objectViewer")}},
				TokenURL:    e.srv.TokenURL(),
				HTTPOptions: sts.HTTPOptions{HTTPClient: e.client},
			})
			if err != nil {
				tb.Fatal(err)
			}
			return stsGetter(ts)
		}
	case "sts-client":
		m, err := downscope.NewMinter(downscope.Config{Source: stsRoot, TokenURL: e.srv.TokenURL(), HTTPOptions: sts.HTTPOptions{HTTPClient: e.client}})
		if err != nil {
			tb.Fatal(err)
		}
		return func(i int) getter {
			cb, err := downscope.Compile(&sts.AccessBoundary{Rules: []sts.AccessBoundaryRule{sts.BucketRule(bucket(i), "roles/storage.objectViewer")}})
			if err != nil {
				tb.Fatal(err)
			}
			ts := m.TokenSource(cb)
			return func(ctx context.Context) (string, time.Time, error) {
				t, err := ts.TokenContext(ctx)
				if err != nil {
					return "", time.Time{}, err
				}
				return t.AccessToken, t.Expiry, nil
			}
		}
	}
	tb.Fatalf("unknown library %q", lib)
	return nil
}

// TestDownscope builds one source per boundary for 1,000 boundaries and
// asks each for a token twice (as a program asks again for each request),
// counting STS exchanges. sts's server-side sources exchange once per
// boundary; its client-side minter once for all of them. Each token is
// checked against the emulator: it allows reading its own bucket only.
func TestDownscope(t *testing.T) {
	ctx := context.Background()
	for _, lib := range downscopeLibs {
		e := newEnv(t, ststest.Options{})
		root := rootToken(t, e)
		before := e.exchanges()
		mk := downscoper(t, lib, e, root)
		gets := make([]getter, boundaries)
		for i := range gets {
			gets[i] = mk(i)
		}
		var (
			perToken [2]time.Duration
			sample   [3]string // tokens of the first boundaries, checked below
		)
		for round := range 2 {
			start := time.Now()
			for i, get := range gets {
				v, _, err := get(ctx)
				if err != nil {
					t.Fatalf("%s: boundary %d, round %d: %v", lib, i, round, err)
				}
				if i < len(sample) && round == 0 {
					sample[i] = v
				}
			}
			perToken[round] = time.Since(start) / boundaries
		}
		for i, v := range sample {
			own, err := e.srv.Allows(v, "storage.objects.get", "//storage.googleapis.com/projects/_/buckets/"+bucket(i)+"/objects/x", "")
			other, err2 := e.srv.Allows(v, "storage.objects.get", "//storage.googleapis.com/projects/_/buckets/"+bucket(i+1)+"/objects/x", "")
			if !own || other || err != nil || err2 != nil {
				t.Errorf("%s: token of boundary %d: allows own bucket %v (%v), other bucket %v (%v)", lib, i, own, err, other, err2)
			}
		}
		n := e.exchanges() - before
		t.Logf("%-10s boundaries=%d calls=%d exchanges=%d time/token: first=%v again=%v",
			lib, boundaries, 2*boundaries, n, perToken[0], perToken[1])
		switch lib {
		case "sts-server":
			if n != boundaries {
				t.Errorf("sts server-side: %d exchanges for %d boundaries asked twice; want %d", n, boundaries, boundaries)
			}
		case "sts-client":
			if n != 1 {
				t.Errorf("sts client-side: %d exchanges for %d boundaries asked twice; want 1", n, boundaries)
			}
		}
	}
}

// BenchmarkDownscope measures the time to the first token of a new
// boundary: build the boundary's source and get its token. For the anchors
// and sts's server-side source that is one STS exchange (with the
// in-process emulator's work included; see BenchmarkExchange's floor); for
// sts's client-side minter it is compiling the boundary and minting
// locally (the one intermediary exchange per 500 ops is included too).
func BenchmarkDownscope(b *testing.B) {
	ctx := context.Background()
	for _, lib := range downscopeLibs {
		b.Run("lib="+lib, func(b *testing.B) {
			measureCPU(b, memEnv, func(e *env) func(int) {
				mk := downscoper(b, lib, e, rootToken(b, e))
				return func(i int) {
					if _, _, err := mk(i % boundaries)(ctx); err != nil {
						b.Fatal(err)
					}
				}
			})
		})
	}
}

// newMinter returns a Minter over the root token of e with its intermediary
// token fetched, and a compiled boundary to mint for.
func newMinter(tb testing.TB, e *env) (*downscope.Minter, *downscope.CompiledBoundary) {
	tb.Helper()
	root := rootToken(tb, e)
	stsRoot, err := sts.NewCachedTokenSource(oauth2.StaticTokenSource(root), sts.CacheOptions{InitialToken: root})
	if err != nil {
		tb.Fatal(err)
	}
	m, err := downscope.NewMinter(downscope.Config{Source: stsRoot, TokenURL: e.srv.TokenURL(), HTTPOptions: sts.HTTPOptions{HTTPClient: e.client}})
	if err != nil {
		tb.Fatal(err)
	}
	cb, err := downscope.Compile(&sts.AccessBoundary{Rules: []sts.AccessBoundaryRule{sts.BucketRule(bucket(0), "roles/storage.objectViewer")}})
	if err != nil {
		tb.Fatal(err)
	}
	if _, err := m.Token(context.Background(), cb); err != nil {
		tb.Fatal(err)
	}
	return m, cb
}

// BenchmarkMint measures client-side minting: Minter.Token for a compiled
// boundary, its intermediary token held, called from GOMAXPROCS goroutines
// (run with -cpu 1,2). Each call mints a new token (an AES-GCM seal of the
// boundary); ns/op is wall time per token across the goroutines, so a
// minter that scales shows half the figure at 2 CPUs. Two references run
// alongside, without the library (see mintFloor): lib=floor makes a token
// of the same shape (the seal, its base64, and the token's string and
// *oauth2.Token), lib=seal only the seal and base64, allocating nothing.
//
// Each runs twice: live=none in the benchmark process as it is (a live heap
// of about 1 MB, so the collector runs at its 4 MB minimum, every ~7,000
// tokens), and live=16MiB with a live heap of 16 MiB of small linked
// objects held beside it, as a modest server holds (see liveHeap): the
// collector then runs about 6 times less often, and marks those objects
// every time.
func BenchmarkMint(b *testing.B) {
	m, cb := newMinter(b, newEnv(b, ststest.Options{}))
	floor := newMintFloor(b, m, cb)
	for _, live := range mintHeaps {
		heap := newLiveHeap(live.mib)
		for _, op := range mintOps(m, cb, floor) {
			b.Run("live="+live.name+"/lib="+op.lib, func(b *testing.B) {
				b.ReportAllocs()
				b.ResetTimer()
				t0 := cpuTime()
				b.RunParallel(func(pb *testing.PB) {
					mint := op.newOp()
					for pb.Next() {
						if err := mint(); err != nil {
							b.Error(err)
							return
						}
					}
				})
				b.ReportMetric(float64((cpuTime()-t0).Nanoseconds())/float64(b.N), "cpu-ns/op")
			})
		}
		runtime.KeepAlive(heap)
	}
}

// mintHeaps are the live heaps BenchmarkMint and TestMintCost mint beside.
var mintHeaps = []struct {
	name string
	mib  int
}{{"none", 0}, {"16MiB", 16}}

// heapNode is one object of a liveHeap: 64 bytes, one of them a pointer.
type heapNode struct {
	next *heapNode
	_    [7]int
}

// newLiveHeap returns mib MiB of 64-byte objects, in chains of 8 held by
// one slice, for the collector to mark as it marks a program's own data;
// the caller keeps the slice alive while it measures.
func newLiveHeap(mib int) []*heapNode {
	h := make([]*heapNode, mib<<20/64)
	for i := range h {
		h[i] = &heapNode{}
		if i%8 != 0 {
			h[i].next = h[i-1]
		}
	}
	return h
}

// mintOp is a way to make tokens; newOp returns the op of one goroutine.
type mintOp struct {
	lib   string
	newOp func() func() error
}

// mintOps returns BenchmarkMint's ops: m minting for cb, and floor's
// token and seal.
func mintOps(m *downscope.Minter, cb *downscope.CompiledBoundary, floor *mintFloor) []mintOp {
	return []mintOp{
		{"sts-client", func() func() error {
			ctx := context.Background()
			return func() error { _, err := m.Token(ctx, cb); return err }
		}},
		{"floor", func() func() error {
			w := floor.worker()
			return func() error { w.token(); return nil }
		}},
		{"seal", func() func() error {
			w := floor.worker()
			return func() error { w.seal(); return nil }
		}},
	}
}

// mintFloor makes tokens of the same shape as a Minter's (its intermediary
// token, a dot, and the unpadded base64url of a Tink AES-GCM ciphertext of
// the same length) with crypto/cipher directly and none of the library:
// what any client-side mint must do. Its token is what Minter.Token must
// return, so its allocations (the string and the *oauth2.Token) are the
// least a mint can make.
type mintFloor struct {
	gcm          cipher.AEAD
	intermediary string
	plaintext    []byte
	expiry       time.Time
}

// newMintFloor returns the floor of m's tokens for cb.
func newMintFloor(tb testing.TB, m *downscope.Minter, cb *downscope.CompiledBoundary) *mintFloor {
	tb.Helper()
	tok, err := m.Token(context.Background(), cb)
	if err != nil {
		tb.Fatal(err)
	}
	inter, sealed, ok := strings.Cut(tok.AccessToken, ".")
	if !ok {
		tb.Fatal("a minted token has no dot")
	}
	key := make([]byte, 32)
	_, _ = rand.Read(key)
	block, err := aes.NewCipher(key)
	if err != nil {
		tb.Fatal(err)
	}
	gcm, err := cipher.NewGCM(block)
	if err != nil {
		tb.Fatal(err)
	}
	// A Tink ciphertext: 5 prefix bytes, the nonce, the sealed text and the tag.
	n := base64.RawURLEncoding.DecodedLen(len(sealed)) - 5 - gcm.NonceSize() - gcm.Overhead()
	return &mintFloor{gcm: gcm, intermediary: inter, plaintext: make([]byte, n), expiry: tok.Expiry}
}

// floorWorker is one goroutine's state: its buffer and nonces.
type floorWorker struct {
	f      *mintFloor
	buf    []byte
	nonces [64 * 12]byte
	off    int
}

func (f *mintFloor) worker() *floorWorker {
	return &floorWorker{f: f, buf: make([]byte, 0, 1024), off: 64 * 12}
}

// seal writes the ciphertext and its base64 into w's buffer and returns
// the base64.
func (w *floorWorker) seal() []byte {
	if w.off == len(w.nonces) {
		_, _ = rand.Read(w.nonces[:])
		w.off = 0
	}
	nonce := w.nonces[w.off : w.off+12]
	w.off += 12
	ct := append(w.buf[:0], 1, 0, 0, 0, 1)
	ct = w.f.gcm.Seal(append(ct, nonce...), nonce, w.f.plaintext, nil)
	return base64.RawURLEncoding.AppendEncode(ct[len(ct):], ct)
}

// token returns a token made of w.seal's base64. It is not inlined, so
// that its token is allocated on the heap whatever its caller does with it,
// as Minter.Token's is.
//
//go:noinline
func (w *floorWorker) token() *oauth2.Token {
	enc := w.seal()
	var b strings.Builder
	b.Grow(len(w.f.intermediary) + 1 + len(enc))
	b.WriteString(w.f.intermediary)
	b.WriteByte('.')
	b.Write(enc)
	return &oauth2.Token{AccessToken: b.String(), TokenType: "Bearer", Expiry: w.f.expiry}
}
