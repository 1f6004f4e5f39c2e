/* PdDecon: set-up (working size, PSF, weights, background) and the solver loop shared by every
   method, with its monitors and convergence test. Methods live in one file each. */
#include "decon/decon_impl.h"
#include <pdecon/core/fingerprint.h>
#include <malloc.h>
#include <math.h>
#include <string.h>

const char *const PdDeconConvergedReasons[] = {"STOPPED_SIGNAL", "DIVERGED_NANORINF", "", "", "", "ITERATING", "", "CONVERGED_RTOL", "CONVERGED_ITS", "CONVERGED_STOP_RULE"};
const char *const PdBoundaryTypes[] = {"padded", "periodic", "PdBoundary", "PD_BOUNDARY_", NULL};


static const char *ReasonName(PdDeconConvergedReason r) { return PdDeconConvergedReasons[(int)r + 5]; }

#define PD_DECON_MAX_IT 50 /* iterations when neither the user nor the method says */
#define PD_UNMATCHED_SUPPORT 0.3 /* least Hᵀ1 of an estimated voxel with an unmatched back projector */

/* A method's own default number of iterations applies until the user asks for a number. */
static void DefaultIterations(PdDecon d)
{
  if (!d->max_it_set) d->max_it = d->ops->default_max_it > 0 ? d->ops->default_max_it : PD_DECON_MAX_IT;
}

PetscErrorCode PdDeconCreate(MPI_Comm comm, PdDecon *dd)
{
  PdDecon d;

  PetscFunctionBegin;
  PetscCall(PdInitializePackage());
  PetscCall(PetscNew(&d));
  d->comm             = comm;
  d->ops              = PdMethods[0];
  d->boundary         = PD_BOUNDARY_PADDED;
  d->center_mode      = PD_PSF_CENTER_PEAK;
  d->pad[0] = d->pad[1] = d->pad[2] = -1;
  d->bg_user          = -1;
  d->bg               = 0;
  d->bg_percentile    = 1.0;
  d->weight_threshold = 1e-2;
  d->data_counts      = PETSC_TRUE;
  d->fft_fast_size    = PETSC_TRUE;
  d->max_it           = PD_DECON_MAX_IT;
  d->rtol             = 0;
  d->converged_reason = PETSC_FALSE;
  d->stop.tol         = -1; /* the rule's default */
  d->stop.gain        = 1;
  d->start_k          = PD_START_WIENER_K;
  d->start_coarse_it  = PD_START_COARSE_IT;
  PetscCall(PdFFTConvCreate(comm, &d->conv));
  if (d->ops->create) PetscCall(d->ops->create(d));
  *dd = d;
  PetscFunctionReturn(0);
}

PetscErrorCode PdDeconSetMethod(PdDecon d, const char *name)
{
  PetscFunctionBegin;
  if (!strcmp(d->ops->name, name)) PetscFunctionReturn(0);
  PetscCheck(d->psf || !d->setup, d->comm, PETSC_ERR_ORDER, "the PSF was released (PdDeconSetReleasePSF): no other method can be set");
  for (int i = 0; i < PdNumMethods; i++)
    if (!strcmp(PdMethods[i]->name, name)) {
      /* switching keeps the problem (plans, OTF, data, weights) and drops the old method */
      if (d->ops->destroy) PetscCall(d->ops->destroy(d));
      if (d->ops->backprojector) PetscCall(PdFFTConvDestroyFilter(d->conv));
      d->mctx          = NULL;
      d->msetup        = PETSC_FALSE;
      d->weights_ready = PETSC_FALSE; /* a method may have changed the operator (blind) */
      d->prepared      = PETSC_FALSE; /* or back-project with B (rl_wb, rl_omw): new weights */
      d->ops    = PdMethods[i];
      DefaultIterations(d);
      if (d->ops->create) PetscCall(d->ops->create(d));
      PetscFunctionReturn(0);
    }
  {
    char list[512] = "";
    for (int i = 0; i < PdNumMethods; i++) {
      PetscCall(PetscStrlcat(list, i ? ", " : "", sizeof(list)));
      PetscCall(PetscStrlcat(list, PdMethods[i]->name, sizeof(list)));
    }
    SETERRQ(d->comm, PD_ERR_INPUT, "unknown deconvolution method '%s' (methods: %s)", name, list);
  }
}

int PdDeconMethodCount(void) { return PdNumMethods; }

PetscInt PdDeconMethodDefaultIterations(int i)
{
  if (i < 0 || i >= PdNumMethods) return 0;
  return PdMethods[i]->direct ? 1 : PdMethods[i]->default_max_it;
}

const char *PdDeconMethodName(int i, PetscBool *direct)
{
  if (i < 0 || i >= PdNumMethods) return NULL;
  if (direct) *direct = PdMethods[i]->direct;
  return PdMethods[i]->name;
}

PetscErrorCode PdDeconGetMethod(PdDecon d, const char **name)
{
  PetscFunctionBegin;
  *name = d->ops->name;
  PetscFunctionReturn(0);
}

static PetscErrorCode MonitorDefault(PdDecon d, PetscInt it, double obj, double change, void *ctx)
{
  PetscViewer v       = (PetscViewer)ctx;
  double      elapsed = PdTime() - d->t_start;
  /* the rate of this run's iterations: after a restart the earlier ones took no time here */
  double      eta     = it > d->it_start ? elapsed / (double)(it - d->it_start) * (double)(d->max_it - it) : 0;

  PetscFunctionBegin;
  PetscCall(PetscViewerASCIIAddTab(v, 1));
  if (isnan(obj))
    PetscCall(PetscViewerASCIIPrintf(v, "%3" PetscInt_FMT " %s rel. change %.4e  elapsed %.2f s  ETA %.2f s\n", it, d->ops->name, change, elapsed, eta));
  else
    PetscCall(PetscViewerASCIIPrintf(v, "%3" PetscInt_FMT " %s objective %.8e  rel. change %.4e  elapsed %.2f s  ETA %.2f s\n", it, d->ops->name, obj, change, elapsed, eta));
  PetscCall(PetscViewerASCIISubtractTab(v, 1));
  PetscFunctionReturn(0);
}

