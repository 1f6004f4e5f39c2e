/* Simulated acquisitions shared by `simulate` and `demo`: microtubule phantom, blur with a PSF
   (linear convolution, nothing outside the field of view), Poisson + Gaussian noise. */
#include "app_sim.h"
#include <pdecon/io/io.h>
#include <pdecon/sim/blur.h>
#include <pdecon/sim/noise.h>
#include <pdecon/psf/psfprep.h>
#include <math.h>
#include <string.h>

const char *const AppSimNoiseTypes[] = {"snr", "component", "none", "AppSimNoise", "APP_SIM_NOISE_", NULL};

PetscErrorCode AppSimSetFromOptions(MPI_Comm comm, const ptrdiff_t default_size[3], AppSimOptions *o)
{
  PetscBool set;
  PetscReal seed = 7;
  PetscEnum noise = (PetscEnum)APP_SIM_NOISE_SNR;

  PetscFunctionBegin;
  for (int d = 0; d < 3; d++) o->n[d] = default_size[d];
  o->snr  = 20;
  o->bg   = 10;
  o->read = 1;
  o->truth[0]    = 0;
  o->scale_truth = 1;
  o->views       = 1;
  o->view_pitch  = 0.2;
  o->digitize    = PETSC_FALSE;
  PetscCall(PdPhantomOptionsDefault(&o->phantom));
  PetscCall(PdPhantomOptionsSetFromOptions(&o->phantom, NULL));
  PetscOptionsBegin(comm, NULL, "Simulated acquisition", "");
  PetscCall(PetscOptionsReal("-sim_snr", "Signal-to-noise ratio of the simulated data (dB)", "", o->snr, &o->snr, NULL));
  PetscCall(PetscOptionsReal("-sim_background", "Background photons per voxel", "", o->bg, &o->bg, NULL));
  PetscCall(PetscOptionsReal("-sim_read_noise", "Gaussian read noise (standard deviation, photons)", "", o->read, &o->read, NULL));
  PetscCall(PetscOptionsReal("-sim_noise_seed", "Seed of the noise", "", seed, &seed, NULL));
  PetscCall(PetscOptionsBool("-sim_digitize", "Round the noisy counts to whole numbers from 0 to 65535, as a 16-bit camera writes them", "", o->digitize, &o->digitize, NULL));
  PetscCall(PetscOptionsEnum("-sim_noise", "Noise: snr (-sim_snr over all noise), component (each of Poisson and Gaussian noise at -sim_snr), none (data = H truth + background)", "", AppSimNoiseTypes, noise, &noise, NULL));
  PetscCall(PetscOptionsString("-sim_truth", "Ground truth from a file (file.tif, file.h5:/dataset) instead of the phantom", "", o->truth, o->truth, sizeof(o->truth), NULL));
  PetscCall(PetscOptionsReal("-sim_truth_scale", "With -sim_noise none: photons per unit of the truth", "", o->scale_truth, &o->scale_truth, NULL));
  PetscCall(PetscOptionsInt("-sim_views", "Airyscan-like views: N detector elements, each its own PSF h(r) h(r - d_v) (docs/methods/multiview.md)", "", o->views, &o->views, NULL));
  PetscCall(PetscOptionsReal("-sim_view_pitch", "Detector element pitch in Airy units (1.22 lambda / NA) in the sample plane", "", o->view_pitch, &o->view_pitch, NULL));
  PetscOptionsEnd();
  PetscCheck(o->views >= 1 && o->views <= 127, comm, PD_ERR_INPUT, "-sim_views: 1 to 127, not %" PetscInt_FMT, o->views);
  PetscCheck(o->view_pitch >= 0, comm, PD_ERR_INPUT, "-sim_view_pitch must not be negative");
  PetscCheck(o->views == 1 || (AppSimNoise)noise == APP_SIM_NOISE_SNR, comm, PD_ERR_INPUT, "-sim_views: the views take -sim_noise snr");
  o->seed  = (unsigned long long)seed;
  o->noise = (AppSimNoise)noise;
  PetscCall(AppOptionsGetSize3("-sim_size", "Simulated volume z,y,x", o->n, &set));
  if (o->truth[0]) {
    PdImageInfo info;
    PetscCall(PdImageQuery(comm, o->truth, &info));
    PetscCheck(info.nt == 0, comm, PD_ERR_INPUT, "%s: a 4-D dataset: name one stack as FILE:/dataset[t]", o->truth);
    PetscCheck(!set || (info.n[0] == o->n[0] && info.n[1] == o->n[1] && info.n[2] == o->n[2]), comm, PD_ERR_INPUT, "-sim_size: the truth %s is %td x %td x %td", o->truth, info.n[0], info.n[1], info.n[2]);
    for (int d = 0; d < 3; d++) {
      o->n[d] = info.n[d];
      /* the file's voxel size, when it has one, is the acquisition's (and the PSF model's) */
      if (info.voxel[d] > 0) o->phantom.voxel[d] = info.voxel[d];
    }
  }
  PetscCheck(o->scale_truth > 0, comm, PD_ERR_INPUT, "-sim_truth_scale must be positive");
  PetscCall(AppPSFSetFromOptions(comm, o->phantom.voxel, &o->psf));
  PetscCheck(o->bg >= 0 && o->read >= 0, comm, PD_ERR_INPUT, "-sim_background and -sim_read_noise must not be negative");
  PetscFunctionReturn(0);
}

