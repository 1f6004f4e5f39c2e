/* The convolution layer's forward pass through FFTs (-nn_backend fft, and auto at inference):
   2-D, stride 1, any padding p, the same output as conv.c,

     out[n,o,y,x] = b[o] + Σ_i Σ_{dy,dx} W[o,i,dy,dx] · in[n,i, y+dy−p, x+dx−p],

   computed on output tiles of T_y × T_x. The input patch a tile reads, F_y × F_x with
   F = T + k − 1 a 2,3,5,7-smooth size (zeros outside the image), is transformed once per channel;
   by the correlation theorem its circular correlation with the zero-padded kernel has the tile's
   outputs at 0 ≤ y < T_y, 0 ≤ x < T_x (no wrap-around reaches them), so per frequency f

     Y_f[t,o] = (1/(F_y F_x)) Σ_i X_f[t,i] · conj(Ŵ_f[o,i])        (Y_f = X_f · Ŵ_fᴴ / F_yF_x)

   over the tiles t of a chunk (all samples' tiles together): one complex GEMM per frequency,
   chunk × cout × cin. Then one inverse transform per tile and output channel, the crop, the bias.
   The weight spectra Ŵ (F_y·(F_x/2 + 1)·cout·cin complex values) are made once per set of weights
   and shape, and again only when the weights differ from the copy they were made from.

   The spectra are kept tile-major, frequency next, channel fastest (X[t][f][i], Y[t][f][o]), so
   that the GEMM of frequency f reads its m × cin rows at a stride of one tile and a transform
   writes its frequencies 8 bytes × channels apart, within a page: frequency-major spectra
   (X[f][t][i]) put every frequency of a transform on its own page, and the TLB misses made the
   transforms three times slower than in cache (measured). The transforms run GROUP channels of
   one tile at a time, gathered into a per-thread buffer that stays in cache, and the threads
   split the (tile, group) pairs; each is one call of a single-threaded FFTW plan of GROUP
   transforms, so neither the batch, the chunk nor the thread count changes how a tile's spectra
   are computed, and the GEMM of a frequency is one cblas_cgemm whatever the threads. Plans are
   made at the first call for a layer, input shape, thread count and tile side (-nn_fft_tile) and
   kept in the work (two shapes per layer), with the buffers shared by the work's layers; after
   that a call allocates nothing. FFTW_ESTIMATE plans by default: FFTW_MEASURE's
   (-nn_fft_measure) are chosen by timing, so their rounding can differ from run to run. */
#include "learn/nn/nn_impl.h"
#include <fftw3.h>
#include <cblas.h>
#include <omp.h>
#include <string.h>

/* spectra of one chunk of tiles (the larger of X and Y) are kept to about this many bytes */
#define CHUNK_BYTES ((size_t)32 << 20)
#define ENTRIES     2
/* channels transformed together: a group's real patches (GROUP·F² floats, 157 KB for F = 70)
   stay in L2, and its spectra fill whole cache lines of X and Y */
#define GROUP 8

typedef struct {
  PetscInt       key[5]; /* n, h, w, threads, tile side; key[0] = 0: empty */
  ptrdiff_t      Fy, Fx, nf, Ty, Tx, ny, nx, items, m;
  ptrdiff_t      ldx, ldy;       /* X's and Y's stride between tiles */
  ptrdiff_t      ldr;            /* floats of a thread's buffer: GROUP patches, then their spectra */
  fftwf_plan     fwd[2], inv[2]; /* GROUP channels, and the last group of a side when smaller */
  fftwf_plan     wplan;          /* the spectra of one output channel's weights */
  fftwf_complex *wspec;          /* [nf][cout][cin] */
  float         *wcopy;          /* the weights wspec was made from */
  PetscBool      wset;
} Entry;

struct _PdNNFft {
  PetscInt       nl;
  Entry         *e;    /* ENTRIES per layer */
  PetscInt      *next; /* per layer: the entry replaced next */
  float         *R;    /* a buffer per thread (patches and their spectra); the weights' planes */
  fftwf_complex *X, *Y;
  size_t         nR, nX, nY;
};

