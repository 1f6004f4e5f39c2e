/* The cycleGAN with a linear blur kernel (Lim, Park, Lee, Chang, Sim, Ye, IEEE TCI 6:1127-1138,
   2020): unsupervised deconvolution from unpaired sharp volumes x and blurred volumes y,
   trained data-parallel. Networks: cyclegan_nets.h; blur: blur_fft.h; docs/methods/cyclegan.md.

     x̂ = G(y),  y_cyc = h ⊛ x̂,  ỹ = h ⊛ x,  x_cyc = G(ỹ)
     L_G  = LS_ms(D_X, x̂, 1) + LS_ms(D_Y, ỹ, 1) + γ (‖x − x_cyc‖₁ + ‖y − y_cyc‖₁)      (G and h)
     L_DX = ½ [LS_ms(D_X, x, 1) + LS_ms(D_X, pool_X(x̂), 0)]
     L_DY = ½ [LS_ms(D_Y, y, 1) + LS_ms(D_Y, pool_Y(ỹ), 0)]
     LS_ms(D, v, t) = Σ_{s=1..S} mean (D^s(v) − t)²     (D^s: the PatchGAN of scale s)
   ‖·‖₁ the mean absolute error, γ = 10. D_Y is used in blind mode, and in non-blind mode on
   request; h is learned in blind mode (from a Gaussian, projected onto h >= 0, Σh = 1 after each
   step unless turned off) and fixed to the given PSF otherwise.

   One step of a global batch of B sample pairs: rank r computes its block of the samples (batch
   1 each), the losses scaled by 1/B; the G+h gradients are summed over the ranks by one
   MPI_Allreduce of a flat buffer, then each rank takes the same Adam step; the discriminator
   gradients likewise (second allreduce, second Adam). The fakes shown to the discriminators
   pass a per-rank history buffer of `pool` volumes (while not full it returns the new fake; then
   with probability ½ a stored one, replaced by the new). Adam (PyTorch form), lr 1e−4,
   β = (0.5, 0.999) (the CycleGAN default), one state for G+h and one for the discriminators. */
#ifndef PDECON_CYCLEGAN_H
#define PDECON_CYCLEGAN_H

#include <pdecon/learn/nn.h>

#define PD_CYCLEGAN_MAX_SCALES 3 /* discriminator scales: full, 1/2, 1/4 */

typedef struct {
  PetscInt           depth, width;  /* G: poolings, base width (2, 64) */
  PetscInt           dwidth, scales; /* discriminators: base width (64), scales (3) */
  PetscInt           k;             /* blur kernel side (31) */
  PetscInt           patch;         /* training crop side (64) */
  PetscInt           pool;          /* history buffer size per rank (50) */
  PetscBool          blind, use_dy, project;
  double             gamma, lr, beta1, beta2;
  double             init_sz, init_sxy; /* blind initial Gaussian widths (voxels) */
  unsigned long long seed;
} PdCycleGANSettings;

typedef struct _p_PdCycleGAN *PdCycleGAN;

/* The paper's settings (non-blind, D_Y on, projection on, init widths 3 and 1.5 voxels). */
void PdCycleGANSettingsDefault(PdCycleGANSettings *s);
/* Builds G, h and the discriminators on every rank (same initialisation from seed); psf: the k³
   kernel (normalised here to sum 1) in non-blind mode, ignored (NULL allowed) in blind mode. */
PetscErrorCode PdCycleGANCreate(MPI_Comm comm, const PdCycleGANSettings *s, const float *psf, PdCycleGAN *gan);
PetscErrorCode PdCycleGANDestroy(PdCycleGAN *gan);
/* One training step on this rank's nlocal (x, y) patches (patch³ each, contiguous) of a global
   batch of B: generator step then discriminator step. loss[0] = L_G, loss[1] = L_DX + L_DY, the
   global-batch means (on every rank). Collective. */
PetscErrorCode PdCycleGANStep(PdCycleGAN gan, PetscInt nlocal, PetscInt B, const float *x, const float *y, double loss[2]);
/* The generator and the blur kernel (k³ values; the gan's own storage). */
PetscErrorCode PdCycleGANGetGenerator(PdCycleGAN gan, PdNN *G);
PetscErrorCode PdCycleGANGetKernel(PdCycleGAN gan, const float **h);
PetscErrorCode PdCycleGANGetSettings(PdCycleGAN gan, const PdCycleGANSettings **s);
/* The discriminator of domain d (0: X, 1: Y) at scale s (0-based) and its Adam state (NULL when
   that domain has none), and G's and h's Adam states: checkpoints. */
PetscErrorCode PdCycleGANGetDiscriminator(PdCycleGAN gan, PetscInt d, PetscInt s, PdNN *D, PdAdam *adam);
PetscErrorCode PdCycleGANGetAdam(PdCycleGAN gan, PdAdam *adamG, PdAdam *adamH);
/* Replaces the kernel (k³ values; a checkpoint's). */
PetscErrorCode PdCycleGANSetKernel(PdCycleGAN gan, const float *h);
/* The history buffers of every rank (the crops, their fill and random streams) in one HDF5 file
   (path a plain file name, .h5), and back on the same number of ranks with the same pool and
   patch sizes (refused otherwise, with one line); step: the checkpoint's, checked on loading.
   Only with a pool. Collective. */
PetscErrorCode PdCycleGANSaveHistory(PdCycleGAN gan, const char *path, PetscInt step);
PetscErrorCode PdCycleGANLoadHistory(PdCycleGAN gan, const char *path, PetscInt step);
/* Parameters of G+h and of all discriminators (for -log_view style reports and memory). */
PetscErrorCode PdCycleGANGetSizes(PdCycleGAN gan, PetscInt *ngen, PetscInt *ndisc);

#endif
