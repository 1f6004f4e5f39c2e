/* Checkpoint and restart of the solver loop.

   A checkpoint is one HDF5 file holding everything needed to continue exactly: the estimate x on
   the whole working volume (the padding included: in padded mode it carries the estimate of the
   object outside the field of view), the method's state volumes and scalars, the iteration
   count, and a fingerprint of every setting that changes the result (method and its options,
   boundary, padding, PSF values, background, sizes, data file). It is written atomically
   (temporary name, then rename), so a second signal or an I/O error during the write leaves the
   previous checkpoint intact. A restart may use another number of ranks. */
#include "decon/decon_impl.h"
#include <pdecon/io/io.h>
#include <pdecon/core/fingerprint.h>
#include <pdecon/core/bfloat16.h>
#include <string.h>

#define CKPT_VERSION 1

/* Options that do not change the result: how long to run (the stop rule too), what to print,
   where to save (and, for a tile's checkpoint, how the tiles are shared out). */
static const char *const neutral[] = {"max_it", "rtol", "monitor", "converged_reason", "checkpoint", "checkpoint_every", "memory_view", "memory_limit", "blind_psf_output", "restart", "stop_rule", "stop_tol", "stop_gain", "tile_groups", "tile_stop_after", NULL};

static PetscErrorCode Fingerprint(PdDecon d, double fp[2])
{
  PdHash h = PD_HASH_INIT;

  PetscFunctionBegin;
  PdHashBytes(&h, d->ops->name, strlen(d->ops->name));
  PdHashBytes(&h, d->dataname, strlen(d->dataname));
  PdHashBytes(&h, d->m, sizeof(d->m));
  PdHashBytes(&h, d->lay->n, sizeof(d->lay->n));
  PdHashBytes(&h, d->pn, sizeof(d->pn));
  PdHashBytes(&h, d->pc, sizeof(d->pc));
  PdHashBytes(&h, d->psf_digest, sizeof(d->psf_digest)); /* the PSF may be released by now */
  if (d->nviews > 1) PdHashBytes(&h, d->vpsf, sizeof(float) * (size_t)(d->nviews * d->pn[0] * d->pn[1] * d->pn[2]));
  PdHashBytes(&h, &d->bg, sizeof(d->bg));
  PdHashBytes(&h, &d->boundary, sizeof(d->boundary));
  PdHashBytes(&h, &d->weight_threshold, sizeof(d->weight_threshold));
  /* every -[prefix]decon_* option that shapes the result, in the order given */
  {
    char prefix[256];
    PetscCall(PetscSNPrintf(prefix, sizeof(prefix), "%sdecon_", d->prefix ? d->prefix : ""));
    PetscCall(PdHashOptions(&h, prefix, neutral));
  }
  PdHashSplit(h, fp);
  PetscFunctionReturn(0);
}

/* State volume i as floats: itself, or a bfloat16 one converted (exactly) into the FFT buffer. */
static const float *StateAsFloat(PdDecon d, const PdMethodState *s, PetscInt i)
{
  if (!s->bf16[i]) return s->vol[i];
  PdBF16Load(PdDeconLocalCount(d), (const PdBF16 *)s->vol[i], d->work);
  return d->work;
}

PetscErrorCode PdDeconCheckpointWrite(PdDecon d)
{
  PdMethodState s;
  PdH5Writer    w;
  double        meta[8], fp[2];
  double        vals[PD_MAX_STATE];

  PetscFunctionBegin;
  if (!d->checkpoint[0]) PetscFunctionReturn(0);
  memset(&s, 0, sizeof(s));
  if (d->ops->getstate) PetscCall(d->ops->getstate(d, &s));
  PetscCall(Fingerprint(d, fp));
  meta[0] = CKPT_VERSION;
  meta[1] = (double)d->it;
  meta[2] = fp[0];
  meta[3] = fp[1];
  for (int i = 0; i < 3; i++) meta[4 + i] = (double)d->lay->n[i];
  meta[7] = (double)s.nvol;
  for (PetscInt i = 0; i < s.nscal; i++) vals[i] = *s.scal[i];
  PetscCall(PdH5WriterOpen(d->comm, d->checkpoint, &w));
  PetscCall(PdH5WriterAddScalars(w, "pdecon_checkpoint", 8, meta));
  PetscCall(PdH5WriterAddScalars(w, "method_scalars", PetscMax(1, s.nscal), s.nscal ? vals : meta));
  {
    const double mem[3] = {d->stop.dev_prev, d->stop.chg_prev, d->stop.chg_first}; /* the stop rules' memory */
    PetscCall(PdH5WriterAddScalars(w, "stop_rule", 3, mem));
  }
  PetscCall(PdH5WriterAdd(w, "/x", d->lay, d->x, NULL));
  for (PetscInt i = 0; i < s.nvol; i++) {
    char name[64];
    PetscCall(PetscSNPrintf(name, sizeof(name), "/state/%s", s.volname[i]));
    PetscCall(PdH5WriterAdd(w, name, d->lay, StateAsFloat(d, &s, i), NULL));
  }
  PetscCall(PdH5WriterClose(&w, PETSC_TRUE));
  PetscCall(PetscInfo(NULL, "checkpoint at iteration %" PetscInt_FMT " written to %s\n", d->it, d->checkpoint));
  PetscFunctionReturn(0);
}

