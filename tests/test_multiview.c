/* Multi-view deconvolution: one view through PdDeconSetViews is the single-view solver bit for
   bit; two identical views, each with half the PSF and half the photons, are too (rl and
   rl_biggs; up to float rounding, as the single view computes its weights another way); the same answer on 1, 2 and 3 ranks; and on simulated Airyscan data (32 views,
   h_v = h · h(· − d_v)) multi-view RL beats RL on the summed ("confocal") stack with its summed
   PSF, at the same iteration count. */
/* ranks: 1 2 3 */
#include "testutil.h"
#include <pdecon/decon/decon.h>
#include <pdecon/psf/psf.h>
#include <pdecon/quality/metrics.h>
#include <pdecon/sim/airyscan.h>
#include <pdecon/sim/blur.h>
#include <pdecon/sim/noise.h>
#include <pdecon/sim/phantom.h>
#include <math.h>
#include <string.h>

#define V 32
static const ptrdiff_t M[3] = {16, 32, 32}, PN[3] = {13, 21, 21};

/* Simulated Airyscan acquisition on this rank alone: the truth (photons), the 32 views' PSFs and
   their noisy data, background b per view. */
static PetscErrorCode Simulate(float *truth, float *views, float *ys, double b)
{
  const ptrdiff_t  np = PN[0] * PN[1] * PN[2], cnt = M[0] * M[1] * M[2];
  PdOptics         o = {1.4, 1.518, 520, 50, 200};
  PdPhantomOptions po;
  PdFFTConv        conv;
  PdLayout        *lay;
  const PdLayout  *wl;
  float           *h, *sum, *clean;
  ptrdiff_t        n[3], c[3];
  double           tot = 0, s;

  PetscFunctionBegin;
  PetscCall(PetscMalloc3(np, &h, np, &sum, cnt, &clean));
  PetscCall(PdPSFBornWolf(&o, PN, h));
  /* element pitch 0.2 Airy units = 0.2 * 1.22 * 520 / 1.4 nm = 1.81 lateral voxels */
  PetscCall(PdAiryscanViews(h, PN, V, 0.2 * 1.22 * 520 / 1.4 / 50.0, views));
  for (ptrdiff_t i = 0; i < V * np; i++) tot += views[i];
  for (ptrdiff_t i = 0; i < V * np; i++) views[i] = (float)(views[i] / tot);
  PetscCall(PetscArrayzero(sum, np));
  for (int v = 0; v < V; v++)
    for (ptrdiff_t i = 0; i < np; i++) sum[i] += views[v * np + i];
  PetscCall(PdPSFPrepCenter(PN, sum, PD_PSF_CENTER_PEAK, c));
  for (int d = 0; d < 3; d++) n[d] = PdFFTGoodSize(M[d] + PN[d] - 1);
  PetscCall(PdFFTConvCreate(PETSC_COMM_SELF, &conv));
  PetscCall(PdFFTConvSetFromOptions(conv));
  PetscCall(PdFFTConvSetSizes(conv, n));
  PetscCall(PdFFTConvSetUp(conv));
  PetscCall(PdFFTConvGetLayout(conv, &wl));
  PetscCall(PdLayoutCreateBox(wl, M, PETSC_TRUE, &lay));
  PetscCall(PdPhantomOptionsDefault(&po));
  po.ntubes = 8;
  PetscCall(PdPhantomMicrotubules(&po, lay, truth));
  /* one photon scale for all views: the confocal sum at 20 dB */
  PetscCall(PdFFTConvSetPSF(conv, PN, sum, c));
  PetscCall(PdSimBlur(conv, lay, truth, clean));
  PetscCall(PdNoiseScale(lay, clean, 20.0, V * b, 0.0, &s));
  for (int v = 0; v < V; v++) {
    PetscCall(PdFFTConvSetPSF(conv, PN, views + v * np, c));
    PetscCall(PdSimBlur(conv, lay, truth, ys + v * cnt));
    PetscCall(PdNoiseApply(lay, ys + v * cnt, s, b, 0.0, 1000 + (unsigned long long)v));
  }
  for (ptrdiff_t i = 0; i < cnt; i++) truth[i] = (float)(truth[i] * s);
  PetscCall(PdLayoutDestroy(&lay));
  PetscCall(PdFFTConvDestroy(&conv));
  PetscCall(PetscFree3(h, sum, clean));
  PetscFunctionReturn(0);
}

static PetscErrorCode PSNR(const float *x, const float *t, double *p)
{
  PdLayout *l;

  PetscFunctionBegin;
  PetscCall(PdLayoutCreateBlock(PETSC_COMM_SELF, M, &l));
  PetscCall(PdMetricPSNR(l, x, l, t, p));
  PetscCall(PdLayoutDestroy(&l));
  PetscFunctionReturn(0);
}