PetscErrorCode PdDeconSetFromOptions(PdDecon d)
{
  char        method[64];
  PetscBool   set, mon, itset;
  PetscInt    npad = 3, pad[3] = {-1, -1, -1};
  PetscEnum   bnd = (PetscEnum)d->boundary, ctr = (PetscEnum)d->center_mode;
  PetscViewerFormat fmt;

  PetscFunctionBegin;
  PetscOptionsBegin(d->comm, d->prefix, "Deconvolution solver", "PdDecon");
  {
    char help[1024] = "Method:";
    for (int i = 0; i < PdNumMethods; i++) {
      char one[160];
      PetscCall(PetscSNPrintf(one, sizeof(one), " %s (%s)%s", PdMethods[i]->name, PdMethods[i]->description, i + 1 < PdNumMethods ? "," : ""));
      PetscCall(PetscStrlcat(help, one, sizeof(help)));
    }
    PetscCall(PetscOptionsString("-decon_method", help, "PdDeconSetMethod", d->ops->name, method, sizeof(method), &set));
  }
  if (set) PetscCall(PdDeconSetMethod(d, method));
  if (d->ops->setfromoptions) PetscCall(d->ops->setfromoptions(d, PetscOptionsObject));
  PetscCall(PetscOptionsInt("-decon_max_it", "Maximum number of iterations (default 50; rl_wb 3, rl_omw 2; with a stop rule at least 20)", "PdDeconSetTolerances", d->max_it, &d->max_it, &itset));
  if (itset) d->max_it_set = PETSC_TRUE;
  PetscCall(PetscOptionsReal("-decon_rtol", "Stop when ||x_k+1 - x_k|| / ||x_k|| falls below this (0: never)", "PdDeconSetTolerances", d->rtol, &d->rtol, NULL));
  PetscCall(PetscOptionsReal("-decon_background", "Background b in y ~ Poisson(Hx + b); negative: estimate from the data", "PdDeconSetBackground", d->bg_user, &d->bg_user, NULL));
  PetscCall(PetscOptionsReal("-decon_background_percentile", "Percentile of the data taken as background when it is estimated", "PdDeconSetBackground", d->bg_percentile, &d->bg_percentile, NULL));
  PetscCall(PetscOptionsEnum("-decon_boundary", "Boundary: padded (no wrap-around, unknown outside) or periodic", "PdDeconSetBoundary", PdBoundaryTypes, bnd, &bnd, NULL));
  PetscCall(PetscOptionsIntArray("-decon_pad", "Padding z,y,x in voxels for the padded boundary (default: PSF extent - 1)", "PdDeconSetUp", pad, &npad, &set));
  if (set) {
    PetscCheck(npad == 3 || npad == 1, d->comm, PD_ERR_INPUT, "-decon_pad takes one value or three (z,y,x)");
    for (int i = 0; i < 3; i++) d->pad[i] = pad[npad == 1 ? 0 : i];
  }
  PetscCall(PetscOptionsReal("-decon_weight_threshold", "Voxels with (H^T 1) below this are not estimated (padded boundary)", "PdDeconSetUp", d->weight_threshold, &d->weight_threshold, NULL));
  {
    PetscEnum st = (PetscEnum)d->start;
    PetscBool sset;
    if (!d->start_set) st = (PetscEnum)d->ops->default_start;
    PetscCall(PetscOptionsEnum("-decon_start", "Initial estimate: flat (the mean flux), data (the data above the background), smooth (the data back-projected), wiener (the data's Wiener filter), coarse (the problem binned 2 x 2 laterally, solved and interpolated back); default: the method's", "PdDeconSetStart", PdDeconStartTypes, st, &st, &sset));
    if (sset) PetscCall(PdDeconSetStart(d, (PdDeconStart)st));
    PetscCall(PetscOptionsReal("-decon_start_wiener_k", "Noise-to-signal ratio K of the Wiener start", "PdDeconSetStart", d->start_k, &d->start_k, NULL));
    PetscCall(PetscOptionsInt("-decon_start_coarse_it", "Iterations of the coarse start's binned solve (its solver reads options prefixed coarse_)", "PdDeconSetStart", d->start_coarse_it, &d->start_coarse_it, NULL));
    PetscCall(PetscOptionsBool("-decon_start_coarse_axial", "The coarse start bins z by 2 too", "PdDeconSetStart", d->start_coarse_axial, &d->start_coarse_axial, NULL));
  }
  PetscCall(PetscOptionsEnum("-decon_psf_center", "PSF origin: peak, centroid or middle", "PdDeconSetUp", PdPSFCenterTypes, ctr, &ctr, NULL));
  PetscCall(PetscOptionsBool("-decon_clip_negative", "Set negative data to zero instead of refusing it", "PdDeconSolve", d->clip_negative, &d->clip_negative, NULL));
  PetscCall(PetscOptionsBool("-decon_fft_fast_size", "Round the padded working size up to a fast FFT length (of the 2,3,5,7-smooth lengths up to 1/16 more voxels an axis, the one with the smallest odd part); false: the smallest 2,3,5,7-smooth length, as checkpoints written before this option need", "PdDeconSetUp", d->fft_fast_size, &d->fft_fast_size, NULL));
  PetscCall(PetscOptionsBool("-decon_data_counts", "Hold integral data (0 to 65535) as 16-bit counts while rl or rl_biggs iterates: the same results, less memory traffic", "PdDeconSolve", d->data_counts, &d->data_counts, NULL));
  PetscCall(PdStopRuleSetFromOptions(d, PetscOptionsObject));
  PetscCall(PetscOptionsBool("-decon_converged_reason", "Print why the iteration stopped", "PdDeconSolve", d->converged_reason, &d->converged_reason, NULL));
  /* -memory_limit and -restart are the spellings of earlier versions, still accepted */
  PetscCall(PetscOptionsDeprecated("-memory_limit", "-decon_memory_limit", "0.2", NULL));
  PetscCall(PetscOptionsDeprecated("-restart", "-decon_restart", "0.2", NULL));
  PetscCall(PetscOptionsReal("-decon_memory_limit", "Memory a rank may use, MiB (0: the node's available memory shared by its ranks)", "PdDeconSetUp", d->memory_limit, &d->memory_limit, NULL));
  PetscCall(PetscOptionsBool("-decon_memory_view", "Print the per-rank memory estimate before allocating", "PdDeconSetUp", d->memory_view, &d->memory_view, NULL));
  PetscCall(PetscOptionsString("-decon_checkpoint", "Checkpoint file (HDF5), written every -decon_checkpoint_every iterations and on SIGTERM/SIGUSR1", "PdDeconSetCheckpoint", d->checkpoint, d->checkpoint, sizeof(d->checkpoint), NULL));
  PetscCall(PetscOptionsInt("-decon_checkpoint_every", "Iterations between checkpoints (0: only when a stop signal arrives)", "PdDeconSetCheckpoint", d->checkpoint_every, &d->checkpoint_every, NULL));
  PetscCall(PetscOptionsString("-decon_restart", "Continue from this checkpoint file", "PdDeconSetRestart", d->restart, d->restart, sizeof(d->restart), NULL));
  PetscCall(PetscOptionsViewer("-decon_monitor", "Print iteration, objective, relative change, elapsed time and ETA", "PdDeconMonitorSet", &d->monitor_viewer, &fmt, &mon));
  PetscOptionsEnd();
  {
    /* a value out of range would run and write a result that means nothing: refuse it */
    const char *pre = d->prefix ? d->prefix : "";
    PetscCheck(d->start_k > 0, d->comm, PD_ERR_INPUT, "-%sdecon_start_wiener_k: %g is not accepted: a noise-to-signal ratio, above 0", pre, (double)d->start_k);
    PetscCheck(d->start_coarse_it >= 1, d->comm, PD_ERR_INPUT, "-%sdecon_start_coarse_it: %" PetscInt_FMT " is not accepted: a number of iterations, at least 1", pre, d->start_coarse_it);
    PetscCheck(d->max_it >= 1, d->comm, PD_ERR_INPUT, "-%sdecon_max_it: %" PetscInt_FMT " is not accepted: a number of iterations, at least 1", pre, d->max_it);
    PetscCheck(d->rtol >= 0 && d->rtol < 1, d->comm, PD_ERR_INPUT, "-%sdecon_rtol: %g is not accepted: a relative change in [0, 1) (0: never stop early)", pre, (double)d->rtol);
    PetscCheck(d->bg_percentile >= 0 && d->bg_percentile <= 100, d->comm, PD_ERR_INPUT, "-%sdecon_background_percentile: %g is not accepted: a percentile in [0, 100]", pre, (double)d->bg_percentile);
    PetscCheck(d->weight_threshold >= 0 && d->weight_threshold < 1, d->comm, PD_ERR_INPUT, "-%sdecon_weight_threshold: %g is not accepted: a fraction in [0, 1)", pre, (double)d->weight_threshold);
    PetscCheck(d->memory_limit >= 0, d->comm, PD_ERR_INPUT, "-%sdecon_memory_limit: %g is not accepted: MiB, at least 0 (0: the node's memory)", pre, (double)d->memory_limit);
    PetscCheck(d->checkpoint_every >= 0, d->comm, PD_ERR_INPUT, "-%sdecon_checkpoint_every: %" PetscInt_FMT " is not accepted: iterations, at least 0 (0: only on a stop signal)", pre, d->checkpoint_every);
    for (int i = 0; i < 3; i++) PetscCheck(d->pad[i] >= -1, d->comm, PD_ERR_INPUT, "-%sdecon_pad: %" PetscInt_FMT " is not accepted: voxels, at least 0", pre, d->pad[i]);
  }
  d->boundary    = (PdBoundary)bnd;
  d->center_mode = (PdPSFCenter)ctr;
  if (mon) PetscCall(PdDeconMonitorSet(d, MonitorDefault, d->monitor_viewer));
  PetscCall(PdFFTConvSetFromOptions(d->conv));
  if (PdDeconStartType(d) == PD_START_COARSE) PetscCall(PdStartCoarse.setfromoptions(d));
  PetscFunctionReturn(0);
}

