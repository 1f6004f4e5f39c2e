/* Bertero-Boccacci weights without a stored volume: w = 1 / Hᵀ(M·1), row by row from box sums
   of the PSF.

     Hᵀ(M·1)(v) = Σ_{u∈M} h(c + u − v) = Σ_{i∈I_z(v_z)} Σ_{j∈I_y(v_y)} Σ_{k∈I_x(v_x)} h(i, j, k)

   with I_a(v) = {i ∈ [0, p_a) : (v + i − c_a) mod n_a < m_a}, the PSF indices along axis a whose
   light from voxel v lands in the measured box M (c the PSF's centre, n the working size, m the
   box). As i runs over p_a <= n_a consecutive values, (v + i − c_a) mod n_a wraps at most once, so
   I_a(v) is at most two intervals. With S the PSF's 3-D prefix sum, a row (v_z, v_y) sums its
   (z, y) intervals once into D(k) = Σ_{i∈I_z} Σ_{j∈I_y} Σ_{k'<k} h(i, j, k') (four look-ups of S per
   k and interval pair), and each voxel of the row is D at its x intervals' ends: no FFT, no
   working volume, exact up to float rounding of S (the FFT-computed Hᵀ1 carries more).
   Memory: (p0+1)(p1+1)(p2+1) floats of S and one row per thread, in place of a working volume
   per rank. RL-type methods that declare row_weights read their weights through
   PdDeconWeightsRow, which returns the stored row for every other configuration. */
#include "decon/decon_impl.h"
#include <omp.h>
#include <string.h>

struct _p_PdBoxWeights {
  ptrdiff_t p[3], n2, rs;
  float    *S;      /* (p0+1) x (p1+1) x (p2+1) prefix sums: S(i,j,k) = Σ_{i'<i, j'<j, k'<k} h */
  int      *run[3]; /* per axis a and coordinate v: the intervals [lo0, hi0), [lo1, hi1) of I_a(v) */
  float     thr;    /* voxels with Hᵀ1 at or below this are not estimated */
  int       nthreads;
  double   *D;      /* per thread: p2 + 1 partial sums */
  float    *row;    /* per thread: one row of weights (rs floats) */
  int      *key;    /* per thread: the (z, y) intervals its row was computed for (8 ints; -1: none) */
};

/* I_a(v) for every v of axis a as at most two intervals of PSF indices (lo = hi: empty). */
static PetscErrorCode AxisRuns(ptrdiff_t n, ptrdiff_t m, ptrdiff_t p, ptrdiff_t c, int *run)
{
  PetscFunctionBegin;
  for (ptrdiff_t v = 0; v < n; v++) {
    int *r = run + 4 * v, nr = 0;
    memset(r, 0, 4 * sizeof(int));
    for (ptrdiff_t i = 0; i < p; i++) {
      const PetscBool in = (PetscBool)((((v + i - c) % n) + n) % n < m);
      if (!in) continue;
      if (nr > 0 && r[2 * nr - 1] == i) r[2 * nr - 1] = (int)i + 1; /* extends the open run */
      else {
        PetscCheck(nr < 2, PETSC_COMM_SELF, PETSC_ERR_PLIB, "more than two runs of PSF indices along one axis");
        r[2 * nr] = (int)i;
        r[2 * nr + 1] = (int)i + 1;
        nr++;
      }
    }
  }
  PetscFunctionReturn(0);
}

/* S from the PSF: prefix sums along x, then y, then z, each accumulated in double. */
static void PrefixSums(const ptrdiff_t p[3], const float *h, float *S)
{
  const ptrdiff_t P1 = p[1] + 1, P2 = p[2] + 1;

  memset(S, 0, sizeof(float) * (size_t)((p[0] + 1) * P1 * P2));
  for (ptrdiff_t i = 0; i < p[0]; i++)
    for (ptrdiff_t j = 0; j < p[1]; j++) {
      double acc = 0;
      float *s   = S + ((i + 1) * P1 + j + 1) * P2;
      for (ptrdiff_t k = 0; k < p[2]; k++) s[k + 1] = (float)(acc += h[(i * p[1] + j) * p[2] + k]);
    }
  for (ptrdiff_t i = 1; i <= p[0]; i++)
    for (ptrdiff_t k = 1; k < P2; k++) {
      double acc = 0;
      for (ptrdiff_t j = 1; j < P1; j++) S[(i * P1 + j) * P2 + k] = (float)(acc += S[(i * P1 + j) * P2 + k]);
    }
  for (ptrdiff_t j = 1; j < P1; j++)
    for (ptrdiff_t k = 1; k < P2; k++) {
      double acc = 0;
      for (ptrdiff_t i = 1; i <= p[0]; i++) S[(i * P1 + j) * P2 + k] = (float)(acc += S[(i * P1 + j) * P2 + k]);
    }
}

PetscErrorCode PdBoxWeightsCreate(PdDecon d, float threshold, PdBoxWeights *bw)
{
  PdBoxWeights    b;
  const PdLayout *l = d->lay;

  PetscFunctionBegin;
  PetscCall(PetscNew(&b));
  for (int a = 0; a < 3; a++) b->p[a] = d->pn[a];
  b->n2       = l->n[2];
  b->rs       = l->rs;
  b->thr      = threshold;
  b->nthreads = PetscMax(PetscMax(PdGetThreads(), omp_get_max_threads()), 1); /* one row per thread of any loop */
  PetscCall(PetscMalloc1((size_t)((b->p[0] + 1) * (b->p[1] + 1) * (b->p[2] + 1)), &b->S));
  PrefixSums(b->p, d->psf, b->S);
  for (int a = 0; a < 3; a++) {
    PetscCall(PetscMalloc1((size_t)(4 * l->n[a]), &b->run[a]));
    PetscCall(AxisRuns(l->n[a], d->m[a], d->pn[a], d->pc[a], b->run[a]));
  }
  PetscCall(PetscMalloc3((size_t)(b->nthreads * (b->p[2] + 1)), &b->D, (size_t)(b->nthreads * b->rs), &b->row, (size_t)(8 * b->nthreads), &b->key));
  for (int i = 0; i < 8 * b->nthreads; i++) b->key[i] = -1;
  *bw = b;
  PetscFunctionReturn(0);
}

