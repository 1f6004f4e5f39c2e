/* Losses (the equations are in nn_loss.h): per sample ℓ_n over its M values, L = scale · Σ_n ℓ_n,
   dL/dŷ = scale · dℓ_n/dŷ. Sums in double. */
#include <pdecon/learn/nn_loss.h>
#include <math.h>

const char *const PdNNLossTypes[] = {"mse", "half_sse", "mae", "neg_psnr"};

PetscErrorCode PdNNLoss(PdNNLossType type, const PdTensor *pred, const PdTensor *target, double scale, double *loss, PdTensor *grad)
{
  const PetscInt M = pred->c * PdTensorSpatial(pred);
  double         L = 0;

  PetscFunctionBegin;
  PetscCheck(pred->n == target->n && pred->c == target->c && pred->d == target->d && pred->h == target->h && pred->w == target->w, PETSC_COMM_SELF, PETSC_ERR_ARG_SIZ, "loss: prediction and target differ in shape");
  PetscCheck(!grad || PdTensorSize(grad) == PdTensorSize(pred), PETSC_COMM_SELF, PETSC_ERR_ARG_SIZ, "loss: gradient has not the prediction's size");
  for (PetscInt n = 0; n < pred->n; n++) {
    const float *p = pred->v + n * M, *t = target->v + n * M;
    float       *g = grad ? grad->v + n * M : NULL;
    double       s = 0, c = 0, mx = -INFINITY;

    switch (type) {
    case PD_NN_LOSS_MSE:
    case PD_NN_LOSS_HALF_SSE:
    case PD_NN_LOSS_NEG_PSNR:
#pragma omp parallel for simd reduction(+ : s) reduction(max : mx) schedule(static)
      for (PetscInt i = 0; i < M; i++) {
        const double e = (double)p[i] - t[i];
        s += e * e;
        mx = t[i] > mx ? t[i] : mx;
      }
      if (type == PD_NN_LOSS_MSE) {
        L += s / M;
        c = 2.0 / M;
      } else if (type == PD_NN_LOSS_HALF_SSE) {
        L += 0.5 * s;
        c = 1.0;
      } else {
        /* a target with no positive value (a blank patch) has no peak: its max term is left out,
           so the loss stays finite (the term does not depend on ŷ anyway) */
        L += 10.0 * log10(s / M + PD_NN_PSNR_EPS) - (mx > 0 ? 20.0 * log10(mx) : 0.0);
        c = 10.0 / log(10.0) * 2.0 / M / (s / M + PD_NN_PSNR_EPS);
      }
      if (g) {
        const float cf = (float)(scale * c);
#pragma omp parallel for simd schedule(static)
        for (PetscInt i = 0; i < M; i++) g[i] = cf * (p[i] - t[i]);
      }
      break;
    case PD_NN_LOSS_MAE:
#pragma omp parallel for simd reduction(+ : s) schedule(static)
      for (PetscInt i = 0; i < M; i++) s += fabs((double)p[i] - t[i]);
      L += s / M;
      if (g) {
        const float cf = (float)(scale / M);
#pragma omp parallel for simd schedule(static)
        for (PetscInt i = 0; i < M; i++) g[i] = p[i] > t[i] ? cf : (p[i] < t[i] ? -cf : 0.0f);
      }
      break;
    default:
      SETERRQ(PETSC_COMM_SELF, PETSC_ERR_ARG_OUTOFRANGE, "unknown loss type %d", (int)type);
    }
  }
  *loss = scale * L;
  PetscFunctionReturn(0);
}