static void EntryFree(Entry *e)
{
  for (int j = 0; j < 2; j++) {
    if (e->fwd[j]) fftwf_destroy_plan(e->fwd[j]);
    if (e->inv[j]) fftwf_destroy_plan(e->inv[j]);
  }
  if (e->wplan) fftwf_destroy_plan(e->wplan);
  fftwf_free(e->wspec);
  fftwf_free(e->wcopy);
  memset(e, 0, sizeof(*e));
}

static PetscErrorCode PdNNFftDestroy(PdNNFft *d)
{
  PetscFunctionBegin;
  if (!*d) PetscFunctionReturn(0);
  for (PetscInt i = 0; i < (*d)->nl * ENTRIES; i++) EntryFree(&(*d)->e[i]);
  fftwf_free((*d)->R);
  fftwf_free((*d)->X);
  fftwf_free((*d)->Y);
  PetscCall(PetscFree2((*d)->e, (*d)->next));
  PetscCall(PetscFree(*d));
  PetscFunctionReturn(0);
}

/* buf grown to n elements of size sz (contents dropped); FFTW's allocation keeps the alignment
   the plans were made for */
static PetscErrorCode Grow(void **buf, size_t *cap, size_t n, size_t sz)
{
  PetscFunctionBegin;
  if (n <= *cap) PetscFunctionReturn(0);
  fftwf_free(*buf);
  *buf = fftwf_malloc(n * sz);
  PetscCheck(*buf, PETSC_COMM_SELF, PETSC_ERR_MEM, "conv (fft): cannot allocate %zu bytes", n * sz);
  *cap = n;
  PetscFunctionReturn(0);
}

/* n rounded up to whole cache lines of 8-byte values, and one line more when that is a multiple
   of 512 bytes (rows a power-of-2 apart fall into a few cache sets) */
static ptrdiff_t Stride(ptrdiff_t n)
{
  const ptrdiff_t s = (n + 7) / 8 * 8;
  return s % 64 ? s : s + 8;
}

/* Single-threaded plans of g contiguous patches ↔ g contiguous spectra, in a thread's buffer. */
static PetscErrorCode PlanGroup(const PdNNLayer *L, PdNNFft d, Entry *e, ptrdiff_t gi, ptrdiff_t go, int j)
{
  const int            n[2] = {(int)e->Fy, (int)e->Fx}, real = (int)(e->Fy * e->Fx), nf = (int)e->nf;
  const unsigned       flags = PdNNFftMeasure() ? FFTW_MEASURE : FFTW_ESTIMATE;
  fftwf_complex *const S     = (fftwf_complex *)(d->R + GROUP * e->Fy * e->Fx);

  PetscFunctionBegin;
  if (gi) {
    e->fwd[j] = fftwf_plan_many_dft_r2c(2, n, (int)gi, d->R, NULL, 1, real, S, NULL, 1, nf, flags);
    PetscCheck(e->fwd[j], PETSC_COMM_SELF, PETSC_ERR_LIB, "conv %s: FFTW could not plan the %td x %td tile transforms", L->name, e->Fy, e->Fx);
  }
  if (go) {
    e->inv[j] = fftwf_plan_many_dft_c2r(2, n, (int)go, S, NULL, 1, nf, d->R, NULL, 1, real, flags);
    PetscCheck(e->inv[j], PETSC_COMM_SELF, PETSC_ERR_LIB, "conv %s: FFTW could not plan the %td x %td tile transforms", L->name, e->Fy, e->Fx);
  }
  PetscFunctionReturn(0);
}