PetscErrorCode PdDeconSetOptionsPrefix(PdDecon d, const char prefix[])
{
  PetscFunctionBegin;
  PetscCall(PetscFree(d->prefix));
  if (prefix && prefix[0]) PetscCall(PetscStrallocpy(prefix, &d->prefix));
  PetscCall(PdFFTConvSetOptionsPrefix(d->conv, prefix));
  PetscFunctionReturn(0);
}

PetscErrorCode PdDeconGetOptionsPrefix(PdDecon d, const char *prefix[])
{
  PetscFunctionBegin;
  *prefix = d->prefix;
  PetscFunctionReturn(0);
}

PetscErrorCode PdDeconSetTolerances(PdDecon d, PetscInt max_it, double rtol)
{
  PetscFunctionBegin;
  if (max_it >= 0) {
    d->max_it     = max_it;
    d->max_it_set = PETSC_TRUE;
  }
  if (rtol >= 0) d->rtol = rtol;
  PetscFunctionReturn(0);
}

PetscErrorCode PdDeconSetBackground(PdDecon d, double b)
{
  PetscFunctionBegin;
  d->bg_user  = b;
  d->prepared = PETSC_FALSE;
  PetscFunctionReturn(0);
}

PetscErrorCode PdDeconGetBackground(PdDecon d, double *b)
{
  PetscFunctionBegin;
  *b = d->bg;
  PetscFunctionReturn(0);
}

