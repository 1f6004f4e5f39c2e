/* The convolution layer on oneDNN (-nn_backend dnnl): the same products as conv.c,

     out = b + W ⋆ in,   dW += G ⋆ in (correlated over the positions),   dL/din = Wᵀ ⋆ G,

   computed by oneDNN's direct convolutions (its JIT kernels for the host's vector unit) instead
   of im2col + SGEMM. oneDNN picks its own blocked layouts for the data and the weights ("any");
   the engine's arrays stay NCDHW and [cout][cin][k]^dims, and reorders convert on the way in and
   out. Results that the engine adds to (the weight gradient, dL/din when another layer also
   reads the input) go through a reorder with a sum post-op: y ← y + reorder(x).

   Primitives are made once per layer, input shape and mode and kept in the work (two shapes per
   layer, e.g. training patches and a whole image), so a step creates nothing. A shape oneDNN
   does not implement (or a right padding below zero: an output that does not reach the input's
   end) is left to the SGEMM path, which returns done = false. */
#include "learn/nn/nn_impl.h"
#include <string.h>

#if defined(PDECON_HAVE_DNNL)
  #include <oneapi/dnnl/dnnl.h>

  #define DnnlCall(f) \
    do { \
      dnnl_status_t st_ = (f); \
      PetscCheck(st_ == dnnl_success, PETSC_COMM_SELF, PETSC_ERR_LIB, "oneDNN: %s failed (status %d)", #f, (int)st_); \
    } while (0)

/* One operand of a primitive: the engine's plain array (its handle set per call) and, when the
   primitive wants another layout or the result is added, oneDNN's own buffer and the reorder
   between the two (plain → own for inputs, own → plain for outputs). */
typedef struct {
  dnnl_memory_t    user, own;
  dnnl_primitive_t reorder;
} Operand;

typedef struct {
  PetscInt              key[6]; /* n, d, h, w, training, threads; key[0] = 0: empty */
  PetscBool             ok;     /* oneDNN implements this shape */
  PetscInt              add_in; /* what d_src was made for (-1: the backward not made yet) */
  dnnl_primitive_desc_t fpd;    /* the forward's, the backward's hint */
  dnnl_primitive_t      fwd, bwd_data, bwd_weights;
  Operand          f_src, f_wei, f_dst, d_dst, d_wei, d_src, w_src, w_dst, w_wei;
  dnnl_memory_t    bias;
} Entry;

  #define ENTRIES 2

struct _PdNNDnnl {
  dnnl_engine_t eng;
  dnnl_stream_t stream;
  PetscInt      nl;
  Entry        *e;    /* ENTRIES per layer */
  PetscInt     *next; /* per layer: the entry replaced next */
};

static PetscErrorCode OperandFree(Operand *op)
{
  PetscFunctionBegin;
  if (op->reorder) DnnlCall(dnnl_primitive_destroy(op->reorder));
  if (op->own) DnnlCall(dnnl_memory_destroy(op->own));
  if (op->user) DnnlCall(dnnl_memory_destroy(op->user));
  PetscCall(PetscMemzero(op, sizeof(*op)));
  PetscFunctionReturn(0);
}

static PetscErrorCode EntryFree(Entry *e)
{
  Operand *ops[9] = {&e->f_src, &e->f_wei, &e->f_dst, &e->d_dst, &e->d_wei, &e->d_src, &e->w_src, &e->w_dst, &e->w_wei};

  PetscFunctionBegin;
  for (int i = 0; i < 9; i++) PetscCall(OperandFree(ops[i]));
  if (e->fwd) DnnlCall(dnnl_primitive_destroy(e->fwd));
  if (e->bwd_data) DnnlCall(dnnl_primitive_destroy(e->bwd_data));
  if (e->bwd_weights) DnnlCall(dnnl_primitive_destroy(e->bwd_weights));
  if (e->bias) DnnlCall(dnnl_memory_destroy(e->bias));
  if (e->fpd) DnnlCall(dnnl_primitive_desc_destroy(e->fpd));
  PetscCall(PetscMemzero(e, sizeof(*e)));
  PetscFunctionReturn(0);
}

static PetscErrorCode PdNNDnnlDestroy(PdNNDnnl *d)
{
  PetscFunctionBegin;
  if (!*d) PetscFunctionReturn(0);
  for (PetscInt i = 0; i < (*d)->nl * ENTRIES; i++) PetscCall(EntryFree(&(*d)->e[i]));
  PetscCall(PetscFree2((*d)->e, (*d)->next));
  if ((*d)->stream) DnnlCall(dnnl_stream_destroy((*d)->stream));
  if ((*d)->eng) DnnlCall(dnnl_engine_destroy((*d)->eng));
  PetscCall(PetscFree(*d));
  PetscFunctionReturn(0);
}

static PetscErrorCode DnnlCreate(PetscInt nl, PdNNDnnl *d)
{
  PetscFunctionBegin;
  PetscCall(PetscNew(d));
  (*d)->nl = nl;
  PetscCall(PetscCalloc2(nl * ENTRIES, &(*d)->e, nl, &(*d)->next));
  DnnlCall(dnnl_engine_create(&(*d)->eng, dnnl_cpu, 0));
  DnnlCall(dnnl_stream_create(&(*d)->stream, (*d)->eng, dnnl_stream_default_flags));
  PetscFunctionReturn(0);
}

/* op for a primitive operand of layout md whose engine array has layout plain. Input: reordered
   plain → md before the primitive when the layouts differ. Output: reordered md → plain after it
   when they differ or when add (then with a sum post-op, so the engine's array is added to). */
static PetscErrorCode OperandSetUp(dnnl_engine_t eng, const dnnl_memory_desc_t *plain, const dnnl_memory_desc_t *md, PetscBool output, PetscBool add, Operand *op)
{
  dnnl_primitive_desc_t rpd;
  dnnl_primitive_attr_t attr = NULL;

  PetscFunctionBegin;
  DnnlCall(dnnl_memory_create(&op->user, plain, eng, DNNL_MEMORY_NONE));
  if (dnnl_memory_desc_equal(plain, md) && !add) PetscFunctionReturn(0);
  DnnlCall(dnnl_memory_create(&op->own, md, eng, DNNL_MEMORY_ALLOCATE));
  if (add) {
    dnnl_post_ops_t po;
    DnnlCall(dnnl_post_ops_create(&po));
    DnnlCall(dnnl_post_ops_append_sum(po, 1.0f));
    DnnlCall(dnnl_primitive_attr_create(&attr));
    DnnlCall(dnnl_primitive_attr_set_post_ops(attr, po));
    DnnlCall(dnnl_post_ops_destroy(po));
  }
  if (output) DnnlCall(dnnl_reorder_primitive_desc_create(&rpd, md, eng, plain, eng, attr));
  else DnnlCall(dnnl_reorder_primitive_desc_create(&rpd, plain, eng, md, eng, attr));
  DnnlCall(dnnl_primitive_create(&op->reorder, rpd));
  DnnlCall(dnnl_primitive_desc_destroy(rpd));
  if (attr) DnnlCall(dnnl_primitive_attr_destroy(attr));
  PetscFunctionReturn(0);
}

/* The memory the primitive reads or writes; inputs are reordered into it first. */
static PetscErrorCode OperandIn(dnnl_stream_t s, Operand *op, const float *v, dnnl_memory_t *m)
{
  PetscFunctionBegin;
  DnnlCall(dnnl_memory_set_data_handle(op->user, (void *)v));
  if (op->reorder) {
    dnnl_exec_arg_t args[2] = {
      {DNNL_ARG_FROM, op->user},
      {DNNL_ARG_TO,   op->own }
    };
    DnnlCall(dnnl_primitive_execute(op->reorder, s, 2, args));
  }
  *m = op->own ? op->own : op->user;
  PetscFunctionReturn(0);
}

static PetscErrorCode OperandOut(Operand *op, float *v, dnnl_memory_t *m)
{
  PetscFunctionBegin;
  DnnlCall(dnnl_memory_set_data_handle(op->user, v));
  *m = op->own ? op->own : op->user;
  PetscFunctionReturn(0);
}

/* After the primitive: own → the engine's array (added to with the sum post-op). */
static PetscErrorCode OperandDone(dnnl_stream_t s, Operand *op)
{
  PetscFunctionBegin;
  if (op->reorder) {
    dnnl_exec_arg_t args[2] = {
      {DNNL_ARG_FROM, op->own },
      {DNNL_ARG_TO,   op->user}
    };
    DnnlCall(dnnl_primitive_execute(op->reorder, s, 2, args));
  }
  PetscFunctionReturn(0);
}

static const dnnl_memory_desc_t *Query(const_dnnl_primitive_desc_t pd, dnnl_query_t what) { return dnnl_primitive_desc_query_md(pd, what, 0); }

/* The plain layouts of layer L for this input (and output) shape, and the convolution's
   geometry; false when the right padding would be negative. */
typedef struct {
  int                nd;
  dnnl_dims_t        strides, pl, pr;
  dnnl_memory_desc_t src_p, wei_p, dst_p, bias_p, src_a, wei_a, dst_a;
} Descs;

static PetscErrorCode DescsSet(const PdNNLayer *L, const PdNNArgs *a, Descs *g, PetscBool *ok)
{
  const PdTensor         *in = a->in, *out = a->out;
  const int               nd = a->dims == 3 ? 5 : 4, sp = nd - 2;
  const PetscInt          isz[3] = {in->d, in->h, in->w}, osz[3] = {out->d, out->h, out->w};
  const dnnl_format_tag_t dtag = nd == 5 ? dnnl_ncdhw : dnnl_nchw, wtag = nd == 5 ? dnnl_oidhw : dnnl_oihw;
  dnnl_dims_t             sdims, wdims, ddims, bdims = {L->cout};

  PetscFunctionBegin;
  g->nd    = nd;
  *ok      = PETSC_FALSE;
  sdims[0] = ddims[0] = in->n;
  sdims[1]            = L->cin;
  ddims[1]            = L->cout;
  wdims[0]            = L->cout;
  wdims[1]            = L->cin;
  for (int j = 0; j < sp; j++) {
    const PetscInt jj = j + 3 - sp; /* 2-D: h, w */
    sdims[2 + j]      = isz[jj];
    ddims[2 + j]      = osz[jj];
    wdims[2 + j]      = L->k;
    g->strides[j]     = L->stride;
    g->pl[j]          = L->pad;
    g->pr[j]          = (osz[jj] - 1) * L->stride + L->k - isz[jj] - L->pad;
    if (g->pr[j] < 0) PetscFunctionReturn(0);
  }
  DnnlCall(dnnl_memory_desc_init_by_tag(&g->src_p, nd, sdims, dnnl_f32, dtag));
  DnnlCall(dnnl_memory_desc_init_by_tag(&g->dst_p, nd, ddims, dnnl_f32, dtag));
  DnnlCall(dnnl_memory_desc_init_by_tag(&g->wei_p, nd, wdims, dnnl_f32, wtag));
  DnnlCall(dnnl_memory_desc_init_by_tag(&g->bias_p, 1, bdims, dnnl_f32, dnnl_x));
  DnnlCall(dnnl_memory_desc_init_by_tag(&g->src_a, nd, sdims, dnnl_f32, dnnl_format_tag_any));
  DnnlCall(dnnl_memory_desc_init_by_tag(&g->dst_a, nd, ddims, dnnl_f32, dnnl_format_tag_any));
  DnnlCall(dnnl_memory_desc_init_by_tag(&g->wei_a, nd, wdims, dnnl_f32, dnnl_format_tag_any));
  *ok = PETSC_TRUE;
  PetscFunctionReturn(0);
}

/* The forward primitive of layer L for this input shape and mode; e->ok false when oneDNN has
   none. */
static PetscErrorCode ForwardSetUp(PdNNDnnl d, const PdNNLayer *L, const PdNNArgs *a, PetscBool training, Entry *e)
{
  Descs                   g;
  dnnl_convolution_desc_t cd;
  dnnl_status_t           st;
  PetscBool               ok;

  PetscFunctionBegin;
  e->ok     = PETSC_FALSE;
  e->add_in = -1;
  PetscCall(DescsSet(L, a, &g, &ok));
  if (!ok) PetscFunctionReturn(0);
  DnnlCall(dnnl_convolution_forward_desc_init(&cd, training ? dnnl_forward_training : dnnl_forward_inference, dnnl_convolution_direct, &g.src_a, &g.wei_a, L->bias ? &g.bias_p : NULL, &g.dst_a, g.strides, g.pl, g.pr));
  st = dnnl_primitive_desc_create(&e->fpd, &cd, NULL, d->eng, NULL);
  if (st == dnnl_unimplemented) PetscFunctionReturn(0);
  DnnlCall(st);
  DnnlCall(dnnl_primitive_create(&e->fwd, e->fpd));
  PetscCall(OperandSetUp(d->eng, &g.src_p, Query(e->fpd, dnnl_query_src_md), PETSC_FALSE, PETSC_FALSE, &e->f_src));
  PetscCall(OperandSetUp(d->eng, &g.wei_p, Query(e->fpd, dnnl_query_weights_md), PETSC_FALSE, PETSC_FALSE, &e->f_wei));
  PetscCall(OperandSetUp(d->eng, &g.dst_p, Query(e->fpd, dnnl_query_dst_md), PETSC_TRUE, PETSC_FALSE, &e->f_dst));
  if (L->bias) DnnlCall(dnnl_memory_create(&e->bias, &g.bias_p, d->eng, DNNL_MEMORY_NONE));
  e->ok = PETSC_TRUE;
  PetscFunctionReturn(0);
}

/* The two backward primitives (at the first backward call: whether dL/din is added to is known
   then); e->ok false when oneDNN has none. */
static PetscErrorCode BackwardSetUp(PdNNDnnl d, const PdNNLayer *L, const PdNNArgs *a, Entry *e)
{
  Descs                   g;
  dnnl_convolution_desc_t cd;
  dnnl_primitive_desc_t   bdpd = NULL, bwpd = NULL;
  dnnl_status_t           st;
  PetscBool               ok;
  Operand                *ops[6] = {&e->d_dst, &e->d_wei, &e->d_src, &e->w_src, &e->w_dst, &e->w_wei};

  PetscFunctionBegin;
  for (int i = 0; i < 6; i++) PetscCall(OperandFree(ops[i]));
  if (e->bwd_data) DnnlCall(dnnl_primitive_destroy(e->bwd_data));
  if (e->bwd_weights) DnnlCall(dnnl_primitive_destroy(e->bwd_weights));
  e->bwd_data = e->bwd_weights = NULL;
  e->ok                        = PETSC_FALSE;
  PetscCall(DescsSet(L, a, &g, &ok));
  if (!ok) PetscFunctionReturn(0);
  DnnlCall(dnnl_convolution_backward_data_desc_init(&cd, dnnl_convolution_direct, &g.src_a, &g.wei_a, &g.dst_a, g.strides, g.pl, g.pr));
  st = dnnl_primitive_desc_create(&bdpd, &cd, NULL, d->eng, e->fpd);
  if (st == dnnl_unimplemented) PetscFunctionReturn(0);
  DnnlCall(st);
  DnnlCall(dnnl_convolution_backward_weights_desc_init(&cd, dnnl_convolution_direct, &g.src_a, &g.wei_a, NULL, &g.dst_a, g.strides, g.pl, g.pr));
  st = dnnl_primitive_desc_create(&bwpd, &cd, NULL, d->eng, e->fpd);
  if (st == dnnl_unimplemented) {
    DnnlCall(dnnl_primitive_desc_destroy(bdpd));
    PetscFunctionReturn(0);
  }
  DnnlCall(st);
  DnnlCall(dnnl_primitive_create(&e->bwd_data, bdpd));
  DnnlCall(dnnl_primitive_create(&e->bwd_weights, bwpd));
  PetscCall(OperandSetUp(d->eng, &g.dst_p, Query(bdpd, dnnl_query_diff_dst_md), PETSC_FALSE, PETSC_FALSE, &e->d_dst));
  PetscCall(OperandSetUp(d->eng, &g.wei_p, Query(bdpd, dnnl_query_weights_md), PETSC_FALSE, PETSC_FALSE, &e->d_wei));
  PetscCall(OperandSetUp(d->eng, &g.src_p, Query(bdpd, dnnl_query_diff_src_md), PETSC_TRUE, a->add_in, &e->d_src));
  PetscCall(OperandSetUp(d->eng, &g.src_p, Query(bwpd, dnnl_query_src_md), PETSC_FALSE, PETSC_FALSE, &e->w_src));
  PetscCall(OperandSetUp(d->eng, &g.dst_p, Query(bwpd, dnnl_query_diff_dst_md), PETSC_FALSE, PETSC_FALSE, &e->w_dst));
  PetscCall(OperandSetUp(d->eng, &g.wei_p, Query(bwpd, dnnl_query_diff_weights_md), PETSC_TRUE, PETSC_TRUE, &e->w_wei));
  DnnlCall(dnnl_primitive_desc_destroy(bdpd));
  DnnlCall(dnnl_primitive_desc_destroy(bwpd));
  e->add_in = a->add_in;
  e->ok     = PETSC_TRUE;
  PetscFunctionReturn(0);
}

/* The entry of layer L for this call, made when new. */
static PetscErrorCode EntryGet(PdNNWork work, const PdNNLayer *L, const PdNNArgs *a, PetscBool backward, Entry **ep)
{
  PdNN           net = work->net;
  const PetscInt l   = (PetscInt)(L - net->L);
  /* a backward pass follows a training forward: the training primitives; oneDNN sizes its
     per-thread scratch when a primitive is made, so the thread count is part of the key */
  const PetscInt key[6] = {a->in->n, a->in->d, a->in->h, a->in->w, backward || work->training, PdNNThreads()};
  PdNNDnnl       d;
  Entry         *e = NULL;

  PetscFunctionBegin;
  if (!work->dnnl) {
    PetscCall(DnnlCreate(work->nl, &work->dnnl));
    work->dnnl_destroy = PdNNDnnlDestroy;
  }
  d = work->dnnl;
  for (int i = 0; i < ENTRIES && !e; i++)
    if (!memcmp(d->e[l * ENTRIES + i].key, key, sizeof(key))) e = &d->e[l * ENTRIES + i];
  if (!e) {
    e          = &d->e[l * ENTRIES + d->next[l]];
    d->next[l] = (d->next[l] + 1) % ENTRIES;
    PetscCall(EntryFree(e));
    PetscCall(ForwardSetUp(d, L, a, key[4], e));
    PetscCall(PetscArraycpy(e->key, key, 6));
  }
  if (backward && e->fpd && e->add_in != (PetscInt)a->add_in) PetscCall(BackwardSetUp(d, L, a, e));
  *ep = e;
  PetscFunctionReturn(0);
}

PetscErrorCode PdNNConvDnnlForward(const PdNNLayer *L, PdNNArgs *a, PetscBool *done)
{
  Entry        *e;
  dnnl_stream_t s;
  dnnl_memory_t src, wei, dst;

  PetscFunctionBegin;
  PetscCall(EntryGet(a->work, L, a, PETSC_FALSE, &e));
  *done = e->ok;
  if (!e->ok) PetscFunctionReturn(0);
  s = a->work->dnnl->stream;
  PetscCall(OperandIn(s, &e->f_src, a->in->v, &src));
  PetscCall(OperandIn(s, &e->f_wei, a->w, &wei));
  PetscCall(OperandOut(&e->f_dst, a->out->v, &dst));
  {
    dnnl_exec_arg_t args[4] = {
      {DNNL_ARG_SRC,     src},
      {DNNL_ARG_WEIGHTS, wei},
      {DNNL_ARG_DST,     dst},
      {DNNL_ARG_BIAS,    e->bias}
    };
    if (e->bias) DnnlCall(dnnl_memory_set_data_handle(e->bias, (void *)a->b));
    DnnlCall(dnnl_primitive_execute(e->fwd, s, e->bias ? 4 : 3, args));
  }
  PetscCall(OperandDone(s, &e->f_dst));
  DnnlCall(dnnl_stream_wait(s));
  PetscFunctionReturn(0);
}

PetscErrorCode PdNNConvDnnlBackward(const PdNNLayer *L, PdNNArgs *a, PetscBool *done)
{
  Entry        *e;
  dnnl_stream_t s;
  dnnl_memory_t m0, m1, m2;

  PetscFunctionBegin;
  PetscCall(EntryGet(a->work, L, a, PETSC_TRUE, &e));
  *done = e->ok;
  if (!e->ok) PetscFunctionReturn(0);
  s = a->work->dnnl->stream;
  if (a->gin) {
    PetscCall(OperandIn(s, &e->d_dst, a->gout->v, &m0));
    PetscCall(OperandIn(s, &e->d_wei, a->w, &m1));
    PetscCall(OperandOut(&e->d_src, a->gin->v, &m2));
    {
      dnnl_exec_arg_t args[3] = {
        {DNNL_ARG_DIFF_DST, m0},
        {DNNL_ARG_WEIGHTS,  m1},
        {DNNL_ARG_DIFF_SRC, m2}
      };
      DnnlCall(dnnl_primitive_execute(e->bwd_data, s, 3, args));
    }
    PetscCall(OperandDone(s, &e->d_src));
  }
  if (a->gw) {
    PetscCall(OperandIn(s, &e->w_src, a->in->v, &m0));
    PetscCall(OperandIn(s, &e->w_dst, a->gout->v, &m1));
    PetscCall(OperandOut(&e->w_wei, a->gw, &m2));
    {
      dnnl_exec_arg_t args[3] = {
        {DNNL_ARG_SRC,          m0},
        {DNNL_ARG_DIFF_DST,     m1},
        {DNNL_ARG_DIFF_WEIGHTS, m2}
      };
      DnnlCall(dnnl_primitive_execute(e->bwd_weights, s, 3, args));
    }
    PetscCall(OperandDone(s, &e->w_wei));
  }
  DnnlCall(dnnl_stream_wait(s));
  if (a->gb) PdNNBiasGrad(a->gout, a->gb);
  PetscFunctionReturn(0);
}

#else

PetscErrorCode PdNNConvDnnlForward(const PdNNLayer *L, PdNNArgs *a, PetscBool *done)
{
  (void)L;
  (void)a;
  *done = PETSC_FALSE;
  return 0;
}

PetscErrorCode PdNNConvDnnlBackward(const PdNNLayer *L, PdNNArgs *a, PetscBool *done)
{
  (void)L;
  (void)a;
  *done = PETSC_FALSE;
  return 0;
}

#endif
