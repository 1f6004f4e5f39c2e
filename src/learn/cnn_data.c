/* Training pairs of the 2-D restoration networks (equations in cnn_data.h). */
#include <pdecon/learn/cnn_data.h>
#include <pdecon/learn/train_batch.h>
#include <pdecon/core/fingerprint.h>
#include <pdecon/core/random.h>
#include <math.h>
#include <stdlib.h>

#define FG_PERCENT   99.9
#define FG_TRIES     16
#define PSF_CROP_REL 1e-3

typedef struct {
  ptrdiff_t n[3];
  float    *in, *tg;
  double    fg; /* 99.9th percentile of the target */
  char      name[PETSC_MAX_PATH_LEN];
} Pair;

struct _p_PdCNNData {
  MPI_Comm           comm;
  PetscInt           pin, pout;
  unsigned long long seed;
  double             foreground;
  PetscInt           np[2];
  Pair              *p[2];
};

PetscErrorCode PdCNNDataCreate(MPI_Comm comm, PdCNNData *out)
{
  PdCNNData d;

  PetscFunctionBegin;
  PetscCall(PetscNew(&d));
  d->comm       = comm;
  d->pin        = 64;
  d->pout       = 64;
  d->seed       = 42;
  d->foreground = 0.4;
  *out          = d;
  PetscFunctionReturn(0);
}

PetscErrorCode PdCNNDataSetPatch(PdCNNData d, PetscInt in, PetscInt out)
{
  PetscFunctionBegin;
  PetscCheck(in >= 1 && out >= 1 && out <= in && (in - out) % 2 == 0, d->comm, PD_ERR_INPUT, "training patch: input side %" PetscInt_FMT " and target side %" PetscInt_FMT " must be positive, target <= input, and differ by an even number", in, out);
  for (int s = 0; s < 2; s++)
    for (PetscInt i = 0; i < d->np[s]; i++)
      PetscCheck(d->p[s][i].n[1] >= in && d->p[s][i].n[2] >= in, d->comm, PD_ERR_INPUT, "%s: slices %td x %td are smaller than the training patch (%" PetscInt_FMT ")", d->p[s][i].name, d->p[s][i].n[1], d->p[s][i].n[2], in);
  d->pin  = in;
  d->pout = out;
  PetscFunctionReturn(0);
}

PetscErrorCode PdCNNDataSetSeed(PdCNNData d, unsigned long long seed)
{
  PetscFunctionBegin;
  d->seed = seed;
  PetscFunctionReturn(0);
}

PetscErrorCode PdCNNDataSetForeground(PdCNNData d, double foreground)
{
  PetscFunctionBegin;
  PetscCheck(foreground >= 0 && foreground <= 1, d->comm, PD_ERR_INPUT, "the patch foreground threshold must lie in [0, 1] (got %g)", foreground);
  d->foreground = foreground;
  PetscFunctionReturn(0);
}

static int CompareFloat(const void *a, const void *b)
{
  const float x = *(const float *)a, y = *(const float *)b;
  return (x > y) - (x < y);
}

PetscErrorCode PdCNNPercentiles(ptrdiff_t N, const float *v, int nq, const double *q, double *out)
{
  const ptrdiff_t stride = PdCNNPercentileStride(N), M = (N + stride - 1) / stride;
  float          *s;

  PetscFunctionBegin;
  PetscCall(PetscMalloc1(M, &s));
  for (ptrdiff_t i = 0; i < M; i++) s[i] = v[i * stride];
  qsort(s, (size_t)M, sizeof(float), CompareFloat);
  for (int k = 0; k < nq; k++) out[k] = s[PetscMin(M - 1, (ptrdiff_t)floor(q[k] / 100.0 * (double)(M - 1) + 0.5))];
  PetscCall(PetscFree(s));
  PetscFunctionReturn(0);
}

