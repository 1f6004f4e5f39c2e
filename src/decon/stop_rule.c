/* Stop rules that need no truth (include/pdecon/decon/stop_rule.h, docs/methods/stop_rule.md).

     change       ||x_{k+1} - x_k|| / ||x_k|| < tol                       -> x_{k+1}
     change_rise  c_{k+1} > (1 + tol) c_k and c_k < c_1 / 2,
                  c_k = ||x_k - x_{k-1}|| / ||x_{k-1}||                   -> x_{k+1}
     discrepancy  D(x_k) <= tol                                           -> x_k
     deviance     D(x_k) > (1 - tol) D(x_{k-1})                           -> x_k
     D(x) = 2/(g N) Σ_M [ y log(y / μ) − (y − μ) ],  μ = H x + b

   The step from x_k forms H x_k and with it D(x_k) (PdRLCorrection records the I-divergence of the
   point it corrects), so D(x_k) is known only after x_{k+1} was computed: the rules on D copy the
   image box of x_k before each step and put it back when they stop, so the result is the iterate
   that met the rule and the iteration count says so. What is outside the box (the padding's
   estimate) is not written anywhere, so the box is all that must be returned.
   Every decision is made from values reduced over all ranks, so every rank stops at once. */
#include "decon/decon_impl.h"
#include <math.h>

const char *const PdStopRuleTypes[] = {"none", "change", "discrepancy", "deviance", "change_rise", "PdStopRuleType", "PD_STOP_RULE_", NULL};

static const double DefaultTol[] = {0, 1e-3, 1.0, 1e-2, 0};

/* The rule of this solve: the one asked for, else the method's when no iteration count was. */
static PdStopRuleType Resolve(PdDecon d)
{
  if (d->stop.set) return d->stop.type;
  return d->max_it_set ? PD_STOP_RULE_NONE : d->ops->default_stop_rule;
}

static PetscBool UsesDeviance(PdStopRuleType t) { return (PetscBool)(t == PD_STOP_RULE_DISCREPANCY || t == PD_STOP_RULE_DEVIANCE); }

PetscErrorCode PdDeconSetStopRule(PdDecon d, PdStopRuleType rule, double tol)
{
  PetscFunctionBegin;
  d->stop.type = rule;
  d->stop.set  = PETSC_TRUE;
  d->stop.tol  = tol;
  PetscFunctionReturn(0);
}

PetscErrorCode PdDeconSetStopGain(PdDecon d, double gain)
{
  PetscFunctionBegin;
  PetscCheck(gain > 0 && isfinite(gain), d->comm, PD_ERR_INPUT, "-decon_stop_gain: %g is not accepted: data units per photon, above 0", gain);
  d->stop.gain = gain;
  PetscFunctionReturn(0);
}

PetscErrorCode PdDeconGetStopRule(PdDecon d, PdStopRuleType *rule, double *tol, double *value)
{
  PetscFunctionBegin;
  if (rule) *rule = d->stop.active;
  if (tol) *tol = d->stop.atol;
  if (value) *value = d->stop.value;
  PetscFunctionReturn(0);
}

