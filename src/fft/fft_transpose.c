/* The distributed transforms of PdFFTConv and the buffer they run in: real space in slabs over
   z, Fourier space in slabs over ky (see fftconv.h), both in the one work buffer.

   Forward: the local planes are taken from the last to the first. Each gets its 2-D
   real-to-complex transform into a per-thread plane buffer, where it stays in cache while its
   rows leave: this rank's rows into their slot (fft_blocks.h), every peer's rows as one
   contiguous message straight from the plane buffer. The plane's place in the work buffer is
   free once it is transformed, so the peers' rows of the same plane arrive there, into the
   plane's slots. Then the 1-D transforms along kz, block by block. Inverse: the mirror image,
   from the first plane to the last; each plane gathers its rows from its own slot and from the
   peers' messages into the plane buffer, every slot leaves as one message before its plane is
   overwritten. Every value is copied once, nothing is packed, and no second volume is held: the
   only room besides the work buffer is two plane buffers and one block of columns per thread.
   With several threads the planes are transformed side by side into their own slots and then
   exchanged plane by plane through one plane buffer (one copy more). The spectrum stays in the
   slots between the exchanges; PdFFTConvForward puts it in (kz, ky, kx) order for the callers
   that read it (PdFFTSlotsToSpectrum: a transpose of the slots, cycle by cycle, through one slot
   of room) and PdFFTConvInverse takes it back. */
#include "fft/fftconv_impl.h"
#include <omp.h>
#include <stdlib.h>
#include <string.h>

static inline ptrdiff_t Rows(PdFFTConv c, int r) { return c->ystart[r + 1] - c->ystart[r]; }
static inline ptrdiff_t Planes(PdFFTConv c, int r) { return c->lay->zstart[r + 1] - c->lay->zstart[r]; }
/* The j-th peer to send to (1 <= j < size): shifted by the rank, so that the ranks do not all
   send to the same peer at once. */
static inline int Peer(PdFFTConv c, int j) { return (c->rank + j) % c->size; }
/* The slots of plane k are plane k's own rows: the planes may be transformed side by side. */
static inline PetscBool SlotsInPlane(PdFFTConv c) { return (PetscBool)(c->size * c->ymax == c->n[1]); }

PetscErrorCode PdFFTBuffersCreate(PdFFTConv c)
{
  PetscFunctionBegin;
  PetscCall(PdVolumeAllocSmallPages(c->nwork, &c->work)); /* 2 MiB pages made the transforms no faster, the peer benchmark slower (docs/scaling.md) */
  c->spec = c->work;
  /* requests of one exchange: one for every (slot, peer), and those of the ring's planes */
  PetscCall(PetscMalloc1((size_t)(c->zmax + PD_FFT_RING) * c->size + 2, &c->req));
  PetscCall(PetscMalloc1((size_t)(c->zmax * c->size), &c->visited));
  PetscFunctionReturn(0);
}

PetscErrorCode PdFFTBuffersDestroy(PdFFTConv c)
{
  PetscFunctionBegin;
  PetscCall(PdVolumeFree(&c->work));
  c->spec = NULL;
  if (c->colbuf)
    for (int t = 0; t < c->nthreads; t++) fftwf_free(c->colbuf[t]);
  PetscCall(PetscFree(c->colbuf));
  PetscCall(PetscFree(c->req));
  PetscCall(PetscFree(c->visited));
  PetscFunctionReturn(0);
}

/* The 2-D transform of local plane zl into the plane buffer s; this rank's rows into their slot,
   and, with `all`, every peer's rows into theirs (else they leave from s as messages). */
static inline void PlaneForward(PdFFTConv c, ptrdiff_t zl, int thread, fftwf_complex *s, PetscBool all, PdFFTPlaneFn fn, void *ctx)
{
  if (fn) fn(ctx, zl, thread); /* the plane stays in cache for the transform */
  fftwf_execute_dft_r2c(c->plane_fwd, c->work + zl * c->lay->ps, s);
  for (int r = 0; r < c->size; r++)
    if (all || r == c->rank) memcpy(Slot(c, zl, r), s + c->ystart[r] * c->nc, sizeof(fftwf_complex) * (size_t)(Rows(c, r) * c->nc));
}

