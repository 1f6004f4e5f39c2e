/* Transposed convolution, kernel 2, stride 2 (PyTorch ConvTranspose(ci, co, 2, 2)): every input
   voxel spreads into its own 2^dims block of the output, blocks never overlap,

     out[n,o, 2z+a, 2y+b, 2x+c] = bias[o] + Σ_i W[i,o,a,b,c] · in[n,i,z,y,x]    (weights [ci][co][2]^dims)

   so per sample T = Wᵀ · in_n (co·2^dims × P, P the input positions) is one GEMM and the output is
   T's rows scattered into the blocks. Backward, with G_T = G gathered from the blocks:

     dL/din_n = W · G_T,   dW += in_n · G_Tᵀ,   db[o] += Σ G[o,·]

   (the backward of a k2 s2 transposed conv is a k2 s2 convolution). */
#include "learn/nn/nn_impl.h"
#include <cblas.h>
#include <string.h>
#include <omp.h>

static PetscErrorCode ConvT2Shape(const PdNNLayer *L, PetscInt dims, const PetscInt in[5], const PetscInt skip[5], PetscInt out[5])
{
  PetscFunctionBegin;
  (void)skip;
  PetscCheck(in[1] == L->cin, PETSC_COMM_SELF, PETSC_ERR_ARG_SIZ, "transposed conv %s: %" PetscInt_FMT " input channels, expects %" PetscInt_FMT, L->name, in[1], L->cin);
  out[0] = in[0];
  out[1] = L->cout;
  out[2] = dims == 3 ? 2 * in[2] : 1;
  out[3] = 2 * in[3];
  out[4] = 2 * in[4];
  PetscFunctionReturn(0);
}

/* Block tap t = (a, b, c) of input position (z, y, x): its output index within one channel. */
static inline ptrdiff_t BlockIndex(ptrdiff_t t, ptrdiff_t z, ptrdiff_t y, ptrdiff_t x, ptrdiff_t taps, ptrdiff_t OH, ptrdiff_t OW)
{
  const ptrdiff_t a = taps == 8 ? t >> 2 : 0, b = (t >> 1) & 1, c = t & 1;
  return ((2 * z + a) * OH + 2 * y + b) * OW + 2 * x + c;
}

/* Scatter (forward, T into out) or gather (backward, out into T) over one sample. */
static void Blocks(const PdTensor *in, const PdTensor *out, ptrdiff_t taps, float *T, float *o, const float *bias, PetscBool scatter)
{
  const ptrdiff_t P = PdTensorSpatial(in), M = PdTensorSpatial(out);

  for (ptrdiff_t ch = 0; ch < out->c; ch++)
    for (ptrdiff_t t = 0; t < taps; t++) {
      float *row = T + (ch * taps + t) * P, *oc = o + ch * M;
      for (ptrdiff_t z = 0, p = 0; z < in->d; z++)
        for (ptrdiff_t y = 0; y < in->h; y++)
          for (ptrdiff_t x = 0; x < in->w; x++, p++) {
            const ptrdiff_t q = BlockIndex(t, z, y, x, taps, out->h, out->w);
            if (scatter) oc[q] = row[p] + (bias ? bias[ch] : 0.0f);
            else row[p] = oc[q];
          }
    }
}

static PetscErrorCode ConvT2Forward(const PdNNLayer *L, PdNNArgs *a)
{
  const ptrdiff_t n = a->in->n, taps = a->dims == 3 ? 8 : 4, P = PdTensorSpatial(a->in), M = PdTensorSpatial(a->out), ct = L->cout * taps;
  float          *T;

  PetscFunctionBegin;
  PetscCall(PdNNWorkScratch(a->work, (size_t)(n * ct * P), &T));
#pragma omp parallel for schedule(static) if (n > 1)
  for (ptrdiff_t s = 0; s < n; s++) {
    float *Ts = T + s * ct * P;
    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)ct, (int)P, (int)L->cin, 1.0f, a->w, (int)ct, a->in->v + s * L->cin * P, (int)P, 0.0f, Ts, (int)P);
    Blocks(a->in, a->out, taps, Ts, a->out->v + s * L->cout * M, a->b, PETSC_TRUE);
  }
  PetscCall(PetscLogFlops(2.0 * (double)n * (double)ct * (double)L->cin * (double)P));
  PetscFunctionReturn(0);
}

static PetscErrorCode ConvT2Backward(const PdNNLayer *L, PdNNArgs *a)
{
  const ptrdiff_t n = a->in->n, taps = a->dims == 3 ? 8 : 4, P = PdTensorSpatial(a->in), M = PdTensorSpatial(a->out), ct = L->cout * taps;
  const ptrdiff_t nt = PdNNThreads(), wsz = a->gw ? L->cin * ct : 0;
  float          *T, *gwt;

  PetscFunctionBegin;
  PetscCall(PdNNWorkScratch(a->work, (size_t)(n * ct * P + nt * wsz + 1), &T));
  gwt = T + n * ct * P;
  if (wsz) memset(gwt, 0, (size_t)(nt * wsz) * sizeof(float));
#pragma omp parallel for schedule(static) if (n > 1)
  for (ptrdiff_t s = 0; s < n; s++) {
    float       *Ts = T + s * ct * P;
    const float *xs = a->in->v + s * L->cin * P;
    Blocks(a->in, a->out, taps, Ts, a->gout->v + s * L->cout * M, NULL, PETSC_FALSE);
    if (a->gin) cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)L->cin, (int)P, (int)ct, 1.0f, a->w, (int)ct, Ts, (int)P, a->add_in ? 1.0f : 0.0f, a->gin->v + s * L->cin * P, (int)P);
    if (wsz) cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)L->cin, (int)ct, (int)P, 1.0f, xs, (int)P, Ts, (int)P, 1.0f, gwt + (size_t)omp_get_thread_num() * wsz, (int)ct);
  }
  if (wsz) PdNNSumThreadGrads(gwt, (PetscInt)nt, (PetscInt)wsz, a->gw);
  if (a->gb) PdNNBiasGrad(a->gout, a->gb);
  PetscFunctionReturn(0);
}

const PdNNLayerOps PdNNConvTranspose2Ops = {ConvT2Shape, ConvT2Forward, ConvT2Backward};
