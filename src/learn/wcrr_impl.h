/* Private state of PdWCRR, shared by the regulariser (wcrr.c) and its model files (wcrr_file.c). */
#ifndef PDECON_WCRR_IMPL_H
#define PDECON_WCRR_IMPL_H

#include <pdecon/learn/wcrr.h>

struct _p_PdWCRR {
  MPI_Comm          comm;
  PetscInt          c[3];
  PdWCRRParamLayout pl;
  double           *theta, sigma_max;
  PetscInt          chunk;
  /* derived by PdWCRRUpdate */
  float            *w[3]; /* weights used, [out][in][27]: layer 0 projected and divided by √L */
  double            mu, beta, gamma_e, L, omega[3];
  double           *dL;   /* ∂L/∂θ: weight entries (w0 raw), 0 elsewhere */
  /* PdWCRRGradientRegion's channel maps, kept between calls: garl evaluates ∇R on a whole slab
     every iteration, and allocating (and zero-filling) hundreds of MiB each time would cost a
     pass over them */
  float            *ws;
  size_t            nws;
};

/* A model with channel counts ch and every parameter 0 (σ_max 50); PdWCRRCreate sets the initial
   values of training, PdWCRRLoad those of a file. */
PetscErrorCode PdWCRRAlloc(MPI_Comm comm, const PetscInt ch[3], PdWCRR *model);

#endif