PetscErrorCode PdStopRuleSetFromOptions(PdDecon d, PetscOptionItems *PetscOptionsObject)
{
  PetscEnum   t = (PetscEnum)d->stop.type;
  PetscBool   set;
  const char *pre = d->prefix ? d->prefix : "";

  PetscFunctionBegin;
  PetscCall(PetscOptionsEnum("-decon_stop_rule", "Stop without a truth: none, change (relative change < tol), discrepancy (Poisson deviance per voxel <= tol), deviance (deviance decreased by less than tol), change_rise (relative change grew by more than tol); default: the method's when -decon_max_it is not given (rl_wb, rl_omw: change_rise)", "PdDeconSetStopRule", PdStopRuleTypes, t, &t, &set));
  if (set) {
    d->stop.type = (PdStopRuleType)t;
    d->stop.set  = PETSC_TRUE;
  }
  PetscCall(PetscOptionsReal("-decon_stop_tol", "Tolerance of the stop rule (default: change 1e-3, discrepancy 1, deviance 1e-2, change_rise 0)", "PdDeconSetStopRule", d->stop.tol, &d->stop.tol, NULL));
  PetscCall(PetscOptionsReal("-decon_stop_gain", "Data units per photon, for the deviance of the stop rule (1: photon counts)", "PdDeconSetStopGain", d->stop.gain, &d->stop.gain, NULL));
  PetscCheck(d->stop.gain > 0 && isfinite(d->stop.gain), d->comm, PD_ERR_INPUT, "-%sdecon_stop_gain: %g is not accepted: data units per photon, above 0", pre, d->stop.gain);
  PetscCheck(d->stop.tol < 0 || d->stop.type != PD_STOP_RULE_DEVIANCE || d->stop.tol < 1, d->comm, PD_ERR_INPUT, "-%sdecon_stop_tol: %g is not accepted: a relative decrease of the deviance, in [0, 1)", pre, d->stop.tol);
  PetscFunctionReturn(0);
}

PetscBool PdStopRuleKeepsBox(PdDecon d) { return UsesDeviance(Resolve(d)); }

PetscInt PdStopRuleIterationLimit(PdDecon d, PetscInt max_it)
{
  if (d->max_it_set || d->ops->direct || Resolve(d) == PD_STOP_RULE_NONE) return max_it;
  return PetscMax(max_it, PD_STOP_RULE_MAX_IT);
}

PetscErrorCode PdStopRuleSetUp(PdDecon d)
{
  PdStopRule *s = &d->stop;

  PetscFunctionBegin;
  s->active   = d->ops->direct ? PD_STOP_RULE_NONE : Resolve(d);
  s->atol     = s->tol >= 0 ? s->tol : DefaultTol[s->active];
  s->value    = NAN;
  s->dev_prev = NAN;
  s->chg_prev = NAN;
  s->chg_first = NAN;
  if (UsesDeviance(s->active) && !s->xbox) PetscCall(PdVolumeAlloc((size_t)PetscMax(1, PdLayoutLocalSize(d->dlay)), &s->xbox));
  PetscFunctionReturn(0);
}

PetscBool PdStopRuleWantsObjective(PdDecon d) { return UsesDeviance(d->stop.active); }

PetscErrorCode PdStopRuleBeforeStep(PdDecon d)
{
  PetscFunctionBegin;
  d->stop.idiv = NAN;
  if (UsesDeviance(d->stop.active)) PetscCall(PdVolumeCopy(d->blay, d->x, d->dlay, d->stop.xbox));
  PetscFunctionReturn(0);
}

PetscErrorCode PdStopRuleTest(PdDecon d, double change, PetscBool *stop)
{
  PdStopRule *s = &d->stop;
  double      dev;

  PetscFunctionBegin;
  *stop = PETSC_FALSE;
  switch (s->active) {
  case PD_STOP_RULE_NONE: break;
  case PD_STOP_RULE_CHANGE:
    if (change < s->atol) {
      s->value = change;
      *stop    = PETSC_TRUE;
    }
    break;
  case PD_STOP_RULE_CHANGE_RISE:
    /* The first steps from the flat start are large and may grow from one to the next (an
       unmatched back projector over-corrects, then corrects back): a rise counts once the
       change has fallen below half the first step's. NaN compares false. */
    if (d->it == 1) s->chg_first = change;
    if (change > (1.0 + s->atol) * s->chg_prev && s->chg_prev < 0.5 * s->chg_first) {
      s->value  = change;
      s->before = s->chg_prev;
      *stop    = PETSC_TRUE;
    }
    s->chg_prev = change;
    break;
  case PD_STOP_RULE_DISCREPANCY:
  case PD_STOP_RULE_DEVIANCE:
    /* the same on every rank: the I-divergence is reduced over all of them */
    PetscCheck(!isnan(s->idiv), d->comm, PD_ERR_INPUT, "-decon_stop_rule %s: -decon_method %s does not compute the Poisson deviance (a method built on the RL correction does)", PdStopRuleTypes[s->active], d->ops->name);
    dev = 2.0 * s->idiv / (s->gain * (double)PdLayoutGlobalCount(d->dlay) * (double)PdDeconViewCount(d));
    if (s->active == PD_STOP_RULE_DISCREPANCY) *stop = (PetscBool)(dev <= s->atol);
    else *stop = (PetscBool)(s->dev_prev == s->dev_prev && dev > (1.0 - s->atol) * s->dev_prev);
    s->dev_prev = dev;
    if (*stop) {
      s->value = dev;
      PetscCall(PdVolumeCopy(d->dlay, s->xbox, d->blay, d->x)); /* back to x_k */
      d->it--;
    }
    break;
  }
  PetscFunctionReturn(0);
}

