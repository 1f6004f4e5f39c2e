/* The convolution backends of the CNN engine: which a build has, the process-wide default
   (-nn_backend) that new networks take, a network's own choice (nn.h), and who computes each
   convolution under that choice. */
#include "learn/nn/nn_impl.h"

const char *const PdNNBackends[] = {"blas", "dnnl", "auto", "fft", "PdNNBackend", "PD_NN_BACKEND_", NULL};

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
  PetscInt    tile;
  PetscBool   measure;

  PetscFunctionBegin;
  PdNNFftGetPlanning(&tile, &measure);
  PetscOptionsBegin(comm, NULL, "CNN engine", "");
  PetscCall(PetscOptionsEnum("-nn_backend", "Convolutions of the CNN engine: auto (per layer), blas (im2col + OpenBLAS), dnnl (oneDNN) or fft (FFT convolution at inference)", "", PdNNBackends, (PetscEnum)b, (PetscEnum *)&b, NULL));
  PetscCall(PetscOptionsInt("-nn_fft_tile", "Output tile side of the FFT convolutions (0: 64, or 32 with -nn_fft_measure)", "", tile, &tile, NULL));
  PetscCall(PetscOptionsBool("-nn_fft_measure", "Measured FFT plans for the FFT convolutions: faster on some layers, but their rounding differs from run to run", "", measure, &measure, NULL));
  PetscOptionsEnd();
  PetscCheck(PdNNBackendAvailable(b), comm, PD_ERR_INPUT, "-nn_backend %s: this pdecon is built without it", PdNNBackends[b]);
  PetscCheck(tile == 0 || (tile >= 8 && tile <= 4096), comm, PD_ERR_INPUT, "-nn_fft_tile %" PetscInt_FMT ": must be 0 (the default) or between 8 and 4096", tile);
  default_backend = b;
  PdNNFftSetPlanning(tile, measure);
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

/* Auto: oneDNN's direct convolutions beat im2col + SGEMM where both sides have many channels
   (Isonet-2's 7×7 layers, about 1.8×); a layer with few channels on a side (a network's first
   and last) or a 1×1 kernel (one SGEMM on the input itself) is faster on blas (docs/nn.md). */
#define DNNL_MIN_CHANNELS 16

/* Auto takes the FFT path where its time, modelled as (GEMM operations + FFT_TRANSFORM_COST ×
   transform operations), is FFT_GAIN times below the direct convolution's operations: measured
   with the per-frequency CGEMMs of before, oneDNN's direct kernels ran about 2.5 times as fast as
   those, and those about 4 times as fast as the transforms; the present products are about as
   fast as oneDNN, which leaves the margin generous without changing a choice (docs/nn.md). */
#define FFT_TRANSFORM_COST 4.0
#define FFT_GAIN           2.5

/* The FFT path: forward passes that keep nothing for a backward pass (inference works), 2-D,
   stride 1, odd kernels of 5 and more. */
static PetscBool FftFits(const PdNNLayer *L, const PdNNArgs *a, PetscBool backward)
{
  return (PetscBool)(!backward && !a->work->training && a->dims == 2 && L->stride == 1 && L->k >= 5 && L->k % 2 == 1);
}

static PetscBool FftPays(const PdNNLayer *L, const PdNNArgs *a)
{
  const double direct = 2.0 * (double)PdTensorSize(a->out) * L->cin * L->k * L->k;
  double       gemm, transforms;

  PdNNConvFftFlops(L, a->out->n, a->out->h, a->out->w, &gemm, &transforms);
  return (PetscBool)(direct >= FFT_GAIN * (gemm + FFT_TRANSFORM_COST * transforms));
}

static PetscBool DnnlPays(const PdNNLayer *L) { return (PetscBool)(PdNNBackendAvailable(PD_NN_BACKEND_DNNL) && L->k > 1 && PetscMin(L->cin, L->cout) >= DNNL_MIN_CHANNELS); }

PdNNBackend PdNNConvBackend(const PdNNLayer *L, const PdNNArgs *a, PetscBool backward)
{
  switch (a->work->net->backend) {
  case PD_NN_BACKEND_DNNL:
    return PD_NN_BACKEND_DNNL;
  case PD_NN_BACKEND_FFT:
    if (FftFits(L, a, backward)) return PD_NN_BACKEND_FFT;
    return DnnlPays(L) ? PD_NN_BACKEND_DNNL : PD_NN_BACKEND_BLAS;
  case PD_NN_BACKEND_AUTO:
    if (FftFits(L, a, backward) && FftPays(L, a)) return PD_NN_BACKEND_FFT;
    return DnnlPays(L) ? PD_NN_BACKEND_DNNL : PD_NN_BACKEND_BLAS;
  default:
    return PD_NN_BACKEND_BLAS;
  }
}
