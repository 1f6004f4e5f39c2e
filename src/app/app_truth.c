/* Scoring a deconvolution against a known truth (-decon_truth), before, during and after. */
#include "app_truth.h"
#include <pdecon/quality/metrics.h>

PetscErrorCode AppTruthSetFromOptions(MPI_Comm comm, const char *prefix, AppTruth *tr)
{
  PetscFunctionBegin;
  PetscOptionsBegin(comm, prefix, "Scoring against a known truth", "");
  PetscCall(PetscOptionsString("-decon_truth", "Ground truth of the input (same size): print PSNR, SSIM, RSNR of input and result, and of every iterate with -decon_monitor", "", tr->spec, tr->spec, sizeof(tr->spec), NULL));
  PetscOptionsEnd();
  PetscCall(PetscOptionsHasName(NULL, prefix, "-decon_monitor", &tr->monitor));
  PetscFunctionReturn(0);
}

PetscErrorCode AppTruthSolverChanged(AppTruth *tr)
{
  PetscFunctionBegin;
  tr->attached = PETSC_FALSE;
  tr->lay      = NULL;
  PetscCall(PdVolumeFree(&tr->t));
  PetscFunctionReturn(0);
}

static PetscErrorCode PrintQuality(MPI_Comm comm, const char *what, const PdQuality *q)
{
  PetscFunctionBegin;
  PetscCall(PetscPrintf(comm, "%s: PSNR %.4f dB  PSNR-ls %.4f dB  SSIM %.5f  RSNR %.4f dB\n", what, q->psnr, q->psnr_scaled, q->ssim, q->rsnr));
  PetscFunctionReturn(0);
}

static PetscErrorCode TruthMonitor(PdDecon d, PetscInt it, double obj, double change, void *ctx)
{
  AppTruth       *tr = (AppTruth *)ctx;
  const PdLayout *xl;
  const float    *x;
  PdQuality       q;
  char            what[64];

  PetscFunctionBegin;
  (void)obj;
  (void)change;
  if (!tr->t) PetscFunctionReturn(0);
  PetscCall(PdDeconGetSolution(d, &xl, &x));
  PetscCall(PdMetricAll(xl, x, tr->lay, tr->t, &q));
  PetscCall(PetscSNPrintf(what, sizeof(what), "  %3" PetscInt_FMT " vs truth", it));
  PetscCall(PrintQuality(xl->comm, what, &q));
  PetscFunctionReturn(0);
}

PetscErrorCode AppTruthAttach(MPI_Comm comm, AppTruth *tr, PdDecon d, const char *input, const PdImageInfo *info)
{
  PdImageInfo     ti;
  const PdLayout *dl;
  float          *y;
  PdQuality       q;

  PetscFunctionBegin;
  if (!tr->spec[0]) PetscFunctionReturn(0);
  PetscCall(PdImageQuery(comm, tr->spec, &ti));
  PetscCheck(ti.nt == 0 && ti.n[0] == info->n[0] && ti.n[1] == info->n[1] && ti.n[2] == info->n[2], comm, PD_ERR_INPUT, "%s: a truth of %td x %td x %td for the input %s of %td x %td x %td", tr->spec, ti.n[0], ti.n[1], ti.n[2], input,
             info->n[0], info->n[1], info->n[2]);
  PetscCall(PdDeconGetData(d, &dl, &y));
  if (!tr->t) PetscCall(PdVolumeAlloc(PdLayoutLocalSize(dl), &tr->t));
  tr->lay = dl;
  PetscCall(PdImageRead(tr->spec, dl, tr->t));
  PetscCall(PdMetricAll(dl, y, dl, tr->t, &q));
  PetscCall(PrintQuality(comm, "input vs truth", &q));
  if (tr->monitor && !tr->attached) PetscCall(PdDeconMonitorSet(d, TruthMonitor, tr));
  tr->attached = PETSC_TRUE;
  PetscFunctionReturn(0);
}

PetscErrorCode AppTruthReport(MPI_Comm comm, AppTruth *tr, PdDecon d)
{
  const PdLayout *xl;
  const float    *x;
  PdQuality       q;

  PetscFunctionBegin;
  if (!tr->t) PetscFunctionReturn(0);
  PetscCall(PdDeconGetSolution(d, &xl, &x));
  PetscCall(PdMetricAll(xl, x, tr->lay, tr->t, &q));
  PetscCall(PrintQuality(comm, "result vs truth", &q));
  PetscFunctionReturn(0);
}

PetscErrorCode AppTruthDestroy(AppTruth *tr)
{
  PetscFunctionBegin;
  PetscCall(PdVolumeFree(&tr->t));
  PetscFunctionReturn(0);
}
