/* The network: its layer list, the flat parameter and gradient arrays, and the forward and
   backward sweeps over the list.

   Forward visits the layers in order; layer l reads the output of its source (the layer before
   it, or the input) and, for concat / residual, of its skip layer. Backward visits them in
   reverse: every consumer of a layer's output has been visited before the layer itself, so its
   dL/dout is complete when it is needed. The last consumer of an output (the first visited)
   writes that gradient, the others add to it, so no gradient buffer is ever cleared. */
#include "learn/nn/nn_impl.h"
#include <string.h>
#include <omp.h>

const char *const PdNNLayerKinds[] = {"conv", "conv_transpose2", "relu", "leaky_relu", "sigmoid", "maxpool2", "upsample2", "instance_norm", "concat", "residual", "avgpool3"};

int PdNNThreads(void) { return omp_get_max_threads(); }

/* -log_view events per layer kind and direction, e.g. NNFwd_conv, NNBwd_relu (registered at the
   first pass). */
#define NKINDS ((int)(sizeof(PdNNLayerKinds) / sizeof(PdNNLayerKinds[0])))
static PetscLogEvent ev_layer[2][NKINDS];

static PetscErrorCode LayerEvent(PdNNLayerKind kind, int backward, PetscLogEvent *ev)
{
  PetscFunctionBegin;
  if (!ev_layer[backward][kind]) {
    char name[64];
    PetscCall(PetscSNPrintf(name, sizeof(name), "NN%s_%s", backward ? "Bwd" : "Fwd", PdNNLayerKinds[kind]));
    PetscCall(PetscLogEventRegister(name, PD_CLASSID, &ev_layer[backward][kind]));
  }
  *ev = ev_layer[backward][kind];
  PetscFunctionReturn(0);
}

void PdNNSumThreadGrads(const float *part, PetscInt nt, PetscInt len, float *g)
{
#pragma omp parallel for schedule(static)
  for (PetscInt i = 0; i < len; i++) {
    float v = 0;
    for (PetscInt t = 0; t < nt; t++) v += part[t * len + i];
    g[i] += v;
  }
}

void PdNNBiasGrad(const PdTensor *gout, float *gb)
{
  const PetscInt M = PdTensorSpatial(gout);

#pragma omp parallel for schedule(static)
  for (PetscInt o = 0; o < gout->c; o++) {
    double v = 0;
    for (PetscInt n = 0; n < gout->n; n++) {
      const float *g = gout->v + (n * gout->c + o) * M;
      for (PetscInt q = 0; q < M; q++) v += g[q];
    }
    gb[o] += (float)v;
  }
}

PetscErrorCode PdNNSameShape(const PdNNLayer *L, PetscInt dims, const PetscInt in[5], const PetscInt skip[5], PetscInt out[5])
{
  (void)L;
  (void)dims;
  (void)skip;
  for (int j = 0; j < 5; j++) out[j] = in[j];
  return 0;
}

PetscErrorCode PdNNBufReserve(PdNNBuf *b, size_t n)
{
  PetscFunctionBegin;
  if (n > b->cap) {
    PetscCall(PetscFree(b->v));
    PetscCall(PetscMalloc1(n, &b->v));
    b->cap = n;
  }
  PetscFunctionReturn(0);
}

PetscErrorCode PdNNBufFree(PdNNBuf *b)
{
  PetscFunctionBegin;
  PetscCall(PetscFree(b->v));
  b->cap = 0;
  PetscFunctionReturn(0);
}

PetscErrorCode PdNNWorkScratch(PdNNWork work, size_t n, float **s)
{
  PetscFunctionBegin;
  PetscCall(PdNNBufReserve(&work->scratch, n));
  *s = work->scratch.v;
  PetscFunctionReturn(0);
}

