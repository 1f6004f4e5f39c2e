/* pdecon demo: simulate microtubules seen through a widefield microscope, deconvolve them with
   Richardson-Lucy and with its Biggs-Andrews accelerated form, and compare both with the truth:
   a quality table, one HDF5 file with every volume, and a PNG of max-intensity projections. */
#include "app_sim.h"
#include <pdecon/decon.h>
#include <pdecon/io.h>
#include <pdecon/metrics.h>
#include <math.h>

#define MAX_TRACK 1000

/* Records PSNR and solve time after every iteration (the metric's own cost excluded). */
typedef struct {
  const PdLayout *tlay;
  const float    *truth;
  double          psnr[MAX_TRACK + 1], t[MAX_TRACK + 1], spent;
} Track;

static PetscErrorCode TrackMonitor(PdDecon d, PetscInt it, double obj, double change, void *ctx)
{
  Track          *tr = (Track *)ctx;
  double          tin = PdTime(), elapsed;
  const PdLayout *xl;
  const float    *x;

  PetscFunctionBegin;
  (void)obj;
  (void)change;
  if (it == 1) tr->spent = 0;
  if (it > MAX_TRACK) PetscFunctionReturn(0);
  PetscCall(PdDeconGetSolveTime(d, &elapsed));
  tr->t[it] = elapsed - tr->spent;
  PetscCall(PdDeconGetSolution(d, &xl, &x));
  PetscCall(PdMetricPSNR(xl, x, tr->tlay, tr->truth, &tr->psnr[it]));
  tr->spent += PdTime() - tin;
  PetscFunctionReturn(0);
}

typedef struct {
  double psnr, ssim, rsnr;
} Quality;

static PetscErrorCode Measure(const PdLayout *el, const float *e, const PdLayout *tl, const float *t, Quality *q)
{
  PetscFunctionBegin;
  PetscCall(PdMetricPSNR(el, e, tl, t, &q->psnr));
  PetscCall(PdMetricSSIM(el, e, tl, t, &q->ssim));
  PetscCall(PdMetricRSNR(el, e, tl, t, &q->rsnr));
  PetscFunctionReturn(0);
}

