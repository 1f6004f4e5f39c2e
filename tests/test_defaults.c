/* Defaults that work: on a small acquisition like the demo's (microtubules, Born & Wolf PSF,
   Poisson noise at 20 dB), every method at its default settings (parameters, and those derived
   from the data: the TV weights of rltv and rl_smoothtv, the Tikhonov weights of trif and rif)
   raises PSNR above the input's after the demo's 50 iterations (or the method's own count), and
   the TV-regularised RL methods do not fall below plain RL. Blind deconvolution and GARL (which
   needs a trained model) are left out, as in the demo. */
/* ranks: 1 2 3 */
#include "testutil.h"
#include <pdecon/decon/decon.h>
#include <pdecon/quality/metrics.h>
#include <pdecon/psf/psf.h>
#include <string.h>

#define NIT 50

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