PetscErrorCode PdNNCreate(PetscInt dims, PdNN *net)
{
  PdNNBackend b = PdNNDefaultBackend();
  PetscBool   set;

  PetscFunctionBegin;
  PetscCheck(dims == 2 || dims == 3, PETSC_COMM_SELF, PETSC_ERR_ARG_OUTOFRANGE, "network dimension %" PetscInt_FMT ": 2 or 3", dims);
  PetscCall(PetscOptionsGetEnum(NULL, NULL, "-nn_backend", PdNNBackends, (PetscEnum *)&b, &set));
  PetscCall(PetscNew(net));
  (*net)->dims = dims;
  PetscCall(PdNNSetBackend(*net, b));
  PetscFunctionReturn(0);
}

PetscErrorCode PdNNDestroy(PdNN *net)
{
  PetscFunctionBegin;
  if (!*net) PetscFunctionReturn(0);
  PetscCall(PdNNWorkDestroy(&(*net)->work));
  for (PetscInt i = 0; i < (*net)->nmeta; i++) PetscCall(PetscFree((*net)->meta[i].v));
  PetscCall(PetscFree((*net)->meta));
  PetscCall(PetscFree3((*net)->theta, (*net)->grad, (*net)->lrmult));
  PetscCall(PetscFree2((*net)->lastread, (*net)->ibuf));
  PetscCall(PetscFree((*net)->L));
  PetscCall(PetscFree(*net));
  PetscFunctionReturn(0);
}

/* ---------------------------------------------------------------- building the list */

static PetscErrorCode AddLayer(PdNN net, const char name[], PdNNLayerKind kind, const PdNNLayerOps *ops, PdNNLayer **L)
{
  PdNNLayer *l;

  PetscFunctionBegin;
  PetscCheck(!net->setup, PETSC_COMM_SELF, PETSC_ERR_ORDER, "layer %s added after PdNNSetUp", name);
  PetscCheck(name && name[0] && strlen(name) < sizeof(l->name), PETSC_COMM_SELF, PETSC_ERR_ARG_WRONG, "layer name empty or longer than 63 characters");
  for (PetscInt i = 0; i < net->nl; i++) PetscCheck(strcmp(net->L[i].name, name), PETSC_COMM_SELF, PETSC_ERR_ARG_WRONG, "two layers named %s", name);
  if (net->nl == net->nalloc) {
    PdNNLayer *L2;
    net->nalloc = PetscMax(16, 2 * net->nalloc);
    PetscCall(PetscCalloc1(net->nalloc, &L2));
    PetscCall(PetscArraycpy(L2, net->L, net->nl));
    PetscCall(PetscFree(net->L));
    net->L = L2;
  }
  l = &net->L[net->nl];
  PetscCall(PetscArrayzero(l, 1));
  l->kind = kind;
  l->ops  = ops;
  l->src  = net->nl - 1; /* the first layer's source is PD_NN_INPUT (-1) */
  l->skip = -2;
  PetscCall(PetscStrncpy(l->name, name, sizeof(l->name)));
  net->nl++;
  *L = l;
  PetscFunctionReturn(0);
}

/* A layer without parameters or settings. */
static PetscErrorCode AddPlain(PdNN net, const char name[], PdNNLayerKind kind, const PdNNLayerOps *ops)
{
  PdNNLayer *l;

  PetscFunctionBegin;
  PetscCall(AddLayer(net, name, kind, ops, &l));
  PetscFunctionReturn(0);
}

PetscErrorCode PdNNAddConv(PdNN net, const char name[], PetscInt cin, PetscInt cout, PetscInt k, PetscInt stride, PetscInt pad, PetscBool bias)
{
  PdNNLayer *l;
  PetscInt   taps = net->dims == 3 ? k * k * k : k * k;

  PetscFunctionBegin;
  PetscCheck(cin > 0 && cout > 0 && k > 0 && (stride == 1 || stride == 2), PETSC_COMM_SELF, PETSC_ERR_ARG_OUTOFRANGE, "conv %s: channels and kernel must be positive, stride 1 or 2", name);
  PetscCheck(pad >= 0 || (pad == PD_NN_SAME && k % 2 == 1), PETSC_COMM_SELF, PETSC_ERR_ARG_OUTOFRANGE, "conv %s: \"same\" padding needs an odd kernel; give the padding", name);
  PetscCall(AddLayer(net, name, PD_NN_CONV, &PdNNConvOps, &l));
  l->cin    = cin;
  l->cout   = cout;
  l->k      = k;
  l->stride = stride;
  l->pad    = pad == PD_NN_SAME ? (k - 1) / 2 : pad;
  l->bias   = bias;
  l->nw     = cout * cin * taps;
  l->nb     = bias ? cout : 0;
  PetscFunctionReturn(0);
}