/* Local plane zl from its rows in s: this rank's rows from their slot first, and with `all`
   every peer's rows too (else they arrived in s as messages); then the inverse 2-D transform
   into the plane's place and the caller's plane pass fn. */
static inline void PlaneInverse(PdFFTConv c, ptrdiff_t zl, int thread, fftwf_complex *s, PetscBool all, PdFFTPlaneFn fn, void *ctx)
{
  for (int r = 0; r < c->size; r++)
    if (all || r == c->rank) memcpy(s + c->ystart[r] * c->nc, Slot(c, zl, r), sizeof(fftwf_complex) * (size_t)(Rows(c, r) * c->nc));
  fftwf_execute_dft_c2r(c->plane_inv, s, c->work + zl * c->lay->ps);
  /* the rows' padding held spectrum: zero, as the pointwise passes that run over whole rows expect */
  for (ptrdiff_t y = 0; y < c->n[1]; y++) memset(c->work + zl * c->lay->ps + y * c->lay->rs + c->n[2], 0, sizeof(float) * (size_t)(c->lay->rs - c->n[2]));
  if (fn) fn(ctx, zl, thread); /* while the plane is in cache */
}

static PetscErrorCode SetPlaneFn(PdFFTConv c, PdFFTPlaneFn *slot, void **slot_ctx, PdFFTPlaneFn fn, void *ctx, int *nthreads)
{
  PetscFunctionBegin;
  PetscCheck(c->setup, c->comm, PETSC_ERR_ORDER, "call PdFFTConvSetUp first");
  *slot     = fn;
  *slot_ctx = ctx;
  if (nthreads) *nthreads = c->nthreads;
  PetscFunctionReturn(0);
}

PetscErrorCode PdFFTConvSetForwardPlaneFn(PdFFTConv c, PdFFTPlaneFn fn, void *ctx, int *nthreads)
{
  return SetPlaneFn(c, &c->fwd_plane_fn, &c->fwd_plane_ctx, fn, ctx, nthreads);
}

PetscErrorCode PdFFTConvSetInversePlaneFn(PdFFTConv c, PdFFTPlaneFn fn, void *ctx, int *nthreads)
{
  return SetPlaneFn(c, &c->plane_fn, &c->plane_ctx, fn, ctx, nthreads);
}

/* Forward: the peers' rows of their plane k into this rank's slots (k, t). */
static PetscErrorCode ReceiveSlots(PdFFTConv c, ptrdiff_t k, MPI_Request *req, int *nr)
{
  PetscFunctionBegin;
  for (int j = 1; j < c->size && c->nky > 0; j++) {
    const int t = Peer(c, c->size - j);
    if (k < Planes(c, t)) PetscCallMPI(MPI_Irecv(Slot(c, k, t), (int)(2 * c->nky * c->nc), MPI_FLOAT, t, 0, c->xcomm, &req[(*nr)++]));
  }
  PetscFunctionReturn(0);
}

/* Plane k's slots with every peer at once, through the spare plane buffer: forward, slot (k, t)
   holds this rank's plane k's rows of t and gets t's plane k's rows of this rank; inverse, the
   other way round. Every slot is copied out before any is received into. */
static PetscErrorCode SwapSlots(PdFFTConv c, ptrdiff_t k, PetscBool forward)
{
  fftwf_complex *tmp = RingBuffer(c, 1);
  const PetscBool mine = (PetscBool)(k < c->lay->nzl);
  int            nr  = 0;

  PetscFunctionBegin;
  for (int j = 1; j < c->size; j++) {
    const int       t   = Peer(c, j);
    const PetscBool its = (PetscBool)(k < Planes(c, t));
    const ptrdiff_t out = forward ? (mine ? Rows(c, t) : 0) : (its ? c->nky : 0);
    fftwf_complex  *o   = tmp + (j - 1) * c->ymax * c->nc;
    if (out == 0) continue;
    memcpy(o, Slot(c, k, t), sizeof(fftwf_complex) * (size_t)(out * c->nc));
    PetscCallMPI(MPI_Isend(o, (int)(2 * out * c->nc), MPI_FLOAT, t, 0, c->xcomm, &c->req[nr++]));
  }
  for (int j = 1; j < c->size; j++) {
    const int       s   = Peer(c, c->size - j);
    const PetscBool its = (PetscBool)(k < Planes(c, s));
    const ptrdiff_t in  = forward ? (its ? c->nky : 0) : (mine ? Rows(c, s) : 0);
    if (in > 0) PetscCallMPI(MPI_Irecv(Slot(c, k, s), (int)(2 * in * c->nc), MPI_FLOAT, s, 0, c->xcomm, &c->req[nr++]));
  }
  PetscCallMPI(MPI_Waitall(nr, c->req, MPI_STATUSES_IGNORE));
  PetscFunctionReturn(0);
}