PetscErrorCode CmdDemo(MPI_Comm comm)
{
  const ptrdiff_t defsize[3] = {64, 256, 256};
  char            output[PETSC_MAX_PATH_LEN] = "pdecon-demo.h5", preview[PETSC_MAX_PATH_LEN] = "pdecon-demo.png", name[256];
  AppSimOptions   o;
  PdDecon         d;
  PdFFTConv       conv;
  const PdLayout *dl, *xl;
  PdLayout       *play;
  float          *truth, *blurred, *y, *rl, *acc, *psf;
  const float    *x;
  ptrdiff_t       pn[3];
  double          scale, trl, tacc;
  PetscInt        its = 50, itrl, itacc;
  Quality         qin, qrl, qacc;
  static Track    track_rl, track_acc;
  PetscBool       psfsize_set;

  PetscFunctionBegin;
  PetscOptionsBegin(comm, NULL, "pdecon demo", "");
  PetscCall(PetscOptionsInt("-demo_its", "Iterations of each method", "", its, &its, NULL));
  PetscCall(PetscOptionsString("-output", "HDF5 file receiving every volume", "", output, output, sizeof(output), NULL));
  PetscCall(PetscOptionsString("-preview", "PNG of max-intensity projections: data, RL, accelerated RL, truth", "", preview, preview, sizeof(preview), NULL));
  PetscOptionsEnd();
  /* A PSF of 33 x 65 x 65 voxels keeps the demo quick; -psf_size changes it. */
  PetscCall(PetscOptionsHasName(NULL, NULL, "-psf_size", &psfsize_set));
  if (!psfsize_set) PetscCall(PetscOptionsSetValue(NULL, "-psf_size", "33,65,65"));
  PetscCall(AppSimSetFromOptions(comm, defsize, &o));
  PetscCall(PdDeconCreate(comm, &d));
  PetscCall(PdDeconSetFromOptions(d));
  if (AppHelpRequested()) {
    PetscCall(PdDeconDestroy(&d));
    PetscFunctionReturn(0);
  }
  PetscCall(AppCheckOptionsUsed(comm));
  PetscCheck(its >= 1 && its <= MAX_TRACK, comm, PD_ERR_INPUT, "-demo_its must be between 1 and %d", MAX_TRACK);
  PetscCall(PdOutputCheck(comm, output, 0, NULL));
  if (preview[0]) PetscCall(PdOutputCheck(comm, preview, 0, NULL));

  PetscCall(AppPSFCompute(comm, &o.psf, pn, &psf, name, sizeof(name)));
  PetscCall(PdDeconSetImageSize(d, o.n, "simulated data"));
  PetscCall(PdDeconSetPSF(d, pn, psf, name));
  PetscCall(PdDeconSetBackground(d, o.bg));
  PetscCall(PdDeconSetTolerances(d, its, 0.0));
  PetscCall(PdDeconSetUp(d));
  PetscCall(PdDeconGetData(d, &dl, &y));
  PetscCall(PdDeconGetFFTConv(d, &conv));
  PetscCall(PdVolumeAlloc(PdLayoutLocalSize(dl), &truth));
  PetscCall(PdVolumeAlloc(PdLayoutLocalSize(dl), &blurred));
  PetscCall(PdVolumeAlloc(PdLayoutLocalSize(dl), &rl));
  PetscCall(PdVolumeAlloc(PdLayoutLocalSize(dl), &acc));
  PetscCall(AppSimRun(&o, conv, dl, truth, blurred, y, &scale));
  PetscCall(PetscPrintf(comm, "pdecon demo: %td x %td x %td microtubule phantom (%" PetscInt_FMT " tubes, voxel %.0f x %.0f x %.0f nm), %s %td x %td x %td, SNR %.1f dB, %d rank%s\n", o.n[0], o.n[1], o.n[2],
                        o.phantom.ntubes, o.phantom.voxel[0], o.phantom.voxel[1], o.phantom.voxel[2], name, pn[0], pn[1], pn[2], o.snr, dl->size, dl->size > 1 ? "s" : ""));
  PetscCall(Measure(dl, y, dl, truth, &qin));

  track_rl.tlay = track_acc.tlay = dl;
  track_rl.truth = track_acc.truth = truth;
  PetscCall(PdDeconMonitorSet(d, TrackMonitor, &track_rl));
  PetscCall(PdDeconSolve(d));
  PetscCall(PdDeconGetSolution(d, &xl, &x));
  PetscCall(PdVolumeCopy(xl, x, dl, rl));
  PetscCall(PdDeconGetIterationNumber(d, &itrl));
  trl = track_rl.t[itrl];
  PetscCall(Measure(dl, rl, dl, truth, &qrl));

  PetscCall(PdDeconMonitorCancel(d));
  PetscCall(PdDeconSetMethod(d, "rl_biggs"));
  PetscCall(PdDeconMonitorSet(d, TrackMonitor, &track_acc));
  PetscCall(PdDeconSolve(d));
  PetscCall(PdDeconGetSolution(d, &xl, &x));
  PetscCall(PdVolumeCopy(xl, x, dl, acc));
  PetscCall(PdDeconGetIterationNumber(d, &itacc));
  tacc = track_acc.t[itacc];
  PetscCall(Measure(dl, acc, dl, truth, &qacc));

  /* iterations and time the accelerated method needs to reach RL's final PSNR */
  PetscInt reach = -1;
  for (PetscInt k = 1; k <= itacc; k++)
    if (track_acc.psnr[k] >= qrl.psnr) {
      reach = k;
      break;
    }
  PetscCall(PetscPrintf(comm, "\n%-22s %10s %9s %9s %8s %9s\n", "method", "iterations", "seconds", "PSNR dB", "SSIM", "RSNR dB"));
  PetscCall(PetscPrintf(comm, "%-22s %10s %9s %9.2f %8.4f %9.2f\n", "input (noisy, blurred)", "-", "-", qin.psnr, qin.ssim, qin.rsnr));
  PetscCall(PetscPrintf(comm, "%-22s %10" PetscInt_FMT " %9.2f %9.2f %8.4f %9.2f\n", "rl", itrl, trl, qrl.psnr, qrl.ssim, qrl.rsnr));
  PetscCall(PetscPrintf(comm, "%-22s %10" PetscInt_FMT " %9.2f %9.2f %8.4f %9.2f\n", "rl_biggs", itacc, tacc, qacc.psnr, qacc.ssim, qacc.rsnr));
  if (reach > 0)
    PetscCall(PetscPrintf(comm, "rl_biggs reaches rl's %" PetscInt_FMT "-iteration PSNR (%.2f dB) after %" PetscInt_FMT " iterations, %.2f s: %.1fx fewer iterations, %.1fx less time\n", itrl, qrl.psnr, reach,
                          track_acc.t[reach], (double)itrl / reach, trl / track_acc.t[reach]));
  else PetscCall(PetscPrintf(comm, "rl_biggs did not reach rl's PSNR (%.2f dB) within %" PetscInt_FMT " iterations\n", qrl.psnr, itacc));

  PetscCall(PdLayoutCreateBlock(comm, pn, &play));
  {
    PdImageAttrs a   = {{o.phantom.voxel[0], o.phantom.voxel[1], o.phantom.voxel[2]}, NULL, -1, NULL, NULL, PETSC_FALSE};
    PdImageAttrs arl = a, aacc = a;
    PdH5Writer   w;
    arl.method      = "rl";
    arl.iterations  = itrl;
    aacc.method     = "rl_biggs";
    aacc.iterations = itacc;
    PetscCall(AppOptionsString((char **)&a.options));
    arl.options = aacc.options = a.options;
    PetscCall(PdH5WriterOpen(comm, output, &w));
    PetscCall(PdH5WriterAdd(w, "/truth", dl, truth, &a));
    PetscCall(PdH5WriterAdd(w, "/blurred", dl, blurred, &a));
    PetscCall(PdH5WriterAdd(w, "/data", dl, y, &a));
    PetscCall(PdH5WriterAdd(w, "/rl", dl, rl, &arl));
    PetscCall(PdH5WriterAdd(w, "/rl_biggs", dl, acc, &aacc));
    PetscCall(PdH5WriterAdd(w, "/psf", play, psf + play->z0 * play->ps, &a));
    PetscCall(PdH5WriterClose(&w, PETSC_TRUE));
    PetscCall(PetscFree(a.options));
  }
  if (preview[0]) {
    const PdLayout *lays[4] = {dl, dl, dl, dl};
    const float    *vols[4] = {y, rl, acc, truth};
    PetscCall(PdWriteMIPPng(preview, 4, lays, vols, o.phantom.voxel));
  }
  PetscCall(PetscPrintf(comm, "wrote %s (/truth /blurred /data /rl /rl_biggs /psf)%s%s%s\n", output, preview[0] ? " and " : "", preview, preview[0] ? " (data | rl | rl_biggs | truth)" : ""));
  PetscCall(PdLayoutDestroy(&play));
  PetscCall(PdVolumeFree(&truth));
  PetscCall(PdVolumeFree(&blurred));
  PetscCall(PdVolumeFree(&rl));
  PetscCall(PdVolumeFree(&acc));
  PetscCall(PetscFree(psf));
  PetscCall(PdDeconDestroy(&d));
  PetscFunctionReturn(0);
}
