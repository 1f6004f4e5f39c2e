/* Losses of the CNN engine. Each is a per-sample quantity ℓ(ŷ_n, y_n) over the M = c·d·h·w
   values of sample n, and a call returns

     L = scale · Σ_n ℓ(ŷ_n, y_n)    and    dL/dŷ

   so that a data-parallel trainer passes scale = 1/B_global on every rank and one
   MPI_Allreduce(SUM) of the gradients (and of L) gives the exact global-batch mean.

     PD_NN_LOSS_MSE       ℓ = (1/M) Σ (ŷ−y)²                 dℓ/dŷ = 2(ŷ−y)/M
     PD_NN_LOSS_HALF_SSE  ℓ = ½ Σ (ŷ−y)²                     dℓ/dŷ = ŷ−y
                          (with scale 1/N: Caffe's EuclideanLoss, as SRCNN trains)
     PD_NN_LOSS_MAE       ℓ = (1/M) Σ |ŷ−y|                  dℓ/dŷ = sign(ŷ−y)/M (0 at 0)
     PD_NN_LOSS_NEG_PSNR  ℓ = 10 log10(MSE + ε) − 20 log10(max y),  ε = 1e−10
                          dℓ/dŷ = (10/ln 10)·(2/M)·(ŷ−y)/(MSE + ε)   (max y does not depend on ŷ;
                          the term is left out when max y <= 0, so a blank patch stays finite)
   Sums are in double. */
#ifndef PDECON_NN_LOSS_H
#define PDECON_NN_LOSS_H

#include <pdecon/learn/nn_tensor.h>

typedef enum { PD_NN_LOSS_MSE, PD_NN_LOSS_HALF_SSE, PD_NN_LOSS_MAE, PD_NN_LOSS_NEG_PSNR } PdNNLossType;
/* Names for options and files, in enum order: "mse", "half_sse", "mae", "neg_psnr". */
extern const char *const PdNNLossTypes[];

#define PD_NN_PSNR_EPS 1e-10

/* pred and target have the same shape; grad (NULL: not wanted) receives dL/dŷ and must have that
   shape too (it may be a view of PdNNBackward's input buffer, or alias neither). */
PetscErrorCode PdNNLoss(PdNNLossType type, const PdTensor *pred, const PdTensor *target, double scale, double *loss, PdTensor *grad);

#endif
