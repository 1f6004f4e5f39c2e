/* simulate -sim_views N: an Airyscan-like acquisition, one view per detector element
   (docs/methods/multiview.md). */
#include "app_sim.h"
#include <pdecon/io/io.h>
#include <pdecon/psf/psfprep.h>
#include <pdecon/sim/airyscan.h>
#include <pdecon/sim/blur.h>
#include <pdecon/sim/noise.h>
#include <math.h>

PetscErrorCode AppSimViews(MPI_Comm comm, const AppSimOptions *o, PdFFTConv conv, const PdLayout *lay, const ptrdiff_t pn[3], const float *psf, const char *output)
{
  const PetscInt  V = o->views;
  const ptrdiff_t np = pn[0] * pn[1] * pn[2];
  const size_t    cnt = PdLayoutLocalSize(lay);
  /* pitch in lateral voxels: Airy units of the model's optics at the acquisition's voxel size */
  const double    pitch = o->view_pitch * 1.22 * o->psf.optics.lambda / o->psf.optics.na / o->phantom.voxel[2];
  float          *views, *sum, *truth, *conf, *blur, *v;
  double          tot = 0, s;
  ptrdiff_t       pc[3];
  PdLayout       *play;
  PdH5Writer      w;
  char            name[64];
  PdImageAttrs    a = {{o->phantom.voxel[0], o->phantom.voxel[1], o->phantom.voxel[2]}, "simulate", -1, NULL, NULL, PETSC_FALSE};

  PetscFunctionBegin;
  PetscCall(PetscMalloc2(V * np, &views, np, &sum));
  PetscCall(PdAiryscanViews(psf, pn, V, pitch, views));
  for (ptrdiff_t i = 0; i < V * np; i++) tot += views[i];
  for (ptrdiff_t i = 0; i < V * np; i++) views[i] = (float)(views[i] / tot);
  PetscCall(PetscArrayzero(sum, np));
  for (PetscInt k = 0; k < V; k++)
    for (ptrdiff_t i = 0; i < np; i++) sum[i] += views[k * np + i];
  PetscCall(PdPSFPrepCenter(pn, sum, PD_PSF_CENTER_PEAK, pc));
  PetscCall(PdVolumeAlloc(cnt, &truth));
  PetscCall(PdVolumeAlloc(cnt, &conf));
  PetscCall(PdVolumeAlloc(cnt, &blur));
  PetscCall(PdVolumeAlloc(cnt, &v));
  PetscCall(AppSimTruth(o, lay, truth));
  /* one photon scale: the confocal sum at -sim_snr (read noise adds up over the views) */
  PetscCall(PdFFTConvSetPSF(conv, pn, sum, pc));
  PetscCall(PdSimBlur(conv, lay, truth, blur));
  PetscCall(PdNoiseScale(lay, blur, o->snr, V * o->bg, sqrt((double)V) * o->read, &s));
  PetscCall(PdLayoutCreateBlock(comm, pn, &play));
  PetscCall(PdH5WriterOpen(comm, output, &w));
  PetscCall(PetscArrayzero(conf, cnt));
  for (PetscInt k = 0; k < V; k++) {
    PetscCall(PdFFTConvSetPSF(conv, pn, views + k * np, pc));
    PetscCall(PdSimBlur(conv, lay, truth, v));
    PetscCall(PdNoiseApply(lay, v, s, o->bg, o->read, o->seed + 7919ULL * (unsigned long long)k));
    for (size_t i = 0; i < cnt; i++) {
      if (v[i] < 0) v[i] = 0; /* a camera clamps at zero */
      conf[i] += v[i];
    }
    PetscCall(PetscSNPrintf(name, sizeof(name), "/views/%02d", (int)k));
    PetscCall(PdH5WriterAdd(w, name, lay, v, &a));
    PetscCall(PetscSNPrintf(name, sizeof(name), "/psf_views/%02d", (int)k));
    PetscCall(PdH5WriterAdd(w, name, play, views + k * np + play->z0 * play->ps, &a));
  }
  for (size_t i = 0; i < cnt; i++) {
    truth[i] = (float)(truth[i] * s);
    blur[i]  = (float)(blur[i] * s + V * o->bg);
  }
  PetscCall(PdH5WriterAdd(w, "/truth", lay, truth, &a));
  PetscCall(PdH5WriterAdd(w, "/data", lay, conf, &a));
  PetscCall(PdH5WriterAdd(w, "/blurred", lay, blur, &a));
  PetscCall(PdH5WriterAdd(w, "/psf", play, sum + play->z0 * play->ps, &a));
  PetscCall(PdH5WriterClose(&w, PETSC_TRUE));
  PetscCall(PetscPrintf(comm, "wrote %s: %td x %td x %td, %" PetscInt_FMT " Airyscan-like views (pitch %.3g AU = %.3g voxels) in /views/NN with PSFs /psf_views/NN; /data is their sum (\"confocal\", PSF /psf) at SNR %.6g dB; %.6g photons per unit, background %.6g per view\n",
                        output, lay->n[0], lay->n[1], lay->n[2], V, o->view_pitch, pitch, o->snr, s, o->bg));
  PetscCall(PdLayoutDestroy(&play));
  PetscCall(PdVolumeFree(&truth));
  PetscCall(PdVolumeFree(&conf));
  PetscCall(PdVolumeFree(&blur));
  PetscCall(PdVolumeFree(&v));
  PetscCall(PetscFree2(views, sum));
  PetscFunctionReturn(0);
}
