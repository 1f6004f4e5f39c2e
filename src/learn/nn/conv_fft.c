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

   The transforms are FFTW's batched r2c / c2r over all tiles and channels of a chunk, writing the
   spectra frequency-major (output stride = the number of transforms), which is the layout the
   GEMMs read; their stride is padded off large powers of 2. Plans are made at the first call for
   a layer, input shape, thread count and tile side (-nn_fft_tile) and kept in the work (two
   shapes per layer), with the buffers shared by the work's layers; after that a call allocates
   nothing. FFTW_ESTIMATE plans by default: FFTW_MEASURE's (-nn_fft_measure) are faster but chosen
   by timing, so their rounding differs from run to run and rank to rank. Threads: FFTW's (its plans are made for the engine's thread count), the
   frequencies split over the threads for the GEMMs (single-threaded BLAS each). */
#include "learn/nn/nn_impl.h"
#include <fftw3.h>
#include <cblas.h>
#include <string.h>

/* spectra of one chunk of tiles (the larger of X and Y) are kept to about this many bytes */
#define CHUNK_BYTES ((size_t)32 << 20)
#define ENTRIES     2

typedef struct {
  PetscInt       key[5]; /* n, h, w, threads, tile side; key[0] = 0: empty */
  ptrdiff_t      Fy, Fx, nf, Ty, Tx, ny, nx, items, m, mlast;
  ptrdiff_t      sx[2], sy[2]; /* X's and Y's stride between frequencies, per plan */
  fftwf_plan     fwd[2], inv[2]; /* chunks of m tiles, and the last chunk of mlast */
  fftwf_plan     wplan;          /* the spectra of one output channel's weights */
  fftwf_complex *wspec;          /* [nf][cout][cin] */
  float         *wcopy;          /* the weights wspec was made from */
  PetscBool      wset;
} Entry;