PetscErrorCode PdBoxWeightsDestroy(PdBoxWeights *bw)
{
  PdBoxWeights b = *bw;

  PetscFunctionBegin;
  if (!b) PetscFunctionReturn(0);
  PetscCall(PetscFree(b->S));
  for (int a = 0; a < 3; a++) PetscCall(PetscFree(b->run[a]));
  PetscCall(PetscFree3(b->D, b->row, b->key));
  PetscCall(PetscFree(*bw));
  PetscFunctionReturn(0);
}

double PdBoxWeightsBytes(const ptrdiff_t p[3], const ptrdiff_t n[3])
{
  return 4.0 * (double)((p[0] + 1) * (p[1] + 1) * (p[2] + 1)) + 16.0 * (double)(n[0] + n[1] + n[2]) +
         (double)PetscMax(PetscMax(PdGetThreads(), omp_get_max_threads()), 1) * (8.0 * (double)(p[2] + 1) + 4.0 * (double)(2 * (n[2] / 2 + 1)));
}

/* The weights of row (z, y) (global plane z) into w[0, rs); D: p2 + 1 doubles of scratch. */
static void Row(PdBoxWeights b, ptrdiff_t z, ptrdiff_t y, double *restrict D, float *restrict w)
{
  const ptrdiff_t P1 = b->p[1] + 1, P2 = b->p[2] + 1;
  const int      *rz = b->run[0] + 4 * z, *ry = b->run[1] + 4 * y, *rx = b->run[2];
  const float    *S  = b->S;
  PetscBool       any = PETSC_FALSE;

  memset(D, 0, sizeof(double) * (size_t)P2);
  for (int a = 0; a < 2; a++)
    for (int c = 0; c < 2; c++) {
      const ptrdiff_t i0 = rz[2 * a], i1 = rz[2 * a + 1], j0 = ry[2 * c], j1 = ry[2 * c + 1];
      if (i0 == i1 || j0 == j1) continue;
      const float *restrict s11 = S + (i1 * P1 + j1) * P2, *restrict s01 = S + (i0 * P1 + j1) * P2;
      const float *restrict s10 = S + (i1 * P1 + j0) * P2, *restrict s00 = S + (i0 * P1 + j0) * P2;
#pragma omp simd
      for (ptrdiff_t k = 0; k < P2; k++) D[k] += ((double)s11[k] - s01[k]) - ((double)s10[k] - s00[k]);
      any = PETSC_TRUE;
    }
  if (!any) {
    memset(w, 0, sizeof(float) * (size_t)b->rs);
    return;
  }
  const float thr = b->thr;
  for (ptrdiff_t x = 0; x < b->n2; x++) {
    const int *r = rx + 4 * x;
    float      a = (float)((D[r[1]] - D[r[0]]) + (D[r[3]] - D[r[2]]));
    w[x]         = a > thr && a > 1e-6f ? 1.0f / a : 0.0f;
  }
  for (ptrdiff_t x = b->n2; x < b->rs; x++) w[x] = 0.0f; /* FFT row padding stays zero */
}

PetscBool PdDeconComputesWeights(PdDecon d) { return (PetscBool)(d->ops->row_weights && d->nviews <= 1 && !d->ops->backprojector); }

const float *PdDeconWeightsRow(PdDecon d, ptrdiff_t z, ptrdiff_t y)
{
  const PdLayout *l = d->lay;
  PdBoxWeights    b = d->bw;

  if (!b) return d->w + z * l->ps + y * l->rs;
  const int t = omp_get_thread_num() % b->nthreads;
  int      *key = b->key + 8 * t;
  float    *row = b->row + (size_t)t * (size_t)b->rs;
  /* rows whose light reaches the box through the same PSF intervals (the interior, where all of
     them do; every row when periodic) have the same weights: reuse this thread's last row */
  if (memcmp(key, b->run[0] + 4 * (l->z0 + z), 4 * sizeof(int)) || memcmp(key + 4, b->run[1] + 4 * y, 4 * sizeof(int))) {
    Row(b, l->z0 + z, y, b->D + (size_t)t * (size_t)(b->p[2] + 1), row);
    memcpy(key, b->run[0] + 4 * (l->z0 + z), 4 * sizeof(int));
    memcpy(key + 4, b->run[1] + 4 * y, 4 * sizeof(int));
  }
  return row;
}

PetscErrorCode PdBoxWeightsFill(PdDecon d, float threshold, float *w)
{
  const PdLayout *l = d->lay;
  PdBoxWeights    b;

  PetscFunctionBegin;
  PetscCall(PdBoxWeightsCreate(d, threshold, &b));
  for (ptrdiff_t z = 0; z < l->nzl; z++)
    for (ptrdiff_t y = 0; y < l->n[1]; y++) Row(b, l->z0 + z, y, b->D, w + z * l->ps + y * l->rs);
  PetscCall(PdBoxWeightsDestroy(&b));
  PetscFunctionReturn(0);
}