PetscErrorCode PdDeconSetBoundary(PdDecon d, PdBoundary b)
{
  PetscFunctionBegin;
  PetscCheck(!d->setup, d->comm, PETSC_ERR_ORDER, "set the boundary before PdDeconSetUp");
  d->boundary = b;
  PetscFunctionReturn(0);
}

PetscErrorCode PdDeconSetStart(PdDecon d, PdDeconStart start)
{
  PetscFunctionBegin;
  d->start     = start;
  d->start_set = PETSC_TRUE;
  d->msetup    = PETSC_FALSE; /* the next solve starts from it */
  PetscFunctionReturn(0);
}

PetscErrorCode PdDeconSetImageSize(PdDecon d, const ptrdiff_t m[3], const char *name)
{
  PetscFunctionBegin;
  PetscCheck(!d->setup, d->comm, PETSC_ERR_ORDER, "set the image size before PdDeconSetUp");
  for (int i = 0; i < 3; i++) {
    PetscCheck(m[i] >= 1, d->comm, PD_ERR_INPUT, "%s: empty image", name ? name : "image");
    d->m[i] = m[i];
  }
  PetscCall(PetscFree(d->dataname));
  PetscCall(PetscStrallocpy(name ? name : "image", &d->dataname));
  PetscFunctionReturn(0);
}

PetscErrorCode PdDeconSetPSF(PdDecon d, const ptrdiff_t pn[3], const float *psf, const char *name)
{
  PetscFunctionBegin;
  PetscCheck(!d->setup, d->comm, PETSC_ERR_ORDER, "set the PSF before PdDeconSetUp");
  PetscCall(PetscFree(d->psf));
  PetscCall(PetscFree(d->psfc)); /* binned from the PSF before */
  PetscCall(PetscMalloc1(pn[0] * pn[1] * pn[2], &d->psf));
  PetscCall(PetscArraycpy(d->psf, psf, pn[0] * pn[1] * pn[2]));
  for (int i = 0; i < 3; i++) d->pn[i] = pn[i];
  PetscCall(PetscFree(d->psfname));
  PetscCall(PetscStrallocpy(name ? name : "PSF", &d->psfname));
  PetscFunctionReturn(0);
}

ptrdiff_t PdDeconWorkingLength(PdDecon d, int a, ptrdiff_t m, ptrdiff_t p)
{
  const ptrdiff_t l = m + (d->pad[a] >= 0 ? d->pad[a] : p - 1);

  if (d->boundary == PD_BOUNDARY_PERIODIC) return m;
  return d->fft_fast_size ? PdFFTFastSize(l) : PdFFTGoodSize(l);
}

/* Working size. Padded: n = m + pad rounded up to a fast FFT length (PdDeconWorkingLength), pad =
   pn - 1 by default: then every object voxel that can reach the measured box through the PSF has
   its own place and nothing wraps (the voxels a faster length adds beyond that reach the box
   through no PSF value: their weight is 0 and they are not estimated). A PSF wider than 2m - 1
   cannot add anything (its tails only connect voxels farther apart than the image), so it is
   cropped to that first. */
static PetscErrorCode WorkingSize(PdDecon d, ptrdiff_t n[3])
{
  PetscFunctionBegin;
  for (int i = 0; i < 3; i++) n[i] = PdDeconWorkingLength(d, i, d->m[i], d->pn[i]);
  if (d->boundary == PD_BOUNDARY_PERIODIC) {
    PetscCheck(d->pn[0] <= d->m[0] && d->pn[1] <= d->m[1] && d->pn[2] <= d->m[2], d->comm, PD_ERR_INPUT,
               "%s: PSF (%td x %td x %td) is larger than the image %s (%td x %td x %td) with periodic boundaries; crop the PSF or use -decon_boundary padded",
               d->psfname, d->pn[0], d->pn[1], d->pn[2], d->dataname, d->m[0], d->m[1], d->m[2]);
  } else {
    PetscCheck(d->pn[0] <= n[0] && d->pn[1] <= n[1] && d->pn[2] <= n[2], d->comm, PD_ERR_INPUT,
               "%s: PSF (%td x %td x %td) is larger than the padded image (%td x %td x %td); increase -decon_pad or crop the PSF",
               d->psfname, d->pn[0], d->pn[1], d->pn[2], n[0], n[1], n[2]);
  }
  PetscFunctionReturn(0);
}

PetscErrorCode PdDeconSetReleasePSF(PdDecon d, PetscBool release)
{
  PetscFunctionBegin;
  d->release_psf = release;
  PetscFunctionReturn(0);
}

PetscErrorCode PdDeconSetUp(PdDecon d)
{
  ptrdiff_t n[3];

  PetscFunctionBegin;
  if (d->setup) PetscFunctionReturn(0);
  PetscCheck(d->m[0] > 0, d->comm, PETSC_ERR_ORDER, "call PdDeconSetImageSize before PdDeconSetUp");
  PetscCheck(d->psf, d->comm, PETSC_ERR_ORDER, "call PdDeconSetPSF before PdDeconSetUp");
  PetscCall(PdPSFPrepNormalize(d->comm, d->psfname, d->pn, d->psf));
  PetscCall(PdPSFPrepCenter(d->pn, d->psf, d->center_mode, d->pc));
  /* views keep their PSFs whole: cropping them would need one crop for all */
  if (d->boundary == PD_BOUNDARY_PADDED && d->pad[0] < 0 && d->pad[1] < 0 && d->pad[2] < 0 && d->nviews <= 1) {
    ptrdiff_t maxn[3] = {2 * d->m[0] - 1, 2 * d->m[1] - 1, 2 * d->m[2] - 1};
    PetscCall(PdPSFPrepCrop(d->pn, d->psf, d->pc, maxn));
  }
  {
    PdHash h = PD_HASH_INIT;
    PdHashBytes(&h, d->psf, sizeof(float) * (size_t)(d->pn[0] * d->pn[1] * d->pn[2]));
    PdHashSplit(h, d->psf_digest);
  }
  PetscCall(WorkingSize(d, n));
  PetscCall(PdDeconCheckMemory(d, n)); /* refuse before allocating */
  PetscCall(PdFFTConvSetSizes(d->conv, n));
  PetscCall(PdFFTConvSetUp(d->conv));
  PetscCall(PdFFTConvSetRealOTF(d->conv, PdDeconRealOTF(d)));
  PetscCall(PdFFTConvSetPSF(d->conv, d->pn, d->psf, d->pc));
  PetscCall(PdFFTConvGetLayout(d->conv, &d->lay));
  PetscCall(PdFFTConvGetWork(d->conv, &d->work));
  PetscCall(PdFFTConvGetSpectrum(d->conv, &d->spec));
  PetscCall(PdLayoutCreateBox(d->lay, d->m, PETSC_FALSE, &d->blay));
  PetscCall(PdLayoutCreateBox(d->lay, d->m, PETSC_TRUE, &d->dlay));
  PetscCall(PdVolumeAlloc(PdLayoutLocalSize(d->dlay) * (size_t)PdDeconViewCount(d), &d->y));
  PetscCall(PdVolumeAlloc((size_t)PetscMax(1, PdDeconLocalCount(d)), &d->x)); /* w: in Prepare */
  if (d->nviews > 1) PetscCall(PdMultiViewSetUp(d));
  d->setup = PETSC_TRUE;
  PetscFunctionReturn(0);
}

