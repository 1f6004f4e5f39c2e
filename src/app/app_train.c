/* What every trainer of pdecon train shares (the regulariser's in cmd_train.c, the networks' in
   train_cnn.c and train_gan.c): the checks that the checkpoint and the model are never an input,
   the stop report, the removal of an obsolete checkpoint, and gathering a slab volume. */
#include "app.h"
#include <pdecon/io/io.h>
#include <pdecon/core/layout.h>
#include <unistd.h>

PetscErrorCode AppAllgatherVolume(const PdLayout *lay, const float *v, float **all)
{
  const ptrdiff_t ns = lay->n[1] * lay->n[2];
  int            *counts, *displs;

  PetscFunctionBegin;
  PetscCheck(lay->rs == lay->n[2] && lay->ps == ns, lay->comm, PETSC_ERR_ARG_WRONG, "a compact volume is needed");
  PetscCall(PetscMalloc1(PetscMax(1, lay->n[0] * ns), all));
  PetscCall(PetscMalloc2(lay->size, &counts, lay->size, &displs));
  for (int r = 0; r < lay->size; r++) {
    counts[r] = (int)((lay->zstart[r + 1] - lay->zstart[r]) * ns);
    displs[r] = (int)(lay->zstart[r] * ns);
  }
  PetscCallMPI(MPI_Allgatherv(v, counts[lay->rank], MPI_FLOAT, *all, counts, displs, MPI_FLOAT, lay->comm));
  PetscCall(PetscFree2(counts, displs));
  PetscFunctionReturn(0);
}

PetscErrorCode AppTrainCheckFiles(MPI_Comm comm, const char *output, int nin, const char *inputs[], const char *restart)
{
  /* the checkpoint is overwritten at every save and removed at the end: never an input (the
     restart file may be the checkpoint itself) nor the model */
  char ck[PETSC_MAX_PATH_LEN] = "";

  PetscFunctionBegin;
  PetscCall(PetscOptionsGetString(NULL, NULL, "-train_checkpoint", ck, sizeof(ck), NULL));
  inputs[nin] = output;
  if (ck[0]) PetscCall(PdOutputCheck(comm, ck, nin + 1, inputs));
  if (restart && restart[0]) inputs[nin++] = restart;
  PetscCall(PdOutputCheck(comm, output, nin, inputs));
  PetscFunctionReturn(0);
}

PetscErrorCode AppTrainRemoveCheckpoint(MPI_Comm comm)
{
  /* the model is safe: the checkpoint is obsolete */
  char ck[PETSC_MAX_PATH_LEN] = "";
  int  rank;

  PetscFunctionBegin;
  PetscCallMPI(MPI_Comm_rank(comm, &rank));
  PetscCall(PetscOptionsGetString(NULL, NULL, "-train_checkpoint", ck, sizeof(ck), NULL));
  if (rank == 0 && ck[0] && access(ck, F_OK) == 0) (void)unlink(ck);
  PetscFunctionReturn(0);
}

PetscErrorCode AppTrainReportStop(MPI_Comm comm, PetscInt step)
{
  char ck[PETSC_MAX_PATH_LEN] = "";

  PetscFunctionBegin;
  PetscCall(PetscOptionsGetString(NULL, NULL, "-train_checkpoint", ck, sizeof(ck), NULL));
  PetscCall(PetscPrintf(comm, "train: stopped by a signal after batch %" PetscInt_FMT ": state saved in %s; continue with -restart %s\n", step, ck, ck));
  AppExitStatus = PD_EXIT_STOPPED;
  PetscFunctionReturn(0);
}