PetscErrorCode PdCNNDataAddPairs(PdCNNData d, const ptrdiff_t n[3], const float *input, const float *target, const char *name, PetscBool validation)
{
  const int       s = validation ? 1 : 0;
  const ptrdiff_t N = n[0] * n[1] * n[2];
  const double    q[3] = {PD_CNN_NORM_LO, PD_CNN_NORM_HI, FG_PERCENT};
  double          pc[3], fg = 0, a, lo;
  Pair           *P;

  PetscFunctionBegin;
  PetscCheck(n[0] >= 1 && n[1] >= d->pin && n[2] >= d->pin, d->comm, PD_ERR_INPUT, "%s: slices %td x %td are smaller than the training patch (%" PetscInt_FMT ")", name, n[1], n[2], d->pin);
  PetscCall(PdCNNPercentiles(N, input, 2, q, pc));
  PetscCall(PdCNNPercentiles(N, target, 1, q + 2, &fg));
  PetscCheck(pc[1] > pc[0], d->comm, PD_ERR_INPUT, "%s: the input has no contrast to train on (its percentiles %g and %g are both %g)", name, PD_CNN_NORM_LO, PD_CNN_NORM_HI, pc[0]);
  a  = 1.0 / (pc[1] - pc[0]);
  lo = pc[0];
  PetscCall(PetscRealloc(sizeof(Pair) * (size_t)(d->np[s] + 1), &d->p[s]));
  P = &d->p[s][d->np[s]++];
  for (int k = 0; k < 3; k++) P->n[k] = n[k];
  P->fg = (fg - lo) * a;
  PetscCall(PetscStrncpy(P->name, name, sizeof(P->name)));
  PetscCall(PetscMalloc2(N, &P->in, N, &P->tg));
  for (ptrdiff_t i = 0; i < N; i++) {
    P->in[i] = (float)((input[i] - lo) * a);
    P->tg[i] = (float)((target[i] - lo) * a);
  }
  PetscFunctionReturn(0);
}

PetscErrorCode PdCNNIsonetDegrade(const ptrdiff_t n[2], const float *slice, const ptrdiff_t hn[2], const float *h, double sigma, float *out, ptrdiff_t *ncols)
{
  const ptrdiff_t ny = n[0], nx = n[1], cy = hn[0] / 2, cx = hn[1] / 2;
  const ptrdiff_t m = (ptrdiff_t)floor((double)(nx - 1) / sigma) + 1, L = (ptrdiff_t)floor((double)(m - 1) * sigma) + 1;
  float          *b, *row;

  PetscFunctionBegin;
  PetscCheck(sigma >= 1 && isfinite(sigma), PETSC_COMM_SELF, PD_ERR_INPUT, "the anisotropy factor must be >= 1 (got %g)", sigma);
  PetscCall(PetscMalloc2(ny * nx, &b, m, &row));
  /* b = h ∗ slice, correlation with the kernel's centre at hn/2, zero outside */
  for (ptrdiff_t y = 0; y < ny; y++)
    for (ptrdiff_t x = 0; x < nx; x++) {
      double acc = 0;
      for (ptrdiff_t i = PetscMax(0, cy - y); i < PetscMin(hn[0], ny + cy - y); i++) {
        const float    *hr = h + i * hn[1];
        const ptrdiff_t r  = (y + i - cy) * nx + x - cx; /* slice index of tap j: r + j */
        for (ptrdiff_t j = PetscMax(0, cx - x); j < PetscMin(hn[1], nx + cx - x); j++) acc += (double)hr[j] * slice[r + j];
      }
      b[y * nx + x] = (float)acc;
    }
  for (ptrdiff_t y = 0; y < ny; y++) {
    for (ptrdiff_t k = 0; k < m; k++) row[k] = b[y * nx + PetscMin(nx - 1, (ptrdiff_t)floor((double)k * sigma + 0.5))];
    for (ptrdiff_t x = 0; x < L; x++) {
      const double    t = (double)x / sigma;
      const ptrdiff_t k = PetscMin(m - 1, (ptrdiff_t)floor(t));
      const double    f = t - (double)k;
      out[y * L + x]    = k + 1 < m ? (float)((1 - f) * row[k] + f * row[k + 1]) : row[k];
    }
  }
  *ncols = L;
  PetscCall(PetscFree2(b, row));
  PetscFunctionReturn(0);
}

