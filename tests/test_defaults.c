/* Defaults that work: on a small acquisition like the demo's (microtubules, Born & Wolf PSF,
   Poisson noise at 20 dB), every method at its default settings (parameters, and those derived
   from the data: the TV weights of rltv and rl_smoothtv, the Tikhonov weights of trif and rif)
   raises PSNR above the input's after the demo's 50 iterations (or the method's own count), and
   the TV-regularised RL methods do not fall below plain RL. Blind deconvolution and GARL (which
   needs a trained model) are left out, as in the demo.
   The noise estimate behind the data-derived weights: on a smooth field (a sum of functions of y
   and of x, which the high-pass removes exactly) plus Gaussian noise of known σ, rltv's default
   λ = 0.002 σ̂ / (max(y) - b) matches the known σ within 3 %, and is the same on one rank. */
/* ranks: 1 2 3 */
#include "testutil.h"
#include <pdecon/decon/decon.h>
#include <pdecon/quality/metrics.h>
#include <pdecon/methods/rltv.h>
#include <pdecon/psf/psf.h>
#include <math.h>
#include <string.h>

#define NIT 50

/* λ of rltv's default on comm, for the compact image y (on every rank of comm) */
static PetscErrorCode DefaultLambda(MPI_Comm comm, const ptrdiff_t m[3], const float *y, const ptrdiff_t pn[3], const float *h, double b, double *lambda)
{
  PdDecon d;
  float  *x = NULL;

  PetscFunctionBegin;
  PetscCall(PdDeconCreate(comm, &d));
  PetscCall(PdDeconSetMethod(d, "rltv"));
  PetscCall(PdDeconSetImageSize(d, m, "smooth field + Gaussian noise"));
  PetscCall(PdDeconSetPSF(d, pn, h, "small Gaussian"));
  PetscCall(PdDeconSetBackground(d, b));
  PetscCall(PdDeconSetTolerances(d, 1, 0));
  PetscCall(PdTestSolveGather(d, y, &x));
  PetscCall(PdDeconRLTVGetLambda(d, lambda));
  PetscCall(PetscFree(x));
  PetscCall(PdDeconDestroy(&d));
  PetscFunctionReturn(0);
}

static PetscErrorCode TestNoiseEstimate(void)
{
  const ptrdiff_t    m[3] = {8, 62, 62}, pn[3] = {5, 5, 5}, nm = 8 * 62 * 62;
  const double       b = 10, sigma = 2.0;
  float             *y, h[125];
  double             mx = 0, lam, lam1 = 0, expect;
  unsigned long long seed = 5;
  int                rank;

  PetscFunctionBegin;
  PetscCallMPI(MPI_Comm_rank(PETSC_COMM_WORLD, &rank));
  PetscCall(PetscMalloc1(nm, &y));
  PdTestSmallProblem(1, b, &seed, y, h); /* only its PSF */
  for (ptrdiff_t i = 0; i < nm; i++) {
    const ptrdiff_t iy = (i / m[2]) % m[1], ix = i % m[2];
    double          u1 = PdTestUniform(&seed), u2 = PdTestUniform(&seed);
    double          g = sqrt(-2.0 * log(1.0 - u1)) * cos(2 * PETSC_PI * u2); /* Box-Muller */
    y[i]              = (float)(b + 100.0 + 40.0 * sin(ix / 5.0) + 30.0 * cos(iy / 7.0) + sigma * g);
    mx                = PetscMax(mx, (double)y[i]);
  }
  expect = 0.002 * sigma / (mx - b);
  PetscCall(DefaultLambda(PETSC_COMM_WORLD, m, y, pn, h, b, &lam));
  if (rank == 0) PetscCall(DefaultLambda(PETSC_COMM_SELF, m, y, pn, h, b, &lam1));
  PetscCall(PetscPrintf(PETSC_COMM_WORLD, "noise estimate: rltv's default lambda %.5g, from the known sigma %.5g (%+.2f %%); on 1 rank %.5g\n", lam, expect, 100 * (lam / expect - 1), lam1));
  PD_EXPECT(fabs(lam / expect - 1) < 0.03, "noise estimate off: lambda %g, expected %g from sigma %g", lam, expect, sigma);
  if (rank == 0) PD_EXPECT(lam1 == lam, "the default lambda differs between rank counts: %g vs %g", lam, lam1);
  PetscCall(PetscFree(y));
  PetscFunctionReturn(0);
}

int main(int argc, char **argv)
{
  const ptrdiff_t m[3] = {24, 64, 64}, pn[3] = {15, 31, 31};
  PdOptics        o = {1.4, 1.518, 520, 50, 200};
  PdDecon         d;
  const PdLayout *dl, *xl;
  const float    *x;
  float          *psf, *truth;
  double          psnr_in, psnr_rl = 0;
  const double    bg = 5;

  PetscCall(PdTestInitialize(&argc, &argv));
  PetscCall(TestNoiseEstimate());
  PetscCall(PetscMalloc1(pn[0] * pn[1] * pn[2], &psf));
  PetscCall(PdPSFBornWolf(&o, pn, psf));
  PetscCall(PdDeconCreate(PETSC_COMM_WORLD, &d));
  PetscCall(PdDeconSetImageSize(d, m, "simulated"));
  PetscCall(PdDeconSetPSF(d, pn, psf, "Born & Wolf"));
  PetscCall(PdDeconSetBackground(d, bg));
  PetscCall(PdDeconSetUp(d));
  PetscCall(PdTestSimulate(d, 8, 20.0, bg, 5, &truth, &psnr_in));
  PetscCall(PdDeconGetData(d, &dl, NULL));
  PetscCall(PetscPrintf(PETSC_COMM_WORLD, "microtubules 24 x 64 x 64 at 20 dB: input PSNR %.2f dB\n", psnr_in));
  for (int i = 0; i < PdDeconMethodCount(); i++) {
    const char *name = PdDeconMethodName(i, NULL);
    PetscInt    its  = PdDeconMethodDefaultIterations(i);
    double      psnr;

    if (!strcmp(name, "blind") || !strcmp(name, "garl")) continue;
    PetscCall(PdDeconSetMethod(d, name)); /* the method's defaults */
    PetscCall(PdDeconSetTolerances(d, its > 0 ? its : NIT, 0));
    PetscCall(PdDeconSolve(d));
    PetscCall(PdDeconGetIterationNumber(d, &its));
    PetscCall(PdDeconGetSolution(d, &xl, &x));
    PetscCall(PdMetricPSNR(xl, x, dl, truth, &psnr));
    PetscCall(PetscPrintf(PETSC_COMM_WORLD, "  %-12s %3" PetscInt_FMT " its: PSNR %.2f dB (%+.2f over the input)\n", name, its, psnr, psnr - psnr_in));
    PD_EXPECT(psnr > psnr_in + 0.05, "%s at its defaults: PSNR %g not above the input's %g", name, psnr, psnr_in);
    if (!strcmp(name, "rl")) psnr_rl = psnr;
    if (!strcmp(name, "rltv") || !strcmp(name, "rl_smoothtv")) PD_EXPECT(psnr > psnr_rl - 0.02, "%s at its defaults: PSNR %g below plain RL's %g", name, psnr, psnr_rl);
  }
  PetscCall(PdVolumeFree(&truth));
  PetscCall(PetscFree(psf));
  PetscCall(PdDeconDestroy(&d));
  return PdTestFinalize("defaults");
}
