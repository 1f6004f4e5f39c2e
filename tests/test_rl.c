/* Richardson-Lucy (boundary weighted, with background) after k iterations: the distributed
   solver on this rank count, the same solver on one rank, and a straightforward serial
   implementation with direct spatial convolutions written here must all agree. Integral data
   held as 16-bit counts give the iterates of the same data held as floats. */
/* ranks: 1 2 3 */
#include "testutil.h"
#include <pdecon/decon/decon.h>
#include <math.h>
#include <string.h>

#define IDX(a, b, c, n) ((((ptrdiff_t)(a)) * (n)[1] + (b)) * (n)[2] + (c))

/* Serial reference. The object lives on the extended domain E = m + pn - 1 (every voxel that
   reaches the measured box through the PSF); e = i - k + pn - 1 links object voxel e, box voxel
   i and PSF voxel k (centre c). */
static void ReferenceRL(const ptrdiff_t m[3], const float *y, const ptrdiff_t pn[3], const float *h, double b, double thr, int iters, double *xbox)
{
  ptrdiff_t E[3], ne, nm = m[0] * m[1] * m[2];
  for (int d = 0; d < 3; d++) E[d] = m[d] + pn[d] - 1;
  ne = E[0] * E[1] * E[2];
  double *x = calloc(ne, sizeof(double)), *w = calloc(ne, sizeof(double)), *hx = calloc(nm, sizeof(double)), *ht = calloc(ne, sizeof(double));
  double  mean = 0;
  for (ptrdiff_t i = 0; i < nm; i++) mean += y[i];
  mean /= nm;
  double eps = 1e-6 * mean, x0 = fmax(mean - b, eps);
  /* Hᵀ applied to r on the box (r == NULL: r = 1) */
#define ADJ(r) \
  for (ptrdiff_t e = 0; e < ne; e++) ht[e] = 0; \
  for (ptrdiff_t i0 = 0; i0 < m[0]; i0++) for (ptrdiff_t i1 = 0; i1 < m[1]; i1++) for (ptrdiff_t i2 = 0; i2 < m[2]; i2++) \
    for (ptrdiff_t k0 = 0; k0 < pn[0]; k0++) for (ptrdiff_t k1 = 0; k1 < pn[1]; k1++) for (ptrdiff_t k2 = 0; k2 < pn[2]; k2++) \
      ht[IDX(i0 - k0 + pn[0] - 1, i1 - k1 + pn[1] - 1, i2 - k2 + pn[2] - 1, E)] += h[IDX(k0, k1, k2, pn)] * ((r) ? (r)[IDX(i0, i1, i2, m)] : 1.0);
  ADJ((double *)NULL);
  for (ptrdiff_t e = 0; e < ne; e++) {
    w[e] = ht[e] > thr ? 1.0 / ht[e] : 0.0;
    x[e] = w[e] > 0 ? x0 : 0.0;
  }
  for (int it = 0; it < iters; it++) {
    for (ptrdiff_t i0 = 0; i0 < m[0]; i0++)
      for (ptrdiff_t i1 = 0; i1 < m[1]; i1++)
        for (ptrdiff_t i2 = 0; i2 < m[2]; i2++) {
          double s = 0;
          for (ptrdiff_t k0 = 0; k0 < pn[0]; k0++)
            for (ptrdiff_t k1 = 0; k1 < pn[1]; k1++)
              for (ptrdiff_t k2 = 0; k2 < pn[2]; k2++) s += h[IDX(k0, k1, k2, pn)] * x[IDX(i0 - k0 + pn[0] - 1, i1 - k1 + pn[1] - 1, i2 - k2 + pn[2] - 1, E)];
          double mu = fmax(s + b, eps);
          hx[IDX(i0, i1, i2, m)] = y[IDX(i0, i1, i2, m)] / mu;
        }
    ADJ(hx);
    for (ptrdiff_t e = 0; e < ne; e++) x[e] *= ht[e] * w[e];
  }
  /* box voxel i is object voxel i + (pn - 1 - c) */
  (void)0;
  for (ptrdiff_t i0 = 0; i0 < m[0]; i0++)
    for (ptrdiff_t i1 = 0; i1 < m[1]; i1++)
      for (ptrdiff_t i2 = 0; i2 < m[2]; i2++) xbox[IDX(i0, i1, i2, m)] = x[IDX(i0 + pn[0] / 2, i1 + pn[1] / 2, i2 + pn[2] / 2, E)];
  free(x); free(w); free(hx); free(ht);
}

