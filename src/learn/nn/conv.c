/* Convolution layer (cross-correlation, as Caffe, Keras and PyTorch), 2D or 3D, stride s, zero
   padding p on each side, k^dims kernel:

     out[n,o,z,y,x] = b[o] + Σ_i Σ_{dz,dy,dx} W[o,i,dz,dy,dx] · in[n,i, z·s+dz−p, y·s+dy−p, x·s+dx−p]

   computed per sample as one GEMM over the im2col matrix, col[(i,dz,dy,dx)][pos] = the input value
   that tap meets at output position pos:  out_n = W · col_n  (cout × K times K × P, K = cin·k^dims,
   P the output positions). Backward, with G = dL/dout_n:

     dW += G · col_nᵀ,   db[o] += Σ_pos G[o,pos],   dcol = Wᵀ · G,   dL/din_n = col2im(dcol)

   where col2im adds each column entry back onto the input value it was copied from (the adjoint
   of im2col; for stride 2 that is the scatter into a zero-stuffed grid). A 1×1 kernel with stride
   1 and no padding needs no im2col: col is the input itself.

   col is built for a band of output rows at a time so that it stays in cache between im2col and
   the GEMM. A batch of at least as many samples as threads is split over the threads (one sample
   per thread, single-threaded BLAS, a weight gradient per thread, summed at the end); a smaller
   batch has its bands of output rows split over the threads in the forward pass (whole images
   at inference), and each im2col and GEMM threaded in the backward pass (where the bands of
   col2im overlap). */
#include "learn/nn/nn_impl.h"
#include <cblas.h>
#include <string.h>
#include <omp.h>

/* floats of col per band (1 MiB): col stays in L2 from im2col to the GEMM, whose B operand it
   is; OpenBLAS runs K x 64..256 panels at full speed, K x 4096 ones at half */
#define BAND_FLOATS (1 << 18)

typedef struct {
  ptrdiff_t ci, co, kd, k, sd, s, pd, p;
  ptrdiff_t D, H, W, OD, OH, OW;
  ptrdiff_t K, P, N, rows, band;
  PetscBool direct;
} Geom;

static void GeomSet(const PdNNLayer *L, PetscInt dims, const PdTensor *in, const PdTensor *out, Geom *g)
{
  g->ci   = L->cin;
  g->co   = L->cout;
  g->k    = L->k;
  g->s    = L->stride;
  g->p    = L->pad;
  g->kd   = dims == 3 ? L->k : 1;
  g->sd   = dims == 3 ? L->stride : 1;
  g->pd   = dims == 3 ? L->pad : 0;
  g->D    = in->d;
  g->H    = in->h;
  g->W    = in->w;
  g->OD   = out->d;
  g->OH   = out->h;
  g->OW   = out->w;
  g->K    = g->ci * g->kd * g->k * g->k;
  g->N    = g->D * g->H * g->W;
  g->P    = g->OD * g->OH * g->OW;
  g->rows = g->OD * g->OH;
  g->band = PetscMin(g->rows, PetscMax(1, BAND_FLOATS / (g->K * g->OW)));
  g->direct = (PetscBool)(g->k == 1 && g->s == 1 && g->p == 0);
}

static PetscErrorCode ConvShape(const PdNNLayer *L, PetscInt dims, const PetscInt in[5], const PetscInt skip[5], PetscInt out[5])
{
  PetscFunctionBegin;
  (void)skip;
  PetscCheck(in[1] == L->cin, PETSC_COMM_SELF, PETSC_ERR_ARG_SIZ, "conv %s: %" PetscInt_FMT " input channels, expects %" PetscInt_FMT, L->name, in[1], L->cin);
  out[0] = in[0];
  out[1] = L->cout;
  for (int j = 2; j < 5; j++) {
    const PetscInt n = in[j] + 2 * L->pad - L->k;
    out[j] = (j == 2 && dims == 2) ? 1 : (n < 0 ? 0 : n / L->stride + 1);
  }
  PetscFunctionReturn(0);
}

/* Output x of tap offset t (= kx − p) meets input x·s + t; the x with 0 <= x·s + t < W. */
static inline void ValidRange(ptrdiff_t t, ptrdiff_t s, ptrdiff_t W, ptrdiff_t OW, ptrdiff_t *lo, ptrdiff_t *hi)
{
  *lo = t >= 0 ? 0 : (-t + s - 1) / s;
  *hi = W - 1 - t < 0 ? -1 : PetscMin(OW - 1, (W - 1 - t) / s);
}