/* The entry's tiles, chunks, buffers and plans for the input shape of a. */
static PetscErrorCode EntrySetUp(const PdNNLayer *L, const PdNNArgs *a, PdNNFft d, const PetscInt key[5], Entry *e)
{
  const ptrdiff_t k = L->k, tile = key[4], wide = PetscMax(L->cin, L->cout);
  const ptrdiff_t gi = PetscMin(L->cin, GROUP), go = PetscMin(L->cout, GROUP);
  ptrdiff_t       chunks, plane;

  PetscFunctionBegin;
  EntryFree(e);
  PdNNFftTileAxis(a->out->h, k, tile, &e->Fy, &e->Ty, &e->ny);
  PdNNFftTileAxis(a->out->w, k, tile, &e->Fx, &e->Tx, &e->nx);
  plane    = e->Fy * e->Fx;
  e->nf    = e->Fy * (e->Fx / 2 + 1);
  e->ldx   = Stride(e->nf * L->cin);
  e->ldy   = Stride(e->nf * L->cout);
  e->ldr   = (GROUP * (plane + 2 * e->nf) + 15) / 16 * 16; /* whole cache lines: FFTW's alignment */
  e->items = a->out->n * e->ny * e->nx;
  e->m     = PetscMax(1, (ptrdiff_t)(CHUNK_BYTES / ((size_t)wide * e->nf * sizeof(fftwf_complex))));
  chunks   = (e->items + e->m - 1) / e->m;
  e->m     = (e->items + chunks - 1) / chunks; /* chunks of equal size but the last */
  PetscCall(Grow((void **)&d->R, &d->nR, (size_t)PetscMax(key[3] * e->ldr, L->cin * plane), sizeof(float)));
  PetscCall(Grow((void **)&d->X, &d->nX, (size_t)(e->m * e->ldx), sizeof(fftwf_complex)));
  PetscCall(Grow((void **)&d->Y, &d->nY, (size_t)(e->m * e->ldy), sizeof(fftwf_complex)));
  e->wspec = fftwf_alloc_complex((size_t)(e->nf * L->cout * L->cin));
  e->wcopy = fftwf_alloc_real((size_t)L->nw);
  PetscCheck(e->wspec && e->wcopy, PETSC_COMM_SELF, PETSC_ERR_MEM, "conv %s: cannot allocate the weight spectra (%td x %td x %" PetscInt_FMT " x %" PetscInt_FMT ")", L->name, e->Fy, e->Fx, L->cout, L->cin);
  /* single-threaded plans (the threads split the groups); the process's setting is put back after */
  fftwf_plan_with_nthreads(1);
  PetscCall(PlanGroup(L, d, e, gi, go, 0));
  PetscCall(PlanGroup(L, d, e, L->cin % gi, L->cout % go, 1));
  {
    const int nn[2] = {(int)e->Fy, (int)e->Fx}, ci = (int)L->cin, ld = (int)(L->cout * L->cin);
    /* output channel o's spectra go to wspec + o·cin, which FFTW's alignment need not have */
    e->wplan = fftwf_plan_many_dft_r2c(2, nn, ci, d->R, NULL, 1, (int)plane, e->wspec, NULL, ld, 1, FFTW_ESTIMATE | FFTW_UNALIGNED);
  }
  fftwf_plan_with_nthreads(PdGetThreads());
  PetscCheck(e->wplan, PETSC_COMM_SELF, PETSC_ERR_LIB, "conv %s: FFTW could not plan the weight transforms", L->name);
  for (int j = 0; j < 5; j++) e->key[j] = key[j];
  PetscFunctionReturn(0);
}

/* Ŵ[f][o][i] = DFT of W[o][i] zero-padded to F_y × F_x. */
static void WeightSpectra(const PdNNLayer *L, PdNNFft d, Entry *e, const float *w)
{
  const ptrdiff_t k = L->k, plane = e->Fy * e->Fx;

  for (ptrdiff_t o = 0; o < L->cout; o++) {
    memset(d->R, 0, (size_t)(L->cin * plane) * sizeof(float));
    for (ptrdiff_t i = 0; i < L->cin; i++)
      for (ptrdiff_t dy = 0; dy < k; dy++) memcpy(d->R + i * plane + dy * e->Fx, w + ((o * L->cin + i) * k + dy) * k, (size_t)k * sizeof(float));
    fftwf_execute_dft_r2c(e->wplan, d->R, e->wspec + o * L->cin);
  }
  memcpy(e->wcopy, w, (size_t)L->nw * sizeof(float));
  e->wset = PETSC_TRUE;
}

/* Tile t (global index): its sample and output origin. */
static inline void TileOf(const Entry *e, ptrdiff_t t, ptrdiff_t *s, ptrdiff_t *y0, ptrdiff_t *x0)
{
  *s  = t / (e->ny * e->nx);
  *y0 = ((t / e->nx) % e->ny) * e->Ty;
  *x0 = (t % e->nx) * e->Tx;
}

