/* pdecon demo: simulate microtubules seen through a widefield microscope, deconvolve them with
   every iterative method (or those of -demo_methods), and compare each with the truth: a quality
   table at the iterations of -demo_its, the iterations and time the accelerated RL needs to
   reach plain RL's quality, one HDF5 file with every volume, a PNG of max-intensity
   projections, one labelled column per volume, and beside it the convergence plot (PSNR against
   iterations and seconds, every method in one picture). The steps: options, simulate, run the
   methods, the table, the files. */
#include "app_sim.h"
#include <pdecon/decon/decon.h>
#include <pdecon/io/io.h>
#include <pdecon/io/output.h>
#include <pdecon/quality/metrics.h>
#include <pdecon/viz/convergence.h>
#include <pdecon/viz/preview.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
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
  double          nvox; /* voxels of the data */
  PetscInt        ncheck, check[MAX_CHECK];
  PetscInt        fixed;  /* > 0: a method with its own iteration count (a filter: 1), measured once, there */
  Quality         q[MAX_CHECK];
  double          tq[MAX_CHECK];
  double          psnr[MAX_TRACK + 1], t[MAX_TRACK + 1], spent;
  double          dev[MAX_TRACK + 1];    /* deviance per voxel of the iterate that entered step k (stop rules) */
  double          change[MAX_TRACK + 1]; /* relative change of step k */
  PetscInt        nrec;                  /* iterations recorded */
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
  if (it == 1) tr->spent = 0;
  if (it > MAX_TRACK) PetscFunctionReturn(0);
  PetscCall(PdDeconGetSolveTime(d, &elapsed));
  tr->t[it]      = elapsed - tr->spent;
  tr->dev[it]    = 2.0 * obj / tr->nvox; /* the simulated data are photon counts */
  tr->change[it] = change;
  tr->nrec       = it;
  PetscCall(PdDeconGetSolution(d, &xl, &x));
  PetscCall(PdMetricPSNR(xl, x, tr->tlay, tr->truth, &tr->psnr[it]));
  for (PetscInt c = 0; c < tr->ncheck; c++)
    if (tr->fixed ? it == tr->fixed && c == 0 : tr->check[c] == it) {
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

/* Everything the steps share: the options, the simulated acquisition, the solver and its results. */
typedef struct {
  MPI_Comm        comm;
  char            output[PETSC_MAX_PATH_LEN], preview[PETSC_MAX_PATH_LEN], convergence[PETSC_MAX_PATH_LEN], history[PETSC_MAX_PATH_LEN], psfname[256];
  char           *mnames[MAX_METHODS];
  PetscInt        nm, its[MAX_CHECK], nits, maxit;
  int             views; /* PdView bits of the picture */
  AppSimOptions   o;
  PdDecon         d;
  const PdLayout *dl;                     /* the data's layout; every volume below uses it */
  float          *y, *truth, *blurred, *psf, *res[MAX_METHODS];
  ptrdiff_t       pn[3];
  Quality         qin;                    /* the data against the truth */
  Track          *tr;
  PetscInt        fixed[MAX_METHODS];     /* see Track */
  PetscBool       own_its;                /* no -demo_its: few-iteration methods run their own count */
} Demo;

/* The convergence plot's default name: the preview's with -convergence before its extension. */
static PetscErrorCode ConvergenceName(const char *preview, char *name, size_t len)
{
  const char *dot = strrchr(preview, '.'), *slash = strrchr(preview, '/');
  size_t      stem = dot && (!slash || dot > slash) ? (size_t)(dot - preview) : strlen(preview);

  PetscFunctionBegin;
  name[0] = 0;
  if (!preview[0]) PetscFunctionReturn(0);
  PetscCheck(stem + 20 < len, PETSC_COMM_SELF, PD_ERR_INPUT, "-preview: %s: name too long", preview);
  memcpy(name, preview, stem);
  name[stem] = 0;
  PetscCall(PetscStrlcat(name, "-convergence.png", len));
  PetscFunctionReturn(0);
}

/* The methods to compare: -demo_methods, or every iterative method (see below). */
static PetscErrorCode DefaultMethods(Demo *dm, PetscBool mset)
{
  /* Every iterative method. Blind deconvolution, which also estimates the PSF at about twenty
     RL iterations per step, only when asked for ("all" or by name): it would take the demo well
     past its two minutes. GARL needs a trained model: only with -decon_garl_model. */
  PetscBool all = (PetscBool)(mset && dm->nm == 1), garl;

  PetscFunctionBegin;
  if (mset) PetscCall(PetscFree(dm->mnames[0]));
  PetscCall(PetscOptionsHasName(NULL, NULL, "-decon_garl_model", &garl));
  dm->nm = 0;
  for (int i = 0; i < PdDeconMethodCount() && dm->nm < MAX_METHODS; i++) {
    PetscBool   dir;
    const char *mname = PdDeconMethodName(i, &dir);
    if (!dir && (all || strcmp(mname, "blind")) && (garl || strcmp(mname, "garl"))) PetscCall(PetscStrallocpy(mname, &dm->mnames[dm->nm++]));
  }
  PetscFunctionReturn(0);
}

/* Options, the solver (each method reads its own options, so that unknown names fail before
   unused options are refused) and the checks made before any work. *help: only -help asked. */
static PetscErrorCode DemoSetFromOptions(Demo *dm, PetscBool *help)
{
  const ptrdiff_t defsize[3] = {64, 256, 256};
  char           *vnames[3];
  PetscInt        nv = 3;
  PetscBool       psfsize_set, mset, itset, vset, convset;

  PetscFunctionBegin;
  dm->nm   = MAX_METHODS;
  dm->nits = MAX_CHECK;
  PetscOptionsBegin(dm->comm, NULL, "pdecon demo", "");
  PetscCall(PetscOptionsStringArray("-demo_methods", "Methods to compare (default: every iterative method but blind; all: every one; garl only with -decon_garl_model)", "", dm->mnames, &dm->nm, &mset));
  PetscCall(PetscOptionsIntArray("-demo_its", "Iterations at which quality is reported (the last is the run length)", "", dm->its, &dm->nits, &itset));
  PetscCall(PetscOptionsString("-output", "HDF5 file receiving every volume", "", dm->output, dm->output, sizeof(dm->output), NULL));
  PetscCall(PetscOptionsString("-preview", "PNG of max-intensity projections: data, each method, truth", "", dm->preview, dm->preview, sizeof(dm->preview), NULL));
  PetscCall(PetscOptionsString("-demo_convergence", "PNG of PSNR against iterations and seconds, every method (default: beside -preview, NAME-convergence.png; empty: none)", "", dm->convergence, dm->convergence, sizeof(dm->convergence), &convset));
  PetscCall(PetscOptionsString("-demo_history", "CSV file of every method's iterations: seconds, PSNR, Poisson deviance per voxel, relative change", "", dm->history, dm->history, sizeof(dm->history), NULL));
  PetscCall(PetscOptionsStringArray("-preview_views", "Projections in the PNG, one row each: xy, xz, yz", "", vnames, &nv, &vset));
  PetscOptionsEnd();
  if (!mset || (dm->nm == 1 && !strcmp(dm->mnames[0], "all"))) PetscCall(DefaultMethods(dm, mset));
  if (!itset) {
    dm->nits   = 1;
    dm->its[0] = 50;
  }
  dm->own_its = (PetscBool)!itset;
  if (!convset) PetscCall(ConvergenceName(dm->preview, dm->convergence, sizeof(dm->convergence)));
  dm->views = vset ? 0 : PD_VIEW_XY | PD_VIEW_XZ;
  for (PetscInt k = 0; vset && k < nv; k++) {
    PdView v;
    PetscCall(PdViewFromName(dm->comm, "-preview_views", vnames[k], &v));
    dm->views |= v;
  }
  for (PetscInt k = 0; vset && k < nv; k++) PetscCall(PetscFree(vnames[k]));
  /* A PSF of 33 x 65 x 65 voxels keeps the demo quick; -psf_size changes it. */
  PetscCall(PetscOptionsHasName(NULL, NULL, "-psf_size", &psfsize_set));
  if (!psfsize_set) PetscCall(PetscOptionsSetValue(NULL, "-psf_size", "33,65,65"));
  PetscCall(AppSimSetFromOptions(dm->comm, defsize, &dm->o));
  PetscCall(PdDeconCreate(dm->comm, &dm->d));
  PetscCall(PdDeconSetFromOptions(dm->d));
  *help = AppHelpRequested();
  if (*help) PetscFunctionReturn(0);
  for (PetscInt i = 0; i < dm->nm; i++) {
    PetscCall(PdDeconSetMethod(dm->d, dm->mnames[i]));
    PetscCall(PdDeconSetFromOptions(dm->d));
  }
  PetscCall(AppCheckOptionsUsed(dm->comm));
  for (PetscInt c = 0; c < dm->nits; c++) {
    PetscCheck(dm->its[c] >= 1 && dm->its[c] <= MAX_TRACK && (c == 0 || dm->its[c] > dm->its[c - 1]), dm->comm, PD_ERR_INPUT, "-demo_its: increasing iteration counts between 1 and %d", MAX_TRACK);
    dm->maxit = dm->its[c];
  }
  PetscCall(PdOutputCheck(dm->comm, dm->output, 0, NULL));
  if (dm->preview[0]) PetscCall(PdOutputCheck(dm->comm, dm->preview, 0, NULL));
  if (dm->convergence[0]) PetscCall(PdOutputCheck(dm->comm, dm->convergence, 0, NULL));
  if (dm->history[0]) { /* its directory, before any work (no file is made) */
    char tmp[PETSC_MAX_PATH_LEN];
    PetscCall(PdTempPathCreate(dm->comm, dm->history, tmp, sizeof(tmp)));
  }
  PetscFunctionReturn(0);
}

/* The PSF, the solver set up for it, and the acquisition: truth, blurred, noisy data. */
static PetscErrorCode DemoSimulate(Demo *dm)
{
  PdFFTConv conv;
  double    scale;

  PetscFunctionBegin;
  PetscCall(AppPSFCompute(dm->comm, &dm->o.psf, dm->pn, &dm->psf, dm->psfname, sizeof(dm->psfname)));
  PetscCall(PdDeconSetImageSize(dm->d, dm->o.n, "simulated data"));
  PetscCall(PdDeconSetPSF(dm->d, dm->pn, dm->psf, dm->psfname));
  PetscCall(PdDeconSetBackground(dm->d, dm->o.bg));
  PetscCall(PdDeconSetTolerances(dm->d, dm->maxit, 0.0));
  PetscCall(PdDeconSetUp(dm->d));
  PetscCall(PdDeconGetData(dm->d, &dm->dl, &dm->y));
  PetscCall(PdDeconGetFFTConv(dm->d, &conv));
  PetscCall(PdVolumeAlloc(PdLayoutLocalSize(dm->dl), &dm->truth));
  PetscCall(PdVolumeAlloc(PdLayoutLocalSize(dm->dl), &dm->blurred));
  PetscCall(AppSimRun(&dm->o, conv, dm->dl, dm->truth, dm->blurred, dm->y, &scale, NULL));
  PetscCall(PetscPrintf(dm->comm, "pdecon demo: %td x %td x %td microtubule phantom (%" PetscInt_FMT " tubes, voxel %.0f x %.0f x %.0f nm), %s %td x %td x %td, SNR %.1f dB, %d rank%s\n", dm->o.n[0], dm->o.n[1], dm->o.n[2],
                        dm->o.phantom.ntubes, dm->o.phantom.voxel[0], dm->o.phantom.voxel[1], dm->o.phantom.voxel[2], dm->psfname, dm->pn[0], dm->pn[1], dm->pn[2], dm->o.snr, dm->dl->size, dm->dl->size > 1 ? "s" : ""));
  PetscCall(Measure(dm->dl, dm->y, dm->dl, dm->truth, &dm->qin));
  PetscFunctionReturn(0);
}

/* Each method on the same data, tracked against the truth; its result is kept. */
static PetscErrorCode DemoRunMethods(Demo *dm)
{
  const PdLayout *xl;
  const float    *x;

  PetscFunctionBegin;
  PetscCall(PetscCalloc1(dm->nm, &dm->tr));
  for (PetscInt i = 0; i < dm->nm; i++) {
    Track *tr = &dm->tr[i];
    tr->tlay   = dm->dl;
    tr->truth  = dm->truth;
    tr->nvox   = (double)PdLayoutGlobalCount(dm->dl);
    tr->ncheck = dm->nits;
    for (PetscInt c = 0; c < dm->nits; c++) tr->check[c] = dm->its[c];
    PetscCall(PdDeconMonitorCancel(dm->d));
    PetscCall(PdDeconSetMethod(dm->d, dm->mnames[i]));
    PetscCall(PdDeconSetFromOptions(dm->d)); /* the method's own options */
    PetscCall(PdDeconMonitorCancel(dm->d));
    PetscCall(PdDeconMonitorSet(dm->d, TrackMonitor, tr));
    /* a direct filter (one step), or without -demo_its a few-iteration method, runs its own
       count, reported once */
    dm->fixed[i] = 0;
    for (int k = 0; k < PdDeconMethodCount(); k++) {
      PetscBool dir;
      if (!strcmp(PdDeconMethodName(k, &dir), dm->mnames[i]) && (dir || dm->own_its)) dm->fixed[i] = PdDeconMethodDefaultIterations(k);
    }
    tr->fixed = dm->fixed[i];
    PetscCall(PdDeconSetTolerances(dm->d, tr->fixed ? tr->fixed : dm->maxit, 0.0));
    PetscCall(PdDeconSolve(dm->d));
    PetscCall(PdVolumeAlloc(PdLayoutLocalSize(dm->dl), &dm->res[i]));
    PetscCall(PdDeconGetSolution(dm->d, &xl, &x));
    PetscCall(PdVolumeCopy(xl, x, dm->dl, dm->res[i]));
  }
  PetscCall(PdDeconGetData(dm->d, &dm->dl, &dm->y)); /* as floats again for the file and the pictures */
  PetscFunctionReturn(0);
}

/* The quality table, and how much sooner accelerated RL reaches plain RL's quality. */
static PetscErrorCode DemoTable(const Demo *dm)
{
  const Track *tr = dm->tr;
  PetscInt     irl = -1, iacc = -1, maxit = dm->maxit;

  PetscFunctionBegin;
  PetscCall(PetscPrintf(dm->comm, "\n%-24s %10s %9s %9s %8s %9s\n", "method", "iterations", "seconds", "PSNR dB", "SSIM", "RSNR dB"));
  PetscCall(PetscPrintf(dm->comm, "%-24s %10s %9s %9.2f %8.4f %9.2f\n", "input (noisy, blurred)", "-", "-", dm->qin.psnr, dm->qin.ssim, dm->qin.rsnr));
  for (PetscInt i = 0; i < dm->nm; i++)
    for (PetscInt c = 0; c < (dm->fixed[i] ? 1 : dm->nits); c++) {
      PetscBool dir = PETSC_FALSE;
      char      itstr[16];
      for (int k = 0; k < PdDeconMethodCount(); k++)
        if (!strcmp(PdDeconMethodName(k, &dir), dm->mnames[i])) break;
      PetscCall(PetscSNPrintf(itstr, sizeof(itstr), "%" PetscInt_FMT, dm->fixed[i] ? dm->fixed[i] : dm->its[c]));
      PetscCall(PetscPrintf(dm->comm, "%-24s %10s %9.2f %9.2f %8.4f %9.2f\n", dm->mnames[i], dir ? "direct" : itstr, tr[i].tq[c], tr[i].q[c].psnr, tr[i].q[c].ssim, tr[i].q[c].rsnr));
    }
  for (PetscInt i = 0; i < dm->nm; i++) {
    if (!strcmp(dm->mnames[i], "rl")) irl = i;
    if (!strcmp(dm->mnames[i], "rl_biggs")) iacc = i;
  }
  if (irl >= 0 && iacc >= 0) {
    double   target = tr[irl].psnr[maxit];
    PetscInt reach  = Reach(&tr[iacc], maxit, target);
    if (reach > 0)
      PetscCall(PetscPrintf(dm->comm, "rl_biggs reaches rl's %" PetscInt_FMT "-iteration PSNR (%.2f dB) after %" PetscInt_FMT " iterations, %.2f s: %.1fx fewer iterations, %.1fx less time\n", maxit, target, reach,
                            tr[iacc].t[reach], (double)maxit / reach, tr[irl].t[maxit] / tr[iacc].t[reach]));
    else PetscCall(PetscPrintf(dm->comm, "rl_biggs did not reach rl's PSNR (%.2f dB) within %" PetscInt_FMT " iterations\n", target, maxit));
  }
  PetscFunctionReturn(0);
}

/* Every volume (and the PSF) into one HDF5 file. */
static PetscErrorCode DemoWriteVolumes(const Demo *dm)
{
  PdLayout    *play;
  char        *opts;
  PdImageAttrs a = {{dm->o.phantom.voxel[0], dm->o.phantom.voxel[1], dm->o.phantom.voxel[2]}, NULL, -1, NULL, NULL, PETSC_FALSE};
  PdH5Writer   w;

  PetscFunctionBegin;
  PetscCall(PdLayoutCreateBlock(dm->comm, dm->pn, &play));
  PetscCall(AppOptionsString(&opts));
  a.options = opts;
  PetscCall(PdH5WriterOpen(dm->comm, dm->output, &w));
  PetscCall(PdH5WriterAdd(w, "/truth", dm->dl, dm->truth, &a));
  PetscCall(PdH5WriterAdd(w, "/blurred", dm->dl, dm->blurred, &a));
  PetscCall(PdH5WriterAdd(w, "/data", dm->dl, dm->y, &a));
  for (PetscInt i = 0; i < dm->nm; i++) {
    PdImageAttrs am = a;
    char         dset[80];
    am.method       = dm->mnames[i];
    am.iterations   = dm->fixed[i] ? dm->fixed[i] : dm->maxit;
    PetscCall(PetscSNPrintf(dset, sizeof(dset), "/%s", dm->mnames[i]));
    PetscCall(PdH5WriterAdd(w, dset, dm->dl, dm->res[i], &am));
  }
  PetscCall(PdH5WriterAdd(w, "/psf", play, dm->psf + play->z0 * play->ps, &a));
  PetscCall(PdH5WriterClose(&w, PETSC_TRUE));
  PetscCall(PetscFree(opts));
  PetscCall(PdLayoutDestroy(&play));
  PetscFunctionReturn(0);
}

/* The picture: data, each method (named, with its PSNR at the last reported iteration), truth. */
static PetscErrorCode DemoPicture(const Demo *dm)
{
  PdPreviewColumn cols[MAX_METHODS + 2];
  char            psnr[MAX_METHODS + 1][32];

  PetscFunctionBegin;
  PetscCall(PetscSNPrintf(psnr[0], sizeof(psnr[0]), "PSNR %.2f dB", dm->qin.psnr));
  cols[0] = (PdPreviewColumn){dm->dl, dm->y, "data", psnr[0]};
  for (PetscInt i = 0; i < dm->nm; i++) {
    PetscCall(PetscSNPrintf(psnr[i + 1], sizeof(psnr[i + 1]), "PSNR %.2f dB", dm->tr[i].q[dm->fixed[i] ? 0 : dm->nits - 1].psnr));
    cols[i + 1] = (PdPreviewColumn){dm->dl, dm->res[i], dm->mnames[i], psnr[i + 1]};
  }
  cols[dm->nm + 1] = (PdPreviewColumn){dm->dl, dm->truth, "truth", "reference"};
  PetscCall(PdPreviewWrite(dm->preview, (int)dm->nm + 2, cols, dm->o.phantom.voxel, dm->views));
  PetscFunctionReturn(0);
}

/* PSNR against iterations and seconds, every method in one picture. */
static PetscErrorCode DemoConvergence(const Demo *dm)
{
  PdConvergenceCurve c[MAX_METHODS];
  char               title[160];
  PetscInt           n = PetscMin(dm->nm, 20); /* the plot's styles (every method of the default list) */

  PetscFunctionBegin;
  for (PetscInt i = 0; i < n; i++) c[i] = (PdConvergenceCurve){dm->mnames[i], (int)dm->tr[i].nrec, dm->tr[i].psnr + 1, dm->tr[i].t + 1};
  PetscCall(PetscSNPrintf(title, sizeof(title), "pdecon demo: PSNR against the truth, %td \xC3\x97 %td \xC3\x97 %td, SNR %.0f dB, %d rank%s", dm->o.n[0], dm->o.n[1], dm->o.n[2], dm->o.snr, dm->dl->size, dm->dl->size > 1 ? "s" : ""));
  PetscCall(PdConvergencePlotWrite(dm->comm, dm->convergence, title, (int)n, c));
  PetscFunctionReturn(0);
}

/* Every method's iterations as CSV, written by rank 0 under a temporary name and renamed when
   complete: what the stop rules decide on, next to the PSNR they cannot see. The deviance on the
   row of iteration k is that of the iterate k - 1. */
static PetscErrorCode DemoHistory(const Demo *dm)
{
  char       tmp[PETSC_MAX_PATH_LEN];
  PdIOStatus st = {0, ""};
  int        rank;

  PetscFunctionBegin;
  PetscCallMPI(MPI_Comm_rank(dm->comm, &rank));
  PetscCall(PdTempPathCreate(dm->comm, dm->history, tmp, sizeof(tmp)));
  if (!rank) {
    FILE *f = fopen(tmp, "w");
    if (!f) PdIOFail(&st, PD_ERR_FILE, "%s: cannot write (%s)", dm->history, strerror(errno));
    else {
      fprintf(f, "method,iteration,seconds,psnr_db,deviance_per_voxel_of_previous,relative_change\n");
      for (PetscInt i = 0; i < dm->nm; i++)
        for (PetscInt k = 1; k <= dm->tr[i].nrec; k++)
          fprintf(f, "%s,%" PetscInt_FMT ",%.6g,%.6f,%.8g,%.6g\n", dm->mnames[i], k, dm->tr[i].t[k], dm->tr[i].psnr[k], dm->tr[i].dev[k], dm->tr[i].change[k]);
      if (ferror(f)) PdIOFail(&st, PD_ERR_FILE, "%s: write error", dm->history);
      if (fclose(f)) PdIOFail(&st, PD_ERR_FILE, "%s: %s", dm->history, strerror(errno));
    }
  }
  PetscCall(PdOutputFinish(dm->comm, tmp, dm->history, PETSC_TRUE, &st));
  PetscFunctionReturn(0);
}

static PetscErrorCode DemoDestroy(Demo *dm)
{
  PetscFunctionBegin;
  for (PetscInt i = 0; i < dm->nm; i++) {
    PetscCall(PdVolumeFree(&dm->res[i]));
    PetscCall(PetscFree(dm->mnames[i]));
  }
  PetscCall(PetscFree(dm->tr));
  PetscCall(PdVolumeFree(&dm->truth));
  PetscCall(PdVolumeFree(&dm->blurred));
  PetscCall(PetscFree(dm->psf));
  PetscCall(PdDeconDestroy(&dm->d));
  PetscFunctionReturn(0);
}

PetscErrorCode CmdDemo(MPI_Comm comm)
{
  Demo     *dm;
  PetscBool help;

  PetscFunctionBegin;
  PetscCall(PetscNew(&dm));
  dm->comm = comm;
  PetscCall(PetscStrncpy(dm->output, "pdecon-demo.h5", sizeof(dm->output)));
  PetscCall(PetscStrncpy(dm->preview, "pdecon-demo.png", sizeof(dm->preview)));
  dm->its[0] = 50;
  PetscCall(DemoSetFromOptions(dm, &help));
  if (!help) {
    PetscCall(DemoSimulate(dm));
    PetscCall(DemoRunMethods(dm));
    PetscCall(DemoTable(dm));
    PetscCall(DemoWriteVolumes(dm));
    if (dm->preview[0]) PetscCall(DemoPicture(dm));
    if (dm->convergence[0]) PetscCall(DemoConvergence(dm));
    if (dm->history[0]) PetscCall(DemoHistory(dm));
    PetscCall(PetscPrintf(comm, "wrote %s (/truth /blurred /data /psf and one dataset per method)%s%s%s\n", dm->output, dm->preview[0] ? " and " : "", dm->preview, dm->preview[0] ? " (data | methods in table order | truth)" : ""));
    if (dm->convergence[0]) PetscCall(PetscPrintf(comm, "wrote %s (PSNR against iterations and seconds)\n", dm->convergence));
    if (dm->history[0]) PetscCall(PetscPrintf(comm, "wrote %s\n", dm->history));
  }
  PetscCall(DemoDestroy(dm));
  PetscCall(PetscFree(dm));
  PetscFunctionReturn(0);
}