struct _PdNNFft {
  PetscInt       nl;
  Entry         *e;    /* ENTRIES per layer */
  PetscInt      *next; /* per layer: the entry replaced next */
  float         *R;    /* real tiles: inputs, then outputs */
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

/* The stride between frequencies of n transforms: n rounded up to whole cache lines, and one line
   more when that is a multiple of 512 bytes (strides of large powers of 2 make the transforms'
   writes fall into a few cache sets: three times slower, measured). */
static ptrdiff_t FreqStride(ptrdiff_t n)
{
  const ptrdiff_t s = (n + 7) / 8 * 8;
  return s % 64 ? s : s + 8;
}

static PetscErrorCode PlanChunk(const PdNNLayer *L, PdNNFft d, Entry *e, ptrdiff_t m, int j)
{
  const int      n[2] = {(int)e->Fy, (int)e->Fx}, ni = (int)(m * L->cin), no = (int)(m * L->cout), real = (int)(e->Fy * e->Fx);
  const unsigned flags = PdNNFftMeasure() ? FFTW_MEASURE : FFTW_ESTIMATE;

  PetscFunctionBegin;
  e->sx[j]  = FreqStride(ni);
  e->sy[j]  = FreqStride(no);
  e->fwd[j] = fftwf_plan_many_dft_r2c(2, n, ni, d->R, NULL, 1, real, d->X, NULL, (int)e->sx[j], 1, flags);
  e->inv[j] = fftwf_plan_many_dft_c2r(2, n, no, d->Y, NULL, (int)e->sy[j], 1, d->R, NULL, 1, real, flags);
  PetscCheck(e->fwd[j] && e->inv[j], PETSC_COMM_SELF, PETSC_ERR_LIB, "conv %s: FFTW could not plan the %td x %td tile transforms", L->name, e->Fy, e->Fx);
  PetscFunctionReturn(0);
}

/* The entry's tiles, chunks, buffers and plans for the input shape of a. */
static PetscErrorCode EntrySetUp(const PdNNLayer *L, const PdNNArgs *a, PdNNFft d, const PetscInt key[5], Entry *e)
{
  const ptrdiff_t k = L->k, tile = key[4], wide = PetscMax(L->cin, L->cout);
  ptrdiff_t       chunks;

  PetscFunctionBegin;
  EntryFree(e);
  PdNNFftTileAxis(a->out->h, k, tile, &e->Fy, &e->Ty, &e->ny);
  PdNNFftTileAxis(a->out->w, k, tile, &e->Fx, &e->Tx, &e->nx);
  e->nf    = e->Fy * (e->Fx / 2 + 1);
  e->items = a->out->n * e->ny * e->nx;
  e->m     = PetscMax(1, (ptrdiff_t)(CHUNK_BYTES / ((size_t)wide * e->nf * sizeof(fftwf_complex))));
  chunks   = (e->items + e->m - 1) / e->m;
  e->m     = (e->items + chunks - 1) / chunks; /* chunks of equal size but the last */
  e->mlast = e->items - (chunks - 1) * e->m;
  PetscCall(Grow((void **)&d->R, &d->nR, (size_t)(e->m * wide * e->Fy * e->Fx), sizeof(float)));
  PetscCall(Grow((void **)&d->X, &d->nX, (size_t)(FreqStride(e->m * L->cin) * e->nf), sizeof(fftwf_complex)));
  PetscCall(Grow((void **)&d->Y, &d->nY, (size_t)(FreqStride(e->m * L->cout) * e->nf), sizeof(fftwf_complex)));
  e->wspec = fftwf_alloc_complex((size_t)(e->nf * L->cout * L->cin));
  e->wcopy = fftwf_alloc_real((size_t)L->nw);
  PetscCheck(e->wspec && e->wcopy, PETSC_COMM_SELF, PETSC_ERR_MEM, "conv %s: cannot allocate the weight spectra (%td x %td x %" PetscInt_FMT " x %" PetscInt_FMT ")", L->name, e->Fy, e->Fx, L->cout, L->cin);
  /* plans for the engine's thread count; the process's setting is put back after */
  fftwf_plan_with_nthreads((int)key[3]);
  PetscCall(PlanChunk(L, d, e, e->m, 0));
  if (e->mlast != e->m) PetscCall(PlanChunk(L, d, e, e->mlast, 1));
  {
    const int nn[2] = {(int)e->Fy, (int)e->Fx}, ci = (int)L->cin, ld = (int)(L->cout * L->cin);
    /* output channel o's spectra go to wspec + o·cin, which FFTW's alignment need not have */
    e->wplan = fftwf_plan_many_dft_r2c(2, nn, ci, d->R, NULL, 1, (int)(e->Fy * e->Fx), e->wspec, NULL, ld, 1, FFTW_ESTIMATE | FFTW_UNALIGNED);
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

/* Tile t of the chunk (global index t0 + t): its sample and output origin. */
static inline void TileOf(const Entry *e, ptrdiff_t t, ptrdiff_t *s, ptrdiff_t *y0, ptrdiff_t *x0)
{
  *s  = t / (e->ny * e->nx);
  *y0 = ((t / e->nx) % e->ny) * e->Ty;
  *x0 = (t % e->nx) * e->Tx;
}

/* R[t][i] = the F_y × F_x input patch of tile t0 + t, channel i, from (y0 − p, x0 − p); zeros
   outside the image. */
static void Gather(const PdNNLayer *L, const Entry *e, const PdTensor *in, ptrdiff_t t0, ptrdiff_t m, float *R, PetscBool par)
{
  const ptrdiff_t ci = L->cin, H = in->h, W = in->w, p = L->pad;

#pragma omp parallel for schedule(static) if (par)
  for (ptrdiff_t q = 0; q < m * ci; q++) {
    ptrdiff_t    s, y0, x0, lo, hi;
    float       *r = R + q * e->Fy * e->Fx;
    const float *src;

    TileOf(e, t0 + q / ci, &s, &y0, &x0);
    y0 -= p;
    x0 -= p;
    lo  = PetscMax(0, -x0);
    hi  = PetscMin(e->Fx, W - x0); /* columns [lo, hi) lie in the image */
    src = in->v + (s * ci + q % ci) * H * W;
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

/* out[s][o] over tile t0 + t = R[t][o] (cropped to the tile and the image) + b[o]. */
static void Scatter(const PdNNLayer *L, const Entry *e, const float *R, ptrdiff_t t0, ptrdiff_t m, const float *b, const PdTensor *out, PetscBool par)
{
  const ptrdiff_t co = L->cout, OH = out->h, OW = out->w;

#pragma omp parallel for schedule(static) if (par)
  for (ptrdiff_t q = 0; q < m * co; q++) {
    ptrdiff_t    s, y0, x0, ny, nx;
    const float  v = b ? b[q % co] : 0.0f;
    const float *r = R + q * e->Fy * e->Fx;
    float       *dst;

    TileOf(e, t0 + q / co, &s, &y0, &x0);
    ny  = PetscMin(e->Ty, OH - y0);
    nx  = PetscMin(e->Tx, OW - x0);
    dst = out->v + (s * co + q % co) * OH * OW + y0 * OW + x0;
    for (ptrdiff_t y = 0; y < ny; y++, r += e->Fx, dst += OW)
      for (ptrdiff_t x = 0; x < nx; x++) dst[x] = r[x] + v;
  }
}

/* Y_f = X_f · Ŵ_fᴴ / (F_y F_x) for every frequency f: m × cout × cin each. */
static void Products(const PdNNLayer *L, const Entry *e, const fftwf_complex *X, const fftwf_complex *wspec, fftwf_complex *Y, ptrdiff_t m, int j, PetscBool par)
{
  const float     alpha[2] = {1.0f / (float)(e->Fy * e->Fx), 0.0f}, beta[2] = {0.0f, 0.0f};
  const ptrdiff_t ci = L->cin, co = L->cout;

#pragma omp parallel for schedule(static) if (par)
  for (ptrdiff_t f = 0; f < e->nf; f++) cblas_cgemm(CblasRowMajor, CblasNoTrans, CblasConjTrans, (int)m, (int)co, (int)ci, alpha, X + f * e->sx[j], (int)ci, wspec + f * co * ci, (int)ci, beta, Y + f * e->sy[j], (int)co);
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
    const int       j = m == e->m ? 0 : 1;

    Gather(L, e, a->in, t0, m, d->R, par);
    fftwf_execute_dft_r2c(e->fwd[j], d->R, d->X);
    Products(L, e, d->X, e->wspec, d->Y, m, j, par);
    fftwf_execute_dft_c2r(e->inv[j], d->Y, d->R);
    Scatter(L, e, d->R, t0, m, a->b, a->out, par);
  }
  PdNNConvFftFlops(L, a->out->n, a->out->h, a->out->w, &fg, &ft);
  PetscCall(PetscLogFlops(fg + ft));
  PetscFunctionReturn(0);
}