/* col[kr][(r − r0)·OW + x] for the output rows r in [r0, r0 + nr), row r = (z, y) = (r / OH, r % OH). */
static void Im2Col(const Geom *g, const float *in, ptrdiff_t r0, ptrdiff_t nr, float *col, PetscBool par)
{
  const ptrdiff_t taps = g->kd * g->k * g->k, Pc = nr * g->OW;

#pragma omp parallel for schedule(static) if (par)
  for (ptrdiff_t kr = 0; kr < g->K; kr++) {
    const ptrdiff_t i = kr / taps, kz = (kr % taps) / (g->k * g->k), ky = (kr / g->k) % g->k, kx = kr % g->k;
    ptrdiff_t       lo, hi;
    float          *d = col + kr * Pc;

    ValidRange(kx - g->p, g->s, g->W, g->OW, &lo, &hi);
    for (ptrdiff_t r = r0; r < r0 + nr; r++, d += g->OW) {
      const ptrdiff_t iz = (r / g->OH) * g->sd + kz - g->pd, iy = (r % g->OH) * g->s + ky - g->p;
      const float    *src;

      if (iz < 0 || iz >= g->D || iy < 0 || iy >= g->H || hi < lo) {
        memset(d, 0, (size_t)g->OW * sizeof(float));
        continue;
      }
      src = in + ((i * g->D + iz) * g->H + iy) * g->W + kx - g->p; /* src[x·s] for x in [lo, hi] */
      for (ptrdiff_t x = 0; x < lo; x++) d[x] = 0;
      if (g->s == 1) memcpy(d + lo, src + lo, (size_t)(hi - lo + 1) * sizeof(float));
      else
        for (ptrdiff_t x = lo; x <= hi; x++) d[x] = src[x * g->s];
      for (ptrdiff_t x = hi + 1; x < g->OW; x++) d[x] = 0;
    }
  }
}

/* in[...] += col[...]: the adjoint of Im2Col. Threads take input channels, so none writes where
   another does. */
static void Col2Im(const Geom *g, const float *col, ptrdiff_t r0, ptrdiff_t nr, float *in, PetscBool par)
{
  const ptrdiff_t taps = g->kd * g->k * g->k, Pc = nr * g->OW;

#pragma omp parallel for schedule(static) if (par)
  for (ptrdiff_t i = 0; i < g->ci; i++) {
    for (ptrdiff_t t = 0; t < taps; t++) {
      const ptrdiff_t kz = t / (g->k * g->k), ky = (t / g->k) % g->k, kx = t % g->k;
      const float    *c = col + (i * taps + t) * Pc;
      ptrdiff_t       lo, hi;

      ValidRange(kx - g->p, g->s, g->W, g->OW, &lo, &hi);
      for (ptrdiff_t r = r0; r < r0 + nr; r++, c += g->OW) {
        const ptrdiff_t iz = (r / g->OH) * g->sd + kz - g->pd, iy = (r % g->OH) * g->s + ky - g->p;
        float          *dst;

        if (iz < 0 || iz >= g->D || iy < 0 || iy >= g->H) continue;
        dst = in + ((i * g->D + iz) * g->H + iy) * g->W + kx - g->p;
        if (g->s == 1)
          for (ptrdiff_t x = lo; x <= hi; x++) dst[x] += c[x];
        else
          for (ptrdiff_t x = lo; x <= hi; x++) dst[x * g->s] += c[x];
      }
    }
  }
}

/* Output rows [r0, r0 + band) of one sample. */
static void ForwardBand(const Geom *g, const float *w, const float *b, const float *in, float *out, float *col, ptrdiff_t r0, PetscBool par)
{
  const ptrdiff_t nr = PetscMin(g->band, g->rows - r0), Pc = nr * g->OW;
  float          *oc = out + r0 * g->OW;
  const float    *A  = g->direct ? in + r0 * g->OW : col;

#pragma omp parallel for schedule(static) if (par)
  for (ptrdiff_t o = 0; o < g->co; o++) {
    const float v = b ? b[o] : 0.0f;
    for (ptrdiff_t q = 0; q < Pc; q++) oc[o * g->P + q] = v;
  }
  if (!g->direct) Im2Col(g, in, r0, nr, col, par);
  cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)g->co, (int)Pc, (int)g->K, 1.0f, w, (int)g->K, A, (int)(g->direct ? g->P : Pc), 1.0f, oc, (int)g->P);
}

/* gw += G·colᵀ (gw NULL: skipped); gin = or += col2im(Wᵀ·G) (gin NULL: skipped). */
static void BackwardSample(const Geom *g, const float *w, const float *in, const float *gout, float *gin, PetscBool add, float *gw, float *col, PetscBool par)
{
  if (gin && !add && !g->direct) memset(gin, 0, (size_t)(g->ci * g->N) * sizeof(float));
  for (ptrdiff_t r0 = 0; r0 < g->rows; r0 += g->band) {
    const ptrdiff_t nr = PetscMin(g->band, g->rows - r0), Pc = nr * g->OW;
    const float    *gc = gout + r0 * g->OW;

    if (gw) {
      if (!g->direct) Im2Col(g, in, r0, nr, col, par);
      cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)g->co, (int)g->K, (int)Pc, 1.0f, gc, (int)g->P, g->direct ? in + r0 * g->OW : col, (int)(g->direct ? g->P : Pc), 1.0f, gw, (int)g->K);
    }
    if (gin) {
      if (g->direct) cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)g->K, (int)Pc, (int)g->co, 1.0f, w, (int)g->K, gc, (int)g->P, add ? 1.0f : 0.0f, gin + r0 * g->OW, (int)g->P);
      else {
        cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)g->K, (int)Pc, (int)g->co, 1.0f, w, (int)g->K, gc, (int)g->P, 0.0f, col, (int)Pc);
        Col2Im(g, col, r0, nr, gin, par);
      }
    }
  }
}

