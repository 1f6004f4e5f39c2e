/* pdecon compare: score volumes against a reference (ground truth): PSNR, PSNR after the
   least-squares scaling of the volume, SSIM and RSNR (definitions in quality/metrics.h), one line
   per volume. Every volume is read in z-slabs and scored in place, on any number of ranks, with
   the same numbers on every rank count. */
#include "app.h"
#include <pdecon/io/io.h>
#include <pdecon/quality/metrics.h>
#include <string.h>

#define MAX_COMPARE 64

PetscErrorCode CmdCompare(MPI_Comm comm)
{
  char        truth[PETSC_MAX_PATH_LEN] = "", *inputs[MAX_COMPARE];
  PetscInt    nin = MAX_COMPARE;
  PetscBool   has_truth, has_in;
  PdImageInfo ti;
  PdLayout   *lay;
  float      *t, *v;
  int         width = 5;

  PetscFunctionBegin;
  PetscOptionsBegin(comm, NULL, "pdecon compare", "");
  PetscCall(PetscOptionsString("-truth", "Reference volume (file.tif or file.h5:/dataset)", "", truth, truth, sizeof(truth), &has_truth));
  PetscCall(PetscOptionsStringArray("-input", "Volumes to score, comma separated, each of the truth's size", "", inputs, &nin, &has_in));
  PetscOptionsEnd();
  if (!has_in) nin = 0;
  if (AppHelpRequested()) goto done;
  PetscCall(AppCheckOptionsUsed(comm));
  PetscCheck(has_truth && truth[0], comm, PD_ERR_INPUT, "compare needs -truth FILE (see -help)");
  PetscCheck(nin > 0, comm, PD_ERR_INPUT, "compare needs -input FILE[,FILE...] (see -help)");
  /* every input is checked before any is read: a bad one fails the run with no table */
  PetscCall(PdImageQuery(comm, truth, &ti));
  PetscCheck(ti.nt == 0, comm, PD_ERR_INPUT, "%s: a 4-D dataset: name one stack as FILE:/dataset[t]", truth);
  for (PetscInt i = 0; i < nin; i++) {
    PdImageInfo info;
    PetscCall(PdImageQuery(comm, inputs[i], &info));
    PetscCheck(info.nt == 0, comm, PD_ERR_INPUT, "%s: a 4-D dataset: name one stack as FILE:/dataset[t]", inputs[i]);
    PetscCheck(info.n[0] == ti.n[0] && info.n[1] == ti.n[1] && info.n[2] == ti.n[2], comm, PD_ERR_INPUT, "%s: size %td x %td x %td differs from the truth's %td x %td x %td", inputs[i], info.n[0], info.n[1],
               info.n[2], ti.n[0], ti.n[1], ti.n[2]);
    width = PetscMax(width, (int)strlen(inputs[i]));
  }
  PetscCall(PdLayoutCreateBlock(comm, ti.n, &lay));
  PetscCall(PdVolumeAlloc(PdLayoutLocalSize(lay), &t));
  PetscCall(PdVolumeAlloc(PdLayoutLocalSize(lay), &v));
  PetscCall(PdImageRead(truth, lay, t));
  PetscCall(PetscPrintf(comm, "truth %s: %td x %td x %td\n", truth, ti.n[0], ti.n[1], ti.n[2]));
  PetscCall(PetscPrintf(comm, "%-*s  %9s  %12s  %7s  %9s\n", width, "input", "PSNR (dB)", "PSNR-ls (dB)", "SSIM", "RSNR (dB)"));
  for (PetscInt i = 0; i < nin; i++) {
    PdQuality q;
    PetscCall(PdImageRead(inputs[i], lay, v));
    PetscCall(PdMetricAll(lay, v, lay, t, &q));
    PetscCall(PetscPrintf(comm, "%-*s  %9.4f  %12.4f  %7.5f  %9.4f\n", width, inputs[i], q.psnr, q.psnr_scaled, q.ssim, q.rsnr));
  }
  PetscCall(PetscPrintf(comm, "PSNR-ls: PSNR of a v against the truth with the least-squares a = <v,t>/<v,v>; SSIM: 3-D, Gaussian window (sigma 1.5); RSNR: after the affine fit a v + b\n"));
  PetscCall(PdVolumeFree(&t));
  PetscCall(PdVolumeFree(&v));
  PetscCall(PdLayoutDestroy(&lay));
done:
  for (PetscInt i = 0; i < nin; i++) PetscCall(PetscFree(inputs[i]));
  PetscFunctionReturn(0);
}
