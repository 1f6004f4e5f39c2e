/* The dynamic work queue of tiled deconvolution (see tiles_impl.h).

   Each group's rank 0 draws the next ticket with MPI_Fetch_and_op (an atomic add of 1) on a
   counter held in a window on rank 0 of the whole communicator, under a shared passive-target
   lock: a group takes a tile when it is free, so large or slow tiles do not hold the others back,
   and no rank sits idle serving requests. The ticket is broadcast to the rest of the group. */
#include "decon/tiles_impl.h"

PetscErrorCode PdTileQueueCreate(MPI_Comm comm, MPI_Comm group, PdTileQueue *q)
{
  int rank;

  PetscFunctionBegin;
  PetscCallMPI(MPI_Comm_rank(comm, &rank));
  PetscCallMPI(MPI_Comm_rank(group, &q->grank));
  q->group = group;
  PetscCallMPI(MPI_Win_allocate(rank == 0 ? (MPI_Aint)sizeof(long) : 0, (int)sizeof(long), MPI_INFO_NULL, comm, &q->counter, &q->win));
  if (rank == 0) {
    /* a local store into the window, made visible before anyone draws */
    PetscCallMPI(MPI_Win_lock(MPI_LOCK_EXCLUSIVE, 0, 0, q->win));
    *q->counter = 0;
    PetscCallMPI(MPI_Win_unlock(0, q->win));
  }
  PetscCallMPI(MPI_Barrier(comm));
  PetscFunctionReturn(0);
}

PetscErrorCode PdTileQueueNext(PdTileQueue *q, long *ticket)
{
  const long one = 1;

  PetscFunctionBegin;
  if (q->grank == 0) {
    PetscCallMPI(MPI_Win_lock(MPI_LOCK_SHARED, 0, 0, q->win));
    PetscCallMPI(MPI_Fetch_and_op(&one, ticket, MPI_LONG, 0, 0, MPI_SUM, q->win));
    PetscCallMPI(MPI_Win_unlock(0, q->win));
  }
  PetscCallMPI(MPI_Bcast(ticket, 1, MPI_LONG, 0, q->group));
  PetscFunctionReturn(0);
}

PetscErrorCode PdTileQueueDestroy(PdTileQueue *q)
{
  PetscFunctionBegin;
  PetscCallMPI(MPI_Win_free(&q->win));
  PetscFunctionReturn(0);
}
