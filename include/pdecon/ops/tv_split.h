/* Stencil operators of a total-variation splitting (ADMM's block z = w Dx, src/methods/admm.c), on
   z-slab volumes, with forward differences D = (Dz, Dy, Dx) of unit spacing and either Neumann ends
   (periodic = PETSC_FALSE: the D of diffops.h, 0 at the last voxel of each axis) or periodic ends
   ((Dx u)(.., n2 - 1) = u(.., 0) - u(.., n2 - 1), likewise y and z; DᵀD then has the symbol of
   PdFFTConvDiffSymbol). The isotropic shrinkage of a 3-vector field v is
     S_t(v) = v max(0, 1 - t / |v|),   |v| = sqrt(vz² + vy² + vx²) per voxel.
   Each operator streams over the slab once with one ghost plane per input (PdHaloBegin), keeps a
   few rows and planes, and forms no temporary volume. Voxels of outputs are written and their row
   padding set to 0. The per-voxel arithmetic does not depend on the distribution: results are
   bitwise the same on any number of ranks. Collective on lay->comm. */
#ifndef PDECON_TV_SPLIT_H
#define PDECON_TV_SPLIT_H

#include <pdecon/ops/diffops.h>

/* Row buffers and ghost planes of the streaming passes (a few planes, made once per layout). */
typedef struct {
  ptrdiff_t n1, n2;
  float    *xb, *xa, *vb; /* ghost planes: u below, u above, v below (3 planes) */
  float    *fzp;          /* z flux of the previous plane */
  float    *row;          /* 9 rows: g (3), f (3), fy of the previous row, spare */
} PdTVSplitWork;
PetscErrorCode PdTVSplitWorkCreate(const PdLayout *lay, PdTVSplitWork *work);
PetscErrorCode PdTVSplitWorkDestroy(PdTVSplitWork *work);

/* Coefficients of the flux f = a S_t(v) + b v + g Du (per voxel, 3 components). */
typedef struct {
  float a, b, g, t;
} PdTVSplitCoef;

/* out += Dᵀ f + cid u with f as in PdTVSplitCoef. With a = b = 0, g = 1: out += (DᵀD + cid) u; with
   a = g = 0, b = 1: out += Dᵀ v. v (3 volumes) may be NULL when a = b = 0, u when g = cid = 0. */
PetscErrorCode PdTVSplitAdjointAdd(const PdLayout *lay, PetscBool periodic, PdTVSplitWork *work, float *const v[3], const float *u, PdTVSplitCoef k, float cid, float *out);
/* v <- gain Du + kappa (v - S_t(v)) per voxel (kappa = 0: v = gain Du; kappa = 1: ADMM's update
   v_{k+1} = w Dx_{k+1} + u_k, u_k = v_k - S_t(v_k)). Local sums: acc[0] += |gain Du - S_t(v_new)|²
   (the block's primal residual), acc[1] += |Du| (TV of u, in double). */
PetscErrorCode PdTVSplitForwardUpdate(const PdLayout *lay, PetscBool periodic, PdTVSplitWork *work, const float *u, float *const v[3], float gain, float kappa, float t, double acc[2]);

/* The plain operators: (pz, py, px) = Du, and out += Dᵀ(pz, py, px), for either kind of ends. */
PetscErrorCode PdDiffGradient(const PdLayout *lay, PetscBool periodic, const float *u, float *pz, float *py, float *px);
PetscErrorCode PdDiffGradientAdjointAdd(const PdLayout *lay, PetscBool periodic, const float *pz, const float *py, const float *px, float *out);

#endif