PetscErrorCode PdFFTPlanesForward(PdFFTConv c)
{
  const PdLayout *l  = c->lay;
  const int       np = c->size - 1;
  MPI_Request    *sreq = c->req, *rreq = c->req + PD_FFT_RING * np; /* sends from the ring's buffers; receives */
  int             ns[PD_FFT_RING] = {0}, nr = 0;

  PetscFunctionBegin;
  /* the slots beyond this rank's planes are free from the start; the messages of a peer come
     from its last plane to its first, and so are the receives */
  for (ptrdiff_t k = c->zmax - 1; k >= l->nzl; k--) PetscCall(ReceiveSlots(c, k, rreq, &nr));
  if (c->nthreads > 1 && SlotsInPlane(c)) {
#pragma omp parallel for schedule(static) num_threads(c->nthreads)
    for (ptrdiff_t zl = 0; zl < l->nzl; zl++) PlaneForward(c, zl, omp_get_thread_num(), c->scratch[omp_get_thread_num()], PETSC_TRUE, c->fwd_plane_fn, c->fwd_plane_ctx);
    PetscCall(PetscLogEventBegin(PD_EV_FFT_TRANSPOSE, 0, 0, 0, 0));
    for (ptrdiff_t zl = l->nzl - 1; zl >= 0; zl--) PetscCall(SwapSlots(c, zl, PETSC_TRUE));
  } else {
    /* From the last plane to the first: a plane's slots lie at or above its own rows, in what the
       planes already transformed left free. Its rows leave from a buffer of the ring while the
       next planes are transformed into the others. */
    for (ptrdiff_t zl = l->nzl - 1; zl >= 0; zl--) {
      const int      u = (int)(zl % PD_FFT_RING);
      fftwf_complex *s = RingBuffer(c, zl);
      int            done;
      if (ns[u]) PetscCallMPI(MPI_Waitall(ns[u], sreq + u * np, MPI_STATUSES_IGNORE));
      ns[u] = 0;
      PlaneForward(c, zl, 0, s, PETSC_FALSE, c->fwd_plane_fn, c->fwd_plane_ctx);
      for (int j = 1; j < c->size; j++) {
        const int r = Peer(c, j);
        if (Rows(c, r) > 0) PetscCallMPI(MPI_Isend(s + c->ystart[r] * c->nc, (int)(2 * Rows(c, r) * c->nc), MPI_FLOAT, r, 0, c->xcomm, &sreq[u * np + ns[u]++]));
      }
      PetscCall(ReceiveSlots(c, zl, rreq, &nr));
      if (nr) PetscCallMPI(MPI_Testall(nr, rreq, &done, MPI_STATUSES_IGNORE)); /* progress while the next plane is transformed */
    }
    PetscCall(PetscLogEventBegin(PD_EV_FFT_TRANSPOSE, 0, 0, 0, 0));
    for (int u = 0; u < PD_FFT_RING; u++) PetscCallMPI(MPI_Waitall(ns[u], sreq + u * np, MPI_STATUSES_IGNORE));
  }
  PetscCallMPI(MPI_Waitall(nr, rreq, MPI_STATUSES_IGNORE));
  PetscCall(PetscLogEventEnd(PD_EV_FFT_TRANSPOSE, 0, 0, 0, 0));
  PetscFunctionReturn(0);
}