PetscErrorCode PdDeconGetData(PdDecon d, const PdLayout **lay, float **y)
{
  PetscFunctionBegin;
  PetscCall(PdDeconSetUp(d));
  PetscCall(PdDeconDataExpand(d));
  if (lay) *lay = d->dlay;
  if (y) *y = d->y;
  d->prepared = PETSC_FALSE; /* the caller is about to change the data */
  PetscFunctionReturn(0);
}

/* p-th percentile of the data from a global histogram (4096 bins between the global min and
   max; the value is exact to one bin width). */
static PetscErrorCode DataPercentile(PdDecon d, double p, double *val)
{
  const PdLayout *l = d->dlay;
  ptrdiff_t       cnt = l->nzl * l->n[1] * l->n[2] * PdDeconViewCount(d); /* every view's data */
  double          mm[2] = {PETSC_MAX_REAL, PETSC_MAX_REAL}, *hist, target, acc = 0; /* min, -max */
  const int       nb = 4096;

  PetscFunctionBegin;
  for (ptrdiff_t i = 0; i < cnt; i++) {
    mm[0] = PetscMin(mm[0], d->y[i]);
    mm[1] = PetscMin(mm[1], -(double)d->y[i]);
  }
  PetscCall(PdAllreduceMin(d->comm, mm, 2));
  mm[1] = -mm[1];
  PetscCall(PetscCalloc1(nb, &hist));
  double width = (mm[1] - mm[0]) / nb;
  if (width <= 0) {
    *val = mm[0];
    PetscCall(PetscFree(hist));
    PetscFunctionReturn(0);
  }
  for (ptrdiff_t i = 0; i < cnt; i++) {
    int b = (int)((d->y[i] - mm[0]) / width);
    hist[PetscMin(nb - 1, PetscMax(0, b))] += 1;
  }
  PetscCall(PdAllreduceSum(d->comm, hist, nb));
  target = p / 100.0 * (double)PdLayoutGlobalCount(l) * (double)PdDeconViewCount(d);
  int b = 0;
  for (; b < nb - 1; b++) {
    if (acc + hist[b] >= target) break;
    acc += hist[b];
  }
  *val = mm[0] + width * (b + (hist[b] > 0 ? (target - acc) / hist[b] : 0));
  PetscCall(PetscFree(hist));
  PetscFunctionReturn(0);
}

/* work <- the indicator of the measured box M (zero elsewhere and on the row padding). */
static PetscErrorCode FillBox(PdDecon d)
{
  const PdLayout *wl = d->lay;

  PetscFunctionBegin;
  PetscCall(PetscArrayzero(d->work, PdDeconLocalCount(d)));
  for (ptrdiff_t z = 0; z < d->blay->nzl; z++)
    for (ptrdiff_t yy = 0; yy < d->m[1]; yy++)
      for (ptrdiff_t x = 0; x < d->m[2]; x++) d->work[z * wl->ps + yy * wl->rs + x] = 1.0f;
  PetscFunctionReturn(0);
}

/* Check the data, estimate the background, and compute the weights w = 1 / Hᵀ1 (0 where Hᵀ1 is
   below the threshold: voxels too far outside the box to be seen by the data). */
