/* The convolution layer's forward pass through FFTs (-nn_backend fft, and auto at inference):
   2-D, stride 1, any padding p, the same output as conv.c,

     out[n,o,y,x] = b[o] + Σ_i Σ_{dy,dx} W[o,i,dy,dx] · in[n,i, y+dy−p, x+dx−p],

   computed on output tiles of T_y × T_x. The input patch a tile reads, F_y × F_x with
   F = T + k − 1 a size FFTW transforms fast (conv_fft_plan.c; zeros outside the image), is
   transformed once per channel; by the correlation theorem its circular correlation with the
   zero-padded kernel has the tile's outputs at 0 ≤ y < T_y, 0 ≤ x < T_x (no wrap-around reaches
   them), so per frequency f

     Y_f[t,o] = Σ_i X_f[t,i] · conj(Ŵ_f[o,i]) / (F_y F_x)        (Y_f = X_f · Ŵ_fᴴ / F_yF_x)

   over the tiles t of a chunk (all samples' tiles together): a complex GEMM per frequency,
   chunk × cout × cin. Then one inverse transform per tile and output channel, the crop, the bias.
   The weight spectra Ŵ / (F_yF_x) (F_y·(F_x/2 + 1)·cout·cin complex values) are made once per set
   of weights and shape, and again only when the weights differ from the copy they were made from.

   The GEMMs are the engine's own loop, vectorised across LANES frequencies: the spectra are kept
   in blocks of LANES frequencies, real parts then imaginary parts (X[t][b][i][re, im][LANES],
   Y[t][b][o][..], Ŵ[b][o][i][..]), so each complex multiply-add is four elementwise vector
   operations with no shuffles, and a block of 2 tiles × 2 output channels keeps its sums in
   registers while it runs over cin. OpenBLAS's cgemm, called per frequency on these small
   matrices (16 × 32 × 64 for Isonet-1), spends its time packing them (measured: 2.5 times slower).
   The loop is compiled for AVX-512, AVX2 and the baseline, chosen at run time; every clone does
   the same operations in the same order (no contraction into FMAs under ISO C), so the result
   does not depend on the clone, the threads or the chunk.

   The transforms run GROUP channels of one tile at a time, gathered into a per-thread buffer that
   stays in cache, transformed by a single-threaded FFTW plan of GROUP contiguous transforms and
   copied into or out of the blocks; the threads split the (tile, group) pairs. Transforms written
   straight into a frequency-major layout, a chunk's transforms apart (8 KB for Isonet-1), put
   every frequency on its own page, and the TLB misses made them two to three times slower than
   in cache (measured). So neither the batch, the chunk nor the thread count changes how a tile is
   computed. Plans are made at the first call for a layer, input shape, thread count and tile
   side (-nn_fft_tile) and kept in the work (two shapes per layer), with the buffers shared by the
   work's layers; after that a call allocates nothing. FFTW_ESTIMATE plans by default:
   FFTW_MEASURE's (-nn_fft_measure) are chosen by timing, so their rounding can differ from run to
   run. */
#include "learn/nn/nn_impl.h"
#include <fftw3.h>
#include <omp.h>
#include <string.h>

/* spectra of one chunk of tiles (the larger of X and Y) are kept to about this many bytes */
#define CHUNK_BYTES ((size_t)32 << 20)
#define ENTRIES     2
/* channels transformed together: a group's real patches (GROUP·F² floats, 166 KB for F = 72)
   stay in L2, and its spectra fill whole cache lines of X and Y */
#define GROUP 8
/* frequencies per vector of the products */
#define LANES 16

typedef float Lanes __attribute__((vector_size(LANES * sizeof(float))));


typedef struct {
  PetscInt       key[5]; /* n, h, w, threads, tile side; key[0] = 0: empty */
  ptrdiff_t      Fy, Fx, nf, nb, Ty, Tx, ny, nx, items, m; /* nb blocks of LANES frequencies */
  ptrdiff_t      ldr; /* floats of a thread's buffer: GROUP patches, then their spectra */
  fftwf_plan     fwd[2], inv[2]; /* GROUP channels, and the last group of a side when smaller */
  fftwf_plan     wplan;          /* the spectra of one output channel's weights */
  float         *wspec;          /* Ŵ / (F_yF_x) in blocks: [nb][cout][cin][re, im][LANES] */
  float         *wcopy;          /* the weights wspec was made from */
  PetscBool      wset;
} Entry;