PetscErrorCode PdFFTConvForward(PdFFTConv c)
{
  PetscFunctionBegin;
  c->planes = PETSC_FALSE; /* the buffer is taken as real values (or a spectrum) */
  PetscCheck(c->setup, c->comm, PETSC_ERR_ORDER, "call PdFFTConvSetUp first");
  PetscCall(PetscLogEventBegin(PD_EV_FFT_FWD, 0, 0, 0, 0));
  PetscCall(PdFFTPlanesForward(c));
  PdFFTColumns(c, FFTW_FORWARD);
  PdFFTSlotsToSpectrum(c);
  PetscCall(PetscLogEventEnd(PD_EV_FFT_FWD, 0, 0, 0, 0));
  PetscFunctionReturn(0);
}

PetscErrorCode PdFFTConvInverse(PdFFTConv c)
{
  PetscFunctionBegin;
  c->planes = PETSC_FALSE; /* the buffer is taken as real values (or a spectrum) */
  PetscCheck(c->setup, c->comm, PETSC_ERR_ORDER, "call PdFFTConvSetUp first");
  PetscCall(PetscLogEventBegin(PD_EV_FFT_INV, 0, 0, 0, 0));
  PdFFTSpectrumToSlots(c);
  PdFFTColumns(c, FFTW_BACKWARD);
  PetscCall(PdFFTPlanesInverse(c));
  PetscCall(PetscLogEventEnd(PD_EV_FFT_INV, 0, 0, 0, 0));
  PetscFunctionReturn(0);
}

/* Inverse: a plane's rows of every peer into the plane buffer s. */
static PetscErrorCode ReceivePlane(PdFFTConv c, fftwf_complex *s, MPI_Request *req, int *nr)
{
  PetscFunctionBegin;
  *nr = 0;
  for (int j = 1; j < c->size; j++) {
    const int t = Peer(c, c->size - j);
    if (Rows(c, t) > 0) PetscCallMPI(MPI_Irecv(s + c->ystart[t] * c->nc, (int)(2 * Rows(c, t) * c->nc), MPI_FLOAT, t, 0, c->xcomm, &req[(*nr)++]));
  }
  PetscFunctionReturn(0);
}

PetscErrorCode PdFFTPlanesInverse(PdFFTConv c)
{
  const PdLayout *l  = c->lay;
  const int       np = c->size - 1;
  /* the sends of slot (k, j-th peer) at sreq[k np + j - 1] (null where nothing leaves); the
     receives of the ring's buffers after them */
  MPI_Request    *sreq = c->req, *rreq = c->req + c->zmax * np;
  int             nrv[PD_FFT_RING] = {0};

  PetscFunctionBegin;
  PetscCall(PetscLogEventBegin(PD_EV_FFT_TRANSPOSE, 0, 0, 0, 0));
  if (c->nthreads > 1 && SlotsInPlane(c)) {
    for (ptrdiff_t zl = 0; zl < c->zmax; zl++) PetscCall(SwapSlots(c, zl, PETSC_FALSE));
    PetscCall(PetscLogEventEnd(PD_EV_FFT_TRANSPOSE, 0, 0, 0, 0));
#pragma omp parallel for schedule(static) num_threads(c->nthreads)
    for (ptrdiff_t zl = 0; zl < l->nzl; zl++) PlaneInverse(c, zl, omp_get_thread_num(), c->scratch[omp_get_thread_num()], PETSC_TRUE, c->plane_fn, c->plane_ctx);
    PetscFunctionReturn(0);
  }
  /* every slot leaves at once, in the order the owners transform their planes; a plane's place
     is overwritten only once its slots are sent */
  for (ptrdiff_t k = 0; k < c->zmax; k++)
    for (int j = 1; j < c->size; j++) {
      const int t = Peer(c, j);
      sreq[k * np + j - 1] = MPI_REQUEST_NULL;
      if (k < Planes(c, t) && c->nky > 0) PetscCallMPI(MPI_Isend(Slot(c, k, t), (int)(2 * c->nky * c->nc), MPI_FLOAT, t, 0, c->xcomm, &sreq[k * np + j - 1]));
    }
  for (ptrdiff_t zl = 0; zl < PetscMin(l->nzl, PD_FFT_RING); zl++) PetscCall(ReceivePlane(c, RingBuffer(c, zl), rreq + (zl % PD_FFT_RING) * np, &nrv[zl % PD_FFT_RING]));
  PetscCall(PetscLogEventEnd(PD_EV_FFT_TRANSPOSE, 0, 0, 0, 0));
  for (ptrdiff_t zl = 0; zl < l->nzl; zl++) {
    const int u = (int)(zl % PD_FFT_RING);
    PetscCallMPI(MPI_Waitall(nrv[u], rreq + u * np, MPI_STATUSES_IGNORE));
    PetscCallMPI(MPI_Waitall(np, sreq + zl * np, MPI_STATUSES_IGNORE));
    PlaneInverse(c, zl, 0, RingBuffer(c, zl), PETSC_FALSE, c->plane_fn, c->plane_ctx);
    /* the buffer is free: the rows of the plane PD_FFT_RING further on may arrive there */
    if (zl + PD_FFT_RING < l->nzl) PetscCall(ReceivePlane(c, RingBuffer(c, zl), rreq + u * np, &nrv[u]));
  }
  PetscCall(PetscLogEventBegin(PD_EV_FFT_TRANSPOSE, 0, 0, 0, 0));
  PetscCallMPI(MPI_Waitall((int)(c->zmax * np), sreq, MPI_STATUSES_IGNORE));
  PetscCall(PetscLogEventEnd(PD_EV_FFT_TRANSPOSE, 0, 0, 0, 0));
  PetscFunctionReturn(0);
}