static PetscErrorCode Prepare(PdDecon d)
{
  const PdLayout *l = d->dlay, *wl = d->lay;
  const PetscInt  V = PdDeconViewCount(d);
  ptrdiff_t       cnt = l->nzl * l->n[1] * l->n[2] * V;
  double          s[3] = {0, 0, 0}; /* sum, count of negatives, count of non-finite */
  double          mn = 0;

  PetscFunctionBegin;
  for (ptrdiff_t i = 0; i < cnt; i++) {
    float v = d->y[i];
    if (!isfinite(v)) s[2] += 1;
    else if (v < 0) {
      s[1] += 1;
      mn = PetscMin(mn, v);
      if (d->clip_negative) d->y[i] = 0;
    } else s[0] += v;
  }
  PetscCall(PdAllreduceSum(d->comm, s, 3));
  PetscCall(PdAllreduceMin(d->comm, &mn, 1));
  PetscCheck(s[2] == 0, d->comm, PD_ERR_INPUT, "%s: data contains %.0f NaN or Inf values", d->dataname, s[2]);
  PetscCheck(s[1] == 0 || d->clip_negative, d->comm, PD_ERR_INPUT,
             "%s: data has %.0f negative values (min %.6g); photon counts cannot be negative (use -decon_clip_negative to set them to 0)", d->dataname, s[1], mn);
  double mean = s[0] / ((double)PdLayoutGlobalCount(l) * (double)V);
  if (d->bg_user < 0) PetscCall(DataPercentile(d, d->bg_percentile, &d->bg));
  else d->bg = d->bg_user;
  d->eps = 1e-6 * (mean > 0 ? mean : 1.0);
  /* the views' PSFs sum to 1 together: the object's flux is the views' summed signal */
  d->x0  = PetscMax((double)V * (mean - d->bg), d->eps);

  if (d->weights_ready) { /* same PSF and box as the last data set (a batch) */
    d->prepared = PETSC_TRUE;
    PetscFunctionReturn(0);
  }
  /* Hᵀ1 over the measured box: the voxels the data see, and RL's normalisation. With an
     unmatched back projector B the normalisation is max(B1, Hᵀ1): B's own (B1) in and at the box,
     never below Hᵀ1 outside it, where B's negative lobes would make 1/B1 blow up
     (docs/methods/unmatched.md). */
  const float box_thr = d->boundary == PD_BOUNDARY_PERIODIC ? 0.0f : (float)d->weight_threshold;
  PetscCall(PdBoxWeightsDestroy(&d->bw));
  if (PdDeconComputesWeights(d, wl->n)) { /* from the PSF's box sums, row by row: nothing stored */
    PetscCall(PdVolumeFree(&d->w));
    PetscCall(PdBoxWeightsCreate(d, box_thr, &d->bw));
    d->prepared      = PETSC_TRUE;
    d->weights_ready = PETSC_TRUE;
    PetscFunctionReturn(0);
  }
  if (!d->w) PetscCall(PdVolumeAlloc((size_t)PetscMax(1, PdDeconLocalCount(d)), &d->w));
  PetscBool unmatched = PETSC_FALSE;
  if (d->ops->backprojector) PetscCall(d->ops->backprojector(d, &unmatched));
  if (!unmatched && d->nviews <= 1) { /* stored, but the same box sums as above (bit for bit) */
    PetscCall(PdBoxWeightsFill(d, box_thr, d->w));
    d->prepared      = PETSC_TRUE;
    d->weights_ready = PETSC_TRUE;
    PetscFunctionReturn(0);
  }
  PetscCall(FillBox(d));
  if (d->nviews > 1) PetscCall(PdMultiViewAdjointSum(d));
  else PetscCall(PdFFTConvApply(d->conv, PETSC_TRUE));
  if (unmatched) {
    PetscCall(PetscArraycpy(d->w, d->work, PdDeconLocalCount(d))); /* Hᵀ1 */
    PetscCall(FillBox(d));
    PetscCall(PdFFTConvApplyFilter(d->conv)); /* B1 */
  }
  /* B's tails, sharper than H's but with lobes, reach voxels far outside the box that the data
     barely see (Hᵀ1 small); there the unmatched update grows without bound: such voxels are
     not estimated. */
  const double support = unmatched ? PetscMax(d->weight_threshold, PD_UNMATCHED_SUPPORT) : d->weight_threshold;
  const float  thr     = d->boundary == PD_BOUNDARY_PERIODIC ? 0.0f : (float)support;
  for (ptrdiff_t z = 0; z < wl->nzl; z++)
    for (ptrdiff_t yy = 0; yy < wl->n[1]; yy++) {
      const float *a = (unmatched ? d->w : d->work) + z * wl->ps + yy * wl->rs, *b1 = d->work + z * wl->ps + yy * wl->rs;
      float       *w = d->w + z * wl->ps + yy * wl->rs;
      for (ptrdiff_t x = 0; x < wl->n[2]; x++) w[x] = a[x] > thr && a[x] > 1e-6f ? 1.0f / (unmatched ? PetscMax(a[x], b1[x]) : a[x]) : 0.0f;
      for (ptrdiff_t x = wl->n[2]; x < wl->rs; x++) w[x] = 0.0f; /* FFT row padding stays zero */
    }
  d->prepared      = PETSC_TRUE;
  d->weights_ready = PETSC_TRUE;
  PetscFunctionReturn(0);
}

static PetscErrorCode MethodSetUp(PdDecon d)
{
  PetscFunctionBegin;
  if (d->nviews > 1) PetscCall(PdMultiViewCheckMethod(d));
  PetscCall(PdDeconDataExpand(d)); /* the checks and the start read floats */
  if (!d->prepared) PetscCall(Prepare(d));
  d->start_time = PdTime();
  PetscCall(PdDeconStartEstimate(d)); /* where the data can see the object */
  d->start_time = PdTime() - d->start_time;
  if (d->release_psf && d->bw && d->psf) { /* the OTF, the box sums (and the coarse start's binned PSF) hold all it gave */
    PetscCall(PetscFree(d->psf));
    (void)malloc_trim(0); /* its pages lie amid the heap: hand them back before the method's state */
  }
  PetscCall(PdDeconDataCompact(d)); /* from here on only the ratio pass reads the data; before the method's state is allocated */
  if (d->ops->setup) PetscCall(d->ops->setup(d));
  d->msetup = PETSC_TRUE;
  d->it     = 0;
  PetscFunctionReturn(0);
}

PetscErrorCode PdDeconStep(PdDecon d, double *objective, double *change)
{
  PetscFunctionBegin;
  if (!d->msetup || !d->prepared) PetscCall(MethodSetUp(d));
  PetscCall(d->ops->step(d, (PetscBool)(d->nmonitor > 0 || objective != NULL), objective, change));
  d->it++;
  PetscFunctionReturn(0);
}