struct _PdNNFft {
  PetscInt       nl;
  Entry         *e;    /* ENTRIES per layer */
  PetscInt      *next; /* per layer: the entry replaced next */
  float         *R;    /* a buffer per thread (patches and their spectra); the weights' planes */
  float         *X, *Y; /* [m][nb][cin or cout][re, im][LANES] */
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
  e->nb    = (e->nf + LANES - 1) / LANES;
  e->ldr   = (GROUP * (plane + 2 * e->nf) + 15) / 16 * 16; /* whole cache lines: FFTW's alignment */
  e->items = a->out->n * e->ny * e->nx;
  e->m     = PetscMax(1, (ptrdiff_t)(CHUNK_BYTES / ((size_t)wide * e->nf * sizeof(fftwf_complex))));
  chunks   = (e->items + e->m - 1) / e->m;
  e->m     = (e->items + chunks - 1) / chunks; /* chunks of equal size but the last */
  PetscCall(Grow((void **)&d->R, &d->nR, (size_t)PetscMax(key[3] * e->ldr, L->cin * plane), sizeof(float)));
  PetscCall(Grow((void **)&d->X, &d->nX, (size_t)(e->nb * e->m * L->cin * 2 * LANES), sizeof(float)));
  PetscCall(Grow((void **)&d->Y, &d->nY, (size_t)(e->nb * e->m * L->cout * 2 * LANES), sizeof(float)));
  e->wspec = fftwf_alloc_real((size_t)(e->nb * L->cout * L->cin * 2 * LANES));
  e->wcopy = fftwf_alloc_real((size_t)L->nw);
  PetscCheck(e->wspec && e->wcopy, PETSC_COMM_SELF, PETSC_ERR_MEM, "conv %s: cannot allocate the weight spectra (%td x %td x %" PetscInt_FMT " x %" PetscInt_FMT ")", L->name, e->Fy, e->Fx, L->cout, L->cin);
  memset(e->wspec, 0, (size_t)(e->nb * L->cout * L->cin * 2 * LANES) * sizeof(float)); /* the last block's spare lanes */
  /* single-threaded plans (the threads split the groups); the process's setting is put back after */
  fftwf_plan_with_nthreads(1);
  PetscCall(PlanGroup(L, d, e, gi, go, 0));
  PetscCall(PlanGroup(L, d, e, L->cin % gi, L->cout % go, 1));
  {
    const int nn[2] = {(int)e->Fy, (int)e->Fx};
    /* one output channel's cin spectra, contiguous, in X (free while the weights are transformed) */
    e->wplan = fftwf_plan_many_dft_r2c(2, nn, (int)L->cin, d->R, NULL, 1, (int)plane, (fftwf_complex *)d->X, NULL, 1, (int)e->nf, FFTW_ESTIMATE);
  }
  fftwf_plan_with_nthreads(PdGetThreads());
  PetscCheck(e->wplan, PETSC_COMM_SELF, PETSC_ERR_LIB, "conv %s: FFTW could not plan the weight transforms", L->name);
  for (int j = 0; j < 5; j++) e->key[j] = key[j];
  PetscFunctionReturn(0);
}

/* Spectra s[c][f] (interleaved complex, nf each) of g channels → their blocks v[.][c][re, im][l],
   blocks ld floats apart, block by block (each block's g channels are contiguous); and back. */
