/* The blur of a simulated acquisition: the linear (not circular) convolution of a volume with a
   PSF, seen on the volume's own box. */
#ifndef PDECON_BLUR_H
#define PDECON_BLUR_H

#include <pdecon/fft/fftconv.h>

/* out = (h * v) on the box of v, with nothing outside the box contributing: conv holds the PSF
   (PdFFTConvSetPSF) on a working size of at least lay->n + pn - 1 in every axis, whose slabs
   lay shares (a box of conv's layout). FFT round-off below zero is set to 0 (a blurred image of
   a non-negative object is non-negative). out may equal v. Collective. */
PetscErrorCode PdSimBlur(PdFFTConv conv, const PdLayout *lay, const float *v, float *out);

#endif
