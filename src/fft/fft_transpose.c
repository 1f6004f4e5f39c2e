/* The distributed transforms of PdFFTConv and the buffers they run in: real space in slabs over
   z, Fourier space in slabs over ky (see fftconv.h).

   Forward: each local plane z gets its 2-D real-to-complex transform into a per-thread plane
   buffer, where it stays in cache while its rows are copied to where their owner takes them:
   this rank's rows ky straight into its spectrum at kz = z, a peer's rows back into the plane's
   own place in the work buffer, from where each (plane, peer) block travels as one contiguous
   message straight into the peer's spectrum. Peers on the same node keep their spectra in an
   MPI-3 shared-memory window, and their rows are written there directly from the plane buffer
   (no message, no second copy). Every value is copied once and nothing is packed. Then the 1-D
   transforms along kz. Inverse: the mirror image, each plane gathering its rows from this rank's
   spectrum, from the same-node peers' spectra and from the messages of the others. */
#include "fft/fftconv_impl.h"
#include <omp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/statvfs.h>

static inline ptrdiff_t Rows(PdFFTConv c, int r) { return c->ystart[r + 1] - c->ystart[r]; }
static inline PetscBool OnNode(PdFFTConv c, int r) { return c->peer_spec[r] && r != c->rank ? PETSC_TRUE : PETSC_FALSE; }
static inline PetscBool Remote(PdFFTConv c, int r) { return !c->peer_spec[r] && r != c->rank ? PETSC_TRUE : PETSC_FALSE; }
/* The j-th peer to send to (1 <= j < size): shifted by the rank, so that the ranks do not all
   send to the same peer at once. */
static inline int Peer(PdFFTConv c, int j) { return (c->rank + j) % c->size; }

/* Room for the node's windows in the directory that backs them (Open MPI's
   osc_sm_backing_directory, /dev/shm by default): a full tmpfs would end the run with SIGBUS,
   so the messages are used instead. */
static PetscErrorCode SharedSpaceAvailable(PdFFTConv c, PetscBool *ok)
{
  double      need = 4.0 * (double)c->nspec;
  int         nrank, yes = 0;
  const char *dir = getenv("OMPI_MCA_osc_sm_backing_directory");

  PetscFunctionBegin;
  PetscCallMPI(MPI_Allreduce(MPI_IN_PLACE, &need, 1, MPI_DOUBLE, MPI_SUM, c->node));
  PetscCallMPI(MPI_Comm_rank(c->node, &nrank));
  if (nrank == 0) {
    struct statvfs fs;
    if (!statvfs(dir && dir[0] ? dir : "/dev/shm", &fs)) yes = (double)fs.f_bavail * (double)fs.f_frsize > 1.25 * need;
  }
  PetscCallMPI(MPI_Bcast(&yes, 1, MPI_INT, 0, c->node));
  *ok = yes ? PETSC_TRUE : PETSC_FALSE;
  PetscFunctionReturn(0);
}

static PetscErrorCode WindowCreate(PdFFTConv c, size_t nfloats, float **base, MPI_Win *win, float **peer)
{
  MPI_Info  info;
  MPI_Group gx, gn;
  int      *all, *loc;

  PetscFunctionBegin;
  PetscCallMPI(MPI_Info_create(&info));
  PetscCallMPI(MPI_Info_set(info, "alloc_shared_noncontig", "true")); /* each rank's part on its own pages */
  PetscCallMPI(MPI_Win_allocate_shared((MPI_Aint)(nfloats * sizeof(float)), (int)sizeof(float), info, c->node, base, win));
  PetscCallMPI(MPI_Info_free(&info));
  PetscCallMPI(MPI_Win_lock_all(MPI_MODE_NOCHECK, *win)); /* one passive epoch for the window's life */
  PetscCall(PetscMalloc2(c->size, &all, c->size, &loc));
  for (int r = 0; r < c->size; r++) all[r] = r;
  PetscCallMPI(MPI_Comm_group(c->xcomm, &gx));
  PetscCallMPI(MPI_Comm_group(c->node, &gn));
  PetscCallMPI(MPI_Group_translate_ranks(gx, c->size, all, gn, loc));
  for (int r = 0; r < c->size; r++) {
    MPI_Aint sz;
    int      du;
    peer[r] = NULL;
    if (loc[r] != MPI_UNDEFINED) PetscCallMPI(MPI_Win_shared_query(*win, loc[r], &sz, &du, &peer[r]));
  }
  PetscCallMPI(MPI_Group_free(&gx));
  PetscCallMPI(MPI_Group_free(&gn));
  PetscCall(PetscFree2(all, loc));
  PetscFunctionReturn(0);
}