static void ToBlocks(const Entry *e, const float *s, ptrdiff_t g, float *v, ptrdiff_t ld, float scale)
{
  for (ptrdiff_t b = 0, f0 = 0; f0 < e->nf; b++, f0 += LANES) {
    const ptrdiff_t n = PetscMin(LANES, e->nf - f0);
    for (ptrdiff_t c = 0; c < g; c++) {
      const float *sc = s + 2 * (c * e->nf + f0);
      float       *vc = v + b * ld + c * 2 * LANES;
      for (ptrdiff_t l = 0; l < n; l++) {
        vc[l]         = sc[2 * l] * scale;
        vc[LANES + l] = sc[2 * l + 1] * scale;
      }
    }
  }
}

static void FromBlocks(const Entry *e, const float *v, ptrdiff_t ld, ptrdiff_t g, float *s)
{
  for (ptrdiff_t b = 0, f0 = 0; f0 < e->nf; b++, f0 += LANES) {
    const ptrdiff_t n = PetscMin(LANES, e->nf - f0);
    for (ptrdiff_t c = 0; c < g; c++) {
      const float *vc = v + b * ld + c * 2 * LANES;
      float       *sc = s + 2 * (c * e->nf + f0);
      for (ptrdiff_t l = 0; l < n; l++) {
        sc[2 * l]     = vc[l];
        sc[2 * l + 1] = vc[LANES + l];
      }
    }
  }
}