/* R[c] = the F_y × F_x input patch of tile t, channel i0 + c (c < g), from (y0 − p, x0 − p);
   zeros outside the image. */
static void Gather(const PdNNLayer *L, const Entry *e, const PdTensor *in, ptrdiff_t t, ptrdiff_t i0, ptrdiff_t g, float *R)
{
  const ptrdiff_t H = in->h, W = in->w, p = L->pad;
  ptrdiff_t       s, y0, x0, lo, hi;

  TileOf(e, t, &s, &y0, &x0);
  y0 -= p;
  x0 -= p;
  lo = PetscMax(0, -x0);
  hi = PetscMin(e->Fx, W - x0); /* columns [lo, hi) lie in the image */
  for (ptrdiff_t c = 0; c < g; c++) {
    const float *src = in->v + (s * L->cin + i0 + c) * H * W;
    float       *r   = R + c * e->Fy * e->Fx;

    for (ptrdiff_t y = 0; y < e->Fy; y++, r += e->Fx) {
      const ptrdiff_t iy = y0 + y;
      if (iy < 0 || iy >= H || hi <= lo) {
        memset(r, 0, (size_t)e->Fx * sizeof(float));
        continue;
      }
      memset(r, 0, (size_t)lo * sizeof(float));
      memcpy(r + lo, src + iy * W + x0 + lo, (size_t)(hi - lo) * sizeof(float));
      memset(r + hi, 0, (size_t)(e->Fx - hi) * sizeof(float));
    }
  }
}

/* out[s][o0 + c] over tile t = R[c] (cropped to the tile and the image) + b[o0 + c], c < g. */
static void Scatter(const PdNNLayer *L, const Entry *e, const float *R, ptrdiff_t t, ptrdiff_t o0, ptrdiff_t g, const float *b, const PdTensor *out)
{
  const ptrdiff_t OH = out->h, OW = out->w;
  ptrdiff_t       s, y0, x0, ny, nx;

  TileOf(e, t, &s, &y0, &x0);
  ny = PetscMin(e->Ty, OH - y0);
  nx = PetscMin(e->Tx, OW - x0);
  for (ptrdiff_t c = 0; c < g; c++) {
    const float  v   = b ? b[o0 + c] : 0.0f;
    const float *r   = R + c * e->Fy * e->Fx;
    float       *dst = out->v + (s * L->cout + o0 + c) * OH * OW + y0 * OW + x0;

    for (ptrdiff_t y = 0; y < ny; y++, r += e->Fx, dst += OW)
      for (ptrdiff_t x = 0; x < nx; x++) dst[x] = r[x] + v;
  }
}

/* X[t][f][i] for the m tiles from t0: each (tile, group) gathered and transformed by one thread. */
static void Forward(const PdNNLayer *L, const Entry *e, PdNNFft d, const PdTensor *in, ptrdiff_t t0, ptrdiff_t m, PetscBool par)
{
  const ptrdiff_t ng = (L->cin + GROUP - 1) / GROUP;

#pragma omp parallel for schedule(static) if (par)
  for (ptrdiff_t q = 0; q < m * ng; q++) {
    const ptrdiff_t t = q / ng, i0 = (q % ng) * GROUP, g = PetscMin(GROUP, L->cin - i0);
    float          *R = d->R + omp_get_thread_num() * e->ldr;
    fftwf_complex  *S = (fftwf_complex *)(R + GROUP * e->Fy * e->Fx), *x = d->X + t * e->ldx + i0;

    Gather(L, e, in, t0 + t, i0, g, R);
    fftwf_execute_dft_r2c(e->fwd[g == PetscMin(L->cin, GROUP) ? 0 : 1], R, S);
    for (ptrdiff_t f = 0; f < e->nf; f++, x += L->cin)
      for (ptrdiff_t c = 0; c < g; c++) memcpy(x + c, S + c * e->nf + f, sizeof(fftwf_complex));
  }
}

