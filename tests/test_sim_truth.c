/* Simulating from a given truth: the noise-free blur (PdSimBlur) equals the direct linear
   convolution on the image box; the per-component noise (PdNoiseComponentSNR) has the requested
   Gaussian power and, Poisson and Gaussian together, about 3 dB less SNR than asked for each;
   both the same bit for bit on any number of ranks. */
/* ranks: 1 2 3 */
#include "testutil.h"
#include <pdecon/sim/blur.h>
#include <pdecon/sim/noise.h>
#include <math.h>

/* Blur of the compact volume x (size m) on comm, gathered on rank 0 of comm. */
static PetscErrorCode Blur(MPI_Comm comm, const ptrdiff_t m[3], const float *x, const ptrdiff_t pn[3], const float *psf, const ptrdiff_t c[3], float **out)
{
  PdFFTConv       conv;
  const PdLayout *wl;
  PdLayout       *lay;
  ptrdiff_t       n[3];
  float          *v;

  PetscFunctionBegin;
  for (int d = 0; d < 3; d++) n[d] = PdFFTGoodSize(m[d] + pn[d] - 1);
  PetscCall(PdFFTConvCreate(comm, &conv));
  PetscCall(PdFFTConvSetFromOptions(conv));
  PetscCall(PdFFTConvSetSizes(conv, n));
  PetscCall(PdFFTConvSetPSF(conv, pn, psf, c));
  PetscCall(PdFFTConvGetLayout(conv, &wl));
  PetscCall(PdLayoutCreateBox(wl, m, PETSC_TRUE, &lay));
  PetscCall(PdVolumeAlloc(PdLayoutLocalSize(lay), &v));
  PetscCall(PdVolumeScatterFromGlobal(lay, x, v));
  PetscCall(PdSimBlur(conv, lay, v, v));
  PetscCall(PdVolumeGather(lay, v, 0, out));
  PetscCall(PdVolumeFree(&v));
  PetscCall(PdLayoutDestroy(&lay));
  PetscCall(PdFFTConvDestroy(&conv));
  PetscFunctionReturn(0);
}

/* Component noise on comm: the noisy volume gathered on rank 0, the scale and the read noise. */
static PetscErrorCode Noise(MPI_Comm comm, const ptrdiff_t m[3], const float *clean, double snr, float **out, double *s, double *sigma)
{
  PdLayout *lay;
  float    *v;

  PetscFunctionBegin;
  PetscCall(PdLayoutCreateBlock(comm, m, &lay));
  PetscCall(PdVolumeAlloc(PdLayoutLocalSize(lay), &v));
  PetscCall(PdVolumeScatterFromGlobal(lay, clean, v));
  PetscCall(PdNoiseComponentSNR(lay, v, snr, 0.0, 99, s, sigma));
  PetscCall(PdVolumeGather(lay, v, 0, out));
  PetscCall(PdVolumeFree(&v));
  PetscCall(PdLayoutDestroy(&lay));
  PetscFunctionReturn(0);
}

int main(int argc, char **argv)
{
  const ptrdiff_t    m[3] = {9, 10, 11}, pn[3] = {5, 4, 3}, c[3] = {2, 1, 1}, cnt = m[0] * m[1] * m[2], pcnt = pn[0] * pn[1] * pn[2];
  const ptrdiff_t    mn[3] = {24, 24, 24}, ncnt = mn[0] * mn[1] * mn[2];
  unsigned long long seed = 11;
  float             *x, *psf, *hx = NULL, *hx1 = NULL, *clean, *y = NULL, *y1 = NULL;
  double            *ref, s, sigma, s1, sigma1;
  int                rank;

  PetscCall(PdTestInitialize(&argc, &argv));
  PetscCallMPI(MPI_Comm_rank(PETSC_COMM_WORLD, &rank));
  PetscCall(PetscMalloc4(cnt, &x, pcnt, &psf, cnt, &ref, ncnt, &clean));
  for (ptrdiff_t i = 0; i < cnt; i++) x[i] = (float)PdTestUniform(&seed);
  for (ptrdiff_t i = 0; i < pcnt; i++) psf[i] = (float)PdTestUniform(&seed);

  PetscCall(Blur(PETSC_COMM_WORLD, m, x, pn, psf, c, &hx));
  PetscCall(Blur(PETSC_COMM_SELF, m, x, pn, psf, c, &hx1));
  if (!rank) {
    double err = 0, nrm = 0;
    PdTestDirectConv(m, x, pn, psf, c, 0, 0, ref);
    for (ptrdiff_t i = 0; i < cnt; i++) {
      err += (hx[i] - ref[i]) * (hx[i] - ref[i]);
      nrm += ref[i] * ref[i];
    }
    PetscCall(PetscPrintf(PETSC_COMM_SELF, "noise-free blur vs direct linear convolution: rel. error %.3g\n", sqrt(err / nrm)));
    PD_EXPECT(sqrt(err / nrm) < 1e-5, "blur vs direct convolution: rel. error %g", sqrt(err / nrm));
    PD_EXPECT(PdTestRelDiff(hx, hx1, (size_t)cnt) == 0, "blur differs between the communicator and one rank");
  }

  /* smooth positive image, mean photon count ~ 10^(snr/10) mean v / mean v^2 */
  for (ptrdiff_t i = 0; i < ncnt; i++) clean[i] = (float)(0.2 + PdTestUniform(&seed));
  PetscCall(Noise(PETSC_COMM_WORLD, mn, clean, 20.0, &y, &s, &sigma));
  PetscCall(Noise(PETSC_COMM_SELF, mn, clean, 20.0, &y1, &s1, &sigma1));
  if (!rank) {
    double sig = 0, pois = 0, tot = 0, snr_tot;
    for (ptrdiff_t i = 0; i < ncnt; i++) {
      double sv = s * clean[i], d = y[i] - sv;
      sig += sv * sv;
      pois += sv;
      tot += d * d;
    }
    snr_tot = 10 * log10(sig / tot);
    PetscCall(PetscPrintf(PETSC_COMM_SELF, "component SNR 20 dB: Poisson %.4f dB, Gaussian %.4f dB (sigma %.4g), together measured %.3f dB\n", 10 * log10(sig / pois), 10 * log10(sig / ncnt / (sigma * sigma)), sigma, snr_tot));
    PD_EXPECT(fabs(10 * log10(sig / pois) - 20) < 1e-9, "Poisson component SNR %.12g", 10 * log10(sig / pois));
    PD_EXPECT(fabs(10 * log10(sig / ncnt / (sigma * sigma)) - 20) < 1e-9, "Gaussian component SNR %.12g", 10 * log10(sig / ncnt / (sigma * sigma)));
    PD_EXPECT(fabs(snr_tot - (20 - 10 * log10(2.0))) < 0.15, "both components: %.4f dB, expected about %.4f", snr_tot, 20 - 10 * log10(2.0));
    PD_EXPECT(s == s1 && sigma == sigma1 && PdTestRelDiff(y, y1, (size_t)ncnt) == 0, "noise differs between the communicator and one rank");
  }
  PetscCall(PetscFree(hx));
  PetscCall(PetscFree(hx1));
  PetscCall(PetscFree(y));
  PetscCall(PetscFree(y1));
  PetscCall(PetscFree4(x, psf, ref, clean));
  return PdTestFinalize("sim_truth");
}
