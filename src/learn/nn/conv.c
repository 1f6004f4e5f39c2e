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

   Folded x-taps (stride 1, cin·k^(dims−1) >= 16): colf[(i,dz,dy)] holds the input rows met by
   the band, zero-padded to Wp = W + 2p, and outputs are computed on that padded-width grid, where
   tap dx of output x reads column x + dx:  out = Σ_dx W_dx · colf[:, dx:],  dW_dx += G · colf[:, dx:]ᵀ,
   dcolf[:, dx:] += W_dxᵀ · G  (G zero off the outputs): k SGEMMs on a k-times smaller matrix.

   col is built for a band of output rows at a time so that it stays in cache between im2col and
   the GEMM. A batch of at least as many samples as threads is split over the threads (one sample
   per thread, single-threaded BLAS, a weight gradient per thread, summed at the end); a smaller
   batch has its bands of output rows split over the threads in the forward pass (whole images
   at inference), and each im2col and GEMM threaded in the backward pass (where the bands of
   col2im overlap). */
#include "learn/nn/nn_impl.h"
#include <cblas.h>
#include <limits.h>
#include <string.h>
#include <omp.h>

/* floats of col per band (1 MiB): col stays in L2 from im2col to the GEMM, whose B operand it
   is; OpenBLAS runs K x 64..256 panels at full speed, K x 4096 ones at half */
#define BAND_FLOATS (1 << 18)

/* x-taps folded (stride 1) when cin·k^(dims−1) reaches this: the SGEMMs keep K' >= 16 */
#define FOLD_MIN 16

typedef struct {
  ptrdiff_t ci, co, kd, k, sd, s, pd, p;
  ptrdiff_t D, H, W, OD, OH, OW;
  ptrdiff_t K, P, N, rows, band;
  PetscBool direct, fold;
  ptrdiff_t Kf, Wp, Lc; /* folded: rows of colf, padded row width, colf's leading dimension */
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
  g->fold   = (PetscBool)(!g->direct && g->s == 1 && g->k > 1 && g->ci * g->kd * g->k >= FOLD_MIN);
  if (g->fold) {
    g->Kf   = g->ci * g->kd * g->k;
    g->Wp   = g->W + 2 * g->p;
    g->band = PetscMin(g->rows, PetscMax(1, BAND_FLOATS / (g->Kf * g->Wp)));
    g->Lc   = g->band * g->Wp + g->k - 1;
  }
}

/* floats of per-thread scratch: col (or colf and the padded-width output band) */
static size_t ColFloats(const Geom *g)
{
  if (g->direct) return 0;
  if (g->fold) return (size_t)(g->Kf * g->Lc + g->co * g->band * g->Wp);
  return (size_t)(g->K * g->band * g->OW);
}