int main(int argc, char **argv)
{
  const ptrdiff_t np = PN[0] * PN[1] * PN[2], cnt = M[0] * M[1] * M[2];
  const double    b  = 2.0;
  float          *truth, *views, *ys, *conf, *confpsf, *two, *twoy, *xa = NULL, *xb = NULL;
  int             rank;

  PetscCall(PdTestInitialize(&argc, &argv));
  /* several views start flat: the single view too, so that the two compare */
  PetscCall(PetscOptionsSetValue(NULL, "-decon_start", "flat"));
  PetscCallMPI(MPI_Comm_rank(PETSC_COMM_WORLD, &rank));
  PetscCall(PetscMalloc4(cnt, &truth, V * np, &views, V * cnt, &ys, cnt, &conf));
  PetscCall(PetscMalloc3(np, &confpsf, 2 * np, &two, 2 * cnt, &twoy));
  PetscCall(Simulate(truth, views, ys, b));
  PetscCall(PetscArrayzero(conf, cnt));
  PetscCall(PetscArrayzero(confpsf, np));
  for (int v = 0; v < V; v++) {
    for (ptrdiff_t i = 0; i < cnt; i++) conf[i] += ys[v * cnt + i];
    for (ptrdiff_t i = 0; i < np; i++) confpsf[i] += views[v * np + i];
  }

  /* V = 1 is the single-view solver */
  PetscCall(PdTestSolveViews(PETSC_COMM_WORLD, "rl", M, 1, PN, confpsf, PETSC_FALSE, conf, V * b, 10, &xa));
  PetscCall(PdTestSolveViews(PETSC_COMM_WORLD, "rl", M, 1, PN, confpsf, PETSC_TRUE, conf, V * b, 10, &xb));
  if (!rank) PD_EXPECT(PdTestRelDiff(xa, xb, (size_t)cnt) == 0, "one view differs from the single-view solver: %g", PdTestRelDiff(xa, xb, (size_t)cnt));
  PetscCall(PetscFree(xa));
  PetscCall(PetscFree(xb));

  /* two identical views with half the photons each (no background: y/2 / (Hx/2) = y / Hx exactly) */
  for (ptrdiff_t i = 0; i < np; i++) two[i] = two[np + i] = confpsf[i];
  for (ptrdiff_t i = 0; i < cnt; i++) twoy[i] = twoy[cnt + i] = 0.5f * conf[i];
  /* rl_biggs's state in float: in bfloat16 a rounding difference in an iterate may round a step
     the other way (2^-9 of it), which the extrapolation then amplifies beyond float rounding */
  PetscCall(PetscOptionsSetValue(NULL, "-decon_accel_state", "float"));
  for (int k = 0; k < 2; k++) {
    const char *method = k ? "rl_biggs" : "rl";
    PetscCall(PdTestSolveViews(PETSC_COMM_WORLD, method, M, 2, PN, two, PETSC_FALSE, twoy, 0.0, 10, &xa));
    PetscCall(PdTestSolveViews(PETSC_COMM_WORLD, method, M, 1, PN, confpsf, PETSC_TRUE, conf, 0.0, 10, &xb));
    if (!rank) {
      double dd = PdTestRelDiff(xa, xb, (size_t)cnt);
      PetscCall(PetscPrintf(PETSC_COMM_SELF, "%s: two half views vs one view: rel. difference %g\n", method, dd));
      /* the views' weights come from an FFT, the single view's from the PSF's box sums: equal up
         to float rounding */
      PD_EXPECT(dd < 1e-5, "%s: two identical half views differ from the single view: %g", method, dd);
    }
    PetscCall(PetscFree(xa));
    PetscCall(PetscFree(xb));
  }
  PetscCall(PetscOptionsClearValue(NULL, "-decon_accel_state"));

  /* 32 views: rank-count invariance, and multi-view RL against RL on the confocal sum */
  {
    const PetscInt its = 30;
    float         *xs = NULL, *xc = NULL;
    PetscCall(PdTestSolveViews(PETSC_COMM_WORLD, "rl", M, V, PN, views, PETSC_FALSE, ys, b, its, &xa));
    PetscCall(PdTestSolveViews(PETSC_COMM_SELF, "rl", M, V, PN, views, PETSC_FALSE, ys, b, its, &xs));
    PetscCall(PdTestSolveViews(PETSC_COMM_SELF, "rl", M, 1, PN, confpsf, PETSC_TRUE, conf, V * b, its, &xc));
    if (!rank) {
      double dr = PdTestRelDiff(xa, xs, (size_t)cnt), pin, pmv, pcf;
      PetscCall(PSNR(conf, truth, &pin));
      PetscCall(PSNR(xa, truth, &pmv));
      PetscCall(PSNR(xc, truth, &pcf));
      PetscCall(PetscPrintf(PETSC_COMM_SELF, "32 views, %d its: this rank count vs 1 rank %.2e; PSNR confocal sum %.3f dB, RL on it %.3f dB, multi-view RL %.3f dB\n", (int)its, dr, pin, pcf, pmv));
      PD_EXPECT(dr < 1e-5, "multi-view RL differs between rank counts: %g", dr);
      PD_EXPECT(pmv > pcf + 0.1, "multi-view RL %.3f dB does not beat RL on the confocal sum %.3f dB", pmv, pcf);
    }
    PetscCall(PetscFree(xa));
    PetscCall(PetscFree(xs));
    PetscCall(PetscFree(xc));
  }
  PetscCall(PetscFree4(truth, views, ys, conf));
  PetscCall(PetscFree3(confpsf, two, twoy));
  return PdTestFinalize("multiview");
}