PetscErrorCode AppSimTruth(const AppSimOptions *o, const PdLayout *lay, float *truth)
{
  PetscFunctionBegin;
  if (o->truth[0]) {
    int ok = 1;
    PetscCall(PdImageRead(o->truth, lay, truth));
    for (ptrdiff_t z = 0; z < lay->nzl; z++)
      for (ptrdiff_t y = 0; y < lay->n[1]; y++)
        for (ptrdiff_t x = 0; x < lay->n[2]; x++) ok &= truth[z * lay->ps + y * lay->rs + x] >= 0;
    PdCheckAll(lay->comm, ok, PD_ERR_INPUT, "%s: the truth has negative values (a fluorophore density is not negative)", o->truth);
  } else PetscCall(PdPhantomMicrotubules(&o->phantom, lay, truth));
  PetscFunctionReturn(0);
}

PetscErrorCode AppSimRun(const AppSimOptions *o, PdFFTConv conv, const PdLayout *lay, float *truth, float *blurred, float *data, double *scale, double *read)
{
  double sigma = o->read;

  PetscFunctionBegin;
  PetscCall(AppSimTruth(o, lay, truth));
  PetscCall(PdSimBlur(conv, lay, truth, data));
  if (blurred) PetscCall(PdVolumeCopy(lay, data, lay, blurred));
  switch (o->noise) {
  case APP_SIM_NOISE_SNR: PetscCall(PdNoisePoissonGaussian(lay, data, o->snr, o->bg, o->read, o->seed, scale)); break;
  case APP_SIM_NOISE_COMPONENT: PetscCall(PdNoiseComponentSNR(lay, data, o->snr, o->bg, o->seed, scale, &sigma)); break;
  default:
    *scale = o->scale_truth;
    sigma  = 0;
    for (ptrdiff_t z = 0; z < lay->nzl; z++)
      for (ptrdiff_t y = 0; y < lay->n[1]; y++)
        for (ptrdiff_t x = 0; x < lay->n[2]; x++) {
          float *v = data + z * lay->ps + y * lay->rs + x;
          *v       = (float)(*v * *scale + o->bg);
        }
  }
  if (read) *read = sigma;
  /* truth and blurred in photon units, so that estimates compare with them directly */
  double saturated = 0;
  for (ptrdiff_t z = 0; z < lay->nzl; z++)
    for (ptrdiff_t y = 0; y < lay->n[1]; y++)
      for (ptrdiff_t x = 0; x < lay->n[2]; x++) {
        ptrdiff_t i = z * lay->ps + y * lay->rs + x;
        truth[i] *= (float)*scale;
        if (data[i] < 0) data[i] = 0; /* a camera clamps at zero: read noise cannot give negative counts */
        if (o->digitize) { /* and its converter writes whole numbers up to its range */
          saturated += data[i] > 65535.0f;
          data[i] = PetscMin(rintf(data[i]), 65535.0f);
        }
        if (blurred) blurred[i] = (float)(blurred[i] * *scale + o->bg); /* expected counts */
      }
  PetscCall(PdAllreduceSum(lay->comm, &saturated, 1));
  if (saturated > 0) PetscCall(AppWarning(lay->comm, "-sim_digitize: %.0f voxels above 65535 counts were clamped (saturated)", saturated));
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
  /* a restarted training regenerates these volumes: they must round alike in every run */
  PetscCall(PdFFTConvSetReproducible(conv));
  for (int k = 0; k < 3; k++) n[k] = PdFFTGoodSize(o->n[k] + pn[k] - 1);
  PetscCall(PdFFTConvSetSizes(conv, n));
  PetscCall(PdFFTConvSetPSF(conv, pn, psf, pc));
  PetscCall(PdFFTConvGetLayout(conv, &wl));
  PetscCall(PdLayoutCreateBox(wl, o->n, PETSC_TRUE, &lay));
  PetscCall(PdVolumeAlloc(PdLayoutLocalSize(lay), &truth));
  PetscCall(PdVolumeAlloc(PdLayoutLocalSize(lay), &data));
  PetscCall(AppSimRun(o, conv, lay, truth, NULL, data, &scale, NULL));
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