/* BLAS takes int sizes: a sample's positions and one band's columns. */
static PetscErrorCode GeomCheck(const PdNNLayer *L, const Geom *g)
{
  PetscFunctionBegin;
  PetscCheck(g->P <= INT_MAX && g->N <= INT_MAX && (double)ColFloats(g) <= (double)INT_MAX, PETSC_COMM_SELF, PETSC_ERR_SUP, "conv %s: input too large for the BLAS calls", L->name);
  PetscFunctionReturn(0);
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

/* Folded: colf[(i,dz,dy)][(r − r0)·Wp + xp] = the input row met by tap (dz, dy) of output row r,
   zero-padded by p on both sides (xp in [0, Wp)), plus k − 1 zeros at the end. Tap dx of output x
   then reads colf at (r − r0)·Wp + x + dx: the x-taps are column shifts of one matrix. */
static void Im2ColFold(const Geom *g, const float *in, ptrdiff_t r0, ptrdiff_t nr, float *col, PetscBool par)
{
#pragma omp parallel for schedule(static) if (par)
  for (ptrdiff_t kr = 0; kr < g->Kf; kr++) {
    const ptrdiff_t i = kr / (g->kd * g->k), kz = (kr / g->k) % g->kd, ky = kr % g->k;
    float          *d = col + kr * g->Lc;

    for (ptrdiff_t r = r0; r < r0 + nr; r++, d += g->Wp) {
      const ptrdiff_t iz = r / g->OH + kz - g->pd, iy = r % g->OH + ky - g->p;
      if (iz < 0 || iz >= g->D || iy < 0 || iy >= g->H) {
        memset(d, 0, (size_t)g->Wp * sizeof(float));
        continue;
      }
      memset(d, 0, (size_t)g->p * sizeof(float));
      memcpy(d + g->p, in + ((i * g->D + iz) * g->H + iy) * g->W, (size_t)g->W * sizeof(float));
      memset(d + g->p + g->W, 0, (size_t)g->p * sizeof(float));
    }
    memset(d, 0, (size_t)(g->k - 1) * sizeof(float));
  }
}

/* in[...] += colf[...]: the adjoint of Im2ColFold (threads take input channels). */
static void Col2ImFold(const Geom *g, const float *col, ptrdiff_t r0, ptrdiff_t nr, float *in, PetscBool par)
{
#pragma omp parallel for schedule(static) if (par)
  for (ptrdiff_t i = 0; i < g->ci; i++)
    for (ptrdiff_t t = 0; t < g->kd * g->k; t++) {
      const ptrdiff_t kz = t / g->k, ky = t % g->k;
      const float    *c = col + (i * g->kd * g->k + t) * g->Lc + g->p;
      for (ptrdiff_t r = r0; r < r0 + nr; r++, c += g->Wp) {
        const ptrdiff_t iz = r / g->OH + kz - g->pd, iy = r % g->OH + ky - g->p;
        float          *dst;
        if (iz < 0 || iz >= g->D || iy < 0 || iy >= g->H) continue;
        dst = in + ((i * g->D + iz) * g->H + iy) * g->W;
        for (ptrdiff_t x = 0; x < g->W; x++) dst[x] += c[x];
      }
    }
}

/* Folded weights: wf[dx][o][(i,dz,dy)] = w[o][i][dz][dy][dx]. */
static void FoldWeights(const Geom *g, const float *w, float *wf)
{
  for (ptrdiff_t dx = 0; dx < g->k; dx++)
    for (ptrdiff_t o = 0; o < g->co; o++)
      for (ptrdiff_t kr = 0; kr < g->Kf; kr++) wf[(dx * g->co + o) * g->Kf + kr] = w[o * g->K + kr * g->k + dx];
}

/* gw += the sum of nbuf weight gradients, folded ([dx][o][kr]) or not. */
static void AddWeightGrads(const Geom *g, const float *part, PetscInt nbuf, float *gw)
{
  if (!g->fold) {
    PdNNSumThreadGrads(part, nbuf, (PetscInt)(g->co * g->K), gw);
    return;
  }
  for (PetscInt t = 0; t < nbuf; t++, part += g->co * g->K)
    for (ptrdiff_t dx = 0; dx < g->k; dx++)
      for (ptrdiff_t o = 0; o < g->co; o++)
        for (ptrdiff_t kr = 0; kr < g->Kf; kr++) gw[o * g->K + kr * g->k + dx] += part[(dx * g->co + o) * g->Kf + kr];
}

/* Folded forward of a band: tmp = Σ_dx Wf[dx] · colf shifted by dx (outputs on the padded-width
   grid; the last k − 1 columns of each row are not outputs), then the outputs and the bias. */
static void ForwardBandFold(const Geom *g, const float *wf, const float *b, const float *in, float *oc, float *col, ptrdiff_t r0, ptrdiff_t nr, PetscBool par)
{
  const ptrdiff_t Nc = nr * g->Wp;
  float          *tmp = col + g->Kf * g->Lc;

  Im2ColFold(g, in, r0, nr, col, par);
  for (ptrdiff_t dx = 0; dx < g->k; dx++) cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)g->co, (int)Nc, (int)g->Kf, 1.0f, wf + dx * g->co * g->Kf, (int)g->Kf, col + dx, (int)g->Lc, dx ? 1.0f : 0.0f, tmp, (int)Nc);
#pragma omp parallel for schedule(static) if (par)
  for (ptrdiff_t o = 0; o < g->co; o++) {
    const float v = b ? b[o] : 0.0f;
    for (ptrdiff_t rl = 0; rl < nr; rl++)
      for (ptrdiff_t x = 0; x < g->OW; x++) oc[o * g->P + rl * g->OW + x] = tmp[o * Nc + rl * g->Wp + x] + v;
  }
}

/* Folded backward of a band: G on the padded-width grid (0 off the outputs), dWf[dx] += G·colfᵀ
   shifted, dcolf = Σ_dx Wf[dx]ᵀ·G shifted, col2im. */