static PetscErrorCode SetMethod(PdDecon d, const void *method)
{
  return PdDeconSetMethod(d, (const char *)method);
}

/* Reads the options under a prefix (PETSc's convention: "a_" reads -a_decon_method). */
static PetscErrorCode SetPrefix(PdDecon d, const void *prefix)
{
  PetscFunctionBegin;
  PetscCall(PdDeconSetOptionsPrefix(d, (const char *)prefix));
  PetscCall(PdDeconSetFromOptions(d));
  PetscFunctionReturn(0);
}

int main(int argc, char **argv)
{
  const ptrdiff_t m[3] = {7, 12, 10}, pn[3] = {5, 5, 5};
  const ptrdiff_t nm = m[0] * m[1] * m[2];
  const double    b  = 2.0;
  const int       iters = 8;
  float           y[7 * 12 * 10], h[125], *xw = NULL, *xs = NULL, *xb = NULL;
  double          xref[7 * 12 * 10];
  unsigned long long seed = 5;
  int             rank;

  PetscCall(PdTestInitialize(&argc, &argv));
  MPI_Comm_rank(PETSC_COMM_WORLD, &rank);
  /* symmetric Gaussian-like PSF with its peak in the middle voxel */
  for (int k = 0; k < 5; k++)
    for (int j = 0; j < 5; j++)
      for (int i = 0; i < 5; i++) h[(k * 5 + j) * 5 + i] = (float)exp(-0.5 * ((k - 2) * (k - 2) / 1.2 + (j - 2) * (j - 2) / 0.8 + (i - 2) * (i - 2) / 0.8));
  double hs = 0;
  for (int i = 0; i < 125; i++) hs += h[i];
  for (int i = 0; i < 125; i++) h[i] = (float)(h[i] / hs);
  for (ptrdiff_t i = 0; i < nm; i++) y[i] = (float)(b + 20.0 * PdTestUniform(&seed) * (PdTestUniform(&seed) < 0.3));

  PetscCall(PdTestSolve(PETSC_COMM_WORLD, SetMethod, "rl", m, y, pn, h, b, iters, &xw));
  if (rank == 0) {
    PetscCall(PdTestSolve(PETSC_COMM_SELF, SetMethod, "rl", m, y, pn, h, b, iters, &xs));
    ReferenceRL(m, y, pn, h, b, 1e-2, iters, xref);
    float xr[7 * 12 * 10];
    for (ptrdiff_t i = 0; i < nm; i++) xr[i] = (float)xref[i];
    double dws = PdTestRelDiff(xw, xs, nm), dref = PdTestRelDiff(xw, xr, nm);
    printf("RL %d its: this rank count vs 1 rank %.2e, vs direct serial reference %.2e\n", iters, dws, dref);
    PD_EXPECT(dws < 1e-5, "RL differs between rank counts: %g", dws);
    PD_EXPECT(dref < 1e-5, "RL differs from the serial reference: %g", dref);
    PetscCall(PetscFree(xs));
  }
  PetscCall(PetscFree(xw));
  /* the accelerated variant is rank-count invariant too */
  PetscCall(PdTestSolve(PETSC_COMM_WORLD, SetMethod, "rl_biggs", m, y, pn, h, b, 3 * iters, &xw));
  if (rank == 0) {
    PetscCall(PdTestSolve(PETSC_COMM_SELF, SetMethod, "rl_biggs", m, y, pn, h, b, 3 * iters, &xb));
    double d = PdTestRelDiff(xw, xb, nm);
    printf("RL-Biggs %d its: this rank count vs 1 rank %.2e\n", 3 * iters, d);
    PD_EXPECT(d < 1e-5, "RL-Biggs differs between rank counts: %g", d);
    PetscCall(PetscFree(xb));
  }
  PetscCall(PetscFree(xw));
  /* two solvers in one program, configured apart by their prefixes: each gives the result of
     its own method, and the unprefixed option reaches neither */
  {
    float *xa = NULL, *xp = NULL;
    PetscCall(PetscOptionsSetValue(NULL, "-a_decon_method", "rl_biggs"));
    PetscCall(PetscOptionsSetValue(NULL, "-b_decon_method", "rl"));
    PetscCall(PetscOptionsSetValue(NULL, "-decon_method", "lw"));
    PetscCall(PdTestSolve(PETSC_COMM_WORLD, SetPrefix, "a_", m, y, pn, h, b, iters, &xa));
    PetscCall(PdTestSolve(PETSC_COMM_WORLD, SetPrefix, "b_", m, y, pn, h, b, iters, &xp));
    PetscCall(PetscOptionsClearValue(NULL, "-decon_method"));
    PetscCall(PdTestSolve(PETSC_COMM_WORLD, SetMethod, "rl_biggs", m, y, pn, h, b, iters, &xb));
    PetscCall(PdTestSolve(PETSC_COMM_WORLD, SetMethod, "rl", m, y, pn, h, b, iters, &xw));
    if (rank == 0) {
      double da = PdTestRelDiff(xa, xb, nm), dp = PdTestRelDiff(xp, xw, nm), dab = PdTestRelDiff(xa, xp, nm);
      printf("prefixes: a_ vs rl_biggs %.2e, b_ vs rl %.2e, a_ vs b_ %.2e\n", da, dp, dab);
      PD_EXPECT(da == 0 && dp == 0, "a prefixed solver did not read its own options: %g %g", da, dp);
      PD_EXPECT(dab > 1e-3, "the two prefixed solvers ran the same method");
    }
    PetscCall(PetscFree(xa));
    PetscCall(PetscFree(xp));
    PetscCall(PetscFree(xb));
    PetscCall(PetscFree(xw));
  }
  /* the data as 16-bit counts (-decon_data_counts): integral data give rl and rl_biggs bit for
     bit the iterates of the same data held as floats; after a step every rank with data planes
     holds them as counts, and PdDeconGetData gives back the floats as written; data with a fraction
     stay floats */
  float yi[7 * 12 * 10];
  for (ptrdiff_t i = 0; i < nm; i++) yi[i] = roundf(y[i]) + (float)i * 37.0f; /* counts up to 31000 */
  for (int k = 0; k < 3; k++) {
    const char *method = k == 1 ? "rl_biggs" : "rl";
    float      *xc[2] = {NULL, NULL};
    for (int counts = 1; counts >= 0; counts--) {
      PdDecon         d;
      const PdLayout *dl, *xl;
      float          *yl;
      const float    *x;
      PetscBool       held;
      double          change;
      if (!counts) PetscCall(PetscOptionsSetValue(NULL, "-decon_data_counts", "0"));
      PetscCall(PdDeconCreate(PETSC_COMM_WORLD, &d));
      PetscCall(PdDeconSetFromOptions(d));
      if (!counts) PetscCall(PetscOptionsClearValue(NULL, "-decon_data_counts"));
      PetscCall(PdDeconSetMethod(d, method));
      PetscCall(PdDeconSetImageSize(d, m, "test-data"));
      PetscCall(PdDeconSetPSF(d, pn, h, "test-psf"));
      PetscCall(PdDeconSetBackground(d, b));
      PetscCall(PdDeconGetData(d, &dl, &yl));
      PetscCall(PdVolumeScatterFromGlobal(dl, yi, yl));
      const size_t cnt = PdLayoutLocalSize(dl);
      if (k == 2 && dl->nzl > 0) yl[cnt / 2] += 0.25f; /* one value with a fraction on every rank with data */
      float *given;
      PetscCall(PetscMalloc1(cnt + 1, &given));
      PetscCall(PetscArraycpy(given, yl, cnt));
      for (int it = 0; it < 4; it++) PetscCall(PdDeconStep(d, NULL, &change));
      PetscCall(PdDeconGetDataCounts(d, &held));
      PD_EXPECT(held == (counts && k < 2 && dl->nzl > 0), "%s, -decon_data_counts %d, %s data: held as counts %d", method, counts, k == 2 ? "fractional" : "integral", (int)held);
      PetscCall(PdDeconGetSolution(d, &xl, &x));
      PetscCall(PdVolumeGather(xl, x, 0, &xc[counts]));
      PetscCall(PdDeconGetData(d, &dl, &yl));
      PetscCall(PdDeconGetDataCounts(d, &held));
      PD_EXPECT(!held && !memcmp(yl, given, sizeof(float) * cnt), "%s: the data read after the steps differ from what was written", method);
      PetscCall(PetscFree(given));
      PetscCall(PdDeconDestroy(&d));
    }
    if (rank == 0) PD_EXPECT(!memcmp(xc[0], xc[1], sizeof(float) * (size_t)nm), "%s: the iterates from 16-bit counts differ from those from floats", method);
    PetscCall(PetscFree(xc[0]));
    PetscCall(PetscFree(xc[1]));
  }
  return PdTestFinalize("rl");
}
