/* Simulated acquisitions for `simulate` and `demo`. */
#ifndef PDECON_APP_SIM_H
#define PDECON_APP_SIM_H

#include "app.h"
#include <pdecon/fft/fftconv.h>
#include <pdecon/sim/phantom.h>

typedef struct {
  ptrdiff_t          n[3];    /* volume size z,y,x */
  PdPhantomOptions   phantom; /* its voxel size is the acquisition's */
  double             snr;     /* dB */
  double             bg;      /* background photons per voxel */
  double             read;    /* read noise sigma, photons */
  unsigned long long seed;
  AppPSFOptions      psf;
} AppSimOptions;

PetscErrorCode AppSimSetFromOptions(MPI_Comm comm, const ptrdiff_t default_size[3], AppSimOptions *o);
/* truth, blurred (may be NULL) and data on layout lay (global size o->n). conv: set up with the
   PSF and a working size that holds lay->n plus the PSF (no wrap-around). On return truth is in
   photon units (scale * phantom), blurred is the expected count scale * H truth + bg, data the
   noisy counts; *scale the photons per unit of the phantom. */
PetscErrorCode AppSimRun(const AppSimOptions *o, PdFFTConv conv, const PdLayout *lay, float *truth, float *blurred, float *data, double *scale);

/* A simulated acquisition whole on every rank (PetscFree): truth and noisy data of size o->n;
   the PSF used (normalised to sum 1, centred at its peak pc; pn its size) when psf is given. */
PetscErrorCode AppSimWhole(MPI_Comm comm, const AppSimOptions *o, float **truth, float **data, ptrdiff_t pn[3], float **psf);

#endif
