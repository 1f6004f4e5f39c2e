/* Simulated acquisitions for `simulate` and `demo`. */
#ifndef PDECON_APP_SIM_H
#define PDECON_APP_SIM_H

#include "app.h"
#include <pdecon/fft/fftconv.h>
#include <pdecon/sim/phantom.h>

/* How noise is added: the project's SNR (all noise together), each component at the SNR (Lim et
   al.'s average SNR of the noise component, docs/simulate.md), or none (data = H x + background). */
typedef enum { APP_SIM_NOISE_SNR, APP_SIM_NOISE_COMPONENT, APP_SIM_NOISE_NONE } AppSimNoise;
extern const char *const AppSimNoiseTypes[];

typedef struct {
  ptrdiff_t          n[3];    /* volume size z,y,x */
  char               truth[PETSC_MAX_PATH_LEN]; /* -sim_truth: the ground truth from a file; "" : phantom */
  AppSimNoise        noise;
  double             scale_truth; /* -sim_truth_scale: photons per unit of the file's values (none: 1) */
  PdPhantomOptions   phantom; /* its voxel size is the acquisition's */
  double             snr;     /* dB */
  double             bg;      /* background photons per voxel */
  double             read;    /* read noise sigma, photons */
  PetscBool          digitize; /* -sim_digitize: counts rounded to whole numbers (0 to 65535), as a camera's converter writes them */
  unsigned long long seed;
  AppPSFOptions      psf;
  PetscInt           views;      /* -sim_views: Airyscan-like detector elements (1: widefield) */
  double             view_pitch; /* element pitch, Airy units */
} AppSimOptions;

PetscErrorCode AppSimSetFromOptions(MPI_Comm comm, const ptrdiff_t default_size[3], AppSimOptions *o);
/* truth, blurred (may be NULL) and data on layout lay (global size o->n). conv: set up with the
   PSF and a working size that holds lay->n plus the PSF (no wrap-around). On return truth is in
   photon units (scale * phantom or file), blurred is the expected count scale * H truth + bg, data
   the noisy counts; *scale the photons per unit of the phantom or file, *read the read noise's
   standard deviation that was used (may be NULL). */
/* The truth alone (phantom or file), in the units of its source. */
PetscErrorCode AppSimTruth(const AppSimOptions *o, const PdLayout *lay, float *truth);
/* simulate -sim_views N: N views of the truth through h_v = h · h(· − d_v) sharing one photon
   scale (the confocal sum at -sim_snr), written with /truth, /data (the confocal sum), /blurred,
   /psf (the summed PSF), /views/NN and /psf_views/NN; psf: the normalised widefield PSF. */
PetscErrorCode AppSimViews(MPI_Comm comm, const AppSimOptions *o, PdFFTConv conv, const PdLayout *lay, const ptrdiff_t pn[3], const float *psf, const char *output);
PetscErrorCode AppSimRun(const AppSimOptions *o, PdFFTConv conv, const PdLayout *lay, float *truth, float *blurred, float *data, double *scale, double *read);

/* A simulated acquisition whole on every rank (PetscFree): truth and noisy data of size o->n;
   the PSF used (normalised to sum 1, centred at its peak pc; pn its size) when psf is given. */
PetscErrorCode AppSimWhole(MPI_Comm comm, const AppSimOptions *o, float **truth, float **data, ptrdiff_t pn[3], float **psf);

#endif