PetscErrorCode PdNNAddConvTranspose2(PdNN net, const char name[], PetscInt cin, PetscInt cout, PetscBool bias)
{
  PdNNLayer *l;

  PetscFunctionBegin;
  PetscCheck(cin > 0 && cout > 0, PETSC_COMM_SELF, PETSC_ERR_ARG_OUTOFRANGE, "transposed conv %s: channels must be positive", name);
  PetscCall(AddLayer(net, name, PD_NN_CONV_TRANSPOSE2, &PdNNConvTranspose2Ops, &l));
  l->cin    = cin;
  l->cout   = cout;
  l->k      = 2;
  l->stride = 2;
  l->bias   = bias;
  l->nw     = cin * cout * (net->dims == 3 ? 8 : 4);
  l->nb     = bias ? cout : 0;
  PetscFunctionReturn(0);
}

PetscErrorCode PdNNAddReLU(PdNN net, const char name[]) { return AddPlain(net, name, PD_NN_RELU, &PdNNReLUOps); }

PetscErrorCode PdNNAddLeakyReLU(PdNN net, const char name[], double slope)
{
  PdNNLayer *l;

  PetscFunctionBegin;
  PetscCheck(slope >= 0 && slope < 1, PETSC_COMM_SELF, PETSC_ERR_ARG_OUTOFRANGE, "leaky ReLU %s: slope %g not in [0, 1)", name, slope);
  PetscCall(AddLayer(net, name, PD_NN_LEAKY_RELU, &PdNNLeakyReLUOps, &l));
  l->slope = slope;
  PetscFunctionReturn(0);
}

PetscErrorCode PdNNAddSigmoid(PdNN net, const char name[]) { return AddPlain(net, name, PD_NN_SIGMOID, &PdNNSigmoidOps); }

PetscErrorCode PdNNAddMaxPool2(PdNN net, const char name[]) { return AddPlain(net, name, PD_NN_MAXPOOL2, &PdNNMaxPool2Ops); }

PetscErrorCode PdNNAddUpsample2(PdNN net, const char name[]) { return AddPlain(net, name, PD_NN_UPSAMPLE2, &PdNNUpsample2Ops); }

PetscErrorCode PdNNAddAvgPool3(PdNN net, const char name[]) { return AddPlain(net, name, PD_NN_AVGPOOL3, &PdNNAvgPool3Ops); }

PetscErrorCode PdNNAddInstanceNorm(PdNN net, const char name[]) { return AddPlain(net, name, PD_NN_INSTANCE_NORM, &PdNNInstanceNormOps); }

static PetscErrorCode AddSkip(PdNN net, const char name[], PdNNLayerKind kind, const PdNNLayerOps *ops, PetscInt skip)
{
  PdNNLayer *l;

  PetscFunctionBegin;
  PetscCheck(skip >= PD_NN_INPUT && skip < net->nl, PETSC_COMM_SELF, PETSC_ERR_ARG_OUTOFRANGE, "%s %s: skip %" PetscInt_FMT " is not an earlier layer", PdNNLayerKinds[kind], name, skip);
  PetscCheck(net->nl > 0, PETSC_COMM_SELF, PETSC_ERR_ORDER, "%s %s cannot be the first layer", PdNNLayerKinds[kind], name);
  PetscCall(AddLayer(net, name, kind, ops, &l));
  l->skip = skip;
  PetscFunctionReturn(0);
}

