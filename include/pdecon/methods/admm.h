/* ADMM for Poisson deconvolution with non-negativity and isotropic total variation
   (-decon_method admm): the splitting z1 = MHx (Poisson data term on the measured box),
   z2 = w x (x >= 0), z3 = w Dx (TV), w = sqrt(β).
   See src/methods/admm.c for the equations (src/methods/admm_params.c for the parameters) and
   docs/methods/admm.md for options and memory.

   The setters and getters act on a solver whose method is "admm" (PdDeconSetMethod first; switching
   methods resets the parameters to their defaults); on any other method they raise PD_ERR_INPUT.
   They are collective on the solver's communicator only in the sense that every rank must pass the
   same values. */
#ifndef PDECON_ADMM_H
#define PDECON_ADMM_H

#include <pdecon/decon/decon.h>
#include <math.h>

/* Penalty ρ (> 0), in units of 1 / (mean of the data): internally ρ / mean(y) is used, which is the
   same as running on data divided by their mean, so the default transfers across intensity scales
   (-decon_admm_rho, default 0.25, the EE367 report's value). With adaptive ρ the starting value; the
   data block uses ρ, the non-negativity and TV blocks βρ (PdDeconADMMSetPriorWeight). */
PetscErrorCode PdDeconADMMSetRho(PdDecon d, double rho);
/* TV weight λ >= 0 in  I-divergence + λ TV(x)  (-decon_admm_lambda, default 5e-4). λ is
   dimensionless (scaling the data scales both terms alike) and means what RL-TV's λ means. */
PetscErrorCode PdDeconADMMSetLambda(PdDecon d, double lambda);
/* Penalty of the non-negativity and TV splittings relative to the data splitting's, β > 0
   (-decon_admm_beta, default 1e-3): ρ1 = ρ, ρ2 = ρ3 = βρ (Boyd et al. 3.4.1 allow one ρ per
   constraint). The x-update becomes (HᵀMH + β(I + DᵀD)) x = ...; β = 1 is the single-ρ scheme of
   the report, which progresses slowly where |Ĥ|² << 1 (most of a widefield 3D spectrum). */
PetscErrorCode PdDeconADMMSetPriorWeight(PdDecon d, double beta);
/* x-update in padded mode: its >= 1 conjugate-gradient steps on A x = rhs, warm-started from the
   current x (-decon_admm_cg_its, default 1), preconditioned by the circulant approximation
   HᵀH + β(I + DᵀD) (periodic D) solved in the Fourier domain (-decon_admm_cg_pc, default true; one
   more FFT pair per step). */
PetscErrorCode PdDeconADMMSetCG(PdDecon d, PetscInt its, PetscBool precondition);
/* Boyd's residual balancing (-decon_admm_adaptive, _mu, _tau): ρ <- τρ when primal > μ dual,
   ρ <- ρ/τ when dual > μ primal, scaled duals rescaled. mu > 1 and tau > 1; a value <= 0 keeps the
   current one (defaults 10 and 2). */
PetscErrorCode PdDeconADMMSetAdaptive(PdDecon d, PetscBool adaptive, double mu, double tau);
/* The current ρ (after adaptation), in the normalised units of PdDeconADMMSetRho. */
PetscErrorCode PdDeconADMMGetRho(PdDecon d, double *rho);

/* Residuals of the last iteration, in units where the data have mean 1:
     primal = ||K x - z|| / mean(y),  K = (MH, wI, wD) stacked, z = (z1, z2, z3),
     dual   = ||Kᵀ y_dual|| = ρ ||Kᵀ u||  (y_dual = ρu the unscaled dual variable),
   the optimality conditions of  min_z g(z) s.t. Kx = z  being Kx = z and Kᵀ y_dual = 0. With an exact
   x-update (periodic boundary) the dual one equals Boyd's s = ρ ||Kᵀ(z_{k+1} - z_k)||. NaN before
   the first iteration. */
PetscErrorCode PdDeconADMMGetResiduals(PdDecon d, double *primal, double *dual);
/* Residuals of every iteration of the current (or last) solve; *n entries each. The arrays belong to
   the solver and stay valid until the next iteration or solve. Any output may be NULL. */
PetscErrorCode PdDeconADMMGetResidualHistory(PdDecon d, PetscInt *n, const double **primal, const double **dual);
/* Diagnostic (-decon_admm_check_xupdate): after every x-update, apply A = HᵀMH + β(I + DᵀD) explicitly
   (FFTs and stencils) to the correction δ and record ||r0 - Aδ|| / ||r0||, r0 being the residual of
   the normal equations at the previous x. Costs two FFT pairs and two volumes per iteration. */
PetscErrorCode PdDeconADMMSetCheckXUpdate(PdDecon d, PetscBool check);
/* That ratio for the last x-update (NaN when not checked): ~1e-7 for the Fourier solve (periodic),
   the CG reduction factor in padded mode. */
PetscErrorCode PdDeconADMMGetXUpdateResidual(PdDecon d, double *ratio);

/* Proximal operator of the Poisson term with background b >= 0 and data y >= 0, step t = 1/ρ > 0:
     z = argmin_z (z + b) - y log(z + b) + (z - v)^2 / (2t).
   With s = z + b and w = v + b the optimality condition 1 - y/s + (s - w)/t = 0 is the quadratic
   s^2 - (w - t) s - t y = 0, whose positive root is s = ((w - t) + sqrt((w - t)^2 + 4ty)) / 2; for
   w < t the cancelling form s = 2ty / (sqrt((w - t)^2 + 4ty) - (w - t)) is used. y = 0 gives
   s = max(w - t, 0). Returns z = s - b (>= -b). */
static inline float PdADMMPoissonProx(float v, float y, float b, float t)
{
  const float a = v + b - t, r = sqrtf(a * a + 4.0f * t * y);
  const float s = a >= 0 ? 0.5f * (a + r) : 2.0f * t * y / (r - a);
  return s - b;
}

#endif
