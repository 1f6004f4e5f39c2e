/* Richardson-Lucy on a simulated microtubule acquisition: the Poisson objective (I-divergence)
   decreases at every iteration, PSNR rises above the input's, and the Biggs-Andrews accelerated
   variant reaches RL's 50-iteration PSNR in fewer iterations. */
/* ranks: 1 2 3 */
#include "testutil.h"
#include <pdecon/decon/decon.h>
#include <pdecon/quality/metrics.h>
#include <pdecon/psf/psf.h>
#include <math.h>

#define NIT 50

typedef struct {
  const PdLayout *tl;
  const float    *truth;
  double          obj[NIT + 1], psnr[NIT + 1];
} History;

static PetscErrorCode Record(PdDecon d, PetscInt it, double obj, double change, void *ctx)
{
  History        *h = (History *)ctx;
  const PdLayout *xl;
  const float    *x;

  PetscFunctionBegin;
  (void)change;
  h->obj[it] = obj;
  PetscCall(PdDeconGetSolution(d, &xl, &x));
  PetscCall(PdMetricPSNR(xl, x, h->tl, h->truth, &h->psnr[it]));
  PetscFunctionReturn(0);
}

int main(int argc, char **argv)
{
  const ptrdiff_t  m[3] = {24, 64, 64}, pn[3] = {15, 31, 31};
  PdOptics         o = {1.4, 1.518, 520, 50, 200};
  PdDecon          d;
  const PdLayout  *dl;
  float           *psf, *truth;
  double           psnr_in;
  static History   hrl, hacc;
  const double     bg = 5;

  PetscCall(PdTestInitialize(&argc, &argv));
  PetscCall(PetscMalloc1(pn[0] * pn[1] * pn[2], &psf));
  PetscCall(PdPSFBornWolf(&o, pn, psf));
  PetscCall(PdDeconCreate(PETSC_COMM_WORLD, &d));
  PetscCall(PdDeconSetImageSize(d, m, "simulated"));
  PetscCall(PdDeconSetPSF(d, pn, psf, "Born & Wolf"));
  PetscCall(PdDeconSetBackground(d, bg));
  PetscCall(PdDeconSetTolerances(d, NIT, 0));
  PetscCall(PdDeconSetUp(d));
  PetscCall(PdTestSimulate(d, 8, 20.0, bg, 3, &truth, &psnr_in));
  PetscCall(PdDeconGetData(d, &dl, NULL));

  hrl.tl = hacc.tl = dl;
  hrl.truth = hacc.truth = truth;
  PetscCall(PdDeconMonitorSet(d, Record, &hrl));
  PetscCall(PdDeconSolve(d));
  int increases = 0;
  for (int k = 2; k <= NIT; k++)
    if (hrl.obj[k] > hrl.obj[k - 1] * (1 + 1e-6)) increases++;
  PD_EXPECT(increases == 0, "RL objective rose %d times", increases);
  PD_EXPECT(hrl.obj[NIT] < 0.9 * hrl.obj[1], "RL objective barely fell: %g -> %g", hrl.obj[1], hrl.obj[NIT]);
  PD_EXPECT(hrl.psnr[NIT] > psnr_in + 1.0, "RL PSNR %g not above the input's %g", hrl.psnr[NIT], psnr_in);

  PetscCall(PdDeconMonitorCancel(d));
  PetscCall(PdDeconSetMethod(d, "rl_biggs"));
  PetscCall(PdDeconMonitorSet(d, Record, &hacc));
  PetscCall(PdDeconSolve(d));
  int reach = -1;
  for (int k = 1; k <= NIT; k++)
    if (hacc.psnr[k] >= hrl.psnr[NIT]) {
      reach = k;
      break;
    }
  PetscCall(PetscPrintf(PETSC_COMM_WORLD, "input PSNR %.2f dB; RL: objective %.6e -> %.6e, PSNR %.2f dB after %d its; RL-Biggs reaches it after %d its (PSNR %.2f at %d)\n", psnr_in, hrl.obj[1],
                        hrl.obj[NIT], hrl.psnr[NIT], NIT, reach, hacc.psnr[NIT], NIT));
  PD_EXPECT(reach > 0 && reach < NIT * 2 / 3, "accelerated RL needs %d iterations to reach RL's %d-iteration PSNR", reach, NIT);

  PetscCall(PdVolumeFree(&truth));
  PetscCall(PetscFree(psf));
  PetscCall(PdDeconDestroy(&d));
  return PdTestFinalize("rl_quality");
}
