#include "testutil.h"
#include <pdecon/decon/decon.h>
#include <pdecon/quality/metrics.h>
#include <pdecon/sim/noise.h>
#include <pdecon/sim/phantom.h>
#include <math.h>

int pd_test_failures = 0;

double PdTestRelDiff(const float *a, const float *b, size_t n)
{
  double num = 0, den = 0;
  for (size_t i = 0; i < n; i++) {
    double d = (double)a[i] - (double)b[i];
    num += d * d;
    den += (double)b[i] * b[i];
  }
  return sqrt(num) / (den > 0 ? sqrt(den) : 1e-300);
}

double PdTestUniform(unsigned long long *s)
{
  /* splitmix64 */
  unsigned long long z = (*s += 0x9E3779B97F4A7C15ULL);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
  z ^= z >> 31;
  return (double)(z >> 11) * (1.0 / 9007199254740992.0);
}

PetscErrorCode PdTestInitialize(int *argc, char ***argv)
{
  PetscFunctionBegin;
  PetscCall(PetscInitialize(argc, argv, NULL, NULL));
  PetscCall(PdInitializePackage());
  PetscFunctionReturn(0);
}

int PdTestFinalize(const char *name)
{
  int all = 0, rank, size;
  MPI_Allreduce(&pd_test_failures, &all, 1, MPI_INT, MPI_SUM, MPI_COMM_WORLD);
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  MPI_Comm_size(MPI_COMM_WORLD, &size);
  if (rank == 0) printf("%s on %d rank%s: %s (%d failed check%s)\n", name, size, size > 1 ? "s" : "", all ? "FAILED" : "passed", all, all == 1 ? "" : "s");
  PetscFinalize();
  return all ? 1 : 0;
}

PetscErrorCode PdTestSimulate(PdDecon d, PetscInt ntubes, double snr_db, double bg, unsigned long long seed, float **truth, double *psnr_data)
{
  PdPhantomOptions po;
  PdFFTConv        conv;
  const PdLayout  *dl, *wl;
  PdLayout        *box;
  float           *y, *work, *t;
  double           scale;

  PetscFunctionBegin;
  PetscCall(PdDeconGetData(d, &dl, &y));
  PetscCall(PdDeconGetFFTConv(d, &conv));
  PetscCall(PdFFTConvGetLayout(conv, &wl));
  PetscCall(PdFFTConvGetWork(conv, &work));
  PetscCall(PdPhantomOptionsDefault(&po));
  po.ntubes = ntubes;
  PetscCall(PdVolumeAlloc(PdLayoutLocalSize(dl), &t));
  PetscCall(PdPhantomMicrotubules(&po, dl, t));
  /* blur: the truth in the image box of the working volume, zero outside */
  PetscCall(PdLayoutCreateBox(wl, dl->n, PETSC_FALSE, &box));
  PetscCall(PetscArrayzero(work, wl->nzl * wl->ps));
  PetscCall(PdVolumeCopy(dl, t, box, work));
  PetscCall(PdFFTConvApply(conv, PETSC_FALSE));
  PetscCall(PdVolumeCopy(box, work, dl, y));
  PetscCall(PdLayoutDestroy(&box));
  for (ptrdiff_t i = 0; i < dl->nzl * dl->ps; i++) y[i] = y[i] > 0 ? y[i] : 0;
  PetscCall(PdNoisePoissonGaussian(dl, y, snr_db, bg, 0.0, seed, &scale));
  for (ptrdiff_t i = 0; i < dl->nzl * dl->ps; i++) {
    t[i] *= (float)scale;
    y[i] = y[i] > 0 ? y[i] : 0;
  }
  if (psnr_data) PetscCall(PdMetricPSNR(dl, y, dl, t, psnr_data));
  *truth = t;
  PetscFunctionReturn(0);
}

PetscErrorCode PdTestSolveGather(PdDecon d, const float *yall, float **xall)
{
  const PdLayout *lay;
  float          *y;
  const float    *x;

  PetscFunctionBegin;
  PetscCall(PdDeconGetData(d, &lay, &y));
  PetscCall(PdVolumeScatterFromGlobal(lay, yall, y));
  PetscCall(PdDeconSolve(d));
  PetscCall(PdDeconGetSolution(d, &lay, &x));
  PetscCall(PdVolumeGather(lay, x, 0, xall));
  PetscFunctionReturn(0);
}