PetscErrorCode PdNNAddConcat(PdNN net, const char name[], PetscInt skip) { return AddSkip(net, name, PD_NN_CONCAT, &PdNNConcatOps, skip); }

PetscErrorCode PdNNAddResidual(PdNN net, const char name[], PetscInt skip) { return AddSkip(net, name, PD_NN_RESIDUAL, &PdNNResidualOps, skip); }

PetscErrorCode PdNNGetLast(PdNN net, PetscInt *id)
{
  *id = net->nl - 1;
  return 0;
}

PetscErrorCode PdNNFindLayer(PdNN net, const char name[], PetscInt *id)
{
  *id = -2;
  for (PetscInt i = 0; i < net->nl; i++)
    if (!strcmp(net->L[i].name, name)) *id = i;
  return 0;
}

PetscErrorCode PdNNGetNumLayers(PdNN net, PetscInt *n)
{
  *n = net->nl;
  return 0;
}

PetscErrorCode PdNNGetLayerInfo(PdNN net, PetscInt id, PdNNLayerKind *kind, const char **name, PetscInt *woff, PetscInt *nw, PetscInt *boff, PetscInt *nb)
{
  const PdNNLayer *l;

  PetscFunctionBegin;
  PetscCheck(id >= 0 && id < net->nl, PETSC_COMM_SELF, PETSC_ERR_ARG_OUTOFRANGE, "no layer %" PetscInt_FMT, id);
  l = &net->L[id];
  if (kind) *kind = l->kind;
  if (name) *name = l->name;
  if (woff) *woff = l->woff;
  if (nw) *nw = l->nw;
  if (boff) *boff = l->boff;
  if (nb) *nb = l->nb;
  PetscFunctionReturn(0);
}

PetscErrorCode PdNNSetUp(PdNN net)
{
  PetscFunctionBegin;
  if (net->setup) PetscFunctionReturn(0);
  PetscCheck(net->nl > 0, PETSC_COMM_SELF, PETSC_ERR_ORDER, "network without layers");
  /* every output but the last feeds a later layer, or its gradient would never be set */
  for (PetscInt i = 0; i < net->nl - 1; i++) {
    PetscBool used = PETSC_FALSE;
    for (PetscInt j = i + 1; j < net->nl; j++) used = (PetscBool)(used || net->L[j].src == i || net->L[j].skip == i);
    PetscCheck(used, PETSC_COMM_SELF, PETSC_ERR_ARG_WRONG, "the output of layer %s is not used", net->L[i].name);
  }
  net->np = 0;
  for (PetscInt i = 0; i < net->nl; i++) {
    net->L[i].woff = net->np;
    net->np += net->L[i].nw;
    net->L[i].boff = net->np;
    net->np += net->L[i].nb;
  }
  PetscCall(PetscCalloc3(net->np, &net->theta, net->np, &net->grad, net->np, &net->lrmult));
  /* lastread[s + 1]: the last layer reading output s (s = -1: the input) */
  PetscCall(PetscMalloc2(net->nl + 1, &net->lastread, net->nl, &net->ibuf));
  for (PetscInt s = -1; s < net->nl; s++) {
    net->lastread[s + 1] = s;
    for (PetscInt j = s + 1; j < net->nl; j++)
      if (net->L[j].src == s || net->L[j].skip == s) net->lastread[s + 1] = j;
  }
  /* Inference keeps an output only while a later layer still reads it: layer l's output goes to
     the lowest-numbered buffer whose outputs are all dead by then, so a chain uses two buffers
     and a U-Net one more per skip. */
  for (PetscInt l = 0; l < net->nl; l++) {
    net->ibuf[l] = l;
    for (PetscInt b = 0; b < l && net->ibuf[l] == l; b++) {
      PetscBool free = PETSC_TRUE;
      for (PetscInt j = 0; j < l; j++)
        if (net->ibuf[j] == b && net->lastread[j + 1] >= l) free = PETSC_FALSE;
      if (free) net->ibuf[l] = b;
    }
  }
  for (PetscInt i = 0; i < net->np; i++) net->lrmult[i] = 1;
  PetscCall(PdNNWorkCreate(net, &net->work));
  net->setup = PETSC_TRUE;
  PetscFunctionReturn(0);
}

