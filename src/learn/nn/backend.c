/* The convolution backends of the CNN engine: which a build has, the process-wide default
   (-nn_backend) that new networks take, and a network's own choice (nn.h). */
#include "learn/nn/nn_impl.h"

const char *const PdNNBackends[] = {"blas", "dnnl", "auto", "PdNNBackend", "PD_NN_BACKEND_", NULL};

static PdNNBackend default_backend = PD_NN_BACKEND_AUTO;

PdNNBackend PdNNDefaultBackend(void) { return default_backend; }

/* Whether this build has oneDNN (the library target defines PDECON_HAVE_DNNL when CMake found it). */
PetscBool PdNNBackendAvailable(PdNNBackend backend)
{
#if defined(PDECON_HAVE_DNNL)
  (void)backend;
  return PETSC_TRUE;
#else
  return backend != PD_NN_BACKEND_DNNL;
#endif
}

PetscErrorCode PdNNSetDefaultBackend(PdNNBackend backend)
{
  PetscFunctionBegin;
  PetscCheck(PdNNBackendAvailable(backend), PETSC_COMM_SELF, PD_ERR_INPUT, "-nn_backend %s: this pdecon is built without it", PdNNBackends[backend]);
  default_backend = backend;
  PetscFunctionReturn(0);
}

PetscErrorCode PdNNBackendSetFromOptions(MPI_Comm comm)
{
  PdNNBackend b = default_backend;

  PetscFunctionBegin;
  PetscOptionsBegin(comm, NULL, "CNN engine", "");
  PetscCall(PetscOptionsEnum("-nn_backend", "Convolutions of the CNN engine: auto (per layer), blas (im2col + OpenBLAS) or dnnl (oneDNN)", "", PdNNBackends, (PetscEnum)b, (PetscEnum *)&b, NULL));
  PetscOptionsEnd();
  PetscCheck(PdNNBackendAvailable(b), comm, PD_ERR_INPUT, "-nn_backend %s: this pdecon is built without it", PdNNBackends[b]);
  default_backend = b;
  PetscFunctionReturn(0);
}

PetscErrorCode PdNNSetBackend(PdNN net, PdNNBackend backend)
{
  PetscFunctionBegin;
  PetscCheck(PdNNBackendAvailable(backend), PETSC_COMM_SELF, PD_ERR_INPUT, "-nn_backend %s: this pdecon is built without it", PdNNBackends[backend]);
  net->backend = backend;
  PetscFunctionReturn(0);
}

PetscErrorCode PdNNGetBackend(PdNN net, PdNNBackend *backend)
{
  *backend = net->backend;
  return 0;
}