PetscErrorCode PdFFTPlanesInverseThenForward(PdFFTConv c)
{
  PetscFunctionBegin;
  PetscCall(PetscLogEventBegin(PD_EV_FFT_INV, 0, 0, 0, 0));
  PetscCall(PdFFTPlanesInverse(c));
  PetscCall(PetscLogEventEnd(PD_EV_FFT_INV, 0, 0, 0, 0));
  PetscCall(PetscLogEventBegin(PD_EV_FFT_FWD, 0, 0, 0, 0));
  PetscCall(PdFFTPlanesForward(c));
  PetscCall(PetscLogEventEnd(PD_EV_FFT_FWD, 0, 0, 0, 0));
  PetscFunctionReturn(0);
}

PetscErrorCode PdFFTPlanesBetween(PdFFTConv c, PdFFTPlaneFn fn, void *ctx)
{
  PetscFunctionBegin;
  /* One after the other where a plane's slots reach into the next plane's rows, and on one
     thread of several ranks, where the transforms' pipelined exchanges (a plane's messages in
     flight while the next is transformed) are faster than exchanging the slots plane by plane. */
  if (!SlotsInPlane(c) || (c->size > 1 && c->nthreads == 1)) {
    PdFFTPlaneFn inv = c->plane_fn, fwd = c->fwd_plane_fn;
    void        *inv_ctx = c->plane_ctx, *fwd_ctx = c->fwd_plane_ctx;
    c->plane_fn = fn, c->plane_ctx = ctx, c->fwd_plane_fn = NULL;
    PetscCall(PdFFTPlanesInverseThenForward(c));
    c->plane_fn = inv, c->plane_ctx = inv_ctx, c->fwd_plane_fn = fwd, c->fwd_plane_ctx = fwd_ctx;
    PetscFunctionReturn(0);
  }
  /* Each plane's slots are its own rows: every slot exchanged, then each plane transformed back,
     passed through fn and transformed forward again while it is in cache (one pass over the
     volume instead of two), then every slot exchanged again. Logged as the inverse and the
     forward transform. */
  PetscCall(PetscLogEventBegin(PD_EV_FFT_INV, 0, 0, 0, 0));
  PetscCall(PetscLogEventBegin(PD_EV_FFT_TRANSPOSE, 0, 0, 0, 0));
  for (ptrdiff_t zl = 0; zl < c->zmax && c->size > 1; zl++) PetscCall(SwapSlots(c, zl, PETSC_FALSE));
  PetscCall(PetscLogEventEnd(PD_EV_FFT_TRANSPOSE, 0, 0, 0, 0));
#pragma omp parallel for schedule(static) num_threads(c->nthreads)
  for (ptrdiff_t zl = 0; zl < c->lay->nzl; zl++) {
    const int t = omp_get_thread_num();
    PlaneInverse(c, zl, t, c->scratch[t], PETSC_TRUE, fn, ctx);
    PlaneForward(c, zl, t, c->scratch[t], PETSC_TRUE, NULL, NULL);
  }
  PetscCall(PetscLogEventEnd(PD_EV_FFT_INV, 0, 0, 0, 0));
  PetscCall(PetscLogEventBegin(PD_EV_FFT_FWD, 0, 0, 0, 0));
  PetscCall(PetscLogEventBegin(PD_EV_FFT_TRANSPOSE, 0, 0, 0, 0));
  for (ptrdiff_t zl = c->zmax - 1; zl >= 0 && c->size > 1; zl--) PetscCall(SwapSlots(c, zl, PETSC_TRUE));
  PetscCall(PetscLogEventEnd(PD_EV_FFT_TRANSPOSE, 0, 0, 0, 0));
  PetscCall(PetscLogEventEnd(PD_EV_FFT_FWD, 0, 0, 0, 0));
  PetscFunctionReturn(0);
}