/* One of the flat arrays, after set-up. */
static PetscErrorCode GetFlat(PdNN net, float *arr, float **out, PetscInt *n)
{
  PetscFunctionBegin;
  PetscCheck(net->setup, PETSC_COMM_SELF, PETSC_ERR_ORDER, "call PdNNSetUp first");
  if (out) *out = arr;
  if (n) *n = net->np;
  PetscFunctionReturn(0);
}

PetscErrorCode PdNNGetParams(PdNN net, float **theta, PetscInt *n) { return GetFlat(net, net->theta, theta, n); }

PetscErrorCode PdNNGetGrads(PdNN net, float **grad, PetscInt *n) { return GetFlat(net, net->grad, grad, n); }

PetscErrorCode PdNNGetLRMults(PdNN net, const float **mult, PetscInt *n) { return GetFlat(net, net->lrmult, (float **)mult, n); }

PetscErrorCode PdNNSetLRMult(PdNN net, PetscInt id, double wmult, double bmult)
{
  const PdNNLayer *l;

  PetscFunctionBegin;
  PetscCheck(net->setup, PETSC_COMM_SELF, PETSC_ERR_ORDER, "call PdNNSetUp first");
  PetscCheck(id >= 0 && id < net->nl, PETSC_COMM_SELF, PETSC_ERR_ARG_OUTOFRANGE, "no layer %" PetscInt_FMT, id);
  l = &net->L[id];
  for (PetscInt i = 0; i < l->nw; i++) net->lrmult[l->woff + i] = (float)wmult;
  for (PetscInt i = 0; i < l->nb; i++) net->lrmult[l->boff + i] = (float)bmult;
  PetscFunctionReturn(0);
}

PetscErrorCode PdNNZeroGrads(PdNN net)
{
  PetscFunctionBegin;
  PetscCheck(net->setup, PETSC_COMM_SELF, PETSC_ERR_ORDER, "call PdNNSetUp first");
  PetscCall(PetscArrayzero(net->grad, net->np));
  PetscFunctionReturn(0);
}

PetscErrorCode PdNNSetFrozen(PdNN net, PetscBool frozen)
{
  net->frozen = frozen;
  return 0;
}

/* ---------------------------------------------------------------- shapes */

static PetscErrorCode LayerShape(PdNN net, PetscInt l, const PetscInt in[5], PetscInt (*shapes)[5], PetscInt out[5])
{
  const PdNNLayer *L = &net->L[l];
  const PetscInt  *s = L->src == PD_NN_INPUT ? in : shapes[L->src];
  const PetscInt  *k = L->skip == -2 ? NULL : (L->skip == PD_NN_INPUT ? in : shapes[L->skip]);

  PetscFunctionBegin;
  PetscCall(L->ops->shape(L, net->dims, s, k, out));
  PetscCheck(out[0] > 0 && out[1] > 0 && out[2] > 0 && out[3] > 0 && out[4] > 0, PETSC_COMM_SELF, PETSC_ERR_ARG_SIZ, "layer %s: input %" PetscInt_FMT "x%" PetscInt_FMT "x%" PetscInt_FMT " too small", L->name, s[2], s[3], s[4]);
  PetscFunctionReturn(0);
}

static PetscErrorCode CheckInput(PdNN net, const PetscInt in[5])
{
  PetscFunctionBegin;
  PetscCheck(net->setup, PETSC_COMM_SELF, PETSC_ERR_ORDER, "call PdNNSetUp first");
  PetscCheck(in[0] > 0 && in[1] > 0 && in[2] > 0 && in[3] > 0 && in[4] > 0, PETSC_COMM_SELF, PETSC_ERR_ARG_SIZ, "empty input tensor");
  PetscCheck(net->dims == 3 || in[2] == 1, PETSC_COMM_SELF, PETSC_ERR_ARG_SIZ, "a 2D network takes d = 1, not %" PetscInt_FMT, in[2]);
  PetscFunctionReturn(0);
}