PetscErrorCode PdDeconSolve(PdDecon d)
{
  double    obj = NAN, change = 0, t0;
  PetscBool stop;

  PetscFunctionBegin;
  PetscCall(PdDeconSetUp(d));
  PetscCall(MethodSetUp(d));
  PetscCall(PdStopRuleSetUp(d));
  if (!d->max_it_set) { /* a rule without an iteration count asked for gets room to stop */
    DefaultIterations(d);
    d->max_it = PdStopRuleIterationLimit(d, d->max_it);
  }
  if (d->restart[0]) {
    PetscCall(PdDeconCheckpointLoad(d));
    d->restarting = PETSC_TRUE;
    if (d->ops->setup) PetscCall(d->ops->setup(d));
    d->restarting = PETSC_FALSE;
  }
  d->reason  = PD_DECON_ITERATING;
  t0         = PdTime() - d->start_time; /* the start is work of the solve too (a binned solve) */
  d->t_start = t0;
  d->it_start = d->it;
  while (d->it < d->max_it) {
    PetscCall(PdStopRuleBeforeStep(d));
    PetscCall(d->ops->step(d, (PetscBool)(d->nmonitor > 0 || PdStopRuleWantsObjective(d)), &obj, &change));
    d->it++;
    for (PetscInt i = 0; i < d->nmonitor; i++) PetscCall(d->monitor[i](d, d->it, obj, change, d->monitor_ctx[i]));
    if (!isfinite(change)) {
      d->reason = PD_DECON_DIVERGED_NANORINF;
      break;
    }
    if (change < d->rtol || d->ops->direct) {
      d->reason = d->ops->direct ? PD_DECON_CONVERGED_ITS : PD_DECON_CONVERGED_RTOL;
      break;
    }
    PetscCall(PdStopRuleTest(d, change, &stop));
    if (stop) {
      d->reason = PD_DECON_CONVERGED_STOP_RULE;
      break;
    }
    PetscCall(PdStopRequested(d->comm, &stop));
    if (stop && d->nested) { /* the outer solver saves its state after its next step */
      d->reason = PD_DECON_STOPPED_SIGNAL;
      break;
    }
    if (stop) {
      PetscCheck(d->checkpoint[0], d->comm, PD_ERR_INPUT, "%s: stopped by a signal at iteration %" PetscInt_FMT " with no -decon_checkpoint file to save to", d->dataname, d->it);
      PetscCall(PdDeconCheckpointWrite(d));
      d->reason = PD_DECON_STOPPED_SIGNAL;
      break;
    }
    if (d->checkpoint_every > 0 && d->it % d->checkpoint_every == 0 && d->it < d->max_it) PetscCall(PdDeconCheckpointWrite(d));
  }
  if (d->reason == PD_DECON_ITERATING) d->reason = PD_DECON_CONVERGED_ITS;
  d->solve_time = PdTime() - t0;
  if (d->converged_reason) PetscCall(PdDeconConvergedReasonView(d, PETSC_VIEWER_STDOUT_(d->comm)));
  PetscCheck(d->reason != PD_DECON_DIVERGED_NANORINF, d->comm, PETSC_ERR_NOT_CONVERGED, "%s: deconvolution diverged (NaN or Inf) at iteration %" PetscInt_FMT, d->dataname, d->it);
  PetscFunctionReturn(0);
}

PetscErrorCode PdDeconSetCheckpoint(PdDecon d, const char *path, PetscInt every)
{
  PetscFunctionBegin;
  PetscCall(PetscStrncpy(d->checkpoint, path ? path : "", sizeof(d->checkpoint)));
  if (every >= 0) d->checkpoint_every = every;
  PetscFunctionReturn(0);
}

PetscErrorCode PdDeconGetCheckpoint(PdDecon d, const char **path)
{
  PetscFunctionBegin;
  *path = d->checkpoint;
  PetscFunctionReturn(0);
}

PetscErrorCode PdDeconSetRestart(PdDecon d, const char *path)
{
  PetscFunctionBegin;
  PetscCall(PetscStrncpy(d->restart, path ? path : "", sizeof(d->restart)));
  PetscFunctionReturn(0);
}

PetscErrorCode PdDeconConvergedReasonView(PdDecon d, PetscViewer v)
{
  PetscFunctionBegin;
  PetscCall(PetscViewerASCIIPrintf(v, "Deconvolution (%s) %s due to %s iterations %" PetscInt_FMT " (%.2f s)\n", d->ops->name, d->reason > 0 ? "converged" : d->reason == PD_DECON_STOPPED_SIGNAL ? "stopped (checkpoint written)" : "diverged", ReasonName(d->reason), d->it,
                                   d->solve_time));
  PetscCall(PdStopRuleReasonView(d, v));
  PetscFunctionReturn(0);
}

PetscErrorCode PdDeconGetSolution(PdDecon d, const PdLayout **lay, const float **x)
{
  PetscFunctionBegin;
  PetscCall(PdDeconSetUp(d));
  if (lay) *lay = d->blay;
  if (x) *x = d->x;
  PetscFunctionReturn(0);
}

PetscErrorCode PdDeconGetWorkingSize(PdDecon d, ptrdiff_t n[3])
{
  PetscFunctionBegin;
  PetscCall(PdDeconSetUp(d));
  for (int i = 0; i < 3; i++) n[i] = d->lay->n[i];
  PetscFunctionReturn(0);
}

PetscErrorCode PdDeconGetFFTConv(PdDecon d, PdFFTConv *c)
{
  PetscFunctionBegin;
  *c = d->conv;
  PetscFunctionReturn(0);
}

PetscErrorCode PdDeconGetIterationNumber(PdDecon d, PetscInt *it)
{
  PetscFunctionBegin;
  *it = d->it;
  PetscFunctionReturn(0);
}

PetscErrorCode PdDeconGetConvergedReason(PdDecon d, PdDeconConvergedReason *r)
{
  PetscFunctionBegin;
  *r = d->reason;
  PetscFunctionReturn(0);
}

PetscErrorCode PdDeconGetSolveTime(PdDecon d, double *s)
{
  PetscFunctionBegin;
  *s = d->reason == PD_DECON_ITERATING ? PdTime() - d->t_start : d->solve_time;
  PetscFunctionReturn(0);
}

PetscErrorCode PdDeconGetMemoryEstimate(PdDecon d, double *bytes)
{
  PetscFunctionBegin;
  *bytes = d->memory_estimate;
  PetscFunctionReturn(0);
}

