/* Where the spectrum lies between the exchanges, and its blocks of rows along kz, the unit of the
   kz transforms and of the fused spectral product (included by fftconv_impl.h, after the state).

   The spectrum shares the work buffer with the real planes. Its rows from rank t's plane k (kz =
   t zmax + k, this rank's ky) lie in slot (k, t): ymax rows of nc complex values at row
   (k P + t) ymax. When P ymax = n1 the slots of plane k are plane k's own rows, so the exchange
   writes them as soon as the plane is transformed; otherwise they lie at or above plane k and the
   planes are taken from the last. On one rank slot (k, 0) is plane k and the slots are the
   (kz, ky, kx) spectrum itself. */
#ifndef PDECON_FFT_BLOCKS_H
#define PDECON_FFT_BLOCKS_H

/* Plane buffers in thread 0's ring: the planes whose rows may be in flight at once, so that a
   rank that runs ahead of a peer by a few planes does not wait for it. */
#define PD_FFT_RING 4
static inline fftwf_complex *RingBuffer(PdFFTConv c, ptrdiff_t i)
{
  const int u = (int)(i % PD_FFT_RING);
  return u ? c->scratch[c->nthreads + u - 1] : c->scratch[0];
}

static inline fftwf_complex *Slot(PdFFTConv c, ptrdiff_t k, int t)
{
  return (fftwf_complex *)c->work + ((k * c->size + t) * c->ymax) * c->nc;
}

/* This rank's spectral rows from ky0 + ky on at kz. */
static inline fftwf_complex *SpecRows(PdFFTConv c, ptrdiff_t kz, ptrdiff_t ky)
{
  return Slot(c, kz % c->zmax, (int)(kz / c->zmax)) + ky * c->nc;
}

static inline ptrdiff_t ZBlocks(PdFFTConv c) { return c->zblk ? (c->nky + c->zblk - 1) / c->zblk : 0; }

/* Block b of spectral rows [b zblk, ...) ready for its transforms along kz: gathered from the
   slots into the thread's column buffer (in cache, so the gather costs no pass over memory).
   Returns its first column; *stride: complex values from one kz to the next; *p: its forward and
   backward plans (ZBlockTransform). */
static inline fftwf_complex *ZBlockGet(PdFFTConv c, ptrdiff_t b, ptrdiff_t nblk, int thread, ptrdiff_t *stride, const PdKzPlan **p)
{
  const PetscBool last = (PetscBool)(c->zrem && b == nblk - 1);
  const ptrdiff_t r0 = b * c->zblk, m = PetscMin(c->zblk, c->nky - r0) * c->nc;

  *p                 = last ? c->zr : c->zb;
  fftwf_complex *buf = c->colbuf[thread];
  for (ptrdiff_t kz = 0; kz < c->n[0]; kz++) memcpy(buf + kz * m, SpecRows(c, kz, r0), sizeof(fftwf_complex) * (size_t)m);
  *stride = m;
  return buf;
}

/* The block's columns along kz in place, with p[0] (forward) or p[1] (backward). */
static inline void ZBlockTransform(const PdKzPlan *p, fftwf_complex *blk)
{
  if (p->body) fftwf_execute_dft(p->body, blk, blk);
  if (p->tail) fftwf_execute_dft(p->tail, blk + p->nbody, blk + p->nbody);
}

/* Block b back into the slots. */
static inline void ZBlockPut(PdFFTConv c, ptrdiff_t b, const fftwf_complex *buf)
{
  const ptrdiff_t r0 = b * c->zblk, m = PetscMin(c->zblk, c->nky - r0) * c->nc;

  for (ptrdiff_t kz = 0; kz < c->n[0]; kz++) memcpy(SpecRows(c, kz, r0), buf + kz * m, sizeof(fftwf_complex) * (size_t)m);
}

#endif
