/* The learned weakly-convex ridge regulariser (WCRR-NN, Goujon et al.; 3D form of GARL,
   docs/methods/wcrr.md):

     R(x; σ)  = Σ_c Σ_n α_c(σ)^-2 ψ( α_c(σ) (W x)_c[n] )
     ∇R(x; σ) = Wᵀ v,   v_c = ψ'( α_c (W x)_c ) / α_c
     ∇²R(x) v = Wᵀ [ ψ''( α_c (W x)_c ) (W v)_c ]_c

   W = W_raw / √L: three bias-free 3×3×3 cross-correlations 1 → c1 → c2 → c3 channels (4, 8, 64 by
   default), zero padding ("same"), the first layer's filters projected to zero mean;
   L = ||W_rawᵀ W_raw||₂ = sup_ω Σ_c |K̂_c(ω)|² (Fourier formula, docs/methods/wcrr.md §3), found by a grid search
   over ω and a local refinement. ψ is the S-shape potential (docs/methods/wcrr.md §4) with μ = e^m, β, γ_e =
   min(|γ|, 1); α_c(σ) = exp(s_c(σ)) / (σ + 1e-5), s_c a linear spline with 11 knots on
   [0, σ_max] (docs/methods/wcrr.md §5; σ in units of 1/255 of the data range, as in training).

   The raw parameters θ are one vector of doubles (the order below); PdWCRRUpdate derives from it
   what evaluation needs (projected float weights, μ, γ_e, L and ∂L/∂w). Every evaluation works on
   compact volumes n[0] × n[1] × n[2] (z, y, x) with zero boundary: a training patch, or a slab
   with its ghost planes (the caller keeps the planes whose receptive field, radius 6 for ∇R, lies
   inside the block). Convolutions run as im2col + SGEMM (OpenBLAS) over chunks of planes and use
   the threads of the rank. */
#ifndef PDECON_WCRR_H
#define PDECON_WCRR_H

#include <pdecon/core/sys.h>
#include <stddef.h>

#define PD_WCRR_KNOTS 11

typedef struct _p_PdWCRR *PdWCRR;

/* Offsets of the parameter groups in θ (PdWCRRGetParamLayout). */
typedef struct {
  PetscInt w[3];      /* layer l: c_l × c_{l-1} × 27 weights, [out][in][kz][ky][kx]; w[0] unprojected */
  PetscInt nw[3];     /* their counts */
  PetscInt m, beta, gamma; /* log μ, β, γ (one each) */
  PetscInt spline;    /* c3 × PD_WCRR_KNOTS α-spline coefficients, [channel][knot] */
  PetscInt n;         /* total */
} PdWCRRParamLayout;

/* A model with the initial values of training: conv weights uniform in ±1/sqrt(fan_in) (keyed on
   seed), m = 4, β = 1, γ = 1, spline coefficients 5, σ_max = 50. channels NULL: 4, 8, 64. */
PetscErrorCode PdWCRRCreate(MPI_Comm comm, const PetscInt channels[3], unsigned long long seed, PdWCRR *m);
PetscErrorCode PdWCRRDestroy(PdWCRR *m);
PetscErrorCode PdWCRRGetParamLayout(PdWCRR m, PdWCRRParamLayout *pl);
/* The raw parameters θ (length pl.n), writable; call PdWCRRUpdate after changing them. */
PetscErrorCode PdWCRRGetParams(PdWCRR m, double **theta);
PetscErrorCode PdWCRRUpdate(PdWCRR m);
PetscErrorCode PdWCRRGetChannels(PdWCRR m, PetscInt channels[3]);
/* μ (the Lipschitz constant of ∇R), β, γ_e and L of the current parameters. */
PetscErrorCode PdWCRRGetPotential(PdWCRR m, double *mu, double *beta, double *gamma_e, double *L);
/* α_c(σ) for the c3 channels. */
PetscErrorCode PdWCRRAlpha(PdWCRR m, double sigma, double *alpha);

/* ∇R(u; σ) into g (both n[0] n[1] n[2] floats); value (may be NULL) gets R(u; σ) in double. */
PetscErrorCode PdWCRRGradient(PdWCRR m, double sigma, const ptrdiff_t n[3], const float *u, float *g, double *value);
/* The same, with value the part of R(u; σ) from the voxels n of the region lo <= n < hi (the
   sum over (W u)_c[n]): the part of a larger volume's R that a block computes exactly when its
   margins around the region are at least 3 voxels (W's radius). */
PetscErrorCode PdWCRRGradientRegion(PdWCRR m, double sigma, const ptrdiff_t n[3], const float *u, float *g, const ptrdiff_t lo[3], const ptrdiff_t hi[3], double *value);
/* Bytes of workspace PdWCRRGradient allocates for a volume of size n (the memory planner). */
PetscErrorCode PdWCRRGradientBytes(PdWCRR m, const ptrdiff_t n[3], double *bytes);
/* hv = ∇²R(x; σ) v. */
PetscErrorCode PdWCRRHessianVector(PdWCRR m, double sigma, const ptrdiff_t n[3], const float *x, const float *v, float *hv);
/* gtheta += weight · ∂/∂θ ⟨u, ∇R(x; θ, σ)⟩ (u and x fixed), through W's weights (with the
   zero-mean projection and L's dependence on them), μ, β, γ and the α-splines. gtheta has
   pl.n entries. This is what the implicit (DEQ) training gradient needs. */
PetscErrorCode PdWCRRParamGradient(PdWCRR m, double sigma, const ptrdiff_t n[3], const float *x, const float *u, double weight, double *gtheta);

/* wu = W u (c3 channel maps of n[0] n[1] n[2] floats, channel-major) and its adjoint wtv = Wᵀ v. */
PetscErrorCode PdWCRRApply(PdWCRR m, const ptrdiff_t n[3], const float *u, float *wu);
PetscErrorCode PdWCRRApplyTranspose(PdWCRR m, const ptrdiff_t n[3], const float *v, float *wtv);
/* Output voxels per im2col chunk (rounded down to whole rows, at least one row); 0 restores the
   default (8192: column buffers of 27 c2 × 8192 floats, 7 MiB for c2 = 8). Results do not depend
   on it beyond rounding. */
PetscErrorCode PdWCRRSetChunk(PdWCRR m, PetscInt voxels);

#endif