PetscErrorCode PdFFTBuffersCreate(PdFFTConv c)
{
  int       nnode = 1;
  PetscBool room  = PETSC_FALSE;

  PetscFunctionBegin;
  PetscCall(PetscCalloc1(c->size, &c->peer_spec));
  if (c->use_shm && c->size > 1) {
    PetscCallMPI(MPI_Comm_split_type(c->xcomm, MPI_COMM_TYPE_SHARED, c->rank, MPI_INFO_NULL, &c->node));
    if (c->shm_ranks > 0) { /* groups of consecutive ranks within the node (a socket, say) */
      MPI_Comm group;
      int      nrank;
      PetscCallMPI(MPI_Comm_rank(c->node, &nrank));
      PetscCallMPI(MPI_Comm_split(c->node, nrank / (int)c->shm_ranks, nrank, &group));
      PetscCallMPI(MPI_Comm_free(&c->node));
      c->node = group;
    }
    PetscCallMPI(MPI_Comm_size(c->node, &nnode));
    if (nnode > 1) PetscCall(SharedSpaceAvailable(c, &room));
    if (nnode > 1 && !room) PetscCall(PetscInfo(NULL, "no room for shared-memory windows: same-node peers exchange messages\n"));
    if (!room) PetscCallMPI(MPI_Comm_free(&c->node));
  }
  PetscCall(PdVolumeAlloc(c->nwork, &c->work));
  if (c->node != MPI_COMM_NULL) PetscCall(WindowCreate(c, c->nspec, &c->spec, &c->swin, c->peer_spec));
  else if (c->nspec) PetscCall(PdVolumeAlloc(c->nspec, &c->spec));
  else c->spec = c->work; /* one rank: the spectrum of the whole volume is in place */
  /* requests of one exchange: a block for each of the other ranks' planes in, one for each
     (local plane, peer) out (or the other way round) */
  PetscCall(PetscMalloc1((size_t)PetscMax(c->n[0] + c->lay->nzl * c->size, 1), &c->req));
  PetscFunctionReturn(0);
}

PetscErrorCode PdFFTBuffersDestroy(PdFFTConv c)
{
  PetscFunctionBegin;
  if (c->swin != MPI_WIN_NULL) {
    PetscCallMPI(MPI_Win_unlock_all(c->swin));
    PetscCallMPI(MPI_Win_free(&c->swin));
    c->spec = NULL;
  } else if (c->spec != c->work) PetscCall(PdVolumeFree(&c->spec));
  PetscCall(PdVolumeFree(&c->work));
  if (c->node != MPI_COMM_NULL) PetscCallMPI(MPI_Comm_free(&c->node));
  PetscCall(PetscFree(c->peer_spec));
  PetscCall(PetscFree(c->req));
  PetscFunctionReturn(0);
}

/* Every same-node rank's writes to win are complete and visible (MPI-3 shared-memory model). */
static PetscErrorCode NodeSync(PdFFTConv c, MPI_Win win)
{
  PetscFunctionBegin;
  PetscCallMPI(MPI_Win_sync(win));
  PetscCallMPI(MPI_Barrier(c->node));
  PetscCallMPI(MPI_Win_sync(win));
  PetscFunctionReturn(0);
}

/* Where rank r's spectral rows [ystart[r], ystart[r+1]) of local plane zl go (forward) and come
   from (inverse), as complex values: r's spectrum at kz = z0 + zl if it is this rank or a
   same-node peer, else the plane's own place in the work buffer (messages leave and land
   there). */
static inline fftwf_complex *PlaneRows(PdFFTConv c, ptrdiff_t zl, int r)
{
  if (r == c->rank) return (fftwf_complex *)c->spec + (c->lay->z0 + zl) * c->nky * c->nc;
  if (OnNode(c, r)) return (fftwf_complex *)c->peer_spec[r] + (c->lay->z0 + zl) * Rows(c, r) * c->nc;
  return (fftwf_complex *)c->work + (zl * c->n[1] + c->ystart[r]) * c->nc;
}

static inline void PlaneForward(PdFFTConv c, ptrdiff_t zl, fftwf_complex *s)
{
  fftwf_execute_dft_r2c(c->plane_fwd, c->work + zl * c->lay->ps, s);
  for (int r = 0; r < c->size; r++) memcpy(PlaneRows(c, zl, r), s + c->ystart[r] * c->nc, sizeof(fftwf_complex) * (size_t)(Rows(c, r) * c->nc));
}