PetscErrorCode PdDeconGetVolumeCount(PdDecon d, PetscInt *count)
{
  PetscFunctionBegin;
  *count = d->ops->nvolumes + (d->ops->extra_volumes ? d->ops->extra_volumes(d) : 0);
  PetscFunctionReturn(0);
}

PetscErrorCode PdDeconMonitorCancel(PdDecon d)
{
  PetscFunctionBegin;
  d->nmonitor = 0;
  PetscFunctionReturn(0);
}

PetscErrorCode PdDeconMonitorSet(PdDecon d, PdDeconMonitorFn fn, void *ctx)
{
  PetscFunctionBegin;
  PetscCheck(d->nmonitor < 4, d->comm, PETSC_ERR_ARG_OUTOFRANGE, "too many monitors");
  d->monitor[d->nmonitor]       = fn;
  d->monitor_ctx[d->nmonitor++] = ctx;
  PetscFunctionReturn(0);
}

PetscErrorCode PdDeconView(PdDecon d, PetscViewer v)
{
  ptrdiff_t n[3];

  PetscFunctionBegin;
  PetscCall(PdDeconSetUp(d));
  for (int i = 0; i < 3; i++) n[i] = d->lay->n[i];
  PetscCall(PetscViewerASCIIPrintf(v, "Deconvolution: method %s (%s)\n", d->ops->name, d->ops->description));
  PetscCall(PetscViewerASCIIPushTab(v));
  PetscCall(PetscViewerASCIIPrintf(v, "image %td x %td x %td, PSF %td x %td x %td (centre %td,%td,%td), boundary %s\n", d->m[0], d->m[1], d->m[2], d->pn[0], d->pn[1], d->pn[2], d->pc[0], d->pc[1],
                                   d->pc[2], PdBoundaryTypes[d->boundary]));
  PetscCall(PdFFTConvView(d->conv, v));
  PetscInt nvol;
  PetscCall(PdDeconGetVolumeCount(d, &nvol));
  const PetscInt nhalf = d->ops->half_volumes ? d->ops->half_volumes(d) : 0;
  PetscBool      real;
  char           half[64] = "";
  PetscCall(PdFFTConvGetOTFIsReal(d->conv, &real));
  if (nhalf) PetscCall(PetscSNPrintf(half, sizeof(half), " + %" PetscInt_FMT " in 16 bits", nhalf));
  PetscCall(PetscViewerASCIIPrintf(v, "slabs: %d ranks, this rank owns %td planes; state: %" PetscInt_FMT " working volumes of %.1f MiB per rank%s + OTF%s + data\n", d->lay->size, d->lay->nzl,
                                   nvol, PdDeconLocalCount(d) * 4.0 / 1048576.0, half, real ? " (real)" : ""));
  /* before the data is read an estimated background is not known yet: say how it will be found */
  if (d->bg_user >= 0) PetscCall(PetscViewerASCIIPrintf(v, "max_it %" PetscInt_FMT ", rtol %.6g, background %.6g\n", PdStopRuleIterationLimit(d, d->max_it), d->rtol, d->bg_user));
  else if (d->prepared) PetscCall(PetscViewerASCIIPrintf(v, "max_it %" PetscInt_FMT ", rtol %.6g, background %.6g (the data's %.6g percentile)\n", PdStopRuleIterationLimit(d, d->max_it), d->rtol, d->bg, d->bg_percentile));
  else PetscCall(PetscViewerASCIIPrintf(v, "max_it %" PetscInt_FMT ", rtol %.6g, background: the data's %.6g percentile (estimated when the data is read)\n", PdStopRuleIterationLimit(d, d->max_it), d->rtol, d->bg_percentile));
  if (!d->ops->direct) PetscCall(PetscViewerASCIIPrintf(v, "start: %s\n", PdDeconStartTypes[PdDeconStartType(d)]));
  PetscCall(PdStopRuleView(d, v));
  if (d->ops->view) PetscCall(d->ops->view(d, v));
  PetscCall(PetscViewerASCIIPopTab(v));
  (void)n;
  PetscFunctionReturn(0);
}

PetscErrorCode PdDeconGetThreadSums(PdDecon d, double **sums)
{
  const int nt = PdGetThreads();

  PetscFunctionBegin;
  if (d->ntsums != nt) {
    PetscCall(PetscFree(d->tsums));
    PetscCall(PetscMalloc1(PD_THREAD_SUMS * nt, &d->tsums));
    d->ntsums = nt;
  }
  PetscCall(PetscArrayzero(d->tsums, PD_THREAD_SUMS * nt));
  *sums = d->tsums;
  PetscFunctionReturn(0);
}

PetscErrorCode PdDeconDestroy(PdDecon *dd)
{
  PdDecon d = *dd;

  PetscFunctionBegin;
  if (!d) PetscFunctionReturn(0);
  if (d->ops->destroy) PetscCall(d->ops->destroy(d));
  PetscCall(PetscFree(d->tsums));
  PetscCall(PdStopRuleDestroy(d));
  PetscCall(PdMultiViewDestroy(d));
  PetscCall(PdVolumeFree(&d->y));
  PetscCall(PdVolumeFree(&d->w));
  PetscCall(PdBoxWeightsDestroy(&d->bw));
  PetscCall(PdVolumeFree(&d->x));
  PetscCall(PdLayoutDestroy(&d->blay));
  PetscCall(PdLayoutDestroy(&d->dlay));
  PetscCall(PdFFTConvDestroy(&d->conv));
  PetscCall(PetscFree(d->psf));
  PetscCall(PetscFree(d->psfc));
  PetscCall(PetscFree(d->dataname));
  PetscCall(PetscFree(d->psfname));
  PetscCall(PetscFree(d->prefix));
  PetscCall(PetscViewerDestroy(&d->monitor_viewer));
  PetscCall(PetscFree(d));
  *dd = NULL;
  PetscFunctionReturn(0);
}
