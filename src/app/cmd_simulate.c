/* pdecon simulate: a synthetic acquisition with known ground truth, written to one HDF5 file
   (/truth, /blurred, /data, /psf), for testing methods and parameters. The truth is the
   microtubule phantom or a user's volume (-sim_truth), blurred by any PSF (file or model), with
   noise at the project's SNR, at Lim et al.'s per-component SNR, or none. */
#include "app_sim.h"
#include <pdecon/io/io.h>
#include <pdecon/psf/psfprep.h>

PetscErrorCode CmdSimulate(MPI_Comm comm)
{
  const ptrdiff_t defsize[3] = {64, 256, 256};
  char            output[PETSC_MAX_PATH_LEN] = "", name[256];
  PetscBool       has_out;
  AppSimOptions   o;
  PdFFTConv       conv;
  const PdLayout *wl;
  PdLayout       *lay, *play;
  ptrdiff_t       pn[3], pc[3], n[3];
  float          *psf, *truth, *blurred, *data;
  double          scale, read;
  char            what[PETSC_MAX_PATH_LEN + 64], noise[128];
  PdH5Writer      w;

  PetscFunctionBegin;
  PetscOptionsBegin(comm, NULL, "pdecon simulate", "");
  PetscCall(PetscOptionsString("-output", "HDF5 file receiving /truth, /blurred, /data and /psf", "", output, output, sizeof(output), &has_out));
  PetscOptionsEnd();
  PetscCall(AppSimSetFromOptions(comm, defsize, &o));
  PetscCall(PdFFTConvCreate(comm, &conv));
  PetscCall(PdFFTConvSetFromOptions(conv));
  if (AppHelpRequested()) {
    PetscCall(PdFFTConvDestroy(&conv));
    PetscFunctionReturn(0);
  }
  PetscCall(AppCheckOptionsUsed(comm));
  PetscCheck(has_out && output[0], comm, PD_ERR_INPUT, "simulate needs -output FILE.h5 (see -help)");
  {
    const char *inputs[2] = {o.truth[0] ? o.truth : NULL, o.psf.file[0] ? o.psf.file : NULL};
    PetscCall(PdOutputCheck(comm, output, 2, inputs));
  }
  PetscCall(AppPSFCompute(comm, &o.psf, pn, &psf, name, sizeof(name)));
  PetscCall(PdPSFPrepNormalize(comm, name, pn, psf));
  PetscCall(PdPSFPrepCenter(pn, psf, PD_PSF_CENTER_PEAK, pc));
  for (int d = 0; d < 3; d++) n[d] = PdFFTGoodSize(o.n[d] + pn[d] - 1);
  PetscCall(PdFFTConvSetSizes(conv, n));
  PetscCall(PdFFTConvSetPSF(conv, pn, psf, pc));
  PetscCall(PdFFTConvGetLayout(conv, &wl));
  PetscCall(PdLayoutCreateBox(wl, o.n, PETSC_TRUE, &lay));
  if (o.views > 1) {
    PetscCall(AppSimViews(comm, &o, conv, lay, pn, psf, output));
    PetscCall(PdLayoutDestroy(&lay));
    PetscCall(PetscFree(psf));
    PetscCall(PdFFTConvDestroy(&conv));
    PetscFunctionReturn(0);
  }
  PetscCall(PdVolumeAlloc(PdLayoutLocalSize(lay), &truth));
  PetscCall(PdVolumeAlloc(PdLayoutLocalSize(lay), &blurred));
  PetscCall(PdVolumeAlloc(PdLayoutLocalSize(lay), &data));
  PetscCall(AppSimRun(&o, conv, lay, truth, blurred, data, &scale, &read));
  PetscCall(PdLayoutCreateBlock(comm, pn, &play));
  {
    PdImageAttrs a = {{o.phantom.voxel[0], o.phantom.voxel[1], o.phantom.voxel[2]}, "simulate", -1, NULL, NULL, PETSC_FALSE};
    PetscCall(PdH5WriterOpen(comm, output, &w));
    PetscCall(PdH5WriterAdd(w, "/truth", lay, truth, &a));
    PetscCall(PdH5WriterAdd(w, "/blurred", lay, blurred, &a));
    PetscCall(PdH5WriterAdd(w, "/data", lay, data, &a));
    PetscCall(PdH5WriterAdd(w, "/psf", play, psf + play->z0 * play->ps, &a));
    PetscCall(PdH5WriterClose(&w, PETSC_TRUE));
  }
  if (o.truth[0]) PetscCall(PetscSNPrintf(what, sizeof(what), "truth %s", o.truth));
  else PetscCall(PetscSNPrintf(what, sizeof(what), "phantom (%" PetscInt_FMT " tubes)", o.phantom.ntubes));
  if (o.noise == APP_SIM_NOISE_SNR) PetscCall(PetscSNPrintf(noise, sizeof(noise), "SNR %.6g dB (Poisson + read noise %.6g)", o.snr, read));
  else if (o.noise == APP_SIM_NOISE_COMPONENT) PetscCall(PetscSNPrintf(noise, sizeof(noise), "Poisson and Gaussian noise each at an average SNR of %.6g dB (read noise %.6g)", o.snr, read));
  else PetscCall(PetscSNPrintf(noise, sizeof(noise), "no noise"));
  PetscCall(PetscPrintf(comm, "wrote %s: %td x %td x %td %s, %s, %s, %.6g photons per unit, background %.6g\n", output, o.n[0], o.n[1], o.n[2], what, name, noise, scale, o.bg));
  PetscCall(PdLayoutDestroy(&play));
  PetscCall(PdLayoutDestroy(&lay));
  PetscCall(PdVolumeFree(&truth));
  PetscCall(PdVolumeFree(&blurred));
  PetscCall(PdVolumeFree(&data));
  PetscCall(PetscFree(psf));
  PetscCall(PdFFTConvDestroy(&conv));
  PetscFunctionReturn(0);
}
