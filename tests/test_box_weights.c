/* The weights 1/Hᵀ(M·1) from the PSF's box sums (rl, rl_biggs: one view, matched Hᵀ) against the
   same weights from an FFT (two identical views with half the PSF and half the photons each:
   y/2 / (Hx/2) = y / Hx, so the iteration is the same and only the weights' computation differs),
   for the default padding, a padding smaller than the PSF (the PSF indices that reach the box
   wrap: two intervals per axis), and the periodic boundary; an off-centre PSF; 1, 2, 3 ranks. */
/* ranks: 1 2 3 */
#include "testutil.h"
#include <pdecon/decon/decon.h>
#include <math.h>
#include <string.h>

static const ptrdiff_t M[3] = {9, 14, 11}, PN[3] = {5, 7, 6};

int main(int argc, char **argv)
{
  const ptrdiff_t    np = PN[0] * PN[1] * PN[2], cnt = M[0] * M[1] * M[2];
  const char        *cases[3][2] = {{NULL, NULL}, {"-decon_pad", "2,3,1"}, {"-decon_boundary", "periodic"}};
  float              h[5 * 7 * 6], two[2 * 5 * 7 * 6], y[9 * 14 * 11], two_y[2 * 9 * 14 * 11], *x1 = NULL, *x2 = NULL;
  unsigned long long seed = 7;
  double             s = 0;
  int                rank;

  PetscCall(PdTestInitialize(&argc, &argv));
  /* several views start flat: the single view too, so that the two compare */
  PetscCall(PetscOptionsSetValue(NULL, "-decon_start", "flat"));
  MPI_Comm_rank(PETSC_COMM_WORLD, &rank);
  /* rl_biggs's state in float: in bfloat16 a rounding difference in an iterate may round a step
     the other way (2^-9 of it), which the extrapolation then amplifies beyond float rounding */
  PetscCall(PetscOptionsSetValue(NULL, "-decon_accel_state", "float"));
  /* a skewed PSF: its peak off the middle, so the box's index intervals differ per side */
  for (int k = 0; k < PN[0]; k++)
    for (int j = 0; j < PN[1]; j++)
      for (int i = 0; i < PN[2]; i++) s += h[(k * PN[1] + j) * PN[2] + i] = (float)exp(-0.5 * (PetscSqr(k - 1.3) / 1.1 + PetscSqr(j - 2.2) / 1.7 + PetscSqr(i - 3.6) / 0.9));
  for (ptrdiff_t i = 0; i < np; i++) two[i] = two[np + i] = (h[i] = (float)(h[i] / s)) * 0.5f;
  for (ptrdiff_t i = 0; i < cnt; i++) two_y[i] = two_y[cnt + i] = 0.5f * (y[i] = (float)(1.0 + 30.0 * PdTestUniform(&seed) * (PdTestUniform(&seed) < 0.2)));
  for (int c = 0; c < 3; c++) {
    if (cases[c][0]) PetscCall(PetscOptionsSetValue(NULL, cases[c][0], cases[c][1]));
    for (int k = 0; k < 2; k++) {
      const char *method = k ? "rl_biggs" : "rl";
      PetscCall(PdTestSolveViews(PETSC_COMM_WORLD, method, M, 1, PN, h, PETSC_TRUE, y, 0.0, 12, &x1));
      PetscCall(PdTestSolveViews(PETSC_COMM_WORLD, method, M, 2, PN, two, PETSC_FALSE, two_y, 0.0, 12, &x2));
      if (!rank) {
        double dd = PdTestRelDiff(x1, x2, (size_t)cnt);
        PetscCall(PetscPrintf(PETSC_COMM_SELF, "%-8s %s %s: box-sum weights vs FFT weights: rel. difference %.2e\n", method, cases[c][0] ? cases[c][0] : "default", cases[c][1] ? cases[c][1] : "padding", dd));
        /* float rounding; the extrapolation of rl_biggs amplifies it tenfold in 12 iterations */
        PD_EXPECT(dd < (k ? 1e-4 : 1e-5), "%s with %s %s: box-sum and FFT weights give results that differ by %g", method, cases[c][0] ? cases[c][0] : "the default", cases[c][1] ? cases[c][1] : "padding", dd);
      }
      PetscCall(PetscFree(x1));
      PetscCall(PetscFree(x2));
    }
    if (cases[c][0]) PetscCall(PetscOptionsClearValue(NULL, cases[c][0]));
  }
  return PdTestFinalize("box_weights");
}
