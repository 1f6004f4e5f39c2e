/* Simulated acquisitions shared by `simulate` and `demo`: microtubule phantom, blur with a PSF
   (linear convolution, nothing outside the field of view), Poisson + Gaussian noise. */
#include "app_sim.h"
#include <pdecon/sim/noise.h>
#include <pdecon/psf/psfprep.h>
#include <string.h>

PetscErrorCode AppSimSetFromOptions(MPI_Comm comm, const ptrdiff_t default_size[3], AppSimOptions *o)
{
  PetscBool set;
  PetscReal seed = 7;

  PetscFunctionBegin;
  for (int d = 0; d < 3; d++) o->n[d] = default_size[d];
  o->snr  = 20;
  o->bg   = 10;
  o->read = 1;
  PetscCall(PdPhantomOptionsDefault(&o->phantom));
  PetscCall(PdPhantomOptionsSetFromOptions(&o->phantom, NULL));
  PetscOptionsBegin(comm, NULL, "Simulated acquisition", "");
  PetscCall(PetscOptionsReal("-sim_snr", "Signal-to-noise ratio of the simulated data (dB)", "", o->snr, &o->snr, NULL));
  PetscCall(PetscOptionsReal("-sim_background", "Background photons per voxel", "", o->bg, &o->bg, NULL));
  PetscCall(PetscOptionsReal("-sim_read_noise", "Gaussian read noise (standard deviation, photons)", "", o->read, &o->read, NULL));
  PetscCall(PetscOptionsReal("-sim_noise_seed", "Seed of the noise", "", seed, &seed, NULL));
  PetscOptionsEnd();
  o->seed = (unsigned long long)seed;
  PetscCall(AppOptionsGetSize3("-sim_size", "Simulated volume z,y,x", o->n, &set));
  PetscCall(AppPSFSetFromOptions(comm, o->phantom.voxel, &o->psf));
  PetscCheck(o->bg >= 0 && o->read >= 0, comm, PD_ERR_INPUT, "-sim_background and -sim_read_noise must not be negative");
  PetscFunctionReturn(0);
}

PetscErrorCode AppSimRun(const AppSimOptions *o, PdFFTConv conv, const PdLayout *lay, float *truth, float *blurred, float *data, double *scale)
{
  const PdLayout *wl;
  PdLayout       *box;
  float          *work;

  PetscFunctionBegin;
  PetscCall(PdPhantomMicrotubules(&o->phantom, lay, truth));
  /* blur: truth in the box of the (padded) working volume, zero elsewhere */
  PetscCall(PdFFTConvGetLayout(conv, &wl));
  PetscCall(PdFFTConvGetWork(conv, &work));
  PetscCall(PdLayoutCreateBox(wl, lay->n, PETSC_FALSE, &box));
  PetscCall(PetscArrayzero(work, (size_t)(wl->nzl * wl->ps)));
  PetscCall(PdVolumeCopy(lay, truth, box, work));
  PetscCall(PdFFTConvApply(conv, PETSC_FALSE));
  PetscCall(PdVolumeCopy(box, work, lay, data));
  PetscCall(PdLayoutDestroy(&box));
  /* tiny negative FFT round-off would upset the Poisson sampler */
  for (ptrdiff_t z = 0; z < lay->nzl; z++)
    for (ptrdiff_t y = 0; y < lay->n[1]; y++)
      for (ptrdiff_t x = 0; x < lay->n[2]; x++) {
        float *v = data + z * lay->ps + y * lay->rs + x;
        if (*v < 0) *v = 0;
      }
  if (blurred) PetscCall(PdVolumeCopy(lay, data, lay, blurred));
  PetscCall(PdNoisePoissonGaussian(lay, data, o->snr, o->bg, o->read, o->seed, scale));
  /* truth and blurred in photon units, so that estimates compare with them directly */
  for (ptrdiff_t z = 0; z < lay->nzl; z++)
    for (ptrdiff_t y = 0; y < lay->n[1]; y++)
      for (ptrdiff_t x = 0; x < lay->n[2]; x++) {
        ptrdiff_t i = z * lay->ps + y * lay->rs + x;
        truth[i] *= (float)*scale;
        if (data[i] < 0) data[i] = 0; /* a camera clamps at zero: read noise cannot give negative counts */
        if (blurred) blurred[i] = (float)(blurred[i] * *scale + o->bg); /* expected counts */
      }
  PetscFunctionReturn(0);
}

PetscErrorCode AppSimWhole(MPI_Comm comm, const AppSimOptions *o, float **tall, float **dall, ptrdiff_t pn_out[3], float **psf_out)
{
  PdFFTConv       conv;
  const PdLayout *wl;
  PdLayout       *lay;
  ptrdiff_t       pn[3], pc[3], n[3];
  float          *psf, *truth, *data;
  double          scale;
  char            pname[256];

  PetscFunctionBegin;
  PetscCall(AppPSFCompute(comm, &o->psf, pn, &psf, pname, sizeof(pname)));
  PetscCall(PdPSFPrepNormalize(comm, pname, pn, psf));
  PetscCall(PdPSFPrepCenter(pn, psf, PD_PSF_CENTER_PEAK, pc));
  PetscCall(PdFFTConvCreate(comm, &conv));
  for (int k = 0; k < 3; k++) n[k] = PdFFTGoodSize(o->n[k] + pn[k] - 1);
  PetscCall(PdFFTConvSetSizes(conv, n));
  PetscCall(PdFFTConvSetPSF(conv, pn, psf, pc));
  PetscCall(PdFFTConvGetLayout(conv, &wl));
  PetscCall(PdLayoutCreateBox(wl, o->n, PETSC_TRUE, &lay));
  PetscCall(PdVolumeAlloc(PdLayoutLocalSize(lay), &truth));
  PetscCall(PdVolumeAlloc(PdLayoutLocalSize(lay), &data));
  PetscCall(AppSimRun(o, conv, lay, truth, NULL, data, &scale));
  PetscCall(AppAllgatherVolume(lay, truth, tall));
  PetscCall(AppAllgatherVolume(lay, data, dall));
  PetscCall(PdVolumeFree(&truth));
  PetscCall(PdVolumeFree(&data));
  PetscCall(PdLayoutDestroy(&lay));
  PetscCall(PdFFTConvDestroy(&conv));
  if (psf_out) {
    for (int k = 0; k < 3; k++) pn_out[k] = pn[k];
    *psf_out = psf;
  } else PetscCall(PetscFree(psf));
  PetscFunctionReturn(0);
}