/* Ŵ[b][o][i] = DFT of W[o][i] zero-padded to F_y × F_x, over F_yF_x (the inverse's scale). */
static void WeightSpectra(const PdNNLayer *L, PdNNFft d, Entry *e, const float *w)
{
  const ptrdiff_t k = L->k, plane = e->Fy * e->Fx, ld = L->cout * L->cin * 2 * LANES;

  for (ptrdiff_t o = 0; o < L->cout; o++) {
    memset(d->R, 0, (size_t)(L->cin * plane) * sizeof(float));
    for (ptrdiff_t i = 0; i < L->cin; i++)
      for (ptrdiff_t dy = 0; dy < k; dy++) memcpy(d->R + i * plane + dy * e->Fx, w + ((o * L->cin + i) * k + dy) * k, (size_t)k * sizeof(float));
    fftwf_execute_dft_r2c(e->wplan, d->R, (fftwf_complex *)d->X);
    ToBlocks(e, d->X, L->cin, e->wspec + o * L->cin * 2 * LANES, ld, 1.0f / (float)plane);
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

/* X's blocks for the m tiles from t0: each (tile, group) gathered and transformed by one thread. */
static void Forward(const PdNNLayer *L, const Entry *e, PdNNFft d, const PdTensor *in, ptrdiff_t t0, ptrdiff_t m, PetscBool par)
{
  const ptrdiff_t ng = (L->cin + GROUP - 1) / GROUP;

#pragma omp parallel for schedule(static) if (par)
  for (ptrdiff_t q = 0; q < m * ng; q++) {
    const ptrdiff_t t = q / ng, i0 = (q % ng) * GROUP, g = PetscMin(GROUP, L->cin - i0);
    float          *R = d->R + omp_get_thread_num() * e->ldr;
    float          *S = R + GROUP * e->Fy * e->Fx;

    Gather(L, e, in, t0 + t, i0, g, R);
    fftwf_execute_dft_r2c(e->fwd[g == PetscMin(L->cin, GROUP) ? 0 : 1], R, (fftwf_complex *)S);
    ToBlocks(e, S, g, d->X + (t * e->nb * L->cin + i0) * 2 * LANES, L->cin * 2 * LANES, 1.0f);
  }
}

/* out from Y's blocks for the m tiles from t0, (tile, group) by (tile, group). */
static void Inverse(const PdNNLayer *L, const Entry *e, PdNNFft d, const float *b, const PdTensor *out, ptrdiff_t t0, ptrdiff_t m, PetscBool par)
{
  const ptrdiff_t ng = (L->cout + GROUP - 1) / GROUP;

#pragma omp parallel for schedule(static) if (par)
  for (ptrdiff_t q = 0; q < m * ng; q++) {
    const ptrdiff_t t = q / ng, o0 = (q % ng) * GROUP, g = PetscMin(GROUP, L->cout - o0);
    float          *R = d->R + omp_get_thread_num() * e->ldr, *S = R + GROUP * e->Fy * e->Fx;

    FromBlocks(e, d->Y + (t * e->nb * L->cout + o0) * 2 * LANES, L->cout * 2 * LANES, g, S);
    fftwf_execute_dft_c2r(e->inv[g == PetscMin(L->cout, GROUP) ? 0 : 1], (fftwf_complex *)S, R);
    Scatter(L, e, R, t0 + t, o0, g, b, out);
  }
}

/* y[t][o] = Σ_i x[t][i] · conj(w[o][i]) for tb <= 2 tiles and ob <= 2 output channels, LANES
   frequencies each ([re, im][LANES] per entry; w's rows cin entries long; x's and y's tiles lx
   and ly floats apart) */
PD_CLONE_INLINE void Block(const float *x, ptrdiff_t lx, const float *w, float *y, ptrdiff_t ly, ptrdiff_t ci, int tb, int ob)
{
  Lanes re[2][2] = {{{0}}}, im[2][2] = {{{0}}};

  for (ptrdiff_t i = 0; i < ci; i++) {
    Lanes xr[2], xi[2], wr, wi;
    for (int t = 0; t < tb; t++) {
      memcpy(&xr[t], x + t * lx + i * 2 * LANES, sizeof(Lanes));
      memcpy(&xi[t], x + t * lx + i * 2 * LANES + LANES, sizeof(Lanes));
    }
    for (int o = 0; o < ob; o++) {
      memcpy(&wr, w + (o * ci + i) * 2 * LANES, sizeof(Lanes));
      memcpy(&wi, w + (o * ci + i) * 2 * LANES + LANES, sizeof(Lanes));
      for (int t = 0; t < tb; t++) {
        re[t][o] += xr[t] * wr + xi[t] * wi;
        im[t][o] += xi[t] * wr - xr[t] * wi;
      }
    }
  }
  for (int t = 0; t < tb; t++)
    for (int o = 0; o < ob; o++) {
      memcpy(y + t * ly + o * 2 * LANES, &re[t][o], sizeof(Lanes));
      memcpy(y + t * ly + o * 2 * LANES + LANES, &im[t][o], sizeof(Lanes));
    }
}

/* One block of LANES frequencies: Y_b = X_b · Ŵ_bᴴ, m × cout × cin, 2 × 2 at a time (x's and y's
   tiles lx and ly floats apart). */
PD_TARGET_CLONES static void ProductsBlock(const float *x, ptrdiff_t lx, const float *w, float *y, ptrdiff_t ly, ptrdiff_t m, ptrdiff_t ci, ptrdiff_t co)
{
  for (ptrdiff_t t = 0; t < m; t += 2)
    for (ptrdiff_t o = 0; o < co; o += 2) {
      const float *xt = x + t * lx, *wo = w + o * ci * 2 * LANES;
      float       *yto = y + t * ly + o * 2 * LANES;

      if (t + 1 < m && o + 1 < co) Block(xt, lx, wo, yto, ly, ci, 2, 2);
      else if (t + 1 < m) Block(xt, lx, wo, yto, ly, ci, 2, 1);
      else if (o + 1 < co) Block(xt, lx, wo, yto, ly, ci, 1, 2);
      else Block(xt, lx, wo, yto, ly, ci, 1, 1);
    }
}

/* Y_f = X_f · Ŵ_fᴴ for every frequency f (Ŵ carries the 1/(F_yF_x)), the blocks over the threads. */
static void Products(const PdNNLayer *L, const Entry *e, const float *X, const float *wspec, float *Y, ptrdiff_t m, PetscBool par)
{
  const ptrdiff_t ci = L->cin, co = L->cout, lx = e->nb * ci * 2 * LANES, ly = e->nb * co * 2 * LANES, lw = co * ci * 2 * LANES;

#pragma omp parallel for schedule(static) if (par)
  for (ptrdiff_t b = 0; b < e->nb; b++) ProductsBlock(X + b * ci * 2 * LANES, lx, wspec + b * lw, Y + b * co * 2 * LANES, ly, m, ci, co);
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