static inline void PlaneInverse(PdFFTConv c, ptrdiff_t zl, int thread)
{
  fftwf_complex *s = c->scratch[thread];

  for (int r = 0; r < c->size; r++) memcpy(s + c->ystart[r] * c->nc, PlaneRows(c, zl, r), sizeof(fftwf_complex) * (size_t)(Rows(c, r) * c->nc));
  fftwf_execute_dft_c2r(c->plane_inv, s, c->work + zl * c->lay->ps);
  if (c->plane_fn) c->plane_fn(c->plane_ctx, zl, thread); /* while the plane is in cache */
}

PetscErrorCode PdFFTConvSetInversePlaneFn(PdFFTConv c, PdFFTPlaneFn fn, void *ctx, int *nthreads)
{
  PetscFunctionBegin;
  PetscCheck(c->setup, c->comm, PETSC_ERR_ORDER, "call PdFFTConvSetUp first");
  c->plane_fn  = fn;
  c->plane_ctx = ctx;
  if (nthreads) *nthreads = c->nthreads;
  PetscFunctionReturn(0);
}

static PetscErrorCode SendPlane(PdFFTConv c, ptrdiff_t zl, int r, int *nr)
{
  PetscFunctionBegin;
  PetscCallMPI(MPI_Isend(PlaneRows(c, zl, r), (int)(2 * Rows(c, r) * c->nc), MPI_FLOAT, r, 0, c->xcomm, &c->req[(*nr)++]));
  PetscFunctionReturn(0);
}

PetscErrorCode PdFFTPlanesForward(PdFFTConv c)
{
  const PdLayout *l = c->lay;
  const ptrdiff_t blk = c->nky * c->nc; /* complex values per received plane block */
  int             nr = 0;

  PetscFunctionBegin;
  if (blk > 0)
    for (int s = 0; s < c->size; s++)
      if (Remote(c, s))
        for (ptrdiff_t z = l->zstart[s]; z < l->zstart[s + 1]; z++) PetscCallMPI(MPI_Irecv((fftwf_complex *)c->spec + z * blk, (int)(2 * blk), MPI_FLOAT, s, 0, c->xcomm, &c->req[nr++]));
  if (c->node != MPI_COMM_NULL) PetscCallMPI(MPI_Barrier(c->node)); /* the peers are done with their spectra */
  if (c->nthreads == 1) {
    /* One thread: a plane's blocks leave as soon as it is done, and testing the requests lets
       the peers' blocks be copied while they are still in the shared cache. */
    for (ptrdiff_t zl = 0; zl < l->nzl; zl++) {
      int done;
      PlaneForward(c, zl, c->scratch[0]);
      for (int j = 1; j < c->size; j++) {
        const int r = Peer(c, j);
        if (Remote(c, r) && Rows(c, r) > 0) PetscCall(SendPlane(c, zl, r, &nr));
      }
      if (nr) PetscCallMPI(MPI_Testall(nr, c->req, &done, MPI_STATUSES_IGNORE));
    }
  } else {
#pragma omp parallel for schedule(static) num_threads(c->nthreads)
    for (ptrdiff_t zl = 0; zl < l->nzl; zl++) PlaneForward(c, zl, c->scratch[omp_get_thread_num()]);
    for (ptrdiff_t zl = 0; zl < l->nzl; zl++)
      for (int j = 1; j < c->size; j++) {
        const int r = Peer(c, j);
        if (Remote(c, r) && Rows(c, r) > 0) PetscCall(SendPlane(c, zl, r, &nr));
      }
  }
  PetscCall(PetscLogEventBegin(PD_EV_FFT_TRANSPOSE, 0, 0, 0, 0));
  PetscCallMPI(MPI_Waitall(nr, c->req, MPI_STATUSES_IGNORE));
  if (c->node != MPI_COMM_NULL) PetscCall(NodeSync(c, c->swin)); /* every same-node block is in */
  PetscCall(PetscLogEventEnd(PD_EV_FFT_TRANSPOSE, 0, 0, 0, 0));
  PetscFunctionReturn(0);
}

PetscErrorCode PdFFTConvForward(PdFFTConv c)
{
  PetscFunctionBegin;
  PetscCheck(c->setup, c->comm, PETSC_ERR_ORDER, "call PdFFTConvSetUp first");
  PetscCall(PetscLogEventBegin(PD_EV_FFT_FWD, 0, 0, 0, 0));
  PetscCall(PdFFTPlanesForward(c));
  PdFFTColumns(c, FFTW_FORWARD);
  PetscCall(PetscLogEventEnd(PD_EV_FFT_FWD, 0, 0, 0, 0));
  PetscFunctionReturn(0);
}