/* out from Y[t][f][o] for the m tiles from t0, (tile, group) by (tile, group). */
static void Inverse(const PdNNLayer *L, const Entry *e, PdNNFft d, const float *b, const PdTensor *out, ptrdiff_t t0, ptrdiff_t m, PetscBool par)
{
  const ptrdiff_t ng = (L->cout + GROUP - 1) / GROUP;

#pragma omp parallel for schedule(static) if (par)
  for (ptrdiff_t q = 0; q < m * ng; q++) {
    const ptrdiff_t t = q / ng, o0 = (q % ng) * GROUP, g = PetscMin(GROUP, L->cout - o0);
    float               *R = d->R + omp_get_thread_num() * e->ldr;
    fftwf_complex       *S = (fftwf_complex *)(R + GROUP * e->Fy * e->Fx);
    const fftwf_complex *y = d->Y + t * e->ldy + o0;

    for (ptrdiff_t f = 0; f < e->nf; f++, y += L->cout)
      for (ptrdiff_t c = 0; c < g; c++) memcpy(S + c * e->nf + f, y + c, sizeof(fftwf_complex));
    fftwf_execute_dft_c2r(e->inv[g == PetscMin(L->cout, GROUP) ? 0 : 1], S, R);
    Scatter(L, e, R, t0 + t, o0, g, b, out);
  }
}

/* Y_f = X_f · Ŵ_fᴴ / (F_y F_x) for every frequency f: m × cout × cin each, rows a tile apart. */
static void Products(const PdNNLayer *L, const Entry *e, const fftwf_complex *X, const fftwf_complex *wspec, fftwf_complex *Y, ptrdiff_t m, PetscBool par)
{
  const float     alpha[2] = {1.0f / (float)(e->Fy * e->Fx), 0.0f}, beta[2] = {0.0f, 0.0f};
  const ptrdiff_t ci = L->cin, co = L->cout;

#pragma omp parallel for schedule(static) if (par)
  for (ptrdiff_t f = 0; f < e->nf; f++) cblas_cgemm(CblasRowMajor, CblasNoTrans, CblasConjTrans, (int)m, (int)co, (int)ci, alpha, X + f * ci, (int)e->ldx, wspec + f * co * ci, (int)ci, beta, Y + f * co, (int)e->ldy);
}

PetscErrorCode PdNNConvFftForward(const PdNNLayer *L, PdNNArgs *a)
{
  PdNNWork        work = a->work;
  PdNNFft         d;
  Entry          *e = NULL, *slot;
  const PetscInt  nt = PdNNThreads(), key[5] = {a->in->n, a->in->h, a->in->w, nt, PdNNFftTile()};
  const PetscBool par = (PetscBool)(nt > 1);
  double          fg, ft;

  PetscFunctionBegin;
  PetscCheck(a->dims == 2 && L->stride == 1, PETSC_COMM_SELF, PETSC_ERR_SUP, "conv %s: the FFT path is for 2-D stride-1 convolutions", L->name);
  if (!work->fft) {
    PetscCall(PetscNew(&work->fft));
    work->fft->nl = work->nl;
    PetscCall(PetscCalloc2(work->nl * ENTRIES, &work->fft->e, work->nl, &work->fft->next));
    work->fft_destroy = PdNNFftDestroy;
  }
  d    = work->fft;
  slot = d->e + (L - work->net->L) * ENTRIES;
  for (int j = 0; j < ENTRIES; j++)
    if (!memcmp(slot[j].key, key, sizeof(key))) e = &slot[j];
  if (!e) {
    PetscInt *next = d->next + (L - work->net->L);
    e              = &slot[*next];
    *next          = (*next + 1) % ENTRIES;
    PetscCall(EntrySetUp(L, a, d, key, e));
  }
  if (!e->wset || memcmp(e->wcopy, a->w, (size_t)L->nw * sizeof(float))) WeightSpectra(L, d, e, a->w);
  for (ptrdiff_t t0 = 0; t0 < e->items; t0 += e->m) {
    const ptrdiff_t m = PetscMin(e->m, e->items - t0);

    Forward(L, e, d, a->in, t0, m, par);
    Products(L, e, d->X, e->wspec, d->Y, m, par);
    Inverse(L, e, d, a->b, a->out, t0, m, par);
  }
  PdNNConvFftFlops(L, a->out->n, a->out->h, a->out->w, &fg, &ft);
  PetscCall(PetscLogFlops(fg + ft));
  PetscFunctionReturn(0);
}