static void BackwardBandFold(const Geom *g, const float *wf, const float *in, const float *gc, float *gin, float *gwf, float *col, ptrdiff_t r0, ptrdiff_t nr, PetscBool par)
{
  const ptrdiff_t Nc = nr * g->Wp;
  float          *G  = col + g->Kf * g->Lc;

#pragma omp parallel for schedule(static) if (par)
  for (ptrdiff_t o = 0; o < g->co; o++)
    for (ptrdiff_t rl = 0; rl < nr; rl++) {
      memcpy(G + o * Nc + rl * g->Wp, gc + o * g->P + rl * g->OW, (size_t)g->OW * sizeof(float));
      memset(G + o * Nc + rl * g->Wp + g->OW, 0, (size_t)(g->Wp - g->OW) * sizeof(float));
    }
  if (gwf) {
    Im2ColFold(g, in, r0, nr, col, par);
    for (ptrdiff_t dx = 0; dx < g->k; dx++) cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)g->co, (int)g->Kf, (int)Nc, 1.0f, G, (int)Nc, col + dx, (int)g->Lc, 1.0f, gwf + dx * g->co * g->Kf, (int)g->Kf);
  }
  if (gin) {
    memset(col, 0, (size_t)(g->Kf * g->Lc) * sizeof(float));
    for (ptrdiff_t dx = 0; dx < g->k; dx++) cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)g->Kf, (int)Nc, (int)g->co, 1.0f, wf + dx * g->co * g->Kf, (int)g->Kf, G, (int)Nc, 1.0f, col + dx, (int)g->Lc);
    Col2ImFold(g, col, r0, nr, gin, par);
  }
}

/* Output rows [r0, r0 + band) of one sample. */
static void ForwardBand(const Geom *g, const float *w, const float *b, const float *in, float *out, float *col, ptrdiff_t r0, PetscBool par)
{
  const ptrdiff_t nr = PetscMin(g->band, g->rows - r0), Pc = nr * g->OW;
  float          *oc = out + r0 * g->OW;
  const float    *A  = g->direct ? in + r0 * g->OW : col;

  if (g->fold) {
    ForwardBandFold(g, w, b, in, oc, col, r0, nr, par);
    return;
  }
#pragma omp parallel for schedule(static) if (par)
  for (ptrdiff_t o = 0; o < g->co; o++) {
    const float v = b ? b[o] : 0.0f;
    for (ptrdiff_t q = 0; q < Pc; q++) oc[o * g->P + q] = v;
  }
  if (!g->direct) Im2Col(g, in, r0, nr, col, par);
  cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)g->co, (int)Pc, (int)g->K, 1.0f, w, (int)g->K, A, (int)(g->direct ? g->P : Pc), 1.0f, oc, (int)g->P);
}

/* gw += G·colᵀ (gw NULL: skipped); gin = or += col2im(Wᵀ·G) (gin NULL: skipped). Folded: w and
   gw in the folded layout. */