PetscErrorCode PdCNNDataAddIsonet(PdCNNData d, const ptrdiff_t n[3], const float *v, const ptrdiff_t hn[2], const float *h, double sigma, double noise, const char *name, PetscBool validation)
{
  const ptrdiff_t ns = n[1] * n[2];
  ptrdiff_t       z0, nz, L = 0, m[3];
  float          *noisy, *in, *tg;
  int             size, *counts, *displs;

  PetscFunctionBegin;
  PetscCheck(sigma >= 1 && isfinite(sigma), d->comm, PD_ERR_INPUT, "%s: the anisotropy factor must be >= 1 (got %g)", name, sigma);
  PetscCheck(noise >= 0 && isfinite(noise), d->comm, PD_ERR_INPUT, "%s: the noise level must be >= 0 (got %g)", name, noise);
  PetscCallMPI(MPI_Comm_size(d->comm, &size));
  PetscCall(PdBatchShare(d->comm, (PetscInt)n[0], &z0, &nz));
  L    = (ptrdiff_t)floor((double)((ptrdiff_t)floor((double)(n[2] - 1) / sigma)) * sigma) + 1;
  m[0] = n[0];
  m[1] = n[1];
  m[2] = L;
  PetscCall(PetscMalloc3(ns, &noisy, m[0] * m[1] * L, &in, m[0] * m[1] * L, &tg));
  for (ptrdiff_t z = z0; z < z0 + nz; z++) {
    ptrdiff_t   cols;
    const float *src = v + z * ns;
    /* noise goes onto the blurred slice, before subsampling: blur first, then add, then sample */
    if (noise > 0) {
      const ptrdiff_t one[2] = {1, 1};
      const float     delta  = 1;
      PetscCall(PdCNNIsonetDegrade(n + 1, src, hn, h, 1.0, noisy, &cols));
      for (ptrdiff_t i = 0; i < ns; i++) {
        PdRandStream r = PdRandStreamCreate(d->seed ^ 0x5EEDBA5EULL, (unsigned long long)(z * ns + i));
        noisy[i] += (float)(noise * PdRandNormal(&r));
      }
      PetscCall(PdCNNIsonetDegrade(n + 1, noisy, one, &delta, sigma, in + z * n[1] * L, &cols));
    } else PetscCall(PdCNNIsonetDegrade(n + 1, src, hn, h, sigma, in + z * n[1] * L, &cols));
    for (ptrdiff_t y = 0; y < n[1]; y++)
      for (ptrdiff_t x = 0; x < L; x++) tg[(z * n[1] + y) * L + x] = src[y * n[2] + x];
  }
  PetscCall(PetscMalloc2(size, &counts, size, &displs));
  for (int r = 0; r < size; r++) {
    ptrdiff_t s0, c;
    PdBlockRange(n[0], size, r, &s0, &c);
    counts[r] = (int)(c * n[1] * L);
    displs[r] = (int)(s0 * n[1] * L);
  }
  PetscCallMPI(MPI_Allgatherv(MPI_IN_PLACE, 0, MPI_FLOAT, in, counts, displs, MPI_FLOAT, d->comm));
  PetscCallMPI(MPI_Allgatherv(MPI_IN_PLACE, 0, MPI_FLOAT, tg, counts, displs, MPI_FLOAT, d->comm));
  PetscCall(PdCNNDataAddPairs(d, m, in, tg, name, validation));
  PetscCall(PetscFree2(counts, displs));
  PetscCall(PetscFree3(noisy, in, tg));
  PetscFunctionReturn(0);
}

PetscErrorCode PdCNNDataDraw(PdCNNData d, PetscBool validation, unsigned long long item, float *in, float *target)
{
  const int      s = validation && d->np[1] > 0 ? 1 : 0;
  const PetscInt P = d->pin, Q = d->pout, off = (P - Q) / 2;
  PdRandStream   r = PdRandStreamCreate(d->seed, item);
  const Pair    *V = NULL;
  ptrdiff_t      z = 0, y0 = 0, x0 = 0;

  PetscFunctionBegin;
  PetscCheck(d->np[0] > 0, d->comm, PD_ERR_INPUT, "training: no training data");
  for (int k = 0; k < FG_TRIES; k++) {
    double mx = -INFINITY;
    V  = &d->p[s][PetscMin(d->np[s] - 1, (PetscInt)(PdRandUniform(&r) * d->np[s]))];
    z  = PetscMin(V->n[0] - 1, (ptrdiff_t)(PdRandUniform(&r) * (double)V->n[0]));
    y0 = (ptrdiff_t)(PdRandUniform(&r) * (double)(V->n[1] - P + 1));
    x0 = (ptrdiff_t)(PdRandUniform(&r) * (double)(V->n[2] - P + 1));
    if (d->foreground <= 0) break;
    for (PetscInt y = off; y < off + Q; y++)
      for (PetscInt x = off; x < off + Q; x++) mx = PetscMax(mx, (double)V->tg[(z * V->n[1] + y0 + y) * V->n[2] + x0 + x]);
    if (mx >= d->foreground * V->fg) break;
  }
  for (PetscInt y = 0; y < P; y++)
    for (PetscInt x = 0; x < P; x++) in[y * P + x] = V->in[(z * V->n[1] + y0 + y) * V->n[2] + x0 + x];
  for (PetscInt y = 0; y < Q; y++)
    for (PetscInt x = 0; x < Q; x++) target[y * Q + x] = V->tg[(z * V->n[1] + y0 + off + y) * V->n[2] + x0 + off + x];
  PetscFunctionReturn(0);
}

