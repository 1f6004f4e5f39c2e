/* The spectrum's blocks of rows along kz, the unit of the kz transforms and of the fused
   spectral product (included by fftconv_impl.h, after the state). */
#ifndef PDECON_FFT_BLOCKS_H
#define PDECON_FFT_BLOCKS_H

/* The block of spectral rows [b zblk, ...) along kz: its first column's address and its plan. */
static inline fftwf_complex *ZBlock(PdFFTConv c, ptrdiff_t b, ptrdiff_t nblk, int sign, fftwf_plan *p)
{
  const PetscBool last = (PetscBool)(c->zrem && b == nblk - 1);
  *p                   = sign < 0 ? (last ? c->zr_fwd : c->zb_fwd) : (last ? c->zr_inv : c->zb_inv);
  return (fftwf_complex *)c->spec + b * c->zblk * c->nc;
}

static inline ptrdiff_t ZBlocks(PdFFTConv c) { return c->zblk ? (c->nky + c->zblk - 1) / c->zblk : 0; }

#endif