static void BackwardSample(const Geom *g, const float *w, const float *in, const float *gout, float *gin, PetscBool add, float *gw, float *col, PetscBool par)
{
  if (gin && !add && !g->direct) memset(gin, 0, (size_t)(g->ci * g->N) * sizeof(float));
  for (ptrdiff_t r0 = 0; r0 < g->rows; r0 += g->band) {
    const ptrdiff_t nr = PetscMin(g->band, g->rows - r0), Pc = nr * g->OW;
    const float    *gc = gout + r0 * g->OW;

    if (g->fold) {
      BackwardBandFold(g, w, in, gc, gin, gw, col, r0, nr, par);
      continue;
    }
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

/* Flops of `products` GEMM-sized products (forward: 1; backward: weights and/or input). */
static double ConvFlops(const PdNNLayer *L, const PdNNArgs *a, int products)
{
  const double taps = (double)L->k * L->k * (a->dims == 3 ? L->k : 1);
  return 2.0 * products * (double)a->out->n * L->cout * L->cin * taps * (double)PdTensorSpatial(a->out);
}

static PetscErrorCode ConvForward(const PdNNLayer *L, PdNNArgs *a)
{
  Geom            g;
  const ptrdiff_t n = a->in->n, nt = PdNNThreads();
  const PetscBool outer = (PetscBool)(nt > 1 && n >= nt);
  PetscBool       bands, done = PETSC_FALSE;
  float          *col, *w;
  size_t          csz, fsz;

  PetscFunctionBegin;
  switch (PdNNConvBackend(L, a, PETSC_FALSE)) {
  case PD_NN_BACKEND_FFT:
    PetscCall(PdNNConvFftForward(L, a));
    PetscFunctionReturn(0);
  case PD_NN_BACKEND_DNNL:
    PetscCall(PdNNConvDnnlForward(L, a, &done));
    break;
  default:
    break;
  }
  if (done) {
    PetscCall(PetscLogFlops(ConvFlops(L, a, 1)));
    PetscFunctionReturn(0);
  }
  GeomSet(L, a->dims, a->in, a->out, &g);
  PetscCall(GeomCheck(L, &g));
  /* fewer samples than threads: the threads take bands when there are enough of them */
  bands = (PetscBool)(!outer && nt > 1 && (g.rows + g.band - 1) / g.band >= 4 * nt);
  csz   = ColFloats(&g);
  fsz   = g.fold ? (size_t)(g.co * g.K) : 0;
  PetscCall(PdNNWorkScratch(a->work, PetscMax(1, fsz + (outer || bands ? (size_t)nt : 1) * csz), &w));
  col = w + fsz;
  if (g.fold) FoldWeights(&g, a->w, w);
  else w = (float *)a->w;
  if (outer) {
#pragma omp parallel for schedule(static)
    for (ptrdiff_t s = 0; s < n; s++)
      for (ptrdiff_t r0 = 0; r0 < g.rows; r0 += g.band) ForwardBand(&g, w, a->b, a->in->v + s * g.ci * g.N, a->out->v + s * g.co * g.P, col + (size_t)omp_get_thread_num() * csz, r0, PETSC_FALSE);
  } else if (bands) {
    for (ptrdiff_t s = 0; s < n; s++) {
#pragma omp parallel for schedule(static)
      for (ptrdiff_t r0 = 0; r0 < g.rows; r0 += g.band) ForwardBand(&g, w, a->b, a->in->v + s * g.ci * g.N, a->out->v + s * g.co * g.P, col + (size_t)omp_get_thread_num() * csz, r0, PETSC_FALSE);
    }
  } else
    for (ptrdiff_t s = 0; s < n; s++)
      for (ptrdiff_t r0 = 0; r0 < g.rows; r0 += g.band) ForwardBand(&g, w, a->b, a->in->v + s * g.ci * g.N, a->out->v + s * g.co * g.P, col, r0, PETSC_TRUE);
  PetscCall(PetscLogFlops(ConvFlops(L, a, 1)));
  PetscFunctionReturn(0);
}

static PetscErrorCode ConvBackward(const PdNNLayer *L, PdNNArgs *a)
{
  Geom            g;
  const ptrdiff_t n = a->in->n, nt = PdNNThreads();
  const PetscBool outer = (PetscBool)(nt > 1 && n >= nt);
  const PetscInt  nbuf = outer ? (PetscInt)nt : 1;
  float          *col, *gwt, *w;
  size_t          csz, wsz, fsz;
  PetscBool       done = PETSC_FALSE;

  PetscFunctionBegin;
  if (PdNNConvBackend(L, a, PETSC_TRUE) == PD_NN_BACKEND_DNNL) PetscCall(PdNNConvDnnlBackward(L, a, &done));
  if (done) {
    PetscCall(PetscLogFlops(ConvFlops(L, a, (a->gw ? 1 : 0) + (a->gin ? 1 : 0))));
    PetscFunctionReturn(0);
  }
  GeomSet(L, a->dims, a->in, a->out, &g);
  PetscCall(GeomCheck(L, &g));
  csz = ColFloats(&g);
  fsz = g.fold ? (size_t)(g.co * g.K) : 0;
  /* weight gradients in scratch (summed, unfolded at the end) with threads or when folded */
  wsz = a->gw && (outer || g.fold) ? (size_t)(g.co * g.K) : 0;
  PetscCall(PdNNWorkScratch(a->work, PetscMax(1, fsz + (size_t)nbuf * (csz + wsz)), &w));
  col = w + fsz;
  gwt = col + (size_t)nbuf * csz;
  if (g.fold) FoldWeights(&g, a->w, w);
  else w = (float *)a->w;
  if (wsz) memset(gwt, 0, (size_t)nbuf * wsz * sizeof(float));
  if (outer) {
#pragma omp parallel for schedule(static)
    for (ptrdiff_t s = 0; s < n; s++) {
      const int t = omp_get_thread_num();
      BackwardSample(&g, w, a->in->v + s * g.ci * g.N, a->gout->v + s * g.co * g.P, a->gin ? a->gin->v + s * g.ci * g.N : NULL, a->add_in, wsz ? gwt + (size_t)t * wsz : NULL, col + (size_t)t * csz, PETSC_FALSE);
    }
  } else
    for (ptrdiff_t s = 0; s < n; s++) BackwardSample(&g, w, a->in->v + s * g.ci * g.N, a->gout->v + s * g.co * g.P, a->gin ? a->gin->v + s * g.ci * g.N : NULL, a->add_in, wsz ? gwt : a->gw, col, PETSC_TRUE);
  if (wsz) AddWeightGrads(&g, gwt, nbuf, a->gw);
  if (a->gb) PdNNBiasGrad(a->gout, a->gb);
  PetscCall(PetscLogFlops(ConvFlops(L, a, (a->gw ? 1 : 0) + (a->gin ? 1 : 0))));
  PetscFunctionReturn(0);
}

const PdNNLayerOps PdNNConvOps = {ConvShape, ConvForward, ConvBackward};