void PdTestSmallProblem(ptrdiff_t nm, double b, unsigned long long *seed, float *y, float h[125])
{
  double hs = 0;
  for (int k = 0; k < 5; k++)
    for (int j = 0; j < 5; j++)
      for (int i = 0; i < 5; i++) h[(k * 5 + j) * 5 + i] = (float)exp(-0.5 * ((k - 2) * (k - 2) / 1.2 + (j - 2) * (j - 2) / 0.8 + (i - 2) * (i - 2) / 0.8));
  for (int i = 0; i < 125; i++) hs += h[i];
  for (int i = 0; i < 125; i++) h[i] = (float)(h[i] / hs);
  for (ptrdiff_t i = 0; i < nm; i++) y[i] = (float)(b + 20.0 * PdTestUniform(seed) * (PdTestUniform(seed) < 0.3));
}

PetscErrorCode PdTestSolve(MPI_Comm comm, PdTestConfigure configure, const void *ctx, const ptrdiff_t m[3], const float *yall, const ptrdiff_t pn[3], const float *h, double b, int iters, float **xall)
{
  PdDecon        d;
  PetscErrorCode ierr;

  PetscFunctionBegin;
  PetscCall(PdDeconCreate(comm, &d));
  PetscCall(PdDeconSetFromOptions(d));
  PetscCall(configure(d, ctx));
  PetscCall(PdDeconSetImageSize(d, m, "test-data"));
  PetscCall(PdDeconSetPSF(d, pn, h, "test-psf"));
  PetscCall(PdDeconSetBackground(d, b));
  PetscCall(PdDeconSetTolerances(d, iters, 0.0));
  ierr = PdTestSolveGather(d, yall, xall); /* an expected failure must not leak d */
  PetscCall(PdDeconDestroy(&d));
  PetscCall(ierr);
  PetscFunctionReturn(0);
}

void PdTestDirectConv(const ptrdiff_t n[3], const float *x, const ptrdiff_t pn[3], const float *psf, const ptrdiff_t c[3], int periodic, int transpose, double *out)
{
  const ptrdiff_t sgn = transpose ? -1 : 1;
  for (ptrdiff_t z = 0; z < n[0]; z++)
    for (ptrdiff_t y = 0; y < n[1]; y++)
      for (ptrdiff_t xx = 0; xx < n[2]; xx++) {
        double s = 0;
        for (ptrdiff_t k = 0; k < pn[0]; k++)
          for (ptrdiff_t j = 0; j < pn[1]; j++)
            for (ptrdiff_t i = 0; i < pn[2]; i++) {
              ptrdiff_t q[3] = {z - sgn * (k - c[0]), y - sgn * (j - c[1]), xx - sgn * (i - c[2])};
              int       inside = 1;
              for (int d = 0; d < 3; d++) {
                if (periodic) q[d] = ((q[d] % n[d]) + n[d]) % n[d];
                else if (q[d] < 0 || q[d] >= n[d]) inside = 0;
              }
              if (inside) s += psf[(k * pn[1] + j) * pn[2] + i] * (double)x[(q[0] * n[1] + q[1]) * n[2] + q[2]];
            }
        out[(z * n[1] + y) * n[2] + xx] = s;
      }
}

PetscErrorCode PdTestSolveViews(MPI_Comm comm, const char *method, const ptrdiff_t m[3], PetscInt nv, const ptrdiff_t pn[3], const float *psfs, PetscBool as_psf, const float *ys, double b, PetscInt its, float **x)
{
  PdDecon         d;
  const PdLayout *lay;
  const float    *xs;
  float          *y;
  const ptrdiff_t cnt = m[0] * m[1] * m[2];

  PetscFunctionBegin;
  PetscCall(PdDeconCreate(comm, &d));
  PetscCall(PdDeconSetMethod(d, method));
  PetscCall(PdDeconSetFromOptions(d)); /* after the method: its options too */
  PetscCall(PdDeconSetImageSize(d, m, "views"));
  if (as_psf) PetscCall(PdDeconSetPSF(d, pn, psfs, "psf"));
  else PetscCall(PdDeconSetViews(d, nv, pn, psfs, "views"));
  PetscCall(PdDeconSetBackground(d, b));
  PetscCall(PdDeconSetTolerances(d, its, 0.0));
  for (PetscInt v = 0; v < nv; v++) {
    PetscCall(PdDeconGetViewData(d, v, &lay, &y));
    PetscCall(PdVolumeScatterFromGlobal(lay, ys + v * cnt, y));
  }
  PetscCall(PdDeconSolve(d));
  PetscCall(PdDeconGetSolution(d, &lay, &xs));
  PetscCall(PdVolumeGather(lay, xs, 0, x));
  PetscCall(PdDeconDestroy(&d));
  PetscFunctionReturn(0);
}