PetscErrorCode PdNNGetOutputShape(PdNN net, const PetscInt in[5], PetscInt out[5])
{
  PetscInt(*shapes)[5];

  PetscFunctionBegin;
  PetscCall(CheckInput(net, in));
  PetscCall(PetscMalloc1(net->nl, &shapes));
  for (PetscInt l = 0; l < net->nl; l++) PetscCall(LayerShape(net, l, in, shapes, shapes[l]));
  for (int j = 0; j < 5; j++) out[j] = shapes[net->nl - 1][j];
  PetscCall(PetscFree(shapes));
  PetscFunctionReturn(0);
}

/* ---------------------------------------------------------------- work */

PetscErrorCode PdNNWorkCreate(PdNN net, PdNNWork *work)
{
  PdNNWork w;

  PetscFunctionBegin;
  PetscCheck(net->nl > 0, PETSC_COMM_SELF, PETSC_ERR_ORDER, "network without layers");
  PetscCall(PetscNew(&w));
  w->net      = net;
  w->nl       = net->nl;
  w->training = PETSC_TRUE;
  PetscCall(PetscCalloc4(w->nl, &w->act, w->nl, &w->gact, w->nl, &w->abuf, w->nl, &w->gbuf));
  *work = w;
  PetscFunctionReturn(0);
}

PetscErrorCode PdNNWorkDestroy(PdNNWork *work)
{
  PetscFunctionBegin;
  if (!*work) PetscFunctionReturn(0);
  for (PetscInt l = 0; l < (*work)->nl; l++) {
    PetscCall(PdNNBufFree(&(*work)->abuf[l]));
    PetscCall(PdNNBufFree(&(*work)->gbuf[l]));
  }
  PetscCall(PdNNBufFree(&(*work)->gin));
  PetscCall(PdNNBufFree(&(*work)->scratch));
  if ((*work)->dnnl_destroy) PetscCall((*work)->dnnl_destroy(&(*work)->dnnl));
  if ((*work)->fft_destroy) PetscCall((*work)->fft_destroy(&(*work)->fft));
  PetscCall(PetscFree4((*work)->act, (*work)->gact, (*work)->abuf, (*work)->gbuf));
  PetscCall(PetscFree(*work));
  PetscFunctionReturn(0);
}

PetscErrorCode PdNNWorkSetTraining(PdNNWork work, PetscBool training)
{
  work->training = training;
  return 0;
}