PetscErrorCode PdStopRuleView(PdDecon d, PetscViewer v)
{
  const PdStopRuleType t   = Resolve(d);
  const double         tol = d->stop.tol >= 0 ? d->stop.tol : DefaultTol[t];

  PetscFunctionBegin;
  if (t == PD_STOP_RULE_CHANGE) PetscCall(PetscViewerASCIIPrintf(v, "stop rule: change, ||x_k+1 - x_k|| / ||x_k|| < %g\n", tol));
  else if (t == PD_STOP_RULE_DISCREPANCY) PetscCall(PetscViewerASCIIPrintf(v, "stop rule: discrepancy, Poisson deviance per voxel <= %g (gain %g data units per photon)\n", tol, d->stop.gain));
  else if (t == PD_STOP_RULE_DEVIANCE) PetscCall(PetscViewerASCIIPrintf(v, "stop rule: deviance, stop when it decreases by less than %g of itself\n", tol));
  else if (t == PD_STOP_RULE_CHANGE_RISE) PetscCall(PetscViewerASCIIPrintf(v, "stop rule: change_rise, stop when the relative change grows by more than %g of itself, once below half the first step's\n", tol));
  PetscFunctionReturn(0);
}

PetscErrorCode PdStopRuleReasonView(PdDecon d, PetscViewer v)
{
  const PdStopRule *s = &d->stop;

  PetscFunctionBegin;
  if (d->reason != PD_DECON_CONVERGED_STOP_RULE) PetscFunctionReturn(0);
  if (s->active == PD_STOP_RULE_CHANGE) PetscCall(PetscViewerASCIIPrintf(v, "  stop rule change: relative change %.4g < %g at iteration %" PetscInt_FMT "\n", s->value, s->atol, d->it));
  else if (s->active == PD_STOP_RULE_CHANGE_RISE) PetscCall(PetscViewerASCIIPrintf(v, "  stop rule change_rise: relative change %.4g after %.4g the step before (tolerance %.1f %%) at iteration %" PetscInt_FMT "\n", s->value, s->before, 100 * s->atol, d->it));
  else if (s->active == PD_STOP_RULE_DISCREPANCY)
    PetscCall(PetscViewerASCIIPrintf(v, "  stop rule discrepancy: deviance per voxel %.4g <= %g at iteration %" PetscInt_FMT " (seen after one more, which is discarded)\n", s->value, s->atol, d->it));
  else PetscCall(PetscViewerASCIIPrintf(v, "  stop rule deviance: deviance per voxel %.4g fell by less than %g of itself at iteration %" PetscInt_FMT " (seen after one more, which is discarded)\n", s->value, s->atol, d->it));
  PetscFunctionReturn(0);
}

PetscErrorCode PdStopRuleDestroy(PdDecon d)
{
  PetscFunctionBegin;
  PetscCall(PdVolumeFree(&d->stop.xbox));
  PetscFunctionReturn(0);
}