static PetscErrorCode ConvForward(const PdNNLayer *L, PdNNArgs *a)
{
  Geom            g;
  const ptrdiff_t n = a->in->n, nt = PdNNThreads();
  const PetscBool outer = (PetscBool)(nt > 1 && n >= nt);
  PetscBool       bands;
  float          *col;
  size_t          csz;

  PetscFunctionBegin;
  GeomSet(L, a->dims, a->in, a->out, &g);
  /* fewer samples than threads: the threads take bands when there are enough of them */
  bands = (PetscBool)(!outer && nt > 1 && (g.rows + g.band - 1) / g.band >= 4 * nt);
  csz   = g.direct ? 0 : (size_t)(g.K * g.band * g.OW);
  PetscCall(PdNNWorkScratch(a->work, PetscMax(1, (outer || bands ? (size_t)nt : 1) * csz), &col));
  if (outer) {
#pragma omp parallel for schedule(static)
    for (ptrdiff_t s = 0; s < n; s++)
      for (ptrdiff_t r0 = 0; r0 < g.rows; r0 += g.band) ForwardBand(&g, a->w, a->b, a->in->v + s * g.ci * g.N, a->out->v + s * g.co * g.P, col + (size_t)omp_get_thread_num() * csz, r0, PETSC_FALSE);
  } else if (bands) {
    for (ptrdiff_t s = 0; s < n; s++) {
#pragma omp parallel for schedule(static)
      for (ptrdiff_t r0 = 0; r0 < g.rows; r0 += g.band) ForwardBand(&g, a->w, a->b, a->in->v + s * g.ci * g.N, a->out->v + s * g.co * g.P, col + (size_t)omp_get_thread_num() * csz, r0, PETSC_FALSE);
    }
  } else
    for (ptrdiff_t s = 0; s < n; s++)
      for (ptrdiff_t r0 = 0; r0 < g.rows; r0 += g.band) ForwardBand(&g, a->w, a->b, a->in->v + s * g.ci * g.N, a->out->v + s * g.co * g.P, col, r0, PETSC_TRUE);
  PetscCall(PetscLogFlops(2.0 * (double)n * (double)g.co * (double)g.K * (double)g.P));
  PetscFunctionReturn(0);
}

static PetscErrorCode ConvBackward(const PdNNLayer *L, PdNNArgs *a)
{
  Geom            g;
  const ptrdiff_t n = a->in->n, nt = PdNNThreads();
  const PetscBool outer = (PetscBool)(nt > 1 && n >= nt);
  float          *col, *gwt;
  size_t          csz, wsz;

  PetscFunctionBegin;
  GeomSet(L, a->dims, a->in, a->out, &g);
  csz = g.direct ? 0 : (size_t)(g.K * g.band * g.OW);
  wsz = outer && a->gw ? (size_t)(g.co * g.K) : 0;
  PetscCall(PdNNWorkScratch(a->work, PetscMax(1, (outer ? (size_t)nt : 1) * (csz + wsz)), &col));
  gwt = col + (outer ? (size_t)nt : 1) * csz;
  if (outer) {
    if (wsz) memset(gwt, 0, (size_t)nt * wsz * sizeof(float));
#pragma omp parallel for schedule(static)
    for (ptrdiff_t s = 0; s < n; s++) {
      const int t = omp_get_thread_num();
      BackwardSample(&g, a->w, a->in->v + s * g.ci * g.N, a->gout->v + s * g.co * g.P, a->gin ? a->gin->v + s * g.ci * g.N : NULL, a->add_in, wsz ? gwt + (size_t)t * wsz : NULL, col + (size_t)t * csz, PETSC_FALSE);
    }
    if (wsz) PdNNSumThreadGrads(gwt, (PetscInt)nt, (PetscInt)wsz, a->gw);
  } else
    for (ptrdiff_t s = 0; s < n; s++) BackwardSample(&g, a->w, a->in->v + s * g.ci * g.N, a->gout->v + s * g.co * g.P, a->gin ? a->gin->v + s * g.ci * g.N : NULL, a->add_in, a->gw, col, PETSC_TRUE);
  if (a->gb) PdNNBiasGrad(a->gout, a->gb);
  PetscCall(PetscLogFlops(2.0 * (double)n * (double)g.co * (double)g.K * (double)g.P * ((a->gw ? 1 : 0) + (a->gin ? 1 : 0))));
  PetscFunctionReturn(0);
}

const PdNNLayerOps PdNNConvOps = {ConvShape, ConvForward, ConvBackward};