PetscErrorCode PdNNForward(PdNN net, PdNNWork work, const PdTensor *in, PdTensor *out)
{
  PetscInt s[5], shapes_in[5];

  PetscFunctionBegin;
  if (!work) work = net->work;
  PdNNShapeOf(in, shapes_in);
  PetscCall(CheckInput(net, shapes_in));
  PetscCheck(work->net == net, PETSC_COMM_SELF, PETSC_ERR_ARG_WRONG, "work of another network");
  work->in        = PdTensorView(in->n, in->c, in->d, in->h, in->w, in->v);
  work->forwarded = PETSC_FALSE;
  for (PetscInt l = 0; l < net->nl; l++) {
    const PdNNLayer *L = &net->L[l];
    PdNNArgs         a = {0};
    PdTensor        *src, *skip = NULL;
    PetscLogEvent    ev;
    PetscInt         ss[5], ks[5], b = work->training ? l : net->ibuf[l];

    src = L->src == PD_NN_INPUT ? &work->in : &work->act[L->src];
    if (L->skip != -2) skip = L->skip == PD_NN_INPUT ? &work->in : &work->act[L->skip];
    PdNNShapeOf(src, ss);
    if (skip) PdNNShapeOf(skip, ks);
    PetscCall(L->ops->shape(L, net->dims, ss, skip ? ks : NULL, s));
    PetscCheck(s[0] > 0 && s[1] > 0 && s[2] > 0 && s[3] > 0 && s[4] > 0, PETSC_COMM_SELF, PETSC_ERR_ARG_SIZ, "layer %s: input %" PetscInt_FMT "x%" PetscInt_FMT "x%" PetscInt_FMT " too small", L->name, ss[2], ss[3], ss[4]);
    PetscCall(PdNNBufReserve(&work->abuf[b], (size_t)(s[0] * s[1] * PdNNSpatial(s))));
    work->act[l] = PdTensorView(s[0], s[1], s[2], s[3], s[4], work->abuf[b].v);
    a.dims       = net->dims;
    a.in         = src;
    a.skip       = skip;
    a.out        = &work->act[l];
    a.w          = net->theta + L->woff;
    a.b          = L->nb ? net->theta + L->boff : NULL;
    a.work       = work;
    PetscCall(LayerEvent(L->kind, 0, &ev));
    PetscCall(PetscLogEventBegin(ev, 0, 0, 0, 0));
    PetscCall(L->ops->forward(L, &a));
    PetscCall(PetscLogEventEnd(ev, 0, 0, 0, 0));
  }
  *out            = work->act[net->nl - 1];
  work->forwarded = work->training;
  PetscFunctionReturn(0);
}

PetscErrorCode PdNNBackward(PdNN net, PdNNWork work, const PdTensor *dout, PdTensor *din)
{
  const PetscInt last = net->nl - 1;

  PetscFunctionBegin;
  if (!work) work = net->work;
  PetscCheck(work->forwarded, PETSC_COMM_SELF, PETSC_ERR_ORDER, "PdNNBackward without a training forward pass on that work");
  PetscCheck(dout->n == work->act[last].n && dout->c == work->act[last].c && dout->d == work->act[last].d && dout->h == work->act[last].h && dout->w == work->act[last].w, PETSC_COMM_SELF, PETSC_ERR_ARG_SIZ, "dL/dout has not the shape of the output");
  if (din) PetscCall(PdNNBufReserve(&work->gin, (size_t)PdTensorSize(&work->in)));
  for (PetscInt l = last; l >= 0; l--) {
    const PdNNLayer *L = &net->L[l];
    PdNNArgs         a = {0};
    PdTensor         gsrc, gskip;
    PetscLogEvent    ev;

    a.dims = net->dims;
    a.in   = L->src == PD_NN_INPUT ? &work->in : &work->act[L->src];
    a.out  = &work->act[l];
    a.gout = l == last ? dout : &work->gact[l];
    a.w    = net->theta + L->woff;
    a.b    = L->nb ? net->theta + L->boff : NULL;
    a.gw   = net->frozen ? NULL : net->grad + L->woff;
    a.gb   = net->frozen || !L->nb ? NULL : net->grad + L->boff;
    a.work = work;
    /* the gradient of an input: the network's (if wanted) or a layer output's */
    for (int which = 0; which < 2; which++) {
      const PetscInt s = which ? L->skip : L->src;
      PdTensor      *g = which ? &gskip : &gsrc;
      PetscBool      add;

      if (which && s == -2) continue;
      /* the last reader writes; when a layer reads one output twice, its second use adds */
      add = (PetscBool)(net->lastread[s + 1] != l || (which && s == L->src));
      if (s == PD_NN_INPUT) {
        if (!din) continue;
        *g = PdTensorView(work->in.n, work->in.c, work->in.d, work->in.h, work->in.w, work->gin.v);
      } else {
        const PdTensor *o = &work->act[s];
        PetscCall(PdNNBufReserve(&work->gbuf[s], (size_t)PdTensorSize(o)));
        *g = work->gact[s] = PdTensorView(o->n, o->c, o->d, o->h, o->w, work->gbuf[s].v);
      }
      if (which) {
        a.gskip    = g;
        a.add_skip = add;
      } else {
        a.gin    = g;
        a.add_in = add;
      }
    }
    if (L->skip != -2) a.skip = L->skip == PD_NN_INPUT ? &work->in : &work->act[L->skip];
    PetscCall(LayerEvent(L->kind, 1, &ev));
    PetscCall(PetscLogEventBegin(ev, 0, 0, 0, 0));
    PetscCall(L->ops->backward(L, &a));
    PetscCall(PetscLogEventEnd(ev, 0, 0, 0, 0));
  }
  if (din) *din = PdTensorView(work->in.n, work->in.c, work->in.d, work->in.h, work->in.w, work->gin.v);
  PetscFunctionReturn(0);
}

