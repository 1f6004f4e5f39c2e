/* A barrier that waits without spinning (app.h): on a machine with more ranks than cores, the
   ranks that are done give their core to those still working, so timings of the busy ones are
   not inflated by the idle ones polling. */
#include "app.h"
#include <unistd.h>

PetscErrorCode AppIdleBarrier(MPI_Comm comm)
{
  MPI_Request req;
  int         done = 0;

  PetscFunctionBegin;
  PetscCallMPI(MPI_Ibarrier(comm, &req));
  while (!done) {
    PetscCallMPI(MPI_Test(&req, &done, MPI_STATUS_IGNORE));
    if (!done) usleep(2000);
  }
  PetscFunctionReturn(0);
}
