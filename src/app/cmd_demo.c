/* pdecon demo: simulate microtubules seen through a widefield microscope, deconvolve them with
   every iterative method (or those of -demo_methods), and compare each with the truth: a quality
   table at the iterations of -demo_its, the iterations and time the accelerated RL needs to
   reach plain RL's quality, one HDF5 file with every volume, and a PNG of max-intensity
   projections. */
#include "app_sim.h"
#include <pdecon/decon/decon.h>
#include <pdecon/io/io.h>
#include <pdecon/quality/metrics.h>
#include <math.h>
#include <string.h>

#define MAX_TRACK   1000
#define MAX_CHECK   8
#define MAX_METHODS 24

typedef struct {
  double psnr, ssim, rsnr;
} Quality;

/* Per method: PSNR and solve time after every iteration, full quality at the checkpoints; the
   metrics' own cost is excluded from the times. */
typedef struct {
  const PdLayout *tlay;
  const float    *truth;
  PetscInt        ncheck, check[MAX_CHECK];
  PetscBool       direct; /* a filter: its one step is measured in full */
  Quality         q[MAX_CHECK];
  double          tq[MAX_CHECK];
  double          psnr[MAX_TRACK + 1], t[MAX_TRACK + 1], spent;
} Track;

static PetscErrorCode Measure(const PdLayout *el, const float *e, const PdLayout *tl, const float *t, Quality *q)
{
  PetscFunctionBegin;
  PetscCall(PdMetricPSNR(el, e, tl, t, &q->psnr));
  PetscCall(PdMetricSSIM(el, e, tl, t, &q->ssim));
  PetscCall(PdMetricRSNR(el, e, tl, t, &q->rsnr));
  PetscFunctionReturn(0);
}

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
  for (PetscInt c = 0; c < tr->ncheck; c++)
    if (tr->check[c] == it || (tr->direct && it == 1 && c == 0)) {
      PetscCall(Measure(xl, x, tr->tlay, tr->truth, &tr->q[c]));
      tr->tq[c] = tr->t[it];
    }
  tr->spent += PdTime() - tin;
  PetscFunctionReturn(0);
}

/* First iteration at which a track reaches a PSNR, or -1. */
static PetscInt Reach(const Track *tr, PetscInt its, double psnr)
{
  for (PetscInt k = 1; k <= its; k++)
    if (tr->psnr[k] >= psnr) return k;
  return -1;
}