PetscErrorCode PdDeconCheckpointLoad(PdDecon d)
{
  PdMethodState s;
  double        meta[8], fp[2], vals[PD_MAX_STATE];
  char          spec[PETSC_MAX_PATH_LEN + 64];

  PetscFunctionBegin;
  memset(&s, 0, sizeof(s));
  if (d->ops->getstate) PetscCall(d->ops->getstate(d, &s));
  PetscCall(PdH5ReadScalars(d->comm, d->restart, "pdecon_checkpoint", 8, meta));
  PetscCheck(meta[0] == CKPT_VERSION, d->comm, PD_ERR_INPUT, "%s: checkpoint format %.0f, this pdecon reads %d", d->restart, meta[0], CKPT_VERSION);
  /* the method's state volumes differ before the sizes can: name the likely cause */
  PetscCheck(meta[7] == s.nvol, d->comm, PD_ERR_INPUT, "%s: checkpoint of a method that keeps %.0f state volume%s, -decon_method %s keeps %" PetscInt_FMT ": restart with the method that made it", d->restart, meta[7],
             meta[7] == 1 ? "" : "s", d->ops->name, s.nvol);
  PetscCheck(meta[4] == d->lay->n[0] && meta[5] == d->lay->n[1] && meta[6] == d->lay->n[2], d->comm, PD_ERR_INPUT,
             "%s: checkpoint of a %.0f x %.0f x %.0f working volume, this run has %td x %td x %td", d->restart, meta[4], meta[5], meta[6], d->lay->n[0], d->lay->n[1], d->lay->n[2]);
  PetscCall(Fingerprint(d, fp));
  PetscCheck(meta[2] == fp[0] && meta[3] == fp[1], d->comm, PD_ERR_INPUT,
             "%s: checkpoint was made with other settings (method, its options, PSF, data, background or boundary differ): continue it with those settings, or delete it to start afresh", d->restart);
  PetscCall(PdH5ReadScalars(d->comm, d->restart, "method_scalars", PetscMax(1, s.nscal), vals));
  for (PetscInt i = 0; i < s.nscal; i++) *s.scal[i] = vals[i];
  if (d->stop.active == PD_STOP_RULE_DEVIANCE || d->stop.active == PD_STOP_RULE_CHANGE_RISE) {
    double mem[3];
    PetscCall(PdH5ReadScalars(d->comm, d->restart, "stop_rule", 3, mem));
    d->stop.dev_prev  = mem[0];
    d->stop.chg_prev  = mem[1];
    d->stop.chg_first = mem[2];
  }
  PetscCall(PetscSNPrintf(spec, sizeof(spec), "%s:/x", d->restart));
  PetscCall(PdImageRead(spec, d->lay, d->x));
  for (PetscInt i = 0; i < s.nvol; i++) {
    PetscCall(PetscSNPrintf(spec, sizeof(spec), "%s:/state/%s", d->restart, s.volname[i]));
    PetscCall(PdImageRead(spec, d->lay, s.bf16[i] ? d->work : s.vol[i]));
    if (s.bf16[i]) PdBF16Store(PdDeconLocalCount(d), d->work, (PdBF16 *)s.vol[i]); /* exact: the floats were bfloat16 */
  }
  d->it = (PetscInt)meta[1];
  PetscCall(PetscInfo(NULL, "restarted from %s at iteration %" PetscInt_FMT "\n", d->restart, d->it));
  PetscFunctionReturn(0);
}
