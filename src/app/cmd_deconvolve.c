/* pdecon deconvolve: restore one 3D stack with any iterative method. */
#include "app.h"
#include <pdecon/decon.h>
#include <pdecon/io.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

PetscErrorCode CmdDeconvolve(MPI_Comm comm)
{
  char            input[PETSC_MAX_PATH_LEN] = "", output[PETSC_MAX_PATH_LEN] = "", preview[PETSC_MAX_PATH_LEN] = "", psfname[PETSC_MAX_PATH_LEN];
  char            otype[16] = "float32", *opts = NULL;
  PetscBool       has_in, has_out, view = PETSC_FALSE, bigendian = PETSC_FALSE;
  PdImageInfo     info = {{0, 0, 0}, {0, 0, 0}, ""};
  AppPSFOptions   po;
  PdDecon         d = NULL;
  ptrdiff_t       pn[3];
  float          *psf = NULL, *y;
  const float    *x;
  const PdLayout *dlay, *xlay;
  const char     *method;
  PetscInt        its;

  PetscFunctionBegin;
  /* from the start: a stop signal during set-up then stops after the first iteration */
  PetscCall(PdStopHandlerInstall());
  PetscOptionsBegin(comm, NULL, "pdecon deconvolve", "");
  PetscCall(PetscOptionsString("-input", "Measured stack: file.tif or file.h5:/dataset", "", input, input, sizeof(input), &has_in));
  PetscCall(PetscOptionsString("-output", "Result: file.h5:/dataset or file.tif (written atomically)", "", output, output, sizeof(output), &has_out));
  PetscCall(PetscOptionsString("-output_type", "Sample type of the result: float32, uint16 or uint8 (integers are rounded and clamped)", "", otype, otype, sizeof(otype), NULL));
  PetscCall(PetscOptionsBool("-output_bigendian", "Write TIFF big-endian", "", bigendian, &bigendian, NULL));
  PetscCall(PetscOptionsString("-preview", "PNG of max-intensity projections, input beside result", "", preview, preview, sizeof(preview), NULL));
  PetscCall(PetscOptionsBool("-view", "Describe the set-up (sizes, slabs, memory) before solving", "", view, &view, NULL));
  PetscOptionsEnd();
  if (has_in && !AppHelpRequested()) PetscCall(PdImageQuery(comm, input, &info));
  PetscCall(AppPSFSetFromOptions(comm, info.voxel, &po));
  PetscCall(PdDeconCreate(comm, &d));
  PetscCall(PdDeconSetFromOptions(d));
  if (AppHelpRequested()) {
    PetscCall(PdDeconDestroy(&d));
    PetscFunctionReturn(0);
  }
  PetscCall(AppCheckOptionsUsed(comm));
  PetscCheck(has_in && input[0], comm, PD_ERR_INPUT, "deconvolve needs -input FILE (see -help)");
  PetscCheck(has_out && output[0], comm, PD_ERR_INPUT, "deconvolve needs -output FILE (see -help)");
  {
    const char *inputs[2] = {input, po.file};
    PetscCall(PdOutputCheck(comm, output, po.file[0] ? 2 : 1, inputs));
    if (preview[0]) PetscCall(PdOutputCheck(comm, preview, po.file[0] ? 2 : 1, inputs));
  }
  PetscCall(AppPSFCompute(comm, &po, pn, &psf, psfname, sizeof(psfname)));
  PetscCall(PdDeconSetImageSize(d, info.n, input));
  PetscCall(PdDeconSetPSF(d, pn, psf, psfname));
  PetscCall(PetscFree(psf));
  PetscCall(PdDeconSetUp(d));
  {
    /* A stop signal (batch time limit) saves the state next to the output unless told where. */
    const char *ck;
    PetscCall(PdDeconGetCheckpoint(d, &ck));
    if (!ck[0]) {
      char path[PETSC_MAX_PATH_LEN], *colon;
      PetscCall(PetscStrncpy(path, output, sizeof(path)));
      if ((colon = strstr(path, ".h5:")) || (colon = strstr(path, ".hdf5:")) || (colon = strstr(path, ".he5:"))) *strchr(colon, ':') = 0;
      PetscCall(PetscStrlcat(path, ".checkpoint.h5", sizeof(path)));
      PetscCall(PdDeconSetCheckpoint(d, path, -1));
    }
  }
  if (view) PetscCall(PdDeconView(d, PETSC_VIEWER_STDOUT_(comm)));
  PetscCall(PdDeconGetData(d, &dlay, &y));
  PetscCall(PdImageRead(input, dlay, y));
  PetscCall(PdDeconSolve(d));
  PetscCall(PdDeconConvergedReasonView(d, PETSC_VIEWER_STDOUT_(comm)));
  {
    PdDeconConvergedReason reason;
    const char            *ck;
    PetscCall(PdDeconGetConvergedReason(d, &reason));
    PetscCall(PdDeconGetCheckpoint(d, &ck));
    if (reason == PD_DECON_STOPPED_SIGNAL) {
      PetscCall(PetscPrintf(comm, "stopped by a signal: state saved in %s; continue with -restart %s\n", ck, ck));
      AppExitStatus = PD_EXIT_STOPPED;
      PetscCall(PdDeconDestroy(&d));
      PetscFunctionReturn(0);
    }
  }
  PetscCall(PdDeconGetSolution(d, &xlay, &x));
  PetscCall(PdDeconGetMethod(d, &method));
  PetscCall(PdDeconGetIterationNumber(d, &its));
  PetscCall(AppOptionsString(&opts));
  {
    PdImageAttrs a = {{info.voxel[0], info.voxel[1], info.voxel[2]}, method, its, opts, otype, bigendian};
    PetscCall(PdImageWrite(output, xlay, x, &a));
  }
  PetscCall(PetscFree(opts));
  if (preview[0]) {
    const PdLayout *lays[2] = {dlay, xlay};
    const float    *vols[2] = {y, x};
    PetscCall(PdWriteMIPPng(preview, 2, lays, vols, info.voxel));
  }
  PetscCall(PetscPrintf(comm, "wrote %s%s%s\n", output, preview[0] ? " and " : "", preview));
  {
    /* the result is safe: the checkpoint is obsolete */
    const char *ck;
    int         rank;
    PetscCall(PdDeconGetCheckpoint(d, &ck));
    PetscCallMPI(MPI_Comm_rank(comm, &rank));
    if (rank == 0 && ck[0] && access(ck, F_OK) == 0) (void)unlink(ck);
  }
  PetscCall(PdDeconDestroy(&d));
  PetscFunctionReturn(0);
}