PetscErrorCode CmdDemo(MPI_Comm comm)
{
  const ptrdiff_t defsize[3] = {64, 256, 256};
  char            output[PETSC_MAX_PATH_LEN] = "pdecon-demo.h5", preview[PETSC_MAX_PATH_LEN] = "pdecon-demo.png", name[256];
  char           *mnames[MAX_METHODS];
  PetscInt        nm = MAX_METHODS, its[MAX_CHECK] = {50}, nits = MAX_CHECK, maxit = 0;
  AppSimOptions   o;
  PdDecon         d;
  PdFFTConv       conv;
  const PdLayout *dl, *xl;
  PdLayout       *play;
  float          *truth, *blurred, *y, *psf, *res[MAX_METHODS];
  const float    *x;
  ptrdiff_t       pn[3];
  double          scale;
  Quality         qin;
  Track          *tr;
  PetscBool       psfsize_set, mset, itset, direct[MAX_METHODS];

  PetscFunctionBegin;
  PetscOptionsBegin(comm, NULL, "pdecon demo", "");
  PetscCall(PetscOptionsStringArray("-demo_methods", "Methods to compare (default: every iterative method but blind; all: every one; garl only with -decon_garl_model)", "", mnames, &nm, &mset));
  PetscCall(PetscOptionsIntArray("-demo_its", "Iterations at which quality is reported (the last is the run length)", "", its, &nits, &itset));
  PetscCall(PetscOptionsString("-output", "HDF5 file receiving every volume", "", output, output, sizeof(output), NULL));
  PetscCall(PetscOptionsString("-preview", "PNG of max-intensity projections: data, each method, truth", "", preview, preview, sizeof(preview), NULL));
  PetscOptionsEnd();
  if (!mset || (nm == 1 && !strcmp(mnames[0], "all"))) {
    /* Every iterative method. Blind deconvolution, which also estimates the PSF at about twenty
       RL iterations per step, only when asked for ("all" or by name): it would take the demo
       well past its two minutes. GARL needs a trained model: only with -decon_garl_model. */
    PetscBool all = (PetscBool)(mset && nm == 1), garl;
    if (mset) PetscCall(PetscFree(mnames[0]));
    PetscCall(PetscOptionsHasName(NULL, NULL, "-decon_garl_model", &garl));
    nm = 0;
    for (int i = 0; i < PdDeconMethodCount() && nm < MAX_METHODS; i++) {
      PetscBool   dir;
      const char *mname = PdDeconMethodName(i, &dir);
      if (!dir && (all || strcmp(mname, "blind")) && (garl || strcmp(mname, "garl"))) PetscCall(PetscStrallocpy(mname, &mnames[nm++]));
    }
  }
  if (!itset) {
    nits   = 1;
    its[0] = 50;
  }
  /* A PSF of 33 x 65 x 65 voxels keeps the demo quick; -psf_size changes it. */
  PetscCall(PetscOptionsHasName(NULL, NULL, "-psf_size", &psfsize_set));
  if (!psfsize_set) PetscCall(PetscOptionsSetValue(NULL, "-psf_size", "33,65,65"));
  PetscCall(AppSimSetFromOptions(comm, defsize, &o));
  PetscCall(PdDeconCreate(comm, &d));
  PetscCall(PdDeconSetFromOptions(d));
  if (AppHelpRequested()) {
    PetscCall(PdDeconDestroy(&d));
    for (PetscInt i = 0; i < nm; i++) PetscCall(PetscFree(mnames[i]));
    PetscFunctionReturn(0);
  }
  /* each method reads its own options (and unknown names fail) before unused options are refused */
  for (PetscInt i = 0; i < nm; i++) {
    PetscCall(PdDeconSetMethod(d, mnames[i]));
    PetscCall(PdDeconSetFromOptions(d));
  }
  PetscCall(AppCheckOptionsUsed(comm));
  for (PetscInt c = 0; c < nits; c++) {
    PetscCheck(its[c] >= 1 && its[c] <= MAX_TRACK && (c == 0 || its[c] > its[c - 1]), comm, PD_ERR_INPUT, "-demo_its: increasing iteration counts between 1 and %d", MAX_TRACK);
    maxit = its[c];
  }
  PetscCall(PdOutputCheck(comm, output, 0, NULL));
  if (preview[0]) PetscCall(PdOutputCheck(comm, preview, 0, NULL));

  PetscCall(AppPSFCompute(comm, &o.psf, pn, &psf, name, sizeof(name)));
  PetscCall(PdDeconSetImageSize(d, o.n, "simulated data"));
  PetscCall(PdDeconSetPSF(d, pn, psf, name));
  PetscCall(PdDeconSetBackground(d, o.bg));
  PetscCall(PdDeconSetTolerances(d, maxit, 0.0));
  PetscCall(PdDeconSetUp(d));
  PetscCall(PdDeconGetData(d, &dl, &y));
  PetscCall(PdDeconGetFFTConv(d, &conv));
  PetscCall(PdVolumeAlloc(PdLayoutLocalSize(dl), &truth));
  PetscCall(PdVolumeAlloc(PdLayoutLocalSize(dl), &blurred));
  PetscCall(AppSimRun(&o, conv, dl, truth, blurred, y, &scale, NULL));
  PetscCall(PetscPrintf(comm, "pdecon demo: %td x %td x %td microtubule phantom (%" PetscInt_FMT " tubes, voxel %.0f x %.0f x %.0f nm), %s %td x %td x %td, SNR %.1f dB, %d rank%s\n", o.n[0], o.n[1], o.n[2],
                        o.phantom.ntubes, o.phantom.voxel[0], o.phantom.voxel[1], o.phantom.voxel[2], name, pn[0], pn[1], pn[2], o.snr, dl->size, dl->size > 1 ? "s" : ""));
  PetscCall(Measure(dl, y, dl, truth, &qin));

  PetscCall(PetscCalloc1(nm, &tr));
  for (PetscInt i = 0; i < nm; i++) {
    PetscInt done;
    tr[i].tlay   = dl;
    tr[i].truth  = truth;
    tr[i].ncheck = nits;
    for (PetscInt c = 0; c < nits; c++) tr[i].check[c] = its[c];
    PetscCall(PdDeconMonitorCancel(d));
    PetscCall(PdDeconSetMethod(d, mnames[i]));
    PetscCall(PdDeconSetFromOptions(d)); /* the method's own options */
    PetscCall(PdDeconMonitorCancel(d));
    PetscCall(PdDeconMonitorSet(d, TrackMonitor, &tr[i]));
    direct[i] = PETSC_FALSE; /* a direct filter: one step is the result, reported once */
    for (int k = 0; k < PdDeconMethodCount(); k++) {
      PetscBool dir;
      if (!strcmp(PdDeconMethodName(k, &dir), mnames[i])) direct[i] = dir;
    }
    tr[i].direct = direct[i];
    PetscCall(PdDeconSolve(d));
    PetscCall(PdDeconGetIterationNumber(d, &done));
    if (direct[i])
      for (PetscInt c = 0; c < nits; c++) {
        tr[i].q[c]  = tr[i].q[0];
        tr[i].tq[c] = tr[i].t[1];
      }
    PetscCall(PdVolumeAlloc(PdLayoutLocalSize(dl), &res[i]));
    PetscCall(PdDeconGetSolution(d, &xl, &x));
    PetscCall(PdVolumeCopy(xl, x, dl, res[i]));
    (void)done;
  }

  PetscCall(PetscPrintf(comm, "\n%-24s %10s %9s %9s %8s %9s\n", "method", "iterations", "seconds", "PSNR dB", "SSIM", "RSNR dB"));
  PetscCall(PetscPrintf(comm, "%-24s %10s %9s %9.2f %8.4f %9.2f\n", "input (noisy, blurred)", "-", "-", qin.psnr, qin.ssim, qin.rsnr));
  for (PetscInt i = 0; i < nm; i++)
    for (PetscInt c = 0; c < (direct[i] ? 1 : nits); c++) {
      char itstr[16];
      PetscCall(PetscSNPrintf(itstr, sizeof(itstr), "%" PetscInt_FMT, direct[i] ? (PetscInt)1 : its[c]));
      PetscCall(PetscPrintf(comm, "%-24s %10s %9.2f %9.2f %8.4f %9.2f\n", mnames[i], direct[i] ? "direct" : itstr, tr[i].tq[c], tr[i].q[c].psnr, tr[i].q[c].ssim, tr[i].q[c].rsnr));
    }
  {
    PetscInt irl = -1, iacc = -1;
    for (PetscInt i = 0; i < nm; i++) {
      if (!strcmp(mnames[i], "rl")) irl = i;
      if (!strcmp(mnames[i], "rl_biggs")) iacc = i;
    }
    if (irl >= 0 && iacc >= 0) {
      double   target = tr[irl].psnr[maxit];
      PetscInt reach  = Reach(&tr[iacc], maxit, target);
      if (reach > 0)
        PetscCall(PetscPrintf(comm, "rl_biggs reaches rl's %" PetscInt_FMT "-iteration PSNR (%.2f dB) after %" PetscInt_FMT " iterations, %.2f s: %.1fx fewer iterations, %.1fx less time\n", maxit, target, reach,
                              tr[iacc].t[reach], (double)maxit / reach, tr[irl].t[maxit] / tr[iacc].t[reach]));
      else PetscCall(PetscPrintf(comm, "rl_biggs did not reach rl's PSNR (%.2f dB) within %" PetscInt_FMT " iterations\n", target, maxit));
    }
  }

  PetscCall(PdLayoutCreateBlock(comm, pn, &play));
  {
    char        *opts;
    PdImageAttrs a = {{o.phantom.voxel[0], o.phantom.voxel[1], o.phantom.voxel[2]}, NULL, -1, NULL, NULL, PETSC_FALSE};
    PdH5Writer   w;
    PetscCall(AppOptionsString(&opts));
    a.options = opts;
    PetscCall(PdH5WriterOpen(comm, output, &w));
    PetscCall(PdH5WriterAdd(w, "/truth", dl, truth, &a));
    PetscCall(PdH5WriterAdd(w, "/blurred", dl, blurred, &a));
    PetscCall(PdH5WriterAdd(w, "/data", dl, y, &a));
    for (PetscInt i = 0; i < nm; i++) {
      PdImageAttrs am = a;
      char         dset[80];
      am.method       = mnames[i];
      am.iterations   = direct[i] ? 1 : maxit;
      PetscCall(PetscSNPrintf(dset, sizeof(dset), "/%s", mnames[i]));
      PetscCall(PdH5WriterAdd(w, dset, dl, res[i], &am));
    }
    PetscCall(PdH5WriterAdd(w, "/psf", play, psf + play->z0 * play->ps, &a));
    PetscCall(PdH5WriterClose(&w, PETSC_TRUE));
    PetscCall(PetscFree(opts));
  }
  if (preview[0]) {
    const PdLayout *lays[MAX_METHODS + 2];
    const float    *vols[MAX_METHODS + 2];
    lays[0] = dl;
    vols[0] = y;
    for (PetscInt i = 0; i < nm; i++) {
      lays[i + 1] = dl;
      vols[i + 1] = res[i];
    }
    lays[nm + 1] = dl;
    vols[nm + 1] = truth;
    PetscCall(PdWriteMIPPng(preview, (int)nm + 2, lays, vols, o.phantom.voxel));
  }
  PetscCall(PetscPrintf(comm, "wrote %s (/truth /blurred /data /psf and one dataset per method)%s%s%s\n", output, preview[0] ? " and " : "", preview, preview[0] ? " (data | methods in table order | truth)" : ""));
  PetscCall(PdLayoutDestroy(&play));
  for (PetscInt i = 0; i < nm; i++) {
    PetscCall(PdVolumeFree(&res[i]));
    PetscCall(PetscFree(mnames[i]));
  }
  PetscCall(PetscFree(tr));
  PetscCall(PdVolumeFree(&truth));
  PetscCall(PdVolumeFree(&blurred));
  PetscCall(PetscFree(psf));
  PetscCall(PdDeconDestroy(&d));
  PetscFunctionReturn(0);
}