/* ---------------------------------------------------------------- metadata, view */

PetscErrorCode PdNNSetMeta(PdNN net, const char name[], PetscInt n, const double vals[])
{
  PdNNMeta *m = NULL;

  PetscFunctionBegin;
  PetscCheck(strlen(name) < sizeof(m->name) && n >= 0, PETSC_COMM_SELF, PETSC_ERR_ARG_WRONG, "metadata name too long or negative size");
  for (PetscInt i = 0; i < net->nmeta; i++)
    if (!strcmp(net->meta[i].name, name)) m = &net->meta[i];
  if (!m) {
    PdNNMeta *M;
    PetscCall(PetscCalloc1(net->nmeta + 1, &M));
    PetscCall(PetscArraycpy(M, net->meta, net->nmeta));
    PetscCall(PetscFree(net->meta));
    net->meta = M;
    m         = &net->meta[net->nmeta++];
    PetscCall(PetscStrncpy(m->name, name, sizeof(m->name)));
  }
  PetscCall(PetscFree(m->v));
  PetscCall(PetscMalloc1(PetscMax(n, 1), &m->v));
  PetscCall(PetscArraycpy(m->v, vals, n));
  m->n = n;
  PetscFunctionReturn(0);
}

PetscErrorCode PdNNGetMeta(PdNN net, const char name[], PetscInt n, double vals[])
{
  PetscFunctionBegin;
  for (PetscInt i = 0; i < net->nmeta; i++)
    if (!strcmp(net->meta[i].name, name)) {
      PetscCheck(net->meta[i].n == n, PETSC_COMM_SELF, PD_ERR_INPUT, "model metadata %s has %" PetscInt_FMT " values, not %" PetscInt_FMT, name, net->meta[i].n, n);
      PetscCall(PetscArraycpy(vals, net->meta[i].v, n));
      PetscFunctionReturn(0);
    }
  SETERRQ(PETSC_COMM_SELF, PD_ERR_INPUT, "model has no metadata %s", name);
}

PetscErrorCode PdNNView(PdNN net, PetscViewer v)
{
  PetscFunctionBegin;
  for (PetscInt i = 0; i < net->nl; i++) {
    const PdNNLayer *L = &net->L[i];
    PetscCall(PetscViewerASCIIPrintf(v, "  %-12s %-16s", L->name, PdNNLayerKinds[L->kind]));
    if (L->kind == PD_NN_CONV || L->kind == PD_NN_CONV_TRANSPOSE2) PetscCall(PetscViewerASCIIPrintf(v, " %" PetscInt_FMT " -> %" PetscInt_FMT ", k %" PetscInt_FMT ", stride %" PetscInt_FMT ", pad %" PetscInt_FMT, L->cin, L->cout, L->k, L->stride, L->pad));
    if (L->skip != -2) PetscCall(PetscViewerASCIIPrintf(v, " with %s", L->skip == PD_NN_INPUT ? "input" : net->L[L->skip].name));
    PetscCall(PetscViewerASCIIPrintf(v, ", %" PetscInt_FMT " parameters\n", L->nw + L->nb));
  }
  PetscCall(PetscViewerASCIIPrintf(v, "  %" PetscInt_FMT " parameters in all\n", net->np));
  PetscFunctionReturn(0);
}
