/* Data-parallel mini-batches shared by the trainers (train_batch.h). */
#include <pdecon/learn/train_batch.h>

PetscErrorCode PdBatchShare(MPI_Comm comm, PetscInt B, ptrdiff_t *j0, ptrdiff_t *nj)
{
  int rank, size;

  PetscFunctionBegin;
  PetscCallMPI(MPI_Comm_rank(comm, &rank));
  PetscCallMPI(MPI_Comm_size(comm, &size));
  PdBlockRange(B, size, rank, j0, nj);
  PetscFunctionReturn(0);
}

void PdFormatSeconds(double s, char *buf, size_t len)
{
  if (s < 120) PetscSNPrintf(buf, len, "%.1f s", s);
  else if (s < 7200) PetscSNPrintf(buf, len, "%.1f min", s / 60);
  else PetscSNPrintf(buf, len, "%.1f h", s / 3600);
}