PetscErrorCode PdCNNDataGetCount(PdCNNData d, PetscInt *ntrain, PetscInt *nval)
{
  PetscFunctionBegin;
  if (ntrain) *ntrain = d->np[0];
  if (nval) *nval = d->np[1];
  PetscFunctionReturn(0);
}

PetscErrorCode PdCNNDataHash(PdCNNData d, unsigned long long *h)
{
  PetscFunctionBegin;
  PdHashBytes(h, &d->pin, sizeof(d->pin));
  PdHashBytes(h, &d->pout, sizeof(d->pout));
  PdHashBytes(h, &d->seed, sizeof(d->seed));
  PdHashBytes(h, &d->foreground, sizeof(d->foreground));
  for (int s = 0; s < 2; s++)
    for (PetscInt i = 0; i < d->np[s]; i++) {
      const Pair  *V = &d->p[s][i];
      const size_t N = sizeof(float) * (size_t)(V->n[0] * V->n[1] * V->n[2]);
      PdHashBytes(h, V->n, sizeof(V->n));
      PdHashBytes(h, V->in, N);
      PdHashBytes(h, V->tg, N);
    }
  PetscFunctionReturn(0);
}

PetscErrorCode PdCNNDataDestroy(PdCNNData *dp)
{
  PdCNNData d = *dp;

  PetscFunctionBegin;
  if (!d) PetscFunctionReturn(0);
  for (int s = 0; s < 2; s++) {
    for (PetscInt i = 0; i < d->np[s]; i++) PetscCall(PetscFree2(d->p[s][i].in, d->p[s][i].tg));
    PetscCall(PetscFree(d->p[s]));
  }
  PetscCall(PetscFree(d));
  *dp = NULL;
  PetscFunctionReturn(0);
}

PetscErrorCode PdCNNRotatedPSF(const ptrdiff_t pn[3], const float *psf, ptrdiff_t hn[2], float *h)
{
  const ptrdiff_t cy = pn[1] / 2, rows = pn[2], cols = pn[0], c0 = rows / 2, c1 = cols / 2;
  double          peak = 0, sum = 0;
  ptrdiff_t       r0 = 0, r1 = 0; /* half-extents kept along rows and columns */

  PetscFunctionBegin;
  for (ptrdiff_t y = 0; y < rows; y++)
    for (ptrdiff_t x = 0; x < cols; x++) peak = PetscMax(peak, (double)psf[(x * pn[1] + cy) * pn[2] + y]);
  PetscCheck(peak > 0, PETSC_COMM_SELF, PD_ERR_INPUT, "the PSF's xz-section through its centre has no positive value");
  for (ptrdiff_t y = 0; y < rows; y++)
    for (ptrdiff_t x = 0; x < cols; x++)
      if (psf[(x * pn[1] + cy) * pn[2] + y] > PSF_CROP_REL * peak) {
        r0 = PetscMax(r0, PetscAbsInt((PetscInt)(y - c0)));
        r1 = PetscMax(r1, PetscAbsInt((PetscInt)(x - c1)));
      }
  r0    = PetscMin(r0, PetscMin(c0, rows - 1 - c0));
  r1    = PetscMin(r1, PetscMin(c1, cols - 1 - c1));
  hn[0] = 2 * r0 + 1;
  hn[1] = 2 * r1 + 1;
  for (ptrdiff_t y = 0; y < hn[0]; y++)
    for (ptrdiff_t x = 0; x < hn[1]; x++) {
      const float v     = psf[((c1 - r1 + x) * pn[1] + cy) * pn[2] + c0 - r0 + y];
      h[y * hn[1] + x]  = v > 0 ? v : 0;
      sum              += h[y * hn[1] + x];
    }
  for (ptrdiff_t i = 0; i < hn[0] * hn[1]; i++) h[i] = (float)(h[i] / sum);
  PetscFunctionReturn(0);
}