void PdFFTColumns(PdFFTConv c, int sign)
{
  const ptrdiff_t nblk = ZBlocks(c);

#pragma omp parallel for schedule(static) num_threads(c->nthreads)
  for (ptrdiff_t b = 0; b < nblk; b++) {
    const PdKzPlan *p;
    ptrdiff_t       stride;
    fftwf_complex  *blk = ZBlockGet(c, b, nblk, omp_get_thread_num(), &stride, &p);
    ZBlockTransform(&p[sign == FFTW_FORWARD ? 0 : 1], blk);
    ZBlockPut(c, b, blk);
  }
}

/* The slot index k P + t holds kz = t zmax + k: the slots in kz order are the transpose of a
   zmax x P array of slots. In place, cycle by cycle: position j takes what lies at from(j). */
static inline ptrdiff_t SlotOfKz(PdFFTConv c, ptrdiff_t q) { return (q % c->zmax) * c->size + q / c->zmax; }
static inline ptrdiff_t KzOfSlot(PdFFTConv c, ptrdiff_t s) { return (s % c->size) * c->zmax + s / c->size; }

static void PermuteSlots(PdFFTConv c, ptrdiff_t (*from)(PdFFTConv, ptrdiff_t))
{
  const ptrdiff_t nslot = c->zmax * c->size, unit = c->ymax * c->nc;
  const size_t    bytes = sizeof(fftwf_complex) * (size_t)unit;
  fftwf_complex  *v = (fftwf_complex *)c->work, *tmp = RingBuffer(c, 1);

  memset(c->visited, 0, (size_t)nslot);
  for (ptrdiff_t i = 0; i < nslot; i++) {
    if (c->visited[i] || from(c, i) == i) continue;
    memcpy(tmp, v + i * unit, bytes);
    for (ptrdiff_t j = i;;) {
      const ptrdiff_t src = from(c, j);
      c->visited[j]       = 1;
      if (src == i) {
        memcpy(v + j * unit, tmp, bytes);
        break;
      }
      memcpy(v + j * unit, v + src * unit, bytes);
      j = src;
    }
  }
}

void PdFFTSlotsToSpectrum(PdFFTConv c)
{
  fftwf_complex *v = (fftwf_complex *)c->work;

  if (c->size == 1) return;
  PermuteSlots(c, SlotOfKz);
  if (c->nky < c->ymax) /* close up: ymax rows a slot, nky rows a kz */
    for (ptrdiff_t q = 1; q < c->n[0]; q++) memmove(v + q * c->nky * c->nc, v + q * c->ymax * c->nc, sizeof(fftwf_complex) * (size_t)(c->nky * c->nc));
}

void PdFFTSpectrumToSlots(PdFFTConv c)
{
  fftwf_complex *v = (fftwf_complex *)c->work;

  if (c->size == 1) return;
  if (c->nky < c->ymax)
    for (ptrdiff_t q = c->n[0] - 1; q > 0; q--) memmove(v + q * c->ymax * c->nc, v + q * c->nky * c->nc, sizeof(fftwf_complex) * (size_t)(c->nky * c->nc));
  PermuteSlots(c, KzOfSlot);
}