PetscErrorCode PdFFTConvInverse(PdFFTConv c)
{
  PetscFunctionBegin;
  PetscCheck(c->setup, c->comm, PETSC_ERR_ORDER, "call PdFFTConvSetUp first");
  PetscCall(PetscLogEventBegin(PD_EV_FFT_INV, 0, 0, 0, 0));
  PdFFTColumns(c, FFTW_BACKWARD);
  PetscCall(PdFFTPlanesInverse(c));
  PetscCall(PetscLogEventEnd(PD_EV_FFT_INV, 0, 0, 0, 0));
  PetscFunctionReturn(0);
}

PetscErrorCode PdFFTPlanesInverse(PdFFTConv c)
{
  const PdLayout *l = c->lay;
  const ptrdiff_t blk = c->nky * c->nc; /* complex values per sent plane block */
  int             nr = 0, per = 0;      /* requests; receives per plane */

  PetscFunctionBegin;
  PetscCall(PetscLogEventBegin(PD_EV_FFT_TRANSPOSE, 0, 0, 0, 0));
  /* receives plane by plane, so that a plane can be transformed as soon as its blocks are in */
  for (int s = 0; s < c->size; s++) per += Remote(c, s) && Rows(c, s) > 0;
  for (ptrdiff_t zl = 0; zl < l->nzl; zl++)
    for (int s = 0; s < c->size; s++)
      if (Remote(c, s) && Rows(c, s) > 0) PetscCallMPI(MPI_Irecv(PlaneRows(c, zl, s), (int)(2 * Rows(c, s) * c->nc), MPI_FLOAT, s, 0, c->xcomm, &c->req[nr++]));
  const int nrecv = nr;
  /* sends in the order the owners transform their planes: their first planes first */
  const ptrdiff_t most = l->zstart[1] - l->zstart[0]; /* rank 0 owns the most planes */
  if (blk > 0)
    for (ptrdiff_t k = 0; k < most; k++)
      for (int j = 1; j < c->size; j++) {
        const int       r = Peer(c, j);
        const ptrdiff_t z = l->zstart[r] + k;
        if (Remote(c, r) && z < l->zstart[r + 1]) PetscCallMPI(MPI_Isend((fftwf_complex *)c->spec + z * blk, (int)(2 * blk), MPI_FLOAT, r, 0, c->xcomm, &c->req[nr++]));
      }
  if (c->node != MPI_COMM_NULL) PetscCall(NodeSync(c, c->swin)); /* every spectrum on the node is ready */
  if (c->nthreads == 1) {
    PetscCall(PetscLogEventEnd(PD_EV_FFT_TRANSPOSE, 0, 0, 0, 0));
    for (ptrdiff_t zl = 0; zl < l->nzl; zl++) {
      if (per) PetscCallMPI(MPI_Waitall(per, c->req + zl * per, MPI_STATUSES_IGNORE));
      PlaneInverse(c, zl, 0);
    }
    PetscCall(PetscLogEventBegin(PD_EV_FFT_TRANSPOSE, 0, 0, 0, 0));
    PetscCallMPI(MPI_Waitall(nr - nrecv, c->req + nrecv, MPI_STATUSES_IGNORE));
  } else {
    PetscCallMPI(MPI_Waitall(nr, c->req, MPI_STATUSES_IGNORE));
#pragma omp parallel for schedule(static) num_threads(c->nthreads)
    for (ptrdiff_t zl = 0; zl < l->nzl; zl++) PlaneInverse(c, zl, omp_get_thread_num());
  }
  if (c->node != MPI_COMM_NULL) PetscCallMPI(MPI_Barrier(c->node)); /* the peers are done with our spectrum */
  PetscCall(PetscLogEventEnd(PD_EV_FFT_TRANSPOSE, 0, 0, 0, 0));
  PetscFunctionReturn(0);
}

void PdFFTColumns(PdFFTConv c, int sign)
{
  const ptrdiff_t nblk = ZBlocks(c);

#pragma omp parallel for schedule(static) num_threads(c->nthreads)
  for (ptrdiff_t b = 0; b < nblk; b++) {
    fftwf_plan     p;
    fftwf_complex *blk = ZBlock(c, b, nblk, sign, &p);
    fftwf_execute_dft(p, blk, blk);
  }
}
